"""Overlay planes (60xx groups): removed whole with their Overlay Data, or kept with their text
cleaned under an override; run and verify agree, and dciodvfy finds no new overlay error.

Files: pydicom's examples_overlay.dcm and PyPI pydicom-data's MR-SIEMENS-DICOM-WithOverlays.dcm
(each has one plane in group 6000: rows, columns, type, origin, description, data...).
"""

from __future__ import annotations

from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_testdata_file

from dicom_deid.cli import main
from dicom_deid.profiles import load_profile, parse_override
from dicom_deid.verify import Category, Severity, verify_output

FILES = ["examples_overlay.dcm", "MR-SIEMENS-DICOM-WithOverlays.dcm"]


def _overlay_tags(ds: pydicom.Dataset) -> list[int]:
    return [int(e.tag) for e in ds if 0x6000 <= e.tag.group <= 0x601E and not e.tag.group & 1]


@pytest.fixture(scope="module")
def overlay_input(tmp_path_factory) -> Path:
    """The two files, with a patient name planted in the plane's description as well."""
    root = tmp_path_factory.mktemp("overlays") / "in"
    root.mkdir()
    for name in FILES:
        path = get_testdata_file(name)
        assert path is not None, f"{name} missing: pip install -e '.[test]' (pydicom-data)"
        ds = pydicom.dcmread(path)
        assert len(_overlay_tags(ds)) == 10  # precondition: a full plane in group 6000
        ds.PatientName = "QUIXWORTH^PERCIVIL"
        ds[0x60000022].value = "Graphics by Quixworth"  # OverlayDescription
        ds.save_as(root / name)
    return root


def _run(inp: Path, out: Path, key_file: Path, *extra: str) -> list[pydicom.Dataset]:
    rc = main(["run", str(inp), str(out), "--pixels", "off", "--workers", "1", "--key-file", str(key_file),
               "--quiet", *extra])
    assert rc == 0
    outputs = [pydicom.dcmread(p) for p in sorted(out.rglob("*.dcm"))]
    assert len(outputs) == len(FILES)
    return outputs


def test_removed_overlay_data_takes_the_whole_plane(overlay_input, tmp_path, key_file, dciodvfy):
    outputs = _run(overlay_input, tmp_path / "out", key_file)
    assert [_overlay_tags(ds) for ds in outputs] == [[], []]
    result = verify_output(tmp_path / "out", against=overlay_input, ocr="off", dciodvfy=True)
    assert [f.to_dict() for f in result.findings if f.severity is not Severity.NOTE] == []


def test_kept_overlay_plane_has_its_text_cleaned(overlay_input, tmp_path, key_file, dciodvfy):
    keep = "(6000,3000)=keep"
    outputs = _run(overlay_input, tmp_path / "out", key_file, "--override", keep)
    for ds in outputs:
        assert len(_overlay_tags(ds)) == 10  # the whole plane kept, bitmap included
        assert ds[0x60000022].value == "Graphics by ***"
        assert ds[0x60000010].value in (300, 484)  # OverlayRows kept as is
    profile = load_profile("basic", overrides=[parse_override(keep)])
    result = verify_output(tmp_path / "out", against=overlay_input, profile=profile, ocr="off",
                           dciodvfy=True)
    assert [f.to_dict() for f in result.findings if f.severity is not Severity.NOTE] == []
    # the same from the command line; without the override, verify expects the plane removed
    assert main(["verify", str(tmp_path / "out"), "--against", str(overlay_input), "--ocr", "off",
                 "--override", keep]) == 0
    assert main(["verify", str(tmp_path / "out"), "--against", str(overlay_input), "--ocr", "off"]) == 4


def test_verify_reports_a_plane_left_without_its_data(overlay_input, tmp_path, key_file):
    _run(overlay_input, tmp_path / "out", key_file)
    path = min((tmp_path / "out").rglob("*.dcm"))
    ds = pydicom.dcmread(path)
    ds.add_new(0x60000010, "US", 300)  # OverlayRows without Overlay Data
    ds.save_as(path)
    result = verify_output(tmp_path / "out", against=overlay_input, ocr="off")
    found = [(f.category, f.where, f.severity) for f in result.findings if f.severity is not Severity.NOTE]
    assert found == [(Category.PROFILE, "OverlayRows", Severity.ERROR)]
