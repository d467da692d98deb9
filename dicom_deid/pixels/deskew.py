"""Set a tilted line of text level before it is read.  Pure; knows no DICOM.

The detector proposes an axis-aligned box around a line drawn at an angle (a label rotated a
few degrees, an annotation along a vessel).  Read as it lies, the recognizer sees the glyphs
climbing across its rows and reads little or nothing, so the line was rejected and left
readable.  :func:`level_line` finds the line's tilt from its glyph strokes (the angle at which
their rows are most sharply bunched: the projection-profile method of document deskewing) and
returns the region turned level, with the box around its strokes, for a second reading.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from dicom_deid.pixels.labelling import components
from dicom_deid.pixels.ocr import TextBox, _import_cv2
from dicom_deid.pixels.order import percentile
from dicom_deid.pixels.redact import Strip

if TYPE_CHECKING:
    import numpy.typing as npt

#: Tilts tried (degrees either way) and the least that counts as tilted.
MAX_TILT = 30
MIN_TILT = 3
#: At its tilt the strokes' rows must be this much more bunched than level (sum of squared row
#: counts), and the line this much thinner than the box: otherwise the region is not one tilted line.
SHARPER = 1.3
THINNER = 0.75
#: Stroke pixels needed to measure a tilt.
MIN_STROKES = 30
#: A line's thickness is measured as the narrowest band of rows holding this share of its
#: strokes (about half its glyph height): anatomy or speckle left among the strokes (a bright
#: vessel under the label, the grain of a photograph) then does not count.
BAND = 0.5
#: The band along a tilted line reaches this many px beyond its outermost stroke pixels.
EDGE = 1.0


@dataclass(frozen=True, slots=True)
class LevelLine:
    """A region turned level: the image to read, the box of the line's strokes in it (with a
    margin), the tilt it was turned by (degrees, counter-clockwise as OpenCV turns), the band
    along the line in the original image that the box's rows cover, and the share of the
    region's strokes outside that band (anatomy beside the line, or another line)."""

    image: npt.NDArray[np.uint8]
    box: TextBox
    tilt: float
    strip: Strip
    spill: float


def _turned(xs: npt.NDArray[np.float64], ys: npt.NDArray[np.float64], centre: tuple[float, float],
            angle: float) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """(rows, columns) of the points turned by ``angle`` about ``centre``."""
    cv2 = _import_cv2()
    m = cv2.getRotationMatrix2D(centre, angle, 1.0)
    return m[1, 0] * xs + m[1, 1] * ys + m[1, 2], m[0, 0] * xs + m[0, 1] * ys + m[0, 2]


def _bunching(rows: npt.NDArray[np.float64]) -> float:
    """Sum of squared counts of the points in each row: the larger, the more sharply bunched."""
    counts = np.bincount(np.round(rows - rows.min()).astype(np.int64))
    return float(np.square(counts, dtype=np.float64).sum())


def _band(rows: npt.NDArray[np.float64]) -> float:
    """Height of the narrowest band of ``rows`` that holds ``BAND`` of them."""
    top, bottom = _band_edges(rows)
    return bottom - top


def _band_edges(rows: npt.NDArray[np.float64]) -> tuple[float, float]:
    """(top, bottom) of the narrowest band of ``rows`` that holds ``BAND`` of them."""
    ordered = np.sort(rows)
    n = ordered.size
    k = max(1, int(np.ceil(BAND * n)))
    start = int(np.argmin(ordered[k - 1 :] - ordered[: n - k + 1]))
    return float(ordered[start]), float(ordered[start + k - 1])


def glyph_strokes(image: npt.NDArray[np.uint8], box: TextBox) -> list[npt.NDArray[np.bool_]]:
    """Candidate stroke masks of ``box`` (its own rows and columns): bright strokes (top-hat)
    and dark strokes (black-hat), each without the pieces that touch an edge of the box inside the
    image (the frame of a light label box, anatomy running in: glyphs lie inside the box).  Both are returned: in a
    light label box the box itself is the bright thing, and its dark glyphs are the text."""
    cv2 = _import_cv2()
    height, width = image.shape[:2]
    x0, y0, x1, y1 = max(0, box.x), max(0, box.y), min(width, box.x1), min(height, box.y1)
    if x1 - x0 < 6 or y1 - y0 < 6:
        return []
    size = max(3, min(31, round(0.6 * min(x1 - x0, y1 - y0)))) | 1
    wx0, wy0, wx1, wy1 = max(0, x0 - size), max(0, y0 - size), min(width, x1 + size), min(height, y1 + size)
    window = np.ascontiguousarray(image[wy0:wy1, wx0:wx1])
    if window.ndim == 2:
        views = [[window]]
    else:  # each channel (coloured text), and luminance (grey text on a speckled colour photograph)
        views = [[np.ascontiguousarray(window[:, :, c]) for c in range(window.shape[2])],
                 [cv2.cvtColor(window, cv2.COLOR_RGB2GRAY)]]
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (size, size))
    inner = (slice(y0 - wy0, y1 - wy0), slice(x0 - wx0, x1 - wx0))
    masks = []
    for op, planes in itertools.product((cv2.MORPH_TOPHAT, cv2.MORPH_BLACKHAT), views):
        response = np.max([cv2.morphologyEx(plane, op, kernel)[inner] for plane in planes], axis=0)
        peak = percentile(response, 99.5)
        if peak < 8.0:
            continue
        mask = np.asarray(response > max(6.0, 0.3 * peak), dtype=np.uint8)
        _count, labels = components(mask)
        sides = [side for side, inside in ((labels[0], y0 > 0), (labels[-1], y1 < height),
                                            (labels[:, 0], x0 > 0), (labels[:, -1], x1 < width)) if inside]
        edge = np.unique(np.concatenate(sides)) if sides else np.zeros(0, np.int32)
        masks.append(np.asarray(mask.astype(bool) & ~np.isin(labels, edge[edge > 0]), dtype=bool))
    return masks


