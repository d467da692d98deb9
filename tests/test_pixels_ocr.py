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
    ScanPass,
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


def _counting(detector: DbnetDetector) -> list[tuple[bool, int, int]]:
    """Record (turned, rows, columns) of every network run of ``detector``."""
    calls: list[tuple[bool, int, int]] = []
    real = detector.network_map

    def counted(prepared: np.ndarray, scan: ScanPass, *, pad: int | None = None) -> np.ndarray:
        out = real(prepared, scan, pad=pad)
        calls.append((scan.rotate90, *out.shape))
        return out

    detector.network_map = counted  # type: ignore[method-assign]
    return calls


def test_screen_pass_stops_the_search_on_an_image_without_text() -> None:
    """Nothing text-like in the first pass: the rotated and enlarged passes are not run."""
    detector = DbnetDetector()
    calls = _counting(detector)
    ramp = np.tile(np.linspace(0, 255, 320, dtype=np.float32), (200, 1)).astype(np.uint8)
    assert detector.detect(ramp) == [] and [c[0] for c in calls] == [False]
    calls.clear()
    assert detector.detect(_canvas("DOE JOHN 12345", 12, (20, 20), shape=(600, 800)))
    whole = [scan for scan in DEFAULT_PASSES if not scan.band]  # edge bands: images over 1280 px only
    assert len(whole) == 3 and len(calls) == len(whole) and len(set(calls)) == len(whole)


def test_a_pass_the_screen_already_made_is_not_run_again() -> None:
    """On a small image the screen (2x, at least 512 px) and the native pass (at least 512 px) feed
    the network the same input: it runs once, and the boxes are those of every pass run apart."""
    image = _canvas("DOE JOHN 12345", 12, (20, 20))  # 200 x 320: both passes at 512 x 832
    assert DEFAULT_PASSES[0].size_for(200, 320) == DEFAULT_PASSES[1].size_for(200, 320)
    detector = DbnetDetector()
    calls = _counting(detector)
    found = detector.detect(image)
    assert calls == [(False, 512, 832), (True, 832, 512)]
    apart = DbnetDetector()
    every = [b for scan in DEFAULT_PASSES if not scan.band for b in apart.detect_pass(image, scan)[0]]
    assert found and set(found) == set(every)


def test_an_image_searched_again_is_answered_from_memory() -> None:
    """Equal images (a projection equal to the frames of a still cine) are searched once; an image
    that differs by one pixel is searched."""
    detector = DbnetDetector()
    calls = _counting(detector)
    image = _canvas("DOE JOHN 12345", 12, (20, 20))
    first = detector.detect(image)
    runs = len(calls)
    assert first and detector.detect(image.copy()) == first and len(calls) == runs
    changed = image.copy()
    changed[0, 0] ^= 1
    assert detector.detect(changed) and len(calls) == 2 * runs


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


def test_equal_crops_are_read_once() -> None:
    """The recognizer reads a crop once however often it is asked (the same label on equal frames)
    and gives every copy the same reading; a different crop is read."""
    from dicom_deid.pixels.recognize import CrnnRecognizer

    recognizer = CrnnRecognizer()
    runs: list[tuple[int, ...]] = []
    real = recognizer._network.run
    recognizer._network.run = lambda blob: runs.append(blob.shape) or real(blob)  # type: ignore[method-assign]
    label = np.ascontiguousarray(np.repeat(_canvas("SMITH 1234", 20, (4, 4), shape=(30, 150))[:, :, None], 3, axis=2))
    readings = recognizer.read_crops([label, label.copy(), label])
    assert len(runs) == 1 and "SMITH" in readings[0].text and readings[0] == readings[1] == readings[2]
    other = np.ascontiguousarray(np.repeat(_canvas("JONES 77", 20, (4, 4), shape=(30, 150))[:, :, None], 3, axis=2))
    again = recognizer.read_crops([other, label])
    assert len(runs) == 2 and again[1] == readings[0] and "JONES" in again[0].text


def test_grey_stored_as_colour_is_searched_as_one_plane() -> None:
    """An RGB image whose channels are equal (many ultrasound screens) is equalised and fed as one
    grey plane, and finds what its grey version finds; a colour image keeps its three channels."""
    grey = _canvas("DOE JOHN 12345", 12, (20, 20))
    rgb = np.ascontiguousarray(np.repeat(grey[:, :, None], 3, axis=2))
    detector = DbnetDetector()
    assert detector.prepare(rgb).shape == grey.shape
    assert detector.detect(rgb) == DbnetDetector().detect(grey) != []
    tinted = rgb.copy()
    tinted[:, :, 2] //= 2
    assert detector.prepare(tinted).shape == tinted.shape


def test_a_leading_space_read_does_not_shift_the_confidences() -> None:
    """Greedy CTC decoding: a space read first and stripped takes its confidence with it, so each
    character kept keeps its own (the confirmation weighs characters by them)."""
    from dicom_deid.pixels.recognize import CrnnRecognizer

    decoder = CrnnRecognizer()
    decoder._characters = ["", "A", "B", " "]  # blank, the table, space (as the model's metadata)
    steps = [(3, 0.6), (1, 0.9), (1, 0.8), (0, 0.99), (2, 0.7), (0, 0.99)]  # " ", "A", "A", -, "B", -
    probabilities = np.zeros((len(steps), 4), np.float32)
    for t, (cls, conf) in enumerate(steps):
        probabilities[t, cls] = conf
    reading = decoder._decode(probabilities)
    assert reading.text == "AB"
    assert reading.confidences == pytest.approx((0.9, 0.7))


def _line_crop(text: str, size: int) -> np.ndarray:
    font = ImageFont.truetype(FONT, size)
    width = int(font.getlength(text)) + 16
    image = Image.new("RGB", (width, size + 14), (20, 20, 20))
    ImageDraw.Draw(image).text((8, 5), text, fill=(235, 235, 235), font=font)
    return np.asarray(image)


def test_reading_does_not_depend_on_the_crops_read_before() -> None:
    """A recognizer's answer for a crop is the same whatever input widths its network ran before.

    Guards the runtime: OpenVINO 2026.4.1 (tried as a faster runtime) returned logits off by
    0.3-0.5 for every input width of 144 px or more once its first input had been 8 px wide (a tall
    box's crop), so whole runs read nothing."""
    from dicom_deid.pixels.recognize import CrnnRecognizer

    lines = [_line_crop("Exam 16213", 22), _line_crop("#40428784 SMITH JOHN", 20), _line_crop("DOB 1961", 16)]
    alone = []
    for line in lines:
        reading = CrnnRecognizer().read_crops([line])[0]
        alone.append(reading)
    assert [r.text for r in alone] == ["Exam 16213", "#40428784 SMITH JOHN", "DOB 1961"]
    tall = np.full((186, 31, 3), 20, dtype=np.uint8)  # read 8 px wide by the network
    tall[20:170, 12:19] = 235
    after = CrnnRecognizer()
    after.read_crops([tall])
    for line, first in zip(lines, alone, strict=True):
        again = after.read_crops([line])[0]
        assert again.text == first.text
        assert np.allclose(again.confidences, first.confidences, atol=1e-4)
