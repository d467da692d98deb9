"""Exact rewrites for speed (helper cpu11): each equals the computation it replaced, written out here."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from dicom_deid.pixels.display import (
    channel_extremes,
    colour_overlay,
    scale_to_uint8,
    white_over_colour,
    ybr_full_to_rgb,
)
from dicom_deid.pixels.ocr import DbnetDetector, ScanPass, enhance_contrast
from tests.pixel_fixtures import NetworkInputs


def _every_ybr() -> npt.NDArray[np.uint8]:
    """Every (Y, Cb, Cr) triple of 8-bit data once, as a 4096 x 4096 image."""
    axes = np.meshgrid(np.arange(256), np.arange(256), np.arange(256), indexing="ij")
    return np.stack(axes, axis=-1).reshape(4096, 4096, 3).astype(np.uint8)


def _ybr_three_planes(ybr: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """The formula as it was written before (PS3.3 C.7.6.3.1.2, float32, rounded half up)."""
    y = ybr[..., 0].astype(np.float32)
    cb = ybr[..., 1].astype(np.float32) - 128.0
    cr = ybr[..., 2].astype(np.float32) - 128.0
    r = y + 1.402 * cr
    g = y - 0.344136 * cb - 0.714136 * cr
    b = y + 1.772 * cb
    return np.clip(np.stack([r, g, b], axis=-1) + 0.5, 0, 255).astype(np.uint8)


def test_ybr_conversion_equals_the_three_plane_formula_for_every_input() -> None:
    ybr = _every_ybr()
    assert np.array_equal(ybr_full_to_rgb(ybr), _ybr_three_planes(ybr))


def test_ybr_conversion_keeps_known_colours() -> None:
    # pure red in YBR_FULL (PS3.3: Y 76, Cb 85, Cr 255) and mid grey
    ybr = np.array([[[76, 85, 255], [128, 128, 128]]], dtype=np.uint8)
    assert ybr_full_to_rgb(ybr).tolist() == [[[254, 0, 0], [128, 128, 128]]]


def _random_rgb(seed: int, shape: tuple[int, int] = (97, 131)) -> npt.NDArray[np.uint8]:
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
    image[: shape[0] // 2] = image[: shape[0] // 2, :, :1]  # a grey half: channels equal
    return image


def test_channel_extremes_equal_the_reductions_over_the_channels() -> None:
    image = _random_rgb(1)
    low, high = channel_extremes(image)
    assert np.array_equal(low, image.min(axis=2))
    assert np.array_equal(high, image.max(axis=2))


def test_colour_overlay_and_white_over_colour_are_unchanged() -> None:
    image = _random_rgb(2)
    image[:, :60] = 120  # mostly grey: an overlay, not a photograph
    image[10:20, 70:90] = 250  # near-white strokes amid the colour
    coloured = colour_overlay(image)
    assert coloured is not None
    assert np.array_equal(coloured, (image.max(axis=2) - image.min(axis=2)) >= 48)
    spread = image.max(axis=2).astype(np.int16) - image.min(axis=2)
    bright = (image.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)) >= 180
    amid = cv2.boxFilter(coloured.astype(np.float32), cv2.CV_32F, (7, 7), normalize=False,
                         borderType=cv2.BORDER_CONSTANT) >= 0.3 * 49
    white = white_over_colour(image, coloured)
    assert white.any()
    assert np.array_equal(white, (spread < 32) & bright & amid)


def test_colour_contrast_equalisation_equals_one_plane_at_a_time() -> None:
    image = _random_rgb(3, (200, 260))
    clahe = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8))
    planes = [clahe.apply(np.ascontiguousarray(image[:, :, c])) for c in range(3)]
    assert np.array_equal(enhance_contrast(image), np.stack(planes, axis=2))


def test_network_input_of_a_colour_image_equals_the_scaled_channels() -> None:
    detector = DbnetDetector(edge_pad=0)
    network = NetworkInputs()
    detector._network = network  # type: ignore[assignment]
    image = _random_rgb(4, (64, 96))
    detector.network_map(image, ScanPass(min_side=None, factor=1.0))
    expected = (image.astype(np.float32) / 127.5 - 1.0).transpose(2, 0, 1)[None]
    (blob,) = network.blobs
    assert blob.dtype == np.float32
    assert np.array_equal(blob, expected)
    assert network.contiguous == [True]


def _scale_pixel_by_pixel(frame: npt.NDArray[np.generic], lo: float | None = None,
                          hi: float | None = None) -> npt.NDArray[np.uint8]:
    """The scaling as it was written before: every pixel through the float32 formula."""
    data = frame.astype(np.float32, copy=False)
    lo = float(data.min()) if lo is None else lo
    hi = float(data.max()) if hi is None else hi
    if hi <= lo:
        return np.zeros(frame.shape, dtype=np.uint8)
    out = (data - lo) * (255.0 / (hi - lo))
    return np.asarray(np.clip(out + 0.5, 0, 255), dtype=np.uint8)


@pytest.mark.parametrize(("dtype", "low", "high"), [
    (np.uint16, 0, 4095), (np.uint16, 37, 1000), (np.int16, -1024, 3071), (np.int16, -32768, 32767),
    (np.uint8, 3, 250), (np.int32, -70000, 70000), (np.uint16, 500, 500),
])
@pytest.mark.parametrize("window", [None, (100.5, 900.25)])
def test_integer_frames_scale_as_the_float_formula(
    dtype: type[np.integer[Any]], low: int, high: int, window: tuple[float, float] | None
) -> None:
    rng = np.random.default_rng(5)
    frame = rng.integers(low, high + 1, (61, 83), dtype=np.int64).astype(dtype)
    frame[0, 0], frame[-1, -1] = low, high  # every level between the extremes may occur
    lo, hi = window if window is not None else (None, None)
    assert np.array_equal(scale_to_uint8(frame, lo, hi), _scale_pixel_by_pixel(frame, lo, hi))


def test_colour_frames_over_8_bits_scale_as_the_float_formula() -> None:
    frame = np.random.default_rng(6).integers(0, 1 << 12, (40, 50, 3), dtype=np.uint16)
    assert np.array_equal(scale_to_uint8(frame, 0.0, 4095.0), _scale_pixel_by_pixel(frame, 0.0, 4095.0))


def test_every_level_of_a_12_bit_frame_scales_as_the_float_formula() -> None:
    frame = np.arange(4096, dtype=np.uint16).reshape(64, 64)
    assert np.array_equal(scale_to_uint8(frame), _scale_pixel_by_pixel(frame))
