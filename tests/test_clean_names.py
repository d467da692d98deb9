"""clean removes person names however they are spelled, and keeps ordinary clinical words.

The spellings are the ones verify must also catch (tests/test_verify_recall.py); expected
results are written here by hand.
"""

from __future__ import annotations

import pydicom
import pytest
from pydicom.data import get_testdata_file

from dicom_deid.clean import REDACTED, PatientIdentifiers, clean_text
from dicom_deid.cli import main
from dicom_deid.verify import Severity, verify_output

NAMES = ["QUIXWORTH^PERCIVIL", "LI^WEI", "Müller^Jürgen"]
R = REDACTED

SPELLINGS = [
    ("surname, upper case", "CT CHEST QUIXWORTH", f"CT CHEST {R}"),
    ("given name alone, lower case", "percivil follow-up", f"{R} follow-up"),
    ("any order and case", "Percivil Quixworth seen", f"{R} {R} seen"),
    ("issue 11: one-edit variant beside the surname", "CT CHEST - QUIXWORTH, PERCIVAL", f"CT CHEST - {R}, {R}"),
    ("one-edit variant alone", "Hx per Percival", f"Hx per {R}"),
    ("two-edit variant of a long part", "Mr Quickworth", f"Mr {R}"),
    ("initial before the surname", "P. Quixworth", f"{R} {R}"),
    ("initial after a short surname", "Li, W. scanned", f"{R}, {R} scanned"),
    ("initial before a short surname", "by W. Li", f"by {R} {R}"),
    ("accents dropped", "Dr Muller", f"Dr {R}"),
    ("transliterated", "Dr Mueller and Juergen", f"Dr {R} and {R}"),
    ("split across lines with a hyphen", "Patient QUIX-\r\nWORTH, CT", f"Patient {R}, CT"),
    ("split across lines", "QUIX\nWORTH", R),
    ("spaced out", "name P E R C I V I L here", f"name {R} here"),
    ("spaced out variant", "PERCI VAL", R),
    ("padded with spaces", "   QUIXWORTH    PERCIVIL   ", f"   {R}    {R}   "),
]


@pytest.fixture(scope="module")
def pattern():
    compiled = PatientIdentifiers.build(NAMES, [], []).pattern()
    assert compiled is not None
    return compiled


@pytest.mark.parametrize(("case", "text", "expected"), SPELLINGS, ids=[s[0] for s in SPELLINGS])
def test_name_spellings_are_removed(pattern, case, text, expected):
    assert clean_text(text, pattern) == expected


CLINICAL = [
    "CT CHEST W CONTRAST",
    "MR BRAIN W/WO, axial T2 FLAIR",
    "Percussion and auscultation unremarkable",  # percussion is one edit from no name here
    "Lumbar spine, L4-L5 disc protrusion",
    "heart size normal; lungs clear",
    "Quality control phantom, water",
    "Persistent cough, follow up in 6 weeks",
    "Liver lesion, see prior",
    "Wheezing and leg pain",
    "Pelvis AP and lateral views",
]


@pytest.mark.parametrize("text", CLINICAL, ids=str)
def test_ordinary_clinical_words_survive(pattern, text):
    assert clean_text(text, pattern) == text


def test_issue_11_example_is_cleaned_by_run_and_passes_verify(tmp_path, key_file):
    """PatientName QUIXWORTH^PERCIVIL with the given name spelled PERCIVAL in two descriptions."""
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    ds.PatientName = "QUIXWORTH^PERCIVIL"
    ds.StudyDescription = "CT CHEST - QUIXWORTH, PERCIVAL"
    ds.AdditionalPatientHistory = "Hx per Quixworth, Percival"
    (tmp_path / "in").mkdir()
    ds.save_as(tmp_path / "in" / "ct.dcm")
    assert main(["run", str(tmp_path / "in"), str(tmp_path / "out"), "--profile", "research", "--pixels", "off",
                 "--key-file", str(key_file), "--quiet"]) == 0
    (path,) = (tmp_path / "out").rglob("*.dcm")
    out = pydicom.dcmread(path)
    assert out.StudyDescription == f"CT CHEST - {R}, {R}"
    assert "AdditionalPatientHistory" not in out or "ercival" not in out.AdditionalPatientHistory
    result = verify_output(tmp_path / "out", against=tmp_path / "in", ocr="off")
    assert [f.to_dict() for f in result.findings if f.severity is not Severity.NOTE] == []
