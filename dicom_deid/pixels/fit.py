"""Keep confirmed boxes on the text: what a line grew by must read as text.  Pure apart from the recognizer.

``confirm.judge`` follows a confirmed line beyond the end where the detector's box cut it
(``confirm.extend_line``: the detector often proposes "12:27" of "09:12:27"), over the strokes
that go on in the line's rows.  Anatomy beside a label on a small, busy image (an ultrasound
frame, a Doppler strip) has such strokes too, and the line was then grown over it by up to four
line heights: 14 % of a colour Doppler frame blacked out for a clock of eight digits.

So each part a line grew by is read by the recognizer on its own (the line's rows, padded as the
box will be): it is kept when it reads at least one confident letter or digit, the evidence a
glyph gives, and dropped when it reads none.  A part narrower than ``READABLE`` line heights
(a glyph's edge, a full stop) cannot be read on its own and is kept: leaking is worse than
over-redacting.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import numpy as np

from dicom_deid.pixels.confirm import MIN_CONFIDENT, Judged, pad_box, union_box
from dicom_deid.pixels.ocr import TextBox
from dicom_deid.pixels.recognize import Reading

if TYPE_CHECKING:
    import numpy.typing as npt

    from dicom_deid.pixels.detect import TextRecognizer, TextSearch

#: A part narrower than this many line heights is kept without reading (too little to read).
READABLE = 0.6
#: The crop read is at least this many times as long as high (a squarer crop would also be read
#: turned by 90 degrees, which gives texture more chances to read as a letter).
CROP_RATIO = 1.5


def confirm_growth(search: TextSearch, recognizer: TextRecognizer) -> TextSearch:
    """``search`` with each confirmed line's growth kept only where it reads as text."""
    todo: dict[int, list[tuple[int, int, TextBox]]] = {}  # image -> (judged index, piece index, crop)
    for index, judged in enumerate(search.judged):
        if judged.line is None:
            continue
        image = search.images[judged.image]
        for number, piece in enumerate(judged.grown):
            crop = reading_crop(piece, judged.line, judged.glyph_height, image.shape[0], image.shape[1])
            if crop is not None:
                todo.setdefault(judged.image, []).append((index, number, crop))
    if not todo:
        return search
    dropped: dict[int, set[int]] = {}
    for image_index, members in todo.items():
        readings = recognizer.read_boxes(search.images[image_index], [crop for _, _, crop in members])
        for (index, number, _crop), reading in zip(members, readings, strict=True):
            if not reads_as_glyphs(reading):
                dropped.setdefault(index, set()).add(number)
    fitted = list(search.judged)
    for index, numbers in dropped.items():
        fitted[index] = refit(fitted[index], numbers, search.images[fitted[index].image])
    return dataclasses.replace(search, judged=tuple(fitted))


def reading_crop(piece: TextBox, line: TextBox, glyph_height: int, rows: int, columns: int) -> TextBox | None:
    """The box read for ``piece`` (a part ``line`` grew by): across, the line's rows padded as
    the box will be; along, from the line's end (never into the line, whose glyphs would read)
    outwards, at least ``CROP_RATIO`` times as long as high; None for a part too narrow to read."""
    horizontal = line.width >= line.height
    along = piece.width if horizontal else piece.height
    if along < READABLE * glyph_height:
        return None
    padded = pad_box(piece, glyph_height, rows, columns, cut=(False, False))
    if horizontal:  # across: the padded rows; along: from the line's end (never into it) outwards
        need = max(piece.width, round(CROP_RATIO * padded.height))
        if piece.x < line.x:  # the part lies before the line
            x1 = piece.x1
            x0 = max(0, x1 - need)
        else:
            x0 = piece.x
            x1 = min(columns, x0 + need)
        return TextBox(x0, padded.y, x1 - x0, padded.height, piece.score)
    need = max(piece.height, round(CROP_RATIO * padded.width))
    if piece.y < line.y:
        y1 = piece.y1
        y0 = max(0, y1 - need)
    else:
        y0 = piece.y
        y1 = min(rows, y0 + need)
    return TextBox(padded.x, y0, padded.width, y1 - y0, piece.score)


def reads_as_glyphs(reading: Reading) -> bool:
    """At least one letter or digit read with ``MIN_CONFIDENT`` (the evidence one glyph gives)."""
    return any(
        conf >= MIN_CONFIDENT and ch.isascii() and ch.isalnum()
        for ch, conf in zip(reading.text, reading.confidences, strict=True)
    )


def refit(judged: Judged, dropped: set[int], image: npt.NDArray[np.uint8]) -> Judged:
    """``judged`` without the grown parts numbered in ``dropped``: its line and the parts kept,
    padded again (an end whose growth was dropped gets the padding of a cut end)."""
    assert judged.line is not None
    line = judged.line
    kept = [piece for number, piece in enumerate(judged.grown) if number not in dropped]
    lost = [piece for number, piece in enumerate(judged.grown) if number in dropped]
    body = union_box([line, *kept]) if kept else line
    horizontal = line.width >= line.height
    # the strokes went on at an end whose growth was dropped: a glyph cut there is covered by
    # the padding of a cut end (a faint last glyph reads nothing beside the anatomy it touches)
    before = any((p.x < line.x) if horizontal else (p.y < line.y) for p in lost)
    after = any((p.x >= line.x1) if horizontal else (p.y >= line.y1) for p in lost)
    cut = (judged.cut[0] or before, judged.cut[1] or after)
    box = pad_box(body, judged.glyph_height, image.shape[0], image.shape[1], cut=cut)
    return dataclasses.replace(judged, box=box, grown=tuple(kept), cut=cut)


__all__ = ["confirm_growth", "reading_crop", "reads_as_glyphs", "refit"]
