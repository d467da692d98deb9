"""Pure redaction: (frames, boxes, fill) → new frames.  Calls no OCR, knows no files.

"Black" depends on the photometric interpretation of the decoded array:

================  ==========================================================
MONOCHROME2       smallest stored value present in the instance
MONOCHROME1       largest stored value present in the instance (inverted)
RGB               (0, 0, 0)
YBR_FULL          (0, half, half): Y = 0 with neutral chroma
PALETTE COLOR     the palette entry with the lowest luminance
================  ==========================================================

The instance's own extreme (not the representable extreme of Bits Stored) is used for
monochrome data so that the fill stays inside the value range the modality LUT, VOI
window and Smallest/Largest Image Pixel Value already describe.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from dicom_deid.pixels.decode import DecodedPixels

if TYPE_CHECKING:
    import numpy.typing as npt


@dataclass(frozen=True, slots=True)
class Strip:
    """A band along a tilted line of text: the pixels (x, y) whose distance across the line,
    ``-sin(angle) * x + cos(angle) * y - offset``, is at most ``half``.  ``angle`` is the
    line's tilt in degrees as OpenCV turns (counter-clockwise; rows grow downward)."""

    angle: float
    offset: float
    half: float

    def grown(self, margin: float) -> Strip:
        return Strip(self.angle, self.offset, self.half + margin)

    def mask(self, x: int, y: int, width: int, height: int) -> npt.NDArray[np.bool_]:
        """Which pixels of the rectangle (x, y, width, height) lie in the band (pixel centres)."""
        turn = math.radians(self.angle)
        rows = np.arange(y, y + height, dtype=np.float64)[:, None]
        columns = np.arange(x, x + width, dtype=np.float64)[None, :]
        across = -math.sin(turn) * columns + math.cos(turn) * rows - self.offset
        return np.asarray(np.abs(across) <= self.half, dtype=bool)


@dataclass(frozen=True, slots=True)
class RedactionBox:
    """A rectangle blacked out, in pixel columns (x) and rows (y) of the frame.

    ``frames`` lists 0-based frame indices, or is ``None`` for every frame.  ``source``
    says what found it ("detector", "template", "ultrasound-region"); never the text.
    ``strip``, for a tilted line, limits what is blacked out to the band along the line within
    the rectangle (its corners hold anatomy, not text).
    """

    x: int
    y: int
    width: int
    height: int
    frames: tuple[int, ...] | None
    source: str
    strip: Strip | None = None

    @property
    def x1(self) -> int:
        return self.x + self.width

    @property
    def y1(self) -> int:
        return self.y + self.height

    def area(self) -> int:
        return self.width * self.height


def fill_value(decoded: DecodedPixels) -> tuple[int, ...]:
    """The per-sample value that renders black for ``decoded`` (see module docstring)."""
    facts = decoded.facts
    frames = decoded.frames
    if facts.photometric == "MONOCHROME2":
        return (int(frames.min()),)
    if facts.photometric == "MONOCHROME1":
        return (int(frames.max()),)
    if facts.photometric == "PALETTE COLOR":
        assert decoded.palette is not None
        luminance = decoded.palette.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
        return (int(np.argmin(luminance)) + decoded.palette_first,)
    if facts.photometric == "YBR_FULL":
        half = 1 << (facts.bits_stored - 1)
        return (0, half, half)
    return (0,) * facts.samples  # RGB


def clip_box(box: RedactionBox, rows: int, columns: int) -> RedactionBox | None:
    x0, y0 = max(0, box.x), max(0, box.y)
    x1, y1 = min(columns, box.x1), min(rows, box.y1)
    if x1 <= x0 or y1 <= y0:
        return None
    return RedactionBox(x0, y0, x1 - x0, y1 - y0, box.frames, box.source, box.strip)


def grow_box(box: RedactionBox, margin: int) -> RedactionBox:
    return RedactionBox(
        box.x - margin,
        box.y - margin,
        box.width + 2 * margin,
        box.height + 2 * margin,
        box.frames,
        box.source,
        None if box.strip is None else box.strip.grown(margin),
    )


def apply_boxes(
    frames: npt.NDArray[np.generic],
    boxes: Iterable[RedactionBox],
    fill: Sequence[int],
) -> npt.NDArray[np.generic]:
    """Copy of ``frames`` (F × R × C [× S]) with every box filled on its frames."""
    out = frames.copy()
    count, rows, columns = frames.shape[:3]
    value = np.asarray(fill, dtype=frames.dtype)
    if frames.ndim == 3:
        value = value.reshape(())
    for box in boxes:
        clipped = clip_box(box, rows, columns)
        if clipped is None:
            continue
        selection = (
            slice(None) if clipped.frames is None else [f for f in clipped.frames if 0 <= f < count]
        )
        if clipped.strip is None:
            out[selection, clipped.y : clipped.y1, clipped.x : clipped.x1] = value
            continue
        band = clipped.strip.mask(clipped.x, clipped.y, clipped.width, clipped.height)
        region = out[selection, clipped.y : clipped.y1, clipped.x : clipped.x1]  # a copy for a list of frames
        region[:, band] = value
        out[selection, clipped.y : clipped.y1, clipped.x : clipped.x1] = region
    return out
