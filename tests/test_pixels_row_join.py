"""Regions of one label that the first readings left unconfirmed (detect.py): another pass's box of
the same line is read too, words of one row are read as one line, and a line's height is that of
its own marks (confirm.tighten).  Proposals and readings are planted; the logic is what is tested."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from dicom_deid.pixels.confirm import Proposal, Verdict, tighten
from dicom_deid.pixels.detect import find_text, next_member, row_runs
from dicom_deid.pixels.ocr import TextBox
from dicom_deid.pixels.recognize import Reading

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf"


def _label(text: str, size: int = 28) -> tuple[np.ndarray, TextBox]:
    """A 160 x 480 dark image with ``text`` drawn bright at (40, 60); the ink's box."""
    layer = Image.new("L", (480, 160), 0)
    ImageDraw.Draw(layer).text((40, 60), text, fill=230, font=ImageFont.truetype(FONT, size))
    image = np.asarray(layer, np.uint8).copy()
    ys, xs = np.nonzero(image > 80)
    return image, TextBox(int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1))


class _Planted:
    """A detector that proposes the given boxes, and a recognizer whose reading of a box is
    planted by the box's (x, width), or by its x alone (a long line is read on its start); any
    other box reads nothing."""

    def __init__(self, boxes: Sequence[TextBox], readings: dict[tuple[int, int], Reading]) -> None:
        self.boxes, self.readings, self.read = list(boxes), readings, []  # type: ignore[var-annotated]

    def detect(self, image: np.ndarray) -> list[TextBox]:
        return list(self.boxes)

    def read_boxes(self, image: np.ndarray, boxes: Sequence[TextBox]) -> list[Reading]:
        self.read += [(b.x, b.width) for b in boxes]
        return [self.readings.get((b.x, b.width), self.readings.get((b.x, -1), Reading("", (), 0))) for b in boxes]


def _reading(text: str, conf: float) -> Reading:
    return Reading(text, tuple(conf for _ in text), 0)


def test_next_member_reads_another_box_of_the_same_image_once_every_image_was_read() -> None:
    a, b = TextBox(10, 10, 60, 12, 0.9), TextBox(11, 10, 61, 12, 0.8)
    elsewhere = Proposal(TextBox(10, 10, 60, 12, 0.7), 1)
    group = [Proposal(a, 0), Proposal(b, 0), elsewhere]
    assert next_member(group, []) == group[0]
    assert next_member(group, [group[0]]) is elsewhere  # another image first, as before
    assert next_member(group, [group[0], elsewhere]) == group[1]  # then the other box of image 0
    assert next_member(group, group) is None


def test_a_line_is_confirmed_on_the_second_box_of_one_image() -> None:
    image, ink = _label("MRN 76183619")
    first = TextBox(ink.x - 2, ink.y - 3, ink.width + 4, ink.height + 6, 0.9)
    second = TextBox(ink.x - 3, ink.y - 3, ink.width + 6, ink.height + 6, 0.8)
    planted = _Planted([first, second], {(second.x, -1): _reading("MRN76183619", 0.9),
                                         (first.x, -1): _reading("Rw:T6A", 0.3)})
    search = find_text([image], planted, planted)
    assert [j.verdict for j in search.judged] == [Verdict.CONFIRMED]
    assert second.x in [x for x, _ in planted.read]


def test_the_second_box_of_one_image_counts_only_when_it_confirms() -> None:
    image, ink = _label("MRN 76183619")
    first = TextBox(ink.x - 2, ink.y - 3, ink.width + 4, ink.height + 6, 0.9)
    second = TextBox(ink.x - 3, ink.y - 3, ink.width + 6, ink.height + 6, 0.8)
    uncertain = Reading("MRN7618", (0.9, 0.9, 0.9, 0.4, 0.4, 0.4, 0.4), 0)  # three sure of seven
    planted = _Planted([first, second], {(second.x, -1): uncertain,  # a chance reading
                                         (first.x, -1): _reading("~", 0.3)})
    search = find_text([image], planted, planted)
    assert second.x in [x for x, _ in planted.read]
    assert [j.verdict for j in search.judged] == [Verdict.REJECTED]  # anatomy read twice stays rejected


