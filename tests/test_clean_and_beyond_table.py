"""PHI that Table E.1-1 does not list, and PHI that "clean" must find in free text.

Each case plants values in a file built here, de-identifies it through the CLI and searches
the output (raw bytes and every element, file meta included) with the test-side oracle in
``tests/phi_scan.py``.  The planted values are the expected results; nothing is read back
from the code under test.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian

from dicom_deid.clean import REDACTED, PatientIdentifiers, clean_text, patient_identifiers
from dicom_deid.cli import main
from tests.phi_scan import scan_file, scan_tree

ORIGINAL_STUDY_UID = "1.2.3.4.5.6.7.8.2"


def _base() -> Dataset:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    ds.file_meta.MediaStorageSOPInstanceUID = "1.2.3.4.5.6.7.8.1"
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    ds.SOPInstanceUID = "1.2.3.4.5.6.7.8.1"
    ds.StudyInstanceUID = ORIGINAL_STUDY_UID
    ds.SeriesInstanceUID = "1.2.3.4.5.6.7.8.3"
    ds.PatientName = "SECRETSURNAME^SECRETGIVEN"
    ds.PatientID = "MRN987654"
    ds.PatientBirthDate = "19610203"
    ds.StudyDate = "20200105"
    ds.Modality = "OT"
    return ds


def _alternative_calendar(ds: Dataset) -> None:
    ds.PatientBirthDateInAlternativeCalendar = "SECRETALTBIRTH-1961"
    ds.PatientDeathDateInAlternativeCalendar = "SECRETALTDEATH-2020"
    ds.PatientAlternativeCalendar = "HEBREW"


def _presentation_addresses(ds: Dataset) -> None:
    ds.file_meta.SourcePresentationAddress = "dicom://secret-source.hospital.example:104"
    ds.file_meta.SendingPresentationAddress = "dicom://secret-sender.hospital.example:11112"
    ds.file_meta.ReceivingPresentationAddress = "dicom://secret-receiver.hospital.example:4242"


def _urls(ds: Dataset) -> None:
    ds.RetrieveURL = f"https://pacs.secret-hospital.example/wado/studies/{ORIGINAL_STUDY_UID}"
    ds.RetrieveURI = "https://archive.secret-archive.example/wado?studyUID=SECRETRETRIEVE"
    ds.StorageURL = "https://store.secret-store.example/stow"
    ds.FilenameInContainer = "SECRETFILE_SECRETSURNAME.dcm"
    ds.HL7InstanceIdentifier = "SECRETHL7DOCID^1.2.3.4"
    ds.ContactURI = "mailto:secret.contact@hospital.example"  # unlisted UR: the [vr.UR] fallback
    step = Dataset()
    step.FileAccessURI = "file://secret-share/SECRETNESTEDURI/"  # unlisted UR inside a sequence
    ds.ReferencedSeriesSequence = Sequence([step])


def _scheduled_step_comments(ds: Dataset) -> None:
    ds.CommentsOnTheScheduledProcedureStep = "SECRETSURNAME anxious, born 03FEB1961"
    ds.CommentsOnPatientPerformanceOfVisualField = "SECRETSURNAME tired"
    ds.ContactDisplayName = "SECRETCONTACTNAME"


def _hyphenated_name(ds: Dataset) -> None:
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.PatientName = "Müller-Lüdenscheidt^Jürgen"
    ds.StudyDescription = "CT for Müller, Jürgen; Herr Lüdenscheidt"


def _nested_person_names(ds: Dataset) -> None:
    ds.SpecificCharacterSet = "ISO_IR 192"
    step = Dataset()
    step.ScheduledPerformingPhysicianName = "Kowalski^Jan"
    ds.ScheduledProcedureStepSequence = Sequence([step])
    ds.StudyDescription = "Scheduled with Dr Kowalski"
    inner, outer = Dataset(), Dataset()
    inner.PersonName = "Wiśniewska^Anna"  # two levels down, not in [identifying_values]
    outer.ContentSequence = Sequence([inner])
    ds.AcquisitionContextSequence = Sequence([outer])
    ds.SeriesDescription = "read by WIŚNIEWSKA and wiśniewska"


def _month_dates(ds: Dataset) -> None:
    ds.ImageComments = "DOB 03FEB1961 scan 05JAN2020 ref 03-Feb-1961, seen 12-mar-19"
    ds.StudyDescription = "born 3 Feb 1961 (Feb 3, 1961)"


@dataclass(frozen=True)
class Case:
    plant: Callable[[Dataset], None]
    needles: tuple[str, ...]


CASES = {
    "alternative-calendar-dates": Case(_alternative_calendar, ("SECRETALTBIRTH", "SECRETALTDEATH")),
    "file-meta-presentation-addresses": Case(
        _presentation_addresses, ("secret-source", "secret-sender", "secret-receiver")
    ),
    "retrieve-urls-and-hl7-id": Case(
        _urls,
        (
            "secret-hospital",
            ORIGINAL_STUDY_UID,
            "SECRETRETRIEVE",
            "secret-store",
            "SECRETFILE",
            "SECRETHL7DOCID",
            "secret.contact",
            "SECRETNESTEDURI",
        ),
    ),
    "scheduled-step-comments": Case(
        _scheduled_step_comments, ("SECRETSURNAME", "03FEB1961", "SECRETCONTACTNAME")
    ),
    "hyphenated-name-in-description": Case(_hyphenated_name, ("Lüdenscheidt", "Müller", "Jürgen")),
    "person-names-in-sequences": Case(
        _nested_person_names, ("Kowalski", "Wiśniewska", "WIŚNIEWSKA")
    ),
    "dates-with-month-names": Case(
        _month_dates,
        ("03FEB1961", "05JAN2020", "03-Feb-1961", "12-mar-19", "3 Feb 1961", "Feb 3, 1961"),
    ),
}


@pytest.mark.parametrize("profile", ["basic", "research"])
@pytest.mark.parametrize("name", sorted(CASES), ids=str)
def test_planted_phi_beyond_the_table_does_not_survive(
    name: str, profile: str, tmp_path: Path
) -> None:
    case = CASES[name]
    ds = _base()
    case.plant(ds)
    src = tmp_path / "in" / "planted.dcm"
    src.parent.mkdir()
    ds.save_as(src, enforce_file_format=True)
    planted = {h.needle for h in scan_file(src, case.needles)}
    assert planted == set(case.needles), "precondition: every needle is in the input"

    out = tmp_path / "out"
    rc = main(
        [
            "run",
            str(src.parent),
            str(out),
            "--pixels",
            "off",
            "--quiet",
            "--workers",
            "1",
            "--profile",
            profile,
        ]
    )
    assert rc == 0
    hits, files = scan_tree(out, case.needles)
    assert files == 1
    checked = 0
    for needle in case.needles:
        assert [h for h in hits if h.needle == needle] == [], needle
        checked += 1
    assert checked == len(case.needles)


def test_code_item_urn_value_is_kept_under_basic(tmp_path: Path) -> None:
    """URNCodeValue names a concept, not an instance; it can be a code item's only value."""
    ds = _base()
    code = Dataset()
    code.URNCodeValue = "urn:oid:2.16.840.1.113883.6.96"
    code.CodingSchemeDesignator = "SCT"
    code.CodeMeaning = "Chest"
    ds.AnatomicRegionSequence = Sequence([code])
    src = tmp_path / "in" / "code.dcm"
    src.parent.mkdir()
    ds.save_as(src, enforce_file_format=True)
    out = tmp_path / "out"
    assert (
        main(["run", str(src.parent), str(out), "--pixels", "off", "--quiet", "--workers", "1"])
        == 0
    )
    (path,) = sorted(out.rglob("*.dcm"))
    result = pydicom.dcmread(path)
    assert result.AnatomicRegionSequence[0].URNCodeValue == "urn:oid:2.16.840.1.113883.6.96"


