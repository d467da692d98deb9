"""Detector and reader engines on plain arrays (no DICOM)."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont
from pixel_fixtures import read_test_file

from dicom_deid.pixels import PixelMode, PixelPolicy, PixelStage
from dicom_deid.pixels.ocr import (
    DEFAULT_PASSES,
    DbnetDetector,
    TesseractReader,
    TextBox,
    find_dbnet_model,
)

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


def _canvas(
    text: str, size: int, at: tuple[int, int], shape: tuple[int, int] = (200, 320)
) -> np.ndarray:
    image = Image.new("L", (shape[1], shape[0]), 30)
    ImageDraw.Draw(image).text(at, text, fill=230, font=ImageFont.truetype(FONT, size))
    return np.asarray(image)


def test_model_ships_inside_the_wheel() -> None:
    path = find_dbnet_model()
    assert path.name == "ch_PP-OCRv4_det_infer.onnx" and path.stat().st_size > 1_000_000


@pytest.mark.parametrize("size", [9, 14, 28], ids=["9px", "14px", "28px"])
def test_dbnet_finds_planted_word(size: int) -> None:
    image = _canvas("SMITH 1234", size, (60, 80))
    boxes = DbnetDetector().detect(image)
    ink = np.argwhere(image > 130)
    (y0, x0), (y1, x1) = ink.min(axis=0), ink.max(axis=0)
    assert any(b.x <= x0 and b.y <= y0 and b.x1 > x1 and b.y1 > y1 for b in boxes)


def test_dbnet_finds_vertical_label() -> None:
    image = np.ascontiguousarray(np.rot90(_canvas("ACC 998877", 14, (60, 80)), k=1))
    boxes = DbnetDetector().detect(image)
    ink = np.argwhere(image > 130)
    (y0, x0), (y1, x1) = ink.min(axis=0), ink.max(axis=0)
    assert any(b.x <= x0 and b.y <= y0 and b.x1 > x1 and b.y1 > y1 for b in boxes)


def test_dbnet_finds_nothing_on_smooth_image() -> None:
    ramp = np.tile(np.linspace(0, 255, 320, dtype=np.float32), (200, 1)).astype(np.uint8)
    assert DbnetDetector().detect(ramp) == []


def test_tesseract_reads_a_label() -> None:
    reader = TesseractReader()
    image = _canvas("HOSPITAL", 20, (40, 60))
    assert "HOSPITAL" in reader.read(image, TextBox(30, 50, 160, 40)).upper()
    assert reader.backend in ("tesserocr", "pytesseract")


def test_screen_pass_stops_the_search_on_an_image_without_text() -> None:
    """Nothing text-like in the first pass: the rotated and enlarged passes are not run."""
    calls: list[bool] = []
    detector = DbnetDetector()
    real = detector.network_map
    detector.network_map = lambda prepared, scan: calls.append(scan.rotate90) or real(prepared, scan)  # type: ignore[method-assign]
    ramp = np.tile(np.linspace(0, 255, 320, dtype=np.float32), (200, 1)).astype(np.uint8)
    assert detector.detect(ramp) == [] and calls == [False]
    calls.clear()
    assert detector.detect(_canvas("DOE JOHN 12345", 12, (20, 20)))
    assert len(calls) == len(DEFAULT_PASSES)


def test_keep_clinical_annotations_with_real_engines() -> None:
    """A scale label stays, the patient's name goes (real DBNet and Tesseract)."""
    source = read_test_file("CT_small.dcm")
    source.Modality = "OT"
    image = Image.new("L", (128, 128), 30)
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(FONT, 12)
    draw.text((4, 4), "5 cm", fill=230, font=font)
    draw.text((4, 100), "DOE^JANE", fill=230, font=font)
    pixels = np.asarray(image).astype(np.int16)
    source.PixelData = pixels.tobytes()
    target = copy.deepcopy(source)
    policy = PixelPolicy(PixelMode.ALL, keep_clinical_annotations=True)
    outcome = PixelStage(policy).process(source, target, phi_values=["DOE^JANE", "12345"])
    after = np.frombuffer(target.PixelData, np.int16).reshape(128, 128)
    assert outcome.redacted
    assert np.array_equal(after[:20], pixels[:20])  # "5 cm" kept
    name = pixels[95:120] > 130
    assert name.sum() > 20 and (after[95:120][name] == pixels.min()).all()
