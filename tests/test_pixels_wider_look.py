"""A line the detector boxed from its middle is read once more in a longer box (issue 9).

Tuning seed 10607: a grey clock "10:00:00" over the flow of a colour Doppler cine was boxed from
its third digit on; that part read "00::00" and was rejected, on every frame.  Read 3 line
heights longer at each end the box cut, the line confirms, and what the longer box adds is kept
only out to the glyphs that add to the line's reading (``readout.read_out``): the start of the clock,
not the flow before it or after it.

The base is pydicom-data's colour Doppler ``color-px.dcm``; the clock is drawn with Pillow, and
the detector is a fixed box (the stub stands for the network's partial box; the recognizer is
the real one).
"""

from __future__ import annotations

import numpy as np
import pytest
from pixel_fixtures import FixedDetector
from test_over10_texture_trim import _doppler, _draw, _extent

from dicom_deid.pixels.confirm import Verdict
from dicom_deid.pixels.detect import find_text
from dicom_deid.pixels.fit import confirm_growth, merge_lines
from dicom_deid.pixels.ocr import TextBox
from dicom_deid.pixels.recognize import CrnnRecognizer

MONO = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf"


@pytest.fixture(scope="module")
def recognizer() -> CrnnRecognizer:
    return CrnnRecognizer()


def _clock() -> tuple[np.ndarray, np.ndarray, TextBox]:
    """The Doppler frame with a grey clock over its flow: (image, glyph mask, the tail box a
    detector might report: from the clock's third digit on, which reads "00:00", nothing but
    round marks, and is rejected)."""
    image, mask = _draw(_doppler(), "10:00:00", MONO, 19, (110, 60), (128, 128, 128))
    glyphs = _extent(mask)
    tail_x = glyphs.x + round(0.35 * glyphs.width)
    tail = TextBox(tail_x - 1, glyphs.y - 1, glyphs.x1 + 1 - (tail_x - 1), glyphs.height + 2, 0.9)
    return image, mask, tail


def _covered(boxes: list[TextBox], mask: np.ndarray) -> float:
    covered = np.zeros(mask.shape, bool)
    for box in boxes:
        covered[box.y : box.y1, box.x : box.x1] = True
    return float((covered & mask).sum() / mask.sum())


def test_line_boxed_from_its_middle_is_read_longer_and_covered(recognizer: CrnnRecognizer) -> None:
    image, mask, tail = _clock()
    assert set(recognizer.read_boxes(image, [tail])[0].text) <= set("0Oo: ")  # the premise: round marks
    search = merge_lines(confirm_growth(find_text([image], FixedDetector([tail]), recognizer), recognizer))
    confirmed = [j.box for j in search.judged if j.verdict is Verdict.CONFIRMED]
    assert _covered(confirmed, mask) >= 0.95


def test_what_the_longer_box_adds_beyond_the_line_over_flow_is_not_kept(recognizer: CrnnRecognizer) -> None:
    image, mask, tail = _clock()
    search = merge_lines(confirm_growth(find_text([image], FixedDetector([tail]), recognizer), recognizer))
    (region,) = [j for j in search.judged if j.verdict is Verdict.CONFIRMED]
    glyphs = _extent(mask)
    # the longer box ran 3 line heights past the clock's end over the flow: that part reads
    # nothing and is dropped (the end keeps the padding of a cut end, 40 % of the line height)
    assert region.box.x1 <= glyphs.x1 + glyphs.height


def test_the_start_the_longer_box_adds_is_kept_only_out_to_the_clock(recognizer: CrnnRecognizer) -> None:
    image, mask, tail = _clock()
    search = merge_lines(confirm_growth(find_text([image], FixedDetector([tail]), recognizer), recognizer))
    (region,) = [j for j in search.judged if j.verdict is Verdict.CONFIRMED]
    glyphs = _extent(mask)
    # the longer box began 3 line heights before the tail, 20 px of flow before the clock's "1":
    # kept whole, that part blacked out the flow too (wide11: from x=88, the clock from 112)
    assert glyphs.x - glyphs.height <= region.box.x <= glyphs.x
