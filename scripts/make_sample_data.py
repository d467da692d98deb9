"""Generate a synthetic PACS export full of planted, fake PHI.

Usage::

    python scripts/make_sample_data.py OUT_DIR [--patients N] [--seed S] [--no-bad-inputs]
    python scripts/make_sample_data.py OUT_DIR --bench-files 2000 [--seed S]

Every instance re-uses the pixel data and technical attributes of a file bundled with pydicom
(``pydicom/data/test_files``); identity, dates, UIDs and references are replaced by synthetic
values. Everything planted is recorded as a ``PlantedItem`` so that tests can check that none of
it survives de-identification (``tests/planted.py`` re-exports this module's API).

The output is a pure function of ``(seed, patients)`` or ``(seed, bench files)``: running twice
gives identical bytes. No network, no randomness outside ``random.Random(seed)``.
"""

from __future__ import annotations

import argparse
import copy
import random
import re
import shutil
import struct
import sys
import zipfile
import zlib
from dataclasses import dataclass, field
from datetime import date, timedelta
from io import BytesIO
from pathlib import Path

import pydicom
import pydicom.data
from pydicom import Dataset, dcmread, dcmwrite
from pydicom.dataset import FileMetaDataset
from pydicom.fileset import FileSet
from pydicom.sequence import Sequence
from pydicom.uid import (
    PYDICOM_IMPLEMENTATION_UID,
    UID,
    ComprehensiveSRStorage,
    ExplicitVRLittleEndian,
)

__all__ = [
    "BUNDLED_DIR",
    "PHI_PRIVATE_CREATOR",
    "SAFE_PRIVATE_CREATOR",
    "TEMPLATE_FILES",
    "UID_ROOT",
    "Corpus",
    "PlantedItem",
    "generate_bench",
    "generate_corpus",
    "main",
    "make_bad_inputs",
]

BUNDLED_DIR = Path(pydicom.data.__file__).parent / "test_files"
UID_ROOT = "1.2.826.0.1.3680043.9.7433."  # made-up organisation root; original UIDs start here
PHI_PRIVATE_CREATOR = "ACME PHI 1.0"  # not in PS3.15 Table E.3.10-1: must be removed
SAFE_PRIVATE_CREATOR = "Philips PET Private Group"  # Table E.3.10-1 row 1: (7053,xx00) DS
#: the bundled files whose pixel data and technical attributes are re-used
# fmt: off
TEMPLATE_FILES = {"CT": "CT_small.dcm", "MR": "MR_small.dcm", "MR_RLE": "MR_small_RLE.dcm",
                  "MR_BE": "MR_small_bigendian.dcm", "DFL": "image_dfl.dcm",
                  "US": "examples_rgb_color.dcm", "SC": "SC_rgb_rle_2frame.dcm",
                  "RTDOSE": "rtdose.dcm"}
# fmt: on

# --------------------------------------------------------------------------- reference table


@dataclass(frozen=True, slots=True)
class PlantedItem:
    """One planted value. ``keyword_or_location`` is a keyword, a tag path such as
    ``RequestAttributesSequence[0].AccessionNumber`` or ``(0029,xx10,"ACME PHI 1.0")``, or
    ``path`` (the value is part of a file or folder name under the corpus root).
    For free text the value is a substring of the element value; otherwise it is equal to it."""

    value: str
    category: str
    keyword_or_location: str
    patient: str


@dataclass(frozen=True, slots=True)
class Corpus:
    root: Path
    planted: tuple[PlantedItem, ...]
    dicom_files: tuple[Path, ...]
    bad_files: dict[str, Path]
    non_dicom: tuple[Path, ...]
    zip_files: tuple[Path, ...]
    dicomdir: Path | None
    original_uids: frozenset[str]
    #: non-PHI values in safe private attributes (kept by the Retain Safe Private Option)
    safe_private: tuple[PlantedItem, ...]
    #: patient label ("P1", ...) -> original PatientID
    patients: dict[str, str]

    def phi_strings(
        self, min_len: int = 4, *, categories: frozenset[str] | None = None
    ) -> frozenset[str]:
        """Every planted string, in the raw forms written, that must not appear in an output.

        Person names, addresses and institutions are also split into their components
        ("QUIXBERRY^HORTENSE" gives "QUIXBERRY" and "HORTENSE"). ``categories`` restricts the
        items used (for example leave out ``"time"`` when an option retains times).
        """
        found: set[str] = set()
        for item in self.planted:
            if categories is not None and item.category not in categories:
                continue
            found.add(item.value)
            if item.category in {"name", "address", "institution", "private"}:
                found.update(p.strip() for p in re.split(r"[\^,_]", item.value))
                if item.category == "name":
                    found.update(re.split(r"[\^, ]+", item.value))
        return frozenset(s for s in found if len(s) >= min_len)


