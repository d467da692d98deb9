"""Glyph rows that no detector pass boxed, read by the recognizer: proposals that do not come from
the detection network.  Knows no DICOM.

A faint 14 px dot-font name over MR anatomy scored 0.000 everywhere in the detection network's
map, in every view tried (equalised, raw, crops enlarged 2-4x, stretched, top-hat, flattened), while
the recognition network read the same place as "MEEKT,EUFNN" (tune seed 10831 case022).  The glyph
rows there (``glyphs.glyph_rows``) held only the tops of its glyphs, 5 px of 14.

``ocr.DbnetDetector`` hands the rows its crops left unboxed (``_detect_small``) to a
:class:`RowReader`, which reads a box around each (``row_box``: several row thicknesses across, as
the row may hold only a part of its glyphs' height) and proposes it where the reading confirms it as
text (``confirm.judge_reading``), read on along the row while it reads more (``read_along``).  The
proposals go through the same reading and judgement as the detector's own (``detect.find_text``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from dicom_deid.pixels.confirm import Verdict, judge_reading
from dicom_deid.pixels.follow import LEVEL_CONTRAST, LEVEL_EXCESS, LEVEL_MATCH, level_of
from dicom_deid.pixels.glyphs import GlyphRow, grey_plane
from dicom_deid.pixels.ocr import TextBox
from dicom_deid.pixels.readout import BoxReader

if TYPE_CHECKING:
    import numpy.typing as npt

#: The box read around a row: ``READ_ALONG`` row thicknesses beyond either end, and across
#: ``READ_ACROSS`` thicknesses, at most ``READ_TALL`` px and at least ``READ_LEAST`` thicknesses,
#: centred on the row.  A 5 px row along the tops of 14 px dot-font glyphs read "MEES," (uncertain)
#: in a box 3 thicknesses high and "MEEKT." (confirmed) in one 5 high (tune seed 10831 case022).
READ_ALONG = 4.0
READ_ACROSS = 5.0
READ_TALL = 32
READ_LEAST = 3.0
#: Across a confirmed row, the text's rows are those that hold its grey level: a burned-in label is
#: drawn in one colour, and the level held by a larger share of the row's own pixels than of the
#: rest of the box read (``follow.level_of``) is its; the rows of the
#: box where at least ``BAND_SHARE`` of the row's columns hold pixels at that level (the rows of the
#: row itself among them, across gaps of one row) are the text's.  The box read for a 5 px row along
#: the tops of 14 px glyphs is 30 px high; the band found is the glyphs' 14 (10831 case022).
BAND_SHARE = 0.15
#: The box proposed holds the band and this share of its height above and below it.
BAND_MARGIN = 0.25
#: Along the band, the text runs over the columns where at least ``COLUMN_HELD`` of its rows hold its
#: level, from the row's own columns outwards across gaps of up to ``ALONG_GAP`` band heights (a
#: glyph or two drawn at the level of the anatomy under it), as far as what it adds at each end holds
#: the level ``follow.LEVEL_CONTRAST`` times as densely in the band as in the rows above, and below.
COLUMN_HELD = 0.15
ALONG_GAP = 1.5


@dataclass(frozen=True, slots=True)
class RowReader:
    """Reads glyph rows with ``recognizer`` (``recognize.CrnnRecognizer``) and proposes those that
    read as text (see the module)."""

    recognizer: BoxReader

    def __call__(self, image: npt.NDArray[np.uint8], rows: Sequence[GlyphRow],
                 known: Sequence[TextBox] = ()) -> list[TextBox]:
        """Proposals (image coordinates) for ``rows`` of ``image`` that read as text; the box read
        around a row is cut across where it would reach into ``known`` (boxes already proposed)."""
        found: list[TextBox] = []
        level = [r for r in rows if not r.vertical]
        if level:
            found += _read_rows(image, level, self.recognizer, known)
        upright = [r for r in rows if r.vertical]
        if upright:
            # a vertical label reads up the image (as most do): it reads level on the image turned
            # clockwise, where each row is read as a level row (a view, no copy), and proposed in the
            # image's coordinates (one reading per row, not one each way)
            view = np.rot90(image, k=_CLOCKWISE)
            shape = image.shape[:2]
            turned = [_turn_row(r, shape, _CLOCKWISE) for r in upright]
            seen = [_turn_box(b, shape, _CLOCKWISE) for b in known]
            found += [_unturn_box(box, shape, _CLOCKWISE) for box in _read_rows(view, turned, self.recognizer, seen)]
        return found


def row_box(row: GlyphRow, shape: tuple[int, ...]) -> TextBox:
    """The box read around a level ``row`` of an image of ``shape`` (see ``READ_ALONG``), its core
    the row itself: its marks lie in the text."""
    across = row.height
    tall = round(max(READ_LEAST * across, min(READ_ACROSS * across, READ_TALL)))
    along = round(READ_ALONG * across)
    rows, columns = int(shape[0]), int(shape[1])
    y0 = max(0, round(row.y + across / 2 - tall / 2))
    y1 = min(rows, y0 + tall)
    x0, x1 = max(0, row.x - along), min(columns, row.x + row.width + along)
    return TextBox(x0, y0, x1 - x0, y1 - y0, 1.0, (row.x, row.y, row.width, row.height))


def _read_rows(image: npt.NDArray[np.uint8], rows: Sequence[GlyphRow], recognizer: BoxReader,
               known: Sequence[TextBox]) -> list[TextBox]:
    """Proposals for the level ``rows`` of ``image`` that read as text (their boxes cut across short
    of ``known``: ``clear_of``)."""
    cut = [clear_of(row_box(r, image.shape), known) for r in rows]
    boxes = [b for b in cut if b is not None]
    readings = recognizer.read_boxes(image, boxes)
    found: list[TextBox] = []
    for box, reading in zip(boxes, readings, strict=True):
        if judge_reading(reading, box) is not Verdict.CONFIRMED or any(_overlaps(box, f) for f in found):
            continue
        band = text_band(image, box)
        if band is not None:
            # the text's own rows, and along them as far as its level runs; kept where it reads
            line = text_line(image, band_box(box, band, image.shape[0]), band)
            if judge_reading(recognizer.read_boxes(image, [line])[0], line) is Verdict.CONFIRMED:
                box = line
        found.append(box)
    return found


def clear_of(box: TextBox, known: Sequence[TextBox]) -> TextBox | None:
    """``box`` (level, read around its core) cut across so that it reaches into none of ``known``
    above or below its core; None where one of them overlaps the core itself.  The box read around a
    row under a label already proposed held that label, read it, and was proposed 37 px high over the
    label and the colour flow under it (tune seed 10840 case013: 8.9 % of a small Doppler)."""
    assert box.core is not None
    core = TextBox(*box.core)
    y0, y1 = box.y, box.y1
    for other in known:
        if other.x1 <= box.x or box.x1 <= other.x or other.y1 <= y0 or y1 <= other.y:
            continue
        if other.y1 <= core.y:
            y0 = other.y1
        elif other.y >= core.y1:
            y1 = other.y
        elif other.x < core.x1 and core.x < other.x1:
            return None
    return TextBox(box.x, y0, box.width, y1 - y0, box.score, box.core)


def text_band(image: npt.NDArray[np.uint8], box: TextBox) -> tuple[int, int] | None:
    """The rows ``(y0, y1)`` of the text across level ``box`` (its ``core``: the glyph row read),
    found by the text's grey level (see ``LEVEL_EXCESS``); None where no level stands out."""
    assert box.core is not None
    cx, cy, cw, ch = box.core
    grey = grey_plane(np.ascontiguousarray(image[box.y : box.y1, box.x : box.x1]))
    x0, x1 = cx - box.x, cx - box.x + cw
    y0, y1 = cy - box.y, cy - box.y + ch
    level = level_of(grey[y0:y1, x0:x1], np.concatenate([grey[:y0, x0:x1], grey[y1:, x0:x1]]))
    if level is None:
        return None
    held = (np.abs(grey[:, x0:x1].astype(np.int16) - level) <= LEVEL_MATCH).mean(axis=1) >= BAND_SHARE
    top, bottom = y0, y1  # the row's own rows, and the rows beside them that hold the level
    while top > 0 and (held[top - 1] or (top > 1 and held[top - 2])):
        top -= 1
    while bottom < len(held) and (held[bottom] or (bottom + 1 < len(held) and held[bottom + 1])):
        bottom += 1
    while top < y0 and not held[top]:
        top += 1
    while bottom > y1 and not held[bottom - 1]:
        bottom -= 1
    return box.y + top, box.y + bottom


