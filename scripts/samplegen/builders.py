"""Instances with planted PHI: identity, private blocks, series from templates, a Comprehensive
SR, free-text comments, and their Part 10 encoding."""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from io import BytesIO
from pathlib import Path

from pydicom import Dataset, dcmwrite
from pydicom.dataset import FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, UID, ComprehensiveSRStorage

from samplegen.identities import _GIVEN, _Patient
from samplegen.records import PlantedItem, _Recorder

PHI_PRIVATE_CREATOR = "ACME PHI 1.0"  # not in PS3.15 Table E.3.10-1: must be removed
SAFE_PRIVATE_CREATOR = "Philips PET Private Group"  # Table E.3.10-1 row 1: (7053,xx00) DS


def _code(value: str, scheme: str, meaning: str) -> Dataset:
    ds = Dataset()
    ds.CodeValue, ds.CodingSchemeDesignator, ds.CodeMeaning = value, scheme, meaning
    return ds


def _ref(sop_class: str, sop_instance: str) -> Dataset:
    ds = Dataset()
    ds.ReferencedSOPClassUID, ds.ReferencedSOPInstanceUID = sop_class, sop_instance
    return ds


@dataclass(slots=True)
class _Study:
    patient: _Patient
    number: int
    day: date
    time: str
    description: str
    accession: str
    study_id: str
    procedure_id: str
    step_id: str
    prior_uid: str | None = None

    @property
    def uid(self) -> str:
        return f"{self.patient.uid_base}.1.{self.number}"

    @property
    def da(self) -> str:
        return self.day.strftime("%Y%m%d")

    @property
    def folder(self) -> str:
        return f"{self.da}_{self.description.replace(' ', '_')}"



