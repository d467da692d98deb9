"""Regression tests for the readable leaks of the second generator's seeds 8401/8402 (issue 9).

Each test plants its own text with Pillow on pydicom's own test images and measures against what
it planted, never against the boxes the stage reports.
"""

from __future__ import annotations

import copy

import numpy as np
from pixel_fixtures import stored_frames
from pydicom.uid import generate_uid
from test_pixels_hard_cases import MONO, image_dataset
from test_pixels_miss_classes import text_mask, volume_frames

from dicom_deid.pixels import PixelMode, PixelPolicy, PixelStage

ENHANCED_MR = "1.2.840.10008.5.1.4.1.1.4.1"


def test_vertical_clock_reading_bottom_to_top_is_redacted_on_every_frame() -> None:
    """A 13 px clock turned a quarter clockwise that ticks on each
    of 20 frames of an MR run, over the anatomy: the per-frame check reads it the right way up
    and keeps it on every frame (read upside down, "10:00:07" yields a few "0" and ":" and most
    frames were dropped: 7 of 20 frames stayed readable)."""
    frames = volume_frames(20)
    mask = np.zeros(frames.shape, bool)
    for index in range(20):
        mask[index] = text_mask(frames.shape[1:], f"10:{index:02d}:{7 * index % 60:02d}", (70, 90), 13, MONO,
                                turn=3)
    frames[mask] = 4000
    ds = image_dataset(frames, modality="MR", sop_class=ENHANCED_MR, series=(generate_uid(), generate_uid()))
    outcome = PixelStage(PixelPolicy(PixelMode.ALL)).process(ds, target := copy.deepcopy(ds))
    before, after = stored_frames(ds)[..., 0], stored_frames(target)[..., 0]
    assert outcome.redacted
    kept = [int(((after[i] == before[i]) & mask[i]).sum()) for i in range(20)]
    assert len(kept) == 20 and max(kept) <= 0.02 * mask[0].sum(), kept


def test_vertical_label_on_part_of_a_run_reads_the_right_way_up() -> None:
    """A vertical label turned a quarter clockwise on frames 0-9 of 20: read the right way up on
    each frame, it is blacked out on those frames (and a frame either side) and the rest of the
    run keeps its anatomy (read upside down, no frame confirmed it and the box went on all 20)."""
    frames = volume_frames(20)
    mask = np.zeros(frames.shape, bool)
    mask[:10] = text_mask(frames.shape[1:], "HALVORSEN 1961", (70, 60), 13, MONO, turn=3)
    frames[mask] = 4000
    ds = image_dataset(frames, modality="MR", sop_class=ENHANCED_MR, series=(generate_uid(), generate_uid()))
    outcome = PixelStage(PixelPolicy(PixelMode.ALL)).process(ds, target := copy.deepcopy(ds))
    before, after = stored_frames(ds)[..., 0], stored_frames(target)[..., 0]
    assert outcome.redacted and ((after == before) & mask).sum() <= 0.02 * mask.sum()
    changed = after != before
    assert changed[:10].any(axis=(1, 2)).all()
    assert not changed[12:].any()