# --------------------------------------------------------------------------- identities

# Distinctive fake values: none of them occurs in pydicom's bundled files or DICOM vocabulary
# (tests/test_sample_data.py checks the bundled bytes).
# fmt: off
_SURNAME_HEADS = ("QUIX", "ZANV", "VORTH", "KLEB", "JUXT", "WOBB", "GRUMB", "PLOV", "SNAZ", "BRIX",
                  "TRUFF", "YOLL", "MIZZ", "DRAX", "HOBB", "FENN", "SKRIM", "ZUBB", "QUORM", "NIBB")
_SURNAME_TAILS = ("BERRY", "ELLOW", "WHISTLE", "STRAND", "IKOV", "OPOULOS", "MERE", "THWAITE",
                  "GARD", "LOCKE", "WORTH", "SBURY")
_GIVEN = ("HORTENSE", "EULALIA", "PERPETUA", "OSWIN", "THADDEUS", "WILHELMINA", "BARNABY",
          "CLEMENTINE", "EZEKIEL", "GWENDOLYN", "PERCIVAL", "MARIGOLD", "AMBROSE", "LAVINIA",
          "CORNELIUS", "ROSAMUND", "FLORIAN", "PETRONELLA", "LEOPOLD", "OTTILIE")
_TOWNS = ("Quarrytown", "Vellmoor", "Brackwater", "Zennorby", "Hollowfen", "Gristlebury",
          "Ashkettle", "Dunmarrow", "Pellingford", "Oxbrindle")
_STREETS = ("Wobblestone Lane", "Fennimore Road", "Cobbler's Rise", "Tanglewick Close",
            "Marrowgate Street", "Puddleby Row")
# fmt: on


@dataclass(frozen=True, slots=True)
class _Patient:
    label: str
    surname: str
    given: str
    mrn: str
    other_id: str
    birth: date
    address: str
    phone: str
    email: str
    mother: str
    referring: str
    performing: str
    operator: str
    institution: str
    institution_address: str
    station: str
    serial: str
    uid_base: str

    @property
    def name(self) -> str:
        return f"{self.surname}^{self.given}"

    @property
    def folder(self) -> str:
        return f"{self.surname}_{self.given}"


def _make_patients(rng: random.Random, count: int, seed: int) -> list[_Patient]:
    surnames = [h + t for h in _SURNAME_HEADS for t in _SURNAME_TAILS]
    if count < 1 or 5 * count > len(surnames):
        raise ValueError(f"patients must be between 1 and {len(surnames) // 5}, got {count}")
    if not 0 <= seed < 10**9:
        raise ValueError(f"seed must be between 0 and 999999999, got {seed}")
    picked = rng.sample(surnames, 5 * count)
    out = []
    for i in range(count):
        surname, mother, ref, perf, op = picked[5 * i : 5 * i + 5]
        given = rng.choice(_GIVEN)
        town, itown = rng.sample(_TOWNS, 2)
        digits = rng.randrange(10**6, 10**7)
        out.append(
            _Patient(
                label=f"P{i + 1}",
                surname=surname,
                given=given,
                mrn=f"MRN{digits}",
                other_id=f"OPX{rng.randrange(10**5, 10**6)}",
                birth=date(1938, 1, 1) + timedelta(days=rng.randrange(0, 57 * 365)),
                address=f"{rng.randrange(10, 9999)} {rng.choice(_STREETS)}, {town}, "
                f"ZX {rng.randrange(10**4, 10**5)}",
                phone=f"(555) {rng.randrange(100, 1000)}-{rng.randrange(1000, 10000)}",
                email=f"{given.lower()}.{surname.lower()}@{town.lower()}-mail.example",
                mother=f"{mother}^{rng.choice(_GIVEN)}",
                referring=f"{ref}^{rng.choice(_GIVEN)}^^^DR",
                performing=f"{perf}^{rng.choice(_GIVEN)}",
                operator=f"{op}^{rng.choice(_GIVEN)}",
                institution=f"{itown} Memorial Hospital",
                institution_address=f"{rng.randrange(1, 200)} {rng.choice(_STREETS)}, {itown}",
                station=f"{itown[:4].upper()}{rng.randrange(10, 99)}CT",
                serial=f"SN-QX-{rng.randrange(10**5, 10**6)}",
                uid_base=f"{UID_ROOT}1.{seed}.{i + 1}",
            )
        )
    return out


