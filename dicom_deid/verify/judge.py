"""How much a match of an input value weighs: a severity and a reason a reviewer can act on.

A match is an error (a leak) unless the value is not identifying on its own, which makes it a
note (reported and counted, never failing):

- it sits in a vocabulary attribute: code values, meanings and designators, manufacturer and
  model names, software versions, character sets, private creators, any CS (defined terms), or
  in a number or a time of day (DS, IS, TM);
- every word of the value is vocabulary: a common English word or a DICOM term
  (``BRAIN``, ``HEAD^PHANTOM``, an institution called ``RADIOLOGY``);
- it is short: under 5 letters and digits (dates excepted);
- it identifies a device (station name, serial number, detector ID), not a person or a site;
- it is a site value (institution, address) of another input patient than the output's own,
  which ``clean`` cannot know of (a vendor name in a template is one such).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dicom_deid.verify.names import NameHit, Spelling
from dicom_deid.verify.result import Severity
from dicom_deid.vocabulary import english_count, is_vocabulary

_SITE_KINDS = frozenset({"institution", "address"})
_LETTERS = re.compile(r"[^\W\d_]+")
_CAMEL = re.compile(r"[A-Z][a-z]+|[A-Z]+(?![a-z])|[a-z]+")
SHORT = 5  # values with fewer letters and digits are not identifying on their own
VOCABULARY_KEYWORDS = frozenset({
    "Manufacturer", "ManufacturerModelName", "SoftwareVersions", "CodeValue", "CodeMeaning", "LongCodeValue",
    "URNCodeValue", "CodingSchemeDesignator", "CodingSchemeVersion", "CodingSchemeName", "CodingSchemeUID",
    "CodingSchemeRegistry", "CodingSchemeExternalID", "CodingSchemeResponsibleOrganization", "ContextIdentifier",
    "ContextGroupVersion", "ContextGroupLocalVersion", "MappingResource", "MappingResourceName",
    "MappingResourceUID", "SpecificCharacterSet", "ImplementationVersionName", "TransferSyntaxUID",
    "ManufacturerModelVersion", "SecondaryCaptureDeviceManufacturer",
    "SecondaryCaptureDeviceManufacturerModelName", "SecondaryCaptureDeviceSoftwareVersions",
    "DeviceManufacturer"})


DEVICE_KEYWORDS = frozenset({"StationName", "DeviceSerialNumber", "DeviceUID", "DetectorID", "GantryID",
                             "PlateID", "CassetteID", "SourceApplicationEntityTitle", "StationAETitle",
                             "DeviceLabel", "DeviceDescription"})


@dataclass(frozen=True, slots=True)
class Verdict:
    severity: Severity
    reason: str  # why, and what to do; never the value itself


def vocabulary_location(keyword: str, vr: str, private_creator: bool) -> bool:
    """True where values are vocabulary or numbers rather than free text about a person or a site."""
    return vr in ("CS", "DS", "IS", "TM") or keyword in VOCABULARY_KEYWORDS or private_creator


def released_location(keyword: str) -> bool:
    """An attribute of device or institution identity: what it holds is that identity, released on
    purpose where the profile keeps it (Retain Device / Institution Identity)."""
    return keyword in DEVICE_KEYWORDS or "Institution" in keyword or keyword.startswith("IssuerOf")


def _fix(where: str) -> str:
    if where in ("raw bytes", "path"):
        return "it is outside any attribute: re-run, and report the file if it persists"
    if where.startswith("pixels"):
        return "burned into the image: redact it (run --pixels all) or withhold the series"
    return f"remove or clean {where.split('[')[0].split('.')[-1] or where} (e.g. --override KEYWORD=remove, " \
           "or a clean_* option)"


def _all_vocabulary(text: str) -> bool:
    """No digits, and every word (CamelCase split: PrimaryDomain) is vocabulary or has 2 letters or
    fewer, with at least one vocabulary word: a description or a label, not an identifier."""
    if any(c.isdigit() for c in text):
        return False
    words = [w for run in _LETTERS.findall(text) for w in (_CAMEL.findall(run) or [run])]
    long_words = [w for w in words if len(w) > 2]
    return bool(long_words) and all(is_vocabulary(w) for w in long_words)


def judge_value(kind: str, tokens: tuple[str, ...], where: str, vocabulary_here: bool,
                other_patient: bool = False, original: str = "", *, rewritten_date: bool = False) -> Verdict:
    """Severity of a match of a value of ``kind`` (id, date, address...) made of ``tokens``;
    ``other_patient``: the value belongs to another input patient than this output's;
    ``rewritten_date``: found in a date attribute whose value the run changed (the paired input
    instance holds another date there)."""
    if kind == "date" and rewritten_date:
        return Verdict(Severity.NOTE, "the run changed this date (the input instance holds another one here), and "
                                      "the new value equals another input date of the same patient: a date shift "
                                      "can land on one; check that the patient's dates are shifted alike")
    if other_patient and kind in _SITE_KINDS:
        return Verdict(Severity.NOTE, "a site value of another input patient, absent from this output's own input: "
                                      "check whether it names the site (a vendor or a template can share it)")
    if vocabulary_here:
        return Verdict(Severity.NOTE, "in a vocabulary attribute, or a device or institution identity the profile "
                                      "keeps: not identifying on its own")
    if kind == "device":
        return Verdict(Severity.NOTE, "a device identifier (it names the equipment, not a person): remove it if "
                                      "the site must stay unknown")
    if kind == "id" and len(tokens) == 1 and tokens[0].isalpha() and english_count(tokens[0]) > 0:
        return Verdict(Severity.NOTE, "an English word used as an ID (a placeholder such as REDACTED): not "
                                      "identifying on its own")
    if kind != "date" and _all_vocabulary(original or " ".join(tokens)):
        return Verdict(Severity.NOTE, "every word is a common word or a DICOM term: not identifying on its own")
    if kind != "date" and len("".join(tokens)) < SHORT:
        return Verdict(Severity.NOTE, f"shorter than {SHORT} characters: not identifying on its own")
    return Verdict(Severity.ERROR, _fix(where))


def judge_name(hits: list[NameHit], where: str, vocabulary_here: bool, other_patient: bool = False) -> Verdict:
    """Severity of the hits of one person name in one place; ``other_patient``: the name is of
    another input patient than this output's (a staff name of another study, say)."""
    if other_patient and all(h.spelling is Spelling.PART for h in hits):
        return Verdict(Severity.NOTE, "one part of a name of another input patient, alone (a common given name "
                                      "in a kept value?): check it")
    if vocabulary_here:
        return Verdict(Severity.NOTE, "in a vocabulary attribute, or a device or institution identity the profile "
                                      "keeps: not identifying on its own")
    if any(h.distinctive for h in hits):
        return Verdict(Severity.ERROR, _fix(where))
    if any(h.spelling in (Spelling.PARTS, Spelling.INITIAL) for h in hits):
        return Verdict(Severity.NOTE, "the name is made of common words or DICOM terms (a phantom or test "
                                      "name?): not identifying on its own")
    return Verdict(Severity.NOTE, "a common word or DICOM term that is also a name part: not identifying on "
                                  "its own")


def describe_spellings(hits: list[NameHit]) -> str:
    """``spelling variant (1 edit), name part`` for a finding's detail."""
    out = []
    for spelling in Spelling:
        mine = [h for h in hits if h.spelling is spelling]
        if mine:
            edits = max(h.edits for h in mine)
            out.append(spelling.value + (f" ({edits} edit{'s' if edits > 1 else ''})" if edits else ""))
    return ", ".join(out)


__all__ = ["DEVICE_KEYWORDS", "SHORT", "VOCABULARY_KEYWORDS", "Verdict", "describe_spellings", "judge_name",
           "judge_value", "released_location", "vocabulary_location"]
