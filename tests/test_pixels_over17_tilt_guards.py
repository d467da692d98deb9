"""Which confirmed lines ``detect._tilted_bands`` blacks out only in the band along them (issue 9).

A line confirmed as it lies is banded where its reading says its glyphs are much lower than its
box (a tilted line: ``confirm.TILTED``) and at most ``MAX_SPILL`` of the strokes in its box lie
outside the band.  A line whose reading fills its box's height is measured for tilt only where it
is at least ``TILT_TRIED`` px high, and banded only where its tilt is ``SIZE_TILT`` degrees or more
and at most ``SIZE_SPILL`` of its strokes lie outside the band: a 21 px label tilted by 5 degrees
was measured at 10 and banded, cutting its glyphs (tune seed 10810 case020), and a 17 px label
tilted by 13 degrees over skin, measured 2 degrees off, left 41 % of its strokes outside
(tune seed 10808 case049).  Bright labels drawn on a dark, slightly noisy background; other labels
in the corners of the line's box put strokes outside its band.
"""

from __future__ import annotations

import numpy as np
from test_pixels_miss_classes import text_mask
from test_pixels_tilted_band import FONTS, tilted_label

from dicom_deid.pixels.confirm import TILTED, Judged, Proposal, Verdict, pad_box
from dicom_deid.pixels.deskew import level_line
from dicom_deid.pixels.detect import MAX_SPILL, SIZE_SPILL, SIZE_TILT, TILT_TRIED, _tilted_bands
from dicom_deid.pixels.ocr import TextBox
from dicom_deid.pixels.recognize import Reading

ROWS, COLUMNS = 200, 320
SIZE = 30


def _label(angle: float, corners: int = 0, size: int = 18) -> tuple[np.ndarray, TextBox]:
    """The image and the upright box of a 30 px label turned by ``angle`` degrees (rising to the
    right), with another level label ``size`` px high in ``corners`` (0-2) corners of that box off
    the line: its top left, then its bottom right."""
    rng = np.random.default_rng(3)
    image = np.clip(30 + rng.normal(0, 4, (ROWS, COLUMNS)), 0, 255).astype(np.uint8)
    glyphs, _band = tilted_label("MRN 0715180", SIZE, FONTS["sans"], angle)
    mask = np.zeros((ROWS, COLUMNS), bool)
    mask[40 : 40 + glyphs.shape[0], 30 : 30 + glyphs.shape[1]] = glyphs
    image[mask] = 220
    ys, xs = np.nonzero(mask)
    box = TextBox(int(xs.min()), int(ys.min()), int(np.ptp(xs) + 1), int(np.ptp(ys) + 1))
    for at in [(box.x + 2, box.y + 1), (box.x1 - 4 * size - 30, box.y1 - size - 1)][:corners]:
        image[text_mask((ROWS, COLUMNS), "ACC 1234", at, size)] = 220
    return image, box


def _banded(image: np.ndarray, box: TextBox, glyph_height: int) -> bool:
    """Does ``_tilted_bands`` band the line confirmed in ``box`` whose reading gives ``glyph_height``?"""
    judged = Judged(pad_box(box, glyph_height, ROWS, COLUMNS, cut=(False, False)), Verdict.CONFIRMED, 0,
                    glyph_height, box)
    best: list[tuple[Judged, Reading] | None] = [(judged, Reading("MRN0715180", (0.99,) * 10))]
    _tilted_bands([image], [[Proposal(box, 0)]], best)
    assert best[0] is not None
    return best[0][0].strip() is not None


def test_a_line_read_level_and_tilted_by_less_than_size_tilt_is_not_banded() -> None:
    for angle in (8.0, 10.0):
        image, box = _label(angle)
        level = level_line(image, box)
        assert level is not None and abs(level.tilt) < SIZE_TILT  # measured, and under the guard
        assert box.height >= TILT_TRIED
        assert not _banded(image, box, box.height)


def test_a_line_read_level_and_tilted_by_size_tilt_or_more_is_banded() -> None:
    image, box = _label(18.0)
    assert _banded(image, box, box.height)


def test_a_line_read_level_with_more_than_size_spill_outside_its_band_is_not_banded() -> None:
    image, box = _label(18.0, corners=1, size=16)
    level = level_line(image, box)
    assert level is not None and SIZE_SPILL < level.spill <= MAX_SPILL  # the premise
    assert not _banded(image, box, box.height)  # read level: its measure is trusted less
    assert _banded(image, box, int(0.5 * TILTED * box.height))  # read as tilted: banded


def test_a_line_with_more_than_max_spill_outside_its_band_is_not_banded() -> None:
    image, box = _label(18.0, corners=2)
    level = level_line(image, box)
    assert level is not None and level.spill > MAX_SPILL  # the premise
    assert not _banded(image, box, int(0.5 * TILTED * box.height))
