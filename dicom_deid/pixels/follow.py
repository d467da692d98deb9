"""Following a text line beyond its ends (``confirm.extend_line``): ink runs along the line, the
check that the rows of a grown part hold more ink than the rows around them, and the strokes at
the text's own grey level, of either polarity, for a line whose background changes along it.
Pure (numpy and OpenCV)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from dicom_deid.pixels.glyphs import grey_plane
from dicom_deid.pixels.labelling import components_with_stats
from dicom_deid.pixels.ocr import TextBox, _import_cv2

if TYPE_CHECKING:
    import numpy.typing as npt

#: A line whose background changes along it (a label across the edge of the body, over a bright
#: organ and the dark tissue beside it) stands out less there, or turns from brighter than its
#: background to darker: its strokes there respond under the share of the strongest response that
#: ``stroke_response`` asks, or only to the other operation (or the line's own polarity, read from
#: its box's border, is the anatomy's).  A burned-in label is drawn in one colour: its level is
#: the grey level held by a larger share of the line's pixels than of the rows just above and
#: below it (by at least ``LEVEL_EXCESS``).  Beyond the line's ends (``confirm.extend_line``) pixels at that
#: level (within ``LEVEL_MATCH`` grey levels) that stand out by ``LEVEL_MIN`` either way count as
#: strokes too, in marks at that level no taller than the line (``LEVEL_TALL``): speckle and
#: anatomy are rarely at the label's level, and a region at it is larger than a glyph.
LEVEL_EXCESS = 0.04
LEVEL_MATCH = 2
LEVEL_MIN = 6
LEVEL_CONTEXT = 32  # px of context around the area searched (the widest stroke window is 31 px)
LEVEL_TALL = 1.5  # ... and only in marks at that level at most this many line heights across the line
LEVEL_CONTRAST = 3.0  # ... where they are this many times as dense as in the rows above, and below
LEVEL_SPAN = 0.5  # ... over at least this share of the line's height along it (half a glyph)


def follow(ink: npt.NDArray[np.bool_], position: int, step: int, first_gap: int, gap_limit: int) -> int | None:
    """The last column of ``ink`` reached from ``position`` going ``step`` across gaps of at most
    ``gap_limit`` columns (``first_gap`` before the first ink); None when no ink is reached."""
    last, gap = None, 0
    while 0 <= position < ink.size and gap <= (first_gap if last is None else gap_limit):
        if ink[position]:
            last, gap = position, 0
        else:
            gap += 1
        position += step
    return last


def holds_glyphs(
    band: npt.NDArray[np.bool_], around: npt.NDArray[np.bool_], last: int, begin: int,
    contrast: float,
) -> bool:
    """The columns from ``begin`` to ``last`` hold ``contrast`` times as much ink in the line's
    rows (``band``) as in the rows just above and below (``around``): text, not texture."""
    lo, hi = sorted((last, begin))
    grown = float(band[:, lo : hi + 1].mean())
    texture = float(around[:, lo : hi + 1].mean()) if around.size else 0.0
    return grown >= contrast * texture


def level_glyphs(level: npt.NDArray[np.bool_], band0: int, band1: int, last: int, begin: int) -> bool:
    """The strokes at the text's level (``level``: rows across the line, ``band0:band1`` its own)
    in the columns from ``begin`` to ``last`` (at least ``LEVEL_SPAN`` of the line's height along
    it) make at least one stroke across the line and are
    ``LEVEL_CONTRAST`` times as dense in its rows as in the rows above, and in the rows below
    (judged on them alone: the other strokes there may be anatomy)."""
    lo, hi = sorted((last, begin))
    strokes = level[band0:band1]
    if hi + 1 - lo < LEVEL_SPAN * strokes.shape[0] or int(strokes[:, lo : hi + 1].sum()) < strokes.shape[0]:
        return False  # a sliver: the fringe of the line's last glyph, or a speck
    return all(holds_glyphs(strokes, side, last, begin, LEVEL_CONTRAST) for side in (level[:band0], level[band1:]))


def level_strokes(
    image: npt.NDArray[np.uint8], area: TextBox, line: TextBox, origin: tuple[int, int], shape: tuple[int, int],
) -> npt.NDArray[np.bool_] | None:
    """The pixels of ``area`` (clipped: at ``origin``, of ``shape``) at the level of ``line``'s text
    that stand out from what is around them either way (see ``LEVEL_EXCESS``); None when the
    line's pixels hold no level more than the rows around it."""
    cv2 = _import_cv2()
    rows, columns = image.shape[:2]
    x0, y0 = origin
    height, width = shape
    cx0, cy0 = max(0, x0 - LEVEL_CONTEXT), max(0, y0 - LEVEL_CONTEXT)
    cx1, cy1 = min(columns, x0 + width + LEVEL_CONTEXT), min(rows, y0 + height + LEVEL_CONTEXT)
    grey = grey_plane(np.ascontiguousarray(image[cy0:cy1, cx0:cx1]))
    inside = grey[y0 - cy0 : y0 - cy0 + height, x0 - cx0 : x0 - cx0 + width]
    horizontal = line.width >= line.height
    lx0, lx1 = max(0, line.x - x0), min(width, line.x1 - x0)
    ly0, ly1 = max(0, line.y - y0), min(height, line.y1 - y0)
    if horizontal:
        text, beside = inside[ly0:ly1, lx0:lx1], np.concatenate([inside[:ly0, lx0:lx1], inside[ly1:, lx0:lx1]])
    else:
        text, beside = inside[ly0:ly1, lx0:lx1], np.concatenate([inside[ly0:ly1, :lx0], inside[ly0:ly1, lx1:]], axis=1)
    level = level_of(text, beside)
    if level is None:
        return None
    size = max(3, min(31, round(0.6 * min(width, height)))) | 1
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (size, size))
    inner = (slice(y0 - cy0, y0 - cy0 + height), slice(x0 - cx0, x0 - cx0 + width))
    response = np.maximum(cv2.morphologyEx(grey, cv2.MORPH_TOPHAT, kernel)[inner],
                          cv2.morphologyEx(grey, cv2.MORPH_BLACKHAT, kernel)[inner])
    at_level = (np.abs(inside.astype(np.int16) - level) <= LEVEL_MATCH).astype(np.uint8)
    # a glyph is a mark no taller than the line: a region at the text's level (a white organ beside
    # white text, a bright streak beside a boxed label) is not one, though its edges stand out
    _count, labels, stats = components_with_stats(at_level)
    across = stats[:, cv2.CC_STAT_HEIGHT] if horizontal else stats[:, cv2.CC_STAT_WIDTH]
    small = across <= LEVEL_TALL * (line.height if horizontal else line.width)
    small[0] = False
    return np.asarray(small[labels] & (response >= LEVEL_MIN), dtype=bool)


def level_of(text: npt.NDArray[np.uint8], beside: npt.NDArray[np.uint8]) -> int | None:
    """The grey level held by ``LEVEL_EXCESS`` more of the pixels of ``text`` than of ``beside``
    (within ``LEVEL_MATCH``), or None."""
    if text.size == 0 or beside.size == 0:
        return None
    window = np.ones(2 * LEVEL_MATCH + 1)
    share = np.convolve(np.bincount(text.ravel(), minlength=256) / text.size, window, "same")
    share -= np.convolve(np.bincount(beside.ravel(), minlength=256) / beside.size, window, "same")
    level = int(np.argmax(share))
    return level if share[level] >= LEVEL_EXCESS else None


__all__ = ["follow", "holds_glyphs", "level_glyphs", "level_of", "level_strokes"]
