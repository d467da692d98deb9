"""A line's own end where what it grew by there was dropped (issue 9, over-redaction on small
colour Dopplers).

Tuning seed 10608, case014: a date over the flow of a colour Doppler frame was boxed by the
detector with 30 px of the flow before its glyphs.  The line was followed on from the box's start
over more flow; that growth read nothing and was dropped (``fit.confirm_growth``), but the line
itself still began in the flow, and the flow inside the detector's box was blacked out (the
frame's over-redaction was 7.8 %).  Now the line is read again cut at that end
(``fit.trim_end``, ``readout.read_out``) and kept from the glyphs on.

The base is pydicom-data's colour Doppler ``color-px.dcm``; the date is drawn with Pillow, the
detector is a stub that reports one box starting in the flow, and the recognizer is the real
one.  Boxes are measured against the drawn glyphs' own mask.  Where the recognizer is a stub,
the stub reads glyphs placed by the test: what it reads is fixed here, not by the code under test.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
from pixel_fixtures import FixedDetector
from test_over10_texture_trim import _doppler, _draw, _extent

from dicom_deid.pixels.confirm import Judged, Verdict, pad_box
from dicom_deid.pixels.detect import find_text
from dicom_deid.pixels.fit import confirm_growth, merge_lines, trim_end, trimmed_ends
from dicom_deid.pixels.ocr import TextBox
from dicom_deid.pixels.recognize import CrnnRecognizer, Reading

SERIF = "/usr/share/fonts/truetype/dejavu/DejaVuSerif-Bold.ttf"
SANS = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
GREY = (200, 200, 200)


@pytest.fixture(scope="module")
def recognizer() -> CrnnRecognizer:
    return CrnnRecognizer()


def _covered(boxes: Sequence[TextBox], mask: np.ndarray) -> float:
    covered = np.zeros(mask.shape, bool)
    for box in boxes:
        covered[box.y : box.y1, box.x : box.x1] = True
    return float((covered & mask).sum() / mask.sum())


@pytest.mark.parametrize(("font", "size", "at", "before"), [
    (SERIF, 20, (130, 30), 30),
    (SANS, 24, (130, 30), 40),
    (SERIF, 24, (124, 84), 40),
])
def test_a_date_boxed_with_the_flow_before_it_is_blacked_out_from_its_glyphs(
    recognizer: CrnnRecognizer, font: str, size: int, at: tuple[int, int], before: int
) -> None:
    image, mask = _draw(_doppler(), "19920907", font, size, at, GREY)
    glyphs = _extent(mask)
    box = TextBox(glyphs.x - before, glyphs.y - 3, min(256, glyphs.x1 + 3) - (glyphs.x - before),
                  glyphs.height + 6, 0.9)
    search = merge_lines(confirm_growth(find_text([image], FixedDetector([box]), recognizer), recognizer))
    confirmed = [j.box for j in search.judged if j.verdict is Verdict.CONFIRMED]
    assert _covered(confirmed, mask) == 1.0
    # main: blacked out from 30-40 px before the date (the detector's box and more); now from
    # within a line height of its first glyph (the padding of a cut end)
    assert min(b.x for b in confirmed) >= glyphs.x - glyphs.height


class _GlyphReader:
    """Reads the glyphs (x extents) that lie whole inside a box: each as "A" with its confidence."""

    def __init__(self, glyphs: Sequence[tuple[int, int, float]]) -> None:
        self.glyphs = list(glyphs)
        self.calls = 0

    def read_boxes(self, image: np.ndarray, boxes: Sequence[TextBox]) -> list[Reading]:
        self.calls += 1
        out = []
        for box in boxes:
            inside = [conf for x0, x1, conf in self.glyphs if x0 >= box.x and x1 <= box.x1]
            out.append(Reading("A" * len(inside), tuple(inside)))
        return out


def _line_judged(line: TextBox, height: int) -> Judged:
    box = pad_box(line, height, 100, 300, cut=(True, False))
    return Judged(box, Verdict.CONFIRMED, 0, height, line, (), (True, False))


def test_the_start_is_trimmed_to_the_first_glyph_read_surely() -> None:
    # a line at x 40-200 (line height 16) whose glyphs, read surely, begin at x 70: 30 px of flow
    glyphs = [(70 + 10 * k, 78 + 10 * k, 0.95) for k in range(13)]
    line = TextBox(40, 20, 160, 16, 0.9)
    judged = trim_end(_line_judged(line, 16), True, np.zeros((100, 300), np.uint8), _GlyphReader(glyphs))
    assert judged.line is not None
    assert 70 - 16 <= judged.box.x <= 70


def test_glyphs_read_unsurely_at_the_start_stay_covered() -> None:
    # the same line, but its first glyphs (x 44-68) are faint: read, but never surely (a grey
    # name before a white clock).  Cutting them changes the reading, and the line is kept whole
    # (counting sure glyphs only, it was cut at the first sure one: the faint ones were uncovered)
    faint = [(44 + 10 * k, 52 + 10 * k, 0.3) for k in range(3)]
    sure = [(70 + 10 * k, 78 + 10 * k, 0.95) for k in range(13)]
    line = TextBox(40, 20, 160, 16, 0.9)
    judged = _line_judged(line, 16)
    assert trim_end(judged, True, np.zeros((100, 300), np.uint8), _GlyphReader(faint + sure)) == judged


def test_an_end_is_read_again_once_and_only_where_all_its_growth_was_dropped() -> None:
    # a line at x 100-160 with, at its start, the part a lone box held (80-100) and what the line
    # grew by past it (40-80), and at its end a part of its own (160-190)
    line = TextBox(100, 50, 60, 10, 0.9)
    grown = (TextBox(80, 50, 20, 10), TextBox(40, 50, 40, 10), TextBox(160, 50, 30, 10))
    judged = Judged(TextBox(38, 48, 154, 14), Verdict.CONFIRMED, 0, 10, line, grown)
    assert trimmed_ends(judged, {0, 1}) == [True]  # both parts at the start: once
    assert trimmed_ends(judged, {1}) == []  # the part kept at the start is text the line runs on into
    assert trimmed_ends(judged, {2}) == [False]
    assert trimmed_ends(judged, {0, 1, 2}) == [True, False]
    upright = Judged(TextBox(48, 38, 14, 154), Verdict.CONFIRMED, 0, 10, TextBox(50, 100, 10, 60, 0.9),
                     (TextBox(50, 40, 10, 60),))
    assert trimmed_ends(upright, {0}) == []  # ``unread_span`` reads along a level line only


def test_a_start_that_adds_nothing_read_is_kept_whole() -> None:
    # the line's first 3 line heights (x 40-88) add no letter or digit at all: the line's strokes
    # were taken for text, and what the recognizer cannot read there is not cut (the work in
    # progress cut the line 3 line heights in)
    sure = [(100 + 10 * k, 108 + 10 * k, 0.95) for k in range(10)]
    line = TextBox(40, 20, 160, 16, 0.9)
    judged = _line_judged(line, 16)
    assert trim_end(judged, True, np.zeros((100, 300), np.uint8), _GlyphReader(sure)) == judged


def test_a_last_glyph_the_recognizer_does_not_read_is_not_trimmed() -> None:
    # a line at x 40-204 whose glyphs read surely but the last (x 190-204, wide: an "M" over the
    # flow), which reads nothing: cut off, less than a line height (TRIM_MIN) would be trimmed,
    # and the padding of a cut end (40 % of the line height) would not cover the glyph
    sure = [(40 + 10 * k, 48 + 10 * k, 0.95) for k in range(15)]
    line = TextBox(40, 20, 164, 16, 0.9)
    judged = Judged(pad_box(line, 16, 100, 300, cut=(False, True)), Verdict.CONFIRMED, 0, 16, line, (),
                    (False, True))
    trimmed = trim_end(judged, False, np.zeros((100, 300), np.uint8), _GlyphReader(sure))
    assert trimmed.box.x1 >= 204


class _Readings:
    """Reads the texts listed, one per box, in the order the boxes are asked for."""

    def __init__(self, texts: Sequence[str]) -> None:
        self.texts = list(texts)

    def read_boxes(self, image: np.ndarray, boxes: Sequence[TextBox]) -> list[Reading]:
        texts = (self.texts + [self.texts[-1]] * len(boxes))[: len(boxes)]
        return [Reading(text, tuple(0.9 for _ in text)) for text in texts]


def test_a_line_read_differently_at_each_cut_is_not_trimmed() -> None:
    # tuning seed 10607: a small faint label, cut in steps from its start, read "POSOK", "SPOSOK",
    # "SPCSOK", "POSROK", "POSROK", "PSON": the most letters read (6) out to the fifth cut, and
    # the start was trimmed there through its first glyphs (here out to the seventh, 5 steps of
    # 4 px: more than a line height).  The first cut already changes the reading
    line = TextBox(40, 20, 160, 16, 0.9)
    judged = _line_judged(line, 16)
    reader = _Readings(["POSOK", "SPOSOK", "SPCSOK", "POSROK", "POSROK", "POSROK", "POSROK", "PSON", "SRON"])
    assert trim_end(judged, True, np.zeros((100, 300), np.uint8), reader) == judged
