"""Records: one row per patient, read from an output folder's headers (never pixel data).

The scan streams: each instance is read with ``stop_before_pixels`` and only the attributes the
assessment needs, folded into its patient's running state, and dropped.  Memory grows with the
number of patients, never with the number of instances.

A patient's row holds each quasi-identifier as the output holds it: ``first`` attributes at the
patient's earliest study, ``set`` attributes as every distinct value joined with `` | ``.  An
absent or empty attribute is ``""`` (the same as an attribute that k-anonymity emptied).
"""

from __future__ import annotations

import enum
import os
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pydicom
from pydicom.datadict import tag_for_keyword
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

from dicom_deid.risk.catalogue import PerPatient, QiKind, QuasiIdentifier, safe_harbor_categories

SET_JOIN = " | "
#: written by k-anonymity where an IOD makes an emptied attribute Type 1; read back as emptied ("")
SUPPRESSED = "SUPPRESSED"
_AGE = re.compile(r"^\s*(\d{1,3})\s*([DWMY])\s*$")
_HEAD_WORDS = ("HEAD", "BRAIN", "SKULL", "FACE", "ORBIT", "SINUS", "NECK")
_PHOTO_MODALITIES = frozenset({"XC", "ES", "OP", "GM", "SM", "VL"})
_FACE_3D_MODALITIES = frozenset({"CT", "MR", "PT", "NM"})


class Granularity(enum.Enum):
    """The precision of the dates an output holds."""

    DAY = "day"
    MONTH = "month"
    YEAR = "year"

    def cut(self, date: str) -> str:
        return date[: {"day": 8, "month": 6, "year": 4}[self.value]]


@dataclass
class HeaderScan:
    """What the scan found: the patient table and the counts the evidence pack needs."""

    records: list[dict[str, str]]  # one per patient, sorted by pseudonym; key "patient" + columns
    columns: tuple[str, ...]  # quasi-identifiers then sensitive attributes
    instances: int = 0
    unreadable: int = 0
    present: Counter[str] = field(default_factory=Counter)  # keyword -> instances with a value
    fine_dates: Counter[str] = field(default_factory=Counter)  # keyword -> instances finer than a year
    ages_over_89: int = 0
    face_risk: int = 0  # instances of head CT/MR/PT/NM or photographs
    columns_present: Counter[str] = field(default_factory=Counter)  # column -> patients with a value

    @property
    def patients(self) -> int:
        return len(self.records)


def _tag(keyword: str) -> int:
    return int(tag_for_keyword(keyword) or 0)


_PATIENT_ID, _STUDY_DATE, _STUDY_UID = _tag("PatientID"), _tag("StudyDate"), _tag("StudyInstanceUID")
_MODALITY, _PATIENT_AGE = _tag("Modality"), _tag("PatientAge")
_WHERE_TAGS = tuple(_tag(k) for k in ("BodyPartExamined", "StudyDescription", "SeriesDescription"))


def _text(ds: Dataset, tag: int) -> str:
    """An element's value as text, read from the raw bytes where it is still raw (fast path).

    Text is decoded as Latin-1 whatever the character set: records compare values, they do not
    display them, and equal bytes stay equal.  A sequence with items is "present" (non-empty).
    """
    elem = ds._dict.get(tag)  # type: ignore[call-overload]  # raw element: no per-value conversion
    if elem is None:
        return ""
    value = elem.value
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("latin-1").strip(" \x00")
    if isinstance(value, pydicom.Sequence):
        return "(sequence)" if len(value) else ""
    if isinstance(value, pydicom.multival.MultiValue):
        return "\\".join(str(v) for v in value).strip()
    return str(value).strip()


class _PatientState:
    __slots__ = ("first", "first_key", "sets")

    def __init__(self) -> None:
        self.first_key: tuple[str, str] | None = None
        self.first: dict[str, str] = {}
        self.sets: dict[str, set[str]] = {}


def age_years(value: str) -> int | None:
    """``063Y`` -> 63, ``006M`` -> 0; None when not an Age String."""
    m = _AGE.match(value)
    if m is None:
        return None
    n, unit = int(m.group(1)), m.group(2)
    return n if unit == "Y" else n // {"M": 12, "W": 52, "D": 365}[unit]


def normalise(qi: QuasiIdentifier, value: Any, granularity: Granularity) -> str:
    """One attribute value as a record holds it (``""`` when absent or empty)."""
    if value is None:
        return ""
    if isinstance(value, pydicom.multival.MultiValue):
        text = "\\".join(str(v) for v in value)
    elif isinstance(value, bytes):
        text = value.decode("latin-1", "replace")
    else:
        text = str(value)
    text = text.strip()
    if not text or text == SUPPRESSED:
        return ""
    if qi.kind is QiKind.AGE:
        years = age_years(text)
        return str(years) if years is not None else text
    if qi.kind in (QiKind.HEIGHT, QiKind.WEIGHT):
        try:
            return f"{float(text):g}"
        except ValueError:
            return text
    if qi.kind is QiKind.DATE:
        return granularity.cut(text[:8])
    return text