# --------------------------------------------------------------------------- templates

_DROP_GROUPS = {0x0010, 0x0032, 0x0038, 0x0040, 0x300C, 0xFFFC}
_DROP_VRS = {"DA", "TM", "DT", "PN", "UI", "LT", "ST", "UT", "SQ", "AS"}
_KEEP_0008 = {"SpecificCharacterSet", "ImageType", "Modality", "Manufacturer",
              "ManufacturerModelName", "ConversionType"}  # fmt: skip
_DROP_KEYWORDS = {"StudyID", "DeviceSerialNumber"}


def _load_template(name: str) -> tuple[Dataset, UID]:
    """A bundled file stripped of identity, dates, UIDs, sequences and private elements."""
    src = dcmread(BUNDLED_DIR / name)
    ts = src.file_meta.TransferSyntaxUID
    ds = Dataset()
    for elem in src:
        kw = elem.keyword
        drop = (
            elem.tag.is_private
            or elem.tag.group in _DROP_GROUPS
            or (elem.VR in _DROP_VRS and kw != "SOPClassUID")
            or (elem.tag.group == 0x0008 and kw not in _KEEP_0008 and kw != "SOPClassUID")
            or kw in _DROP_KEYWORDS
        )
        if not drop:
            ds.add(elem)
    ds.SpecificCharacterSet = "ISO_IR 100"
    return ds, ts


def _templates() -> dict[str, tuple[Dataset, UID]]:
    return {key: _load_template(name) for key, name in TEMPLATE_FILES.items()}


# --------------------------------------------------------------------------- building instances


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


@dataclass(slots=True)
class _Recorder:
    """Collects planted items, UIDs and written paths while a corpus is built."""

    planted: dict[PlantedItem, None] = field(default_factory=dict)
    safe: dict[PlantedItem, None] = field(default_factory=dict)
    uids: set[str] = field(default_factory=set)
    files: list[Path] = field(default_factory=list)

    def plant(self, patient: _Patient, category: str, location: str, value: str) -> str:
        self.planted[PlantedItem(value, category, location, patient.label)] = None
        return value


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


# --------------------------------------------------------------------------- corpus


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


def _build_patient(
    rng: random.Random,
    p: _Patient,
    tpl: dict[str, tuple[Dataset, UID]],
    rec: _Recorder,
    *,
    second_study: bool,
    zip_study: bool,
) -> tuple[list[tuple[Path, Dataset, str]], list[tuple[Path, Dataset, str]]]:
    """Build one patient's instances as (relative path, dataset, transfer syntax).

    Returns (folder instances, instances for the zip export)."""
    day1 = date(2019, 1, 1) + timedelta(days=rng.randrange(0, 5 * 365))
    st1 = _new_study(rng, p, 1, day1, "CT CHEST W CONTRAST")
    out: list[tuple[Path, Dataset, str]] = []

    def add(series: _Series, datasets: list[Dataset]) -> None:
        ts = series.template[1]
        out.extend((path, ds, ts) for path, ds in zip(series.paths(Path()), datasets, strict=True))

    ct = _Series(st1, 1, tpl["CT"], "AXIAL 5MM", count=3, frame_of_reference=f"{st1.uid}.0.1")
    slices = ct.build(rec, private=True)
    _free_text_comment(slices[0], p, rec)
    for ds in slices[1:]:
        _link(ds, "ReferencedImageSequence", slices[0])
    add(ct, slices)
    dose = _Series(st1, 2, tpl["RTDOSE"], "DOSE", frame_of_reference=ct.frame_of_reference)
    add(dose, dose.build(rec))
    sc = _Series(st1, 3, tpl["SC"], "KEY IMAGES", modality="OT", suffix=".dcm")
    (key_image,) = sc.build(rec)
    _link(key_image, "SourceImageSequence", slices[1])
    add(sc, [key_image])
    sr = _make_sr(st1, 4, [*slices, key_image], rec)
    out.append((Path(p.folder, st1.folder, "4", "IM0001"), sr, ExplicitVRLittleEndian))
    if second_study:
        day2 = day1 + timedelta(days=rng.randrange(30, 400))
        st2 = _new_study(rng, p, 2, day2, "MR BRAIN WO")
        st2.prior_uid = st1.uid
        mr = _Series(
            st2, 1, tpl["MR"], "AX T2", count=3, frame_of_reference=f"{st2.uid}.0.1", suffix=".dcm"
        )
        mr_slices = mr.build(rec)
        add(mr, mr_slices)
        rle = _Series(st2, 2, tpl["MR_RLE"], "AX T2 RLE", frame_of_reference=mr.frame_of_reference)
        rle_ds = rle.build(rec)
        _link(rle_ds[0], "ReferencedImageSequence", mr_slices[0])
        add(rle, rle_ds)
        for number, key, desc, modality in (
            (3, "MR_BE", "AX T2 BE", None),
            (4, "DFL", "SCREEN SAVE", "OT"),
            (5, "US", "US ABDOMEN", None),
        ):
            series = _Series(st2, number, tpl[key], desc, modality=modality, suffix=".dcm")
            add(series, series.build(rec))
    zipped: list[tuple[Path, Dataset, str]] = []
    if zip_study:
        st3 = _new_study(rng, p, 3, day1 - timedelta(days=rng.randrange(30, 700)), "CT HEAD WO")
        head = _Series(
            st3, 1, tpl["CT"], "AXIAL 2.5MM", count=2, frame_of_reference=f"{st3.uid}.0.1"
        )
        head_ds = head.build(rec, private=True)
        zipped.extend(
            (path, ds, tpl["CT"][1]) for path, ds in zip(head.paths(Path()), head_ds, strict=True)
        )
    return out, zipped


