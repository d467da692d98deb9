"""A faint word only one box of a line's group holds stays covered (issue 9: leaking is worse
than over-redacting).

``detect.judge_group`` cuts a level line back to the extent at least two boxes of its group reach
and keeps the part one lone box alone held only where it reads as text (a red clock boxed on one
frame of a Doppler cine with 27 px of the flow beside it).  A faint grey name after the clock that
the detector boxed on one frame only is such a part too: read on its own it gave letters, but none
surely, and it was cut off.  A detector box saw text there, so a lone part now stays where any
letter or digit is read in it (``readout.LonePart``); growth no box held still needs a sure one.

The base is pydicom-data's colour Doppler ``color-px.dcm``; the clock and the name are drawn with
Pillow, the detector is a stub that reports one box per frame (the clock on three, clock and name
on the fourth), and the recognizer is the real one.  Coverage is measured on the drawn glyphs' mask.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
from test_over10_texture_trim import _doppler, _draw, _extent
from test_pixels_clock_lone_box import RED, SANS, _cine, _confirmed, _covered

from dicom_deid.pixels.confirm import Judged, Verdict
from dicom_deid.pixels.detect import TextSearch
from dicom_deid.pixels.fit import confirm_growth
from dicom_deid.pixels.ocr import TextBox
from dicom_deid.pixels.readout import LonePart
from dicom_deid.pixels.recognize import CrnnRecognizer, Reading


@pytest.fixture(scope="module")
def recognizer() -> CrnnRecognizer:
    return CrnnRecognizer()


@pytest.mark.parametrize(("name", "size", "at", "grey"), [
    ("LEE", 10, (120, 30), 50),  # over the speckle beside the flow: read "LeE", no letter surely
    ("LEE", 10, (120, 30), 70),
])
def test_a_faint_name_only_one_box_holds_stays_covered(
    recognizer: CrnnRecognizer, name: str, size: int, at: tuple[int, int], grey: int
) -> None:
    image, clock_mask = _draw(_doppler(), "10:02:14", SANS, size, at, RED)
    clock = _extent(clock_mask)
    image, name_mask = _draw(image, name, SANS, size, (clock.x1 + size // 2, at[1]), (grey, grey, grey))
    word = _extent(name_mask)
    short = TextBox(clock.x - 2, clock.y - 2, clock.width + 4, clock.height + 4, 0.9)
    top, bottom = min(clock.y, word.y) - 2, max(clock.y1, word.y1) + 2
    whole = TextBox(short.x, top, word.x1 + 2 - short.x, bottom - top, 0.9)
    frames, detector = _cine(image, [short, short, short, whole])
    confirmed = _confirmed(frames, detector, recognizer)
    assert _covered(confirmed, clock_mask) == 1.0
    assert _covered(confirmed, name_mask) == 1.0


class _UnsureEight:
    """Reads "8", unsurely, in every box."""

    def read_boxes(self, image: np.ndarray, boxes: Sequence[TextBox]) -> list[Reading]:
        return [Reading("8", (0.3,)) for _ in boxes]


def test_a_lone_part_needs_a_letter_read_and_growth_a_sure_one() -> None:
    # a line at x 100-160 with the part a lone box held at its end (160-190) and what the line
    # grew by at its start (60-100): both read "8" unsurely
    line = TextBox(100, 50, 60, 12, 0.9)
    grown = (LonePart(160, 50, 30, 12, 0.9), TextBox(60, 50, 40, 12, 0.9))
    judged = Judged(TextBox(58, 48, 134, 16), Verdict.CONFIRMED, 0, 12, line, grown, (False, False), (True, True))
    search = TextSearch((judged,), (np.zeros((120, 256, 3), np.uint8),))
    fitted = confirm_growth(search, _UnsureEight()).judged[0]
    assert fitted.grown == (grown[0],)
    assert fitted.box.x >= 100 - 12 and fitted.box.x1 >= 190
