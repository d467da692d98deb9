"""Keep confirmed boxes on the text: what a line grew by must read as text.  Pure apart from the recognizer.

``confirm.judge`` follows a confirmed line beyond the end where the detector's box cut it
(``confirm.extend_line``: the detector often proposes "12:27" of "09:12:27"), over the strokes
that go on in the line's rows, and beyond an end it did not cut over one more word past a space
(``confirm.WORD_GAP``: the "O" of "FITZGERALD O").  Anatomy beside a label on a small, busy image (an ultrasound
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
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from dicom_deid.pixels.confirm import (
    MIN_CONFIDENT,
    MIN_PAD,
    PAD_SHARE,
    Judged,
    Verdict,
    pad_box,
    stroke_mask,
    union_box,
)
from dicom_deid.pixels.ocr import TextBox
from dicom_deid.pixels.readout import BoxReader, LonePart, read_count, unread_span
from dicom_deid.pixels.recognize import Reading
from dicom_deid.pixels.redact import Strip

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
        image = search.images[image_index]
        blanked = [without_other_lines(image, crop, search.judged, index) for index, _, crop in members]
        plain = [crop for (_, _, crop), other in zip(members, blanked, strict=True) if other is None]
        read = iter(recognizer.read_boxes(image, plain) if plain else [])
        readings = [next(read) if other is None else
                    recognizer.read_boxes(other, [TextBox(0, 0, other.shape[1], other.shape[0])])[0]
                    for other in blanked]
        for (index, number, _crop), reading in zip(members, readings, strict=True):
            piece = search.judged[index].grown[number]
            if not (read_count(reading) if isinstance(piece, LonePart) else reads_as_glyphs(reading)):
                dropped.setdefault(index, set()).add(number)
    fitted = list(search.judged)
    for index, numbers in dropped.items():
        was = fitted[index]
        image = search.images[was.image]
        numbers |= beyond(was, numbers)
        fitted[index] = refit(was, numbers, image)
        for at_start in trimmed_ends(was, numbers):
            fitted[index] = trim_end(fitted[index], at_start, image, recognizer)
    return dataclasses.replace(search, judged=tuple(fitted))


def without_other_lines(
    image: npt.NDArray[np.uint8], crop: TextBox, judged: Sequence[Judged], index: int
) -> npt.NDArray[np.uint8] | None:
    """The pixels of ``crop`` (a part line ``index`` of ``judged`` grew by, to be read) with the
    other confirmed lines of its search image in it filled with the crop's median (their padded
    lines; a tilted line's band), or None where no other line lies in it.  A part is kept only for
    glyphs of its own: another label it reaches is blacked out as that label (a tilted line's level
    copy grew 192 px over anatomy along rows that held the top of a name below it, read "AKMA",
    and the part was kept: 4 % of a 512 x 460 MR, tune seed 10831 case039).  Copies of the line
    itself (their lines overlap) are left, and so are lines less than half of which lies across
    the crop (a line stacked just below or above: the glyphs of the part may reach into its padding)."""
    own = judged[index]
    assert own.line is not None
    horizontal = own.line.width >= own.line.height
    rows, columns = image.shape[:2]
    x0, y0 = max(0, crop.x), max(0, crop.y)
    x1, y1 = min(columns, crop.x1), min(rows, crop.y1)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    cover = np.zeros((y1 - y0, x1 - x0), dtype=bool)
    for at, other in enumerate(judged):
        if at == index or other.verdict is not Verdict.CONFIRMED or other.line is None or other.image != own.image:
            continue
        if other.line.intersection(own.line) is not None or not _mostly_across(other.line, crop, horizontal):
            continue  # a copy of the line, or a line above or below it (only its padding reaches in)
        strip = other.strip()
        area = other.box if strip is not None else pad_box(other.line, other.glyph_height, rows, columns,
                                                            cut=(False, False))
        part = area.intersection(TextBox(x0, y0, x1 - x0, y1 - y0))
        if part is None:
            continue
        inside = True if strip is None else strip.mask(part.x, part.y, part.width, part.height)
        cover[part.y - y0 : part.y1 - y0, part.x - x0 : part.x1 - x0] |= inside
    if not cover.any():
        return None
    pixels = np.array(image[y0:y1, x0:x1], copy=True)
    if cover.all():
        return np.zeros_like(pixels)
    pixels[cover] = np.median(pixels[~cover], axis=0).astype(np.uint8)
    return pixels


def _mostly_across(line: TextBox, crop: TextBox, horizontal: bool) -> bool:
    """At least half of ``line``'s extent across (rows of a level crop, columns of a vertical one)
    lies in ``crop``'s: a line stacked above or below the one read touches it only by a row or two."""
    a0, a1, c0, c1 = (line.y, line.y1, crop.y, crop.y1) if horizontal else (line.x, line.x1, crop.x, crop.x1)
    return 2 * (min(a1, c1) - max(a0, c0)) >= a1 - a0


