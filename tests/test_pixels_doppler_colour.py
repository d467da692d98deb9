"""A coloured label over colour flow is tightened to its own colour (issue 9, over-redaction on
small colour Doppler frames).

A confirmed line is tightened to the strokes of the text's colour (``confirm.stroke_response``).
That colour was the median of the strokes inside the detector's kernel; a green clock over red
and blue flow and grey speckle has as many flow and speckle strokes there as glyph strokes, and
their median was a grey that stood out too little to be trusted: no stroke was dropped, and the
flow touching the clock widened its box (synthetic seed 10706, case 31: 6.6 % of the frame).  Now
the text's colour is the densest colour of thin strokes found all along the kernel, where no
other colour could be the text's (where two could, the median stands), and only strokes on its
hue are kept.

The base is pydicom-data's colour Doppler frame ``color-px.dcm`` (real flow and speckle), the text
is drawn with Pillow and measured by its own glyph mask, never by what the code reports.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from test_over10_texture_trim import _doppler, _draw, _extent, _holds

from dicom_deid.pixels.confirm import END_SHARE, PAD_SHARE, Proposal, Verdict, judge
from dicom_deid.pixels.detect import TextSearch
from dicom_deid.pixels.fit import confirm_growth
from dicom_deid.pixels.ocr import TextBox
from dicom_deid.pixels.recognize import CrnnRecognizer, Reading

SERIF = "/usr/share/fonts/truetype/liberation/LiberationSerif-Regular.ttf"
GREEN = (78, 240, 78)
CLOCK = "10:05:35"


@pytest.fixture(scope="module")
def recognizer() -> CrnnRecognizer:
    return CrnnRecognizer()


def _judged_box(image: np.ndarray, glyphs: TextBox, recognizer: CrnnRecognizer) -> TextBox:
    """The box blacked out for a confirmed line whose detector box has 8 px of margin all round
    and whose kernel lies inside the glyphs; growth kept only where it reads (as the stage does)."""
    loose = TextBox(glyphs.x - 8, glyphs.y - 8, glyphs.width + 16, glyphs.height + 16)
    core = TextBox(glyphs.x + 6, glyphs.y + 3, glyphs.width - 12, glyphs.height - 4)
    reading = Reading(CLOCK, tuple(0.95 for _ in CLOCK))
    judged = judge(image, Proposal(loose, 0), reading, read_box=glyphs, core=core)
    judged = confirm_growth(TextSearch((judged,), (image,)), recognizer).judged[0]
    assert judged.verdict is Verdict.CONFIRMED
    return judged.box


@pytest.mark.parametrize("at", [(88, 40), (88, 35), (70, 50)])
def test_a_green_clock_over_red_and_blue_flow_keeps_to_its_glyphs(
    recognizer: CrnnRecognizer, at: tuple[int, int]
) -> None:
    """A green 20 px clock drawn where the frame's red and blue flow cross it: the box holds every
    glyph, reaches across the line no further than the padding of the glyphs' height (and a pixel
    of anti-aliasing) and along it no further than the padding of a cut end (main: 12, 18 and 25 px
    beyond the glyphs along the line over the flow, and 4 to 7 px across it)."""
    image, mask = _draw(_doppler(), CLOCK, SERIF, 31, at, GREEN)
    glyphs = _extent(mask)
    flow = image[glyphs.y : glyphs.y1, glyphs.x : glyphs.x1]
    red = (flow[..., 0] > 150) & (flow[..., 1] < 60)
    blue = (flow[..., 2] > 140) & (flow[..., 0] < 60)
    assert red.sum() >= 40 and blue.sum() >= 10  # the flow lies over the clock, in both colours
    box = _judged_box(image, glyphs, recognizer)
    assert _holds(box, mask)
    pad = max(2, math.ceil(PAD_SHARE * glyphs.height)) + 1
    assert box.y >= glyphs.y - pad and box.y1 <= glyphs.y1 + pad, (box, glyphs)
    end = math.ceil(END_SHARE * glyphs.height) + 1
    assert box.x >= glyphs.x - end and box.x1 <= glyphs.x1 + end, (box, glyphs)
