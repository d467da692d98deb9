"""Evidence pack: the HIPAA Safe Harbor table and the GDPR note, from the manifest and the scan.

Pure functions: the manifest rows are folded into counts (no values are read from them: the
manifest holds none), joined with what the header scan found left in the output.
"""

from __future__ import annotations

import enum
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from dicom_deid.risk.catalogue import Check, SafeHarborCategory, safe_harbor_categories
from dicom_deid.risk.records import HeaderScan

_NO_PIXELS_MODALITIES = frozenset({"SR", "KO", "PR", "REG", "RTSTRUCT", "RTPLAN", "RTRECORD", "DOC", "RTDOSE"})
_INDEX = re.compile(r"\[\d+\]")


class HarborStatus(enum.Enum):
    HANDLED = "handled"  # removed, replaced or generalised everywhere the scan looked
    FINDING = "present in output"  # values left that Safe Harbor does not allow
    NOT_COVERED = "not covered"  # this run did not examine where the category can be


@dataclass
class ManifestTally:
    """Counts folded from a run's manifest rows."""

    written: int = 0
    changed: Counter[str] = field(default_factory=Counter)  # keyword -> instances where it was changed
    by_code: dict[str, Counter[str]] = field(default_factory=dict)  # keyword -> action code -> instances
    image_instances: int = 0
    pixels_examined: int = 0
    pixels_redacted: int = 0
    boxes: int = 0

    def add(self, row: Mapping[str, Any]) -> None:
        if row.get("type") != "file" or row.get("outcome") not in ("written", "already_done"):
            return
        self.written += 1
        for code, paths in (row.get("changes") or {}).items():
            seen = set()
            for path in paths:
                for part in _INDEX.sub("", str(path)).split("."):
                    seen.add(part)
            for kw in seen:
                self.changed[kw] += 1
                self.by_code.setdefault(kw, Counter())[code] += 1
        pixels = row.get("pixels") or {}
        if (row.get("modality") or "") not in _NO_PIXELS_MODALITIES:
            self.image_instances += 1
        if pixels.get("examined"):
            self.pixels_examined += 1
        if pixels.get("redacted"):
            self.pixels_redacted += 1
            self.boxes += len(pixels.get("boxes") or [])


def tally_manifest(rows: Iterable[Mapping[str, Any]]) -> ManifestTally:
    tally = ManifestTally()
    for row in rows:
        tally.add(row)
    return tally


@dataclass(frozen=True, slots=True)
class HarborRow:
    number: int
    title: str
    status: HarborStatus
    what: str  # what dicom-deid did, with counts
    attributes: str  # attributes concerned, with counts
    note: str


def _attr_counts(cat: SafeHarborCategory, tally: ManifestTally, scan: HeaderScan) -> str:
    parts = []
    for kw in cat.attributes:
        codes = tally.by_code.get(kw, Counter())
        done = ", ".join(f"{c} {n}" for c, n in sorted(codes.items()))
        left = scan.present.get(kw, 0)
        if codes or left:
            parts.append(f"{kw} ({done or 'unchanged'}; {left} in output)")
    return "; ".join(parts) or "none present in input or output"


def _pixel_text(cat: SafeHarborCategory, tally: ManifestTally) -> str:
    if not cat.pixels:
        return ""
    if tally.pixels_examined == 0:
        return " Burned-in text: not examined in this run."
    return (f" Burned-in text: {tally.pixels_examined} of {tally.image_instances} image instance(s) examined, "
            f"{tally.pixels_redacted} redacted.")