def _plant_identity(ds: Dataset, st: _Study, rec: _Recorder, *, series_desc: str) -> None:
    """Patient, study, series and equipment identity: the same on every instance of a study."""
    p, r = st.patient, rec.plant
    ds.PatientName = r(p, "name", "PatientName", p.name)
    ds.PatientID = r(p, "id", "PatientID", p.mrn)
    ds.PatientBirthDate = r(p, "date", "PatientBirthDate", p.birth.strftime("%Y%m%d"))
    ds.PatientSex = "F" if p.given in _GIVEN[::2] else "M"
    ds.PatientAddress = r(p, "address", "PatientAddress", p.address)
    ds.PatientTelephoneNumbers = r(p, "phone", "PatientTelephoneNumbers", p.phone)
    ds.PatientMotherBirthName = r(p, "name", "PatientMotherBirthName", p.mother)
    other = Dataset()
    other.PatientID = r(p, "id", "OtherPatientIDsSequence[0].PatientID", p.other_id)
    other.IssuerOfPatientID = r(
        p,
        "institution",
        "OtherPatientIDsSequence[0].IssuerOfPatientID",
        p.institution.replace("Hospital", "Clinic"),
    )
    other.TypeOfPatientID = "TEXT"
    ds.OtherPatientIDsSequence = Sequence([other])
    ds.AdditionalPatientHistory = r(
        p,
        "free_text",
        "AdditionalPatientHistory",
        f"Hx per {p.surname.title()}, {p.given.title()}, DOB {p.birth.strftime('%m/%d/%Y')}, "
        f"{p.mrn}; mother {p.mother.split('^')[0].title()} can be reached on {p.phone}.",
    )
    r(p, "name", "AdditionalPatientHistory", f"{p.surname.title()}, {p.given.title()}")
    r(p, "date", "AdditionalPatientHistory", p.birth.strftime("%m/%d/%Y"))
    r(p, "id", "AdditionalPatientHistory", p.mrn)
    r(p, "phone", "AdditionalPatientHistory", p.phone)
    r(p, "name", "AdditionalPatientHistory", p.mother.split("^")[0].title())
    patient_ref = _ref("1.2.840.10008.3.1.2.1.1", f"{p.uid_base}.9")  # Detached Patient Mgmt
    rec.uids.add(patient_ref.ReferencedSOPInstanceUID)
    ds.ReferencedPatientSequence = Sequence([patient_ref])
    # study
    ds.StudyInstanceUID = r(p, "uid", "StudyInstanceUID", st.uid)
    rec.uids.add(st.uid)
    ds.StudyDate = r(p, "date", "StudyDate", st.da)
    ds.StudyTime = r(p, "time", "StudyTime", st.time)
    ds.AccessionNumber = r(p, "id", "AccessionNumber", st.accession)
    ds.StudyID = r(p, "id", "StudyID", st.study_id)
    ds.StudyDescription = r(
        p, "free_text", "StudyDescription", f"{st.description} - {p.surname}, {p.given}"
    )
    r(p, "name", "StudyDescription", f"{p.surname}, {p.given}")
    ds.ReferringPhysicianName = r(p, "name", "ReferringPhysicianName", p.referring)
    req = Dataset()
    req.RequestedProcedureID = r(
        p, "id", "RequestAttributesSequence[0].RequestedProcedureID", st.procedure_id
    )
    req.AccessionNumber = r(p, "id", "RequestAttributesSequence[0].AccessionNumber", st.accession)
    req.ScheduledProcedureStepID = r(
        p, "id", "RequestAttributesSequence[0].ScheduledProcedureStepID", st.step_id
    )
    ds.RequestAttributesSequence = Sequence([req])
    if st.prior_uid is not None:
        ds.ReferencedStudySequence = Sequence([_ref("1.2.840.10008.3.1.2.3.1", st.prior_uid)])
    # series, equipment
    ds.SeriesDate = r(p, "date", "SeriesDate", st.da)
    ds.ContentDate = r(p, "date", "ContentDate", st.da)
    ds.SeriesDescription = r(
        p, "free_text", "SeriesDescription", f"{series_desc} {p.given.lower()} {p.surname.lower()}"
    )
    r(p, "name", "SeriesDescription", f"{p.given.lower()} {p.surname.lower()}")
    ds.OperatorsName = r(p, "name", "OperatorsName", p.operator)
    ds.PerformingPhysicianName = r(p, "name", "PerformingPhysicianName", p.performing)
    ds.InstitutionName = r(p, "institution", "InstitutionName", p.institution)
    ds.InstitutionAddress = r(p, "institution", "InstitutionAddress", p.institution_address)
    ds.StationName = r(p, "device", "StationName", p.station)
    ds.DeviceSerialNumber = r(p, "device", "DeviceSerialNumber", p.serial)


def _plant_private(ds: Dataset, p: _Patient, rec: _Recorder) -> None:
    block = ds.private_block(0x0029, PHI_PRIVATE_CREATOR, create=True)
    block.add_new(0x10, "LO", rec.plant(p, "private", '(0029,xx10,"ACME PHI 1.0")', p.name))
    block.add_new(0x11, "LO", rec.plant(p, "private", '(0029,xx11,"ACME PHI 1.0")', p.mrn))
    safe = ds.private_block(0x7053, SAFE_PRIVATE_CREATOR, create=True)
    safe.add_new(0x00, "DS", "2.4531")  # SUV factor
    rec.safe[
        PlantedItem("2.4531", "safe_private", '(7053,xx00,"Philips PET Private Group")', p.label)
    ] = None


