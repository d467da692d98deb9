"""Regression tests for two failure classes of issue 9 on colour Doppler (pydicom's own
``examples_rgb_color.dcm``, an ultrasound screen with a colour-flow area), with text we draw
ourselves and measure against, never against the boxes the stage reports:

* near-white text (a clock) over the colour-flow area got no detector box at all: its luminance is
  that of the yellow around it, and local contrast equalisation raised the speckle to its level;
* duplicate boxes of one line (from several search images) were padded one by one and their union
  blacked out more than the line (measured on the pixels changed, not on the number of boxes).
"""

from __future__ import annotations

import copy

import numpy as np
import pydicom
from PIL import Image, ImageDraw, ImageFont
from pixel_fixtures import stored_frames
from pydicom.data import get_testdata_file

from dicom_deid.pixels import PixelMode, PixelPolicy, PixelStage
from dicom_deid.pixels.confirm import Judged, Verdict, pad_box
from dicom_deid.pixels.detect import TextSearch
from dicom_deid.pixels.display import colour_overlay
from dicom_deid.pixels.fit import merge_lines
from dicom_deid.pixels.ocr import TextBox

MONO = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf"
#: The colour-flow area of examples_rgb_color.dcm (rows, columns), looked at by eye.
FLOW = (slice(75, 146), slice(45, 272))


def doppler_with_clock(at: tuple[int, int], size: int) -> tuple[pydicom.Dataset, np.ndarray]:
    """examples_rgb_color.dcm with "10:13:31" drawn near-white at ``at`` (x, y); and its glyph mask."""
    ds = pydicom.dcmread(get_testdata_file("examples_rgb_color.dcm"))
    image = Image.fromarray(ds.pixel_array)
    face = ImageFont.truetype(MONO, size)
    ImageDraw.Draw(image).text(at, "10:13:31", fill=(245, 245, 245), font=face)
    layer = Image.new("L", image.size, 0)
    ImageDraw.Draw(layer).text(at, "10:13:31", fill=255, font=face)
    ds.PixelData = np.asarray(image).tobytes()
    return ds, np.asarray(layer) > 110


def test_near_white_clock_over_colour_flow_is_blacked_out() -> None:
    """Two places over the flow where main's detector proposed nothing: the clock is covered,
    and what changes around it stays within two glyph heights of it."""
    stage = PixelStage(PixelPolicy(PixelMode.ALL))
    checked = 0
    for at in ((60, 95), (160, 100)):
        ds, mask = doppler_with_clock(at, 15)
        flow = np.zeros(mask.shape, bool)
        flow[FLOW] = True
        assert (mask & flow).sum() == mask.sum()  # the clock lies over the colour-flow area
        target = copy.deepcopy(ds)
        stage.process(ds, target)
        changed = (stored_frames(target) != stored_frames(ds)).any(axis=-1)[0]
        assert (changed & mask).sum() >= 0.98 * mask.sum(), at
        ys, xs = np.nonzero(mask)
        reach = 2 * (ys.max() - ys.min() + 1)  # two glyph heights
        near = np.zeros(mask.shape, bool)
        near[ys.min() - reach : ys.max() + reach + 1, xs.min() - reach : xs.max() + reach + 1] = True
        assert (changed & flow & ~near).sum() == 0, at
        checked += 1
    assert checked == 2


def test_clean_colour_flow_gets_no_box() -> None:
    """The same image without the clock: nothing inside the colour-flow area is blacked out, and
    the colour-flow view exists for it (and not for a plain grey screen)."""
    ds = pydicom.dcmread(get_testdata_file("examples_rgb_color.dcm"))
    assert colour_overlay(ds.pixel_array) is not None
    grey = np.repeat(ds.pixel_array.mean(axis=2, keepdims=True).astype(np.uint8), 3, axis=2)
    assert colour_overlay(grey) is None
    target = copy.deepcopy(ds)
    PixelStage(PixelPolicy(PixelMode.ALL)).process(ds, target)
    changed = (stored_frames(target) != stored_frames(ds)).any(axis=-1)[0]
    assert changed[FLOW].sum() == 0


