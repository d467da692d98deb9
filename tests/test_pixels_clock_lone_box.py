"""One box of a line's group that alone runs on beyond the others (issue 9, over-redaction on
small colour Dopplers).

Tuning seed 10607: a red clock amid the flow of a colour Doppler cine was boxed the same on ten
frames and, on one, with 27 px of the tissue beside it.  The line was judged on the union of the
boxes: its strokes ran to that box's end, so it was followed on from there over the flow, and the
clock was blacked out 130 px long (over-redaction 5.6 % of the frame).  Now the part only the lone
box holds must read as text on its own, or the line is cut back to the extent the others reach.

The base is pydicom-data's colour Doppler ``color-px.dcm``; the clock is drawn with Pillow, the
detector is a stub that reports one box per frame (the lone box on the last), and the
recognizer is the real one.  Boxes are measured against the drawn glyphs' own mask.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_over10_texture_trim import _doppler, _draw, _extent

from dicom_deid.pixels.confirm import Judged, Verdict
from dicom_deid.pixels.detect import find_text
from dicom_deid.pixels.fit import beyond, confirm_growth, merge_lines
from dicom_deid.pixels.ocr import TextBox
from dicom_deid.pixels.recognize import CrnnRecognizer

SANS = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
RED = (230, 40, 40)


@pytest.fixture(scope="module")
def recognizer() -> CrnnRecognizer:
    return CrnnRecognizer()


class _BoxPerFrame:
    """Reports the boxes listed for each frame (known by its pixels); none on other images."""

    def __init__(self, table: dict[bytes, list[TextBox]]) -> None:
        self.table = table

    def detect(self, image: np.ndarray) -> list[TextBox]:
        return list(self.table.get(image.tobytes(), []))


def _cine(image: np.ndarray, boxes: list[TextBox]) -> tuple[list[np.ndarray], _BoxPerFrame]:
    """Frames of ``image`` (one per box, told apart by one pixel of the corner) and a detector
    that reports each frame's box."""
    frames, table = [], {}
    for k, box in enumerate(boxes):
        frame = image.copy()
        frame[0, k, 0] = k
        frames.append(frame)
        table[frame.tobytes()] = [box]
    return frames, _BoxPerFrame(table)


def _covered(boxes: list[TextBox], mask: np.ndarray) -> float:
    covered = np.zeros(mask.shape, bool)
    for box in boxes:
        covered[box.y : box.y1, box.x : box.x1] = True
    return float((covered & mask).sum() / mask.sum())


def _confirmed(frames: list[np.ndarray], detector: _BoxPerFrame, recognizer: CrnnRecognizer) -> list[TextBox]:
    search = merge_lines(confirm_growth(find_text(frames, detector, recognizer), recognizer))
    return [j.box for j in search.judged if j.verdict is Verdict.CONFIRMED]


@pytest.mark.parametrize("at", [(100, 32), (52, 56), (164, 68)])
def test_a_lone_box_over_the_tissue_beside_a_clock_does_not_set_its_end(
    recognizer: CrnnRecognizer, at: tuple[int, int]
) -> None:
    image, mask = _draw(_doppler(), "10:02:14", SANS, 12, at, RED)
    glyphs = _extent(mask)
    box = TextBox(glyphs.x - 2, glyphs.y - 2, glyphs.width + 4, glyphs.height + 4, 0.9)
    lone = TextBox(box.x, box.y, box.width + 3 * glyphs.height, box.height, 0.9)  # 27 px of tissue beyond
    frames, detector = _cine(image, [box, box, box, lone])
    confirmed = _confirmed(frames, detector, recognizer)
    assert _covered(confirmed, mask) == 1.0
    # main: the line ran to the lone box's end and on (31 px past the clock); now the end is
    # padded as cut (40 % of the line height) beyond the extent the three boxes reach
    assert max(b.x1 for b in confirmed) <= glyphs.x1 + glyphs.height


def test_what_only_the_lone_box_holds_is_kept_where_it_reads_as_text(recognizer: CrnnRecognizer) -> None:
    # three frames boxed the clock without its " PM", one the whole line: the words only that
    # box holds are text, and stay covered
    image, mask = _draw(_doppler(), "10:02:14 PM", SANS, 12, (52, 56), RED)
    clock = _extent(_draw(_doppler(), "10:02:14", SANS, 12, (52, 56), RED)[1])
    glyphs = _extent(mask)
    short = TextBox(clock.x - 2, clock.y - 2, clock.width + 4, clock.height + 4, 0.9)
    whole = TextBox(glyphs.x - 2, glyphs.y - 2, glyphs.width + 4, glyphs.height + 4, 0.9)
    frames, detector = _cine(image, [short, short, short, whole])
    assert _covered(_confirmed(frames, detector, recognizer), mask) == 1.0


def test_a_part_farther_out_than_a_dropped_part_goes_with_it() -> None:
    # a line at x 100-160 with, at its end, the part a lone box held (160-180) and what the line
    # grew by past it (180-220), and at its start a part of its own (80-100)
    line = TextBox(100, 50, 60, 10, 0.9)
    grown = (TextBox(160, 50, 20, 10), TextBox(180, 50, 40, 10), TextBox(80, 50, 20, 10))
    judged = Judged(TextBox(98, 48, 124, 14), Verdict.CONFIRMED, 0, 10, line, grown)
    assert beyond(judged, {0}) == {1}
    assert beyond(judged, {1}) == set()  # nothing lies past the outer part
    assert beyond(judged, {2}) == set()  # the start: the end's parts are not past it
