"""An unconfirmed region of a cine is blacked out only on the frames that show it (issue 9).

On a high-risk multi-frame image an unconfirmed region is redacted.  No frame reads it as text,
so ``frames.assign_frames`` used to leave it on every frame: colour flow over speckle taken for
text on one frame of a 16-frame Doppler (tuning seed 10503) was blacked out on all 16, 5.4 % of
the image.  ``frames.frames_showing`` keeps such a region on the frames where its stroke pixels
show the values the search saw (burned-in text keeps its values wherever it is drawn); where no
frame does, on every frame.

The runs are emri_small's slices (pydicom's test data, ``volume_frames``), labels drawn with
Pillow.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import numpy as np
from pixel_fixtures import stored_frames
from pydicom.uid import generate_uid
from test_pixels_hard_cases import MONO, image_dataset
from test_pixels_miss_classes import XA, text_mask, volume_frames

from dicom_deid.pixels import PixelMode, PixelPolicy, PixelStage
from dicom_deid.pixels.confirm import Judged, Verdict
from dicom_deid.pixels.decode import DecodedPixels, decode_pixels
from dicom_deid.pixels.detect import TextSearch
from dicom_deid.pixels.display import display_frame
from dicom_deid.pixels.frames import frames_showing
from dicom_deid.pixels.ocr import TextBox
from dicom_deid.pixels.redact import RedactionBox

BOX = RedactionBox(96, 100, 72, 40, None, "detector-uncertain")


def _decoded(frames: np.ndarray) -> DecodedPixels:
    ds = image_dataset(frames, modality="XA", sop_class=XA, series=(generate_uid(), generate_uid()),
                       image_type=("ORIGINAL", "PRIMARY", "SINGLE PLANE"))
    return decode_pixels(ds)


def _speckled(frames: np.ndarray) -> np.ndarray:
    """``frames`` with BOX filled by speckle drawn afresh on every frame (flow, not text)."""
    rng = np.random.default_rng(3)
    out = frames.copy()
    for index in range(len(out)):
        blobs = rng.random((BOX.height // 4, BOX.width // 4)) > 0.6
        out[index, BOX.y : BOX.y1, BOX.x : BOX.x1] = np.where(np.kron(blobs, np.ones((4, 4), bool)), 3800, 200)
    return out


def test_region_of_speckle_that_changes_every_frame_stays_on_its_own_frames() -> None:
    decoded = _decoded(_speckled(volume_frames(16)))
    reference = display_frame(decoded, decoded.frames[7])  # the frame it was found on
    (box,) = frames_showing(decoded, [(BOX, reference)])
    assert box.frames is not None
    assert 7 in box.frames
    assert set(box.frames) <= {6, 7, 8}


def test_label_on_some_frames_keeps_every_frame_that_shows_it() -> None:
    """A label drawn on frames 9-12 over the run (the slices change under it at frame 12)."""
    frames = volume_frames(24)
    label = text_mask(frames.shape[1:], "ID 4471", (BOX.x + 4, BOX.y + 8), 22, MONO)
    for index in range(9, 13):
        frames[index][label] = 4000
    decoded = _decoded(frames)
    (box,) = frames_showing(decoded, [(BOX, display_frame(decoded, decoded.frames[10]))])
    assert box.frames is not None
    assert {9, 10, 11, 12} <= set(box.frames)
    assert not set(box.frames) & {0, 1, 2, 3, 4, 5, 20, 21, 22, 23}


def test_label_on_every_frame_and_region_no_frame_shows_stay_on_every_frame() -> None:
    frames = volume_frames(12)
    frames[:, text_mask(frames.shape[1:], "ID 4471", (BOX.x + 4, BOX.y + 8), 22, MONO)] = 4000
    decoded = _decoded(frames)
    static, = frames_showing(decoded, [(BOX, display_frame(decoded, decoded.frames[4]))])
    assert static.frames is None
    # found on an image no frame matches (the deviation projection holds differences)
    elsewhere = 255 - display_frame(decoded, decoded.frames[4])
    other, = frames_showing(decoded, [(BOX, np.ascontiguousarray(elsewhere))])
    assert other.frames is None


def test_region_already_assigned_to_frames_is_left_as_it_is() -> None:
    decoded = _decoded(_speckled(volume_frames(8)))
    given = RedactionBox(BOX.x, BOX.y, BOX.width, BOX.height, (2, 3), "detector-uncertain")
    (box,) = frames_showing(decoded, [(given, display_frame(decoded, decoded.frames[6]))])
    assert box == given


class _FoundOnFrame:
    """A text search that found BOX, unconfirmed, on one frame of the run (the stage's policy
    for unconfirmed regions on a high-risk image is what is tested)."""

    def __init__(self, frame: np.ndarray) -> None:
        self.frame = frame

    def __call__(self, images: Sequence[np.ndarray], derived: Sequence[bool]) -> TextSearch:
        found = TextBox(BOX.x, BOX.y, BOX.width, BOX.height)
        return TextSearch((Judged(found, Verdict.UNCERTAIN, len(images), 20),), (*images, self.frame))


def test_stage_blacks_out_an_unconfirmed_region_of_a_cine_only_where_it_is_shown() -> None:
    """An XA run (high risk): the unconfirmed region found on frame 7 over speckle that changes
    every frame is blacked out on frames 6-8 at most, not on all 16."""
    frames = _speckled(volume_frames(16))
    ds = image_dataset(frames, modality="XA", sop_class=XA, series=(generate_uid(), generate_uid()),
                       image_type=("ORIGINAL", "PRIMARY", "SINGLE PLANE"))
    finder = _FoundOnFrame(display_frame(decode_pixels(ds), decode_pixels(ds).frames[7]))
    outcome = PixelStage(PixelPolicy(PixelMode.ALL), finder=finder).process(ds, target := copy.deepcopy(ds))
    changed = (stored_frames(ds) != stored_frames(target)).reshape(16, -1).any(axis=1)
    assert outcome.redacted and outcome.uncertain == 1
    assert changed[7]
    assert set(np.flatnonzero(changed)) <= {6, 7, 8}