def beyond(judged: Judged, dropped: set[int]) -> set[int]:
    """The grown parts of ``judged`` farther out along its line than a part in ``dropped``: the
    line goes on past a part only where that part is text (``detect.judge_group`` gives a line
    two parts at an end: the part one detector box alone held, and what the line grew by past it)."""
    assert judged.line is not None
    line = judged.line
    horizontal = line.width >= line.height
    out: set[int] = set()
    for number, piece in enumerate(judged.grown):
        for lost in (judged.grown[n] for n in dropped):
            if horizontal:
                before = piece.x1 <= lost.x <= line.x and lost.x < line.x
                after = piece.x >= lost.x1 >= line.x1 and lost.x >= line.x1
            else:
                before = piece.y1 <= lost.y <= line.y and lost.y < line.y
                after = piece.y >= lost.y1 >= line.y1 and lost.y >= line.y1
            if before or after:
                out.add(number)
    return out


#: A level line whose growth at an end was dropped (its strokes ran on there into what does not
#: read: the detector's box itself may hold some of it) is read again cut at that end, up to
#: ``TRIM_LINES`` line heights in (``trim_end``), and trimmed where that cuts off at least
#: ``TRIM_MIN`` line heights: less may be a glyph the recognizer does not read (the last digit of
#: a clock over the flow), and its padding as a cut end would not cover it.
TRIM_LINES = 3.0
TRIM_MIN = 1.0


def trimmed_ends(judged: Judged, dropped: set[int]) -> list[bool]:
    """The ends of ``judged``'s line (True: its start) to read again cut (``trim_end``): those of
    a level line where a grown part in ``dropped`` lies and no grown part is kept (a kept part
    there is read text the line runs on into)."""
    assert judged.line is not None
    line = judged.line
    if line.width < line.height:  # ``unread_span`` reads along a level line only
        return []
    ends = []
    for at_start in (True, False):
        parts = [(n, p) for n, p in enumerate(judged.grown) if (p.x < line.x) == at_start]
        if parts and all(n in dropped for n, _ in parts):
            ends.append(at_start)
    return ends


