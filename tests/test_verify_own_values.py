"""verify knows what dicom-deid writes and what is vocabulary: the false alarms of issue 11.

Each input below reproduces one measured false alarm: an input ID ``ANON`` found inside the tool's
own ``ANON^DD…`` pseudonym, a phantom called ``dicom`` found in the DeidentificationMethod text,
``BRAIN`` as both a phantom's name and a body part, ``OFFIS`` as institution and manufacturer, a
private value that is also a coding scheme designator.  With the run's key, verify recomputes
the exact pseudonyms, and a value that only has their form is reported.
"""

from __future__ import annotations

from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import generate_uid

from dicom_deid.cli import main
from dicom_deid.keys import create_secret_key, load_secret_key
from dicom_deid.verify import Category, Severity, verify_output


def _ct(patient_id: str, name: str) -> Dataset:
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    ds.PatientID, ds.PatientName = patient_id, name
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    return ds


@pytest.fixture(scope="module")
def own_run(tmp_path_factory, key_file) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("own")
    (root / "in").mkdir()
    phantom = _ct("dicom", "dicom")  # a GE phantom's identity
    phantom.save_as(root / "in" / "phantom.dcm")
    other = _ct("PAT000417", "Brain^Phantom")
    step = Dataset()
    step.ScheduledProcedureStepID = "ANON"
    other.RequestAttributesSequence = Sequence([step])
    other.BodyPartExamined, other.InstitutionName, other.Manufacturer = "BRAIN", "OFFIS", "OFFIS"
    other.private_block(0x0029, "ACME 1.0", create=True).add_new(0x10, "LO", "99RL")
    code = Dataset()
    code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = "T-A0100", "99RL", "Brain"
    other.AnatomicRegionSequence = Sequence([code])
    other.save_as(root / "in" / "other.dcm")
    assert main(["run", str(root / "in"), str(root / "out"), "--pixels", "off", "--workers", "1",
                 "--key-file", str(key_file), "--quiet"]) == 0
    return root / "in", root / "out"


def test_the_tools_own_values_and_vocabulary_are_no_findings(own_run):
    inp, out = own_run
    result = verify_output(out, against=inp, ocr="off")
    assert [f.to_dict() for f in result.findings if f.severity is not Severity.NOTE] == []
    notes = {(f.where.split("[")[0], f.detail.split(" (")[0]) for f in result.findings}
    # a name that is vocabulary is reported as a note, never silently: BRAIN as body part and code
    assert notes == {("BodyPartExamined", "name"), ("AnatomicRegionSequence", "name")}
    # OFFIS is kept on purpose as Manufacturer: the institution's value is released, not leaked
    assert result.needles["id"] >= 2  # precondition: PAT000417 and ANON were searched for


def test_with_the_runs_key_pseudonyms_are_recomputed(own_run, key_file):
    inp, out = own_run
    result = verify_output(out, against=inp, ocr="off", key=load_secret_key(key_file))
    assert [f.to_dict() for f in result.findings if f.severity is not Severity.NOTE] == []


def test_with_another_key_a_pseudonym_form_is_not_enough(own_run, tmp_path):
    inp, out = own_run
    other = create_secret_key(tmp_path / "other.key")
    result = verify_output(out, against=inp, ocr="off", key=other)
    found = {(f.category, f.where) for f in result.errors}
    assert found == {(Category.PROFILE, "PatientID"), (Category.PROFILE, "PatientName")}
    assert all("not a pseudonym of the key given" in f.detail for f in result.errors)
    assert len(result.errors) == 4  # two outputs, two pseudonyms each


def test_key_without_input_is_refused(own_run, key_file, capsys):
    _inp, out = own_run
    assert main(["verify", str(out), "--key-file", str(key_file)]) == 2
    assert "--key-file needs --against INPUT" in capsys.readouterr().err
