"""Tilted labels the search left, or blacked out on every frame (issue 9, tuning seeds 10191,
10201 and 10202).

* A 13 px name tilted by 19 degrees over an MR was proposed and rejected: a bright vessel ran
  under it, its strokes made the line look as thick as its box, so it was not taken for one
  tilted line and never read set level.  A line's thickness is now the narrowest band of rows
  that holds half its strokes (``deskew.BAND``).
* Grey text tilted by 20 degrees on a speckled colour photograph: the strongest stroke response
  of any channel was the speckle, and the text's strokes were lost.  Luminance is searched too.
* A label tilted by 16 degrees on frames 4-14 of a 24-frame XA run was blacked out on all 24
  frames: no frame read its box as it lies, and a region no frame reads is kept on every frame.
  Frames are now read with the line set level, and keep the region only where it is shown.
"""

from __future__ import annotations

import copy

import numpy as np
from pixel_fixtures import image_dataset, stored_frames
from pydicom.uid import generate_uid
from test_pixels_hard_cases import label_area
from test_pixels_miss_classes import volume_frames
from test_pixels_tilted import tilted_glyphs

from dicom_deid.pixels import PixelMode, PixelPolicy, PixelStage
from dicom_deid.pixels.deskew import level_line, line_tilt
from dicom_deid.pixels.ocr import TextBox

MONO_BOLD = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf"
XA = "1.2.840.10008.5.1.4.1.1.12.1"


def test_tilt_is_measured_with_a_vessel_under_the_line() -> None:
    """Strokes of a line tilted by 19 degrees plus a level bar under it (a third as many
    pixels as the glyphs): the tilt is still found, to a degree."""
    glyph = tilted_glyphs("FITZGERALD^MATEO", 13, MONO_BOLD, 19.0)
    h, w = glyph.shape
    mask = np.zeros((h + 30, w + 20), bool)
    mask[10 : 10 + h, 10 : 10 + w] = glyph
    bar = max(2, int(glyph.sum() / 3 / (w // 2)))
    mask[h + 14 : h + 14 + bar, 10 + w // 4 : 10 + 3 * w // 4] = True
    found = line_tilt(mask)
    assert found is not None
    assert abs(found[0] + 19.0) <= 1.0


def test_grey_text_tilted_on_a_speckled_colour_photograph_is_set_level() -> None:
    """Grey 20 px text tilted by 20 degrees on a beige photograph with coloured speckle (each
    channel's speckle as strong as the text in that channel): set level, at its tilt."""
    rng = np.random.default_rng(3)
    glyph = tilted_glyphs("ST ANSELM MEDICAL", 20, MONO_BOLD, 20.0)
    h, w = glyph.shape
    image = np.empty((h + 80, w + 80, 3), np.float64)
    image[...] = (228, 200, 172)
    image += rng.normal(0, 15, image.shape)
    for channel in range(3):  # coloured specks: dark in one channel only
        specks = rng.random(image.shape[:2]) < 0.1
        image[..., channel][specks] -= 90
    region = image[40 : 40 + h, 40 : 40 + w]
    region[glyph] = (128, 128, 128)
    rgb = np.clip(image, 0, 255).astype(np.uint8)
    level = level_line(rgb, TextBox(34, 34, w + 12, h + 12))
    assert level is not None
    assert abs(level.tilt + 20.0) <= 1.0


def test_tilted_label_on_some_frames_of_a_run_is_blacked_out_only_there() -> None:
    """A 30 px name tilted by 24 degrees on frames 4-14 of a 24-frame run (emri_small slices,
    512 x 512): every glyph pixel of those frames is changed, and the label's area is unchanged
    on frames more than one frame away (the frames kept are widened by one on each side)."""
    frames = np.kron(volume_frames(24), np.ones((1, 2, 2), np.uint16))
    glyph = tilted_glyphs("ABERNATHY^SOFIA", 30, MONO_BOLD, -24.0)
    h, w = glyph.shape
    mask = np.zeros(frames.shape, bool)
    shown = range(4, 15)
    for f in shown:
        mask[f, 330 : 330 + h, 20 : 20 + w] = glyph
    frames[mask] = 4095
    ds = image_dataset(frames, modality="XA", sop_class=XA, series=(generate_uid(), generate_uid()))
    outcome = PixelStage(PixelPolicy(PixelMode.ALL)).process(ds, target := copy.deepcopy(ds))
    assert outcome.redacted
    after = stored_frames(target)[..., 0]
    assert [int(((after[f] == frames[f]) & mask[f]).sum()) for f in shown] == [0] * len(shown)
    area = label_area(mask.any(axis=0), 4)
    away = [f for f in range(24) if f < min(shown) - 1 or f > max(shown) + 1]
    assert [f for f in away if not np.array_equal(after[f][area], frames[f][area])] == []
