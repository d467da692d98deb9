"""Which frames of a multi-frame instance hold each text region.  Pure; uses the recognizer.

The search looks at projections and sampled frames, so a region it confirms may hold text on
every frame (an overlay), on some frames (a label shown for part of a run, a counter), or
change from frame to frame.  Blacking a region out on frames that never showed text removes
anatomy for nothing, so each region is checked frame by frame:

1. a few evenly spaced frames are read first; when all of them read as text, the region applies
   to every frame (the common static overlay costs a handful of reads).  A line that
   reads set level on more probe frames than as it lies is a tilted line: every frame is then
   read set level, along the band the search measured (``RedactionBox.strip``: the same turn on
   every frame) or, for a line it did not band, as ``deskew.level_line`` measures each frame;
2. otherwise every frame is read (a long line at both ends when each end reads on a probe frame
   where the other does not: two labels on different frames, joined along one row).  A frame keeps the region when it reads as text
   (``confirm.judge_reading`` confirms it, or finds it uncertain) that shares at least half its
   characters with the best confirmed reading of the region, *or* most glyph pixels of a frame
   that reads hold the same stored values in it (text drawn at a fixed value that the recognizer misses on
   that frame, behind moving anatomy, stays covered);
3. the frames kept are widened by one frame on each side and gaps of up to three frames are
   filled;
4. when no frame reads as text at all (a tilted label on one frame of a run, set level only on
   a frame no probe saw; an unconfirmed region), a region the search found on a frame itself (a
   sampled or novel frame) is kept on that frame and on every frame whose stored values at its
   strokes are that frame's (``_showing``).  A region found on a projection (minimum, maximum,
   median, deviation: they mix frames), or whose search image is not known, applies to every
   frame.

Every doubt resolves towards redaction.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from dicom_deid.pixels.confirm import Verdict, judge_reading, stroke_mask
from dicom_deid.pixels.decode import DecodedPixels
from dicom_deid.pixels.deskew import level_line
from dicom_deid.pixels.display import display_frame
from dicom_deid.pixels.ocr import TextBox, to_rgb8
from dicom_deid.pixels.recognize import Reading
from dicom_deid.pixels.redact import RedactionBox, Strip

if TYPE_CHECKING:
    import numpy.typing as npt

#: Frames read first; reads allowed per instance before regions fall back to every frame;
#: the part of a line read for presence (a prefix of at most this many line heights).
PROBE_FRAMES = 5
READ_BUDGET = 400
PREFIX = 5
#: A frame that does not read keeps the region when this share of the glyph pixels of a frame
#: that reads hold the same stored values there (the text is drawn, the reading failed).
AGREEMENT = 0.6
#: The code of a line read set level (a tilted line; the others are quarter turns, ``_orient``).
LEVEL = 2


def assign_frames(
    decoded: DecodedPixels,
    boxes: Sequence[RedactionBox],
    read_crops: Callable[[Sequence[npt.NDArray[np.uint8]]], list[Reading]],
    found_on: Sequence[npt.NDArray[np.uint8]] | None = None,
) -> list[RedactionBox]:
    """``boxes`` (every frame) restricted to the frames that hold their text.  ``found_on``: the
    search image each box was found on, in the same order (step 4 of the module's rules)."""
    if found_on is not None and len(found_on) != len(boxes):
        raise ValueError("found_on must give one search image per box")
    count = decoded.facts.frames
    if count == 1 or not boxes:
        return list(boxes)
    cache: dict[int, npt.NDArray[np.uint8]] = {}

    def frame(index: int) -> npt.NDArray[np.uint8]:
        if index not in cache:
            cache[index] = to_rgb8(display_frame(decoded, decoded.frames[index]))
        return cache[index]

    budget = READ_BUDGET
    out: list[RedactionBox] = []
    probes = [int(i) for i in np.unique(np.linspace(0, count - 1, PROBE_FRAMES).round())]

    def look(indices: Sequence[int], box: RedactionBox, turn: int) -> list[Look]:
        return _look(read_crops, [_crop(frame(i), box, turn) for i in indices])

    for index, box in enumerate(boxes):
        ways = 2 if _vertical(box) or _long(box) else 1  # a vertical line may be read both ways up, a long one at both ends
        if budget < ways * count + 3 * len(probes):
            out.append(box)
            continue
        turn, first, other = _orient(box, [frame(i) for i in probes], read_crops)
        budget -= 2 * len(probes) if _vertical(box) or _long(box) else len(probes)
        if all(seen.reads for seen in first):
            out.append(box)
            continue
        if turn == -1 and other is None:
            level = look(probes, box, LEVEL)
            budget -= len(probes)
            if sum(seen.reads for seen in level) > sum(seen.reads for seen in first):  # a tilted line: each frame is read set level
                turn, first = LEVEL, level
                if all(seen.reads for seen in first):
                    out.append(box)
                    continue
        if turn == 0:  # no probe frame read it either way up: each frame is read both ways
            both = _look(read_crops, [_crop(frame(i), box, t) for t in (-1, 1) for i in range(count)])
            looks = [max(a, b, key=lambda seen: (seen.reads, seen.reading.score())) for a, b in zip(
                both[:count], both[count:], strict=True)]
            budget -= 2 * count
        else:
            looks = look(range(count), box, turn)
            budget -= count
        source = None if found_on is None else _source_frame(frame, box, found_on[index], count)
        read = _like_the_text([seen.reading if seen.reads else None for seen in looks], source,
                              [seen.unsure for seen in looks])
        if other is not None:  # the other end of a long line holds other text, on other frames
            ends = look(range(count), box, other)
            budget -= count
            read = [a or b for a, b in zip(read, _like_the_text(
                [seen.reading if seen.reads else None for seen in ends], source, [seen.unsure for seen in ends]),
                strict=True)]
        if any(read) or found_on is None:
            frames = _frames_with_text(read, _agreement(decoded, frame, box, read))
        else:  # no frame reads it: the frames that show what the search saw
            frames = _showing(decoded, frame, box, found_on[index])
        out.append(box if frames is None else dataclasses.replace(box, frames=frames))
    return out


@dataclass(frozen=True, slots=True)
class Look:
    """A frame's crop of a region read: the reading, and whether it reads as text (confirmed, as
    the search judges a line, on the part that was read: the density of characters is that of
    the crop, the start of the line, not of the whole line)."""

    reading: Reading
    verdict: Verdict

    @property
    def reads(self) -> bool:
        return self.verdict is Verdict.CONFIRMED

    @property
    def unsure(self) -> Reading | None:
        """The reading when it is uncertain text (``_like_the_text``'s ``unsure``)."""
        return self.reading if self.verdict is Verdict.UNCERTAIN else None


def _look(
    read_crops: Callable[[Sequence[npt.NDArray[np.uint8]]], list[Reading]],
    crops: Sequence[npt.NDArray[np.uint8]],
) -> list[Look]:
    readings = read_crops(crops)
    return [Look(r, judge_reading(r, TextBox(0, 0, c.shape[1], c.shape[0])))
            for r, c in zip(readings, crops, strict=True)]


def _vertical(box: RedactionBox) -> bool:
    return box.height > 1.3 * box.width


def _orient(
    box: RedactionBox,
    images: Sequence[npt.NDArray[np.uint8]],
    read_crops: Callable[[Sequence[npt.NDArray[np.uint8]]], list[Reading]],
) -> tuple[int, list[Look], int | None]:
    """The quarter turn that sets a vertical line upright (-1: clockwise, for text running top
    to bottom; 1: counter-clockwise, bottom to top), chosen on ``images`` (the probe frames), and
    their readings that way; 0 when no probe frame reads it either way (a label shown on a few
    frames only: each frame is then read both ways).  Read the wrong way up, a line of digits
    and colons still yields a few symmetric marks ("0", ":"), too few to confirm it: a label
    drawn at 270 degrees was found on a third of the frames that showed it.  A long horizontal
    line (``_long``) is read from its end (1) instead of its start (-1) when the end reads as
    text on more probe frames; it is never read both ways on every frame.

    The third value: the other end of a long line, to be read on every frame as well, when it
    reads as text on a probe frame where the chosen end does not (two labels shown on different
    frames, joined into one line by a projection: a hospital name on frames 3-6 of an XA run and
    a patient name on frames 11-19 further along its row were one line of the deviation image;
    only the name's end was read, and the hospital's start was left readable on 4 frames, seed
    10893 case024)."""
    if not _vertical(box):
        start = _look(read_crops, [_crop(image, box) for image in images])
        if not _long(box) or all(seen.reads for seen in start):
            return -1, start, None
        end = _look(read_crops, [_crop(image, box, 1) for image in images])
        chosen, rest = (1, -1) if sum(seen.reads for seen in end) > sum(seen.reads for seen in start) else (-1, 1)
        ways = {-1: start, 1: end}
        alone = any(o.reads and not c.reads for c, o in zip(ways[chosen], ways[rest], strict=True))
        return chosen, ways[chosen], rest if alone else None
    looks = _look(read_crops, [_crop(image, box, turn) for turn in (-1, 1) for image in images])
    ways = {-1: looks[: len(images)], 1: looks[len(images) :]}
    confirmed = {turn: sum(seen.reads for seen in ways[turn]) for turn in ways}
    if confirmed[-1] == confirmed[1]:
        if confirmed[-1] == 0:
            return 0, [max(a, b, key=lambda seen: seen.reading.score()) for a, b in zip(
                ways[-1], ways[1], strict=True)], None
        turn = max((-1, 1), key=lambda t: sum(seen.reading.score() for seen in ways[t]))
    else:
        turn = max((-1, 1), key=lambda t: confirmed[t])
    return turn, ways[turn], None


def _long(box: RedactionBox) -> bool:
    """A horizontal line longer than the part read for presence: it is read from either end
    (``_orient``), since its box may begin with something other than text (a confirmed line grown
    along its row over the colour of a Doppler screen read as nothing on every frame)."""
    return not _vertical(box) and box.width > PREFIX * box.height


def _crop(image: npt.NDArray[np.uint8], box: RedactionBox, turn: int = -1) -> npt.NDArray[np.uint8]:
    """The start of the line in ``box``, upright (presence needs a few characters, not all);
    a vertical line is turned by ``turn`` quarter turns (``_orient``); of a horizontal one,
    ``turn`` 1 takes the end of the line instead of its start, and ``LEVEL`` the line set level
    (``deskew.level_line``; the box as it lies where this frame shows no tilted line)."""
    if turn == LEVEL and box.strip is not None:
        return _band_level(image, box, box.strip)
    if turn == LEVEL:
        level = level_line(image, TextBox(box.x, box.y, box.width, box.height))
        if level is not None:
            lb = level.box
            return np.ascontiguousarray(level.image[lb.y : lb.y1, lb.x : lb.x + PREFIX * lb.height])
        turn = -1
    crop = image[box.y : box.y1, box.x : box.x1]
    if _vertical(box):  # vertical: read along it, from its start in the reading direction
        part = crop[: PREFIX * box.width] if turn == -1 else crop[max(0, crop.shape[0] - PREFIX * box.width) :]
        crop = np.rot90(part, k=turn)
    elif turn == 1:
        crop = crop[:, max(0, crop.shape[1] - PREFIX * box.height) :]
    else:
        crop = crop[:, : PREFIX * box.height]
    return np.ascontiguousarray(crop)


def _band_level(image: npt.NDArray[np.uint8], box: RedactionBox, strip: Strip) -> npt.NDArray[np.uint8]:
    """The start of the tilted line in ``box``, set level by the tilt of its band (``strip``, as
    the search measured it on the frame it found the line on): the rectangle is turned by the
    band's angle and cut to the band's rows and columns.  Every frame is turned the same way, so
    a frame where the line's strokes are too faint or too mixed with anatomy to measure their own
    tilt (``deskew.level_line``) is read set level all the same."""
    from dicom_deid.pixels.ocr import _import_cv2

    cv2 = _import_cv2()
    region = np.ascontiguousarray(image[box.y : box.y1, box.x : box.x1])
    inside = strip.mask(box.x, box.y, box.width, box.height).astype(np.uint8)
    centre = (float(box.width) / 2.0, float(box.height) / 2.0)
    m = cv2.getRotationMatrix2D(centre, strip.angle, 1.0)
    size = (box.width, box.height)
    turned = cv2.warpAffine(region, m, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    band = cv2.warpAffine(inside, m, size, flags=cv2.INTER_NEAREST, borderValue=0)
    rows, cols = np.nonzero(band)
    if rows.size == 0:
        return _crop(image, box)
    y0, y1 = int(rows.min()), int(rows.max()) + 1
    x0, x1 = int(cols.min()), int(cols.max()) + 1
    return np.ascontiguousarray(turned[y0:y1, x0 : min(x1, x0 + PREFIX * (y1 - y0))])


def _like_the_text(
    readings: Sequence[Reading | None], source: int | None = None, unsure: Sequence[Reading | None] | None = None
) -> list[bool]:
    """Frames whose confirmed reading (``readings``), or failing that uncertain reading (``unsure``:
    tilted digits of a clock read right but unsurely, on 11 of 16 frames of a cine), shares at least half its characters with the text of the
    region, any digit matching any other (a clock that ticks still does; anatomy read as a few
    digits beside a date's letters does not): the reading of
    ``source``, the frame the search found the region on, where it reads (that frame always
    keeps the region), else the best reading.  Vertical stripes on frame 35 of a 60-frame XA run
    read "20001: 8885", scored above "27-AUG-" read on frame 28 where the search had found a
    38 px date alone, and were taken for the text: the date was left on frame 28 and blacked out
    on 31 frames without it (tune seed 10826 case025).  The text compared with is always a
    confirmed reading: where no frame confirms one, no frame is like it."""
    confirmed = [r for r in readings if r is not None]
    if not confirmed:
        return [False] * len(readings)
    own = readings[source] if source is not None else None
    best = _characters((own or max(confirmed, key=lambda r: r.score())).text)
    out = []
    for index, reading in enumerate(readings):
        if reading is None and unsure is not None:
            reading = unsure[index]
        if reading is None:
            out.append(False)
            continue
        chars = _characters(reading.text)
        shared = sum((chars & best).values())
        out.append(shared >= 0.5 * max(1, min(sum(chars.values()), sum(best.values()))))
    if own is not None and source is not None:
        out[source] = True
    return out


def _characters(text: str) -> Counter[str]:
    """The characters of ``text`` that ``_like_the_text`` compares: spaces dropped, every digit
    the same (the seconds of a clock tick from frame to frame: "49°" read on one frame of a cine
    shares no digit with "145" read on another, and its frames were left uncovered)."""
    return Counter("0" if ch.isdigit() else ch for ch in text if not ch.isspace())


def _source_frame(
    frame: Callable[[int], npt.NDArray[np.uint8]], box: RedactionBox, found_on: npt.NDArray[np.uint8], count: int
) -> int | None:
    """The frame whose display equals the search image ``found_on`` over ``box`` (a sampled or
    novel frame), or None (a projection mixes frames)."""
    where = (slice(box.y, box.y1), slice(box.x, box.x1))
    seen = to_rgb8(found_on[where])
    return next((i for i in range(count) if np.array_equal(frame(i)[where], seen)), None)


def _agreement(
    decoded: DecodedPixels,
    frame: Callable[[int], npt.NDArray[np.uint8]],
    box: RedactionBox,
    read: Sequence[bool],
) -> list[float]:
    """Per frame: the share of the glyph pixels of a frame that reads whose stored values are
    the same there (burned-in text keeps its stored value wherever it is shown)."""
    readers = [i for i, ok in enumerate(read) if ok]
    if not readers:
        return [0.0] * len(read)
    reference = readers[len(readers) // 2]
    found = stroke_mask(frame(reference), TextBox(box.x, box.y, box.width, box.height))
    if found is None:
        return [0.0] * len(read)
    mask, (x0, y0) = found
    region = decoded.frames[:, y0 : y0 + mask.shape[0], x0 : x0 + mask.shape[1]].astype(np.float64)
    glyph = region[:, mask]  # F x N [x S]
    return _same_share(glyph, glyph[reference], float(region.max() - region.min()))


def _same_share(values: npt.NDArray[np.generic], target: npt.NDArray[np.generic], span: float) -> list[float]:
    """Per frame (``values``: F x N [x S]): the share of the N pixels whose values are those of
    ``target`` (N [x S]) within 3 % of ``span`` (every sample of a colour pixel)."""
    same = np.abs(values.astype(np.float64) - target.astype(np.float64)) <= max(1.0, 0.03 * span)
    per_pixel = same.all(axis=2) if same.ndim == 3 else same
    return [float(v) for v in per_pixel.mean(axis=1)]


def _frames_with_text(read: Sequence[bool], agreement: Sequence[float]) -> tuple[int, ...] | None:
    """Frames holding the text, or None for every frame."""
    if not any(read) or all(read):
        return None
    return _widened([ok or a >= AGREEMENT for ok, a in zip(read, agreement, strict=True)])


def _widened(present: Sequence[bool]) -> tuple[int, ...] | None:
    """The frames flagged in ``present``, each widened by one frame on either side, gaps of up to
    three frames filled; None where that is every frame."""
    count = len(present)
    kept: set[int] = set()
    for index, flag in enumerate(present):
        if flag:
            kept.update(i for i in (index - 1, index, index + 1) if 0 <= i < count)
    ordered = sorted(kept)
    for a, b in itertools.pairwise(ordered):
        if 1 < b - a <= 4:
            kept.update(range(a + 1, b))
    if len(kept) == count:
        return None
    return tuple(sorted(kept))


def _showing(
    decoded: DecodedPixels,
    frame: Callable[[int], npt.NDArray[np.uint8]],
    box: RedactionBox,
    found_on: npt.NDArray[np.uint8],
) -> tuple[int, ...] | None:
    """The frames of a region no frame reads that show what the search saw on ``found_on``, or
    None for every frame.

    Only a region found on a frame itself (a sampled or novel frame: the search image equals
    that frame's display over the whole box) is placed: a projection mixes frames, and its
    strokes may be another frame's anatomy (a faint label on frame 5 under the maximum of a
    run whose frame 19 is bright there).  The region is kept on every frame where ``AGREEMENT``
    of its stroke pixels (``confirm.stroke_mask`` on ``found_on``) hold that frame's stored
    values (as ``_agreement`` does for a frame that reads: display values would differ between
    frames scaled each to its own range), widened and gap-filled.  Burned-in text keeps its
    values wherever it is drawn, while colour flow or speckle taken for text on one frame of a
    cine changes from frame to frame."""
    source = _source_frame(frame, box, found_on, decoded.facts.frames)
    if source is None:
        return None
    found = stroke_mask(found_on, TextBox(box.x, box.y, box.width, box.height))
    if found is None:
        return None
    mask, (x0, y0) = found
    region = decoded.frames[:, y0 : y0 + mask.shape[0], x0 : x0 + mask.shape[1]].astype(np.float64)
    glyph = region[:, mask]
    same = _same_share(glyph, glyph[source], float(region.max() - region.min()))
    return _widened([share >= AGREEMENT for share in same])


__all__ = ["assign_frames"]