def safe_harbor_rows(tally: ManifestTally, scan: HeaderScan, options: Iterable[str]) -> list[HarborRow]:
    """One row per Safe Harbor category: status, what was done (counts), attributes concerned."""
    options = set(options)
    rows = []
    for cat in safe_harbor_categories():
        pixel = _pixel_text(cat, tally)
        attrs = _attr_counts(cat, tally, scan)
        if cat.not_covered:
            what = "Not examined by dicom-deid."
            if cat.faces:
                what += (f" {scan.face_risk} instance(s) are head CT/MR/PET/NM or photographs that can show or "
                         "be rendered into a face; review them or deface before release.")
            rows.append(HarborRow(cat.number, cat.title, HarborStatus.NOT_COVERED, what, attrs, cat.note))
            continue
        changed = sum(tally.changed.get(kw, 0) for kw in cat.attributes)
        if cat.check is Check.DATES:
            fine = sum(scan.fine_dates.values())
            bad = fine + scan.ages_over_89
            what = (f"{changed} date/age value(s) changed; {fine} date(s) finer than the year and "
                    f"{scan.ages_over_89} age(s) over 89 left in output.")
        elif cat.check is Check.REMAPPED:
            kept = "retain_uids" in options
            bad = sum(scan.present.get(kw, 0) for kw in cat.attributes if kw.endswith("UID")) if kept else 0
            what = (f"{changed} value(s) replaced by keyed pseudonyms or emptied"
                    + ("; UIDs kept unchanged (retain-uids)." if kept else "."))
        else:
            left = {kw: max(0, scan.present.get(kw, 0) - tally.changed.get(kw, 0)) for kw in cat.attributes}
            bad = sum(left.values())
            kept_list = ", ".join(f"{kw} {n}" for kw, n in left.items() if n)
            what = (f"{changed} value(s) removed, emptied or replaced"
                    + (f"; kept unchanged in output: {kept_list}." if bad else ".") if cat.attributes
                    else "No header attribute holds it.")
        status = HarborStatus.FINDING if bad else HarborStatus.HANDLED
        if cat.pixels and tally.pixels_examined == 0 and tally.image_instances and status is HarborStatus.HANDLED:
            status = HarborStatus.NOT_COVERED  # headers are clean, but burned-in text was not looked at
        rows.append(HarborRow(cat.number, cat.title, status, what + pixel, attrs, cat.note))
    return rows


def safe_harbor_verdict(rows: list[HarborRow]) -> str:
    findings = [str(r.number) for r in rows if r.status is HarborStatus.FINDING]
    uncovered = [str(r.number) for r in rows if r.status is HarborStatus.NOT_COVERED]
    handled = sum(1 for r in rows if r.status is HarborStatus.HANDLED)
    text = f"{handled} of 18 categories handled"
    if findings:
        text += f"; values left in categories {', '.join(findings)}"
    if uncovered:
        text += f"; not covered: {', '.join(uncovered)}"
    verdict = "Safe Harbor is not met" if findings else "Safe Harbor cannot be claimed from this run alone"
    if not findings and not uncovered:
        verdict = "no Safe Harbor identifier was found"
    return f"{verdict}: {text}."


def gdpr_note(header: Mapping[str, Any]) -> list[str]:
    """Who holds the key and the mapping: pseudonymised data is still personal data."""
    key_id = header.get("key_id") or "unknown"
    run_id = header.get("run_id") or "unknown"
    return [
        ("Under the GDPR (Art. 4(5) and Recital 26) this release is pseudonymised, not anonymised: whoever "
         "holds the key or the mapping can link it back to the patients, so it remains personal data for "
         "them, and for any recipient who can reasonably obtain either."),
        (f"Secret key (id {key_id}): held by the operator of the de-identifying machine (dicom-deid's key "
         "folder, mode 0600, never inside the output). It derives every pseudonym, UID and date shift."),
        (f"Sealed mapping of run {run_id}: kept outside the output, encrypted to the custodian's public key; "
         "only the holder of the custodian's private key can open it. Name that custodian in the data sharing "
         "agreement."),
        ("Recipients without the key or mapping should still treat the release as personal data unless an "
         "assessment (e.g. the figures above, an expert determination) shows re-identification is not "
         "reasonably likely."),
    ]

__all__ = ["HarborRow", "HarborStatus", "ManifestTally", "gdpr_note", "safe_harbor_rows", "safe_harbor_verdict",
           "tally_manifest"]
