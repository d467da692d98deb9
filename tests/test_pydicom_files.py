"""Every file bundled with pydicom: de-identified, readable, syntax and pixel bytes preserved, or
quarantined / skipped with a reason.  Nothing is lost."""

from __future__ import annotations

import shutil
from collections import Counter

import numpy as np
import pydicom
import pytest

from dicom_deid.cli import main
from dicom_deid.manifest import MANIFEST_NAME, read_manifest
from dicom_deid.streams import find_stream_metadata
from tests.conformance import dciodvfy_errors
from tests.conftest import TEST_FILES

# Transfer syntaxes that must pass through (metadata work never decodes pixels).
SYNTAX_FILES = {
    "implicit LE": "MR_small_implicit.dcm",
    "explicit LE": "CT_small.dcm",
    "explicit BE": "MR_small_bigendian.dcm",
    "deflated": "image_dfl.dcm",
    "RLE": "MR_small_RLE.dcm",
    "JPEG baseline": "SC_rgb_jpeg_dcmtk.dcm",
    "JPEG extended": "JPGExtended.dcm",
    "JPEG-LS lossless": "MR_small_jpeg_ls_lossless.dcm",
    "JPEG 2000 lossless": "MR_small_jp2klossless.dcm",
    "JPEG 2000": "JPEG2000.dcm",
}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    inp = tmp_path_factory.mktemp("pyd") / "in"
    shutil.copytree(TEST_FILES, inp)
    out = inp.parent / "out"
    key = tmp_path_factory.mktemp("k") / "secret.key"
    from dicom_deid.keys import create_secret_key

    create_secret_key(key)
    rc = main(["run", str(inp), str(out), "--key-file", str(key), "--pixels", "off", "--quiet"])
    return inp, out, rc


def test_every_bundled_file_is_accounted_for(run):
    inp, out, rc = run
    rows = [r for r in read_manifest(out / MANIFEST_NAME) if r["type"] == "file"]
    n_files = sum(1 for p in inp.rglob("*") if p.is_file())
    assert len(rows) == n_files
    assert rc == 3  # some bundled files are fragments without SOP UIDs: quarantined
    quarantined = [r for r in rows if r["outcome"] == "quarantined"]
    assert all(r.get("reason") for r in quarantined)
    assert len([r for r in rows if r["outcome"] == "written"]) >= 100


def test_every_output_reads_back_with_pydicom(run):
    _, out, _ = run
    n = 0
    for p in out.rglob("*.dcm"):
        ds = pydicom.dcmread(p)
        assert ds.PatientIdentityRemoved == "YES"
        n += 1
    assert n >= 100


@pytest.mark.parametrize("name", SYNTAX_FILES.values(), ids=SYNTAX_FILES.keys())
def test_transfer_syntax_and_pixel_bytes_pass_through(name, tmp_path):
    inp = tmp_path / "in"
    inp.mkdir()
    shutil.copy(TEST_FILES / name, inp / "IM1")
    assert main(["run", str(inp), str(tmp_path / "out"), "--pixels", "off", "--quiet"]) == 0
    src = pydicom.dcmread(TEST_FILES / name)
    (path,) = (tmp_path / "out").rglob("*.dcm")
    out = pydicom.dcmread(path)
    assert out.file_meta.TransferSyntaxUID == src.file_meta.TransferSyntaxUID
    if find_stream_metadata(src) is not None:  # e.g. the encoder's comment in a JPEG 2000 stream
        assert find_stream_metadata(out) is None and out.PixelData != src.PixelData
        np.testing.assert_array_equal(out.pixel_array, src.pixel_array)  # removed; image bit-identical
    else:
        assert out.PixelData == src.PixelData
    assert out.SOPInstanceUID != src.SOPInstanceUID
    assert str(out.get("PatientName", "")) != str(src.get("PatientName", "")) or not src.get("PatientName")


def test_duplicate_sop_instances_are_quarantined_not_overwritten(run):
    """pydicom's MR_small*.dcm share one SOP Instance UID: the first is kept, later ones quarantined."""
    _, out, _ = run
    rows = [r for r in read_manifest(out / MANIFEST_NAME) if r["type"] == "file"]
    dups = [r for r in rows if r.get("reason") == "duplicate_instance"]
    assert len(dups) >= 3
    lines = (out.parent / "out.quarantine" / "reasons.jsonl").read_text()
    assert "MR_small_implicit.dcm" in lines or "MR_small_bigendian.dcm" in lines


def _errors(path) -> Counter[str]:
    return dciodvfy_errors(path)


@pytest.mark.parametrize("name", ["CT_small.dcm", "MR_small.dcm", "rtplan.dcm", "test-SR.dcm", "rtdose.dcm",
                                  "SC_rgb_rle.dcm", "waveform_ecg.dcm", "examples_ybr_color.dcm",
                                  "reportsi.dcm", "rtstruct.dcm", "examples_jpeg2k.dcm"])
@pytest.mark.parametrize("profile", ["basic", "research"])
def test_outputs_have_no_dciodvfy_error_their_input_lacks(name, profile, tmp_path):
    """Message by message: a new message fails even if another one went away."""
    inp = tmp_path / "in"
    inp.mkdir()
    shutil.copy(TEST_FILES / name, inp / "IM1")
    assert main(["run", str(inp), str(tmp_path / "out"), "--profile", profile, "--pixels", "off", "--quiet"]) == 0
    (path,) = (tmp_path / "out").rglob("*.dcm")
    before, after = _errors(TEST_FILES / name), _errors(path)
    assert sorted(after - before) == []
    assert sum(after.values()) <= sum(before.values())
