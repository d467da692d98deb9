"""A small date on five frames of a 24-frame XA run, along its bottom edge (issue 9, tune seed
10814 case024: a readable leak).

No sampled frame held it and no frame showed it alone (it stayed on five), so only the projections
of the run showed it; their passes over the whole image did not box it, and they searched no rows
of small glyphs.  Now each projection searches its ``PROJECTION_ROWS`` highest-ranked rows that
its passes left uncovered, and every crop around a row is framed by background: unframed, the
network boxed 13 px of the 66 px date along the image's edge.

The detectors here run no pass over the whole image (``passes=()``), so what is found is what the
row search finds.
"""

from __future__ import annotations

import numpy as np
import pydicom
from pydicom.data import get_testdata_file
from test_pixels_hard_cases import MONO
from test_pixels_miss_classes import text_mask

from dicom_deid.pixels.ocr import DbnetDetector, TextBox


def _image(*, above_edge: int) -> tuple[np.ndarray, np.ndarray]:
    """An MR slice of emri_small enlarged to 256 x 256 (8-bit) with a bright 8 px date whose last
    glyph row lies ``above_edge`` rows above the bottom edge (negative: that many rows cut off by
    it); (image, glyph mask of what is shown)."""
    base = pydicom.dcmread(get_testdata_file("emri_small.dcm")).pixel_array[4].astype(np.float64)
    image = (np.kron(base, np.ones((4, 4))) / base.max() * 120).astype(np.uint8)
    mask = text_mask(image.shape, "DOB 18/10/1945", (100, 0), 8, MONO)
    last = int(np.nonzero(mask.any(axis=1))[0].max())
    mask = np.roll(mask, image.shape[0] - 1 - last - above_edge, axis=0)
    if above_edge < 0:
        mask[:-above_edge] = False  # rolled round to the top: cut off
    image[mask] = 240
    return image, mask


def _covered(boxes: list[TextBox], mask: np.ndarray) -> float:
    """The share of the glyph mask's columns that some box spans, over its rows."""
    ys, xs = np.nonzero(mask)
    spanned = np.zeros(mask.shape[1], bool)
    for b in boxes:
        if b.y <= ys.max() and ys.min() < b.y1:
            spanned[max(0, b.x) : b.x1] = True
    return float(spanned[xs.min() : xs.max() + 1].mean())


def test_a_projection_searches_its_highest_ranked_small_row() -> None:
    image, mask = _image(above_edge=20)
    projection = DbnetDetector(passes=()).without_edge_pad()
    assert _covered(projection.detect(image), mask) >= 0.95


def test_a_row_cut_by_the_image_edge_is_searched_on_a_framed_crop() -> None:
    """Two glyph rows of the date beyond the edge: unframed, the projection's crop boxed 28 % of it."""
    image, mask = _image(above_edge=-2)
    for detector in (DbnetDetector(passes=()), DbnetDetector(passes=()).without_edge_pad()):
        assert _covered(detector.detect(image), mask) >= 0.95