def line_tilt(mask: npt.NDArray[np.bool_]) -> tuple[float, float] | None:
    """The tilt (degrees) that sets the one line of strokes in ``mask`` level, or None when the
    strokes are level already, too few, or not one tilted line; with it, how much more bunched
    the rows are at that tilt than level."""
    ys, xs = np.nonzero(mask)
    if xs.size < MIN_STROKES:
        return None
    xs64, ys64 = xs.astype(np.float64), ys.astype(np.float64)
    centre = (float(mask.shape[1]) / 2.0, float(mask.shape[0]) / 2.0)
    level_rows, _ = _turned(xs64, ys64, centre, 0.0)
    level = _bunching(level_rows)
    best, best_angle = level, 0.0
    for angle in range(-MAX_TILT, MAX_TILT + 1):
        if angle == 0:
            continue
        score = _bunching(_turned(xs64, ys64, centre, float(angle))[0])
        if score > best:
            best, best_angle = score, float(angle)
    if abs(best_angle) < MIN_TILT or best < SHARPER * level:
        return None
    rows, cols = _turned(xs64, ys64, centre, best_angle)
    thickness = _band(rows)  # thickness and length are measured at the tilt found only
    if thickness > THINNER * _band(level_rows):
        return None
    if float(np.ptp(cols)) < 2.0 * thickness:
        return None  # not a line: a blob or a column
    return best_angle, best / level


def level_line(image: npt.NDArray[np.uint8], box: TextBox) -> LevelLine | None:
    """``box`` of ``image`` turned by its line's tilt (``line_tilt``), with the box of the
    line's strokes in the turned region (the narrowest band of rows holding half of them, grown
    by its height each way); None when the region is not one tilted line."""
    tilts = [(t, mask) for mask in glyph_strokes(image, box) if (t := line_tilt(mask)) is not None]
    if not tilts:  # the detector's box may cut the line's first and last glyphs: strokes touching
        # its edge are dropped, so the line is measured once more in a box a quarter higher each way
        more = max(2, box.height // 4)
        wx0, wy0 = max(0, box.x - more), max(0, box.y - more)
        wider = TextBox(wx0, wy0, min(image.shape[1], box.x1 + more) - wx0, min(image.shape[0], box.y1 + more) - wy0)
        tilts = [(t, mask) for mask in glyph_strokes(image, wider) if (t := line_tilt(mask)) is not None]
        if not tilts:
            return None
        box = wider
    (tilt, _sharp), mask = max(tilts, key=lambda item: item[0][1])
    mx, my = max(0, box.x), max(0, box.y)
    cv2 = _import_cv2()
    height, width = image.shape[:2]
    margin = max(box.width, box.height) // 4 + 2
    x0, y0 = max(0, box.x - margin), max(0, box.y - margin)
    x1, y1 = min(width, box.x1 + margin), min(height, box.y1 + margin)
    region = np.ascontiguousarray(image[y0:y1, x0:x1])
    ys, xs = np.nonzero(mask)
    xs = xs + (mx - x0)
    ys = ys + (my - y0)
    centre = (float(region.shape[1]) / 2.0, float(region.shape[0]) / 2.0)
    m = cv2.getRotationMatrix2D(centre, tilt, 1.0)
    turned = cv2.warpAffine(region, m, (region.shape[1], region.shape[0]), flags=cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_REPLICATE)
    cols = m[0, 0] * xs + m[0, 1] * ys + m[0, 2]
    rows = m[1, 0] * xs + m[1, 1] * ys + m[1, 2]
    top, bottom = _band_edges(rows)
    grow = max(2.0, bottom - top)  # the band holds about half the glyph height
    near = (rows >= top - grow) & (rows <= bottom + grow)  # the line's strokes, not anatomy beside it
    left, right = float(cols[near].min()), float(cols[near].max())
    lx0, ly0 = max(0, int(left - grow)), max(0, int(top - grow))
    lx1 = min(turned.shape[1], int(np.ceil(right + grow)))
    ly1 = min(turned.shape[0], int(np.ceil(bottom + grow)))
    if lx1 - lx0 < 4 or ly1 - ly0 < 4:
        return None
    # a row of the turned region is m[1] . (x - x0, y - y0, 1), and m[1, :2] = (-sin, cos) of the tilt
    shift = float(m[1, 2] - m[1, 0] * x0 - m[1, 1] * y0)
    # the band to black out holds the line's strokes (and ``EDGE`` px for the edge of a stroke the
    # mask left out), not the margin the box to read has around them: that margin is as high as
    # the band holding half the strokes, and the band of a tilted 40 px date, padded as a box,
    # blacked out half a glyph of flow above and below it (tune seed 10818 case013)
    first, last = float(rows[near].min()), float(rows[near].max())
    strip = Strip(tilt, (first + last) / 2.0 - shift, (last - first) / 2.0 + 0.5 + EDGE)
    spill = float(np.mean((rows < ly0 - 0.5) | (rows > ly1 - 0.5)))
    return LevelLine(np.asarray(turned, dtype=np.uint8), TextBox(lx0, ly0, lx1 - lx0, ly1 - ly0), tilt, strip,
                     spill)


__all__ = ["LevelLine", "glyph_strokes", "level_line", "line_tilt"]
