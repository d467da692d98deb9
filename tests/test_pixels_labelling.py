"""``labelling``: Grana's labelling gives the labels and stats of OpenCV's default (8-connected)."""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from dicom_deid.pixels.labelling import components, components_with_stats


def _bitmaps() -> list[npt.NDArray[np.uint8]]:
    """Random maps of many densities and sizes, dilated by the kernels the stage joins marks with
    (rows, flow), and the edge cases (empty, full, one pixel, one row, one column)."""
    rng = np.random.default_rng(20261203)
    maps = []
    for _ in range(160):
        shape = (int(rng.integers(1, 300)), int(rng.integers(1, 300)))
        bitmap = (rng.random(shape) < float(rng.uniform(0.01, 0.7))).astype(np.uint8)
        if rng.random() < 0.6:
            reach = (int(rng.integers(1, 9)), int(rng.integers(1, 4)))
            bitmap = cv2.dilate(bitmap, np.ones(reach[::-1], np.uint8))
        maps.append(bitmap)
    maps += [np.zeros((64, 96), np.uint8), np.ones((33, 17), np.uint8), np.ones((1, 1), np.uint8),
             (rng.random((1, 500)) > 0.5).astype(np.uint8), (rng.random((500, 1)) > 0.5).astype(np.uint8),
             (rng.random((40, 40)) > 0.5).astype(np.uint8) * 255]
    return maps


@pytest.mark.parametrize("threads", [1, 4], ids=["one-thread", "four-threads"])
def test_labels_and_stats_are_opencvs_default(threads: int) -> None:
    before = cv2.getNumThreads()
    cv2.setNumThreads(threads)  # OpenCV labels in parallel stripes when it has threads
    try:
        for bitmap in _bitmaps():
            count, labels, stats = components_with_stats(bitmap)
            want_count, want_labels, want_stats, _ = cv2.connectedComponentsWithStats(bitmap, connectivity=8)
            assert count == want_count
            assert np.array_equal(labels, want_labels)
            assert np.array_equal(stats, want_stats)
            count, labels = components(bitmap)
            want_count, want_labels = cv2.connectedComponents(bitmap, connectivity=8)
            assert count == want_count
            assert np.array_equal(labels, want_labels)
    finally:
        cv2.setNumThreads(before)


def test_diagonal_neighbours_join() -> None:
    bitmap = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 0], [0, 0, 1]], np.uint8)
    count, labels, stats = components_with_stats(bitmap)
    assert count == 3  # background, the diagonal pair, the lone pixel
    assert labels[0, 0] == labels[1, 1] != labels[3, 2]
    assert stats[labels[3, 2]].tolist() == [2, 3, 1, 1, 1]
