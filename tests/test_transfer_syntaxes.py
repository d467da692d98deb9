"""Issue 10: transfer syntaxes no installed decoder reads, unknown UIDs, and the GDCM fallback.

* JPEG XL (1.2.840.10008.1.2.4.111) and Deflated Image Frame Compression (1.2.840.10008.1.2.8.1)
  are newer than pydicom 3.0: their dataset is Explicit VR Little Endian (PS3.5 A.4), so they
  pass through byte for byte when their pixels need no change (``--pixels off``), and are
  quarantined as ``unsupported_transfer_syntax`` with the UID when the pixel stage must look at
  them: ``all``, and ``auto``, which searches the samples of every series (issue 9: no class of
  image passes unexamined; these two instances are their series' samples).
* A UID that is no transfer syntax at all: the dataset encoding cannot be known, quarantined.
* pydicom's 12-bit ``JPEG-lossy.dcm``, which pylibjpeg rejects, decodes through GDCM to the
  values dcmtk's dcmdjpeg gives (an independent decoder; digest below, taken with dcmtk 3.6).
"""

from __future__ import annotations

import hashlib
import json
import zlib
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.encaps import encapsulate
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset, write_file_meta_info

from dicom_deid.cli import main
from dicom_deid.manifest import MANIFEST_NAME, read_manifest
from dicom_deid.pixels.decode import decode_pixels
from tests.conftest import TEST_FILES

JXL = "1.2.840.10008.1.2.4.111"
DEFLATED_FRAMES = "1.2.840.10008.1.2.8.1"
#: sha256 of dcmdjpeg's (dcmtk 3.6) decoded JPEG-lossy.dcm pixels, uint16 little endian
DCMTK_JPEG_LOSSY_SHA256 = "d30242775a414c01d616447854ebe3f2b20259822894bcd6891f879bcdcbf313"


def _with_syntax(path: Path, syntax: str, frame: bytes, modality: str = "CT") -> bytes:
    """CT_small's header in ``syntax``: explicit VR little endian dataset, one encapsulated frame."""
    ds = pydicom.dcmread(TEST_FILES / "CT_small.dcm")
    ds.file_meta.TransferSyntaxUID = syntax
    ds.PixelData = encapsulate([frame])
    ds["PixelData"].VR = "OB"
    ds["PixelData"].is_undefined_length = True
    ds.Modality = modality
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = pydicom.uid.generate_uid(entropy_srcs=[path.name])
    head = DicomBytesIO()
    head.is_little_endian, head.is_implicit_VR = True, False
    head.write(b"\x00" * 128 + b"DICM")
    write_file_meta_info(head, ds.file_meta, enforce_standard=True)
    body = DicomBytesIO()
    body.is_little_endian, body.is_implicit_VR = True, False
    write_dataset(body, ds)
    data = head.getvalue() + body.getvalue()
    path.write_bytes(data)
    return data


@pytest.fixture
def newer_syntaxes(tmp_path: Path) -> Path:
    inp = tmp_path / "in"
    inp.mkdir()
    _with_syntax(inp / "jxl.dcm", JXL, b"\xff\x0a" + bytes(range(200)))  # a JPEG XL codestream signature
    _with_syntax(inp / "difc.dcm", DEFLATED_FRAMES, zlib.compress(b"\x00\x01" * 256 * 256)[2:-4])
    return inp


def _rows(out: Path) -> dict[str, dict[str, object]]:
    return {str(r["ordinal"]): r for r in read_manifest(out / MANIFEST_NAME) if r.get("type") == "file"}


def test_newer_syntaxes_pass_through_untouched_when_pixels_need_no_change(newer_syntaxes: Path, tmp_path: Path,
                                                                          key_file: Path) -> None:
    out = tmp_path / "out"
    for pixels in ("off",):
        target = out / pixels
        assert main(["run", str(newer_syntaxes), str(target), "--key-file", str(key_file), "--pixels", pixels,
                     "--quiet"]) == 0
        written = sorted(target.rglob("*.dcm"))
        assert len(written) == 2
        for path in written:
            ds = pydicom.dcmread(path)
            source = pydicom.dcmread(newer_syntaxes / ("jxl.dcm" if ds.file_meta.TransferSyntaxUID == JXL
                                                       else "difc.dcm"))
            assert ds.file_meta.TransferSyntaxUID == source.file_meta.TransferSyntaxUID
            assert ds.PixelData == source.PixelData  # byte for byte
            assert "PatientName" not in ds or str(ds.PatientName) != str(source.PatientName)