@dataclass(slots=True)
class _Series:
    """Instances of one series, built from a template; ``paths`` gives their PACS-style names."""

    study: _Study
    number: int
    template: tuple[Dataset, UID]
    description: str
    count: int = 1
    modality: str | None = None
    frame_of_reference: str | None = None
    suffix: str = ""
    datasets: list[Dataset] = field(default_factory=list)

    @property
    def uid(self) -> str:
        return f"{self.study.uid}.{self.number}"

    def build(self, rec: _Recorder, *, private: bool = False) -> list[Dataset]:
        base, _ = self.template
        p = self.study.patient
        for i in range(1, self.count + 1):
            ds = copy.deepcopy(base)
            if self.modality:
                ds.Modality = self.modality
            _plant_identity(ds, self.study, rec, series_desc=self.description)
            ds.SeriesInstanceUID = self.uid
            ds.SeriesNumber = self.number
            ds.SOPInstanceUID = f"{self.uid}.{i}"
            ds.InstanceNumber = i
            ds.AcquisitionDateTime = rec.plant(
                p, "date", "AcquisitionDateTime", self.study.da + self.study.time
            )
            if self.frame_of_reference:
                ds.FrameOfReferenceUID = self.frame_of_reference
                rec.uids.add(self.frame_of_reference)
            if "ImagePositionPatient" in ds and self.count > 1:
                x, y, z = ds.ImagePositionPatient
                ds.ImagePositionPatient = [x, y, round(float(z) + 5.0 * (i - 1), 4)]
                ds.SliceLocation = round(float(z) + 5.0 * (i - 1), 4)
            if private:
                _plant_private(ds, p, rec)
            rec.uids.update((self.uid, ds.SOPInstanceUID))
            self.datasets.append(ds)
        return self.datasets

    def paths(self, root: Path) -> list[Path]:
        p = self.study.patient
        folder = root / p.folder / self.study.folder / str(self.number)
        return [
            folder / f"IM{i:04d}{self.suffix if i % 2 else ''}"
            for i in range(1, len(self.datasets) + 1)
        ]


def _file_meta(ds: Dataset, ts: str) -> FileMetaDataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = UID(ts)
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    meta.ImplementationVersionName = "MAKE_SAMPLE_1"
    return meta


def _encode(ds: Dataset, ts: str) -> bytes:
    ds.file_meta = _file_meta(ds, ts)
    buf = BytesIO()
    dcmwrite(buf, ds, enforce_file_format=True)
    return buf.getvalue()