def _zip(path: Path, members: list[tuple[Path, Dataset, str]]) -> None:
    with zipfile.ZipFile(path, "w") as zf:
        for rel, ds, ts in members:
            info = zipfile.ZipInfo(rel.as_posix(), date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, _encode(ds, ts))


def _png(width: int = 32, height: int = 32) -> bytes:
    """A tiny grey gradient PNG (a non-DICOM thumbnail)."""
    rows = b"".join(b"\x00" + bytes((x * 8 + y) % 256 for x in range(width)) for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(rows, 9))
        + chunk(b"IEND", b"")
    )


_README = """Synthetic PACS export written by scripts/make_sample_data.py.
All names, IDs, dates, addresses and UIDs are fake. Do not use as real data.
"""


def _prepare(out_dir: Path) -> Path:
    """Create ``out_dir`` (replacing an earlier output of this script) and write its README."""
    readme = out_dir / "README.txt"
    if out_dir.exists() and any(out_dir.iterdir()):
        if not (readme.is_file() and readme.read_bytes() == _README.encode("ascii")):
            raise FileExistsError(
                f"{out_dir}: folder is not empty and was not written by this script; "
                "choose a new or empty folder"
            )
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    readme.write_bytes(_README.encode("ascii"))
    return readme


def generate_corpus(
    out_dir: Path, seed: int = 0, patients: int = 3, bad_inputs: bool = False
) -> Corpus:
    """Write the sample export under ``out_dir`` and return what was planted where.

    Patient P1 holds every kind of instance; P2 has one study in folders and one in a zip file;
    the last patient (when there are 3 or more) is written as DICOMDIR media."""
    out_dir = Path(out_dir)
    readme = _prepare(out_dir)
    rng = random.Random(seed)
    people = _make_patients(rng, patients, seed)
    tpl = _templates()
    rec = _Recorder()
    zip_files: list[Path] = []
    dicomdir: Path | None = None
    for i, p in enumerate(people):
        media = patients >= 3 and i == patients - 1
        folder_items, zipped = _build_patient(
            rng, p, tpl, rec, second_study=i % 3 != 1, zip_study=i == 1 % patients
        )
        if media:
            dicomdir = _write_media(out_dir / f"{p.folder}_CD", folder_items, p, rec)
        else:
            for rel, ds, ts in folder_items:
                _write(out_dir / rel, _encode(ds, ts), rec)
                rec.plant(p, "path", "path", rel.parts[0])
                rec.plant(p, "path", "path", rel.parts[1])
        if zipped:
            zpath = out_dir / f"{p.folder}_{zipped[0][1].StudyDate}.zip"
            _zip(zpath, zipped)
            zip_files.append(zpath)
            rec.plant(p, "path", "path", zpath.name)
            rec.plant(p, "path", "path", zipped[0][0].parts[1])  # member names
    non_dicom = [readme, out_dir / people[0].folder / "thumbnail.png"]
    non_dicom[1].parent.mkdir(parents=True, exist_ok=True)
    non_dicom[1].write_bytes(_png())
    patient_ids = {p.label: p.mrn for p in people}
    bad: dict[str, Path] = {}
    if bad_inputs:
        bad = _make_bad_inputs(out_dir / "UNSORTED", rec)
        patient_ids[_BAD_LABEL] = _bad_patient().mrn
    return Corpus(
        root=out_dir,
        planted=tuple(rec.planted),
        dicom_files=tuple(rec.files),
        bad_files=bad,
        non_dicom=tuple(non_dicom),
        zip_files=tuple(zip_files),
        dicomdir=dicomdir,
        original_uids=frozenset(rec.uids),
        safe_private=tuple(rec.safe),
        patients=patient_ids,
    )


