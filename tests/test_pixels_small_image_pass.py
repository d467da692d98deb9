"""Large text on a small image is searched at 2x too (issue 9, tune seed 10834 case030).

The passes enlarge an image to a 512 px short side (up to 4x).  On a 256x120 Doppler, 21 px
magenta capitals of a 5x7 dot font along its bottom edge, enlarged 4x, were seen as a few
blocks: one letter boxed, and the name read after redaction.  An image whose shorter side is
under 256 px is now searched once more enlarged 2x (``ocr.SMALL_IMAGE_PASS``); larger images are
not (the cost stays where it was).

The ground is pydicom's US1_UNCR (a real ultrasound) shrunk to 256x140; the name is drawn in a
5x7 dot font, as scanners draw theirs.
"""

from __future__ import annotations

import copy

import cv2
import numpy as np
import pydicom
from pixel_fixtures import image_dataset, stored_frames
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid

from dicom_deid.pixels import PixelMode, PixelPolicy, PixelStage
from dicom_deid.pixels.ocr import SMALL_IMAGE_PASS, DbnetDetector

US = "1.2.840.10008.5.1.4.1.1.6.1"
#: 5x7 dot glyphs, one byte per column, bit 0 the top row
DOTS = {"Y": (0x07, 0x08, 0x70, 0x08, 0x07), "U": (0x3F, 0x40, 0x40, 0x40, 0x3F), "K": (0x7F, 0x08, 0x14, 0x22, 0x41),
        "I": (0x00, 0x41, 0x7F, 0x41, 0x00), "D": (0x7F, 0x41, 0x41, 0x22, 0x1C), "B": (0x7F, 0x49, 0x49, 0x49, 0x36),
        "O": (0x3E, 0x41, 0x41, 0x41, 0x3E), "S": (0x46, 0x49, 0x49, 0x49, 0x31), " ": (0, 0, 0, 0, 0)}


def _dots(text: str, scale: int) -> np.ndarray:
    cols = [np.pad(np.array([[(c >> r) & 1 for c in DOTS[ch]] for r in range(7)], bool), ((0, 0), (0, 1)))
            for ch in text]
    return np.concatenate(cols, axis=1).repeat(scale, 0).repeat(scale, 1)


def _doppler(height: int, width: int = 256) -> np.ndarray:
    base = pydicom.dcmread(get_testdata_file("US1_UNCR.dcm")).pixel_array
    return np.asarray(cv2.resize(base, (width, height), interpolation=cv2.INTER_AREA))


def test_large_dot_font_name_on_a_small_ultrasound_is_blacked_out() -> None:
    image = _doppler(140)
    name = np.zeros(image.shape[:2], bool)
    glyphs = _dots("YUKI DUBOIS", 3)  # 21 px
    name[image.shape[0] - glyphs.shape[0] :, 8 : 8 + glyphs.shape[1]] = glyphs
    image[name] = (255, 64, 255)
    ds = image_dataset(image, modality="US", sop_class=US, series=(generate_uid(), generate_uid()))
    PixelStage(PixelPolicy(PixelMode.AUTO)).process(ds, target := copy.deepcopy(ds))
    changed = (stored_frames(target).reshape(image.shape) != image).any(axis=-1)
    assert (changed & name).sum() >= 0.98 * name.sum()


def _inputs(detector: DbnetDetector, image: np.ndarray) -> list[tuple[int, ...]]:
    shapes: list[tuple[int, ...]] = []
    network = detector._network
    run = network.run

    def counted(blob: np.ndarray) -> np.ndarray:
        shapes.append(tuple(blob.shape[2:]))
        return run(blob)

    network.run = counted  # type: ignore[method-assign]
    try:
        detector.detect(image)
    finally:
        del network.run
    return shapes


def test_only_images_under_256_px_get_the_2x_pass() -> None:
    """The 256x140 image gets one network run more than without the pass, at 2x; a 700x560 image
    (which that pass would search at a size no other pass uses) gets the same runs."""
    detector = DbnetDetector()
    without = DbnetDetector(passes=[scan for scan in detector.passes if scan is not SMALL_IMAGE_PASS])
    small_with, small_without = _inputs(detector, _doppler(140)), _inputs(without, _doppler(140))
    pad = 2 * detector.edge_pad
    height, width = SMALL_IMAGE_PASS.size_for(140, 256)
    assert sorted(small_with) == sorted([*small_without, (height + pad, width + pad)])
    assert sorted(_inputs(detector, _doppler(560, 700))) == sorted(_inputs(without, _doppler(560, 700)))
