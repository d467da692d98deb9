"""verify and shifted dates: a date the run shifted may land on another input date of the same
patient (one chance in ~3,300 per pair of dates under a keyed shift of 1-10 years). That is a
note; a date left as it was stays an error."""

from __future__ import annotations

from pathlib import Path

import pydicom
from pydicom.data import get_testdata_file

from dicom_deid.cli import main
from dicom_deid.keys import load_secret_key
from dicom_deid.remap import Remapper, patient_key, shift_date
from dicom_deid.verify import Severity, verify_output

DATE = "20200615"


def _write(ds: pydicom.Dataset, path: Path, date: str, uid: str) -> None:
    for elem in ds.iterall():
        if elem.VR == "DA":
            elem.value = date
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = uid
    ds.StudyInstanceUID = uid + ".1"
    ds.SeriesInstanceUID = uid + ".2"
    ds.save_as(path, enforce_file_format=True)


def _two_studies(root: Path, key_file: Path) -> str:
    """Two studies of one patient; the second's dates are where the run shifts the first's."""
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    ds.PatientID, ds.PatientName = "MRN7731904", "QUIXWORTH^PERCIVIL"
    ds.IssuerOfPatientID = ""
    ds.PatientBirthDate = ""
    offset = Remapper(load_secret_key(key_file)).date_offset_days(patient_key("MRN7731904", "", ds.PatientName))
    other = shift_date(DATE, offset)
    assert other is not None and other != DATE
    root.mkdir()
    _write(ds, root / "a.dcm", DATE, "1.2.826.0.1.3680043.9.7777.1")
    _write(ds, root / "b.dcm", other, "1.2.826.0.1.3680043.9.7777.2")
    return other


def _run(tmp_path: Path, key_file: Path) -> tuple[Path, Path, str]:
    src, out = tmp_path / "in", tmp_path / "out"
    other = _two_studies(src, key_file)
    rc = main(["run", str(src), str(out), "--profile", "research", "--pixels", "off", "--workers", "1",
               "--key-file", str(key_file), "--quiet"])
    assert rc == 0
    written = [p for p in out.rglob("*.dcm")]
    assert len(written) == 2
    shifted = [p for p in written if pydicom.dcmread(p).StudyDate == other]
    assert len(shifted) == 1  # precondition: the first study's dates landed on the second's
    return src, shifted[0], other


def test_a_shifted_date_that_lands_on_another_date_of_the_patient_is_a_note(tmp_path, key_file):
    src, _, _ = _run(tmp_path, key_file)
    result = verify_output(tmp_path / "out", against=src, ocr="off")
    serious = [f for f in result.findings if f.severity is not Severity.NOTE]
    assert serious == []
    notes = [f for f in result.findings if "date shift can land on one" in f.detail]
    assert any(f.where == "StudyDate" for f in notes)


def test_a_date_left_unshifted_is_still_an_error(tmp_path, key_file):
    src, landed, _ = _run(tmp_path, key_file)
    ds = pydicom.dcmread(landed)
    ds.StudyDate = DATE  # as in its input instance: the run did not shift it
    ds.save_as(landed)
    result = verify_output(tmp_path / "out", against=src, ocr="off")
    errors = [f for f in result.findings if f.severity is Severity.ERROR and f.where == "StudyDate"]
    assert len(errors) == 1
    assert "date" in errors[0].detail
