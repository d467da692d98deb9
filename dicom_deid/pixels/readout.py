"""Trim a piece a longer reading added to a line to the glyphs it adds.  Pure apart from the recognizer.

``detect._wider_look`` reads a level line left unconfirmed once more in a box a few line heights
longer at the ends its detector box cut; what the longer box adds at an end is kept only out to
the glyphs that add to the line's reading (:func:`read_out`), not the colour flow or anatomy
beside them.  ``fit.trim_end`` cuts a confirmed line's own end where that leaves its reading as
it is (:func:`unread_span`).  :class:`LonePart` marks the part of a line only one detector box of
its group held (``detect.judge_group``), which ``fit.confirm_growth`` keeps where any letter or
digit is read in it.  Its own module: ``detect`` and ``fit`` use it, and ``fit`` (which judges
growth with the types ``detect`` defines) must not be imported by ``detect``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from dicom_deid.pixels.confirm import MIN_CONFIDENT
from dicom_deid.pixels.ocr import TextBox
from dicom_deid.pixels.recognize import Reading

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt


@dataclass(frozen=True, slots=True)
class LonePart(TextBox):
    """A part of a level line that only one detector box of the line's group held
    (``detect.judge_group``): grown on like any part beyond the line, but a detector box saw text
    there, so it is kept where the recognizer reads a letter or digit in it at all
    (``read_count``), surely or not (``fit.confirm_growth``)."""


class BoxReader(Protocol):
    """Reads the text in boxes of an image (``detect.TextRecognizer`` is one)."""

    def read_boxes(self, image: npt.NDArray[np.uint8], boxes: Sequence[TextBox]) -> list[Reading]: ...


#: A part a longer reading added to a line (``detect._wider_look``) is trimmed at its outer end in
#: steps of ``TRIM_STEP`` line heights (at least 2 px), and kept out to one step beyond the
#: narrowest part that still reads all the characters it adds (a glyph cut there is covered).
TRIM_STEP = 0.25


def read_out(
    line: TextBox, piece: TextBox, glyph_height: int, image: npt.NDArray[np.uint8], recognizer: BoxReader,
) -> TextBox | None:
    """``piece`` (a part beside horizontal ``line``, at its start or end) trimmed to the glyphs it
    adds to the line's reading: the line is read with the piece cut at its outer end in steps of
    ``TRIM_STEP`` line heights; the piece is kept out to one step beyond the narrowest cut that
    reads as many confident letters and digits as the most any cut reads, and dropped (None) where
    no cut reads more of them than the line alone.  Read with the line, every cut is as long as
    the line (never read turned), and a part that holds only the start of a clock ("10:" of
    "10:00:00": too little to read on its own beside the flow it was boxed with) still counts."""
    step = max(2, round(TRIM_STEP * glyph_height))
    before = piece.x < line.x
    width = piece.width
    cuts = list(range(0, width, step)) + [width]  # px of the piece left out, from its outer end
    boxes = []
    for left_out in cuts:
        x0, x1 = (piece.x + left_out, line.x1) if before else (line.x, piece.x1 - left_out)
        boxes.append(TextBox(x0, line.y, x1 - x0, line.height, line.score))
    counts = [confident_count(reading) for reading in recognizer.read_boxes(image, boxes)]
    most = max(counts)
    if most <= counts[-1]:  # the line alone reads as many: the piece adds no glyph
        return None
    narrowest = max(i for i, count in enumerate(counts) if count == most)
    keep = width - cuts[max(0, narrowest - 1)] if counts[max(0, narrowest - 1)] == most else width - cuts[narrowest]
    if before:
        return TextBox(piece.x1 - keep, piece.y, keep, piece.height, piece.score)
    return TextBox(piece.x, piece.y, keep, piece.height, piece.score)


def unread_span(
    line: TextBox, piece: TextBox, glyph_height: int, image: npt.NDArray[np.uint8], recognizer: BoxReader,
    least: int = 0,
) -> int:
    """How many px of ``piece`` (a part of a level line at its start or end, beside the rest of the
    line, ``line``) can be cut off at its outer end and leave the line's reading as it is: the line
    is read with the piece cut in steps of ``TRIM_STEP`` line heights, and the cut goes one step
    short of the first that changes the letters and digits read (a glyph read surely or not).
    0 where the first step changes them, or where no cut does (the piece adds nothing read: what
    lies there is not known to be flow rather than glyphs the recognizer does not see).  Readings
    of glyphs the recognizer reads poorly change from one cut to the next ("POSOK", "SPOSOK",
    "POSROK" for a 7 px "ESPOSITO"), and such a line is not cut.  0 also where the cut would be
    under ``least`` px: where the reading changes within ``least`` px and one step, the line is
    read at that cut only (most ends hold a glyph: two readings, not one per step)."""
    step = max(2, round(TRIM_STEP * glyph_height))
    before = piece.x < line.x
    cuts = list(range(0, piece.width, step)) + [piece.width]
    boxes = []
    for left_out in cuts:
        x0, x1 = (piece.x + left_out, line.x1) if before else (line.x, piece.x1 - left_out)
        boxes.append(TextBox(x0, line.y, x1 - x0, line.height, line.score))

    def letters(read: Sequence[TextBox]) -> list[str]:
        return ["".join(ch for ch in r.text if ch.isascii() and ch.isalnum()) for r in recognizer.read_boxes(image, read)]

    probe = next((i for i, left_out in enumerate(cuts) if left_out >= least + step), len(cuts) - 1)
    first = letters([boxes[0], boxes[probe]])
    if first[0] != first[1]:  # the reading changes by ``probe``: the cut would be under ``least``
        return 0
    letters_read = [first[0], *letters(boxes[1:])]
    same = 0
    while same + 1 < len(cuts) and letters_read[same + 1] == letters_read[0]:
        same += 1
    if same == len(cuts) - 1 or cuts[max(0, same - 1)] < least:
        return 0
    return cuts[max(0, same - 1)]


def confident_count(reading: Reading) -> int:
    """Letters and digits read with at least ``MIN_CONFIDENT``."""
    return sum(1 for ch, conf in zip(reading.text, reading.confidences, strict=True)
               if conf >= MIN_CONFIDENT and ch.isascii() and ch.isalnum())


def read_count(reading: Reading) -> int:
    """Letters and digits read, however unsurely (a faint glyph is read, but seldom surely)."""
    return sum(1 for ch in reading.text if ch.isascii() and ch.isalnum())


__all__ = ["TRIM_STEP", "BoxReader", "LonePart", "confident_count", "read_count", "read_out", "unread_span"]
