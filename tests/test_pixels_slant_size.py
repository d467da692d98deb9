"""A slanted label read surely is not judged by the climb of its box (issue 9, tune seed 10106).

"Exam 269624" in 36 px serif, turned 16 degrees in a corner of an MR (here drawn on 416 px), read "Exam 269624"
at 0.97 mean confidence, and stayed readable: its box is 87 px tall, the glyph size estimated from
the box (60 px) was beyond the largest label an image of that size holds (an eighth of its
shorter side), so the reading counted as uncertain, and an MR is not a high-risk image.  The
glyph strokes of the line's columns (``confirm.column_height``) measure the glyphs; they now
set the size judged as well as the padding.
"""

from __future__ import annotations

import numpy as np
from test_pixels_tilted import SERIF, tilted_glyphs

from dicom_deid.pixels.confirm import Proposal, Verdict, judge, plausible_glyphs
from dicom_deid.pixels.ocr import TextBox
from dicom_deid.pixels.recognize import Reading

TEXT = "Exam 269624"


def _slanted_label() -> tuple[np.ndarray, TextBox]:
    rng = np.random.default_rng(4)
    image = np.clip(60 + rng.normal(0, 6, (416, 416)), 0, 255).astype(np.uint8)
    glyphs = tilted_glyphs(TEXT, 36, SERIF, 16.0)
    y, x = 416 - glyphs.shape[0] - 6, 6
    image[y : y + glyphs.shape[0], x : x + glyphs.shape[1]][glyphs] = 235
    return image, TextBox(x - 2, y - 2, glyphs.shape[1] + 4, glyphs.shape[0] + 4)


def test_the_box_alone_is_beyond_any_label_of_the_image() -> None:
    """The premise: measured by its box, the line is too large for a label of this image."""
    image, box = _slanted_label()
    along_per_glyph = round(box.width / (0.45 * len(TEXT.replace(" ", ""))))
    assert not plausible_glyphs(box, min(box.height, along_per_glyph), *image.shape[:2])


def test_a_slanted_line_read_surely_is_confirmed_and_covered() -> None:
    image, box = _slanted_label()
    reading = Reading(TEXT, (0.97,) * len(TEXT))
    judged = judge(image, Proposal(box, 0), reading)
    assert judged.verdict is Verdict.CONFIRMED
    ys, xs = np.nonzero(image > 150)
    b = judged.box
    assert ((xs >= b.x) & (xs < b.x1) & (ys >= b.y) & (ys < b.y1)).all()
