"""The detector labels its probability maps faster than OpenCV's default, with the same boxes.

The labelling itself is compared with OpenCV's default in ``tests/test_pixels_labelling.py``."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from dicom_deid.pixels import ocr
from dicom_deid.pixels.ocr import DEFAULT_PASSES, DbnetDetector

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


def _default(bitmap: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
    """OpenCV's default labelling: what the detector used before ``text_components``."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(bitmap, connectivity=8)
    return int(count), labels, stats


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
