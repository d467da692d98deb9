"""Thin a confirmed line to a thinner copy of it: a line seen over a mix of frames (a
projection of a run) or with anatomy beside it taken as strokes keeps the thickness of a copy
confirmed alone, where what the thinning takes off reads as no text.  Pure apart from the
recognizer; ``stage`` runs it before ``fit.merge_lines``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from dicom_deid.pixels.confirm import (
    MIN_GLYPH,
    Judged,
    Verdict,
    judge_reading,
    pad_box,
    stroke_mask,
    tighten,
    union_box,
)
from dicom_deid.pixels.deskew import level_line
from dicom_deid.pixels.fit import LINE_RATIO, body_of, reading_crop, reads_as_glyphs, same_line
from dicom_deid.pixels.ocr import TextBox
from dicom_deid.pixels.recognize import Reading

if TYPE_CHECKING:
    import numpy.typing as npt

    from dicom_deid.pixels.detect import TextRecognizer, TextSearch


#: A line confirmed on a projection of a run (``derived``) that holds a line confirmed on a frame
#: across its thickness and more than ``THIN_RATIO`` times as thick, and overlaps it along by at
#: least ``THIN_ALONG`` of the shorter, is that line seen over a mix of frames: it keeps the frame
#: line's thickness (its own length), unless what that takes off reads as text (``reads_as_glyphs``).
#: (Copies within ``LINE_RATIO`` are joined by ``merge_lines``, but as their union: a projection's
#: line 1.6 times as thick as the frame's, over flow that stayed on every frame, was blacked out
#: whole on every frame of the run, 14 % of a 256 x 120 Doppler cine: tune seed 10821 case031.)
#: Below ``LINE_RATIO`` a line is thinned only to a frame copy at least ``GLYPHS_HELD`` times as
#: thick as the projection line's glyphs: a 14 px vertical label's frame copy, 9 px across, would
#: have cut 5 px of its glyphs off every frame (tune seed 10817 case031).
#: A line of a frame is thinned the same way to a copy confirmed on its own search image (its other
#: detector boxes), and cut along to that copy's extent where its ends beyond it read as no glyph: a
#: 39 px vertical label over bright anatomy was confirmed in two boxes, 31 px across and 68 px for the
#: dark vessels beside it taken as strokes; more than ``LINE_RATIO`` apart, they were never joined,
#: and the thick one blacked out 8.6 % of a 512 x 512 CT perfusion (tune seed 10832 case020).
THIN_ALONG = 0.5
THIN_RATIO = 1.25
GLYPHS_HELD = 0.9


def thinned_projections(search: TextSearch, derived: Sequence[bool], recognizer: TextRecognizer) -> TextSearch:
    """``search`` with each projection line thinned to a frame copy it holds (``THIN_ALONG``), and
    each line of a frame to a confirmed copy on its own search image that it holds (``_thinned_to``).

    The minimum projection of a colour Doppler cine showed a grey name under flow that stayed on
    every frame: the detector boxed both, the name read, and the line was 31 px thick for 12 px
    glyphs; blacked out beside the frame copy, it took 17 % of a 256 x 120 frame.  A tilted label's
    box is thick for its glyphs too: the parts a thinning takes off are read first, and a line
    whose parts read as text stays as it is."""
    def is_derived(j: Judged) -> bool:
        return j.image < len(derived) and derived[j.image]

    live = [j for j in search.judged if j.verdict is not Verdict.REJECTED and j.line is not None]
    frames = [j for j in live if not is_derived(j)]
    if not frames or len(live) < 2:
        return search
    judged = list(search.judged)
    for index, region in enumerate(search.judged):
        if region.verdict is Verdict.REJECTED or region.line is None:
            continue
        image = search.images[region.image]
        if is_derived(region):
            cut = _cut_to_frames(region, frames, image, recognizer)
            thinned = _thinned_to(cut or region, frames, image, recognizer, same=False) or cut
        elif region.strip() is not None:
            continue  # a tilted line blacked out in its band: its level copies are joined to it
        else:
            copies = [j for j in live if j is not region and j.image == region.image and j.verdict is Verdict.CONFIRMED]
            thinned = _thinned_to(region, copies, image, recognizer, same=True)
        if thinned is not None:
            judged[index] = thinned
    return dataclasses.replace(search, judged=tuple(judged))


#: A line confirmed on a projection of a run that runs on beyond the extent of all its copies
#: confirmed on frames (at least ``FRAME_COPIES`` of them: one line, ``fit.same_line``) is cut
#: along to that extent at each end where what it has beyond reads as no glyph (``reads_as_glyphs``).
#: The minimum projection of a colour Doppler cine with a red clock changing on every frame showed
#: blue flow that stayed on every frame before the clock's steady "10:"; the detector boxed both,
#: read "10:0", and the line ran 50 px over the flow before the first glyph.  Two frames confirmed
#: the clock, both from its first glyph on; the projection's box (38 px high for 19 px glyphs, too
#: thick and too short along to be thinned to them) blacked out the flow on every frame: 9.8 % of
#: a 256 x 120 frame (tune seed 10878 case014).  One frame copy is not enough: a detector's box on
#: one frame may hold a part of the line; nor is a tilted line cut (a copy banded, or copies more
#: than ``THIN_RATIO`` apart in thickness: level copies of parts of a tilted line are as thick as
#: the part's climb): a part cut off it is read level, poorly (the start of a label tilted by 14
#: degrees read as no glyph and was lost: tune seed 10880 case014, copies 40 and 25 px thick).
FRAME_COPIES = 2


def _cut_to_frames(
    region: Judged, frames: Sequence[Judged], image: npt.NDArray[np.uint8], recognizer: TextRecognizer
) -> Judged | None:
    """``region`` (a projection's line) cut along to the extent of its confirmed frame copies
    (``FRAME_COPIES``) where what it has beyond reads as no glyph; None where nothing is cut."""
    body = body_of(region)
    copies = [j for j in frames if j.verdict is Verdict.CONFIRMED and same_line(body, body_of(j))]
    if len(copies) < FRAME_COPIES or region.strip() is not None or any(j.strip() is not None for j in copies):
        return None
    horizontal = body.width >= body.height
    across = [min(body_of(j).width, body_of(j).height) for j in copies]
    if max(across) > THIN_RATIO * min(across):
        return None  # copies of parts of a tilted line: as thick as the part's climb, not alike
    extent = union_box([body_of(j) for j in copies])
    start, end = (extent.x, extent.x1) if horizontal else (extent.y, extent.y1)
    # an end of the extent is padded as cut where a copy reaching it was cut there
    copy_cut = (any(j.cut[0] and (body_of(j).x if horizontal else body_of(j).y) == start for j in copies),
                any(j.cut[1] and (body_of(j).x1 if horizontal else body_of(j).y1) == end for j in copies))
    line, cut = _cut_along(body, extent, region.cut, copy_cut, region.glyph_height, image, recognizer,
                           held=lambda reading, _box: reads_as_glyphs(reading))
    if line == body:
        return None
    # the glyphs' height as ``judge`` measures it, on what is left: the rows (columns) of its strokes
    tight = tighten(image, line)
    glyphs = max(MIN_GLYPH, min(region.glyph_height, tight.height if horizontal else tight.width))
    height, width = image.shape[:2]
    box = pad_box(line, glyphs, height, width, cut=cut)
    return dataclasses.replace(region, box=box, line=line, grown=(), band=None, cut=cut, glyph_height=glyphs)


def _thinned_to(
    region: Judged, copies: Sequence[Judged], image: npt.NDArray[np.uint8], recognizer: TextRecognizer, *, same: bool
) -> Judged | None:
    """``region`` thinned to the first of ``copies`` it holds across (``_thinned``), where the parts
    taken off read as no glyph; None where none thins it.  A projection's copy is thinned only to a
    frame copy as thick as its glyphs (``GLYPHS_HELD``); a line of a frame only to a copy on the same
    image (``same``) that is not banded and does not cut the glyphs across (``_cuts_glyphs``), and only
    where the line is not one tilted line (``deskew.level_line``: a level copy holds a part of it, and
    a faint tilted date over anatomy whose ends read as nothing lost them: tune seed 10838 case029);
    it is cut along to that copy's extent too where what that takes off reads as no glyph (``_cut_along``)."""
    body = body_of(region)
    height, width = image.shape[:2]
    tilted: bool | None = None  # measured once, where a copy on the same image could thin the line
    for copy in copies:
        frame = body_of(copy)
        thin = _thinned(body, frame)
        if thin is None:
            continue
        across = min(frame.width, frame.height)
        glyphs = min(region.glyph_height, across)
        if same:
            if copy.strip() is not None or min(body.width, body.height) <= SAME_RATIO * across \
                    or _along_share(body, frame) < SAME_ALONG or _cuts_glyphs(image, body, thin):
                continue
            if tilted is None:
                tilted = level_line(image, body) is not None
            if tilted:
                return None  # a tilted line's box is thick for its glyphs; a level copy holds a part
        elif min(body.width, body.height) <= LINE_RATIO * across and across < GLYPHS_HELD * region.glyph_height:
            continue  # a frame copy thinner than the projection's glyphs: cut short across, not the line
        parts = [pad_box(p, glyphs, height, width, cut=(False, False)) for p in _taken_off(body, thin)]
        held = _reads_as_text if same else (lambda reading, _box: reads_as_glyphs(reading))
        if parts and any(held(r, p) for r, p in zip(recognizer.read_boxes(image, parts), parts, strict=True)):
            return None  # the thicker line holds more text than the frame copy
        cut = region.cut
        if same:
            thin, cut = _cut_along(thin, frame, region.cut, copy.cut, glyphs, image, recognizer)
        box = pad_box(thin, glyphs, height, width, cut=cut)
        return dataclasses.replace(region, box=box, line=thin, grown=(), glyph_height=glyphs, band=None, cut=cut)
    return None


#: What a thinning to a copy on the same image takes off holds text where it reads as more than
#: texture (``confirm.judge_reading``), or reads one letter or digit at ``SURE_GLYPH``: anatomy
#: beside a vertical label read "RT1O0aOOO'" (one mark at 0.51, the rest under 0.4) and "OOTn".
SURE_GLYPH = 0.8


def _reads_as_text(reading: Reading, box: TextBox) -> bool:
    if judge_reading(reading, box) is not Verdict.REJECTED:
        return True
    return any(conf >= SURE_GLYPH and ch.isascii() and ch.isalnum()
               for ch, conf in zip(reading.text, reading.confidences, strict=True))


#: A line of a frame is thinned to a copy on its own image only where it is more than ``SAME_RATIO``
#: times as thick: a copy whose box left out the descenders of a name (or its capitals' tops) is 1.25
#: to 1.4 times thinner than the line, and its descenders read as no text ("Ja9ey1i99reyPey", unsurely);
#: the vessels beside a vertical label made its line 1.65 to 2.2 times as thick (tune seed 10832 case020).
SAME_RATIO = 1.5
#: ... and only to a copy that runs along at least ``SAME_ALONG`` of its length: a level copy of the
#: low end of a tilted line lies across only its rows there (a faint tilted date over a PET fusion
#: was thinned to the rows of its last five glyphs, and its start lost: tune seed 10838 case029).
SAME_ALONG = 0.8


def _along_share(body: TextBox, frame: TextBox) -> float:
    """The share of ``body``'s length along the line that ``frame`` runs along too."""
    c0, c1, d0, d1 = (body.x, body.x1, frame.x, frame.x1) if body.width >= body.height else \
        (body.y, body.y1, frame.y, frame.y1)
    return max(0, min(c1, d1) - max(c0, d0)) / max(1, c1 - c0)


#: A copy cuts the glyphs of the line across (``_cuts_glyphs``) where, along at least ``CUT_SHARE``
#: of its length, a stroke at its edge goes on in the next two rows outside it (columns, for a
#: vertical line): a vertical label's copy over 50-90 % of its glyphs' width did so along 32-48 % of
#: it; the dark vessels touching a vertical label along its copy's edge, 5-16 % (tune seed 10832 case020).
CUT_SHARE = 0.25


def _cuts_glyphs(image: npt.NDArray[np.uint8], body: TextBox, thin: TextBox) -> bool:
    """``thin`` (a copy of the line ``body`` holds) cuts through its glyph strokes across the line."""
    found = stroke_mask(image, body, thin)
    if found is None:
        return False
    mask, (x0, y0) = found
    horizontal = body.width >= body.height
    marks, lo, hi = (mask, thin.y - y0, thin.y1 - y0) if horizontal else (mask.T, thin.x - x0, thin.x1 - x0)
    lo, hi = max(0, lo), min(marks.shape[0], hi)
    along = int(marks[lo:hi].any(axis=0).sum())
    if hi <= lo or along == 0:
        return False
    for edge, step in ((lo, -1), (hi - 1, 1)):
        if not 0 <= edge + 2 * step < marks.shape[0]:
            continue
        outside = marks[edge + step] & marks[edge + 2 * step]
        near = outside.copy()
        near[1:] |= outside[:-1]
        near[:-1] |= outside[1:]
        if int((marks[edge] & near).sum()) >= CUT_SHARE * along:
            return True
    return False


def _cut_along(
    thin: TextBox, frame: TextBox, cut: tuple[bool, bool], copy_cut: tuple[bool, bool], glyphs: int,
    image: npt.NDArray[np.uint8], recognizer: TextRecognizer,
    held: Callable[[Reading, TextBox], bool] | None = None,
) -> tuple[TextBox, tuple[bool, bool]]:
    """``thin`` cut along to ``frame``'s extent at each end where it reaches beyond it and what it
    has there reads as no glyph (``reading_crop``; a piece too short to read stays; ``held``: what
    holds a glyph, by default ``_reads_as_text``); an end cut there is padded as ``copy_cut`` says
    of it."""
    holds = held or _reads_as_text
    height, width = image.shape[:2]
    horizontal = thin.width >= thin.height
    c0, c1 = (thin.x, thin.x1) if horizontal else (thin.y, thin.y1)
    d0, d1 = (frame.x, frame.x1) if horizontal else (frame.y, frame.y1)
    r0, r1 = max(c0, d0), min(c1, d1)  # the part the copy holds too
    if r1 <= r0:
        return thin, cut

    def span(a: int, b: int) -> TextBox:
        return TextBox(a, thin.y, b - a, thin.height) if horizontal else TextBox(thin.x, a, thin.width, b - a)

    keep = [c0, c1]
    flags = list(cut)
    for end, a, b in ((0, c0, r0), (1, r1, c1)):
        if b - a < 1:
            continue
        crop = reading_crop(span(a, b), span(r0, r1), glyphs, height, width)
        if crop is None or holds(recognizer.read_boxes(image, [crop])[0], crop):
            continue
        keep[end] = b if end == 0 else a
        flags[end] = copy_cut[end]
    if keep == [c0, c1]:
        return thin, cut
    if horizontal:
        return TextBox(keep[0], thin.y, keep[1] - keep[0], thin.height, thin.score, thin.core), (flags[0], flags[1])
    return TextBox(thin.x, keep[0], thin.width, keep[1] - keep[0], thin.score, thin.core), (flags[0], flags[1])


def _thinned(body: TextBox, frame: TextBox) -> TextBox | None:
    horizontal = body.width >= body.height
    if horizontal != (frame.width >= frame.height):
        return None
    a0, a1, f0, f1 = (body.y, body.y1, frame.y, frame.y1) if horizontal else (body.x, body.x1, frame.x, frame.x1)
    c0, c1, d0, d1 = (body.x, body.x1, frame.x, frame.x1) if horizontal else (body.y, body.y1, frame.y, frame.y1)
    if not (a0 <= f0 and f1 <= a1 and a1 - a0 > THIN_RATIO * (f1 - f0)):
        return None
    if min(c1, d1) - max(c0, d0) < THIN_ALONG * min(c1 - c0, d1 - d0):
        return None
    return TextBox(body.x, f0, body.width, f1 - f0) if horizontal else TextBox(f0, body.y, f1 - f0, body.height)


def _taken_off(body: TextBox, thin: TextBox) -> list[TextBox]:
    """The parts of ``body`` on either side of ``thin`` across the line (none where empty)."""
    if body.width >= body.height:
        parts = [TextBox(body.x, body.y, body.width, thin.y - body.y),
                 TextBox(body.x, thin.y1, body.width, body.y1 - thin.y1)]
    else:
        parts = [TextBox(body.x, body.y, thin.x - body.x, body.height),
                 TextBox(thin.x1, body.y, body.x1 - thin.x1, body.height)]
    return [p for p in parts if p.width > 0 and p.height > 0]


__all__ = ["CUT_SHARE", "FRAME_COPIES", "GLYPHS_HELD", "SAME_ALONG", "SAME_RATIO", "THIN_ALONG", "THIN_RATIO", "thinned_projections"]
