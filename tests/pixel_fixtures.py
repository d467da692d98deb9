"""Shared helpers for the pixel-stage tests: the burned-in generator and fake engines."""

from __future__ import annotations

import copy
import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import numpy.typing as npt
import pydicom.data
from PIL import Image, ImageDraw, ImageFont
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.pixels import get_decoder
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from dicom_deid.pixels.confirm import Judged, Verdict
from dicom_deid.pixels.detect import TextSearch
from dicom_deid.pixels.ocr import TextBox
from dicom_deid.pixels.recognize import Reading

TEST_FILES = Path(pydicom.data.__file__).parent / "test_files"
REPO = Path(__file__).resolve().parent.parent
BOLD_FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"


def image_dataset(pixels: np.ndarray, *, modality: str, sop_class: str, series: tuple[str, str],
                  number: int = 1, image_type: tuple[str, ...] = ("ORIGINAL", "PRIMARY", "AXIAL"),
                  bits: int = 12) -> Dataset:
    """An instance of ``sop_class`` holding ``pixels`` (frames first; RGB when the last axis is 3
    and 8-bit) with a patient name, ID and study date to remove, in ``series`` (study, series UID)."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID = sop_class
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID = generate_uid()
    ds.StudyInstanceUID, ds.SeriesInstanceUID = series
    ds.PatientName, ds.PatientID, ds.Modality, ds.InstanceNumber = "QUIXBERRY^HORTENSE", "PID4711", modality, number
    ds.ImageType = list(image_type)
    ds.StudyDate = "20240105"
    if pixels.ndim == 3 and pixels.shape[-1] != 3:
        ds.NumberOfFrames = pixels.shape[0]
    photometric = "RGB" if pixels.shape[-1] == 3 and pixels.dtype == np.uint8 else "MONOCHROME2"
    ds.set_pixel_data(pixels, photometric, bits if photometric == "MONOCHROME2" else 8, generate_instance_uid=False)
    return ds


def ct_slice_with_text(series: tuple[str, str], number: int, text: str | None) -> tuple[Dataset, np.ndarray]:
    """A 256 x 256 ORIGINAL CT slice (pydicom's CT_small scaled up) of ``series`` (study, series
    UID), with ``text`` burned in at the top left or none; and the mask of the text's pixels."""
    base = pydicom.dcmread(get_testdata_file("CT_small.dcm")).pixel_array.astype(np.int32)
    arr = np.kron(base - base.min(), np.ones((2, 2), np.int32)).astype(np.uint16)
    mask = np.zeros(arr.shape, bool)
    if text:
        layer = Image.new("L", (arr.shape[1], arr.shape[0]), 0)
        ImageDraw.Draw(layer).text((8, 6), text, fill=255, font=ImageFont.truetype(BOLD_FONT, 16))
        mask = np.asarray(layer) > 110
        arr[mask] = 4095
    return image_dataset(arr, modality="CT", sop_class=CT_IMAGE_STORAGE, series=series, number=number), mask


def load_generator() -> ModuleType:
    """``scripts/make_burned_in.py`` as a module (scripts/ is not a package)."""
    name = "make_burned_in"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / "make_burned_in.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def read_test_file(name: str) -> Dataset:
    return pydicom.dcmread(TEST_FILES / name)


def stored_frames(ds: Dataset) -> np.ndarray:
    """Decoded stored values (no colour conversion) as F × R × C × S, via pydicom only."""
    arr, _meta = get_decoder(ds.file_meta.TransferSyntaxUID).as_array(ds, as_rgb=False)
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    return arr.reshape((frames, int(ds.Rows), int(ds.Columns), -1))


def ink_covered(boxes: Sequence[TextBox], mask: np.ndarray) -> float:
    """The share of ``mask``'s pixels (a label's ink) that lie inside any of ``boxes``."""
    ys, xs = np.nonzero(mask)
    inside = np.zeros(len(xs), bool)
    for b in boxes:
        inside |= (xs >= b.x) & (xs < b.x1) & (ys >= b.y) & (ys < b.y1)
    return float(inside.mean())


def outside_mask(shape: tuple[int, int], boxes: Sequence[tuple[int, int, int, int]]) -> np.ndarray:
    mask = np.ones(shape, bool)
    for x, y, w, h in boxes:
        mask[max(0, y) : y + h, max(0, x) : x + w] = False
    return mask


def roundtrip(ds: Dataset) -> Dataset:
    """Write to bytes and read back (as highdicom tests do)."""
    from io import BytesIO

    buffer = BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    buffer.seek(0)
    return pydicom.dcmread(buffer)


def pair(ds: Dataset) -> tuple[Dataset, Dataset]:
    """(source, target) as the pipeline hands them over."""
    return ds, copy.deepcopy(ds)


class FixedDetector:
    """Reports the same boxes on every image; counts how often it was asked."""

    def __init__(self, boxes: Sequence[TextBox]) -> None:
        self.boxes = list(boxes)
        self.calls = 0

    def detect(self, image: np.ndarray) -> list[TextBox]:
        self.calls += 1
        return list(self.boxes)


class FixedReader:
    """Reads the same text everywhere."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.calls = 0

    def read(self, image: np.ndarray, box: TextBox | None = None) -> str:
        self.calls += 1
        return self.text


class ConfirmAll:
    """A recognizer that reads every region as confident text (tests of what follows confirmation)."""

    def __init__(self, text: str = "TEXT42") -> None:
        self.text = text
        self.calls = 0

    def _reading(self) -> Reading:
        return Reading(self.text, tuple(0.99 for _ in self.text))

    def read_boxes(self, image: np.ndarray, boxes: Sequence[TextBox]) -> list[Reading]:
        self.calls += 1
        return [self._reading() for _ in boxes]

    def read_crops(self, crops: Sequence[np.ndarray]) -> list[Reading]:
        self.calls += 1
        return [self._reading() for _ in crops]


class FixedFinder:
    """A text search that reports the same boxes, confirmed, on every instance (no detection,
    no confirmation, no tightening): tests of decoding, filling and re-encoding."""

    def __init__(self, boxes: Sequence[TextBox], verdict: Verdict = Verdict.CONFIRMED) -> None:
        self.boxes = list(boxes)
        self.verdict = verdict
        self.calls = 0

    def __call__(self, images: Sequence[np.ndarray], derived: Sequence[bool]) -> TextSearch:
        self.calls += 1
        judged = tuple(Judged(b, self.verdict, 0, min(b.width, b.height)) for b in self.boxes)
        return TextSearch(judged, tuple(images))


class NetworkInputs:
    """Stands in for the network: keeps each input and answers an empty map."""

    def __init__(self) -> None:
        self.blobs: list[npt.NDArray[np.float32]] = []
        self.contiguous: list[bool] = []

    def run(self, blob: Any) -> npt.NDArray[np.float32]:
        self.blobs.append(np.array(blob))
        self.contiguous.append(bool(blob.flags.c_contiguous))  # else onnxruntime copies it once more
        return np.zeros((1, 1, *blob.shape[2:]), dtype=np.float32)
