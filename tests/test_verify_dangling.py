"""verify without the input: a reference to an instance the export never held is not an error
when the run's manifest shows every input written (review finding: clean research runs of public
files failed on Source Image Sequence items); with a quarantined input it is a warning."""

from __future__ import annotations

import shutil

import pydicom
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from dicom_deid.cli import main
from dicom_deid.verify import Category, Severity, verify_output


def _export(tmp_path, *, broken: bool):
    inp = tmp_path / "in"
    inp.mkdir()
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    item = Dataset()
    item.ReferencedSOPClassUID = ds.SOPClassUID
    item.ReferencedSOPInstanceUID = "1.2.826.0.1.3680043.10.9999.77"  # an instance not in the export
    ds.SourceImageSequence = Sequence([item])
    ds.save_as(inp / "a.dcm")
    if broken:
        (inp / "b.dcm").write_bytes((inp / "a.dcm").read_bytes()[:400])  # truncated: quarantined
    out = tmp_path / "out"
    rc = main(["run", str(inp), str(out), "--profile", "research", "--pixels", "off", "--quiet"])
    assert rc == (3 if broken else 0)
    return out


def _dangling(result):
    return [f for f in result.findings if f.category is Category.UID and "not in the output" in f.detail]


def test_a_reference_outside_a_complete_export_is_a_note(tmp_path):
    result = verify_output(_export(tmp_path, broken=False), ocr="off")
    found = _dangling(result)
    assert len(found) == 1 and found[0].severity is Severity.NOTE
    assert result.ok


def test_with_a_quarantined_input_it_is_a_warning_not_a_pass(tmp_path):
    found = _dangling(verify_output(_export(tmp_path, broken=True), ocr="off"))
    assert len(found) == 1 and found[0].severity is Severity.WARNING


def test_without_a_manifest_it_is_a_warning(tmp_path):
    out = _export(tmp_path, broken=False)
    copy = tmp_path / "copy"
    shutil.copytree(out, copy, ignore=shutil.ignore_patterns("dicom-deid-*"))
    found = _dangling(verify_output(copy, ocr="off"))
    assert len(found) == 1 and found[0].severity is Severity.WARNING
