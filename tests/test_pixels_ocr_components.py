"""The detector labels its probability maps faster than OpenCV's default, with the same result."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from dicom_deid.pixels import ocr
from dicom_deid.pixels.ocr import DEFAULT_PASSES, DbnetDetector, text_components

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


def _default(bitmap: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
    """OpenCV's default labelling: what the detector used before ``text_components``."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(bitmap, connectivity=8)
    return int(count), labels, stats


def _bitmaps() -> list[np.ndarray]:
    """Sparse and dense random maps of odd and even sizes, thresholded and dilated as ``_boxes``
    does, and the edge cases (empty, full, one pixel, one row, one column)."""
    rng = np.random.default_rng(20261202)
    maps = []
    for _ in range(120):
        shape = (int(rng.integers(1, 260)), int(rng.integers(1, 260)))
        prob = rng.random(shape, dtype=np.float32) ** float(rng.uniform(1.0, 12.0))
        bitmap = (prob > 0.25).astype(np.uint8)
        maps.append(cv2.dilate(bitmap, np.ones((2, 2), np.uint8)) if rng.random() < 0.5 else bitmap)
    maps += [np.zeros((64, 96), np.uint8), np.ones((33, 17), np.uint8), np.ones((1, 1), np.uint8),
             (rng.random((1, 500)) > 0.5).astype(np.uint8), (rng.random((500, 1)) > 0.5).astype(np.uint8)]
    return maps


@pytest.mark.parametrize("threads", [1, 4], ids=["one-thread", "four-threads"])
def test_components_are_opencvs_default_labelling(threads: int) -> None:
    before = cv2.getNumThreads()
    cv2.setNumThreads(threads)  # OpenCV labels in parallel stripes when it has threads
    try:
        for bitmap in _bitmaps():
            count, labels, stats = text_components(bitmap)
            want_count, want_labels, want_stats = _default(bitmap)
            assert count == want_count
            assert np.array_equal(labels, want_labels)
            assert np.array_equal(stats, want_stats)
    finally:
        cv2.setNumThreads(before)


def _text_image() -> np.ndarray:
    image = Image.new("L", (480, 320), 20)
    draw = ImageDraw.Draw(image)
    draw.text((30, 40), "SMITH^JOHN 1961", fill=230, font=ImageFont.truetype(FONT, 14))
    draw.text((200, 250), "ACC 998877", fill=200, font=ImageFont.truetype(FONT, 9))
    draw.ellipse((150, 90, 330, 230), fill=120)
    turned = Image.new("L", (160, 20), 20)
    ImageDraw.Draw(turned).text((2, 2), "L 12/03/2024", fill=220, font=ImageFont.truetype(FONT, 12))
    image.paste(turned.rotate(90, expand=True), (440, 60))
    return np.asarray(image)


def test_detector_boxes_are_those_of_the_default_labelling(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every pass's boxes on an image with level, small and vertical text are the boxes the
    default labelling gives on the same probability maps."""
    detector = DbnetDetector()
    image = _text_image()
    prepared = detector.prepare(image)
    maps = [(detector.network_map(prepared, scan), scan) for scan in DEFAULT_PASSES[:3]]
    found = [detector._boxes(prob, image.shape, scan) for prob, scan in maps]
    monkeypatch.setattr(ocr, "text_components", _default)
    assert found == [detector._boxes(prob, image.shape, scan) for prob, scan in maps]
    assert all(found)  # every pass boxed something: the comparison is not of empty lists
