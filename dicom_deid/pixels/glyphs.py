"""Rows of glyph-sized marks: where small text may stand that the detector's passes did not box.

The detection network sees 6-8 px text plainly on a crop enlarged 4x, but in the whole image
(even enlarged 2x) the anatomy around such a label sets the contrast the network expects, and a
small dark label on a bright, saturated organ scores nothing (s10104 case037: peak probability
0.000 in its box on the whole image, 1.000 on the crop).  Enlarging the whole image 4x would
quadruple the detector's cost; this module finds the few places worth it instead.

A *glyph* is a small mark of thin strokes, brighter (top-hat) or darker (black-hat) than what is
around it within ``GLYPH_SPAN`` pixels; a *row* is at least ``ROW_GLYPHS`` glyphs of text size
side by side, joined across gaps of up to ``ROW_GAP`` pixels.  Pure functions on 8-bit arrays;
the detector decides what to do with the rows.  Knows no DICOM.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from dicom_deid.pixels.labelling import components_with_stats

if TYPE_CHECKING:
    import numpy.typing as npt

#: Side of the square top-hat / black-hat window: marks thinner than this stand out.
GLYPH_SPAN = 9
#: Least top-hat response of a glyph's pixels (grey levels), its share of the image's 99th
#: percentile response, and its multiple of the median response (the grain of the image): a mark
#: stands out from the image's own texture, not only from black.
GLYPH_LEVEL = 16
GLYPH_SHARE = 0.5
GLYPH_GRAIN = 4.0
#: Height range of one glyph, and of a row, in pixels (small text: what the passes miss).
GLYPH_HEIGHT = (3, 16)
ROW_HEIGHT = (3, 16)
#: Widest glyph, least pixels in one glyph.
GLYPH_WIDTH = 16
GLYPH_PIXELS = 3
#: Small glyphs drawn close together make one mark: the serifs of a 7 px serif name (tune seed 10870
#: case026: "NAKAMURA" one top-hat mark 41 px long and 5 px across, "SOFIA" one of 20) or the strokes
#: of an 8 px monospace name (marks 19-23 px long) touch, and a mark longer than ``GLYPH_WIDTH`` is no
#: glyph.  A mark of text size across and up to ``WIDE_LINES`` times as long as it is across is kept
#: where its profile along its length reads as letters side by side (``_letters``): at least one
#: *letter* (a run of columns at least ``WIDE_STROKE`` of the mark's thickest column high, between
#: columns at most ``WIDE_GAP`` of it) per ``WIDE_ACROSS`` of its thickness along it, and at least
#: ``ROW_GLYPHS``.  It counts as one glyph per thickness of its length (a row of such marks is as
#: long, and holds as many glyphs, as the letters drawn apart would make).  A bright vessel or a bone
#: edge as long makes one run, or none.
WIDE_LINES = 10
WIDE_STROKE = 0.7
WIDE_GAP = 0.4
WIDE_ACROSS = 2.0
#: Glyphs within this many pixels along a line join into one row.
ROW_GAP = 6
#: Least glyphs in a row and least length of a row in row heights.
ROW_GLYPHS = 3
ROW_LENGTH = 2.5
#: Faint rows: where the image holds marks of high contrast (a black organ's dots on white tissue),
#: ``GLYPH_SHARE`` of their response sets the level, and a grey label 40 levels off its background
#: makes no marks at all (s10502 case020: a 7 px date, never proposed).  Marks are also taken at
#: the image's own grain level (``GLYPH_GRAIN``, ``GLYPH_LEVEL``); rows of them in which under
#: ``FAINT_CLEAR`` of the pixels reach the first level (of either polarity: the pale gaps between
#: a dark organ's dots are rows of the grain level too) follow the first level's rows, up to
#: ``FAINT_ROWS`` of them, highest rank first.
FAINT_ROWS = 3
FAINT_CLEAR = 0.02
#: Flat rows: on an image of little grain (``GLYPH_GRAIN`` times its median response under
#: ``GLYPH_LEVEL``) the grain level is ``GLYPH_LEVEL`` itself, and a faint label on flat black makes
#: no marks at it (tune seed 10887 case028: an 8 px grey name 16 levels over the black edge of a
#: PET fusion, its strokes responding 8-16, was never proposed and Tesseract read it in the output).
#: Marks are also taken at ``FLAT_LEVEL`` there; rows of them clear of marks of the first level
#: (``FAINT_CLEAR``, as faint rows) that stand on clear ground (``CLEAR_GROUND``: a flat corner, not a texture)
#: follow the faint rows, up to ``FLAT_ROWS`` of them, highest rank first, searched like faint rows.
FLAT_LEVEL = 8
FLAT_ROWS = 1
#: Glyphs beyond this many add nothing to a row's rank.
RANK_GLYPHS = 4
#: A row stands on clear ground when the marks around it (a ring one row thickness wide, either
#: polarity) respond on average at most this share of its own contrast: a label on a flat corner,
#: not one mark of a texture (the ring of a row of striated muscle responds about two thirds as much
#: as the row).  ``ocr.DbnetDetector`` searches such rows beyond its row budget (``ocr.CLEAR_ROWS``),
#: clearest first: on a textured 1024 px MR of tune seed 10702 (case004) a 7 px grey name on the
#: black corner ranked 223rd of 381 rows (contrast 29 against the texture's 34), its ring responding 5.5.
CLEAR_GROUND = 0.25
#: Tilted rows: a small line drawn at an angle makes no row, for its glyphs joined along the
#: image's rows make a band taller than ``ROW_HEIGHT`` (and bold glyphs of a tilted word touch:
#: one mark 33 px long and 18 high, no glyph either).  A band of marks (top-hat or black-hat at the
#: first level, joined across ``ROW_GAP``) higher than ``ROW_HEIGHT`` and not as high as it is long,
#: whose thinnest enclosing rectangle is ``ROW_HEIGHT`` across, at least ``ROW_LENGTH`` times as long,
#: and turned ``TILT_RANGE`` degrees from level, is a tilted row (``thick``: the rectangle's side
#: across) where its marks fill ``TILT_FILL`` of that rectangle: a vessel or a bone edge drawn at an
#: angle fills it (0.95 or more), marks of texture that the joining ties together fill little of it
#: (0.1-0.3 on a 1024 px MR shoulder of tune seed 10924), tilted names filled 0.46-0.83.  (Their
#: profile along the line does not read as letters: touching bold glyphs leave no gaps.)  Tune seed
#: 10889 case026: an 8 px bold narrow name tilted 19 degrees in a CR's dark corner made no row, and
#: no pass boxed it.
TILT_RANGE = (3.0, 30.0)
TILT_FILL = (0.4, 0.9)


def _cv2() -> Any:
    """OpenCV, which the detector (``ocr.DbnetDetector``, the only caller) has already loaded."""
    import cv2

    return cv2


@dataclass(frozen=True, slots=True)
class GlyphRow:
    """A row of glyph-sized marks: its bounding box in image pixels, whether it reads down the
    image (a vertical label), how many glyphs it holds, and how far its marks stand out (mean
    top-hat / black-hat response, grey levels)."""

    x: int
    y: int
    width: int
    height: int
    vertical: bool
    glyphs: int
    contrast: float = 0.0
    faint: bool = False  # a row of the grain level (``FAINT_ROWS``), not of the first level
    ground: float = 0.0  # mean response (either polarity) of a ring one row thickness wide around it
    thick: int = 0  # a tilted row (``TILT_RANGE``): its thickness across the line; 0: a level row

    @property
    def ground_share(self) -> float:
        """The response of the ground around the row as a share of its own contrast."""
        return self.ground / max(self.contrast, 1.0)

    @property
    def clear(self) -> bool:
        """Whether the row stands on clear ground (``CLEAR_GROUND``)."""
        return self.ground_share <= CLEAR_GROUND

    @property
    def rank(self) -> float:
        """Text-likeness for the order of search: contrast times glyphs (up to ``RANK_GLYPHS``): a
        label stands out from the anatomy it is on; striated muscle makes long rows of faint marks."""
        return self.contrast * min(self.glyphs, RANK_GLYPHS)


def glyph_rows(
    image: npt.NDArray[np.uint8], *, vertical: bool = True, faint_rows: int = FAINT_ROWS,
    tilted: list[GlyphRow] | None = None,
) -> list[GlyphRow]:
    """Rows of glyph-sized marks in ``image`` (H×W grey or H×W×3), highest ``GlyphRow.rank``
    first; with ``vertical``, also rows that read down the image.  After them, up to
    ``faint_rows`` faint rows (see ``FAINT_ROWS``), highest rank first, and with ``faint_rows`` up to
    ``FLAT_ROWS`` flat rows (see ``FLAT_LEVEL``), marked faint too.  ``tilted``, when given,
    receives the tilted rows (see ``TILT_RANGE``), highest rank first, found in the same marks:
    they are not among the rows returned."""
    cv2 = _cv2()
    grey = grey_plane(image)
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (GLYPH_SPAN, GLYPH_SPAN))
    rows: list[GlyphRow] = []
    faint: list[GlyphRow] = []
    flat: list[GlyphRow] = []
    bold = np.zeros(grey.shape, dtype=bool)  # marks of the first level, either polarity
    leaning: list[GlyphRow] = []
    either = np.zeros(grey.shape, dtype=np.uint8)  # response of either polarity
    for operation in (cv2.MORPH_TOPHAT, cv2.MORPH_BLACKHAT):
        response = cv2.morphologyEx(np.ascontiguousarray(grey), operation, kernel)
        np.maximum(either, response, out=either)
        low, high = _percentiles(response, (50.0, 99.0))
        floor = max(GLYPH_LEVEL, int(GLYPH_GRAIN * low))
        level = max(floor, int(GLYPH_SHARE * high))
        above = response >= level
        bold |= above
        marks = _glyph_marks(above)
        rows += _rows(marks, response, vertical=False)
        if vertical:
            rows += _rows(marks, response, vertical=True)
        if tilted is not None:
            leaning += _tilted(above, response)
        if faint_rows and floor < level:
            marks = _glyph_marks(response >= floor)
            faint += _rows(marks, response, vertical=False)
            if vertical:
                faint += _rows(marks, response, vertical=True)
        if faint_rows and FLAT_ROWS and GLYPH_GRAIN * low < GLYPH_LEVEL:
            marks = _glyph_marks(response >= FLAT_LEVEL)
            flat += _rows(marks, response, vertical=False)
            if vertical:
                flat += _rows(marks, response, vertical=True)
    low, high = ROW_HEIGHT
    strong = sorted((dataclasses.replace(r, ground=_ground(either, r))
                     for r in _merged(rows) if low <= min(r.width, r.height) <= high), key=_order)
    weak = [r for r in _merged(faint) if low <= min(r.width, r.height) <= high
            and bold[r.y : r.y + r.height, r.x : r.x + r.width].mean() < FAINT_CLEAR]
    if tilted is not None:
        tilted += sorted(leaning, key=_order)
    faint_kept = [dataclasses.replace(r, faint=True, ground=_ground(either, r))
                  for r in sorted(weak, key=_order)[:faint_rows]]
    # rows among the first level's marks or on busy ground are dropped before they are joined (a
    # textured image makes thousands of rows of flat marks, and joining is quadratic in their count)
    flat = [r for r in flat if bold[r.y : r.y + r.height, r.x : r.x + r.width].mean() < FAINT_CLEAR
            and dataclasses.replace(r, ground=_ground(either, r)).clear]
    flat_kept = [dataclasses.replace(r, faint=True, ground=_ground(either, r)) for r in _merged(flat)
                 if low <= min(r.width, r.height) <= high
                 and bold[r.y : r.y + r.height, r.x : r.x + r.width].mean() < FAINT_CLEAR]
    return strong + faint_kept + sorted((r for r in flat_kept if r.clear), key=_order)[:FLAT_ROWS]


def _tilted(above: npt.NDArray[np.bool_], response: npt.NDArray[np.uint8]) -> list[GlyphRow]:
    """Tilted rows of the marks ``above`` a level (see ``TILT_RANGE``); ``response`` gives their contrast."""
    cv2 = _cv2()
    joined = cv2.dilate(above.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_RECT, (ROW_GAP + 1, 1)))
    _count, labels, stats = components_with_stats(joined)
    low, high = ROW_HEIGHT
    w, h = stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT]
    candidates = np.flatnonzero((h > high) & (h < w) & (w >= ROW_LENGTH * low))
    rows = []
    for label in candidates[candidates > 0]:
        x, y, bw, bh = (int(v) for v in stats[label, :4])
        inside = (labels[y : y + bh, x : x + bw] == label) & above[y : y + bh, x : x + bw]
        ys, xs = np.nonzero(inside)
        if xs.size < GLYPH_PIXELS * ROW_GLYPHS:
            continue
        (_cx, _cy), (rw, rh), angle = cv2.minAreaRect(np.stack([xs, ys], axis=1).astype(np.float32))
        if rw < rh:  # the angle of the rectangle's longer side
            rw, rh, angle = rh, rw, angle - 90.0
        tilt = (angle + 90.0) % 180.0 - 90.0
        thick = max(1, round(rh))
        if not (TILT_RANGE[0] <= abs(tilt) <= TILT_RANGE[1] and low <= thick <= high and rw >= ROW_LENGTH * rh):
            continue
        if not TILT_FILL[0] <= xs.size / max(rw * rh, 1.0) <= TILT_FILL[1]:
            continue
        glyphs = max(ROW_GLYPHS, round(rw / thick))
        contrast = float(response[y : y + bh, x : x + bw][inside].mean())
        rows.append(GlyphRow(x, y, bw, bh, False, glyphs, contrast, thick=thick))
    return rows


def grey_plane(image: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """``image`` (H×W grey or H×W×3 RGB) as the one grey plane glyph rows are found in."""
    if image.ndim == 2:
        return image
    return np.asarray(_cv2().cvtColor(np.ascontiguousarray(image), _cv2().COLOR_RGB2GRAY), dtype=np.uint8)


def _ground(either: npt.NDArray[np.uint8], row: GlyphRow) -> float:
    """Mean of ``either`` (the response of either polarity) over the ring one row thickness wide
    around ``row`` (within the image); 0 where the row fills its window."""
    across = min(row.width, row.height)
    x0, y0 = max(0, row.x - across), max(0, row.y - across)
    window = either[y0 : row.y + row.height + across, x0 : row.x + row.width + across]
    ring = window.size - row.width * row.height
    if ring <= 0:
        return 0.0
    inner = either[row.y : row.y + row.height, row.x : row.x + row.width]
    return (float(window.sum(dtype=np.int64)) - float(inner.sum(dtype=np.int64))) / ring


def _order(row: GlyphRow) -> tuple[float, int, int]:
    return (-row.rank, row.y, row.x)


def _percentiles(values: npt.NDArray[np.uint8], shares: tuple[float, ...]) -> tuple[float, ...]:
    """``np.percentile(values, shares)`` (linear between order statistics) of 8-bit values, from
    their histogram: no sort of a radiograph's millions of pixels."""
    if values.size < 1 << 24:  # OpenCV's float32 counts are exact below 2**24 (no int64 copy of the image)
        counts = _cv2().calcHist([np.ascontiguousarray(values)], [0], None, [256], [0, 256]).ravel().astype(np.int64)
    else:
        counts = np.bincount(values.ravel(), minlength=256)
    cumulative = np.cumsum(counts)
    last = int(cumulative[-1]) - 1
    out = []
    for share in shares:
        index = share / 100.0 * last
        below, above = int(np.floor(index)), int(np.ceil(index))
        low = int(np.searchsorted(cumulative, below, side="right"))  # the value at that order
        high = int(np.searchsorted(cumulative, above, side="right"))
        out.append(low + (high - low) * (index - below))
    return tuple(out)


