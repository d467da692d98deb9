"""A tilted clock on every frame of a cine keeps every frame (issue 9).

``frames.assign_frames`` reads each region of a multi-frame instance frame by frame and keeps it
on the frames whose reading is confirmed text like the region's.  On the 16-frame Doppler cine of
``test_pixels_joined_tilt_band`` (a grey 5 x 7 dot-matrix clock tilted by 13 degrees, after tune
seed 10806 case031), the search gave two regions when it also looked at the small image enlarged
2x:

* the clock's left part, banded along its tilt (``RedactionBox.strip``).  Read as it lies, the
  tilted digits were read right ("10:00:", "10:02.") but too unsurely to confirm, on frames 0-3
  and 6-8; set level by ``deskew.level_line``, frame by frame, other strokes were measured or
  none.  The region was kept on frames 4-15: the clock's start was left readable on frames 0-3.
  A banded region is now set level along its own band, the same on every frame.
* its right part, the seconds ("145", "26", "156°"): confirmed on 5 of 16 frames, uncertain on
  the others, and kept on 9 frames; the seconds were left readable on frames 5-10.  A frame whose
  uncertain reading is like the text confirmed on other frames now keeps the region too.

The regions are given as the search found them; the recognizer is the one the stage uses.
"""

from __future__ import annotations

import math

import numpy as np
from pixel_fixtures import image_dataset
from pydicom.uid import generate_uid
from test_over10_texture_trim import _doppler
from test_pixels_joined_tilt_band import AT, FRAMES, _cine, _clock

from dicom_deid.pixels.decode import decode_pixels
from dicom_deid.pixels.frames import _like_the_text, assign_frames
from dicom_deid.pixels.recognize import Reading
from dicom_deid.pixels.redact import RedactionBox, Strip
from dicom_deid.pixels.stage import PixelPolicy, PixelStage

#: The clock's left part, with the band the search measured (angle, offset, half-width).
START = RedactionBox(37, 18, 152, 54, None, "detector", Strip(13.0, 26.63, 18.53))
#: Its right part, the seconds, found unbanded.
SECONDS = RedactionBox(151, 50, 97, 43, None, "detector")


def _frames(box: RedactionBox, frames: np.ndarray) -> tuple[int, ...] | None:
    ds = image_dataset(frames, modality="US", sop_class="1.2.840.10008.5.1.4.1.1.6.1",
                       series=(generate_uid(), generate_uid()))
    recognizer = PixelStage(PixelPolicy()).recognizer
    (out,) = assign_frames(decode_pixels(ds), [box], recognizer.read_crops)  # type: ignore[attr-defined]
    return out.frames


def _cine_shown(shown: range) -> np.ndarray:
    """The cine of ``_cine`` with the clock drawn on the frames in ``shown`` only."""
    base = _doppler().astype(np.float32)
    noise = np.random.default_rng(10806)
    out = []
    for i in range(FRAMES):
        shifted = np.roll(base, (int(3 * math.sin(i / 4)), int(2 * math.cos(i / 5))), axis=(0, 1))
        frame = np.clip(shifted + noise.normal(0, 5.0, base.shape), 0, 255)
        if i in shown:
            alpha, _block = _clock(f"10:{i:02d}:{(7 * i) % 60:02d}")
            x, y = AT
            h, w = alpha.shape
            frame[y : y + h, x : x + w] = frame[y : y + h, x : x + w] * (1 - alpha[..., None]) + 200.0 * alpha[..., None]
        out.append(frame.round().astype(np.uint8))
    return np.stack(out)


def test_banded_start_of_a_tilted_clock_keeps_every_frame() -> None:
    assert _frames(START, _cine()[0]) is None  # main: frames 4-15


def test_seconds_read_unsurely_keep_every_frame() -> None:
    assert _frames(SECONDS, _cine()[0]) is None  # main: frames 1-4 and 11-15


def test_frames_without_the_clock_are_left_alone() -> None:
    """With the clock shown on frames 0-7 only, neither part is kept on the frames 10-15, where the
    region holds colour Doppler and speckle, whatever those read as."""
    frames = _cine_shown(range(8))
    for box in (START, SECONDS):
        kept = _frames(box, frames)
        assert kept is not None, box
        assert set(range(8)) <= set(kept), (box, kept)
        assert not set(range(10, FRAMES)) & set(kept), (box, kept)


def test_an_uncertain_reading_counts_only_when_like_the_text() -> None:
    def read(*texts: str | None) -> list[Reading | None]:
        return [None if t is None else Reading(t, (0.6,) * len(t)) for t in texts]

    confirmed = read("145", None, None, None)
    unsure = read(None, "26", "AK", None)
    assert _like_the_text(confirmed, 0, unsure) == [True, True, False, False]
    assert _like_the_text(read(None, None), None, read("26", "14")) == [False, False]  # nothing confirmed
