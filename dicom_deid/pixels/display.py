"""Turn decoded frames into 8-bit display images for text detection.  Pure; no DICOM I/O.

Detection works on what a person would see: MONOCHROME1 is inverted, YBR is converted to
RGB, palettes are applied, and high bit depths are scaled by the frame's full stored
range (burned-in text is drawn at or near the extremes, so a full-range window keeps it
visible whatever the VOI window of the anatomy is).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from dicom_deid.pixels.decode import DecodedPixels

if TYPE_CHECKING:
    import numpy.typing as npt


def scale_to_uint8(
    frame: npt.NDArray[np.generic], lo: float | None = None, hi: float | None = None
) -> npt.NDArray[np.uint8]:
    data = frame.astype(np.float32, copy=False)
    lo = float(data.min()) if lo is None else lo
    hi = float(data.max()) if hi is None else hi
    if hi <= lo:
        return np.zeros(frame.shape, dtype=np.uint8)
    out = (data - lo) * (255.0 / (hi - lo))
    result: npt.NDArray[np.uint8] = np.clip(out + 0.5, 0, 255).astype(np.uint8)
    return result


def display_frame(decoded: DecodedPixels, frame: npt.NDArray[np.generic]) -> npt.NDArray[np.uint8]:
    """One frame (rows × columns [× 3]) of ``decoded`` as a grey or RGB uint8 image."""
    facts = decoded.facts
    photometric = facts.photometric
    if photometric in ("MONOCHROME1", "MONOCHROME2"):
        image = scale_to_uint8(frame)
        return 255 - image if photometric == "MONOCHROME1" else image
    if photometric == "PALETTE COLOR":
        assert decoded.palette is not None
        index = frame.astype(np.int64) - decoded.palette_first
        np.clip(index, 0, len(decoded.palette) - 1, out=index)
        return decoded.palette[index]
    if facts.bits_stored > 8:
        rgb = scale_to_uint8(frame, 0.0, float((1 << facts.bits_stored) - 1))
    else:
        rgb = np.asarray(frame, dtype=np.uint8)
    if photometric == "YBR_FULL":
        return ybr_full_to_rgb(rgb)
    return rgb


def ybr_full_to_rgb(ybr: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """PS3.3 C.7.6.3.1.2 YBR_FULL → RGB for 8-bit data."""
    y = ybr[..., 0].astype(np.float32)
    cb = ybr[..., 1].astype(np.float32) - 128.0
    cr = ybr[..., 2].astype(np.float32) - 128.0
    r = y + 1.402 * cr
    g = y - 0.344136 * cb - 0.714136 * cr
    b = y + 1.772 * cb
    return np.clip(np.stack([r, g, b], axis=-1) + 0.5, 0, 255).astype(np.uint8)