def _write(path: Path, data: bytes, rec: _Recorder | None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    if rec is not None:
        rec.files.append(path)


def _make_sr(study: _Study, number: int, evidence: list[Dataset], rec: _Recorder) -> Dataset:
    """Comprehensive SR with PHI in a TEXT and a PNAME content item, evidence = ``evidence``."""
    p, r = study.patient, rec.plant
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.SOPClassUID = ComprehensiveSRStorage
    ds.Modality = "SR"
    ds.Manufacturer = "ACME Reporting"
    _plant_identity(ds, study, rec, series_desc="Radiology report")
    ds.SeriesInstanceUID = f"{study.uid}.{number}"
    ds.SOPInstanceUID = f"{ds.SeriesInstanceUID}.1"
    rec.uids.update((ds.SeriesInstanceUID, ds.SOPInstanceUID))
    ds.SeriesNumber, ds.InstanceNumber = number, 1
    report_day = (study.day + timedelta(days=1)).strftime("%Y%m%d")
    ds.ContentDate = r(p, "date", "ContentDate", report_day)
    ds.ContentTime = "091500"
    ds.ReferencedPerformedProcedureStepSequence = Sequence()
    ds.CompletionFlag, ds.VerificationFlag = "COMPLETE", "VERIFIED"
    observer = Dataset()
    observer.VerifyingObserverName = r(
        p, "name", "VerifyingObserverSequence[0].VerifyingObserverName", p.referring
    )
    observer.VerifyingObserverIdentificationCodeSequence = Sequence()
    observer.VerifyingOrganization = r(
        p, "institution", "VerifyingObserverSequence[0].VerifyingOrganization", p.institution
    )
    observer.VerificationDateTime = r(
        p, "date", "VerifyingObserverSequence[0].VerificationDateTime", report_day + "101500"
    )
    ds.VerifyingObserverSequence = Sequence([observer])
    ds.PerformedProcedureCodeSequence = Sequence()
    by_series: dict[str, list[Dataset]] = {}
    for img in evidence:
        by_series.setdefault(img.SeriesInstanceUID, []).append(img)
    series_items = []
    for series_uid, imgs in by_series.items():
        item = Dataset()
        item.SeriesInstanceUID = series_uid
        item.ReferencedSOPSequence = Sequence([_ref(i.SOPClassUID, i.SOPInstanceUID) for i in imgs])
        series_items.append(item)
    ev = Dataset()
    ev.StudyInstanceUID = study.uid
    ev.ReferencedSeriesSequence = Sequence(series_items)
    ds.CurrentRequestedProcedureEvidenceSequence = Sequence([ev])
    ds.ValueType, ds.ContinuityOfContent = "CONTAINER", "SEPARATE"
    ds.ConceptNameCodeSequence = Sequence([_code("18748-4", "LN", "Diagnostic Imaging Report")])
    observer_item = Dataset()
    observer_item.RelationshipType, observer_item.ValueType = "HAS OBS CONTEXT", "PNAME"
    observer_item.ConceptNameCodeSequence = Sequence(
        [_code("121008", "DCM", "Person Observer Name")]
    )
    observer_item.PersonName = r(p, "name", "ContentSequence[0].PersonName", p.performing)
    text = Dataset()
    text.RelationshipType, text.ValueType = "CONTAINS", "TEXT"
    text.ConceptNameCodeSequence = Sequence([_code("121071", "DCM", "Finding")])
    text.TextValue = r(
        p,
        "free_text",
        "ContentSequence[1].TextValue",
        f"{p.given.title()} {p.surname.title()} ({p.mrn}) seen at {p.institution}: no acute "
        f"finding. Results phoned to {p.phone} and e-mailed to {p.email}.",
    )
    r(p, "name", "ContentSequence[1].TextValue", f"{p.given.title()} {p.surname.title()}")
    r(p, "email", "ContentSequence[1].TextValue", p.email)
    image = Dataset()
    image.RelationshipType, image.ValueType = "CONTAINS", "IMAGE"
    image.ConceptNameCodeSequence = Sequence(
        [_code("121080", "DCM", "Best illustration of finding")]
    )
    image.ReferencedSOPSequence = Sequence(
        [_ref(evidence[0].SOPClassUID, evidence[0].SOPInstanceUID)]
    )
    ds.ContentSequence = Sequence([observer_item, text, image])
    return ds


def _free_text_comment(ds: Dataset, p: _Patient, rec: _Recorder) -> None:
    r = rec.plant
    ds.ImageComments = r(
        p,
        "free_text",
        "ImageComments",
        f"pt {p.given.lower()} {p.surname.lower()} {p.mrn} - call {p.phone} or {p.email} with results",
    )
    r(p, "name", "ImageComments", f"{p.given.lower()} {p.surname.lower()}")
    r(p, "id", "ImageComments", p.mrn)
    r(p, "phone", "ImageComments", p.phone)
    r(p, "email", "ImageComments", p.email)



def _new_study(rng: random.Random, p: _Patient, number: int, day: date, desc: str) -> _Study:
    time = f"{rng.randrange(7, 19):02d}{rng.randrange(60):02d}{rng.randrange(60):02d}.{rng.randrange(10**6):06d}"
    return _Study(
        patient=p,
        number=number,
        day=day,
        time=time,
        description=desc,
        accession=f"ACC{rng.randrange(10**6, 10**7)}",
        study_id=f"STU{rng.randrange(10**6, 10**7)}",
        procedure_id=f"RPQ{rng.randrange(10**5, 10**6)}",
        step_id=f"SPS{rng.randrange(10**5, 10**6)}",
    )


def _link(ds: Dataset, keyword: str, target: Dataset) -> None:
    setattr(ds, keyword, Sequence([_ref(target.SOPClassUID, target.SOPInstanceUID)]))