@pytest.mark.parametrize("pixels", ["all", "auto"])
def test_newer_syntaxes_are_quarantined_with_their_uid_when_pixels_must_be_examined(
        newer_syntaxes: Path, tmp_path: Path, key_file: Path, capsys: pytest.CaptureFixture[str], pixels: str) -> None:
    out = tmp_path / "out"
    assert main(["run", str(newer_syntaxes), str(out), "--key-file", str(key_file), "--pixels", pixels,
                 "--quiet"]) == 3
    err = capsys.readouterr().err
    assert [r["reason"] for r in _rows(out).values()] == ["unsupported_transfer_syntax"] * 2
    for name, uid in (("difc.dcm", DEFLATED_FRAMES), ("jxl.dcm", JXL)):
        assert f"{newer_syntaxes / name}: (7FE0,0010) " in err
        assert f"no pixel decoder exists for transfer syntax {uid};" in err
    assert not list(out.rglob("*.dcm"))


@pytest.mark.parametrize("uid", ["1.2.3.4", "1.2.840.113619.5.2", "not a uid"])
def test_an_unknown_transfer_syntax_is_quarantined_with_its_uid(tmp_path: Path, key_file: Path, uid: str,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    inp = tmp_path / "in"
    inp.mkdir()
    _with_syntax(inp / "odd.dcm", uid, b"\x00" * 64)
    out = tmp_path / "out"
    assert main(["run", str(inp), str(out), "--key-file", str(key_file), "--pixels", "off", "--quiet"]) == 3
    shown = uid if uid[0].isdigit() else "(not a valid UID)"
    assert (f"dicom-deid: quarantined: {inp / 'odd.dcm'}: (0002,0010) Transfer Syntax UID {shown} is not a known "
            "transfer syntax: the encoding of the dataset cannot be known") in capsys.readouterr().err
    assert [r["reason"] for r in _rows(out).values()] == ["unsupported_transfer_syntax"]
    reasons = [json.loads(line) for line in (tmp_path / "out.quarantine" / "reasons.jsonl").read_text().splitlines()]
    assert [r["reason"] for r in reasons] == ["unsupported_transfer_syntax"]


def test_twelve_bit_jpeg_extended_decodes_through_gdcm_as_dcmtk_does() -> None:
    pytest.importorskip("gdcm", reason="python-gdcm is in the codecs extra")
    decoded = decode_pixels(pydicom.dcmread(TEST_FILES / "JPEG-lossy.dcm"))
    assert decoded.plugin == "gdcm" and decoded.frames.shape == (1, 1024, 256)
    assert decoded.facts.bits_stored == 12 and decoded.facts.lossy_history
    pixels = np.ascontiguousarray(decoded.frames[0], dtype="<u2").tobytes()
    assert hashlib.sha256(pixels).hexdigest() == DCMTK_JPEG_LOSSY_SHA256


def test_twelve_bit_jpeg_extended_is_redactable_end_to_end(tmp_path: Path, key_file: Path) -> None:
    pytest.importorskip("gdcm", reason="python-gdcm is in the codecs extra")
    inp = tmp_path / "in"
    inp.mkdir()
    ds = pydicom.dcmread(TEST_FILES / "JPEG-lossy.dcm")
    ds.Modality = "US"  # high risk: the pixel stage must decode it
    ds.save_as(inp / "IM1", enforce_file_format=True)
    out = tmp_path / "out"
    assert main(["run", str(inp), str(out), "--key-file", str(key_file), "--pixels", "all", "--quiet"]) == 0
    (row,) = _rows(out).values()
    assert row["outcome"] == "written" and row["pixels"]["examined"] is True  # type: ignore[index]
