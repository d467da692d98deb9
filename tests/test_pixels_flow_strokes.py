"""Regression tests for boxes that grew over colour flow beside a label (issue 9, over-redaction
on colour Doppler screens).  Text is drawn here and measured against its own glyph mask, never
against what the code under test reports:

* ``confirm.tighten`` took the brightest response of any colour channel as glyph strokes: a blue
  flow blob beside cyan text (or a red one beside yellow text) stands out in the blue (red) channel
  as much as the text, so the tight box, and the line height that sets the padding, grew over it;
* ``display.achromatic_view`` filled the flow with the mean grey around it, the strokes of a white
  label included: the flow beside the label turned nearly as white as the label and was boxed with it;
* ``confirm.tighten`` kept as strokes of salmon text (bright in the red channel only) a blue sector
  line or grey speckle beside it that is a fifth as bright there: the line's rows grew over them.
"""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from PIL import Image, ImageDraw, ImageFont
from pydicom.data import get_testdata_file

from dicom_deid.pixels.confirm import tighten
from dicom_deid.pixels.display import achromatic_view, colour_overlay
from dicom_deid.pixels.ocr import TextBox

MONO = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf"
CLOCK = "10:13:31"


def _glyphs(size: tuple[int, int], at: tuple[int, int], points: int) -> np.ndarray:
    """The glyph mask of ``CLOCK`` drawn at ``at`` on an image of ``size`` (width, height)."""
    layer = Image.new("L", size, 0)
    ImageDraw.Draw(layer).text(at, CLOCK, fill=255, font=ImageFont.truetype(MONO, points))
    return np.asarray(layer) > 110


def _extent(mask: np.ndarray) -> TextBox:
    ys, xs = np.nonzero(mask)
    return TextBox(int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1))


def _screen(text: tuple[int, int, int], blob: tuple[int, int, int], where: str) -> tuple[np.ndarray, TextBox]:
    """A dark screen (noise up to 24) with ``CLOCK`` in colour ``text`` and a flow blob of colour
    ``blob`` 3 px to the left of it or below it; (RGB image, the glyphs' extent)."""
    base = np.random.default_rng(3).integers(0, 25, (120, 256, 3)).astype(np.uint8)
    image = Image.fromarray(base)
    draw = ImageDraw.Draw(image)
    at = (100, 50)
    glyphs = _extent(_glyphs(image.size, at, 18))
    if where == "left":
        draw.ellipse((glyphs.x - 30, glyphs.y - 4, glyphs.x - 3, glyphs.y1 + 8), fill=blob)
    else:
        draw.ellipse((glyphs.x + 10, glyphs.y1 + 3, glyphs.x + 60, glyphs.y1 + 20), fill=blob)
    draw.text(at, CLOCK, fill=text, font=ImageFont.truetype(MONO, 18))
    return np.asarray(image), glyphs


CYAN, YELLOW, GREEN, WHITE = (0, 230, 230), (240, 240, 0), (60, 230, 60), (245, 245, 245)
BLUE_FLOW, RED_FLOW = (10, 20, 220), (220, 30, 20)


@pytest.mark.parametrize(
    ("text", "blob", "where"),
    [(CYAN, BLUE_FLOW, "left"), (CYAN, BLUE_FLOW, "below"), (YELLOW, RED_FLOW, "left"),
     (YELLOW, RED_FLOW, "below"), (GREEN, BLUE_FLOW, "below")],
)  # fmt: skip
def test_tight_box_leaves_out_a_flow_blob_of_another_colour(
    text: tuple[int, int, int], blob: tuple[int, int, int], where: str
) -> None:
    """The detector's box reaches over the blob; the tight box is the glyphs' extent (within 1 px),
    not grown over the blob (main grew it by 24 px to the left, 10 px down)."""
    image, glyphs = _screen(text, blob, where)
    loose = TextBox(glyphs.x - 26, glyphs.y - 6, glyphs.width + 32, glyphs.height + 16)
    core = TextBox(glyphs.x + 4, glyphs.y + 3, glyphs.width - 8, glyphs.height - 6)
    tight = tighten(image, loose, core)
    assert abs(tight.x - glyphs.x) <= 1 and abs(tight.x1 - glyphs.x1) <= 1, (tight, glyphs)
    assert abs(tight.y - glyphs.y) <= 1 and abs(tight.y1 - glyphs.y1) <= 1, (tight, glyphs)


