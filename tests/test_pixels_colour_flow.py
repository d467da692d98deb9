"""Regression tests for two failure classes of issue 9 on colour Doppler (pydicom's own
``examples_rgb_color.dcm``, an ultrasound screen with a colour-flow area), with text we draw
ourselves and measure against, never against the boxes the stage reports:

* near-white text (a clock) over the colour-flow area got no detector box at all: its luminance is
  that of the yellow around it, and local contrast equalisation raised the speckle to its level;
* duplicate boxes of one line (from several search images) were padded one by one and their union
  blacked out more than the line.
"""

from __future__ import annotations

import copy

import numpy as np
import pydicom
from PIL import Image, ImageDraw, ImageFont
from pixel_fixtures import stored_frames
from pydicom.data import get_testdata_file

from dicom_deid.pixels import PixelMode, PixelPolicy, PixelStage
from dicom_deid.pixels.display import colour_overlay

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
