"""The images searched for burned-in text in a decoded instance.  Pure; knows no files.

Single frame: the display image, plus a percentile-windowed view for monochrome data over 8 bits
whose range a few outlier pixels stretch.  Multi-frame: the per-pixel minimum, maximum and median
projections of the display stack and the largest deviation of any frame from the median (static
overlays survive all of them, bright text the minimum and dark text the maximum even over moving
anatomy; per-frame text leaves its union in the maximum and minimum), a few evenly spaced frames,
the frames that show something neither neighbour shows (``novel_frames``), and the frames where
content held on neighbouring frames appears or ends (``held_frames``).  In a run whose frames
differ (slices of a volume, a moving cine) the frames searched leave no gap of ``STRIDE`` frames
(``stride_frames``).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np

from dicom_deid.pixels.decode import DecodedPixels
from dicom_deid.pixels.display import display_frame, scale_to_uint8

if TYPE_CHECKING:
    import numpy.typing as npt


#: Multi-frame search images: the first this many are projections (min, max, median, deviation).
PROJECTIONS = 4


def derived_flags(decoded: DecodedPixels, count: int) -> list[bool]:
    """Which of ``count`` search images of ``decoded`` are projections rather than frames."""
    return [decoded.facts.frames > 1 and i < PROJECTIONS for i in range(count)]


def search_images(
    decoded: DecodedPixels, *, sample_frames: int = 4, median_frames: int = 32
) -> list[npt.NDArray[np.uint8]]:
    """The display images the detector should look at for ``decoded``.

    Single frames: the frame, plus a percentile-windowed view for monochrome data over 8 bits when a
    few outlier pixels stretch the range (they must not squeeze text into a few grey levels).  Multi-frame: min / max / median
    projections, the largest deviation of any frame from the median, which shows text that
    appears on a few frames over moving anatomy, and the frames searched on their own
    (``searched_frames``).
    """
    count = decoded.facts.frames
    if count == 1:
        images = [display_frame(decoded, decoded.frames[0])]
        images.extend(_windowed(decoded, decoded.frames[0]))
        return images
    stack = np.stack([display_frame(decoded, frame) for frame in decoded.frames])
    step = max(1, count // median_frames)
    median = np.median(stack[::step], axis=0).astype(np.uint8)
    images = [stack.min(axis=0), stack.max(axis=0), median]
    deviation = np.zeros(median.shape, dtype=np.uint8)
    for frame in stack:  # frame by frame: no int16 copy of the whole cine
        np.maximum(deviation, _absdiff(frame, median), out=deviation)
    images.append(deviation)
    images.extend(stack[i] for i in searched_frames(stack, decoded.frames, sample_frames))
    return images


def searched_frames(
    stack: npt.NDArray[np.uint8], frames: npt.NDArray[np.generic], sample_frames: int = 4
) -> list[int]:
    """The frames of a run searched on their own, in order: ``sample_frames`` evenly spaced, the
    novel frames, in a run whose frames differ the frames that leave no gap of ``STRIDE``, and the
    frames where held content appears or ends.  ``stack``: the display frames; ``frames``: the
    stored values."""
    count = stack.shape[0]
    picks = [int(i) for i in np.unique(np.linspace(0, count - 1, num=min(sample_frames, count)).round())]
    # a label on one frame (or the first frame of a few) of a run: that frame itself is searched,
    # since the projections and the deviation mix it with the anatomy of every other frame
    novel = novel_frames(stack, exclude=picks)
    # a label on a few neighbouring frames of a run whose frames differ: no gap of STRIDE frames
    # is left unsearched, and the frame where such a label appears or ends is searched
    more = stride_frames(count, [*picks, *novel]) if stack.ndim == 3 and _moving(stack) else []
    held = held_frames(frames, exclude=[*picks, *novel])
    return [*picks, *novel, *more, *(i for i in held if i not in more)]


#: A run whose neighbouring frames differ over more than ``MOVING_SHARE`` of their pixels (by more
#: than ``NOVEL_FAINT`` grey levels; the median over neighbouring pairs) is a run through a volume
#: or a moving cine: its projections mix a label shown on a few frames with the anatomy of every
#: other frame (a 24-frame XA run of different slices with a name on 4 neighbouring frames left
#: nothing to see in its minimum, maximum or deviation, and no evenly spaced frame showed it).
#: Such a run is searched on more frames so that no more than ``STRIDE - 1`` neighbouring frames
#: go unsearched (``stride_frames``; the evenly spaced and novel frames stay searched first):
#: a label on ``STRIDE`` or more frames is always on a searched frame (a shorter run is found where
#: it appears or ends, ``held_frames``).  On tune seeds 10859-10862 neighbouring slices of a
#: volume differed over 5-9 % of their pixels, an ultrasound cine over 5-7 %, a cine of one view
#: over 0.1-1.1 %.  Only monochrome runs: a moving colour cine (Doppler ultrasound) searched on
#: every fourth frame had its colour flow boxed as text on the added frames (tune seed 10865
#: case014: 1.55 % of the image blacked out became 8.87 %); its text is found on the projections,
#: the evenly spaced and novel frames, and where held content appears or ends.
MOVING_SHARE = 0.01
STRIDE = 4


def stride_frames(count: int, searched: Iterable[int]) -> list[int]:
    """Frames of a run of ``count`` to search besides ``searched`` so that no more than
    ``STRIDE - 1`` neighbouring frames go unsearched (each gap filled evenly), first to last."""
    kept = sorted({0, count - 1, *(int(i) for i in searched)})
    out: list[int] = []
    for a, b in itertools.pairwise(kept):
        extra = -(-(b - a) // STRIDE) - 1
        out.extend(round(a + k * (b - a) / (extra + 1)) for k in range(1, extra + 1))
    return [i for i in out if i not in kept]


def _moving(stack: npt.NDArray[np.uint8]) -> bool:
    """Whether neighbouring frames of ``stack`` differ over more than ``MOVING_SHARE`` of their
    pixels, by more than ``NOVEL_FAINT`` grey levels (the median over neighbouring pairs)."""
    shares = []
    for index in range(stack.shape[0] - 1):
        step = _absdiff(stack[index], stack[index + 1])
        moved = (step.max(axis=2) if step.ndim == 3 else step) > NOVEL_FAINT
        shares.append(float(np.count_nonzero(moved)) / moved.size)
    return float(np.median(shares)) > MOVING_SHARE


#: A frame is searched too when it holds at least ``NOVEL_SHARE`` times the run's median count
#: (and ``NOVEL_MIN``) of pixels that differ by more than ``NOVEL_LEVEL`` grey levels from both
#: neighbouring frames: a label that appears on it, not anatomy that moves smoothly.  Up to
#: ``NOVEL_FRAMES``, most first: a grey label on one frame of an XA run ranked fifth, after three
#: frames with other labels and a flash.  A faint label differs by less: frames that pass the same
#: test only at ``NOVEL_FAINT`` grey levels follow (a 25 px name at 40 grey levels over an XA
#: frame changed 67 pixels by more than 64 levels, under the run's floor of 96, and 1,542 by more
#: than 32, over its floor of 556).
NOVEL_LEVEL = 64
NOVEL_FAINT = 32
NOVEL_SHARE = 3.0
NOVEL_MIN = 24
NOVEL_FRAMES = 6  # at most this many such frames


def novel_frames(stack: npt.NDArray[np.uint8], *, exclude: Iterable[int] = ()) -> list[int]:
    """Frames of ``stack`` (F × R × C) that show something neither neighbour shows, most first.

    Frames that stand out at ``NOVEL_LEVEL`` come first, by count; then those that stand out only at
    ``NOVEL_FAINT``.
    """
    count = stack.shape[0]
    if count < 3:
        return []
    changed = np.zeros((2, count), dtype=np.int64)
    for index in range(count):
        near = [stack[j] for j in (index - 1, index + 1) if 0 <= j < count]
        sole = _absdiff(stack[index], near[0])
        if len(near) == 2:
            np.minimum(sole, _absdiff(stack[index], near[1]), out=sole)
        changed[0, index] = int(np.count_nonzero(sole > NOVEL_LEVEL))
        changed[1, index] = int(np.count_nonzero(sole > NOVEL_FAINT))
    skip = {int(i) for i in exclude}
    ranked: list[int] = []
    for counts in changed:
        floor = max(float(NOVEL_MIN), NOVEL_SHARE * float(np.median(counts)))
        ranked.extend(
            int(i)
            for i in np.argsort(-counts, kind="stable")
            if counts[i] >= floor and int(i) not in skip and int(i) not in ranked
        )
    return ranked[:NOVEL_FRAMES]


#: A frame is searched too when content held on it and its next frame appears there (or held on
#: it and its previous frame ends there): pixels that differ by more than ``HELD_LEVEL`` of the
#: run's stored range from the frame before (after), and from the one before that (after that),
#: and keep their stored value (within ``HELD_SAME`` of the range, or half a unit) on the frame
#: after (before).  Burned-in text keeps its stored values on every frame that shows it, while
#: anatomy, even of one view, changes by some noise: a label drawn on frames 5-8 of a run of slices
#: appears on frame 5 and ends on frame 8 (the background that comes back after a label shown on
#: one frame is no new content: it is the frame before the label's; nor is the run's lowest value,
#: the black that anatomy leaves from slice to slice).  The score of a frame is the
#: most such pixels in any ``HELD_WINDOW`` (columns, rows) window: a line of glyphs packs them,
#: anatomy that happens to keep its value scatters them.  A frame scoring at least ``HELD_SHARE``
#: times the run's median score (and ``HELD_MIN``) is searched, unless a frame that holds the same
#: values there (from where they appear on, or back from where they end) is an evenly spaced or
#: novel frame.  A frame filling a gap (``stride_frames``) does not spare them: over anatomy that
#: changes from slice to slice the detector does not see a line equally on every frame (a grey
#: name on frames 9-12 of a run of textured slices was seen nowhere on frame 9, without its first
#: letter on frame 10, whole on frame 12), and both ends of a label are searched.  Up to
#: ``HELD_FRAMES``, most first.
HELD_LEVEL = 0.08
HELD_SAME = 0.002
HELD_WINDOW = (16, 8)
HELD_SHARE = 2.5
HELD_MIN = 24
HELD_FRAMES = 8


def held_frames(frames: npt.NDArray[np.generic], *, exclude: Iterable[int] = ()) -> list[int]:
    """Frames of ``frames`` (stored values, F x R x C [x S]) where content held on two or more
    neighbouring frames appears or ends (``HELD_LEVEL``), most first; none whose content is held
    on a frame in ``exclude`` as well.  Both the frame where a label appears and the one where it
    ends are given."""
    from dicom_deid.pixels.ocr import _import_cv2

    count = frames.shape[0]
    if count < 3:
        return []
    cv2 = _import_cv2()
    low = float(np.min(frames))
    span = float(np.max(frames)) - low
    if span <= 0:
        return []
    level, same = HELD_LEVEL * span, max(0.5, HELD_SAME * span)

    def differ(i: int, j: int) -> npt.NDArray[np.float32]:
        d = np.abs(frames[i].astype(np.float32) - frames[j].astype(np.float32))
        out: npt.NDArray[np.float32] = d.max(axis=2) if d.ndim == 3 else d
        return out

    def packed(held: npt.NDArray[np.bool_]) -> tuple[float, tuple[npt.NDArray[np.intp], ...]]:
        """The most ``held`` pixels in any window, and where they are in it."""
        total = cv2.boxFilter(held.astype(np.float32), -1, HELD_WINDOW, normalize=False,
                              borderType=cv2.BORDER_CONSTANT)
        y, x = np.unravel_index(int(np.argmax(total)), total.shape)
        w, h = HELD_WINDOW  # the box filter's anchor is the window's centre
        y0, x0 = max(0, int(y) - h // 2), max(0, int(x) - w // 2)
        ys, xs = np.nonzero(held[y0 : y0 + h, x0 : x0 + w])
        return float(total[y, x]), (ys + y0, xs + x0)

    scores = np.zeros((2, count), dtype=np.float64)  # appears, ends
    where: dict[tuple[int, int], tuple[npt.NDArray[np.intp], ...]] = {}
    after = differ(0, 1)
    for index in range(1, count - 1):  # two differences at a time: no float copy of the run
        before, after = after, differ(index, index + 1)
        value = np.asarray(frames[index], dtype=np.float32)
        lit = (value.max(axis=2) if value.ndim == 3 else value) > low + same  # not the background's floor
        appears = (before > level) & (after <= same) & lit
        if index >= 2:
            appears &= differ(index, index - 2) > level
        ends = (after > level) & (before <= same) & lit
        if index + 2 < count:
            ends &= differ(index, index + 2) > level
        for way, held in enumerate((appears, ends)):
            scores[way, index], spot = packed(held)
            if scores[way, index] >= HELD_MIN:
                where[way, index] = spot

    def holding(index: int, step: int, spot: tuple[npt.NDArray[np.intp], ...]) -> list[int]:
        """The frames from ``index`` on, ``step`` by ``step``, that keep most of its values at ``spot``."""
        ref = frames[index][spot].astype(np.float32)
        out = [index]
        j = index + step
        while 0 <= j < count:
            d = np.abs(frames[j][spot].astype(np.float32) - ref)
            if float(np.mean((d.max(axis=-1) if d.ndim == 2 else d) <= same)) < 0.5:
                break
            out.append(j)
            j += step
        return out

    floor = max(float(HELD_MIN), HELD_SHARE * float(np.median(scores[:, 1:-1])))
    skip = {int(i) for i in exclude}
    ranked: list[int] = []
    for flat in np.argsort(-scores.ravel(), kind="stable"):
        way, index = divmod(int(flat), count)
        if scores[way, index] < floor:
            break
        # the frames that show the same content (from where it appears on, or back from where it
        # ends): when one of them is searched already, so is the content
        shown = holding(index, 1 if way == 0 else -1, where[way, index])
        if index not in ranked and not skip.intersection(shown):
            ranked.append(index)
    return ranked[:HELD_FRAMES]


def _absdiff(a: npt.NDArray[np.uint8], b: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    out: npt.NDArray[np.uint8] = np.where(a > b, a - b, b - a).astype(np.uint8)
    return out


def _windowed(decoded: DecodedPixels, frame: npt.NDArray[np.generic]) -> list[npt.NDArray[np.uint8]]:
    facts = decoded.facts
    if facts.photometric not in ("MONOCHROME1", "MONOCHROME2") or facts.bits_stored <= 8:
        return []
    data = np.asarray(frame, dtype=np.float32)
    lo, hi = (float(v) for v in np.percentile(data, (0.1, 99.9)))
    full = float(data.max()) - float(data.min())
    if hi <= lo or (hi - lo) > 0.5 * full:
        return []  # no few outliers stretch the range: the plain view already shows the text
    image = scale_to_uint8(frame, lo, hi)
    return [255 - image if facts.photometric == "MONOCHROME1" else image]
