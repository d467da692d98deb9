"""A small export with planted PHI: one CT image per patient (pydicom's CT_small.dcm, re-identified).

Used by the subject-map, API and README tests.  Each patient gets the PatientID the test gives,
a planted name and birth date, and its own study, series and instance UIDs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pydicom
from pydicom.uid import generate_uid

from tests.conftest import TEST_FILES

NAMES = ("Quixworth^Percival", "Fennimore^Odalys", "Brackenbury^Thaddeus", "Wolstenholme^Euphemia")


@dataclass(frozen=True)
class Planted:
    path: Path
    patient_id: str
    name: str
    birth_date: str
    study_uid: str


def make_export(folder: Path, patient_ids: list[str]) -> list[Planted]:
    """``folder/IM0001``... one instance per patient id, in order."""
    folder.mkdir(parents=True, exist_ok=True)
    planted = []
    for i, pid in enumerate(patient_ids, start=1):
        ds = pydicom.dcmread(TEST_FILES / "CT_small.dcm")
        name = NAMES[(i - 1) % len(NAMES)]
        ds.PatientID, ds.PatientName, ds.PatientBirthDate = pid, name, f"19{50 + i:02d}0{i}1{i}"
        ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
        ds.SOPInstanceUID = generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.StudyDate = ds.SeriesDate = ds.AcquisitionDate = ds.ContentDate = f"2019010{i}"
        path = folder / f"IM{i:04d}"
        ds.save_as(path)
        planted.append(Planted(path, pid, name, ds.PatientBirthDate, ds.StudyInstanceUID))
    return planted


__all__ = ["NAMES", "Planted", "make_export"]