def test_row_runs_joins_boxes_side_by_side_on_one_row_only() -> None:
    boxes = [
        TextBox(136, 437, 100, 36),  # "PID"
        TextBox(241, 449, 28, 17),  # "1", lower: the rest ran off the organ
        TextBox(136, 300, 100, 36),  # another row
        TextBox(600, 437, 100, 36),  # the same row, far away
        TextBox(250, 380, 20, 120),  # upright: not a word of a row
    ]
    assert row_runs(boxes) == [[0, 1]]
    assert row_runs([boxes[0], TextBox(241, 449, 28, 12)]) == []  # one three times lower: not one row
    assert row_runs([boxes[0], TextBox(300, 437, 50, 36)]) == []  # a gap over a line height


def test_words_of_one_row_left_unconfirmed_alone_are_confirmed_together() -> None:
    image, ink = _label("PID 1131")
    split = ink.x + ink.width * 3 // 8  # the space
    word = TextBox(ink.x - 2, ink.y - 2, split - ink.x, ink.height + 4, 0.9)
    number = TextBox(split + 6, ink.y - 2, ink.x1 + 2 - split - 6, ink.height + 4, 0.8)
    both = TextBox(word.x, word.y, number.x1 - word.x, word.height, 0.9)
    planted = _Planted([word, number], {
        (word.x, word.width): _reading("RID.", 0.7),  # uncertain
        (number.x, number.width): _reading("1", 0.45),  # rejected
        (both.x, both.width): _reading("RID 1131", 0.9),
    })
    search = find_text([image], planted, planted)
    confirmed = [j for j in search.judged if j.verdict is Verdict.CONFIRMED]
    assert len(confirmed) == 1
    box = confirmed[0].box
    assert box.x <= ink.x and box.x1 >= ink.x1 and box.y <= ink.y and box.y1 >= ink.y1
    assert all(j.verdict is Verdict.CONFIRMED for j in search.judged)  # the words are not judged apart


def test_words_of_one_row_stay_apart_when_neither_reads_as_text() -> None:
    image, ink = _label("PID 1131")
    split = ink.x + ink.width * 3 // 8
    word = TextBox(ink.x - 2, ink.y - 2, split - ink.x, ink.height + 4, 0.9)
    number = TextBox(split + 6, ink.y - 2, ink.x1 + 2 - split - 6, ink.height + 4, 0.8)
    both = TextBox(word.x, word.y, number.x1 - word.x, word.height, 0.9)
    planted = _Planted([word, number], {
        (word.x, word.width): _reading("~", 0.3),
        (number.x, number.width): _reading("1", 0.45),
        (both.x, both.width): _reading("RID 1131", 0.9),
    })
    search = find_text([image], planted, planted)
    assert [j.verdict for j in search.judged] == [Verdict.REJECTED, Verdict.REJECTED]
    assert (both.x, both.width) not in planted.read  # texture beside texture is not read as a line


def test_a_line_is_as_high_as_its_own_marks_not_as_specks_above_it() -> None:
    image, ink = _label("10:05:35")
    rng = np.random.default_rng(7)
    for _ in range(12):  # specks of flow above the clock, apart from its glyphs
        y, x = int(rng.integers(ink.y - 9, ink.y - 3)), int(rng.integers(ink.x, ink.x1 - 2))
        image[y : y + 2, x : x + 2] = 230
    box = TextBox(ink.x - 6, ink.y - 10, ink.width + 12, ink.height + 14)  # a pass's taller box
    core = TextBox(ink.x + 4, ink.y + ink.height // 3, ink.width - 8, ink.height // 3)
    tight = tighten(image, box, core)
    assert tight.y >= ink.y - 1 and tight.y1 <= ink.y1 + 1  # the specks' rows are not the line's
    assert tight.x <= ink.x and tight.x1 >= ink.x1