def _write_media(
    root: Path, items: list[tuple[Path, Dataset, str]], p: _Patient, rec: _Recorder
) -> Path:
    """One patient's studies as DICOMDIR media (PTxxxxxx/STxxxxxx/SExxxxxx/IMxxxxxx)."""
    fs = FileSet()
    fs.ID = "EXPORT1"
    fs.UID = UID(f"{p.uid_base}.8")
    rec.uids.add(fs.UID)
    for _rel, ds, ts in items:
        ds.file_meta = _file_meta(ds, ts)
        fs.add(ds)
    fs.write(root)
    rec.files.extend(Path(inst.path) for inst in fs)
    rec.plant(p, "path", "path", p.folder)
    return root / "DICOMDIR"


# --------------------------------------------------------------------------- bad inputs

_BAD_LABEL = "BAD"


def _bad_patient() -> _Patient:
    (p,) = _make_patients(random.Random("bad-inputs"), 1, 0)
    return _Patient(
        **{
            **{f: getattr(p, f) for f in p.__dataclass_fields__},
            "label": _BAD_LABEL,
            "uid_base": f"{UID_ROOT}2.1",
        }
    )


def _make_bad_inputs(directory: Path, rec: _Recorder) -> dict[str, Path]:
    p = _bad_patient()
    rng = random.Random("bad-inputs-study")
    st = _new_study(rng, p, 1, date(2021, 6, 7), "CT ABDOMEN")
    series = _Series(st, 1, _load_template(TEMPLATE_FILES["CT"]), "AXIAL", count=2)
    first, second = series.build(rec, private=True)
    directory.mkdir(parents=True, exist_ok=True)
    full = _encode(first, ExplicitVRLittleEndian)
    pixel_at = full.index(b"\xe0\x7f\x10\x00")  # (7FE0,0010) element header
    name_end = full.index(p.name.encode()) + len(p.name)
    raw = BytesIO()
    second.file_meta = FileMetaDataset()
    dcmwrite(raw, second, implicit_vr=True, little_endian=True)  # no preamble, no file meta
    paths = {
        "empty": directory / "IM0000.dcm",
        "truncated": directory / "IM0001",  # cut inside Pixel Data
        "truncated_header": directory / "IM0002",  # cut inside an element header
        "garbage": directory / "IM0003.dcm",
        "no_preamble": directory / "IM0004",  # raw Implicit VR dataset, no preamble/file meta
    }
    paths["empty"].write_bytes(b"")
    paths["truncated"].write_bytes(full[: pixel_at + 12 + 1000])
    paths["truncated_header"].write_bytes(full[: name_end + 3])
    paths["garbage"].write_bytes(random.Random("garbage").randbytes(2048))
    paths["no_preamble"].write_bytes(raw.getvalue())
    return paths


def make_bad_inputs(directory: Path) -> dict[str, Path]:
    """Write inputs that a pipeline must skip or quarantine; returns name -> path.

    ``empty`` (0 bytes), ``truncated`` (Part 10 file cut inside Pixel Data), ``truncated_header``
    (cut inside an element header), ``garbage`` (random bytes named .dcm) and ``no_preamble``
    (a complete Implicit VR Little Endian dataset without preamble or file meta; readable only
    with ``force=True``). Their fake PHI belongs to patient ``"BAD"``."""
    return _make_bad_inputs(Path(directory), _Recorder())


# --------------------------------------------------------------------------- bench


