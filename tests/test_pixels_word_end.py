"""A confirmed line whose detector box stopped at a space is searched for one more word (issue 9).

On the second generator's tune seed 10011 a boxed monospaced label "FITZGERALD O" kept its "O":
the detector's box ended a few pixels after "FITZGERALD", so the line was not cut there and was
never followed (``confirm.extend_line`` followed cut ends only).  Each test plants its own text
with Pillow and measures against the planted glyphs; readings are scripted where the step under
test takes one.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from test_pixels_hard_cases import MONO
from test_pixels_miss_classes import text_mask

from dicom_deid.pixels.confirm import WORD_GAP, Proposal, Verdict, judge
from dicom_deid.pixels.detect import TextSearch
from dicom_deid.pixels.fit import confirm_growth
from dicom_deid.pixels.ocr import TextBox
from dicom_deid.pixels.recognize import Reading

SIZE = 16


def _label(background: np.ndarray, text: str) -> tuple[np.ndarray, np.ndarray]:
    image = background.copy()
    mask = text_mask(image.shape, text, (40, 60), SIZE, MONO)
    image[mask] = 230
    return image, mask


def _first_word_box(mask: np.ndarray, word: str, text: str) -> TextBox:
    """The detector's box of ``word`` (the start of ``text``): its ink, plus a few pixels of the
    space after it, so the line is not cut at its end."""
    ys, xs = np.nonzero(mask)
    advance = (xs.max() - xs.min() + 1) / len(text)  # monospaced
    end = int(xs.min() + advance * len(word))
    return TextBox(int(xs.min()) - 2, int(ys.min()) - 2, end + 3 - (int(xs.min()) - 2), int(ys.max() - ys.min()) + 5)


def _covered(box: TextBox, mask: np.ndarray) -> float:
    ys, xs = np.nonzero(mask)
    inside = (xs >= box.x) & (xs < box.x1) & (ys >= box.y) & (ys < box.y1)
    return float(inside.mean())


class _Scripted:
    """A recognizer that reads ``text`` (or nothing) in every box."""

    def __init__(self, text: str) -> None:
        self.text = text

    def read_boxes(self, image: np.ndarray, boxes: Sequence[TextBox]) -> list[Reading]:
        return [Reading(self.text, (0.99,) * len(self.text)) for _ in boxes]


def test_initial_after_a_space_is_covered() -> None:
    """The "O" after "FITZGERALD" lies one monospaced space beyond the detector's box: the line
    is followed over it, and the grown part that reads as a letter is kept."""
    image, mask = _label(np.full((160, 360), 20, np.uint8), "FITZGERALD O")
    box = _first_word_box(mask, "FITZGERALD", "FITZGERALD O")
    judged = judge(image, Proposal(box, 0), Reading("FITZGERALD", (0.99,) * 10))
    assert judged.verdict is Verdict.CONFIRMED
    search = confirm_growth(TextSearch((judged,), (image,)), _Scripted("O"))
    assert _covered(search.judged[0].box, mask) == 1.0


def test_word_far_beyond_a_space_is_not_joined() -> None:
    """Another label three line heights beyond the end (more than ``WORD_GAP``): not joined."""
    assert WORD_GAP < 3
    image, mask = _label(np.full((160, 420), 20, np.uint8), "FITZGERALD    O")
    box = _first_word_box(mask, "FITZGERALD", "FITZGERALD    O")
    judged = judge(image, Proposal(box, 0), Reading("FITZGERALD", (0.99,) * 10))
    far = text_mask(image.shape, "FITZGERALD    O", (40, 60), SIZE, MONO) & (np.arange(image.shape[1]) >= box.x1 + 40)
    assert not np.any(far[judged.box.y : judged.box.y1, judged.box.x : judged.box.x1])


def test_grown_word_that_reads_nothing_is_dropped_without_cut_padding() -> None:
    """Strokes beyond the space that read as nothing (anatomy beside a label) are dropped again,
    and the box is then no larger than the line's own padded box: nothing was cut at that end."""
    image, mask = _label(np.full((160, 360), 20, np.uint8), "FITZGERALD O")
    box = _first_word_box(mask, "FITZGERALD", "FITZGERALD O")
    alone, _ = _label(np.full((160, 360), 20, np.uint8), "FITZGERALD")
    plain = judge(alone, Proposal(box, 0), Reading("FITZGERALD", (0.99,) * 10))
    judged = judge(image, Proposal(box, 0), Reading("FITZGERALD", (0.99,) * 10))
    assert judged.grown, "the word beyond the space was not followed"
    kept = confirm_growth(TextSearch((judged,), (image,)), _Scripted("")).judged[0]
    assert kept.box == plain.box
