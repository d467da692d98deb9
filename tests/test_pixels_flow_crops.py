"""The colour-flow view is searched in crops around its white clusters, not whole (issue 9, CPU):
the text there is still found, a line that runs out of a crop is still found whole, and each
pass runs over a crop at the scale it has over the whole view.  Text is drawn here and measured
against its own glyph mask, never against what the detector reports elsewhere."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from PIL import Image, ImageDraw, ImageFont
from pydicom.data import get_testdata_file

from dicom_deid.pixels import near
from dicom_deid.pixels.near import crop_passes, merge_crops, search_near, with_flow_views
from dicom_deid.pixels.ocr import DEFAULT_PASSES, DbnetDetector, ScanPass, TextBox

MONO = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf"


class Counting(DbnetDetector):
    """The detector, noting the rows x columns of every image one of its passes (or all) ran on."""

    def __init__(self, seen: list[int]) -> None:
        super().__init__()
        self.seen = seen

    def detect(self, image: np.ndarray) -> list[TextBox]:
        self.seen.append(image.shape[0] * image.shape[1])
        return super().detect(image)

    def detect_pass(self, image: np.ndarray, scan: ScanPass) -> tuple[list[TextBox], float]:
        self.seen.append(image.shape[0] * image.shape[1])
        return super().detect_pass(image, scan)

    def without_enhance(self) -> Counting:
        flat = Counting(self.seen)
        flat.enhance = False
        return flat


def _covered(boxes: list[TextBox], mask: np.ndarray) -> float:
    inside = np.zeros(mask.shape, bool)
    for b in boxes:
        inside[max(0, b.y) : b.y1, max(0, b.x) : b.x1] = True
    return float((inside & mask).sum() / mask.sum())


def test_white_clock_over_colour_flow_is_found_in_a_crop_of_the_view() -> None:
    """pydicom's colour Doppler screen with a near-white clock drawn over its colour-flow area:
    the colour-flow view's proposals cover the clock's glyphs, and the view was searched in a crop
    far smaller than itself (breaks when the crop's boxes are not moved back into the view's
    coordinates, or the crop leaves the clock out)."""
    image = Image.fromarray(pydicom.dcmread(get_testdata_file("examples_rgb_color.dcm")).pixel_array)
    face = ImageFont.truetype(MONO, 15)
    ImageDraw.Draw(image).text((60, 95), "10:13:31", fill=(245, 245, 245), font=face)
    layer = Image.new("L", image.size, 0)
    ImageDraw.Draw(layer).text((60, 95), "10:13:31", fill=255, font=face)
    pixels, mask = np.asarray(image), np.asarray(layer) > 110
    seen: list[int] = []
    images, flags, proposals = with_flow_views([pixels], [False], Counting(seen))
    assert len(images) == 2 and flags == [False, False]  # the colour-flow view was made
    assert proposals and all(p.image == 1 for p in proposals)
    assert _covered([p.box for p in proposals], mask) >= 0.98
    whole = pixels.shape[0] * pixels.shape[1]
    assert seen and max(seen) <= 0.5 * whole


def _long_line() -> tuple[np.ndarray, np.ndarray]:
    """A grey 160 x 640 image with one long white line of 16 px text; and its glyph mask."""
    image = Image.new("L", (640, 160), 40)
    layer = Image.new("L", (640, 160), 0)
    face = ImageFont.truetype(MONO, 16)
    text = "PATIENT DOE^JOHN 19570312 ACC 88213 EXAM"
    ImageDraw.Draw(image).text((20, 70), text, fill=235, font=face)
    ImageDraw.Draw(layer).text((20, 70), text, fill=255, font=face)
    return np.asarray(image), np.asarray(layer) > 110


def test_a_line_that_runs_out_of_its_crop_is_found_whole() -> None:
    """The area is the line's first few glyphs only; the line runs some 300 px past the crop
    around it: the crop is grown until the line ends inside it, so its box covers the whole line
    (breaks with ``FLOW_GROW`` 0: the box ends at the first crop's edge)."""
    image, mask = _long_line()
    area = TextBox(10, 60, 60, 40)
    boxes = [b for b in search_near(DbnetDetector(), image, [area]) if b.x < area.x1 and area.x < b.x1]
    assert _covered(boxes, mask) >= 0.98


def test_a_crop_is_not_grown_without_growth(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same line with the crop never grown is cut at the crop's edge: the test above measures
    the growth, not a crop that happened to hold the line."""
    monkeypatch.setattr(near, "FLOW_GROW", 0)
    image, mask = _long_line()
    area = TextBox(10, 60, 60, 40)
    boxes = [b for b in search_near(DbnetDetector(), image, [area]) if b.x < area.x1 and area.x < b.x1]
    assert _covered(boxes, mask) < 0.6


def test_crop_passes_keep_the_scale_of_the_whole_view() -> None:
    """On a 600 x 800 view the default passes run enlarged 2x (the screen: 2x within 1600 px),
    at native size, and turned within 1280 px (1.6x); on a 1760 x 2140 radiograph the screen is
    tiled at native size, the whole-image passes shrink it to 1280 px on the longer side, and the
    turned edge-band pass runs 1.5x over the outer 214 columns on each side only."""
    plan = crop_passes(DEFAULT_PASSES, 600, 800)
    assert [p.scan.rotate90 for p in plan] == [False, False, True]
    assert [p.scan.factor for p in plan] == pytest.approx([2.0, 1.0, 1.6], rel=0.02)
    assert all(p.strips is None for p in plan)
    large = crop_passes(DEFAULT_PASSES, 1760, 2140)
    assert [p.scan.factor for p in large] == pytest.approx([1.0, 1280 / 2140, 1280 / 2140, 1.5], rel=0.02)
    assert large[3].scan.rotate90 and large[3].strips == (TextBox(0, 0, 214, 1760), TextBox(1926, 0, 214, 1760))


def test_overlapping_crops_are_searched_once() -> None:
    """Crops that overlap (also through a third) become their union; apart ones stay apart."""
    crops = [TextBox(0, 0, 50, 50), TextBox(40, 40, 50, 50), TextBox(85, 0, 20, 45), TextBox(300, 300, 10, 10)]
    assert merge_crops(crops) == [TextBox(0, 0, 105, 90), TextBox(300, 300, 10, 10)]
