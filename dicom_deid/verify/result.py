"""Verify's result types: finding categories and severities, ``Finding`` and ``VerifyResult`` (JSON)."""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class Category(enum.Enum):
    """What kind of problem a finding is (letters as in the verify documentation)."""

    PROFILE = "a"
    IDENTIFYING = "b"
    PIXEL_TEXT = "c"
    UID = "d"
    MARKING = "e"
    CONFORMANCE = "f"

    @property
    def title(self) -> str:
        return _TITLES[self]


_TITLES = {
    Category.PROFILE: "attribute the profile removes or empties is present",
    Category.IDENTIFYING: "identifying value of the input found in the output",
    Category.PIXEL_TEXT: "residual text in pixel data (OCR)",
    Category.UID: "UID problem",
    Category.MARKING: "de-identification marking missing",
    Category.CONFORMANCE: "new DICOM conformance error (dciodvfy)",
}


class Severity(enum.Enum):
    """How much a finding weighs: errors fail verify, warnings ask for a look, notes are counted."""

    ERROR = "error"  # evidence of a leak or a profile violation: fails verify (exit 4)
    WARNING = "warning"  # a check that could not be done, or text that may identify: review it
    NOTE = "note"  # not identifying on its own (vocabulary, a common word, a short value): counted


class OcrMode(enum.Enum):
    AUTO = "auto"  # a sample of every series with pixel data, whatever its modality
    ALL = "all"
    OFF = "off"


@dataclass(frozen=True, slots=True)
class Finding:
    category: Category
    file: str  # output-relative path (identifying parts masked)
    where: str  # attribute path, "raw bytes", "path", "pixels frame N" or "file"
    detail: str  # never an original value unless show_values
    severity: Severity = Severity.ERROR
    value: str | None = None  # the original value: only with show_values (input side)

    def to_dict(self) -> dict[str, Any]:
        out = {"category": self.category.value, "severity": self.severity.value, "file": self.file,
               "where": self.where, "detail": self.detail}
        if self.value is not None:
            out["value"] = self.value
        return out


@dataclass(frozen=True)
class VerifyResult:
    output: str
    findings: tuple[Finding, ...]
    files_checked: int
    dicom_checked: int
    profile: str
    against: bool
    ocr: str
    images_ocr: int = 0
    needles: Mapping[str, int] = field(default_factory=dict)  # kind -> identifying values searched
    notes: tuple[str, ...] = ()
    show_values: bool = False

    @property
    def errors(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity is Severity.ERROR)

    @property
    def warnings(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity is Severity.WARNING)

    @property
    def low(self) -> tuple[Finding, ...]:
        """Note-level findings: reported and counted, never failing."""
        return tuple(f for f in self.findings if f.severity is Severity.NOTE)

    @property
    def ok(self) -> bool:
        return not self.errors

    def counts(self) -> dict[str, int]:
        out = {c.value: 0 for c in Category}
        for f in self.errors:
            out[f.category.value] += 1
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok, "output": self.output, "profile": self.profile, "against": self.against,
            "ocr": self.ocr, "files_checked": self.files_checked, "dicom_checked": self.dicom_checked,
            "images_ocr": self.images_ocr, "identifying_values_searched": dict(self.needles),
            "counts": self.counts(), "warnings": len(self.warnings), "note_findings": len(self.low),
            "notes": list(self.notes), "show_values": self.show_values,
            "findings": [f.to_dict() for f in self.findings],
        }

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=1, sort_keys=True)
