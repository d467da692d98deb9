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

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from dicom_deid.pixels.decode import DecodedPixels

if TYPE_CHECKING:
    import numpy.typing as npt


@dataclass(frozen=True, slots=True)
class RedactionBox:
    """A rectangle blacked out, in pixel columns (x) and rows (y) of the frame.

    ``frames`` lists 0-based frame indices, or is ``None`` for every frame.  ``source``
    says what found it ("detector", "template", "ultrasound-region"); never the text.
    """

    x: int
    y: int
    width: int
    height: int
    frames: tuple[int, ...] | None
    source: str

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
    return RedactionBox(x0, y0, x1 - x0, y1 - y0, box.frames, box.source)


def grow_box(box: RedactionBox, margin: int) -> RedactionBox:
    return RedactionBox(
        box.x - margin,
        box.y - margin,
        box.width + 2 * margin,
        box.height + 2 * margin,
        box.frames,
        box.source,
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
        out[selection, clipped.y : clipped.y1, clipped.x : clipped.x1] = value
    return out
