"""verify's matching, unit by unit: whole tokens, names however spelled, severities."""

from __future__ import annotations

import pytest

from dicom_deid.profiles import load_profile
from dicom_deid.verify.identifying import NeedleIndex
from dicom_deid.verify.judge import judge_name, judge_value
from dicom_deid.verify.names import NameIndex, Spelling
from dicom_deid.verify.own import own_values
from dicom_deid.verify.result import Severity


@pytest.mark.parametrize(("text", "found"), [
    ("case ANON 12", True),
    ("anon.", True),
    ("ANONYMIZED", False),  # inside a longer token
    ("ANON1", False),
    ("XANON", False),
], ids=str)
def test_values_match_whole_tokens_only(text, found):
    index = NeedleIndex()
    index.add("ANON", "id", "ScheduledProcedureStepID", 1)
    assert bool(index.search(text, None)) is found


def test_the_tools_own_values_are_blanked_before_the_search():
    own = own_values(load_profile("basic"))
    text = "ANON^DDQ2ZL7MAXS4TB dicom-deid 0.1.0; PS3.15 2026c Annex E; profile basic 2.25.12345 ANON kept"
    assert own.strip(text).split() == ["ANON", "kept"]


NAME = "QUIXWORTH^PERCIVIL"


@pytest.mark.parametrize(("text", "spelling"), [
    ("Quixworth", Spelling.PART),
    ("percivil", Spelling.PART),
    ("Percival", Spelling.VARIANT),
    ("QUICKWORTH", Spelling.VARIANT),
    ("Quíxworth", Spelling.PART),
    ("QUIX-\nWORTH", Spelling.SPLIT),
    ("P E R C I V I L", Spelling.SPLIT),
    ("P. Quixworth", Spelling.INITIAL),
], ids=str)
def test_names_are_found_however_spelled(text, spelling):
    index = NameIndex()
    index.add(NAME, "PatientName", 1)
    assert spelling in {h.spelling for h in index.search(text, None)}


@pytest.mark.parametrize("text", ["heart percussion", "Quality", "PERCIVAL"[:4], "per civil law"], ids=str)
def test_ordinary_words_are_no_name(text):
    index = NameIndex()
    index.add(NAME, "PatientName", 1)
    assert [h for h in index.search(text, None) if h.distinctive] == []


def test_a_name_of_common_words_is_a_note_alone_and_an_error_together():
    index = NameIndex()
    index.add("WHITE^JOHN", "PatientName", 1)
    alone = index.search("white matter", None)
    assert judge_name(alone, "ImageComments", False).severity is Severity.NOTE
    together = index.search("seen by White, John", None)
    assert judge_name(together, "ImageComments", False).severity is Severity.ERROR


@pytest.mark.parametrize(("kind", "tokens", "vocabulary_here", "severity"), [
    ("id", ("mrn7734921",), False, Severity.ERROR),
    ("id", ("mrn7734921",), True, Severity.NOTE),  # in a code value, manufacturer, CS, number...
    ("institution", ("general", "hospital"), False, Severity.NOTE),  # common words only
    ("institution", ("offi",), False, Severity.NOTE),  # under 5 characters
    ("device", ("ct", "scanner", "7"), False, Severity.NOTE),
    ("date", ("1961", "02", "03"), False, Severity.ERROR),
], ids=str)
def test_value_severities(kind, tokens, vocabulary_here, severity):
    assert judge_value(kind, tokens, "ImageComments", vocabulary_here).severity is severity
