"""``order``: percentiles and medians of pixel samples, the same floats as numpy's own."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from dicom_deid.pixels.order import median, percentile, percentiles

#: The shares the pixel stage asks for (confirm, deskew, ocr.faint_crop, recognize), and others.
SHARES = (0, 1, 2, 5, 50, 90, 95, 98, 99, 99.5, 100, 1.0, 33.3, 66.7, 0.1, 99.9)


def _samples() -> list[npt.NDArray[np.generic]]:
    """Random samples of the dtypes the stage passes (8-bit planes and responses, float32 rings
    and luminance, int64 extents), flat and 2-D, odd and even sizes, with many ties."""
    rng = np.random.default_rng(20261202)
    out: list[npt.NDArray[np.generic]] = []
    for i in range(300):
        n = int(rng.integers(1, 500))
        kind = i % 4
        if kind == 0:
            values: npt.NDArray[np.generic] = rng.integers(0, 256, n).astype(np.uint8)
        elif kind == 1:
            values = rng.integers(0, 256, n).astype(np.float32)
        elif kind == 2:
            values = (rng.random(n) * 300.0).astype(np.float32)
        else:
            values = rng.integers(0, 40, n).astype(np.int64)
        if i % 5 == 0 and n % 3 == 0:
            values = values.reshape(3, -1)
        out.append(values)
    return out


def _same(a: float, b: float) -> bool:
    return np.float64(a).tobytes() == np.float64(b).tobytes()


def test_percentile_is_numpys_bit_for_bit() -> None:
    for values in _samples():
        for share in SHARES:
            assert _same(percentile(values, share), float(np.percentile(values, share))), (values.dtype, share)


def test_percentiles_are_numpys_bit_for_bit() -> None:
    # a tuple of shares: numpy interpolates in float64 whatever the dtype (a float32 sample differs
    # from one share at a time), and so must this
    for values in _samples():
        for shares in ((1, 99), (2.0, 98.0), (0.1, 99.9), (50.0, 99.0), (5, 50, 95)):
            assert percentiles(values, shares) == tuple(float(v) for v in np.percentile(values, shares))


def test_float32_tuple_and_single_shares_differ_as_in_numpy() -> None:
    # the two paths are not interchangeable: a case where numpy's own answers differ in the last bit
    rng = np.random.default_rng(7)
    for _ in range(2000):
        values = (rng.random(int(rng.integers(3, 60))) * 255.0).astype(np.float32)
        single = float(np.percentile(values, 1))
        paired = float(np.percentile(values, (1, 99))[0])
        if single != paired:
            assert percentile(values, 1) == single
            assert percentiles(values, (1, 99))[0] == paired
            return
    pytest.fail("no float32 sample where numpy's single and paired percentiles differ")


def test_numpy_scalar_shares_are_numpys_too() -> None:
    # numpy treats a numpy scalar share like a sequence (float64 interpolation), a Python one not
    for values in _samples()[:100]:
        for share in (np.float64(1.0), np.float32(99.5), np.int64(90)):
            assert _same(percentile(values, share), float(np.percentile(values, share)))  # type: ignore[arg-type]


def test_median_is_numpys_bit_for_bit() -> None:
    for values in _samples():
        assert _same(median(values), float(np.median(values)))


def test_nan_and_empty_samples_answer_as_numpy() -> None:
    values = np.array([1.0, np.nan, 3.0], np.float32)
    assert np.isnan(percentile(values, 50)) and np.isnan(median(values))
    assert all(np.isnan(v) for v in percentiles(values, (1, 99)))
    with pytest.raises(IndexError):
        np.percentile(np.zeros(0, np.uint8), 50)  # numpy's own error, which ours passes on
    with pytest.raises(IndexError):
        percentile(np.zeros(0, np.uint8), 50)
    with pytest.raises(ValueError):
        percentile(np.arange(4), 101)


def test_known_values() -> None:
    # hand-worked: 0..10 has its 95th percentile at virtual index 9.5 (between 9 and 10)
    assert percentile(np.arange(11, dtype=np.uint8), 95) == 9.5
    assert percentiles(np.arange(101, dtype=np.uint8), (1, 99)) == (1.0, 99.0)
    assert median(np.array([7, 1, 3, 9], np.uint8)) == 5.0
