"""A tilted line is blacked out in the band along it, not in its box's corners (issue 9:
over-redaction; tuning seeds 10191 and 10204).

The box around a label tilted by 16-20 degrees is two to three times the label's area: its
corners hold anatomy.  On a 120-row Doppler screen the box of one tilted 32 px label blacked
out 10.6 % of the image, and on an XA run 9,000 pixels a frame beside the label.  A line set
level (``deskew.level_line``) knows the band of rows its glyphs fill; the band, padded like a
box, is what is blacked out (``redact.Strip``).  When another detector box of the same region
lies outside the band, the whole box is blacked out as before.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import pydicom
from pixel_fixtures import image_dataset, stored_frames
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid
from test_pixels_tilted import SERIF, tilted_glyphs

from dicom_deid.pixels import PixelMode, PixelPolicy, PixelStage
from dicom_deid.pixels.deskew import level_line
from dicom_deid.pixels.ocr import TextBox
from dicom_deid.pixels.redact import RedactionBox, Strip, apply_boxes, grow_box

MR = "1.2.840.10008.5.1.4.1.1.4"
MONO_BOLD = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf"


def test_strip_fills_only_the_band_within_the_box() -> None:
    """A box with a band at 20 degrees: a pixel is filled exactly when its distance across the
    line (computed here from the angle) is within the band, on the frames listed only."""
    frames = np.full((3, 60, 80), 7, np.uint16)
    strip = Strip(20.0, 10.0, 4.0)
    box = RedactionBox(5, 8, 60, 40, (1,), "detector", strip)
    out = apply_boxes(frames, [box], (0,))
    turn = math.radians(20.0)
    ys, xs = np.mgrid[0:60, 0:80]
    across = -math.sin(turn) * xs + math.cos(turn) * ys - 10.0
    expected = (np.abs(across) <= 4.0) & (xs >= 5) & (xs < 65) & (ys >= 8) & (ys < 48)
    assert expected.sum() > 100 and (~expected[8:48, 5:65]).sum() > 100
    assert np.array_equal(out[1] == 0, expected)
    assert np.array_equal(out[0], frames[0]) and np.array_equal(out[2], frames[2])


def test_margin_grows_the_band_as_well_as_the_box() -> None:
    grown = grow_box(RedactionBox(5, 8, 60, 40, None, "detector", Strip(20.0, 10.0, 4.0)), 3)
    assert (grown.x, grown.y, grown.width, grown.height) == (2, 5, 66, 46)
    assert grown.strip == Strip(20.0, 10.0, 7.0)


def test_band_of_a_level_line_holds_every_glyph_pixel() -> None:
    """Every glyph pixel of a 20 px line drawn at 17 degrees on a flat field is in the band of
    the line set level, and the band is less than half the box (its corners are left)."""
    glyph = tilted_glyphs("WOJCIK^HUGO 1933", 20, MONO_BOLD, 17.0)
    h, w = glyph.shape
    image = np.full((h + 40, w + 40), 60, np.uint8)
    image[20 : 20 + h, 20 : 20 + w][glyph] = 230
    box = TextBox(16, 16, w + 8, h + 8)
    level = level_line(image, box)
    assert level is not None
    band = level.strip.mask(0, 0, image.shape[1], image.shape[0])
    ink = image == 230
    assert int((ink & ~band).sum()) == 0
    assert band[16 : 16 + h + 8, 16 : 16 + w + 8].mean() < 0.5


def _mr_with(masks: list[np.ndarray]) -> np.ndarray:
    base = pydicom.dcmread(get_testdata_file("MR_small.dcm")).pixel_array.astype(np.float64)
    image = np.kron(base, np.ones((8, 8)))
    image = (image - image.min()) / np.ptp(image) * 3000
    for mask in masks:
        image[mask] = 4000
    return image.astype(np.uint16)


def test_tilted_label_over_an_mr_is_blacked_out_in_its_band() -> None:
    """A 16 px name tilted by 18 degrees over a real MR (MR_small, 512 x 512): every glyph pixel
    is changed, and at most 60 % of the label's upright box (grown by 8 px) is (the whole box was)."""
    glyph = tilted_glyphs("FITZGERALD^MATEO 1962", 16, MONO_BOLD, 18.0)
    mask = np.zeros((512, 512), bool)
    mask[240 : 240 + glyph.shape[0], 90 : 90 + glyph.shape[1]] = glyph
    pixels = _mr_with([mask])
    ds = image_dataset(pixels, modality="MR", sop_class=MR, series=(generate_uid(), generate_uid()))
    outcome = PixelStage(PixelPolicy(PixelMode.ALL)).process(ds, target := copy.deepcopy(ds))
    assert outcome.redacted
    after = stored_frames(target)[0, ..., 0]
    assert int(((after == pixels) & mask).sum()) == 0
    ys, xs = np.nonzero(mask)
    upright = (slice(ys.min() - 8, ys.max() + 9), slice(xs.min() - 8, xs.max() + 9))
    assert (after[upright] != pixels[upright]).mean() <= 0.6


def test_two_tilted_lines_in_one_region_are_both_blacked_out() -> None:
    """Two 14 px lines tilted by 18 degrees, one under the other (a two-line label): every glyph
    pixel of both is changed (a band along one of them alone would leave the other)."""
    first = tilted_glyphs("ABERNATHY^SOFIA", 14, SERIF, 18.0)
    second = tilted_glyphs("DOB 1957-03-02", 14, SERIF, 18.0)
    masks = [np.zeros((512, 512), bool), np.zeros((512, 512), bool)]
    masks[0][230 : 230 + first.shape[0], 100 : 100 + first.shape[1]] = first
    masks[1][252 : 252 + second.shape[0], 104 : 104 + second.shape[1]] = second
    pixels = _mr_with(masks)
    ds = image_dataset(pixels, modality="MR", sop_class=MR, series=(generate_uid(), generate_uid()))
    outcome = PixelStage(PixelPolicy(PixelMode.ALL)).process(ds, target := copy.deepcopy(ds))
    assert outcome.redacted
    after = stored_frames(target)[0, ..., 0]
    assert [int(((after == pixels) & m).sum()) for m in masks] == [0, 0]
