"""Identifying values extracted from the input files (``against``): person names (``names``) and
the other values, indexed for a linear-time search of output text: IDs, dates, times,
addresses, phones, e-mails, institutions, devices and original UIDs.

Only values the profile changes are collected: what it keeps on purpose is not a leak.  An input
that pydicom cannot parse, or an element it cannot convert, is counted and reported as a note;
the rest is checked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from pydicom._uid_dict import UID_dictionary
from pydicom.dataset import Dataset

from dicom_deid.errors import DeidError
from dicom_deid.profiles import ActionCode, Option, Profile, Standard
from dicom_deid.verify.elements import (
    _STORAGE_ROOT,
    PIXEL_DATA,
    _creator,
    _element_text,
    _path_name,
    _walk,
    read_parsed,
)
from dicom_deid.verify.judge import DEVICE_KEYWORDS, released_location, vocabulary_location
from dicom_deid.verify.names import NameIndex
from dicom_deid.verify.rules import _profile_code
from dicom_deid.vocabulary import fold
from dicom_deid.walk import read_bytes, walk_inputs

_UID_TOKEN = re.compile(r"(?<![0-9.])[0-9]+(?:\.[0-9]+){2,}(?![0-9])")
_TOKEN = re.compile(r"[^\W_]+")  # letters and digits of any script; "_" separates
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_PHONE = re.compile(r"(?<![\d.])(?:\(\d{3}\)\s?|\b\d{3}[\s.-])\d{3}[\s.-]\d{4}\b(?![\d.])")
_DUMMY_DATES = frozenset({"19000101", "00000000", "00010101"})
_ID_SUFFIXES = ("ID", "IDs", "Number", "Numbers", "Locator")
_NOT_ID_KEYWORDS = frozenset({"SeriesNumber", "InstanceNumber", "AcquisitionNumber", "StudyInstanceUID",
                              "ImagesInAcquisition", "TemporalPositionIdentifier"})
_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
           "november", "december")


def tokens_of(text: str) -> list[str]:
    """Folded letter-and-digit tokens: matching is by whole tokens, in any case and punctuation."""
    return [t if t.isascii() else "".join(_TOKEN.findall(fold(t))) for t in _TOKEN.findall(text.lower())]


@dataclass(frozen=True, slots=True)
class _Needle:
    tokens: tuple[str, ...]
    kind: str  # id, date, time, address, phone, email, institution, device
    source: str  # keyword in the input it came from
    patient: int  # input patient number (1-based)
    scoped: bool  # dates and times: searched only in that patient's outputs when pairing is known
    original: str


class NeedleIndex:
    """Identifying values (other than names) of the input, indexed by first token."""

    def __init__(self) -> None:
        self.first: dict[str, list[_Needle]] = {}
        self.uids: dict[str, tuple[str, int]] = {}  # original UID the profile changes -> (keyword, patient)
        self.all_uids: set[str] = set()  # every UID value of the input
        self.seen: set[tuple[tuple[str, ...], str, int]] = set()
        self.kinds: dict[str, int] = {}
        self.sop_uids: set[str] = set()  # SOP Instance UIDs of the input
        self.sop_uid_files = 0  # instances of the input with a SOP Instance UID (duplicates counted)
        self.references: list[str] = []  # referenced storage instances of the input

    @property
    def dangling(self) -> int:
        """References in the input to instances that are not in the input."""
        return sum(1 for uid in self.references if uid not in self.sop_uids)

    def add(self, text: str, kind: str, source: str, patient: int, *, scoped: bool = False) -> None:
        tokens = tuple(tokens_of(text))
        joined = "".join(tokens)
        if not tokens or (kind != "date" and len(joined) < 4) or len(set(joined)) < 2:
            return  # too short, or a placeholder such as 00000 or XXXX
        key = (tokens, kind, patient if scoped else 0)
        if key in self.seen:
            return
        self.seen.add(key)
        self.kinds[kind] = self.kinds.get(kind, 0) + 1
        self.first.setdefault(tokens[0], []).append(_Needle(tokens, kind, source, patient, scoped, text.strip()))

    def drop(self, kept: set[tuple[tuple[str, ...], int]]) -> None:
        """Forget values the profile releases on purpose elsewhere in the same patient's input, as
        a date, a time or vocabulary (a date kept in StudyDate under Retain Longitudinal Full Dates
        is no leak when a private tag held it too; nor is OFFIS kept as Manufacturer)."""
        for first, needles in list(self.first.items()):
            self.first[first] = [n for n in needles if (n.tokens, n.patient) not in kept]

    def search(self, text: str, patients: frozenset[int] | None) -> list[_Needle]:
        """Needles whose tokens occur consecutively in ``text`` (whole tokens, any case or punctuation)."""
        tokens = tokens_of(text)
        hits: dict[int, _Needle] = {}
        for i, tok in enumerate(tokens):
            cands = self.first.get(tok)
            if cands is None and len(tok) > 8 and tok.isdigit():
                cands = [n for n in self.first.get(tok[:8], ()) if n.kind == "date"]  # DT prefix
                if cands:
                    hits.update((id(n), n) for n in cands if _in_scope(n, patients))
                continue
            for n in cands or ():
                if tuple(tokens[i:i + len(n.tokens)]) == n.tokens and _in_scope(n, patients):
                    hits[id(n)] = n
        return list(hits.values())

    def search_uids(self, text: str) -> list[tuple[str, str]]:
        return [(m, self.uids[m][0]) for m in _UID_TOKEN.findall(text) if m in self.uids]


@dataclass
class InputValues:
    """Everything verify learns from the input."""

    values: NeedleIndex = field(default_factory=NeedleIndex)
    names: NameIndex = field(default_factory=NameIndex)
    patient_of: dict[int, int] = field(default_factory=dict)  # input ordinal -> input patient number
    sop_class_of: dict[int, str] = field(default_factory=dict)
    identities: set[tuple[str, str, str, str]] = field(default_factory=set)  # patient ID, issuer, name, birth date
    accessions: set[str] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)  # inputs (by ordinal) that could not be read in full
    kept: set[tuple[tuple[str, ...], int]] = field(default_factory=set)  # values the profile keeps, per patient
    # (ordinal, element path) -> DA/DT value, kept only under a profile that modifies dates
    dates_at: dict[tuple[int, str], str] = field(default_factory=dict)

    @property
    def kinds(self) -> dict[str, int]:
        return {**self.values.kinds, "name": len(self.names)}


def _in_scope(needle: _Needle, patients: frozenset[int] | None) -> bool:
    return not needle.scoped or patients is None or needle.patient in patients


def _date_forms(da: str) -> list[str]:
    """A DA value in the spellings people write: 19610203, 1961-02-03, 1961/02/03, 02/03/1961,
    03/02/1961, 03.02.1961, 1961.02.03, 3 Feb 1961, 3 February 1961, Feb 3 1961, 03FEB1961."""
    y, m, d = da[:4], da[4:6], da[6:8]
    if not (da.isdigit() and len(da) == 8 and 1 <= int(m) <= 12 and 1 <= int(d) <= 31) or da in _DUMMY_DATES:
        return []
    month = _MONTHS[int(m) - 1]
    forms = [da, f"{y}-{m}-{d}", f"{y}/{m}/{d}", f"{m}/{d}/{y}", f"{d}/{m}/{y}", f"{d}.{m}.{y}", f"{y}.{m}.{d}"]
    for name in {month, month[:3]} | ({"sept"} if int(m) == 9 else set()):
        for day in {d, str(int(d))}:
            forms += [f"{day} {name} {y}", f"{name} {day} {y}", f"{day}{name}{y}"]
    return forms


def _kind_of(keyword: str, vr: str) -> str | None:
    if vr == "PN":
        return "name"
    if vr in ("DA", "DT"):
        return "date"
    if vr == "TM":
        return "time"
    if keyword in DEVICE_KEYWORDS:
        return "device"
    if "Institution" in keyword or "Organization" in keyword or keyword.startswith("IssuerOf"):
        return "institution"
    if "Address" in keyword:
        return "address"
    if "Telephone" in keyword or "Telecom" in keyword:
        return "phone"
    if keyword.endswith(_ID_SUFFIXES) and keyword not in _NOT_ID_KEYWORDS and vr in ("LO", "SH", "LT", "UC"):
        return "id"
    return None


def _add_value(found: InputValues, kind: str, value: str, source: str, patient: int, code: ActionCode) -> None:
    index = found.values
    if kind == "name":
        found.names.add(value, source, patient)
        return
    for part in (p.strip() for p in value.split("\\") if p.strip()):
        if kind == "date":
            for form in _date_forms(part[:8]):
                index.add(form, "date", source, patient, scoped=True)
        elif kind == "time":
            if code is not ActionCode.C and len(part.split(".")[0]) >= 6 and part.strip("0.:"):
                index.add(part, "time", source, patient, scoped=True)
        elif kind == "id":
            if len(part) >= 4 and (not part.isdigit() or len(part) >= 6):
                index.add(part, "id", source, patient)
            for digits in re.findall(r"\d{6,}", part):  # MRN7734921 is also written MRN 7734921
                if digits != part:
                    index.add(digits, "id", source, patient)
        else:
            index.add(part, kind, source, patient)
            if kind in ("address", "institution"):
                for piece in part.split(","):
                    if len(piece.strip()) >= 4:
                        index.add(piece, kind, source, patient)
            if kind == "phone" and len(re.sub(r"\D", "", part)) >= 7:
                index.add(re.sub(r"\D", "", part), "phone", source, patient)


def collect_identifying(input_root: Path, profile: Profile, std: Standard) -> InputValues:
    """Identifying values of every input, the input patient of each ordinal and its SOP class."""
    found = InputValues()
    patients: dict[str, int] = {}
    for ref in walk_inputs(input_root):
        try:
            parsed = read_parsed(read_bytes(ref))
        except OSError as exc:
            found.problems.append(f"input #{ref.ordinal} cannot be read ({exc.strerror or type(exc).__name__})")
            continue
        except DeidError as exc:  # e.g. a zip member with a bad CRC: run quarantined it, verify notes it
            found.problems.append(f"input #{ref.ordinal} cannot be read ({type(exc).__name__})")
            continue
        ds = parsed.dataset
        if ds is None:
            if parsed.error:
                found.problems.append(f"input #{ref.ordinal} cannot be parsed ({parsed.error}): its values are "
                                      "not searched")
            continue
        if parsed.dropped:
            found.problems.append(f"input #{ref.ordinal}: {parsed.dropped} element(s) cannot be parsed "
                                  f"({parsed.error}): their values are not searched")
        key = str(ds.get("PatientID", "") or "") or str(ds.get("PatientName", "") or "") or f"#{ref.ordinal}"
        patient = patients.setdefault(key, len(patients) + 1)
        found.patient_of[ref.ordinal] = patient
        found.sop_class_of[ref.ordinal] = str(ds.get("SOPClassUID", "") or "")
        found.identities.add((_text(ds, "PatientID"), _text(ds, "IssuerOfPatientID"), _text(ds, "PatientName"),
                              _text(ds, "PatientBirthDate")))
        accession = str(ds.get("AccessionNumber", "") or "").strip()
        if accession:
            found.accessions.add(accession)
        meta = getattr(ds, "file_meta", None)
        for source in ([meta] if meta is not None else []) + [ds]:
            _collect_from(found, source, profile, std, patient, ref.ordinal)
    found.values.drop(found.kept)
    return found


_TEXT_VRS = frozenset({"AE", "AS", "CS", "DA", "DS", "DT", "IS", "LO", "LT", "PN", "SH", "ST", "TM", "UC",
                       "UR", "UT"})
_CORRUPT_TAIL = re.compile(r"[\x00-\x08\x0b\x0e-\x1a\x1c-\x1f\x7f].*", re.DOTALL)
"""From the first control character that no text VR allows (PS3.5 6.1: only LF, FF, CR, TAB
and ESC): what follows is the bytes of other elements that a corrupted length made part of this
value, each of which is collected on its own; the value proper is what comes before."""


def _text(ds: Dataset, keyword: str) -> str:
    return str(ds.get(keyword, "") or "")


def _collect_from(found: InputValues, ds: Dataset, profile: Profile, std: Standard, patient: int,
                  ordinal: int) -> None:
    index = found.values
    shifted = Option.RETAIN_LONG_MODIFIED_DATES in profile.options  # only then does a run write new real dates
    for path, _seq, elem, parent in _walk(ds):
        if elem.VR == "SQ" or elem.tag == PIXEL_DATA:
            continue
        text = _element_text(elem)
        if not text:
            continue
        if elem.VR in _TEXT_VRS:
            text = _CORRUPT_TAIL.sub("", text)  # a length lie swallowed the next elements' bytes
            if not text:
                continue
        tag, keyword = int(elem.tag), elem.keyword or ""
        if shifted and elem.VR in ("DA", "DT"):
            found.dates_at[(ordinal, path)] = text.strip()
        if keyword == "SOPInstanceUID" and parent is ds:
            index.sop_uids.add(text.strip().rstrip("\x00"))
            index.sop_uid_files += 1
        elif keyword == "ReferencedSOPInstanceUID":
            ref_class = str(parent.get("ReferencedSOPClassUID", "") or "")
            if not ref_class or ref_class.startswith(_STORAGE_ROOT):
                index.references.append(text.strip().rstrip("\x00"))
        if elem.VR == "UI":
            index.all_uids.update(u.strip().rstrip("\x00") for u in text.split("\\"))
        found_code = _profile_code(std, profile, tag, elem.VR, keyword, text, _creator(parent, tag))
        if found_code is None:
            creator = bool(tag >> 16 & 1) and 0x10 <= tag & 0xFFFF <= 0xFF
            if elem.VR in ("DA", "DT", "TM") or vocabulary_location(keyword, elem.VR, creator) or \
                    released_location(keyword):
                # released on purpose as a date, a time, vocabulary or a kept device or institution
                # identity (a value kept in any other attribute stays a needle: a kept LO holding
                # an MRN is the table's blind spot)
                found.kept.update((tuple(tokens_of(p)), patient) for p in text.split("\\") if p.strip())
            continue
        code = found_code[0]
        if elem.VR == "UI":
            for uid in text.split("\\"):
                uid = uid.strip().rstrip("\x00")
                if uid and uid not in UID_dictionary:  # a UID the standard registers names no one
                    index.uids.setdefault(uid, (keyword or "UID", patient))
            continue
        kind = _kind_of(keyword, elem.VR)
        if kind is not None:
            _add_value(found, kind, text, keyword or _path_name(elem), patient, code)
        if elem.VR in ("LO", "LT", "ST", "UT", "SH", "UC", "UN", "OB") or tag >> 16 & 1:
            for email in _EMAIL.findall(text):
                index.add(email, "email", keyword or "text", patient)
            for phone in _PHONE.findall(text):
                _add_value(found, "phone", phone, keyword or "text", patient, code)