def _merged(rows: list[GlyphRow]) -> list[GlyphRow]:
    """``rows`` with rows of one direction that overlap joined: dark text shows as a black-hat row
    of its strokes and a top-hat row of the gaps between them, each cut short somewhere.  The
    joined row runs the length of both and is as thick as the thinner (the gaps' row takes in
    grain above and below the line)."""
    out: list[GlyphRow] = []
    for row in sorted(rows, key=lambda r: (r.vertical, r.y, r.x)):
        for i, other in enumerate(out):
            if other.vertical is row.vertical and _overlap(other, row):
                thin = min(other, row, key=lambda r: min(r.width, r.height))
                if row.vertical:
                    y0, y1 = min(other.y, row.y), max(other.y + other.height, row.y + row.height)
                    x0, x1 = thin.x, thin.x + thin.width
                else:
                    x0, x1 = min(other.x, row.x), max(other.x + other.width, row.x + row.width)
                    y0, y1 = thin.y, thin.y + thin.height
                out[i] = GlyphRow(x0, y0, x1 - x0, y1 - y0, row.vertical, max(other.glyphs, row.glyphs),
                                  max(other.contrast, row.contrast))
                break
        else:
            out.append(row)
    return out


def _overlap(a: GlyphRow, b: GlyphRow) -> bool:
    return a.x < b.x + b.width and b.x < a.x + a.width and a.y < b.y + b.height and b.y < a.y + a.height


