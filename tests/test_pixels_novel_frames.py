"""A grey label on one frame of a 60-frame run was never searched (issue 9, tuning seed 10191).

Frames that show something neither neighbour shows are searched on their own, most first (at
most ``NOVEL_FRAMES``).  In the miss, three other frames held bright labels and one a flash; the
grey label ranked fifth, and four were searched.  Now six are.
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


def _run_with_labels() -> tuple[np.ndarray, np.ndarray]:
    """60 frames of a volume (emri_small slices, six frames each), bright labels on frames 5, 13
    and 56, a flash over a corner of frame 41, and a grey label on frame 42: (frames, its mask)."""
    frames = volume_frames(60)
    for index, (text, at) in {5: ("MRN 8758673", (10, 10)), 13: ("HUGO PETROVIC", (20, 60)),
                              56: ("DOB 20/08/1936", (20, 200))}.items():
        frames[index][text_mask(frames.shape[1:], text, at, 12, MONO)] = 4000
    frames[41, 0:110, 146:256] = 4095  # a flash over a corner of the field
    grey = np.zeros(frames.shape, bool)
    grey[42] = text_mask(frames.shape[1:], "ACC# 86971578", (100, 150), 13, MONO)
    low, high = float(frames.min()), float(frames.max())
    frames[grey] = round(low + 0.3 * (high - low))
    return frames, grey


def test_grey_label_on_one_frame_is_searched_beside_brighter_ones() -> None:
    frames, _grey = _run_with_labels()
    ds = image_dataset(frames, modality="XA", sop_class=XA, series=(generate_uid(), generate_uid()),
                       image_type=("ORIGINAL", "PRIMARY", "SINGLE PLANE"))
    decoded = decode_pixels(ds)
    stack = np.stack([display_frame(decoded, f) for f in decoded.frames])
    found = novel_frames(stack, exclude=(0, 20, 39, 59))
    assert 42 in found


def test_grey_label_on_one_frame_is_blacked_out() -> None:
    frames, grey = _run_with_labels()
    ds = image_dataset(frames, modality="XA", sop_class=XA, series=(generate_uid(), generate_uid()),
                       image_type=("ORIGINAL", "PRIMARY", "SINGLE PLANE"))
    outcome = PixelStage(PixelPolicy(PixelMode.ALL)).process(ds, target := copy.deepcopy(ds))
    after = stored_frames(target)[..., 0]
    assert outcome.redacted
    assert int(((after == frames) & grey).sum()) <= 0.02 * grey.sum()
