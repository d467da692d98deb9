"""A faint name on one frame of a 60-frame XA run was never searched (issue 9, seed 10893 case008).

The name differed from the frames either side by about 40 grey levels: few of its pixels passed
the novelty level of 64, so no frame showed it alone and the projections mixed it with the
anatomy of 59 other frames.  Frames that stand out only at ``NOVEL_FAINT`` are searched too,
after the ones that stand out at ``NOVEL_LEVEL``.
"""

from __future__ import annotations

import copy

import numpy as np
from pixel_fixtures import stored_frames
from pydicom.uid import generate_uid
from test_pixels_hard_cases import MONO, image_dataset
from test_pixels_miss_classes import XA, text_mask, volume_frames

from dicom_deid.pixels import PixelMode, PixelPolicy, PixelStage
from dicom_deid.pixels.decode import decode_pixels
from dicom_deid.pixels.display import display_frame
from dicom_deid.pixels.views import novel_frames

FAINT_FRAME = 44
BRIGHT_FRAME = 30


def _run_with_faint_name() -> tuple[np.ndarray, np.ndarray]:
    """60 frames of a volume, a bright label on frame 30 and a faint name (about 40 grey levels
    over its ground on the display) on frame 44: (frames, the faint name's mask)."""
    frames = volume_frames(60)
    low, high = float(frames.min()), float(frames.max())
    frames[BRIGHT_FRAME][text_mask(frames.shape[1:], "MRN 8758673", (10, 10), 12, MONO)] = high
    faint = np.zeros(frames.shape, bool)
    faint[FAINT_FRAME] = text_mask(frames.shape[1:], "MARTINEZ ROSA", (60, 120), 16, MONO)
    lifted = frames[FAINT_FRAME].astype(np.float64) + 0.16 * (high - low)
    frames[FAINT_FRAME][faint[FAINT_FRAME]] = np.minimum(lifted, high)[faint[FAINT_FRAME]].round().astype(frames.dtype)
    return frames, faint


def _dataset(frames: np.ndarray):  # type: ignore[no-untyped-def]
    return image_dataset(frames, modality="XA", sop_class=XA, series=(generate_uid(), generate_uid()),
                         image_type=("ORIGINAL", "PRIMARY", "SINGLE PLANE"))


def test_faint_name_differs_by_less_than_the_novelty_level() -> None:
    """The case the faint level exists for: under 64 grey levels, over 32, on the display."""
    frames, faint = _run_with_faint_name()
    decoded = decode_pixels(_dataset(frames))
    stack = np.stack([display_frame(decoded, f) for f in decoded.frames]).astype(int)
    lift = (stack[FAINT_FRAME] - stack[FAINT_FRAME - 1])[faint[FAINT_FRAME]]
    assert 32 < float(np.median(lift)) < 64


def test_faint_name_on_one_frame_is_searched_after_brighter_ones() -> None:
    frames, _faint = _run_with_faint_name()
    decoded = decode_pixels(_dataset(frames))
    stack = np.stack([display_frame(decoded, f) for f in decoded.frames])
    found = novel_frames(stack, exclude=(0, 20, 39, 59))
    assert FAINT_FRAME in found
    assert found.index(BRIGHT_FRAME) < found.index(FAINT_FRAME)


def test_faint_name_on_one_frame_is_blacked_out() -> None:
    frames, faint = _run_with_faint_name()
    ds = _dataset(frames)
    outcome = PixelStage(PixelPolicy(PixelMode.ALL)).process(ds, target := copy.deepcopy(ds))
    after = stored_frames(target)[..., 0]
    assert outcome.redacted
    assert int(((after == frames) & faint).sum()) <= 0.02 * faint.sum()