def test_one_line_seen_in_two_search_images_is_covered_without_growing_over_the_flow() -> None:
    """The clock drawn where the colour image and the colour-flow view both propose it: the clock
    is covered, and within three glyph heights of it, what is changed beyond half a glyph height of
    its glyphs stays under 0.85 of the glyphs' extent.  The pixels count, not the boxes: copies of
    one line may stay two boxes where one would be larger (``fit.merge_lines``).  Boxes padded by
    half a glyph height more below the line, or one more to its right, exceed it (0.97-1.5).
    Today 0.66 and 0.78 (main before the colour-flow view's fill change: 0.77 and 1.05, a box two
    glyph heights tall over the flow above and below the clock): the colour image's detector box, whose kernel takes
    in the orange flow to the left of the clock, still blacks out about two glyph heights of it,
    so growth to the left goes unseen here."""
    stage = PixelStage(PixelPolicy(PixelMode.ALL))
    checked = 0
    for at, size in (((90, 85), 14), ((90, 85), 15)):
        ds, mask = doppler_with_clock(at, size)
        target = copy.deepcopy(ds)
        stage.process(ds, target)
        changed = (stored_frames(target) != stored_frames(ds)).any(axis=-1)[0]
        assert (changed & mask).sum() >= 0.98 * mask.sum(), at
        ys, xs = np.nonzero(mask)
        height = int(ys.max() - ys.min() + 1)
        extent = height * int(xs.max() - xs.min() + 1)
        near, around = np.zeros(mask.shape, bool), np.zeros(mask.shape, bool)
        margin = height // 2  # the padding of a cut end is 0.4 glyph heights
        near[ys.min() - margin : ys.max() + margin + 1, xs.min() - margin : xs.max() + margin + 1] = True
        reach = 3 * height
        around[ys.min() - reach : ys.max() + reach + 1, xs.min() - reach : xs.max() + reach + 1] = True
        assert (around & ~near)[FLOW].sum() >= 4 * extent  # the flow around the clock is large enough to grow over
        outside = int((changed & around & ~near).sum())
        assert outside < 0.85 * extent, (at, size, outside, extent)
        checked += 1
    assert checked == 2


def _copy(line: TextBox, glyph: int, cut: tuple[bool, bool] = (False, False)) -> Judged:
    return Judged(pad_box(line, glyph, 240, 320, cut=cut), Verdict.CONFIRMED, 0, glyph, line, (), cut)


def test_copies_of_a_line_are_padded_once_and_other_lines_stay_apart() -> None:
    """Two copies of one line (shifted by a few pixels, one thicker) become one box: the union of
    their glyph extents padded by the smaller glyph height, which blacks out less than the two
    padded copies did; a line just below stays its own box."""
    image = np.zeros((240, 320), np.uint8)
    first, second = TextBox(60, 95, 70, 12), TextBox(54, 93, 60, 17)
    below = TextBox(60, 112, 70, 12)
    judged = (_copy(first, 12, (False, True)), _copy(second, 17), _copy(below, 12))
    merged = merge_lines(TextSearch(judged, (image,))).judged
    assert len(merged) == 2
    line = next(j for j in merged if j.line is not None and j.line.y < 100)
    assert line.line == TextBox(54, 93, 76, 17, line.line.score)
    assert line.box == pad_box(TextBox(54, 93, 76, 17), 12, 240, 320, cut=(False, True))
    covered = np.zeros((240, 320), bool)
    for j in judged[:2]:
        covered[j.box.y : j.box.y1, j.box.x : j.box.x1] = True
    assert line.box.width * line.box.height < covered.sum()
    assert any(j.line == below for j in merged)


def test_copies_in_an_l_are_left_as_they_are() -> None:
    """A long thin copy and a short thick one, offset along the line: one box over both would black
    out their corners too, more than the two copies; they stay two boxes."""
    image = np.zeros((240, 320), np.uint8)
    judged = (_copy(TextBox(40, 100, 120, 10), 10), _copy(TextBox(120, 95, 60, 19), 19))
    merged = merge_lines(TextSearch(judged, (image,))).judged
    assert set(merged) == set(judged) and len(merged) == 2


def test_counts_around_a_pixel_are_the_box_sums_of_the_mask() -> None:
    """``display._count_around`` (OpenCV's box filter) counts exactly what ``_box_sum`` sums, up to
    the image's edges, where the square is clipped."""
    from dicom_deid.pixels.display import _box_sum, _count_around

    rng = np.random.default_rng(12)
    for shape in ((7, 9), (120, 256), (333, 41)):
        mask = rng.random(shape) < 0.3
        mask[0, :] = True  # an edge row: the square is clipped there
        for radius in (1, 3, 5):
            assert np.array_equal(_count_around(mask, radius), _box_sum(mask.astype(np.float32), radius))
