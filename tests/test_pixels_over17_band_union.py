"""Copies of a line are joined into one box only where it blacks out no more than they did, a
banded copy counted by its band (``fit.merge_lines``, issue 9 over-redaction).

A tilted line blacked out in its band (``Judged.strip``) and a level copy whose centre lies off
that band are one line for ``merge_lines`` (alike across), but not held by the band
(``fit._banded``).  Their upright union is the banded copy's box: counted as a whole box, the
banded copy would have made the join look free, and the corners of the tilted line's box (anatomy)
would be blacked out again.  Counted by its band, the join is larger than the copies: they stay apart.
"""

from __future__ import annotations

import numpy as np

from dicom_deid.pixels.confirm import Judged, Verdict, pad_box
from dicom_deid.pixels.detect import TextSearch
from dicom_deid.pixels.fit import merge_lines
from dicom_deid.pixels.ocr import TextBox
from dicom_deid.pixels.redact import Strip

ROWS, COLUMNS = 160, 260
TILTED = TextBox(20, 20, 200, 70)  # a line rising 70 px over 200 to the right (about 19 degrees)
LEVEL = TextBox(24, 24, 90, 36)  # a level copy in the box's top left corner, off the band


def _banded() -> Judged:
    box = pad_box(TILTED, 20, ROWS, COLUMNS, cut=(False, False))
    angle = -float(np.degrees(np.arctan2(TILTED.height - 20, TILTED.width)))
    turn = np.radians(angle)
    cx, cy = TILTED.x + TILTED.width / 2, TILTED.y + TILTED.height / 2
    strip = Strip(angle, -np.sin(turn) * cx + np.cos(turn) * cy, 14.0)
    return Judged(box, Verdict.CONFIRMED, 0, 20, TILTED, band=(box, strip))


def _level() -> Judged:
    return Judged(pad_box(LEVEL, 30, ROWS, COLUMNS, cut=(False, False)), Verdict.CONFIRMED, 0, 30, LEVEL)


def test_a_banded_copy_and_a_level_copy_off_its_band_stay_apart() -> None:
    banded, level = _banded(), _level()
    strip = banded.strip()
    assert strip is not None
    assert not strip.mask(LEVEL.x + LEVEL.width // 2, LEVEL.y + LEVEL.height // 2, 1, 1)[0, 0]  # off the band
    image = np.zeros((ROWS, COLUMNS), np.uint8)
    merged = merge_lines(TextSearch((banded, level), (image,))).judged
    assert len(merged) == 2
    assert any(j.strip() is not None for j in merged)  # the tilted line is still blacked out in its band
    covered = np.zeros((ROWS, COLUMNS), bool)
    for j in merged:
        part = j.strip()
        covered[j.box.y : j.box.y1, j.box.x : j.box.x1] |= True if part is None else part.mask(
            j.box.x, j.box.y, j.box.width, j.box.height)
    corner = np.zeros((ROWS, COLUMNS), bool)
    corner[banded.box.y1 - 20 : banded.box.y1, banded.box.x1 - 60 : banded.box.x1] = True  # bottom right
    assert not covered[corner].any()