def text_line(image: npt.NDArray[np.uint8], box: TextBox, band: tuple[int, int]) -> TextBox:
    """``box`` (cut to the text's ``band``) along the band as far as the text's level runs from the
    row's own columns (see ``COLUMN_HELD``)."""
    assert box.core is not None
    rows = image.shape[0]
    height = band[1] - band[0]
    y0, y1 = max(0, band[0] - height), min(rows, band[1] + height)  # the band and a band height beside it
    grey = grey_plane(np.ascontiguousarray(image[y0:y1]))
    cx, _cy, cw, _ch = box.core
    inner = grey[band[0] - y0 : band[1] - y0, cx : cx + cw]
    level = level_of(inner, np.concatenate([grey[: band[0] - y0, cx : cx + cw], grey[band[1] - y0 :, cx : cx + cw]]))
    if level is None:
        return box
    at_level = np.abs(grey.astype(np.int16) - level) <= LEVEL_MATCH
    top, bottom = band[0] - y0, band[1] - y0
    held = at_level[top:bottom].mean(axis=0) >= COLUMN_HELD
    gap = round(ALONG_GAP * height)
    x0 = cx - _reach(held[:cx][::-1], at_level[:, :cx][:, ::-1], top, bottom, gap)
    x1 = cx + cw + _reach(held[cx + cw :], at_level[:, cx + cw :], top, bottom, gap)
    return TextBox(x0, box.y, x1 - x0, box.height, box.score, box.core)