def _walk_files(root: Path) -> Iterator[Path]:
    """Every regular file under ``root`` in a stable order, hidden files (``.x.part``) skipped."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if not name.startswith(".") and not name.endswith(".jsonl"):
                yield Path(dirpath, name)


class RecordBuilder:
    """Folds instances into per-patient state; ``finish`` returns the HeaderScan."""

    def __init__(self, quasi: Sequence[QuasiIdentifier], sensitive: Sequence[QuasiIdentifier],
                 granularity: Granularity = Granularity.DAY) -> None:
        self.quasi = tuple(quasi)
        self.sensitive = tuple(sensitive)
        self.granularity = granularity
        self.columns = tuple(q.keyword for q in self.quasi) + tuple(
            s.keyword for s in self.sensitive if s.keyword not in {q.keyword for q in self.quasi})
        self._spec = [*self.quasi, *[s for s in self.sensitive if s.keyword not in
                                     {q.keyword for q in self.quasi}]]
        self._patients: dict[str, _PatientState] = {}
        self._harbor = {kw for c in safe_harbor_categories() for kw in c.attributes}
        self._harbor_tags = sorted((kw, int(tag_for_keyword(kw) or 0)) for kw in self._harbor)
        self._date_keywords = {kw for c in safe_harbor_categories() if c.check.value == "dates"
                               for kw in c.attributes}
        self.scan = HeaderScan(records=[], columns=self.columns)

    @property
    def tags(self) -> list[int]:
        """The attributes to read: everything else in a header is skipped unparsed."""
        keywords = {"SpecificCharacterSet", "PatientID", "StudyInstanceUID", "StudyDate", "Modality",
                    "BodyPartExamined", "StudyDescription", "SeriesDescription", *self.columns, *self._harbor}
        return sorted(int(t) for k in keywords if (t := tag_for_keyword(k)) is not None)

    def add(self, ds: Dataset, fallback_patient: str) -> None:
        """Fold one instance into its patient's state."""
        self.scan.instances += 1
        self._count_harbor(ds)
        patient = _text(ds, _PATIENT_ID) or fallback_patient
        state = self._patients.get(patient)
        if state is None:
            state = self._patients[patient] = _PatientState()
        key = (_text(ds, _STUDY_DATE) or "99999999", _text(ds, _STUDY_UID))
        earlier = state.first_key is None or key < state.first_key
        if earlier:
            state.first_key, state.first = key, {}
        same_study = key == state.first_key
        for qi in self._spec:
            value = normalise(qi, _text(ds, qi.tag), self.granularity)
            if qi.per_patient is PerPatient.SET:
                if value:
                    state.sets.setdefault(qi.keyword, set()).add(value)
            elif same_study and value and not state.first.get(qi.keyword):
                state.first[qi.keyword] = value

    def _count_harbor(self, ds: Dataset) -> None:
        scan = self.scan
        meta = getattr(ds, "file_meta", None)
        for kw, tag in self._harbor_tags:
            text = _text(meta if tag >> 16 == 2 and meta is not None else ds, tag)
            if not text:
                continue
            scan.present[kw] += 1
            if kw in self._date_keywords:
                if tag == _PATIENT_AGE:
                    years = age_years(text)
                    if years is not None and years > 89:
                        scan.ages_over_89 += 1
                elif len(text) >= 8 and text[4:8] != "0101":
                    scan.fine_dates[kw] += 1
        modality = _text(ds, _MODALITY).upper()
        where = " ".join(_text(ds, t) for t in _WHERE_TAGS).upper()
        if modality in _PHOTO_MODALITIES or (modality in _FACE_3D_MODALITIES and any(w in where for w in _HEAD_WORDS)):
            scan.face_risk += 1

    def finish(self) -> HeaderScan:
        records = []
        for patient in sorted(self._patients):
            state = self._patients[patient]
            row = {"patient": patient}
            for qi in self._spec:
                if qi.per_patient is PerPatient.SET:
                    row[qi.keyword] = SET_JOIN.join(sorted(state.sets.get(qi.keyword, ())))
                else:
                    row[qi.keyword] = state.first.get(qi.keyword, "")
                if row[qi.keyword]:
                    self.scan.columns_present[qi.keyword] += 1
            records.append(row)
        self._patients.clear()
        self.scan.records = records
        return self.scan


def scan_output(root: Path, quasi: Sequence[QuasiIdentifier], sensitive: Sequence[QuasiIdentifier] = (),
                granularity: Granularity = Granularity.DAY, files: Iterable[Path] | None = None) -> HeaderScan:
    """Read every instance header under ``root`` (pixel data never read) into patient records."""
    builder = RecordBuilder(quasi, sensitive, granularity)
    tags = builder.tags
    for path in files if files is not None else _walk_files(root):
        try:
            ds = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=tags)
        except (InvalidDicomError, OSError, EOFError, ValueError, KeyError):
            builder.scan.unreadable += 1
            continue
        rel = path.relative_to(root).parts
        builder.add(ds, rel[0] if len(rel) > 1 else "(no PatientID)")
    return builder.finish()


__all__ = ["SET_JOIN", "SUPPRESSED", "Granularity", "HeaderScan", "RecordBuilder", "age_years", "normalise", "scan_output"]
