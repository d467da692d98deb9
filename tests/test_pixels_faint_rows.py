"""A grey label on pale tissue beside black dots is searched as a faint row (issue 9, tune seed 10502).

On tune seed 10502 (case020) a 7 px grey date, 43 levels darker than the saturated tissue of a CT
perfusion slice, was never proposed, and Tesseract read it in the output.  The slice's black vessel
dots set the glyph level (``glyphs.GLYPH_SHARE`` of their response), so the label made no marks at
all, and no whole-image pass boxed it.  Glyph rows are now also taken at the image's grain level
(``glyphs.FAINT_ROWS``: rows in which no pixel of the first level stands, so the pale gaps between
dots are not among them), and each is searched on a crop stretched to the row's own grey levels
(``ocr.faint_crop``), not on the equalised image.

The base is pydicom-data's enhanced CT (eCT_Supplemental) shown as a perfusion map is: tissue
saturated white with grain, vessels black.  The labels are planted with Pillow; coverage is measured
against the planted glyphs.
"""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from test_pixels_miss_classes import text_mask

from dicom_deid.pixels import ocr
from dicom_deid.pixels.glyphs import glyph_rows
from dicom_deid.pixels.ocr import DbnetDetector
from tests.pixel_fixtures import ink_covered

SANS = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
NARROW = "/usr/share/fonts/truetype/liberation/LiberationSansNarrow-Regular.ttf"


def _perfusion_map() -> np.ndarray:
    """eCT_Supplemental's first frame as a narrow window shows it: tissue near white with grain,
    vessels and background black."""
    frame = pydicom.dcmread(get_testdata_file("eCT_Supplemental.dcm")).pixel_array[0]
    grain = np.random.default_rng(4).normal(0, 4, frame.shape)
    return np.clip(np.where(frame > 1000, 236.0, 6.0) + grain, 0, 255).astype(np.uint8)


def _labelled(text: str, size: int, font: str, level: int) -> tuple[np.ndarray, np.ndarray]:
    image = _perfusion_map()
    mask = text_mask(image.shape, text, (280, 380), size, font)  # on tissue, clear of the vessels
    image[mask] = level
    return image, mask


def _on(rows: list, mask: np.ndarray) -> list:
    ys, xs = np.nonzero(mask)
    return [r for r in rows if r.x <= xs.max() and xs.min() <= r.x + r.width
            and r.y <= ys.max() and ys.min() <= r.y + r.height]


def test_a_grey_label_beside_black_dots_is_a_faint_row() -> None:
    image, mask = _labelled("09-FEB-1933", 9, SANS, 235 - 44)
    assert _on(glyph_rows(image, faint_rows=0), mask) == []  # the premise: the dots set the level
    rows = _on(glyph_rows(image), mask)
    assert rows and all(r.faint for r in rows)
    _ys, xs = np.nonzero(mask)
    assert max(r.width for r in rows) >= 0.8 * (xs.max() - xs.min())


def test_tissue_without_text_holds_no_faint_row() -> None:
    """The vessels' own rows are rows of the first level; taken again at the grain level they are
    not faint rows (nothing is searched twice), and grain makes none."""
    rows = glyph_rows(_perfusion_map())
    assert rows and not any(r.faint for r in rows)


def _first_level_only(image: np.ndarray, **options: object) -> list:
    return glyph_rows(image, **{**options, "faint_rows": 0})  # type: ignore[arg-type]


def test_the_detector_boxes_a_faint_label_it_missed(monkeypatch: pytest.MonkeyPatch) -> None:
    image, mask = _labelled("09-FEB-1933", 9, SANS, 235 - 44)
    assert ink_covered(DbnetDetector().detect(image), mask) >= 0.98
    monkeypatch.setattr(ocr, "glyph_rows", _first_level_only)
    assert ink_covered(DbnetDetector().detect(image), mask) < 0.5  # what the detector did before


def test_a_faint_row_is_searched_stretched_not_equalised(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 9 px narrow label 25 levels off the tissue: on the crop stretched to its row's grey levels
    it is boxed whole; on the same crop of the equalised image (how other rows are searched) the
    network sees nothing."""
    image, mask = _labelled("HUGO HALVORSEN", 9, NARROW, 235 - 25)
    assert ink_covered(DbnetDetector().detect(image), mask) >= 0.98

    def equalised(grey: np.ndarray, row: object, x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
        return np.ascontiguousarray(DbnetDetector().prepare(grey)[y0:y1, x0:x1])

    monkeypatch.setattr(ocr, "faint_crop", equalised)
    assert ink_covered(DbnetDetector().detect(image), mask) < 0.5
