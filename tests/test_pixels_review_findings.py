"""Regression tests from an adversarial review of the pixel stage (`--pixels auto`)."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from PIL import Image, ImageDraw, ImageFont
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from dicom_deid.cli import main
from dicom_deid.manifest import MANIFEST_NAME, read_manifest

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"  # Debian fonts-dejavu-core (make test installs it)
RNG = np.random.default_rng(0)


def _text_mask(shape: tuple[int, int], text: str, xy: tuple[int, int], size: int) -> np.ndarray:
    im = Image.new("L", (shape[1], shape[0]), 0)
    ImageDraw.Draw(im).text(xy, text, fill=255, font=ImageFont.truetype(FONT, size))
    return np.array(im) > 127


def _anatomy(rows: int, cols: int) -> np.ndarray:
    y, x = np.mgrid[:rows, :cols]
    blob = 800 * np.exp(-(((x - cols / 2) / (cols / 4)) ** 2 + ((y - rows / 2) / (rows / 4)) ** 2))
    return (1000 + blob + RNG.normal(0, 20, (rows, cols))).astype(np.uint16)


def _dataset(modality: str, sop_class: str, image_type: list[str]) -> Dataset:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID = sop_class
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID = generate_uid()
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.PatientName, ds.PatientID, ds.Modality, ds.ImageType = "DOE^JANE", "PID12345", modality, image_type
    return ds


def _case(name: str):
    if name == "derived-primary-ct":  # an MPR/MIP reformat with the name drawn in
        arr = _anatomy(512, 512)
        mask = _text_mask(arr.shape, "DOE^JANE  PID12345", (20, 20), 18)
        arr[mask] = 3000
        ds = _dataset("CT", "1.2.840.10008.5.1.4.1.1.2", ["DERIVED", "PRIMARY", "MIP"])
        return ds, arr, mask
    if name == "medium-large-text":  # 64 px glyphs exceed the quick check's character size
        arr = _anatomy(1024, 1024)
        mask = _text_mask(arr.shape, "JANE DOE", (40, 40), 64)
        arr[mask] = 4095
        ds = _dataset("MG", "1.2.840.10008.5.1.4.1.1.13.1.3", ["ORIGINAL", "PRIMARY"])
        return ds, arr, mask
    # medium-risk multi-frame: text on the first 3 of 21 frames only (the middle frame is clean)
    frames = np.stack([_anatomy(256, 256) for _ in range(21)])
    mask = np.zeros(frames.shape, bool)
    mask[:3] = _text_mask(frames.shape[1:], "DOE JANE", (10, 10), 16)
    frames[mask] = 4095
    ds = _dataset("MG", "1.2.840.10008.5.1.4.1.1.13.1.3", ["ORIGINAL", "PRIMARY"])
    return ds, frames, mask


def _redact_auto(ds: Dataset, tmp_path) -> tuple[dict, np.ndarray]:
    """Run the CLI with --pixels auto on one instance; return its manifest row and output pixels."""
    inp = tmp_path / "in"
    inp.mkdir()
    ds.save_as(inp / "x.dcm", enforce_file_format=True)
    out = tmp_path / "out"
    assert main(["run", str(inp), str(out), "--quiet", "--workers", "1", "--pixels", "auto"]) == 0
    (row,) = [r for r in read_manifest(out / MANIFEST_NAME) if r["type"] == "file"]
    return row, pydicom.dcmread(out / row["output"]).pixel_array


@pytest.mark.parametrize("name", ["derived-primary-ct", "medium-large-text", "medium-multiframe-first-frames"])
def test_auto_mode_finds_the_text(name, tmp_path):
    ds, arr, mask = _case(name)
    ds.set_pixel_data(arr, "MONOCHROME2", 12 if ds.Modality == "MG" else 16, generate_instance_uid=False)
    row, result = _redact_auto(ds, tmp_path)
    assert row["pixels"]["redacted"], row["pixels"]["note"]
    leaked = (result == arr) & mask
    assert mask.sum() > 200 and leaked.sum() <= 0.01 * mask.sum()


def test_one_outlier_pixel_does_not_hide_text_in_16_bit_data(tmp_path):
    cols = np.mgrid[:1024, :1024][1]
    arr = (2000 + 500 * np.sin(cols / 50.0)).astype(np.uint16)
    mask = _text_mask(arr.shape, "DOE JANE 19700101", (30, 30), 24)
    arr[mask] = 4095
    arr[1023, 1023] = 65535  # one hot pixel stretches the full range
    ds = _dataset("DX", "1.2.840.10008.5.1.4.1.1.1.1", ["ORIGINAL", "PRIMARY"])
    ds.set_pixel_data(arr, "MONOCHROME2", 16, generate_instance_uid=False)
    _, result = _redact_auto(ds, tmp_path)
    assert mask.sum() > 500 and ((result == arr) & mask).sum() <= 0.01 * mask.sum()
