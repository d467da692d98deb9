"""Exact rewrites for speed (helper pxspeed): each equals the computation it replaced, written out here."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from dicom_deid.pixels.ocr import DbnetDetector, ScanPass, _running_median, pad_with_background
from tests.pixel_fixtures import NetworkInputs


def _sliding_median(profile: npt.NDArray[np.floating], window: int) -> npt.NDArray[np.uint8]:
    """The running median as it was written before: numpy's median over a sliding window of the
    profile with its ends repeated, then cast to uint8."""
    if window <= 1 or profile.shape[0] < window:
        return np.asarray(profile, dtype=np.uint8)
    half = window // 2
    ends = (np.repeat(profile[:1], half, axis=0), profile, np.repeat(profile[-1:], half, axis=0))
    view = np.lib.stride_tricks.sliding_window_view(np.concatenate(ends), window, axis=0)
    return np.asarray(np.median(view, axis=-1), dtype=np.uint8)


@pytest.mark.parametrize("channels", [(), (3,)])
@pytest.mark.parametrize("window", [1, 3, 5, 7, 9, 17])
def test_running_median_equals_the_sliding_window_median(channels: tuple[int, ...], window: int) -> None:
    rng = np.random.default_rng(window)
    for length in (1, 2, window - 1, window, window + 1, 40, 333):
        for depth in (1, 2, 15, 16):  # an even depth gives profiles with halves (x.5)
            strip = rng.integers(0, 256, (depth, max(1, length), *channels)).astype(np.uint8)
            if length % 2:
                strip = (strip > 127).astype(np.uint8) * 255  # long runs of equal values: ties
            profile = np.median(strip, axis=0)
            got = _running_median(profile, window)
            assert got.dtype == np.uint8
            assert np.array_equal(got, _sliding_median(profile, window))


def test_padding_of_a_grey_and_a_colour_image_keeps_the_running_median() -> None:
    rng = np.random.default_rng(7)
    grey = rng.integers(0, 256, (70, 90), dtype=np.uint8)
    colour = rng.integers(0, 256, (50, 64, 3), dtype=np.uint8)
    for image in (grey, colour):
        out = pad_with_background(image, 16)
        top = _sliding_median(np.median(image[:16], axis=0), 17)
        left = _sliding_median(np.median(image[:, :16], axis=1), 17)
        assert np.array_equal(out[0, 16:-16], top)
        assert np.array_equal(out[16:-16, 0], left)


def test_network_input_of_a_grey_image_is_the_scaled_plane_three_times() -> None:
    detector = DbnetDetector(edge_pad=0, enhance=False)
    network = NetworkInputs()
    detector._network = network  # type: ignore[assignment]
    image = np.random.default_rng(8).integers(0, 256, (64, 96), dtype=np.uint8)
    image[0, :3] = (0, 127, 255)  # the ends and the middle of the range
    detector.network_map(image, ScanPass(min_side=None, factor=1.0))
    scaled = image.astype(np.float32) / 127.5 - 1.0
    (blob,) = network.blobs
    assert blob.dtype == np.float32
    assert blob.shape == (1, 3, 64, 96)
    for channel in range(3):
        assert np.array_equal(blob[0, channel], scaled)
    assert network.contiguous == [True]