def _reach(held: npt.NDArray[np.bool_], at_level: npt.NDArray[np.bool_], top: int, bottom: int, gap: int) -> int:
    """How many columns from the start of ``held`` (columns beside a row's end, outwards) the text
    runs: to the farthest column that holds its level (``held``), reached across gaps of at most
    ``gap`` columns, up to which the pixels at its level (``at_level``: rows across the line, the
    band ``top:bottom``) are ``follow.LEVEL_CONTRAST`` times as dense in the band as in the rows above
    and in the rows below; 0 where there is none."""
    columns = np.flatnonzero(held)
    if columns.size == 0 or columns[0] > gap:
        return 0
    breaks = np.flatnonzero(np.diff(columns) > gap + 1)
    columns = columns[: breaks[0] + 1] if breaks.size else columns
    band = np.cumsum(at_level[top:bottom].sum(axis=0))
    above = np.cumsum(at_level[:top].sum(axis=0))
    below = np.cumsum(at_level[bottom:].sum(axis=0))
    for last in columns[::-1]:
        width = int(last) + 1
        dense = band[last] / ((bottom - top) * width)
        if all(dense >= LEVEL_CONTRAST * (side[last] / (rows * width)) if rows else True
               for side, rows in ((above, top), (below, at_level.shape[0] - bottom))):
            return width
    return 0


def band_box(box: TextBox, band: tuple[int, int], rows: int) -> TextBox:
    """``box`` cut across to the rows of ``band`` and ``BAND_MARGIN`` of its height above and below."""
    margin = round(BAND_MARGIN * (band[1] - band[0]))
    y0, y1 = max(0, band[0] - margin), min(rows, band[1] + margin)
    return TextBox(box.x, y0, box.width, y1 - y0, box.score, box.core)


_CLOCKWISE, _ANTICLOCKWISE = -1, 1


def _turn_row(row: GlyphRow, shape: tuple[int, ...], turn: int) -> GlyphRow:
    """A vertical ``row`` of an image of ``shape`` as a level row of the image turned by ``turn``
    (``np.rot90``'s ``k``: -1 clockwise, 1 anticlockwise)."""
    box = _turn_box(TextBox(row.x, row.y, row.width, row.height), shape, turn)
    return GlyphRow(box.x, box.y, box.width, box.height, False, row.glyphs, row.contrast, row.faint, row.ground)


def _turn_box(box: TextBox, shape: tuple[int, ...], turn: int) -> TextBox:
    """``box`` of an image of ``shape`` in the image turned by ``turn`` (``np.rot90``'s ``k``)."""
    rows, columns = int(shape[0]), int(shape[1])
    if turn == _CLOCKWISE:  # view[i, j] = image[rows - 1 - j, i]
        x, y = rows - box.y1, box.x
    else:  # view[i, j] = image[j, columns - 1 - i]
        x, y = box.y, columns - box.x1
    core = None if box.core is None else _turn_box(TextBox(*box.core), shape, turn)
    return TextBox(x, y, box.height, box.width, box.score,
                   None if core is None else (core.x, core.y, core.width, core.height))


def _unturn_box(box: TextBox, shape: tuple[int, ...], turn: int) -> TextBox:
    """A box of the image of ``shape`` turned by ``turn`` in the image itself."""
    turned = (int(shape[1]), int(shape[0]))
    return _turn_box(box, turned, -turn)


def _overlaps(a: TextBox, b: TextBox) -> bool:
    return a.x < b.x1 and b.x < a.x1 and a.y < b.y1 and b.y < a.y1


__all__ = ["ALONG_GAP", "BAND_MARGIN", "BAND_SHARE", "COLUMN_HELD", "LEVEL_EXCESS", "LEVEL_MATCH", "READ_ACROSS", "READ_ALONG", "READ_LEAST", "READ_TALL", "RowReader", "band_box", "clear_of", "row_box", "text_band", "text_line"]