def generate_bench(out_dir: Path, files: int, seed: int = 0) -> Corpus:
    """``files`` single-frame CT and MR instances for timing runs (~50 per patient, <= 40 patients).

    One template per source is reused: only identity and instance values change per file."""
    if files < 1:
        raise ValueError(f"bench files must be at least 1, got {files}")
    out_dir = Path(out_dir)
    readme = _prepare(out_dir)
    rng = random.Random(seed)
    people = _make_patients(rng, max(1, min(40, files // 50)), seed)
    tpl = {"CT": _load_template(TEMPLATE_FILES["CT"]), "MR": _load_template(TEMPLATE_FILES["MR"])}
    rec = _Recorder()
    per_patient = -(-files // len(people))
    written = 0
    for p in people:
        day = date(2019, 1, 1) + timedelta(days=rng.randrange(0, 5 * 365))
        st = _new_study(rng, p, 1, day, "CT MR SURVEY")
        rec.plant(p, "path", "path", p.folder)
        rec.plant(p, "path", "path", st.folder)
        n = min(per_patient, files - written)
        for number, key in ((1, "CT"), (2, "MR")):
            ds, ts = tpl[key]
            count = n // 2 + (n % 2 if number == 1 else 0)
            series_uid = f"{st.uid}.{number}"
            _plant_identity(ds, st, rec, series_desc=f"{key} SERIES")
            if number == 1:
                _plant_private(ds, p, rec)
                _free_text_comment(ds, p, rec)
            ds.SeriesInstanceUID, ds.SeriesNumber = series_uid, number
            ds.FrameOfReferenceUID = f"{st.uid}.0.{number}"
            rec.uids.update((series_uid, ds.FrameOfReferenceUID))
            x, y, z0 = (float(v) for v in ds.ImagePositionPatient)
            folder = out_dir / p.folder / st.folder / str(number)
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(1, count + 1):
                ds.SOPInstanceUID = f"{series_uid}.{i}"
                rec.uids.add(ds.SOPInstanceUID)
                ds.InstanceNumber = i
                ds.ImagePositionPatient = [x, y, round(z0 + 2.5 * i, 4)]
                path = folder / f"IM{i:04d}{'.dcm' if i % 2 else ''}"
                ds.file_meta = _file_meta(ds, ts)
                dcmwrite(path, ds, enforce_file_format=True)
                rec.files.append(path)
            ds.ImagePositionPatient = [x, y, z0]
            ds.pop("ImageComments", None)
            for tag in [elem.tag for elem in ds if elem.tag.is_private]:
                del ds[tag]
            written += count
    return Corpus(
        root=out_dir,
        planted=tuple(rec.planted),
        dicom_files=tuple(rec.files),
        bad_files={},
        non_dicom=(readme,),
        zip_files=(),
        dicomdir=None,
        original_uids=frozenset(rec.uids),
        safe_private=tuple(rec.safe),
        patients={p.label: p.mrn for p in people},
    )


# --------------------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="make_sample_data.py", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "out_dir", type=Path, help="folder to create (replaced if written by this script)"
    )
    parser.add_argument(
        "--patients", type=int, default=3, help="number of synthetic patients (default 3)"
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="random seed; same seed, same bytes (default 0)"
    )
    parser.add_argument(
        "--no-bad-inputs", action="store_true", help="leave out the empty/truncated/garbage files"
    )
    parser.add_argument(
        "--bench-files",
        "--files",
        type=int,
        metavar="N",
        help="bench mode: write N small CT/MR instances instead",
    )
    args = parser.parse_args(argv)
    try:
        if args.bench_files is not None:
            corpus = generate_bench(args.out_dir, args.bench_files, args.seed)
        else:
            corpus = generate_corpus(args.out_dir, args.seed, args.patients, not args.no_bad_inputs)
    except (FileExistsError, ValueError) as exc:
        print(f"make_sample_data.py: error: {exc}", file=sys.stderr)
        return 2
    people = sum(1 for label in corpus.patients if label != _BAD_LABEL)
    print(
        f"wrote {len(corpus.dicom_files)} DICOM files for {people} patient(s) under {corpus.root}"
    )
    for label, path in sorted(corpus.bad_files.items()):
        print(f"  bad input ({label}): {path.relative_to(corpus.root)}")
    for path in (
        *corpus.zip_files,
        *([corpus.dicomdir] if corpus.dicomdir else []),
        *corpus.non_dicom,
    ):
        print(f"  extra: {path.relative_to(corpus.root)}")
    print(f"planted {len(corpus.planted)} PHI items and {len(corpus.original_uids)} original UIDs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
