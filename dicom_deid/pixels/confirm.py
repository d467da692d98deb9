"""Turn detector proposals into redaction boxes: merge, confirm as text, tighten, pad.  Pure.

A text detector proposes regions; texture (lung fields, bone trabeculae, speckle, fabric)
can look like text to it.  A proposal is blacked out only when it *reads* as text:

* **group** — proposals that are the same region seen again (another pass, a projection, a
  frame: IoU >= 0.6) are read together; nothing else is joined, so no box grows over anatomy by
  merging (copies of one line judged apart become one box afterwards: ``fit.merge_lines``);
* **confirm** — a recognizer reads the region (:class:`Reading`).  Confirmed: at least two
  confident letters/digits, or one very confident character in a glyph-shaped box.  Rejected:
  nothing read, only low-confidence marks, or nothing but round letters ("OOOO": rows of circles
  in a mosaic or a phantom).  Anything between is *uncertain*; the pixel stage
  redacts uncertain regions of high-risk images and says so;
* **glyph sanity** — the tightened region must have a line height of 4 px to an eighth of the
  image's shorter side (at least 48 px), and hold ink (pixels that differ from its surround); a
  region with larger glyphs (ribs, gyri, lung fields read as "CNSG") stays uncertain only when
  read surely, and is rejected otherwise;
* **tighten** — the box shrinks to the rows and columns that hold glyph strokes (top-hat and
  black-hat response, so text over anatomy tightens too), never inside the detector's kernel,
  which lies inside the text; in a colour image only strokes of the text's colour count (a
  colour-flow blob beside a label is not part of it): the glyphs' own colour (the densest colour
  of thin strokes found all along the kernel) where no other could be the text's, else the
  median colour of the strokes there;
* **follow** — a confirmed line whose strokes reach the end of the detector's box is followed
  beyond it over the strokes in its rows (``extend_line``); the parts it grows by must read as
  text on their own (``fit.confirm_growth``), and an end followed to where its strokes stop is
  padded like the rest of the line;
* **pad** — by a share of the line height (glyph height; for a slanted line the height of its
  stroke columns, not of its box), so that anti-aliased edges and serifs are covered without a
  fixed margin that is too large for small text.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from dicom_deid.pixels.follow import follow, holds_glyphs, level_glyphs, level_strokes
from dicom_deid.pixels.ocr import TextBox
from dicom_deid.pixels.order import median, percentile
from dicom_deid.pixels.recognize import Reading
from dicom_deid.pixels.redact import Strip

if TYPE_CHECKING:
    import numpy.typing as npt


class Verdict(enum.Enum):
    CONFIRMED = "confirmed"
    UNCERTAIN = "uncertain"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class Proposal:
    """A detector box and the search image (index) it was found in."""

    box: TextBox
    image: int


@dataclass(frozen=True, slots=True)
class Judged:
    """A merged proposal with its verdict and the box to black out (tight, padded).

    ``line`` is the tight box before padding and before ``grown``: the parts of the line
    followed beyond the detector's box (``extend_line``, unpadded), which must still read as
    text (``fit.confirm_growth``); ``cut`` tells which ends of the line were padded as cut;
    ``probed`` which ends the detector's box did not cut and were searched for one more word.
    ``band``, for a line read set level, is the box it was judged with and the band along the
    line (padded) that holds its glyphs: see ``strip``."""

    box: TextBox
    verdict: Verdict
    image: int
    glyph_height: int
    line: TextBox | None = None
    grown: tuple[TextBox, ...] = ()
    cut: tuple[bool, bool] = (False, False)
    probed: tuple[bool, bool] = (False, False)
    band: tuple[TextBox, Strip] | None = None

    def strip(self) -> Strip | None:
        """The band to black out within ``box``: only while ``box`` is still the box the band was
        measured for and nothing was grown beyond it (a box merged with another copy, refitted
        or grown along its row blacks out its whole rectangle)."""
        if self.band is None or self.grown or self.band[0] != self.box:
            return None
        return self.band[1]


#: Confirmation thresholds (tuned on the tuning split only; see README "Burned-in text").
MIN_CONFIDENT = 0.5  # a character counts when the network is at least this sure of it
CONFIRM_MANY = 4  # this many confident Latin letters/digits confirm a line ...
CONFIRM_MANY_MEAN = 0.6  # ... read with at least this mean confidence
CONFIRM_FEW = 2  # two or three confirm it when read surely ...
CONFIRM_FEW_MEAN = 0.8
SINGLE_CHAR = 0.9  # one character confirms a glyph-shaped box at this confidence
UNCERTAIN_MEAN = 0.6  # below this mean confidence a reading is texture
MIN_DENSITY = 0.7  # characters read per line height of length; texture reads a few in a long box
PAD_SHARE = 0.15  # padding: this share of the line height above and below, at least MIN_PAD
END_SHARE = 0.4  # ... and at an end of the line that the detector box cut through strokes
MIN_PAD = 2
#: A cut end of a line (``pad_box``) padded to within this many line heights of the image's edge
#: reaches the edge: the line can only go on to the edge there, and the detector's box of a label
#: along the edge stops short of it (a faint 14 px vertical name down from the top edge of a
#: Doppler, its box 8 px below the edge: the first glyph's top was left, tune seed 10847 case014).
#: Any other side of the box padded to within its own padding of the edge reaches it too: the
#: anti-aliased foot of a tilted 11 px clock on a Doppler's last row, 1 px below its padded box, was
#: left (tune seed 10852 case013).
EDGE_REACH = 1.0
MIN_GLYPH = 4  # px line height
TILTED = 0.6  # glyphs (line length over characters read) under this share of the box's height
_ROUND = frozenset("Oo0Q")  # a reading of nothing but these is round blobs, not text
BLOB_ROW_ACROSS = 56  # px across a line: taller than any label measured (and than the 40 px the benchmarks draw) ...
BLOB_SHARE = 0.75  # ... where this share of what is read is round, or one character, it is a row of blobs


def _row_of_blobs(confident: Sequence[str]) -> bool:
    """Three or more characters, nearly all round or nearly all the same one: a row of equal blobs
    (phantom discs, mosaic tiles) that a recognizer reads as "0000" or "8888", not a label."""
    if len(confident) < 3:
        return False
    same = max(confident.count(ch) for ch in set(confident))
    round_ = sum(ch in _ROUND for ch in confident)
    return max(same, round_) >= BLOB_SHARE * len(confident)


def group_duplicates(proposals: Sequence[Proposal]) -> list[list[Proposal]]:
    """Proposals that are the same region seen again (another pass, projection or frame).

    Two proposals are duplicates when their intersection is at least 60 % of their union
    (IoU); a group holds its members best score first.  Nothing else is joined: proposals
    are judged on their own, so no box ever grows over anatomy by merging.
    """
    groups: list[list[Proposal]] = []
    for proposal in sorted(proposals, key=lambda p: -p.box.score):
        for group in groups:
            if _iou(group[0].box, proposal.box) >= 0.6:
                group.append(proposal)
                break
        else:
            groups.append([proposal])
    return groups


def _iou(a: TextBox, b: TextBox) -> float:
    ix = max(0, min(a.x1, b.x1) - max(a.x, b.x))
    iy = max(0, min(a.y1, b.y1) - max(a.y, b.y))
    inter = ix * iy
    union = a.width * a.height + b.width * b.height - inter
    return inter / union if union > 0 else 0.0


def union_box(boxes: Sequence[TextBox]) -> TextBox:
    x0, y0 = min(b.x for b in boxes), min(b.y for b in boxes)
    x1, y1 = max(b.x1 for b in boxes), max(b.y1 for b in boxes)
    return TextBox(x0, y0, x1 - x0, y1 - y0, max(b.score for b in boxes))


def judge_reading(reading: Reading, box: TextBox) -> Verdict:
    """Confirmed / uncertain / rejected, from what the recognizer read in ``box``."""
    confident = [
        ch
        for ch, conf in zip(reading.text, reading.confidences, strict=True)
        if conf >= MIN_CONFIDENT and ch.isascii() and ch.isalnum()
    ]
    if confident and all(ch in _ROUND for ch in confident):
        return Verdict.REJECTED  # rows of circles (mosaics, phantoms, vessels in section) read as "OOOO"
    along, across = (box.height, box.width) if reading.rotation in (90, 270) else (box.width, box.height)
    if across >= BLOB_ROW_ACROSS and _row_of_blobs(confident):
        return Verdict.REJECTED  # large discs in a row ("1000", "88888888" down a phantom mosaic)
    density = len(reading.text.replace(" ", "")) / max(1.0, along / max(1, across))
    mean = reading.mean_confidence
    if len(confident) >= CONFIRM_MANY and mean >= CONFIRM_MANY_MEAN and density >= MIN_DENSITY:
        return Verdict.CONFIRMED
    if len(confident) >= CONFIRM_FEW and mean >= CONFIRM_FEW_MEAN and density >= MIN_DENSITY:
        return Verdict.CONFIRMED
    if len(confident) == 1 and len(reading.text) <= 2 and max(reading.confidences) >= SINGLE_CHAR \
            and along <= 1.6 * across:
        return Verdict.CONFIRMED  # one glyph: a laterality marker, a digit
    if confident and mean >= UNCERTAIN_MEAN and density >= MIN_DENSITY:
        return Verdict.UNCERTAIN
    return Verdict.REJECTED


def stroke_mask(
    image: npt.NDArray[np.uint8], box: TextBox, core: TextBox | None = None
) -> tuple[npt.NDArray[np.bool_], tuple[int, int]] | None:
    """Glyph strokes inside ``box`` (see ``stroke_response``): (mask, (x0, y0)) or None."""
    found = stroke_response(image, box, core)
    return None if found is None else (found[0], found[2])


def stroke_response(
    image: npt.NDArray[np.uint8], box: TextBox, core: TextBox | None = None
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.uint8], tuple[int, int]] | None:
    """Glyph strokes inside ``box``: per colour channel, the top-hat (bright text) or black-hat
    (dark text) response, computed with context around the box so its edges do not respond.

    The polarity of each channel is read from the core (inside the text) against the box's
    border: the extreme farther from the border's median is the text.  Returns (mask, response,
    (x0, y0)): the strokes, the strongest channel's response, and the clipped box's origin in image
    coordinates; None when nothing stands out."""
    from dicom_deid.pixels.ocr import _import_cv2

    cv2 = _import_cv2()
    height, width = image.shape[:2]
    x0, y0 = max(0, box.x), max(0, box.y)
    x1, y1 = min(width, box.x1), min(height, box.y1)
    if x1 - x0 < 3 or y1 - y0 < 3:
        return None
    short = min(x1 - x0, y1 - y0)
    size = max(3, min(31, round(0.6 * short))) | 1
    wx0, wy0 = max(0, x0 - size), max(0, y0 - size)
    wx1, wy1 = min(width, x1 + size), min(height, y1 + size)
    window = np.ascontiguousarray(image[wy0:wy1, wx0:wx1])
    inner = (slice(y0 - wy0, y1 - wy0), slice(x0 - wx0, x1 - wx0))
    inside = core if core is not None else TextBox(
        x0 + (x1 - x0) // 4, y0 + (y1 - y0) // 4, max(1, (x1 - x0) // 2), max(1, (y1 - y0) // 2)
    )
    cy0, cy1 = max(y0, inside.y) - wy0, min(y1, inside.y1) - wy0
    cx0, cx1 = max(x0, inside.x) - wx0, min(x1, inside.x1) - wx0
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (size, size))
    planes = [window] if window.ndim == 2 else [np.ascontiguousarray(window[:, :, c]) for c in range(window.shape[2])]
    responses: list[npt.NDArray[np.uint8]] = []
    borders: list[float] = []  # each channel's level on the box's border
    for plane in planes:
        box_part = plane[inner].astype(np.float32)
        ring = np.concatenate([box_part[0], box_part[-1], box_part[:, 0], box_part[:, -1]])
        background = median(ring)
        core_part = plane[cy0:cy1, cx0:cx1] if cy1 > cy0 and cx1 > cx0 else plane[inner]
        bright = percentile(core_part, 95) - background
        dark = background - percentile(core_part, 5)
        op = cv2.MORPH_TOPHAT if bright >= dark else cv2.MORPH_BLACKHAT
        responses.append(cv2.morphologyEx(plane, op, kernel)[inner])
        borders.append(background)
    stroke = np.max(responses, axis=0)
    peak = percentile(stroke, 99.5)
    if peak < 8.0:
        return None
    mask = stroke > max(6.0, 0.3 * peak)
    if window.ndim == 3:
        core_rows = slice(max(0, cy0 - inner[0].start), max(0, cy1 - inner[0].start))
        core_cols = slice(max(0, cx0 - inner[1].start), max(0, cx1 - inner[1].start))
        mask &= _in_text_colour(window[inner], mask, (core_rows, core_cols), borders, peak)
    return mask, stroke, (x0, y0)


#: Colour strokes (``_in_text_colour``): the text's colour is the glyphs' own colour where it is
#: found among the strokes inside the detector's kernel (``MODE_*`` below), else the median colour
#: of those strokes (at least ``TEXT_SAMPLE`` of them); its channels are those where it
#: differs from the box's border by at least ``TEXT_CHANNEL`` of its largest difference; a stroke
#: pixel lies at least ``TEXT_COLOUR`` of the way from the border's level to the text's in each.
#: The colour is known only where it differs from the border by ``TEXT_KNOWN`` of the strokes' peak
#: response; elsewhere no stroke is dropped.  Where at least ``TEXT_AGREE`` of the strokes inside
#: the kernel lie within ``TEXT_HUE`` of that difference of the text's hue (away from it, across the
#: line from the border's colour to the text's), a stroke pixel must too, or touch one that does.
TEXT_SAMPLE = 12
TEXT_KNOWN = 0.5
TEXT_CHANNEL = 0.5
TEXT_COLOUR = 0.2
TEXT_HUE = 0.3
TEXT_AGREE = 0.5
#: Strokes of several hues inside the kernel (flow and speckle around a coloured label): where the
#: glyphs' own colour is found among them (``_colour_mode``), it is the text's colour instead of
#: the median, and a stroke pixel must lie on its hue (or touch one that does).
MODE_RADIUS = 0.15
MODE_SHARE = 0.2
MODE_SPAN = 0.6
MODE_RIVAL = 0.1
MODE_THICK = 0.12
MODE_EDGE = 0.7  # a colour whose marks this share of lie beside the text's is its anti-aliased edge
MODE_SAMPLE = 400
MODE_STEPS = 3
MODE_COUNT = 4


def _in_text_colour(
    box: npt.NDArray[np.uint8],
    strokes: npt.NDArray[np.bool_],
    core: tuple[slice, slice],
    borders: Sequence[float],
    peak: float,
) -> npt.NDArray[np.bool_]:
    """The ``strokes`` of an RGB ``box`` that have the text's colour: in every channel where the
    text differs from the border (``borders``: each channel's level there), on the text's side of
    the border's level.  The text's colour is read from the strokes inside ``core`` (the
    detector's kernel), and trusted only when it stands out as much as the strokes do (``peak``:
    their response).  A blue colour-flow blob beside cyan text stands out in the blue channel
    as much as the text, and is dark in the green one: taken for strokes, it widened the line over
    the flow, and its height set the padding.  White text over red flow keeps its strokes: they
    are as bright there as elsewhere, though they stand out less in the red channel."""
    gate = np.ones(strokes.shape, bool)
    inside = box[core][strokes[core]]
    if len(inside) < TEXT_SAMPLE:
        return gate
    border = np.asarray(borders, np.float32)
    mode = _colour_mode(box, strokes, core, border, peak)  # the glyphs' own colour, among other hues
    colour = mode if mode is not None else np.median(inside.astype(np.float32), axis=0) - border
    best = float(np.abs(colour).max())
    if best < TEXT_KNOWN * peak:
        return gate  # faint text over anatomy: the strokes inside the kernel are mostly anatomy
    for channel, contrast in enumerate(colour.tolist()):
        if abs(contrast) >= TEXT_CHANNEL * best:
            level = box[:, :, channel].astype(np.float32) - borders[channel]
            gate &= level * math.copysign(1.0, contrast) >= TEXT_COLOUR * abs(contrast)
    # and off the text's hue by no more than TEXT_HUE of its contrast, where the strokes inside the
    # kernel (at least TEXT_AGREE of them) keep to one hue: a grey speckle, a blue sector line or
    # orange flow beside salmon text is as bright as it in the red channel.  (Anti-aliased text
    # through a palette is drawn in several hues: there the hue is not known.)
    away = box.astype(np.float32) - border
    hue = colour / float(np.linalg.norm(colour))
    along = away @ hue
    off = np.linalg.norm(away - along[..., None] * hue, axis=-1)
    on_hue = off <= TEXT_HUE * best
    if mode is not None:
        # the glyphs' own colour is known: a stroke lies on its hue for its own distance from the
        # border too (dim speckle lies near any hue), and only such strokes are kept (anti-aliased
        # edges over the dark lie on the hue; a mark beside a glyph, speckle or flow, is not the glyph's)
        gate &= on_hue & (off <= TEXT_HUE * along)
        return gate
    if float(on_hue[core][strokes[core]].mean()) >= TEXT_AGREE:
        from dicom_deid.pixels.ocr import _import_cv2

        # a stroke's anti-aliased edge blends the text's hue with the flow's: kept beside its stroke
        near = _import_cv2().dilate((on_hue & strokes).astype(np.uint8), np.ones((3, 3), np.uint8))
        gate &= near > 0
    return gate


def _off_hue(colour: npt.NDArray[np.float32], mode: npt.NDArray[np.float32]) -> bool:
    """``colour`` (from the border's level) lies off the hue of ``mode`` by more than ``TEXT_HUE``
    of the mode's contrast: another hue, not a dimmer or brighter shade of the mode's."""
    hue = mode / float(np.linalg.norm(mode))
    off = float(np.linalg.norm(colour - float(colour @ hue) * hue))
    return off > TEXT_HUE * float(np.abs(mode).max())


def _colour_mode(
    box: npt.NDArray[np.uint8],
    strokes: npt.NDArray[np.bool_],
    core: tuple[slice, slice],
    border: npt.NDArray[np.float32],
    peak: float,
) -> npt.NDArray[np.float32] | None:
    """The colour of the glyphs among the strokes of several hues inside ``core`` (from the
    border's level): of the dense colours of those strokes, the one that is known (``TEXT_KNOWN``
    of ``peak`` from the border), drawn in thin strokes (``_thin``), found all along the kernel
    (``MODE_SPAN`` of its length) and held by ``MODE_SHARE`` of the strokes; None where there is no
    such colour, or another of another hue that is known, thin, found all along the kernel and
    held by ``MODE_RIVAL`` of the strokes (not known which is the text's: the median stands).

    Glyphs are drawn in one colour, in strokes a few pixels wide; speckle spreads along the grey
    axis, flow along its colour map and in blobs (a green clock over red and blue flow and speckle
    on a small Doppler frame: the strokes' median was grey, not known, and the flow and speckle
    touching the clock made its box half as tall again; a yellow number over a red vessel: the
    median was orange, and the red channel alone kept the vessel).  Dense colours are found by
    counting each stroke's neighbours within ``MODE_RADIUS`` of the peak (among ``MODE_SAMPLE``
    strokes, evenly spaced), moving to the mean of the strokes around the densest (mean shift,
    ``MODE_STEPS`` steps), and again among the strokes not yet taken (``MODE_COUNT`` colours)."""
    kernel = strokes[core]
    colours = box[core][kernel].astype(np.float32) - border
    radius = MODE_RADIUS * peak
    sample = colours[:: max(1, len(colours) // MODE_SAMPLE)]
    wide = sample.astype(np.float64)  # squared distances from the Gram matrix: exact for these levels
    square = (wide * wide).sum(axis=1)
    near = square[:, None] + square[None, :] - 2.0 * (wide @ wide.T) <= radius * radius
    free = np.abs(sample).max(axis=1) >= TEXT_KNOWN * peak  # seeds: known colours not yet taken
    untaken = np.ones(len(sample), bool)
    along = kernel.shape[1] >= kernel.shape[0]
    pieces = max(1, round(kernel.shape[1 if along else 0] / max(1, min(kernel.shape))))
    found: list[tuple[npt.NDArray[np.float32], float, npt.NDArray[np.bool_]]] = []  # known, thin, all along
    for _ in range(MODE_COUNT):
        if not free.any():
            break
        counts = np.where(free, (near & untaken).sum(axis=1), -1)  # neighbours not yet taken
        mode = sample[int(counts.argmax())]
        members = np.ones(len(colours), bool)
        for _step in range(MODE_STEPS):
            members = _within(colours, mode, radius)
            mode = colours[members].mean(axis=0)
        taken = _within(sample, mode, radius)
        untaken &= ~taken
        free &= ~taken
        where = np.zeros(kernel.shape, bool)
        where[kernel] = members
        seen = where.any(axis=0 if along else 1)  # along the kernel
        spans = float(np.mean([part.any() for part in np.array_split(seen, pieces)])) >= MODE_SPAN
        if spans and float(np.abs(mode).max()) >= TEXT_KNOWN * peak and members.mean() >= MODE_RIVAL \
                and _thin(where):
            found.append((np.asarray(mode, np.float32), float(members.mean()), where))
    if not found or found[0][1] < MODE_SHARE:
        return None
    text, _share, glyphs = found[0]
    from dicom_deid.pixels.ocr import _import_cv2

    edges = _import_cv2().dilate(glyphs.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    for other, _share, marks in found[1:]:
        if _off_hue(other, text) and float(edges[marks].mean()) < MODE_EDGE:
            return None  # two colours could be the text's: not known which
    return text


def _within(colours: npt.NDArray[np.float32], centre: npt.NDArray[np.float32], radius: float) -> npt.NDArray[np.bool_]:
    """The ``colours`` (rows) within ``radius`` of ``centre``."""
    away = colours - centre
    return np.asarray(np.einsum("ij,ij->i", away, away) <= radius * radius, dtype=bool)


def _thin(where: npt.NDArray[np.bool_]) -> bool:
    """The marks of ``where`` (the kernel: rows and columns) are strokes, not blobs: at most
    ``MODE_THICK`` of them outlast an erosion by a square a sixth of the kernel's thickness across
    (at least 3 px).  A glyph's strokes (in its full colour) are thinner; flow is not."""
    from dicom_deid.pixels.ocr import _import_cv2

    side = max(3, (min(where.shape) // 6) | 1)
    marks = where.astype(np.uint8)
    kept = _import_cv2().erode(marks, np.ones((side, side), np.uint8))
    return int(kept.sum()) <= MODE_THICK * int(marks.sum())

def tighten(image: npt.NDArray[np.uint8], box: TextBox, core: TextBox | None = None) -> TextBox:
    """``box`` shrunk to the rows and columns holding glyph strokes, never inside ``core`` (the
    detector's kernel, which lies inside the text); unchanged when no stroke is found."""
    found = stroke_mask(image, box, core)
    if found is None:
        return box
    mask, (x0, y0) = found
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    if rows.size == 0 or cols.size == 0:
        return box
    if core is not None:  # across the line: not over a few stray strokes beyond its rows
        if box.width >= box.height:
            rows = _across(mask, core.y - y0, core.y1 - y0, axis=1)
        else:
            cols = _across(mask, core.x - x0, core.x1 - x0, axis=0)
        if rows.size == 0 or cols.size == 0:
            return box
    tight = TextBox(x0 + int(cols[0]), y0 + int(rows[0]), int(cols[-1] - cols[0] + 1),
                    int(rows[-1] - rows[0] + 1), box.score)
    if core is not None:
        tight = union_box([tight, core])
    # never outside the box searched
    bx0, by0 = max(tight.x, box.x), max(tight.y, box.y)
    bx1, by1 = min(tight.x1, box.x1), min(tight.y1, box.y1)
    return TextBox(bx0, by0, bx1 - bx0, by1 - by0, box.score)


def _across(mask: npt.NDArray[np.bool_], lo: int, hi: int, axis: int) -> npt.NDArray[np.intp]:
    """Indices across the line (rows of ``mask``; columns with ``axis`` 0, a vertical line) that
    hold strokes of a mark reaching into the kernel's rows ``lo:hi``: a mark wholly above or
    below them is not the line's (colour-flow speckle above an ultrasound clock, taken in by a
    second pass's taller box, set the line's height and padding: 7 % of the frame blacked out).
    A descender or an ascender is part of its glyph and stays."""
    from dicom_deid.pixels.ocr import _import_cv2

    size = mask.shape[1 - axis]
    lo, hi = max(0, min(size, lo)), max(0, min(size, hi))
    marks = np.ascontiguousarray(mask if axis == 1 else mask.T, dtype=np.uint8)
    if hi <= lo:
        return np.flatnonzero(marks.any(axis=1))
    _count, labels, stats, _ = _import_cv2().connectedComponentsWithStats(marks, connectivity=4)
    top, tall = stats[:, 1], stats[:, 3]
    keep = (top < hi) & (top + tall > lo)
    keep[0] = False
    return np.flatnonzero(keep[labels].any(axis=1))


#: Across a line (``trim_texture``): a row at the top or bottom of the tightened line (a column, for
#: a vertical line) is texture, not glyph, when at least ``CONTINUED`` of its strokes go on into the
#: next row outwards (within a column either side) and its strongest strokes (the ``STRONG``
#: percentile of their response) are under ``DIMMER`` times those of the rows of the detector's kernel.
CONTINUED = 0.5
DIMMER = 0.8
STRONG = 90
#: ... and only where the glyphs stand out (their strongest strokes respond at least ``SALIENT`` of
#: 255: grey text over anatomy is as strong as the anatomy, and its anti-aliased edges dimmer)
SALIENT = 160
#: ... and only on a level line: one whose strokes climb by at most ``CLIMB`` of its kernel's
#: thickness along its length (a tilted line's top and bottom rows hold the glyphs at its ends).
CLIMB = 0.5


def trim_texture(image: npt.NDArray[np.uint8], tight: TextBox, core: TextBox | None) -> TextBox:
    """``tight`` (a line tightened to its strokes) without the rows at its top and bottom (columns
    at its sides, for a vertical line) that hold texture, not glyphs, never inside ``core`` (the
    detector's kernel, which lies inside the text); and without the columns at its ends (rows, for
    a vertical line) outside the kernel whose only strokes were in the rows trimmed.

    Speckle touching the glyphs is one stroke with them, and ``tighten`` keeps it: on a small
    ultrasound frame a 20 px name over bright speckle was taken to be 28 px high, and the padding,
    a share of that height, blacked out 10 % of the frame.  A glyph ends at the line's top and
    bottom rows (a descender's tip, the foot of a serif): its strokes do not go on beyond them.
    Texture does, and it is dimmer than the text: the rows of a speckle blob under the line hold
    strokes that go on in the rows below.  So the line's outer rows are dropped, from the outside
    in, while most of their strokes go on outwards (looked for one line thickness around the line)
    and are dimmer than the glyphs; a row whose strokes end there, or as strong as the glyphs (glyphs
    the detector's box cut), stops the trim.  A tilted line (``CLIMB``) is not trimmed across: its
    top and bottom rows hold the glyphs at its ends.  Nothing is trimmed on a clean background."""
    if core is None:
        return tight
    horizontal = tight.width >= tight.height
    rows, columns = image.shape[:2]
    thick = min(tight.width, tight.height)
    x0, y0 = max(0, tight.x - thick), max(0, tight.y - thick)
    area = TextBox(x0, y0, min(columns, tight.x1 + thick) - x0, min(rows, tight.y1 + thick) - y0)
    found = stroke_response(image, area, core)
    if found is None:
        return tight
    mask, response, (x0, y0) = found
    # in the line's frame: rows across it, columns along it
    line = (tight.y - y0, tight.y1 - y0, tight.x - x0, tight.x1 - x0)
    kernel = (core.y - y0, core.y1 - y0, core.x - x0, core.x1 - x0)
    if not horizontal:
        mask, response = mask.T, response.T
        line, kernel = (line[2], line[3], line[0], line[1]), (kernel[2], kernel[3], kernel[0], kernel[1])
    first, last, start, stop = line
    k0, k1 = max(first, kernel[0]), min(last, kernel[1])
    m0, m1 = max(start, kernel[2]), min(stop, kernel[3])
    glyphs = response[k0:k1, m0:m1][mask[k0:k1, m0:m1]]
    if glyphs.size == 0 or percentile(glyphs, STRONG) < SALIENT:
        return tight  # faint text: its strokes are told from the texture by no level
    limit = DIMMER * percentile(glyphs, STRONG)

    def texture(strokes: npt.NDArray[np.bool_], values: npt.NDArray[np.uint8], outer: npt.NDArray[np.bool_]) -> bool:
        return bool(strokes.any()) and percentile(values[strokes], STRONG) < limit and _goes_on(strokes, outer)

    along = slice(start, stop)
    # a tilted line's outer rows hold its end glyphs: its climb is measured on the strokes as
    # strong as glyphs (speckle all round would hold the fit level)
    strong = mask[first:last, m0:m1] & (response[first:last, m0:m1] >= limit)
    level = not _climbs(strong, k1 - k0)
    while level and first < k0 and first > 0 \
            and texture(mask[first, along], response[first, along], mask[first - 1, along]):
        first += 1
    while level and last > max(k1, first + 1) and last < mask.shape[0] \
            and texture(mask[last - 1, along], response[last - 1, along], mask[last, along]):
        last -= 1
    # the columns at the line's ends (outside the kernel) that held strokes only in the rows just
    # trimmed: they were the texture's, not the line's
    kept, was = slice(first, last), slice(line[0], line[1])
    while start < m0 and not mask[kept, start].any() and mask[was, start].any():
        start += 1
    while stop > max(m1, start + 1) and not mask[kept, stop - 1].any() and mask[was, stop - 1].any():
        stop -= 1
    if horizontal:
        return TextBox(x0 + start, y0 + first, stop - start, last - first, tight.score, tight.core)
    return TextBox(x0 + first, y0 + start, last - first, stop - start, tight.score, tight.core)


def _climbs(strokes: npt.NDArray[np.bool_], thickness: int) -> bool:
    """The line of ``strokes`` (rows across it, columns along it) climbs by more than ``CLIMB`` of
    ``thickness`` (its kernel's) along its length: the rows its columns' strokes are centred on,
    fitted by a straight line."""
    counts = strokes.sum(axis=0)
    filled = np.flatnonzero(counts)
    if filled.size < 3:
        return False
    centres = (strokes * np.arange(strokes.shape[0])[:, None]).sum(axis=0)[filled] / counts[filled]
    slope = float(np.polyfit(filled.astype(np.float64), centres, 1, w=np.sqrt(counts[filled]))[0])
    return abs(slope) * float(filled[-1] - filled[0]) > CLIMB * thickness


def _goes_on(row: npt.NDArray[np.bool_], outer: npt.NDArray[np.bool_]) -> bool:
    """At least ``CONTINUED`` of the strokes of ``row`` touch one of ``outer`` (the next row out)."""
    count = int(row.sum())
    near = outer.copy()
    near[1:] |= outer[:-1]
    near[:-1] |= outer[1:]
    return int((row & near).sum()) >= CONTINUED * count


def core_of(boxes: Sequence[TextBox]) -> TextBox | None:
    """Union of the detector kernels of ``boxes`` (None when none has one)."""
    cores = [TextBox(*b.core) for b in boxes if b.core is not None]
    return union_box(cores) if cores else None


def line_height(box: TextBox, reading: Reading) -> int:
    """Glyph (line) height: the shorter side, or the side across the reading direction."""
    if reading.rotation in (90, 270):
        return box.width
    return min(box.width, box.height) if box.height > 1.3 * box.width else box.height


def glyph_size(box: TextBox, reading: Reading) -> int:
    """Glyph height for the sanity check: the line height, or for a tilted line (whose box is taller
    than its glyphs) the line's length over the characters read (a glyph is about half as wide
    as tall)."""
    height = line_height(box, reading)
    count = len(reading.text.replace(" ", ""))
    if count >= 3:
        along = box.height if reading.rotation in (90, 270) else box.width
        height = min(height, round(along / (0.45 * count)))
    return height


def pad_box(
    box: TextBox, glyph_height: int, rows: int, columns: int, *, cut: tuple[bool, bool] = (True, True)
) -> TextBox:
    """Padding by a share of the line height: ``PAD_SHARE`` all round (at least ``MIN_PAD``),
    ``END_SHARE`` at an end of the line where the detector box cut through strokes (``cut``:
    start, end along the line), since the line may go on there.  Such an end padded to within
    ``EDGE_REACH`` line heights of the image's edge, and any other side padded to within its own
    padding of it, reaches the edge (see ``EDGE_REACH``)."""
    base = max(MIN_PAD, math.ceil(PAD_SHARE * glyph_height))
    end = max(base, math.ceil(END_SHARE * glyph_height))
    start_pad, end_pad = (end if cut[0] else base), (end if cut[1] else base)
    # how near the image's edge each side may end and still be taken to it: a cut end within
    # EDGE_REACH line heights, any other side within its own padding
    start_reach: float = EDGE_REACH * glyph_height if cut[0] else base
    end_reach: float = EDGE_REACH * glyph_height if cut[1] else base
    if box.width >= box.height:
        x0, x1 = box.x - start_pad, box.x1 + end_pad
        y0, y1 = box.y - base, box.y1 + base
        left, right, top, bottom = start_reach, end_reach, float(base), float(base)
    else:
        x0, x1 = box.x - base, box.x1 + base
        y0, y1 = box.y - start_pad, box.y1 + end_pad
        left, right, top, bottom = float(base), float(base), start_reach, end_reach
    x0, x1 = (0 if x0 <= left else x0), (columns if columns - x1 <= right else x1)
    y0, y1 = (0 if y0 <= top else y0), (rows if rows - y1 <= bottom else y1)
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(columns, x1), min(rows, y1)
    return TextBox(x0, y0, x1 - x0, y1 - y0, box.score)


def plausible_glyphs(box: TextBox, glyph_height: int, rows: int, columns: int) -> bool:
    """Line height from 4 px to an eighth of the shorter image side (at least 48 px)."""
    limit = max(48, min(rows, columns) // 8)
    return MIN_GLYPH <= glyph_height <= limit


def judge(
    image: npt.NDArray[np.uint8],
    proposal: Proposal,
    reading: Reading,
    *,
    read_box: TextBox | None = None,
    core: TextBox | None = None,
    derived: bool = False,
) -> Judged:
    """Verdict for a region (``proposal``: the box to black out when it is text) from the reading
    of ``read_box`` (default: the same box) on ``image``; the final box is tight and padded.

    ``derived``: ``image`` is a projection of several frames, not a frame; there only a
    confirmed reading counts (uncertain ones are rejected)."""
    rows, columns = image.shape[:2]
    verdict = judge_reading(reading, read_box or proposal.box)
    tight = trim_texture(image, tighten(image, proposal.box, core), core)
    height = line_height(tight, reading)
    glyph = glyph_size(tight, reading)
    strokes = None  # the height of a slanted line's glyph strokes, where its box climbs
    if tight.width >= SLANT_LENGTH * tight.height and reading.rotation == 0:
        strokes = column_height(image, tight, core)
        strokes = None if strokes is None or strokes >= SLANT * height else max(MIN_GLYPH, strokes)
    level = glyph >= TILTED * height and strokes is None  # neither tilted nor slanted
    if glyph < TILTED * height:  # a tilted line: its box is taller than its glyphs; pad by the glyphs
        height = max(MIN_GLYPH, glyph)
    elif strokes is not None:  # a slanted line: pad by its glyphs
        height = strokes
    if strokes is not None:  # and judge the glyphs' size by the strokes, not by the climb of the line
        glyph = min(glyph, strokes)
    if verdict is Verdict.CONFIRMED and glyph >= BLOB_ROW_ACROSS and reading.mean_confidence < CONFIRM_FEW_MEAN:
        verdict = Verdict.UNCERTAIN  # glyphs larger than any label, read unsurely: a column of phantom discs
    if verdict is not Verdict.REJECTED and not plausible_glyphs(tight, glyph, rows, columns):
        if verdict is Verdict.CONFIRMED and (glyph < MIN_GLYPH or reading.mean_confidence >= CONFIRM_FEW_MEAN):
            verdict = Verdict.UNCERTAIN
        else:  # glyphs larger than any label and a doubtful reading: ribs, gyri, lung fields
            verdict = Verdict.REJECTED
    if verdict is Verdict.UNCERTAIN and derived:
        verdict = Verdict.REJECTED  # projections of moving anatomy look like text; frames decide
    box = proposal.box
    if tight.width >= tight.height:  # strokes up to the box's end: the line may go on beyond it
        cut = (tight.x <= max(0, box.x), tight.x1 >= min(columns, box.x1))
    else:
        cut = (tight.y <= max(0, box.y), tight.y1 >= min(rows, box.y1))
    line = tight
    grown: tuple[TextBox, ...] = ()
    probed = (False, False)
    if verdict is Verdict.CONFIRMED and tight.width >= tight.height:
        probed = (not cut[0], not cut[1])  # the box stopped at a space: one more word may follow
        tight = extend_line(image, tight, height, cut, word=probed)  # vertical ones ran on over anatomy
        if level:  # a tilted line's box holds anatomy in its corners, not more of the line
            tight = _within_box(tight, box, height, columns)
        grown = growth(line, tight)
        # the line was followed beyond each cut end to where its strokes stop: an end is still cut
        # only where the strokes went on to the end of the search (the line may go on further)
        reach = EXTEND_LINES * max(height, MIN_GLYPH)
        cut = (cut[0] and tight.x <= max(0, line.x - reach), cut[1] and tight.x1 >= min(columns, line.x1 + reach))
    return Judged(pad_box(tight, height, rows, columns, cut=cut), verdict, proposal.image, height,
                  line, grown, cut, probed)


def _within_box(tight: TextBox, box: TextBox, height: int, columns: int) -> TextBox:
    """``tight`` (a confirmed level line, followed) reaching to each end of the detector's ``box``
    that lies at least a line height beyond it: what tightening left out there becomes growth,
    kept only where it reads as text (``fit.confirm_growth``).  Tightened to the strokes of the
    colour read inside the kernel, a line in two colours lost its other words: a grey name after
    a red clock, read whole as "10:02:14 JONES", was left uncovered."""
    x0, x1 = tight.x, tight.x1
    if tight.x - max(0, box.x) >= height:
        x0 = max(0, box.x)
    if min(columns, box.x1) - tight.x1 >= height:
        x1 = min(columns, box.x1)
    if (x0, x1) == (tight.x, tight.x1):
        return tight
    return TextBox(x0, tight.y, x1 - x0, tight.height, tight.score, tight.core)


#: A horizontal line at least SLANT_LENGTH times as long as high whose columns hold strokes over
#: less than SLANT of its height is slanted: its glyphs (the height of the stroke columns) set the
#: padding, not the box, which is taller by the climb of the line.
SLANT_LENGTH = 2.0
SLANT = 0.75
COLUMN_SHARE = 90  # percentile of the columns' stroke heights (ascenders count, "-" and ":" not)


def column_height(image: npt.NDArray[np.uint8], box: TextBox, core: TextBox | None = None) -> int | None:
    """The height of the glyph strokes in ``box``'s columns (the ``COLUMN_SHARE`` percentile of
    each column's extent from its first to its last stroke row); None without strokes."""
    found = stroke_mask(image, box, core)
    if found is None:
        return None
    mask = found[0]
    filled = mask.any(axis=0)
    if filled.sum() < 3:
        return None
    first = np.argmax(mask, axis=0)
    last = mask.shape[0] - 1 - np.argmax(mask[::-1], axis=0)
    extent = (last - first + 1)[filled]
    return int(percentile(extent, COLUMN_SHARE))


def growth(line: TextBox, grown: TextBox) -> tuple[TextBox, ...]:
    """The parts of ``grown`` (``line`` followed along its direction) outside ``line``."""
    pieces = []
    if grown.width >= grown.height or line.width >= line.height:  # along x
        if grown.x < line.x:
            pieces.append(TextBox(grown.x, line.y, line.x - grown.x, line.height, line.score))
        if grown.x1 > line.x1:
            pieces.append(TextBox(line.x1, line.y, grown.x1 - line.x1, line.height, line.score))
    else:
        if grown.y < line.y:
            pieces.append(TextBox(line.x, grown.y, line.width, line.y - grown.y, line.score))
        if grown.y1 > line.y1:
            pieces.append(TextBox(line.x, line.y1, line.width, grown.y1 - line.y1, line.score))
    return tuple(pieces)


#: A confirmed line cut by the detector box is followed beyond the cut, at most this many line
#: heights, across gaps of at most GAP_SHARE line heights, while its rows hold GLYPH_CONTRAST times
#: the ink of the rows just above and below (text, not texture).
EXTEND_LINES = 4
GAP_SHARE = 0.8
GLYPH_CONTRAST = 2.0
#: An end of a confirmed line the detector's box did not cut is searched too, for one more word
#: beyond a space of at most WORD_GAP line heights (a monospaced space with the glyphs' side
#: bearings): the detector's box often stops at a space ("FITZGERALD" of "FITZGERALD O", the
#: surname of "SMITH JOHN").  The word must read as text (``fit.confirm_growth``).
WORD_GAP = 1.3


def extend_line(
    image: npt.NDArray[np.uint8], line: TextBox, height: int, cut: tuple[bool, bool],
    word: tuple[bool, bool] = (False, False),
) -> TextBox:
    """``line`` grown along its direction beyond each ``cut`` end (start, end) over the glyph
    strokes that go on in its rows: the detector often proposes only part of a line (the time of
    "09:12:27", the surname of a name), and the rest of the label stayed readable.  Beyond each
    ``word`` end the strokes may start after a space of up to ``WORD_GAP`` line heights."""
    rows, columns = image.shape[:2]
    horizontal = line.width >= line.height
    reach = EXTEND_LINES * max(height, MIN_GLYPH)
    word = (word[0] and not cut[0], word[1] and not cut[1])
    cut = (cut[0] or word[0], cut[1] or word[1])
    if not any(cut):
        return line
    if horizontal:
        area = TextBox(max(0, line.x - reach * cut[0]), max(0, line.y - line.height), 0, 0)
        area = TextBox(area.x, area.y, min(columns, line.x1 + reach * cut[1]) - area.x,
                       min(rows, line.y1 + line.height) - area.y)
    else:
        area = TextBox(max(0, line.x - line.width), max(0, line.y - reach * cut[0]), 0, 0)
        area = TextBox(area.x, area.y, min(columns, line.x1 + line.width) - area.x,
                       min(rows, line.y1 + reach * cut[1]) - area.y)
    found = stroke_mask(image, area, core=line)
    if found is None:
        return line
    mask, (x0, y0) = found
    level = level_strokes(image, area, line, (x0, y0), mask.shape)
    if not horizontal:
        mask, (x0, y0) = mask.T, (y0, x0)  # along the line = columns of the mask
        level = None if level is None else level.T
    start, stop = (line.x, line.x1) if horizontal else (line.y, line.y1)
    band0, band1 = ((line.y, line.y1) if horizontal else (line.x, line.x1))
    band = mask[band0 - y0 : band1 - y0]
    around = np.concatenate([mask[: max(0, band0 - y0)], mask[band1 - y0 :]])
    if band.size == 0:
        return line
    ink: npt.NDArray[np.bool_] = np.asarray(band.any(axis=0), dtype=bool)
    gap_limit = max(2, round(GAP_SHARE * height))
    space = max(gap_limit, round(WORD_GAP * height))
    new_start, new_stop = start, stop
    for end, step in ((0, -1), (1, 1)):
        if not cut[end]:
            continue
        position = (start - x0 - 1) if step < 0 else (stop - x0)
        last = follow(ink, position, step, space if word[end] else gap_limit, gap_limit)
        if last is not None and not holds_glyphs(band, around, last, position, GLYPH_CONTRAST):
            last = None  # the rows around hold as much ink: anatomy, not the rest of the line
        if level is not None:  # and on, where the line stands out less or turns: strokes at its level
            begin = position if last is None else last + step
            far = follow(np.asarray(level[band0 - y0 : band1 - y0].any(axis=0), dtype=bool), begin, step,
                          space if word[end] and last is None else gap_limit, gap_limit)
            if far is not None and level_glyphs(level, band0 - y0, band1 - y0, far, begin):
                last = far
        if last is None:
            continue
        if step < 0:
            new_start = x0 + last
        else:
            new_stop = x0 + last + 1
    if horizontal:
        return TextBox(new_start, line.y, new_stop - new_start, line.height, line.score, line.core)
    return TextBox(line.x, new_start, line.width, new_stop - new_start, line.score, line.core)


__all__ = [
    "Judged",
    "Proposal",
    "Verdict",
    "core_of",
    "extend_line",
    "group_duplicates",
    "growth",
    "judge",
    "judge_reading",
    "pad_box",
    "tighten",
    "union_box",
]
