"""The risk tables as data: quasi-identifiers and the HIPAA Safe Harbor categories.

Both are TOML files beside this module (``quasi_identifiers.toml``, ``safe_harbor.toml``), loaded
once and frozen; nothing here is typed by hand in code.
"""

from __future__ import annotations

import enum
import functools
import importlib.resources
import tomllib
from dataclasses import dataclass
from typing import Any

from pydicom.datadict import tag_for_keyword

from dicom_deid.errors import ProfileError

_PACKAGE = "dicom_deid.risk"


class QiKind(enum.Enum):
    """Which generalisation hierarchy applies to a quasi-identifier (risk/hierarchy.py)."""

    CATEGORY = "category"  # none: only the last-resort emptying
    AGE = "age"
    DATE = "date"
    HEIGHT = "height"
    WEIGHT = "weight"
    DEVICE_MODEL = "device_model"


class PerPatient(enum.Enum):
    """How a patient's instances give one value."""

    FIRST = "first"  # the value at the earliest study (StudyDate, then StudyInstanceUID)
    SET = "set"  # every distinct value, sorted and joined


class Check(enum.Enum):
    """How the Safe Harbor table judges an attribute left in the output."""

    PRESENT = "present"  # any non-empty value is a finding
    DATES = "dates"  # a date finer than the year, or an age over 89
    REMAPPED = "remapped"  # values are expected (pseudonyms); a finding only if kept unchanged


@dataclass(frozen=True, slots=True)
class QuasiIdentifier:
    keyword: str
    tag: int
    kind: QiKind
    per_patient: PerPatient
    suppressible: bool = True
    why: str = ""


@dataclass(frozen=True, slots=True)
class SafeHarborCategory:
    number: int
    title: str
    attributes: tuple[str, ...]
    check: Check = Check.PRESENT
    pixels: bool = False
    faces: bool = False
    not_covered: bool = False
    note: str = ""


def _load(name: str) -> dict[str, Any]:
    text = importlib.resources.files(_PACKAGE).joinpath(name).read_text(encoding="utf-8")
    return tomllib.loads(text)


def _tag(keyword: str, source: str) -> int:
    tag = tag_for_keyword(keyword)
    if tag is None:
        raise ProfileError(f"unknown keyword {keyword!r}", path=source)
    return int(tag)


@functools.lru_cache(maxsize=1)
def quasi_identifiers() -> tuple[QuasiIdentifier, ...]:
    """Every known quasi-identifier, in the file's order."""
    out = []
    entries: list[dict[str, Any]] = _load("quasi_identifiers.toml").get("quasi", [])
    for entry in entries:
        kw = str(entry["keyword"])
        out.append(QuasiIdentifier(kw, _tag(kw, "quasi_identifiers.toml"), QiKind(entry["kind"]),
                                   PerPatient(entry.get("per_patient", "first")),
                                   bool(entry.get("suppressible", True)), str(entry.get("why", ""))))
    return tuple(out)


def quasi_by_keyword(keyword: str) -> QuasiIdentifier:
    """A known quasi-identifier, or a plain category one for any other DICOM keyword."""
    for qi in quasi_identifiers():
        if qi.keyword == keyword:
            return qi
    from dicom_deid.errors import ConfigError

    tag = tag_for_keyword(keyword)
    if tag is None:
        raise ConfigError(f"--quasi/--sensitive: unknown attribute {keyword!r}: use a DICOM keyword "
                          "such as PatientSex")
    return QuasiIdentifier(keyword, int(tag), QiKind.CATEGORY, PerPatient.SET)


@functools.lru_cache(maxsize=1)
def safe_harbor_categories() -> tuple[SafeHarborCategory, ...]:
    """The 18 categories of 45 CFR 164.514(b)(2)(i), with their DICOM attributes."""
    out = []
    entries: list[dict[str, Any]] = _load("safe_harbor.toml").get("category", [])
    for entry in entries:
        attrs = tuple(str(a) for a in entry.get("attributes", []))
        for kw in attrs:
            _tag(kw, "safe_harbor.toml")
        out.append(SafeHarborCategory(int(entry["number"]), str(entry["title"]), attrs,
                                      Check(entry.get("check", "present")), bool(entry.get("pixels", False)),
                                      bool(entry.get("faces", False)), bool(entry.get("not_covered", False)),
                                      str(entry.get("note", ""))))
    if [c.number for c in out] != list(range(1, 19)):
        raise ProfileError("safe_harbor.toml must list categories 1 to 18 in order")
    return tuple(out)


__all__ = ["Check", "PerPatient", "QiKind", "QuasiIdentifier", "SafeHarborCategory", "quasi_by_keyword",
           "quasi_identifiers", "safe_harbor_categories"]
