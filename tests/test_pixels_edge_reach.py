"""A line cut by the detector's box near the image's edge reaches the edge (issue 9, edge21).

A faint vertical label down from the top edge of a small colour Doppler was boxed from 8 px below
the edge, and the first glyph's top stayed (tune seed 10847 case014).  The line can only go on to
the edge there: a cut end padded to within a line height of the edge now reaches it
(``confirm.EDGE_REACH``), and so does any other side padded to within its own padding of the edge
(the anti-aliased foot of a tilted 11 px clock on a Doppler's last row, 1 px below its padded box,
tune seed 10852 case013).

The end-to-end test plants its own label with Pillow on pydicom-data's colour Doppler frame
(``color-px.dcm``) and measures against what it planted; the unit tests give ``pad_box`` boxes
whose expected padding is worked out by hand from the rule.
"""

from __future__ import annotations

import copy

import numpy as np
import pydicom
import pytest
from pixel_fixtures import stored_frames
from pydicom.data import get_testdata_file
from test_pixels_hard_cases import label_area
from test_pixels_miss_classes import text_mask

from dicom_deid.pixels import PixelMode, PixelPolicy, PixelStage
from dicom_deid.pixels.confirm import pad_box
from dicom_deid.pixels.ocr import TextBox

MONO = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf"


def test_faint_vertical_label_from_the_top_edge_of_a_doppler_is_redacted_to_the_edge() -> None:
    """A faint 14 px vertical "PID 632447" whose glyphs start on row 1 of a real 120 x 256 colour
    Doppler frame (35 % of full scale added to the speckle): every glyph pixel is changed (before,
    the box stopped 9 px below the edge and 20 glyph pixels stayed), and what changed outside the
    label's area grown by 6 px is at most 1 % of the frame."""
    ds = pydicom.dcmread(get_testdata_file("color-px.dcm"))
    base = ds.pixel_array
    assert base.shape == (120, 256, 3)
    mask = text_mask(base.shape[:2], "PID 632447", (169, 0), 14, MONO, turn=1)
    mask = np.roll(mask, 1 - int(np.nonzero(mask.any(axis=1))[0].min()), axis=0)  # its top on row 1
    assert mask[1].any() and not mask[0].any() and mask.sum() > 200
    pixels = base.copy()
    pixels[mask] = np.clip(pixels[mask].astype(np.int32) + round(0.35 * 255), 0, 255).astype(np.uint8)
    ds.PixelData = pixels.tobytes()
    outcome = PixelStage(PixelPolicy(PixelMode.ALL)).process(ds, target := copy.deepcopy(ds))
    assert outcome.redacted
    after = stored_frames(target)[0]
    kept = (after == pixels).all(axis=-1)
    assert int((kept & mask).sum()) == 0
    changed = ~kept
    assert int((changed & ~label_area(mask, 6)).sum()) <= 0.01 * changed.size


# (line, glyph height, cut) -> the padded box (x, y, width, height) in a 100 x 200 image, by hand:
# base padding max(2, ceil(0.15 h)), a cut end max(base, ceil(0.4 h)); a cut end padded to within
# one line height of the edge reaches it, any other side only when padded to within its own padding
# (2 px here) of the edge.
PADDED = [
    pytest.param(TextBox(12, 40, 60, 10), 10, (True, False), (0, 38, 74, 14), id="cut-start-near-left-edge"),
    pytest.param(TextBox(12, 40, 60, 10), 10, (False, False), (10, 38, 64, 14), id="start-not-cut"),
    pytest.param(TextBox(30, 40, 60, 10), 10, (True, False), (26, 38, 66, 14), id="cut-start-far-from-edge"),
    pytest.param(TextBox(120, 40, 66, 10), 10, (False, True), (118, 38, 82, 14), id="cut-end-near-right-edge"),
    pytest.param(TextBox(50, 9, 12, 80), 12, (True, True), (48, 0, 16, 100), id="vertical-cut-both-near-edges"),
    pytest.param(TextBox(50, 20, 12, 40), 12, (True, True), (48, 15, 16, 50), id="vertical-cut-far-from-edges"),
    pytest.param(TextBox(50, 87, 60, 10), 10, (False, False), (48, 85, 64, 15), id="bottom-within-its-padding"),
    pytest.param(TextBox(50, 84, 60, 10), 10, (False, False), (48, 82, 64, 14), id="bottom-beyond-its-padding"),
    pytest.param(TextBox(3, 40, 60, 10), 10, (False, False), (0, 38, 65, 14), id="start-not-cut-within-its-padding"),
    pytest.param(TextBox(5, 40, 60, 10), 10, (False, False), (3, 38, 64, 14), id="start-not-cut-beyond-its-padding"),
]


@pytest.mark.parametrize(("line", "height", "cut", "expected"), PADDED)
def test_a_cut_end_near_the_edge_reaches_it(line: TextBox, height: int, cut: tuple[bool, bool],
                                            expected: tuple[int, int, int, int]) -> None:
    box = pad_box(line, height, 100, 200, cut=cut)
    assert (box.x, box.y, box.width, box.height) == expected
