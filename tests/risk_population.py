"""A synthetic population written as small DICOM files (4x4 CT images) for the risk tests.

Each planted patient is a ``Person`` with the values the tests reason about; everything else is
fixed.  The expected answers are worked out in the tests from these planted values."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian

ROOT = "1.2.826.0.1.3680043.9.7433.77"


@dataclass(frozen=True, slots=True)
class Person:
    label: str
    sex: str = "F"
    age: int | None = None
    study_date: str = "20190315"
    size: str | None = None
    weight: str | None = None
    model: str = "RHAPSODE"
    instances: int = 2


def write_population(folder: Path, people: list[Person]) -> int:
    """One study of ``instances`` CT images per person; returns the number of files written."""
    written = 0
    for p_index, person in enumerate(people, start=1):
        for i in range(1, person.instances + 1):
            ds = Dataset()
            ds.SOPClassUID = CTImageStorage
            ds.SOPInstanceUID = f"{ROOT}.{p_index}.1.1.{i}"
            ds.StudyInstanceUID = f"{ROOT}.{p_index}.1"
            ds.SeriesInstanceUID = f"{ROOT}.{p_index}.1.1"
            ds.PatientName = f"PLANTED^{person.label}"
            ds.PatientID = f"MRN-{person.label}"
            ds.PatientBirthDate = "19500101"
            ds.PatientSex = person.sex
            if person.age is not None:
                ds.PatientAge = f"{person.age:03d}Y"
            if person.size is not None:
                ds.PatientSize = person.size
            if person.weight is not None:
                ds.PatientWeight = person.weight
            ds.StudyDate = ds.SeriesDate = ds.ContentDate = person.study_date
            ds.StudyTime = "101500"
            ds.AccessionNumber = f"ACC{p_index:04d}"
            ds.StudyID = "1"
            ds.Modality = "CT"
            ds.Manufacturer = "GE MEDICAL SYSTEMS"
            ds.ManufacturerModelName = person.model
            ds.SeriesNumber = 1
            ds.InstanceNumber = i
            ds.ReferringPhysicianName = ""
            ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
            ds.Rows = ds.Columns = 4
            ds.SamplesPerPixel = 1
            ds.PhotometricInterpretation = "MONOCHROME2"
            ds.BitsAllocated = ds.BitsStored = 16
            ds.HighBit = 15
            ds.PixelRepresentation = 0
            ds.PixelData = bytes(range(32))
            ds.file_meta = FileMetaDataset()
            ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
            ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
            ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
            path = folder / person.label / f"IM{i:04d}.dcm"
            path.parent.mkdir(parents=True, exist_ok=True)
            ds.save_as(path, enforce_file_format=True)
            written += 1
    return written
