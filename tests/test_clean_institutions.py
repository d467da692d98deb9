"""Clean (C) removes a site by the acronym it goes by and by its issuer of patient IDs, not only by
its long words (review finding: 'SGH' and 'CCHS' survived under the research profile)."""

from __future__ import annotations

import pydicom
from pydicom.data import get_testdata_file

from dicom_deid.api import Deidentifier
from dicom_deid.keys import SecretKey

KEY = SecretKey.from_bytes(bytes(range(32)))


def _research(**values: str) -> pydicom.Dataset:
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    for keyword, value in values.items():
        setattr(ds, keyword, value)
    return Deidentifier(profile="research", key=KEY, pixels="off").dataset(ds).dataset


def test_the_acronym_of_the_institution_is_removed_from_descriptions():
    out = _research(InstitutionName="SGH SPRINGFIELD GENERAL HOSPITAL", RequestingService="SGH",
                    StudyDescription="CT head, referred from Springfield General (SGH) ER")
    assert "SGH" not in str(out.get("RequestingService", "")).upper()
    description = str(out.StudyDescription)
    assert "SGH" not in description and "Springfield" not in description
    assert description.startswith("CT head, referred from") and description.endswith("ER")  # the rest kept


def test_an_acronym_is_derived_from_the_words_even_when_the_name_does_not_spell_it():
    out = _research(InstitutionName="Saint Mungo Hospital for Magical Maladies",
                    AdditionalPatientHistory="transferred from SMHMM ward 4")
    assert "SMHMM" not in str(out.AdditionalPatientHistory)
    assert "ward 4" in str(out.AdditionalPatientHistory)


def test_the_issuer_of_patient_ids_is_removed_from_text():
    out = _research(IssuerOfPatientID="CCHS", AdditionalPatientHistory="Prior imaging at CCHS in 2019")
    assert "CCHS" not in str(out.AdditionalPatientHistory)


def test_short_words_of_a_name_alone_are_not_removed():
    out = _research(InstitutionName="MRI Centre of the North", StudyDescription="MRI brain")
    assert str(out.StudyDescription) == "MRI brain"
