"""Follow a confirmed line beyond the ends of its box, read by read.  Pure; uses the recognizer.

The detector often proposes only part of a line: the first word of a faint dot-matrix name
over anatomy, the start of a label whose rest crosses bright tissue.  The part proposed is read
and confirmed, and the rest stayed readable.  ``confirm.extend_line`` grows a line over strokes
that stand out from the rows around it; over anatomy the rest of a faint line does not.  Here the
recognizer decides instead: the stretch of ``FOLLOW_LINES`` line heights beyond each end of a
confirmed horizontal line, on the same rows, is read, and while it reads as text (the same
confirmation as any region) the line is grown over its strokes and the next stretch is read.
A stretch is read only where glyph strokes stand out just beyond the end, and the line is not
grown across a gap wider than a line height (the next label along the row stays apart).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

import numpy as np

from dicom_deid.pixels.confirm import (
    END_SHARE,
    MIN_PAD,
    Judged,
    Verdict,
    judge_reading,
    stroke_mask,
)
from dicom_deid.pixels.ocr import TextBox
from dicom_deid.pixels.recognize import Reading

if TYPE_CHECKING:
    import numpy.typing as npt

#: Length of each stretch read (line heights), and at most this many stretches either way.
FOLLOW_LINES = 6
FOLLOW_STEPS = 8
#: A stretch whose strokes begin more than this many line heights from the end is not the same line.
GAP_LINES = 1.0
#: Only level lines are followed: a box at most this many times its glyph height high (a tilted
#: line's box is taller, and its rows are not the line's direction).
LEVEL_BOX = 2.0


class BoxReader(Protocol):
    def read_boxes(self, image: npt.NDArray[np.uint8], boxes: Sequence[TextBox]) -> list[Reading]: ...


def follow_lines(
    images: Sequence[npt.NDArray[np.uint8]], judged: Sequence[Judged], recognizer: BoxReader
) -> list[Judged]:
    """``judged`` with each confirmed horizontal line grown along its rows over the stretches
    beyond its ends that read as text (see the module's docstring)."""
    out = []
    for item in judged:
        box = item.box
        if item.verdict is not Verdict.CONFIRMED or box.width < box.height or box.height > LEVEL_BOX * item.glyph_height:
            out.append(item)
            continue
        image = images[item.image]
        start = _follow(image, box, item.glyph_height, -1, recognizer)
        stop = _follow(image, box, item.glyph_height, 1, recognizer)
        if (start, stop) == (box.x, box.x1):
            out.append(item)
            continue
        grown = TextBox(start, box.y, stop - start, box.height, box.score, box.core)
        out.append(dataclasses.replace(item, box=grown))
    return out


def _follow(image: npt.NDArray[np.uint8], box: TextBox, height: int, step: int, recognizer: BoxReader) -> int:
    """The column where the line of ``box`` ends in direction ``step`` (-1: left, 1: right)."""
    columns = image.shape[1]
    height = max(2, height)
    end = box.x if step < 0 else box.x1
    pad = max(MIN_PAD, math.ceil(END_SHARE * height))
    for _ in range(FOLLOW_STEPS):
        near = _stretch(box, end, height, step, columns)
        if near is None or stroke_mask(image, near) is None:
            break
        stretch = _stretch(box, end, FOLLOW_LINES * height, step, columns)
        if stretch is None or stretch.width < 2 * height:
            break
        run = _stroke_run(image, stretch, end, step, GAP_LINES * height)
        if run is None:
            break  # no strokes within a line height of the end: another label, or nothing
        # read the run's columns on the line's rows: a stretch only partly text (the end of the
        # line) reads as few characters for its length, and would not be confirmed
        read_box = TextBox(run[0], box.y, run[1] - run[0], box.height)
        reading = recognizer.read_boxes(image, [read_box])[0]
        if judge_reading(reading, read_box) is not Verdict.CONFIRMED:
            break
        end = min(columns, run[1] + pad) if step > 0 else max(0, run[0] - pad)
        if (run[1] < stretch.x1 - 1) if step > 0 else (run[0] > stretch.x + 1):
            break  # the line ends inside this stretch
    return end


def _stroke_run(image: npt.NDArray[np.uint8], stretch: TextBox, end: int, step: int,
                gap: float) -> tuple[int, int] | None:
    """Columns [start, stop) of the strokes in ``stretch`` that go on from ``end`` in direction
    ``step`` with no gap wider than ``gap`` (from the end, or between stroke columns)."""
    found = stroke_mask(image, stretch)
    if found is None:
        return None
    mask, (x0, _y0) = found
    columns = [x0 + int(c) for c in np.flatnonzero(mask.any(axis=0))]
    if not columns:
        return None
    ordered = columns if step > 0 else columns[::-1]
    previous = end if step > 0 else end - 1
    run: list[int] = []
    for column in ordered:
        if abs(column - previous) > gap + 1:
            break
        run.append(column)
        previous = column
    if not run:
        return None
    return min(run), max(run) + 1


def _stretch(box: TextBox, end: int, length: int, step: int, columns: int) -> TextBox | None:
    """The ``length`` columns beyond ``end`` in direction ``step`` on the rows of ``box``."""
    x0, x1 = (end, min(columns, end + length)) if step > 0 else (max(0, end - length), end)
    if x1 - x0 < 3:
        return None
    return TextBox(x0, box.y, x1 - x0, box.height)


__all__ = ["FOLLOW_LINES", "FOLLOW_STEPS", "follow_lines"]