def trim_end(judged: Judged, at_start: bool, image: npt.NDArray[np.uint8], recognizer: BoxReader) -> Judged:
    """``judged`` with its line's start (``at_start``) or end cut where that leaves the line's
    reading as it is (``unread_span``: the line read twice as far again beyond the part that may be
    cut, not whole, for time), within ``TRIM_LINES`` line heights of that end, and padded
    there as a cut end: a date over colour flow, boxed with 30 px of the flow before it, was
    blacked out from there.  The line's strokes were taken for text, so a cut that changes any
    letter or digit read, however unsurely (a faint name is read, but seldom surely), is not made."""
    assert judged.line is not None
    line, height = judged.line, judged.glyph_height
    span = min(round(TRIM_LINES * height), line.width // 2)
    if span < TRIM_MIN * height:
        return judged
    rows, columns = image.shape[:2]
    padded = pad_box(line, height, rows, columns)
    context = min(line.width - span, 2 * span)  # the line read beside the piece: twice as long
    if at_start:
        piece = TextBox(line.x, line.y, span, line.height, line.score)
        rest = TextBox(line.x + span, padded.y, context, padded.height, line.score)
    else:
        piece = TextBox(line.x1 - span, line.y, span, line.height, line.score)
        rest = TextBox(line.x1 - span - context, padded.y, context, padded.height, line.score)
    left_out = unread_span(rest, piece, height, image, recognizer, math.ceil(TRIM_MIN * height))
    if left_out < TRIM_MIN * height:
        return judged
    x0, x1 = (line.x + left_out, line.x1) if at_start else (line.x, line.x1 - left_out)
    body = TextBox(x0, line.y, x1 - x0, line.height, line.score, line.core)
    cut = (judged.cut[0] or at_start, judged.cut[1] or not at_start)
    box = pad_box(union_box([body, *judged.grown]), height, rows, columns, cut=cut)
    return dataclasses.replace(judged, box=box, line=body, cut=cut)


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
    # (not at an end searched for one more word past a space: nothing was cut there)
    before = not judged.probed[0] and any((p.x < line.x) if horizontal else (p.y < line.y) for p in lost)
    after = not judged.probed[1] and any((p.x >= line.x1) if horizontal else (p.y >= line.y1) for p in lost)
    cut = (judged.cut[0] or before, judged.cut[1] or after)
    box = pad_box(body, judged.glyph_height, image.shape[0], image.shape[1], cut=cut)
    return dataclasses.replace(judged, box=box, grown=tuple(kept), cut=cut)


#: Two judged regions are one line seen twice (several search images, passes or frames, whose
#: detector boxes were shifted too far to be grouped as duplicates) when, across the line, they
#: share at least ``SAME_LINE`` of the thinner one's extent, neither is more than ``LINE_RATIO``
#: times as thick as the other, and along it they overlap.
SAME_LINE = 0.6
LINE_RATIO = 2.0


def merge_lines(search: TextSearch) -> TextSearch:
    """``search`` with the regions (not rejected) that are one line seen twice joined into one: the
    union of their glyph extents (line and kept growth), padded once by the smaller glyph height,
    where that box is no larger than the copies together.
    Padded one by one, each copy added its own padding, shifted, and the union of the copies
    blacked out a frame of anatomy around the line."""
    live = [j for j in search.judged if j.verdict is not Verdict.REJECTED and j.line is not None]
    if len(live) < 2:
        return search
    groups: list[list[Judged]] = []
    for region in sorted(live, key=lambda j: -j.glyph_height):
        for group in groups:
            if any(_one_line(region, other, search.images) for other in group):
                group.append(region)
                break
        else:
            groups.append([region])
    if len(groups) == len(live):
        return search
    merged: list[Judged] = []
    for group in groups:
        banded = _banded(group) if len(group) > 1 else None
        if banded is not None:
            merged.extend(banded)
            continue
        joined = _merge(group, search.images[group[0].image].shape[:2]) if len(group) > 1 else group[0]
        if len(group) > 1:
            joined = _band_joined(joined, group, search.images)
        # one box never blacks out more than the copies did (copies in an L: their corners)
        merged.extend([joined] if _area(joined) <= _union_area(group) else group)
    rejected = [j for j in search.judged if j.verdict is Verdict.REJECTED or j.line is None]
    judged = sorted([*merged, *rejected], key=lambda j: (j.box.y, j.box.x))
    return dataclasses.replace(search, judged=tuple(judged))


def _banded(group: Sequence[Judged]) -> list[Judged] | None:
    """The copies of a tilted line blacked out only in the band along it (``Judged.strip``), where
    every other copy's line lies in one of their boxes with its centre in that one's band: those
    copies alone, each in its band (joined into one rectangle, the copies blacked out the corners of
    the line's box again); None where some copy is held by none."""
    bands = [(judged, strip) for judged in group if (strip := judged.strip()) is not None]
    if not bands or not all(judged.strip() is not None or any(_holds(b.box, strip, body_of(judged)) for b, strip in bands)
                            for judged in group):
        return None
    return [judged for judged, _ in bands]


#: Copies of a line joined into one region (``_band_joined``) are blacked out in the band along the
#: line where their union is at least ``TALLER`` times as high as their glyphs and at least
#: ``TILT_LINE`` px high, the glyph strokes (of the text's colour: ``confirm.stroke_mask``) in each
#: copy's search image bunch into a band a glyph high best at a tilt of ``BAND_TILT`` to ``MAX_TILT``
#: degrees, holding ``BAND_GAIN`` more of them there than level and at least ``BAND_HELD`` of
#: them (not two lines joined, whose strokes no band a glyph high holds), and the tilts found
#: agree within ``TILT_AGREE`` degrees.  The band is a glyph high, padded as a box, and widened by
#: ``TILT_SLACK`` of the line's length each way (a degree or two of error at its ends).
TALLER = 1.5
TILT_LINE = 24
BAND_TILT = 5
MAX_TILT = 30
BAND_GAIN = 0.05
BAND_HELD = 0.75
TILT_AGREE = 3
TILT_SLACK = 0.02
MIN_STROKES = 30


def _band_joined(joined: Judged, group: Sequence[Judged], images: Sequence[npt.NDArray[np.uint8]]) -> Judged:
    """``joined`` (the copies of ``group`` made one region) blacked out only in the band along its
    line where the line is tilted (``_tilt_of``, measured on each copy's search image, the tilts
    agreeing) and every copy's line lies in the joined box with its centre in the band.  Judged
    one by one on the frames of a cine, no copy of a tilted 28 px clock over colour flow was
    banded (each saw a part of the line, or read it unsurely; ``deskew.level_line`` found its
    strokes too little bunched amid the speckle), and their union blacked out the corners of the
    line's upright box: 10 % of a 120x256 Doppler (tune seed 10806, case031)."""
    line, glyph = joined.line, joined.glyph_height
    if line is None or line.width < line.height or line.height < max(TILT_LINE, TALLER * glyph):
        return joined
    found = [tilt for index in sorted({j.image for j in group}) if (tilt := _tilt_of(images[index], line, glyph))]
    if len(found) < 2 or max(t[0] for t in found) - min(t[0] for t in found) > TILT_AGREE:
        return joined
    angle = float(np.median([t[0] for t in found]))
    offset = float(np.median([t[1] for t in found if t[0] == angle] or [t[1] for t in found]))
    half = glyph / 2.0 + max(MIN_PAD, math.ceil(PAD_SHARE * glyph)) + TILT_SLACK * line.width
    band = Strip(angle, offset, half)
    if not all(_holds(joined.box, band, body_of(j)) for j in group):
        return joined
    return dataclasses.replace(joined, band=(joined.box, band))


def _tilt_of(image: npt.NDArray[np.uint8], line: TextBox, glyph: int) -> tuple[float, float] | None:
    """(tilt, offset) of the band ``glyph`` px across (``redact.Strip``'s terms) that holds the most
    glyph strokes of ``line``, over whole degrees from ``-MAX_TILT`` to ``MAX_TILT``; None where
    the best is under ``BAND_TILT`` degrees, holds under ``BAND_HELD`` of the strokes or under
    ``BAND_GAIN`` more of them than level."""
    found = stroke_mask(image, line)
    if found is None:
        return None
    mask, (x0, y0) = found
    ys, xs = np.nonzero(mask)
    if xs.size < MIN_STROKES:
        return None
    xs64, ys64 = xs.astype(np.float64) + x0, ys.astype(np.float64) + y0
    count = np.arange(xs.size)
    shares: dict[int, tuple[float, float]] = {}
    for angle in range(-MAX_TILT, MAX_TILT + 1):
        turn = math.radians(angle)
        across = np.sort(-math.sin(turn) * xs64 + math.cos(turn) * ys64)
        within = np.searchsorted(across, across + glyph, side="right") - count
        start = int(within.argmax())
        shares[angle] = (float(within[start]) / xs.size, float(across[start]) + glyph / 2.0)
    best = max(shares, key=lambda angle: shares[angle][0])
    held = shares[best][0]
    if abs(best) < BAND_TILT or held < BAND_HELD or held < shares[0][0] + BAND_GAIN:
        return None
    return float(best), shares[best][1]


def _area(judged: Judged) -> int:
    """Pixels ``judged`` blacks out: its box, or the band within it."""
    strip, box = judged.strip(), judged.box
    return box.width * box.height if strip is None else int(strip.mask(box.x, box.y, box.width, box.height).sum())


def _holds(box: TextBox, strip: Strip, body: TextBox) -> bool:
    inside = box.x <= body.x and box.y <= body.y and body.x1 <= box.x1 and body.y1 <= box.y1
    return inside and bool(strip.mask(body.x + body.width // 2, body.y + body.height // 2, 1, 1)[0, 0])


def _union_area(group: Sequence[Judged]) -> int:
    """Pixels ``group`` blacks out: inside at least one of its boxes, or of the bands within them."""
    whole = union_box([j.box for j in group])
    covered = np.zeros((whole.height, whole.width), dtype=bool)
    for j in group:
        part = (slice(j.box.y - whole.y, j.box.y1 - whole.y), slice(j.box.x - whole.x, j.box.x1 - whole.x))
        strip = j.strip()
        covered[part] |= True if strip is None else strip.mask(j.box.x, j.box.y, j.box.width, j.box.height)
    return int(covered.sum())


#: A copy of a tilted line read as it lies (its box level, as thick as the line's glyphs and much
#: thinner than the band's box) is held by the band (``_in_band``) where its line lies in the band's
#: box, its centre in the band, and at least ``COPY_HELD`` of its strokes in the band (98 % for the
#: level copy of a tilted date over Doppler speckle; 89 % for a level label drawn across one).
COPY_HELD = 0.95


def _one_line(a: Judged, b: Judged, images: Sequence[npt.NDArray[np.uint8]]) -> bool:
    """``a`` and ``b`` are one line seen twice: alike across (``same_line``), or one a tilted
    line's copy blacked out in its band that holds the other (``_in_band``): a 40 px label tilted
    by 15 degrees was confirmed in its band and, in a second box, as it lies 26 px thick; the two
    were never joined (the band's box is 70 px high) and the level copy's box blacked out the
    anatomy beside the band (tune seed 10818 case013)."""
    return same_line(body_of(a), body_of(b)) or _in_band(a, b, images) or _in_band(b, a, images)


def _in_band(banded: Judged, other: Judged, images: Sequence[npt.NDArray[np.uint8]]) -> bool:
    """``other``'s line lies in ``banded``'s box with its centre in ``banded``'s band, and at least
    ``COPY_HELD`` of its glyph strokes (``confirm.stroke_mask`` on its own search image) lie in it."""
    strip = banded.strip()
    body = body_of(other)
    if strip is None or other.strip() is not None or not _holds(banded.box, strip, body):
        return False
    found = stroke_mask(images[other.image], body)
    if found is None:
        return False
    mask, (x0, y0) = found
    if not mask.any():
        return False
    inside = strip.mask(x0, y0, mask.shape[1], mask.shape[0])
    return bool((mask & inside).sum() >= COPY_HELD * mask.sum())


def body_of(judged: Judged) -> TextBox:
    """The line of ``judged`` with what it grew by (``thin`` measures copies by it too)."""
    assert judged.line is not None
    return union_box([judged.line, *judged.grown]) if judged.grown else judged.line


def same_line(a: TextBox, b: TextBox) -> bool:
    horizontal = a.width >= a.height
    if horizontal != (b.width >= b.height):
        return False
    a0, a1, b0, b1 = (a.y, a.y1, b.y, b.y1) if horizontal else (a.x, a.x1, b.x, b.x1)
    c0, c1, d0, d1 = (a.x, a.x1, b.x, b.x1) if horizontal else (a.y, a.y1, b.y, b.y1)
    thin, thick = sorted((a1 - a0, b1 - b0))
    shared = min(a1, b1) - max(a0, b0)
    return thick <= LINE_RATIO * thin and shared >= SAME_LINE * thin and min(c1, d1) > max(c0, d0)


def _merge(group: list[Judged], shape: tuple[int, ...]) -> Judged:
    """One region for the copies of a line in ``group``: the best verdict, the union of the glyph
    extents, the smaller glyph height, an end padded as cut where a copy reaching it was cut."""
    rank = {Verdict.CONFIRMED: 2, Verdict.UNCERTAIN: 1, Verdict.REJECTED: 0}
    best = max(group, key=lambda j: rank[j.verdict])
    bodies = [body_of(j) for j in group]
    body = union_box(bodies)
    horizontal = body.width >= body.height
    start = any(j.cut[0] and (b.x if horizontal else b.y) == (body.x if horizontal else body.y)
                for j, b in zip(group, bodies, strict=True))
    end = any(j.cut[1] and (b.x1 if horizontal else b.y1) == (body.x1 if horizontal else body.y1)
              for j, b in zip(group, bodies, strict=True))
    height = min(j.glyph_height for j in group)
    box = pad_box(body, height, int(shape[0]), int(shape[1]), cut=(start, end))
    return dataclasses.replace(best, box=box, glyph_height=height, line=body, grown=(), cut=(start, end))


__all__ = [
    "TRIM_LINES",
    "TRIM_MIN",
    "beyond",
    "body_of",
    "confirm_growth",
    "merge_lines",
    "reading_crop",
    "reads_as_glyphs",
    "refit",
    "same_line",
    "trim_end",
    "trimmed_ends",
]
