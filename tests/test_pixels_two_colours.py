"""A confirmed line in two colours keeps every word covered (issue 9, a leak).

A confirmed line is tightened to the strokes of the colour read inside the detector's kernel
(``confirm.stroke_response``: flow beside a coloured clock is not text).  A line in two colours,
a red clock and a grey name after it, was tightened to the clock: the box read "10:02:14 JONES"
and the name was left uncovered.  Now the part of the detector's box that tightening left out
(a line height or more at an end) is growth, kept where it reads as text (``fit.confirm_growth``):
the name reads, flow does not.

The base is pydicom-data's colour Doppler ``color-px.dcm``; the text is drawn with Pillow, the
detector is a stub that boxes the whole line, and the recognizer is the real one.
"""

from __future__ import annotations

import pytest
from test_over10_texture_trim import _doppler, _draw, _extent
from test_pixels_clock_lone_box import RED, SANS, _cine, _confirmed, _covered

from dicom_deid.pixels.ocr import TextBox
from dicom_deid.pixels.recognize import CrnnRecognizer


@pytest.fixture(scope="module")
def recognizer() -> CrnnRecognizer:
    return CrnnRecognizer()


@pytest.mark.parametrize(("at", "grey"), [((52, 80), 80), ((20, 30), 110), ((52, 80), 60)])
def test_a_grey_name_after_a_red_clock_on_one_line_is_covered(
    recognizer: CrnnRecognizer, at: tuple[int, int], grey: int
) -> None:
    image, clock = _draw(_doppler(), "10:02:14", SANS, 12, at, RED)
    image, name = _draw(image, "JONES", SANS, 12, (_extent(clock).x1 + 8, at[1]), (grey, grey, grey))
    glyphs = _extent(clock | name)
    frames, detector = _cine(image, [TextBox(glyphs.x - 2, glyphs.y - 2, glyphs.width + 4, glyphs.height + 4, 0.9)])
    confirmed = _confirmed(frames, detector, recognizer)
    assert _covered(confirmed, clock) == 1.0
    assert _covered(confirmed, name) >= 0.98  # main: 0.0 (the box kept the clock only)