def _glyph_marks(mask: npt.NDArray[np.bool_]) -> npt.NDArray[np.int32]:
    """``mask``'s connected marks of glyph size, labelled 1..n (0 elsewhere)."""
    cv2 = _cv2()
    count, labels, stats = components_with_stats(mask.astype(np.uint8))
    low, high = GLYPH_HEIGHT
    w, h, area = stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT], stats[:, cv2.CC_STAT_AREA]
    # a glyph of a vertical label lies on its side: either side may be its height
    keep = (((low <= h) & (h <= high)) | ((low <= w) & (w <= high))) & (np.maximum(w, h) <= GLYPH_WIDTH + 2)
    keep &= area >= GLYPH_PIXELS
    keep[0] = False  # the background
    across, along = np.minimum(w, h), np.maximum(w, h)
    wide = (low <= across) & (across <= high) & (along > GLYPH_WIDTH + 2) & (along <= WIDE_LINES * across)
    wide[0] = False
    relabel = np.where(keep, np.arange(count), 0).astype(np.int32)
    marks = np.asarray(relabel[labels], dtype=np.int32)
    pieces = count  # the glyphs of a wide mark are labelled from here on
    for label in np.flatnonzero(wide):
        x, y, mw, mh = (int(v) for v in stats[label, :4])
        inside = labels[y : y + mh, x : x + mw] == label
        level = mw >= mh  # a level mark; else one of a vertical label, its length down the image
        thick = min(mw, mh)
        if not _letters(inside.sum(axis=0 if level else 1), thick):
            continue
        # one glyph per thickness along the mark: piece k holds columns (rows) k*thick .. (k+1)*thick-1
        offset = np.arange(max(mw, mh), dtype=np.int32) // thick + pieces
        piece = offset[None, :] if level else offset[:, None]
        window = marks[y : y + mh, x : x + mw]
        window[inside] = np.broadcast_to(piece, inside.shape)[inside]
        pieces += -(-max(mw, mh) // thick)
    return marks


def _letters(profile: npt.NDArray[np.intp], thick: int) -> bool:
    """Whether ``profile`` (a wide mark's pixels per column along its length; the mark ``thick``
    pixels across) reads as letters side by side (see ``WIDE_LINES``): enough runs of high columns,
    each after a low one."""
    top = int(profile.max())
    letters = 0
    dipped = True  # the mark's start counts as a gap before its first letter
    for value in profile.tolist():
        if value <= WIDE_GAP * top:
            dipped = True
        elif value >= WIDE_STROKE * top and dipped:
            letters += 1
            dipped = False
    return letters >= max(ROW_GLYPHS, len(profile) / (WIDE_ACROSS * thick))


def _rows(marks: npt.NDArray[np.int32], response: npt.NDArray[np.uint8], *, vertical: bool) -> list[GlyphRow]:
    """Rows of ``marks`` (see the module) along the image's rows, or with ``vertical`` down its
    columns; ``response`` gives their contrast."""
    cv2 = _cv2()
    present = (marks > 0).astype(np.uint8)
    reach = (1, ROW_GAP + 1) if vertical else (ROW_GAP + 1, 1)  # (width, height) of the joining kernel
    joined = cv2.dilate(present, cv2.getStructuringElement(cv2.MORPH_RECT, reach))
    _count, labels, stats = components_with_stats(joined)
    low, high = ROW_HEIGHT
    across = stats[:, cv2.CC_STAT_WIDTH] if vertical else stats[:, cv2.CC_STAT_HEIGHT]
    along = stats[:, cv2.CC_STAT_HEIGHT] if vertical else stats[:, cv2.CC_STAT_WIDTH]
    candidates = np.flatnonzero((low <= across) & (across <= high) & (along >= ROW_LENGTH * across))
    candidates = candidates[candidates > 0]
    if candidates.size == 0:
        return []
    glyphs, contrast = _row_marks(marks, response, labels, len(stats))
    rows = []
    for label in candidates[glyphs[candidates] >= ROW_GLYPHS]:
        x, y, w, h, _area = (int(v) for v in stats[label])
        rows.append(GlyphRow(x, y, w, h, vertical, int(glyphs[label]), float(contrast[label])))
    return rows


def _row_marks(
    marks: npt.NDArray[np.int32], response: npt.NDArray[np.uint8], labels: npt.NDArray[np.int32], count: int
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.float64]]:
    """For each joined component ``0..count-1`` of ``labels``: how many distinct marks it holds,
    and the mean ``response`` over its marks' pixels (0 where it holds none).

    One pass over the marked pixels for all components (a mark is connected, so it lies in one
    component): the sums are of integers, exact in float64 in any order, so each mean is the one
    ``response[...][inside].mean()`` gives component by component."""
    marked = marks > 0
    owner = labels[marked].astype(np.int64)
    mark = marks[marked].astype(np.int64)
    span = int(mark.max()) + 1 if mark.size else 1
    glyphs = np.bincount(np.unique(owner * span + mark) // span, minlength=count)
    pixels = np.bincount(owner, minlength=count)
    total = np.bincount(owner, weights=response[marked].astype(np.float64), minlength=count)
    contrast = np.divide(total, pixels, out=np.zeros(count, np.float64), where=pixels > 0)
    return glyphs, contrast
