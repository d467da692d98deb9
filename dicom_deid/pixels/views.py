"""The images searched for burned-in text in a decoded instance.  Pure; knows no files.

Single frame: the display image, plus a percentile-windowed view for monochrome data over 8 bits
whose range a few outlier pixels stretch.  Multi-frame: the per-pixel minimum, maximum and median
projections of the display stack and the largest deviation of any frame from the median (static
overlays survive all of them, bright text the minimum and dark text the maximum even over moving
anatomy; per-frame text leaves its union in the maximum and minimum), a few evenly spaced frames,
and the frames that show something neither neighbour shows (``novel_frames``).
"""

from __future__ import annotations

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
    projections, sampled frames, and the largest deviation of any frame from the median, which
    shows text that appears on a few frames over moving anatomy.
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
    picks = np.unique(np.linspace(0, count - 1, num=min(sample_frames, count)).round().astype(int))
    images.extend(stack[int(i)] for i in picks)
    # a label on one frame (or the first frame of a few) of a run: that frame itself is searched,
    # since the projections and the deviation mix it with the anatomy of every other frame
    images.extend(stack[i] for i in novel_frames(stack, exclude=picks))
    return images


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
