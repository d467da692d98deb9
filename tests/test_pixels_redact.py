"""Pure redaction: fills per photometric, frames, clipping, identity outside boxes."""

from __future__ import annotations

import numpy as np
import pytest
from pydicom.pixels import convert_color_space
from pydicom.uid import ExplicitVRLittleEndian

from dicom_deid.pixels.decode import DecodedPixels, PixelFacts
from dicom_deid.pixels.display import ybr_full_to_rgb
from dicom_deid.pixels.redact import RedactionBox, apply_boxes, clip_box, fill_value, grow_box


def _decoded(
    photometric: str, frames: np.ndarray, bits: int, signed: bool = False, palette=None
) -> DecodedPixels:
    samples = 3 if frames.ndim == 4 else 1
    facts = PixelFacts(ExplicitVRLittleEndian, photometric, photometric, frames.shape[1], frames.shape[2],
                       frames.shape[0], samples, 16 if bits > 8 else 8, bits, signed, False)  # fmt: skip
    return DecodedPixels(frames, facts, palette, 0)


rng = np.random.default_rng(0)
FILLS = {
    "MONOCHROME2-signed": ("MONOCHROME2", rng.integers(-900, 2000, (1, 8, 8)).astype(np.int16), 16, True, None, lambda a: (int(a.min()),)),
    "MONOCHROME1-12bit": ("MONOCHROME1", rng.integers(5, 4000, (2, 8, 8)).astype(np.uint16), 12, False, None, lambda a: (int(a.max()),)),
    "RGB-8": ("RGB", rng.integers(0, 255, (1, 8, 8, 3)).astype(np.uint8), 8, False, None, lambda a: (0, 0, 0)),
    "YBR_FULL-8": ("YBR_FULL", rng.integers(0, 255, (1, 8, 8, 3)).astype(np.uint8), 8, False, None, lambda a: (0, 128, 128)),
    "PALETTE-8": ("PALETTE COLOR", rng.integers(0, 4, (1, 8, 8)).astype(np.uint8), 8, False,
                  np.array([[90, 90, 90], [10, 0, 5], [255, 0, 0], [0, 0, 0]], np.uint8), lambda a: (3,)),
}  # fmt: skip


@pytest.mark.parametrize("row", list(FILLS.values()), ids=list(FILLS))
def test_fill_is_black_for_the_photometric(row) -> None:
    photometric, frames, bits, signed, palette, expected = row
    decoded = _decoded(photometric, frames, bits, signed, palette)
    assert fill_value(decoded) == expected(frames)


def test_boxes_fill_only_their_frames_and_area() -> None:
    frames = np.arange(3 * 10 * 12, dtype=np.uint16).reshape(3, 10, 12)
    boxes = [
        RedactionBox(2, 3, 4, 2, (1,), "detector"),
        RedactionBox(10, 8, 10, 10, None, "template"),
    ]
    out = apply_boxes(frames, boxes, (7,))
    changed = out != frames
    expected = np.zeros_like(changed)
    expected[1, 3:5, 2:6] = True
    expected[:, 8:10, 10:12] = True  # clipped at the frame edge
    assert np.array_equal(changed, expected)
    assert (out[changed] == 7).all()
    assert frames[1, 3, 2] != 7  # input untouched


def test_rgb_fill_writes_every_sample() -> None:
    frames = np.full((1, 4, 4, 3), 200, np.uint8)
    out = apply_boxes(frames, [RedactionBox(1, 1, 2, 2, None, "detector")], (0, 128, 128))
    assert out[0, 1, 1].tolist() == [0, 128, 128] and out[0, 0, 0].tolist() == [200, 200, 200]


@pytest.mark.parametrize(
    ("box", "clipped"),
    [((-3, -3, 5, 5), (0, 0, 2, 2)), ((8, 8, 5, 5), (8, 8, 2, 2)), ((11, 0, 3, 3), None)],
    ids=["top-left", "bottom-right", "outside"],
)
def test_clip_box(box, clipped) -> None:
    result = clip_box(RedactionBox(*box, None, "detector"), 10, 10)
    assert (
        None if result is None else (result.x, result.y, result.width, result.height)
    ) == clipped


def test_ybr_conversion_matches_pydicom() -> None:
    ybr = rng.integers(0, 255, (16, 16, 3)).astype(np.uint8)
    ours = ybr_full_to_rgb(ybr).astype(int)
    theirs = convert_color_space(ybr, "YBR_FULL", "RGB").astype(int)
    assert np.abs(ours - theirs).max() <= 1


# --- found by mutation testing (scripts/mutation.py pixels/redact) --------------------------------

# Palettes whose darkest entry by luminance (ITU-R BT.601: 0.299 R + 0.587 G + 0.114 B) is pure red,
# green or blue, each within a few units of the others: the weights, not the sums, decide.
PALETTES = {
    "red-darkest": ([[0, 26, 0], [0, 0, 135], [50, 0, 0]], 2),  # 15.26, 15.39, 14.95
    "green-darkest": ([[50, 0, 0], [0, 25, 0], [0, 0, 135]], 1),  # 14.95, 14.68, 15.39
    "blue-darkest": ([[50, 0, 0], [0, 26, 0], [0, 0, 125]], 2),  # 14.95, 15.26, 14.25
}


@pytest.mark.parametrize(("palette", "darkest"), list(PALETTES.values()), ids=list(PALETTES))
@pytest.mark.parametrize("first", [0, 16], ids=["first-0", "first-16"])
def test_palette_fill_is_the_entry_of_lowest_luminance(palette: list[list[int]], darkest: int, first: int) -> None:
    """The fill is a stored value: the entry's index plus the LUT's first mapped value (PS3.3 C.7.6.3.1.5)."""
    frames = np.full((1, 4, 4), first, np.uint8)
    decoded = DecodedPixels(frames, _decoded("PALETTE COLOR", frames, 8).facts, np.array(palette, np.uint8), first)
    assert fill_value(decoded) == (darkest + first,)


@pytest.mark.parametrize("box", [(10, 0, 3, 3), (0, 10, 3, 3), (-3, 0, 3, 3), (0, -3, 3, 3)],
                         ids=["right-edge", "bottom-edge", "left-edge", "top-edge"])
def test_a_box_touching_the_frame_only_at_its_edge_is_nothing(box: tuple[int, int, int, int]) -> None:
    assert clip_box(RedactionBox(*box, None, "detector"), 10, 10) is None


def test_clip_keeps_frames_and_source() -> None:
    clipped = clip_box(RedactionBox(-2, 8, 5, 5, (0, 2), "template"), 10, 10)
    assert clipped == RedactionBox(0, 8, 3, 2, (0, 2), "template")


def test_grow_box_by_a_margin_on_every_side() -> None:
    box = RedactionBox(5, 6, 10, 4, (1,), "detector")
    assert grow_box(box, 3) == RedactionBox(2, 3, 16, 10, (1,), "detector")
    assert (box.area(), grow_box(box, 3).area()) == (40, 160)


def test_boxes_after_one_outside_the_frame_and_frame_zero_are_filled() -> None:
    frames = np.full((2, 6, 6), 50, np.uint16)
    boxes = [RedactionBox(20, 20, 2, 2, None, "detector"),  # outside: nothing to fill
             RedactionBox(0, 0, 2, 2, (0, 2), "detector")]  # frame 0, and a frame index the instance lacks
    out = apply_boxes(frames, boxes, (0,))
    assert (out[0, :2, :2] == 0).all() and int((out == 0).sum()) == 4  # only frame 0's 2x2 corner
