"""A tilted label is blacked out along its line, not in its upright box's corners (issue 9,
over-redaction).

A line tilted by 15-20 degrees has an upright box two to three times as high as its glyphs.  It
is blacked out only in the band along the line (``detect._with_band``) once its tilt is measured
(``deskew.level_line``).  Two things had kept the whole box blacked out on a small colour Doppler
(tune seed 10808, case030: 9.5 % of a 120x256 frame):

* the tilt was measured only where the reading said the glyphs were lower than the box
  (``confirm.TILTED``), and a tilted line read in part ("DOB0702/0" for a longer date) counted
  its few characters over the whole length: glyphs as high as the box.  Lines at least
  ``detect.TILT_TRIED`` px high are now measured whatever the reading;
* a second pass's copy of the same line, merged with the banded copy (``fit.merge_lines``), made
  one rectangle again.  The banded copy now stands for the copies its box and band hold
  (``fit._banded``).

The base is pydicom-data's colour Doppler ``color-px.dcm`` (RGB, 120 x 256); the label is drawn
with Pillow in the fonts Debian ships; the whole pixel stage runs, with the real detector and
recognizer.
"""

from __future__ import annotations

import copy

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont
from pixel_fixtures import image_dataset, stored_frames
from pydicom.uid import generate_uid
from test_over10_texture_trim import _doppler

from dicom_deid.pixels import PixelMode, PixelPolicy, PixelStage

US = "1.2.840.10008.5.1.4.1.1.6.1"
FONTS = {
    "sans": "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "serif": "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf",
    "gothic": "/usr/share/fonts/type1/urw-base35/URWGothic-Book.t1",
}
MAGENTA = (230, 40, 220)


def tilted_label(text: str, size: int, font: str, angle: float) -> tuple[np.ndarray, np.ndarray]:
    """(glyph mask, mask of the line's own band) of ``text`` turned by ``angle`` degrees: the band
    is the text's upright box, turned with it, both cut to the glyphs' ink."""
    face = ImageFont.truetype(font, size)
    left, top, right, bottom = ImageDraw.Draw(Image.new("L", (1, 1))).textbbox((0, 0), text, font=face)
    glyphs = Image.new("L", (right - left + 4, bottom - top + 4), 0)
    ImageDraw.Draw(glyphs).text((2 - left, 2 - top), text, fill=255, font=face)
    block = Image.new("L", glyphs.size, 255)
    turned = np.asarray(glyphs.rotate(angle, Image.BILINEAR, expand=True)) > 110
    band = np.asarray(block.rotate(angle, Image.BILINEAR, expand=True)) > 0
    ys, xs = np.nonzero(turned)
    cut = np.s_[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    return turned[cut], band[cut]


def _redacted(text: str, size: int, font: str, angle: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(changed pixels, glyph mask, band mask) of the stage run on the Doppler with the label drawn
    in its top left corner."""
    image = _doppler().copy()
    glyph, block = tilted_label(text, size, FONTS[font], angle)
    mask = np.zeros(image.shape[:2], bool)
    band = np.zeros(image.shape[:2], bool)
    mask[5 : 5 + glyph.shape[0], 4 : 4 + glyph.shape[1]] = glyph
    band[5 : 5 + block.shape[0], 4 : 4 + block.shape[1]] = block
    image[mask] = MAGENTA
    ds = image_dataset(image, modality="US", sop_class=US, series=(generate_uid(), generate_uid()))
    PixelStage(PixelPolicy(PixelMode.ALL)).process(ds, target := copy.deepcopy(ds))
    changed = (stored_frames(target)[0] != image).any(axis=-1)
    return changed, mask, band


def _grown(mask: np.ndarray, by: int) -> np.ndarray:
    kernel = np.ones((2 * by + 1, 2 * by + 1), np.uint8)
    return np.asarray(cv2.dilate(mask.astype(np.uint8), kernel) > 0)


def _upright(mask: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(mask)
    out = np.zeros_like(mask)
    out[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1] = True
    return out


@pytest.mark.parametrize("font", list(FONTS))
@pytest.mark.parametrize(("text", "size", "angle"), [("DOB 07/02/1961", 18, -18.0), ("DOB 07/02/1961", 18, 17.0),
                                                     ("MRN 0715180", 20, -20.0)])
def test_a_tilted_label_on_a_small_doppler_is_blacked_out_along_its_line(
    font: str, text: str, size: int, angle: float
) -> None:
    """Every glyph pixel changes; of the label's upright box, the corners outside the line's band
    (grown by a third of the text size: padding) stay as they were, all but a quarter of them (5-19 %
    changed; main: all of them in 8 of these 9 labels)."""
    changed, mask, band = _redacted(text, size, font, angle)
    assert int((changed & mask).sum()) == int(mask.sum())
    corners = _upright(mask) & ~_grown(band, size // 3)
    assert corners.sum() > 1500  # the premise: a tilted line's upright box is mostly corners
    assert (changed & corners).sum() <= 0.25 * corners.sum()