# --- clean_text ------------------------------------------------------------------------------

DATE_SPELLINGS = [
    "03FEB1961",
    "03feb1961",
    "3FEB61",
    "03-Feb-1961",
    "3-Feb-1961",
    "03/Feb/1961",
    "03.Feb.1961",
    "3 Feb 1961",
    "3 February 1961",
    "Feb 3, 1961",
    "February 3, 1961",
]


@pytest.mark.parametrize("text", DATE_SPELLINGS, ids=str)
def test_generic_date_patterns_remove_month_name_dates(text: str) -> None:
    assert clean_text(f"DOB {text} seen", None) == f"DOB {REDACTED} seen"


@pytest.mark.parametrize("text", DATE_SPELLINGS + ["Feb 03 1961", "03 Feb 61"], ids=str)
def test_patient_birth_date_is_removed_in_month_name_spellings(text: str) -> None:
    pattern = PatientIdentifiers.build([], [], ["19610203"]).pattern()
    assert pattern is not None
    assert pattern.sub(REDACTED, f"DOB {text} seen") == f"DOB {REDACTED} seen"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "CT for Müller, Jürgen; Herr Lüdenscheidt",
            f"CT for {REDACTED}, {REDACTED}; Herr {REDACTED}",
        ),
        ("MÜLLER-LÜDENSCHEIDT knee", f"{REDACTED} knee"),
        ("Lüdenscheidt-Müller", f"{REDACTED}-{REDACTED}"),
    ],
    ids=["parts", "whole-upper-case", "parts-reversed"],
)
def test_hyphenated_names_are_removed_whole_and_by_part(text: str, expected: str) -> None:
    pattern = PatientIdentifiers.build(["Müller-Lüdenscheidt^Jürgen"], [], []).pattern()
    assert clean_text(text, pattern) == expected


@pytest.mark.parametrize(
    "text",
    [
        "CT chest 5 mm slices",
        "MR knee left, 2 series",
        "T1 axial 3 mm post contrast",
        "Dose 12 mGy, 3 phases",
    ],
    ids=str,
)
def test_clinical_text_survives(text: str) -> None:
    pattern = PatientIdentifiers.build(
        ["Müller-Lüdenscheidt^Jürgen", "Kowalski^Jan"], ["MRN987654"], ["19610203"]
    ).pattern()
    assert clean_text(text, pattern) == text


def test_person_names_are_collected_from_every_sequence_level() -> None:
    ds = _base()
    _nested_person_names(ds)
    ident, _ = patient_identifiers(ds, {"names": ["PatientName"]})
    found = {w for w in ("Kowalski", "Wiśniewska", "SECRETSURNAME") if w in ident.words}
    assert found == {"Kowalski", "Wiśniewska", "SECRETSURNAME"}