def test_white_text_across_a_flow_blob_keeps_every_glyph() -> None:
    """White text whose end lies over a red flow blob: the strokes over the blob still count, so
    the tight box holds every glyph (the colour test must not cut a line where it crosses flow)."""
    base = np.random.default_rng(5).integers(0, 25, (120, 256, 3)).astype(np.uint8)
    image = Image.fromarray(base)
    glyphs = _extent(_glyphs(image.size, (100, 50), 18))
    ImageDraw.Draw(image).ellipse((glyphs.x + 40, glyphs.y - 10, glyphs.x1 + 20, glyphs.y1 + 10), fill=RED_FLOW)
    ImageDraw.Draw(image).text((100, 50), CLOCK, fill=WHITE, font=ImageFont.truetype(MONO, 18))
    loose = TextBox(glyphs.x - 6, glyphs.y - 6, glyphs.width + 12, glyphs.height + 12)
    core = TextBox(glyphs.x + 4, glyphs.y + 3, glyphs.width // 3, glyphs.height - 6)  # over the dark part only
    tight = tighten(np.asarray(image), loose, core)
    assert tight.x <= glyphs.x and tight.y <= glyphs.y, (tight, glyphs)
    assert tight.x1 >= glyphs.x1 and tight.y1 >= glyphs.y1, (tight, glyphs)


@pytest.mark.parametrize("at", [(60, 92), (150, 100), (230, 95)])
def test_colour_flow_view_is_not_lit_by_a_white_label(at: tuple[int, int]) -> None:
    """A white label over the colour-flow area of pydicom's examples_rgb_color.dcm: in the
    colour-flow view the label stays white, and the flow around it (beyond its anti-aliased edge,
    within 7 px) stays under 60 % of the label's level (main: up to 98 %)."""
    import cv2

    ds = pydicom.dcmread(get_testdata_file("examples_rgb_color.dcm"))
    image = Image.fromarray(ds.pixel_array)
    ImageDraw.Draw(image).text(at, CLOCK, fill=WHITE, font=ImageFont.truetype(MONO, 15))
    rgb = np.asarray(image)
    mask = _glyphs(image.size, at, 15)
    coloured = colour_overlay(rgb)
    assert coloured is not None
    view = achromatic_view(rgb, coloured)
    edge = cv2.dilate(mask.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    near = cv2.dilate(mask.astype(np.uint8), np.ones((15, 15), np.uint8)) > 0
    flow = near & ~edge & coloured
    assert flow.sum() >= 150  # the label lies amid the flow
    label = float(np.median(view[mask]))
    assert label >= 180
    assert float(np.percentile(view[flow], 99)) < 0.6 * label


def test_faint_grey_text_over_coloured_anatomy_keeps_every_glyph() -> None:
    """Faint grey text over a red-to-dark gradient (a PET/CT fusion's anatomy): the strokes inside
    the kernel are mostly anatomy, so the text's colour is not known and no stroke is dropped; the
    tight box still holds every glyph."""
    rows, columns = 120, 256
    red = np.clip(np.linspace(40, 230, columns)[None, :] + np.random.default_rng(7).normal(0, 12, (rows, columns)),
                  0, 255)
    base = np.zeros((rows, columns, 3), np.uint8)
    base[..., 0] = red.astype(np.uint8)
    base[..., 1] = base[..., 2] = 20
    image = Image.fromarray(base)
    glyphs = _extent(_glyphs(image.size, (40, 50), 16))
    ImageDraw.Draw(image).text((40, 50), CLOCK, fill=(100, 100, 100), font=ImageFont.truetype(MONO, 16))
    loose = TextBox(glyphs.x - 8, glyphs.y - 6, glyphs.width + 16, glyphs.height + 12)
    core = TextBox(glyphs.x + 4, glyphs.y + 3, glyphs.width - 8, glyphs.height - 6)
    tight = tighten(np.asarray(image), loose, core)
    assert tight.x <= glyphs.x and tight.y <= glyphs.y, (tight, glyphs)
    assert tight.x1 >= glyphs.x1 and tight.y1 >= glyphs.y1, (tight, glyphs)


SALMON, SECTOR_LINE, GREY_SPECKLE = (255, 64, 51), (78, 97, 144), (80, 78, 78)


@pytest.mark.parametrize("other", [SECTOR_LINE, GREY_SPECKLE])
@pytest.mark.parametrize("side", ["above", "below"])
def test_tight_box_leaves_out_a_mark_of_another_hue_as_bright_in_the_text_channel(
    other: tuple[int, int, int], side: str
) -> None:
    """Salmon text (a Doppler clock) with a thin mark 3 px above or below it that is as bright as the
    text's edge in the red channel, the only one where the text stands out: a blue sector line or
    grey speckle.  The tight box is the glyphs' extent (within 1 px); main took the mark as strokes
    (it lies "20 % of the way" to the text in red) and the line's rows, and its padding, grew by
    4-5 px over the flow."""
    base = np.random.default_rng(11).integers(0, 25, (120, 256, 3)).astype(np.uint8)
    image = Image.fromarray(base)
    glyphs = _extent(_glyphs(image.size, (100, 50), 18))
    y = glyphs.y - 5 if side == "above" else glyphs.y1 + 3
    ImageDraw.Draw(image).rectangle((glyphs.x + 30, y, glyphs.x + 60, y + 1), fill=other)
    ImageDraw.Draw(image).text((100, 50), CLOCK, fill=SALMON, font=ImageFont.truetype(MONO, 18))
    loose = TextBox(glyphs.x - 6, glyphs.y - 8, glyphs.width + 12, glyphs.height + 16)
    core = TextBox(glyphs.x + 4, glyphs.y + 3, glyphs.width - 8, glyphs.height - 6)
    tight = tighten(np.asarray(image), loose, core)
    assert abs(tight.y - glyphs.y) <= 1 and abs(tight.y1 - glyphs.y1) <= 1, (tight, glyphs)
    assert abs(tight.x - glyphs.x) <= 1 and abs(tight.x1 - glyphs.x1) <= 1, (tight, glyphs)
