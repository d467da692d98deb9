"""Text on a few neighbouring frames of a run whose frames all differ (issue 9, hard case).

A 24-frame XA run of different slices carried a name on 4 neighbouring frames, none of them one
of the four evenly spaced frames: its minimum, maximum, median and deviation mixed the name with
the anatomy of every other slice, no frame showed it alone (``novel_frames``), and it was never
searched.  Each test plants its own text with Pillow on pydicom's own test images, runs the pixel
stage as the pipeline does (the shipped detector and recognizer, no stand-ins), and measures
against the glyphs it planted, never against the boxes the stage reports.
"""

from __future__ import annotations

import copy
import itertools

import cv2
import numpy as np
import pydicom
from pixel_fixtures import image_dataset, stored_frames
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid
from test_pixels_miss_classes import XA, text_mask

from dicom_deid.pixels import PixelMode, PixelPolicy, PixelStage
from dicom_deid.pixels.decode import decode_pixels
from dicom_deid.pixels.display import display_frame
from dicom_deid.pixels.views import held_frames, searched_frames, stride_frames


def slice_run(count: int) -> np.ndarray:
    """``count`` frames of emri_small's 10 slices enlarged to 256 x 256, every frame a different
    slice from its neighbours (slice ``i % 10``, shifted 6 px per pass through the volume), each
    with a texture of its own (smoothed noise, about a quarter of the anatomy's range): no two
    frames share their anatomy, as in a run of slices of a detailed volume."""
    base = pydicom.dcmread(get_testdata_file("emri_small.dcm")).pixel_array.astype(np.int32)
    rng = np.random.default_rng(22)
    frames = np.stack([np.roll(np.kron(base[i % 10], np.ones((4, 4), np.int32)), 6 * (i // 10), axis=1)
                       for i in range(count)])
    texture = np.stack([cv2.GaussianBlur(rng.normal(0, 1, frames.shape[1:]).astype(np.float32), (0, 0), 2.0)
                        for _ in range(count)])
    texture *= 120.0 / float(texture.std())
    noisy = frames + texture.astype(np.int32) + rng.normal(0, 8, frames.shape).astype(np.int32)
    return np.clip(noisy, 0, 4095).astype(np.uint16)


def run_with_label(count: int, shown: range, text: str, at: tuple[int, int], size: int, value: int = 300
                   ) -> tuple[pydicom.Dataset, np.ndarray]:
    """A run of ``count`` differing slices with ``text`` drawn at ``value`` (grey, within the
    anatomy's range: neither the maximum nor the minimum projection keeps it apart) on the frames
    ``shown``; and the mask of its glyphs."""
    frames = slice_run(count)
    mask = np.zeros(frames.shape, bool)
    mask[shown.start : shown.stop] = text_mask(frames.shape[1:], text, at, size)
    frames[mask] = value
    ds = image_dataset(frames, modality="XA", sop_class=XA, series=(generate_uid(), generate_uid()),
                       image_type=("ORIGINAL", "PRIMARY", "SINGLE PLANE"))
    return ds, mask


def test_name_on_four_of_twenty_four_differing_frames_is_redacted_where_shown() -> None:
    """A grey name over the anatomy on frames 9-12 of 24 different slices (the evenly spaced frames
    are 0, 8, 15, 23) is blacked out on each of those frames; frames more than a widening step
    away keep their pixels.  On main it was left on all four."""
    ds, mask = run_with_label(24, range(9, 13), "HALVORSEN^MARIT", (70, 120), 13)
    outcome = PixelStage(PixelPolicy(PixelMode.ALL)).process(ds, target := copy.deepcopy(ds))
    before, after = stored_frames(ds)[..., 0], stored_frames(target)[..., 0]
    assert outcome.redacted
    for index in range(9, 13):  # every frame that shows the name
        assert ((after[index] == before[index]) & mask[index]).sum() <= 0.02 * mask[index].sum(), index
    changed = after != before
    assert not changed[:7].any() and not changed[15:].any()  # a frame either side at most


def test_every_gap_between_searched_frames_of_a_differing_run_is_shorter_than_a_label() -> None:
    """Of 24 different slices, the frames searched on their own leave at most three frames in a row
    unsearched, so a label on four neighbouring frames is on one of them; a cine of one view (the
    same slice, noise only) keeps the four evenly spaced frames."""
    differing = slice_run(24)
    decoded = decode_pixels(image_dataset(differing, modality="XA", sop_class=XA,
                                          series=(generate_uid(), generate_uid())))
    stack = np.stack([display_frame(decoded, f) for f in decoded.frames])
    searched = sorted(searched_frames(stack, decoded.frames))
    assert searched[0] == 0 and searched[-1] == 23
    assert max(b - a for a, b in itertools.pairwise(searched)) <= 4
    assert len(searched) <= 12  # not every frame
    rng = np.random.default_rng(5)
    still = np.clip(differing[:1].astype(np.int32) + rng.normal(0, 3, (24,) + differing.shape[1:]).astype(np.int32),
                    0, 4095).astype(np.uint16)
    decoded = decode_pixels(image_dataset(still, modality="XA", sop_class=XA,
                                          series=(generate_uid(), generate_uid())))
    stack = np.stack([display_frame(decoded, f) for f in decoded.frames])
    assert searched_frames(stack, decoded.frames) == [0, 8, 15, 23]


def test_label_on_two_frames_between_searched_ones_is_found_where_it_appears() -> None:
    """A date on frames 5-6 of 24 different slices (the evenly spaced frames and those that fill
    the gaps between them are 0, 4, 8, 12, ...: the date is on none of them) appears on frame 5
    and ends on frame 6: those frames are searched, and the date is blacked out on both."""
    ds, mask = run_with_label(24, range(5, 7), "DOB 04-11-1977", (20, 24), 12)
    decoded = decode_pixels(ds)
    stack = np.stack([display_frame(decoded, f) for f in decoded.frames])
    assert not {5, 6} & {0, 8, 15, 23, *stride_frames(24, [0, 8, 15, 23])}
    searched = searched_frames(stack, decoded.frames)
    assert {5, 6} & set(searched) and len(searched) <= 12
    others = [i for i in searched if i not in (5, 6)]
    assert {5, 6} & set(held_frames(decoded.frames, exclude=others))
    outcome = PixelStage(PixelPolicy(PixelMode.ALL)).process(ds, target := copy.deepcopy(ds))
    before, after = stored_frames(ds)[..., 0], stored_frames(target)[..., 0]
    assert outcome.redacted
    for index in (5, 6):
        assert ((after[index] == before[index]) & mask[index]).sum() <= 0.02 * mask[index].sum(), index
    changed = after != before
    assert not changed[:3].any() and not changed[9:].any()


def test_a_moving_colour_run_gets_no_gap_filling() -> None:
    """The gap filling is for monochrome runs: the same 24 differing slices as a colour stack
    (a Doppler cine's colour flow was boxed on the added frames) keep gaps of more than four
    unsearched frames, while the monochrome stack has none."""
    decoded = decode_pixels(image_dataset(slice_run(24), modality="XA", sop_class=XA,
                                          series=(generate_uid(), generate_uid())))
    grey = np.stack([display_frame(decoded, f) for f in decoded.frames])
    mono = sorted(searched_frames(grey, decoded.frames))
    assert max(b - a for a, b in itertools.pairwise(mono)) <= 4
    colour = np.repeat(grey[..., None], 3, axis=-1)
    searched = sorted(searched_frames(colour, colour))
    assert max(b - a for a, b in itertools.pairwise(searched)) > 4
