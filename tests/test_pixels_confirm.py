"""Confirmation, tightening and padding of detector proposals (pure; readings are planted)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from dicom_deid.pixels.confirm import (
    Proposal,
    Verdict,
    group_duplicates,
    judge,
    judge_reading,
    pad_box,
    tighten,
)
from dicom_deid.pixels.ocr import TextBox
from dicom_deid.pixels.recognize import Reading

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


def reading(text: str, conf: float, rotation: int = 0) -> Reading:
    return Reading(text, tuple(conf for _ in text), rotation)


LINE = TextBox(10, 10, 200, 20)  # a text line, 10 line heights long
SQUARE = TextBox(10, 10, 20, 22)  # one glyph
BLOB = TextBox(10, 10, 256, 73)  # texture read as two characters

READINGS = {
    # (reading, box) -> verdict
    "name-confident": (reading("DOE JANE 1234", 0.95), LINE, Verdict.CONFIRMED),
    "tilted-small-text": (reading("ABERNATHYB", 0.66), LINE, Verdict.CONFIRMED),
    "two-sure-chars": (reading("R5", 0.9), TextBox(10, 10, 40, 20), Verdict.CONFIRMED),
    "laterality-L": (reading("L", 0.99), SQUARE, Verdict.CONFIRMED),
    "single-char-in-long-box": (reading("L", 0.99), LINE, Verdict.REJECTED),
    "texture-two-chars-in-blob": (reading("AH", 0.61), BLOB, Verdict.REJECTED),
    "texture-chinese": (reading("福", 0.2), LINE, Verdict.REJECTED),
    "texture-digits-unsure": (reading("19", 0.55), TextBox(0, 0, 16, 9), Verdict.REJECTED),
    "empty": (Reading("", ()), LINE, Verdict.REJECTED),
    "mosaic-circles": (reading("oooooooo", 0.97), TextBox(0, 180, 720, 99), Verdict.REJECTED),
    "half-sure-short": (reading("X2", 0.7), TextBox(0, 0, 30, 20), Verdict.UNCERTAIN),
    "vertical-read-turned": (reading("JOHN BATMAN", 0.97, rotation=90), TextBox(0, 0, 25, 199), Verdict.CONFIRMED),
    # a column / row of 65 px phantom discs in a Siemens mosaic (readings seen on dcm_qa EPI)
    "disc-column-1000": (reading("1000.", 0.85, rotation=270), TextBox(284, 11, 65, 390), Verdict.REJECTED),
    "disc-row-8888": (reading("88888888", 0.7), TextBox(0, 424, 720, 113), Verdict.REJECTED),
    "disc-column-868888": (reading("868888", 0.7, rotation=90), TextBox(358, 10, 123, 642), Verdict.REJECTED),
    # the same readings in label-sized lines stay text
    "label-1000": (reading("1000", 0.85), TextBox(0, 0, 120, 40), Verdict.CONFIRMED),
    "id-88888888": (reading("88888888", 0.9), TextBox(0, 0, 160, 20), Verdict.CONFIRMED),
    "large-clock": (reading("10:05", 0.9), TextBox(0, 0, 200, 60), Verdict.CONFIRMED),
}  # fmt: skip


@pytest.mark.parametrize("row", list(READINGS.values()), ids=list(READINGS))
def test_judge_reading(row: tuple[Reading, TextBox, Verdict]) -> None:
    text, box, verdict = row
    assert judge_reading(text, box) is verdict


def _planted(text: str, size: int, background: np.ndarray, at: tuple[int, int], fill: int) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """``background`` with ``text`` drawn; returns the image and the planted ink box."""
    layer = Image.new("L", (background.shape[1], background.shape[0]), 0)
    ImageDraw.Draw(layer).text(at, text, fill=255, font=ImageFont.truetype(FONT, size))
    alpha = np.asarray(layer, np.float32) / 255.0
    image = (background * (1 - alpha) + fill * alpha).round().astype(np.uint8)
    ys, xs = np.nonzero(alpha > 0.35)
    return image, (int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1))


def _anatomy(shape: tuple[int, int], seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    smooth = 90 + 50 * np.sin(xx / 23.0) * np.cos(yy / 17.0)
    return np.clip(smooth + rng.normal(0, 6, shape), 0, 255)


CASES = {
    # background, text value, size, largest tight box over the ink box (the loose box is ~3x)
    "bright-on-black": (np.zeros((120, 400)), 255, 18, 1.3),
    "bright-over-anatomy": (_anatomy((120, 400), 1), 255, 22, 1.6),
    "dark-on-light-box": (np.full((120, 400), 230.0), 10, 14, 1.3),
    "faint-over-anatomy": (_anatomy((120, 400), 2), 150, 16, 3.0),  # not tightened: anatomy strokes stay in
}


@pytest.mark.parametrize("row", list(CASES.values()), ids=list(CASES))
def test_tightened_box_holds_every_glyph_and_little_else(row: tuple[np.ndarray, int, int, float]) -> None:
    background, fill, size, bound = row
    image, (x, y, w, h) = _planted("QUIXBERRY 4711", size, background, (60, 40), fill)
    loose = TextBox(x - 14, y - 9, w + 30, h + 20)  # a detector box with generous margins
    core = TextBox(x + 6, y + h // 3, w - 12, max(1, h // 3))  # inside the text
    tight = tighten(image, loose, core)
    assert tight.x <= x and tight.y <= y and tight.x1 >= x + w and tight.y1 >= y + h  # all ink kept
    assert tight.width * tight.height <= bound * w * h  # and the margins are (mostly) gone


def test_padding_is_proportional_to_line_height_and_clipped() -> None:
    # 15 % of the line height all round (at least 2 px); 40 % at an end the detector cut
    assert pad_box(TextBox(100, 100, 50, 10), 10, 500, 500, cut=(False, False)) == TextBox(98, 98, 54, 14)
    assert pad_box(TextBox(100, 100, 50, 10), 10, 500, 500, cut=(False, True)) == TextBox(98, 98, 56, 14)
    assert pad_box(TextBox(100, 100, 200, 40), 40, 500, 500, cut=(True, True)) == TextBox(84, 94, 232, 52)
    assert pad_box(TextBox(0, 0, 50, 10), 10, 500, 500, cut=(False, False)) == TextBox(0, 0, 52, 12)
    assert pad_box(TextBox(20, 100, 10, 80), 10, 500, 500, cut=(True, False)) == TextBox(18, 96, 14, 86)


def test_duplicates_group_but_neighbouring_lines_never_merge() -> None:
    first = TextBox(10, 10, 200, 20, 0.9)
    again = TextBox(12, 11, 196, 19, 0.8)  # the same line from another pass
    below = TextBox(10, 34, 200, 20, 0.85)  # the next line
    groups = group_duplicates([Proposal(again, 1), Proposal(first, 0), Proposal(below, 0)])
    assert [[p.box for p in g] for g in groups] == [[first, again], [below]]


def test_implausible_glyph_height_is_not_confirmed() -> None:
    image = np.zeros((512, 512), np.uint8)
    image[100:220, 50:450] = 200  # a 120 px tall "line": no burned-in text is that large
    proposal = Proposal(TextBox(40, 90, 420, 140), 0)
    judged = judge(image, proposal, reading("ABCDEFGH", 0.95))
    assert judged.verdict is Verdict.UNCERTAIN


def _disc_column(rows: int = 720) -> np.ndarray:
    """A column of 65 px grey discs with bright rims, 90 px apart (a Siemens mosaic of a phantom)."""
    image = np.zeros((rows, rows), np.uint8)
    yy, xx = np.mgrid[0:rows, 0:rows]
    for cy in range(60, rows - 40, 90):
        r = np.hypot(yy - cy, xx - 673)
        image[r <= 32] = 110
        image[(r > 28) & (r <= 32)] = 230
    return image


# what the recognizer read, turned, down such a column of a dcm_qa mosaic (confidences as seen)
DISC_COLUMN = Reading("OROODR", (0.91, 0.67, 0.95, 0.78, 0.54, 0.81), 90)


def test_glyphs_larger_than_any_label_read_unsurely_are_not_confirmed() -> None:
    judged = judge(_disc_column(), Proposal(TextBox(641, 6, 65, 614), 0), DISC_COLUMN,
                   read_box=TextBox(641, 6, 65, 390))
    assert DISC_COLUMN.mean_confidence < 0.8  # precondition: an unsure reading
    assert judged.verdict is Verdict.UNCERTAIN


def test_large_glyphs_read_surely_stay_confirmed() -> None:
    sure = Reading("OROODR", (0.97,) * 6, 90)
    judged = judge(_disc_column(), Proposal(TextBox(641, 6, 65, 614), 0), sure, read_box=TextBox(641, 6, 65, 390))
    assert judged.verdict is Verdict.CONFIRMED


def test_label_sized_glyphs_read_as_unsurely_stay_confirmed() -> None:
    image, (x, y, w, h) = _planted("DOE JANE 1234", 20, np.zeros((100, 400)), (20, 30), 255)
    judged = judge(image, Proposal(TextBox(x - 4, y - 4, w + 8, h + 8), 0), reading("DOE JANE 1234", 0.72))
    assert judged.verdict is Verdict.CONFIRMED
