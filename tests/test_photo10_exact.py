"""Speed without new findings (helper photo10): each faster path gives what the plain one gave,
on a real public colour image (pydicom's ultrasound with burned-in text)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
from pixel_fixtures import NetworkInputs, read_test_file

from dicom_deid.pixels.decode import decode_pixels
from dicom_deid.pixels.models import DETECTION, RECOGNITION, find_model, load_session
from dicom_deid.pixels.near import crop_passes
from dicom_deid.pixels.ocr import DEFAULT_PASSES, DbnetDetector, ScanPass, TextBox
from dicom_deid.pixels.views import search_images


def _photograph() -> npt.NDArray[np.uint8]:
    """The display image of a real colour instance (480 x 640 RGB, text along its top)."""
    image = search_images(decode_pixels(read_test_file("examples_jpeg2k.dcm")))[0]
    assert image.shape == (480, 640, 3)
    return image


@pytest.mark.parametrize("grey", [False, True], ids=["colour", "grey"])
def test_a_turned_pass_feeds_the_network_the_image_turned_clockwise(grey: bool) -> None:
    """The turned pass turns the image by OpenCV: the network's input is the one it had when the
    image was turned by ``np.rot90(k=-1)`` and fed to a level pass of the same size."""
    detector = DbnetDetector(edge_pad=16)
    seen = NetworkInputs()
    detector._network = seen  # type: ignore[assignment]
    image = _photograph()
    prepared = detector.prepare(image[:, :, 1] if grey else image)[37:437, 11:590]  # a view, not contiguous
    turned = ScanPass(min_side=512, factor=2.0, max_side=1280, rotate90=True)
    level = ScanPass(min_side=512, factor=2.0, max_side=1280)
    got = detector.network_map(prepared, turned)
    detector.network_map(np.ascontiguousarray(np.rot90(prepared, k=-1)), level)
    assert got.shape == (seen.blobs[0].shape[2] - 32, seen.blobs[0].shape[3] - 32)
    assert seen.blobs[0].shape == seen.blobs[1].shape and seen.blobs[0].shape[2] > seen.blobs[0].shape[3]
    assert np.array_equal(seen.blobs[0], seen.blobs[1])


def test_passes_over_one_crop_share_its_preparation_and_find_the_same_boxes() -> None:
    """``detect_pass`` over one crop, pass after pass (as ``detect.search_near`` runs them), prepares
    the crop once, and each pass's boxes are those of the pass on a freshly prepared crop; another
    crop of the same size is prepared anew (remembered by content, not by size)."""
    detector = DbnetDetector()
    image = _photograph()
    calls: list[tuple[int, ...]] = []
    prepare = detector.prepare

    def counting(crop: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
        calls.append(crop.shape)
        return prepare(crop)

    setattr(detector, "prepare", counting)  # noqa: B010 (a method replaced on one instance)
    plan = crop_passes(DEFAULT_PASSES, 480, 640)
    assert len(plan) >= 3
    found: list[list[TextBox]] = []
    for top in (0, 1):  # the second crop: one row lower, the same size
        crop = np.ascontiguousarray(image[top : top + 160, 40:600])
        for step in plan:
            boxes, peak = detector.detect_pass(crop, step.scan)
            plain, plain_peak = detector._detect_prepared(prepare(crop), crop.shape[:2], step.scan)
            assert boxes == plain and peak == plain_peak
            found.append(boxes)
    assert calls == [(160, 560, 3), (160, 560, 3)]
    assert any(found)  # the top of the image holds text: the comparison saw boxes


def test_network_sessions_run_without_a_memory_pattern() -> None:
    """With onnxruntime's memory pattern, the second run of each new input shape grew the arena by
    one block for all its buffers, page by page (seconds of system time per new photograph size)."""
    for relative in (DETECTION, RECOGNITION):
        session = load_session(find_model(relative, "test"), threads=1, purpose="test")
        assert session.get_session_options().enable_mem_pattern is False
