"""Regression tests for labels at the edges of an image (issue 9, seeds 9501/9502's leaks).

Each test plants its own text with Pillow on a real image of pydicom-data and measures against
what it planted:

* a 12-13 px line touching the bottom edge of a CT was missed whole by the detector: every
  detector pass now sees its image framed by the background along each edge
  (``ocr.pad_with_background``);
* a faint 9 px vertical label beside a 1955 x 1841 radiograph was shrunk below reading size by
  the turned pass: the strips along the left and right edges of images over 1280 px are searched
  turned at 1.5x (``ocr.EDGE_BAND_PASS``).

Everything outside the planted label stays bit-identical.
"""

from __future__ import annotations

import copy

import numpy as np
import pydicom
import pytest
from PIL import Image, ImageDraw, ImageFont
from pixel_fixtures import stored_frames
from pydicom.data import get_testdata_file
from test_pixels_hard_cases import label_area
from test_pixels_miss_classes import text_mask

from dicom_deid.pixels import PixelMode, PixelPolicy, PixelStage
from dicom_deid.pixels.ocr import pad_with_background

SANS_BOLD = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
MONO = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf"


def glyphs_on_bottom_edge(shape: tuple[int, int], text: str, size: int, font: str, x: int) -> np.ndarray:
    """Glyph mask of ``text`` whose lowest glyph pixels lie on the image's last row."""
    face = ImageFont.truetype(font, size)
    left, top, right, bottom = ImageDraw.Draw(Image.new("L", (1, 1))).textbbox((0, 0), text, font=face)
    layer = Image.new("L", (right - left, bottom - top), 0)
    ImageDraw.Draw(layer).text((-left, -top), text, fill=255, font=face)
    glyph = np.asarray(layer) > 110
    glyph = glyph[: np.nonzero(glyph.any(axis=1))[0].max() + 1]
    mask = np.zeros(shape, bool)
    mask[shape[0] - glyph.shape[0] :, x : x + glyph.shape[1]] = glyph
    return mask


def _redact(ds: pydicom.Dataset, pixels: np.ndarray) -> np.ndarray:
    ds.PixelData = pixels.tobytes()
    outcome = PixelStage(PixelPolicy(PixelMode.ALL)).process(ds, target := copy.deepcopy(ds))
    return stored_frames(target)[0, ..., 0] if outcome.redacted else pixels


@pytest.mark.parametrize(
    ("text", "size", "font", "x", "level"),
    [
        ("ACC 3361310", 13, SANS_BOLD, 120, 0.2),
        ("MRN 40718265", 12, SANS_BOLD, 300, 0.15),
        ("MRN:130758246", 12, MONO, 239, 0.4),
    ],
)
def test_line_touching_the_bottom_edge_of_a_ct_is_redacted(text: str, size: int, font: str, x: int,
                                                            level: float) -> None:
    """A grey 12-13 px line whose glyphs reach the last row of a real 512 x 512 CT (693_UNCR):
    every glyph pixel is changed and the rest of the image is bit-identical (without the frame
    of background the detector found none or part of each line)."""
    ds = pydicom.dcmread(get_testdata_file("693_UNCR.dcm"))
    base = ds.pixel_array
    mask = glyphs_on_bottom_edge(base.shape, text, size, font, x)
    assert mask[-1].any() and mask.sum() > 250
    pixels = base.copy()
    pixels[mask] = round(float(base.min()) + level * (float(base.max()) - float(base.min())))
    after = _redact(ds, pixels)
    assert int(((after == pixels) & mask).sum()) == 0
    assert np.array_equal(after[~label_area(mask, 6)], pixels[~label_area(mask, 6)])


def test_faint_vertical_label_beside_a_large_radiograph_is_redacted() -> None:
    """A faint 9 px vertical name 11 px from the right edge of a real 1955 x 1841 CR (RG1_UNCI):
    the turned pass over the whole image sees it at 0.65x and missed it; the edge strip searched
    turned at 1.5x finds it.  Every glyph pixel is changed, nothing else."""
    ds = pydicom.dcmread(get_testdata_file("RG1_UNCI.dcm"))
    base = ds.pixel_array
    mask = text_mask(base.shape, "NAKAMURA^DMITRI", (base.shape[1] - 12, 1200), 9, SANS_BOLD, turn=1)
    assert mask.sum() > 300 and np.nonzero(mask)[1].max() >= base.shape[1] - 12
    pixels = base.copy()
    boost = round(0.08 * (float(base.max()) - float(base.min())))
    pixels[mask] = np.clip(pixels[mask].astype(np.int64) + boost, 0, (1 << int(ds.BitsStored)) - 1)
    after = _redact(ds, pixels)
    assert int(((after == pixels) & mask).sum()) == 0
    assert np.array_equal(after[~label_area(mask, 6)], pixels[~label_area(mask, 6)])


def test_padding_continues_the_background_along_each_edge() -> None:
    """The frame repeats the background next to each side, not the glyphs touching it, and a side
    that is dark at its ends and bright in its middle (a CT's round field of view) stays so."""
    image = np.zeros((64, 96), np.uint8)
    image[:, 24:72] = 120  # a bright middle along the top and bottom edges
    image[0:5, 30:60:4] = 250  # glyph strokes touching the top edge (a quarter of those columns)
    out = pad_with_background(image, 16)
    assert out.shape == (96, 128)
    assert np.array_equal(out[16:80, 16:112], image)
    top = out[:16, 16:112]
    assert (top == top[0]).all()  # one profile repeated outwards
    assert (top[0, 26:70] == 120).all() and (top[0, :22] == 0).all() and (top[0, 74:] == 0).all()
    assert not (top == 250).any()
