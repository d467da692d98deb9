"""A region no frame of a cine reads is blacked out only on the frames that show it (issue 9).

``frames.assign_frames`` keeps a region on the frames that read as text.  A region that no frame
reads used to stay on every frame: colour flow over speckle taken for text on one frame of a
16-frame Doppler (an unconfirmed region, tuning seed 10503) was blacked out on all 16, 5.4 % of
the image; a 33 px label tilted by 20 degrees on one frame of a 60-frame XA run (a confirmed
line, tuning seed 10705), read set level only on the frame no probe saw, on all 60 (7.9 %).
Given the search image each region was found on, such a region is kept on the frames that show
what the search saw there (burned-in text keeps its values wherever it is drawn); where no
frame does, on every frame.

The runs are emri_small's slices (pydicom's test data, ``volume_frames``), labels drawn with
Pillow.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import numpy as np
from PIL import Image
from pixel_fixtures import stored_frames
from pydicom.uid import generate_uid
from test_pixels_hard_cases import MONO, image_dataset
from test_pixels_miss_classes import XA, text_mask, volume_frames

from dicom_deid.pixels import PixelMode, PixelPolicy, PixelStage
from dicom_deid.pixels.confirm import Judged, Verdict
from dicom_deid.pixels.decode import DecodedPixels, decode_pixels
from dicom_deid.pixels.detect import TextSearch
from dicom_deid.pixels.display import display_frame
from dicom_deid.pixels.frames import assign_frames
from dicom_deid.pixels.ocr import TextBox
from dicom_deid.pixels.recognize import Reading
from dicom_deid.pixels.redact import RedactionBox

BOX = RedactionBox(96, 100, 72, 40, None, "detector-uncertain")


def _decoded(frames: np.ndarray) -> DecodedPixels:
    ds = image_dataset(frames, modality="XA", sop_class=XA, series=(generate_uid(), generate_uid()),
                       image_type=("ORIGINAL", "PRIMARY", "SINGLE PLANE"))
    return decode_pixels(ds)


def _reads_nothing(crops: Sequence[np.ndarray]) -> list[Reading]:
    """A recognizer that reads no frame (what the search confirmed or doubted no frame confirms)."""
    return [Reading("", ()) for _ in crops]


def _showing(decoded: DecodedPixels, box: RedactionBox, found_on: np.ndarray) -> RedactionBox:
    (out,) = assign_frames(decoded, [box], _reads_nothing, [np.ascontiguousarray(found_on)])
    return out


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
    box = _showing(decoded, BOX, reference)
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
    box = _showing(decoded, BOX, display_frame(decoded, decoded.frames[10]))
    assert box.frames is not None
    assert {9, 10, 11, 12} <= set(box.frames)
    assert not set(box.frames) & {0, 1, 2, 3, 4, 5, 20, 21, 22, 23}


def test_label_on_every_frame_and_region_no_frame_shows_stay_on_every_frame() -> None:
    frames = volume_frames(12)
    frames[:, text_mask(frames.shape[1:], "ID 4471", (BOX.x + 4, BOX.y + 8), 22, MONO)] = 4000
    decoded = _decoded(frames)
    static = _showing(decoded, BOX, display_frame(decoded, decoded.frames[4]))
    assert static.frames is None
    # found on an image no frame matches (the deviation projection holds differences)
    elsewhere = 255 - display_frame(decoded, decoded.frames[4])
    other = _showing(decoded, BOX, elsewhere)
    assert other.frames is None


def test_without_the_search_image_a_region_no_frame_reads_stays_on_every_frame() -> None:
    decoded = _decoded(_speckled(volume_frames(8)))
    (box,) = assign_frames(decoded, [BOX], _reads_nothing)
    assert box.frames is None


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


def test_label_on_frames_scaled_each_to_its_own_range_keeps_every_frame_that_shows_it() -> None:
    """A grey label on frames 8-14, found on frame 11; every frame but 11 holds a brighter speck,
    so the label's stored value shows as another grey on them: it is kept on all seven."""
    frames = volume_frames(24)
    label = text_mask(frames.shape[1:], "ID 4471", (BOX.x + 4, BOX.y + 8), 22, MONO)
    for index in range(len(frames)):
        frames[index, 2:5, 2:5] = 3000 if index == 11 else 4095
    for index in range(8, 15):
        frames[index][label] = 2200
    decoded = _decoded(frames)
    box = _showing(decoded, BOX, display_frame(decoded, decoded.frames[11]))
    assert box.frames is not None
    assert set(range(8, 15)) <= set(box.frames)
    assert not set(box.frames) & {0, 1, 2, 3, 4, 20, 21, 22, 23}


def _tilted_label(shape: tuple[int, int], text: str, at: tuple[int, int], size: int, degrees: float) -> np.ndarray:
    """Glyph mask of ``text`` turned by ``degrees`` counter-clockwise, its corner at ``at``."""
    from PIL import ImageDraw, ImageFont

    face = ImageFont.truetype(MONO, size)
    left, top, right, bottom = ImageDraw.Draw(Image.new("L", (1, 1))).textbbox((0, 0), text, font=face)
    layer = Image.new("L", (right - left + 4, bottom - top + 4), 0)
    ImageDraw.Draw(layer).text((2 - left, 2 - top), text, fill=255, font=face)
    glyph = np.asarray(layer.rotate(degrees, resample=Image.Resampling.BILINEAR, expand=True)) > 110
    out = np.zeros(shape, bool)
    x, y = at
    out[y : y + glyph.shape[0], x : x + glyph.shape[1]] = glyph[: shape[0] - y, : shape[1] - x]
    return out


def test_stage_blacks_out_a_tilted_label_on_one_frame_of_sixty_only_around_that_frame() -> None:
    """A label tilted by 20 degrees on frame 7 of a 60-frame XA run (no probe frame holds it, and
    read as it lies no frame confirms it): blacked out on frame 7, and on frames 6-8 at most."""
    frames = volume_frames(60)
    label = _tilted_label(frames.shape[1:], "MRN:071518089", (8, 150), 30, -20.0)  # cut by the bottom edge
    frames[7][label] = 4095
    ds = image_dataset(frames, modality="XA", sop_class=XA, series=(generate_uid(), generate_uid()),
                       image_type=("ORIGINAL", "PRIMARY", "SINGLE PLANE"))
    target = copy.deepcopy(ds)
    outcome = PixelStage(PixelPolicy(PixelMode.ALL)).process(ds, target)
    after = stored_frames(target)
    changed = (stored_frames(ds) != after).reshape(60, -1).any(axis=1)
    assert outcome.redacted
    assert (after[7][label] != 4095).mean() > 0.95  # the label is gone
    assert set(np.flatnonzero(changed)) <= {6, 7, 8}


def test_region_found_on_a_projection_stays_on_every_frame() -> None:
    """A faint label on frame 5, found on the maximum projection of the run, where frame 19's
    bright marks over the same place make most of the strokes: the maximum mixes frames, so
    the region is not placed on frame 19's frames (the label would be left on frame 5)."""
    frames = volume_frames(24)
    frames[5][text_mask(frames.shape[1:], "ID 4471", (BOX.x + 4, BOX.y + 8), 10, MONO)] = 2000
    frames[19][text_mask(frames.shape[1:], "MMMMMM", (BOX.x + 2, BOX.y + 6), 28, MONO)] = 4095
    decoded = _decoded(frames)
    maximum = np.max(np.stack([display_frame(decoded, frame) for frame in decoded.frames]), axis=0)
    assert _showing(decoded, BOX, maximum).frames is None
