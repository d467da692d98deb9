"""The I/O shell of the risk stage: read the run's manifest and the output's headers, then assess
(metrics.py) or enforce (enforce.py + rewrite.py).  Output side only: no key, no original values."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dicom_deid.errors import ConfigError
from dicom_deid.manifest import MANIFEST_NAME, append_row, last_run, read_manifest
from dicom_deid.risk.catalogue import QiKind, QuasiIdentifier, quasi_by_keyword, quasi_identifiers
from dicom_deid.risk.enforce import Generalisation, plan_k_anonymity
from dicom_deid.risk.metrics import RiskAssessment, assess, records_frame
from dicom_deid.risk.records import Granularity, HeaderScan, scan_output
from dicom_deid.risk.rewrite import apply_generalisation

logger = logging.getLogger(__name__)

KANON_ROW = "k_anonymity"
DEFAULT_SENSITIVE = ("StudyDescription",)


@dataclass(frozen=True)
class RunContext:
    """What the manifest says about the run that wrote OUTPUT (empty for a plain folder)."""

    manifest: Path | None
    profile: str | None = None
    options: tuple[str, ...] = ()
    key_id: str | None = None
    run_id: str | None = None
    generalisations: tuple[dict[str, Any], ...] = ()  # finished k-anonymity rows
    unfinished: dict[str, Any] | None = None  # a k-anonymity row started but not done

    @property
    def granularity(self) -> Granularity:
        level = max((int(g.get("levels", {}).get("StudyDate", 0)) for g in self.generalisations), default=0)
        if level >= 2:
            return Granularity.YEAR
        if self.profile is not None:
            try:
                from dicom_deid.profiles import DateMethod, load_profile

                if load_profile(self.profile).date_method is DateMethod.YEAR:
                    return Granularity.YEAR
            except ConfigError:
                pass  # a custom profile no longer at hand: dates as held
        return Granularity.MONTH if level == 1 else Granularity.DAY


def read_context(output: Path) -> RunContext:
    manifest = output / MANIFEST_NAME
    if not manifest.is_file():
        return RunContext(None)
    rows = last_run(read_manifest(manifest, tolerate_partial=True))
    header = rows[0] if rows and rows[0].get("type") == "run" else {}
    done, started = [], None
    for row in rows:
        if row.get("type") == KANON_ROW:
            if row.get("status") == "done":
                done.append(row)
                started = None
            else:
                started = row
    return RunContext(manifest, header.get("profile"), tuple(header.get("options", ())), header.get("key_id"),
                      header.get("run_id"), tuple(done), started)


@dataclass
class RiskReport:
    """An assessment with what it was made from."""

    assessment: RiskAssessment
    scan: HeaderScan
    context: RunContext
    quasi_rules: dict[str, str] = field(default_factory=dict)  # keyword -> the profile rule that kept it


def _retaining_rule(qi: QuasiIdentifier, context: RunContext) -> tuple[bool, str]:
    """Whether the run's profile keeps ``qi`` (and which rule says so)."""
    from dicom_deid.profiles import ActionCode, Option, load_standard

    rule = load_standard().rule_for(qi.tag)
    if rule is None:
        return True, "not in PS3.15 Table E.1-1: kept"
    try:
        options = frozenset(Option.parse(o) for o in context.options)
    except ConfigError:
        options = frozenset()
    code, provenance = rule.action_for(options)
    return code in (ActionCode.K, ActionCode.C), provenance


def parse_keywords(values: Sequence[str]) -> list[str]:
    """``--quasi A,B --quasi C`` -> [A, B, C], each a known DICOM keyword."""
    out: list[str] = []
    for value in values:
        for kw in (p.strip() for p in value.split(",")):
            if kw and kw not in out:
                quasi_by_keyword(kw)
                out.append(kw)
    return out


def assess_output(output: Path, *, quasi: Sequence[str] | None = None, sensitive: Sequence[str] | None = None,
                  k: int = 5) -> RiskReport:
    """Read OUTPUT's headers and assess the re-identification risk of its patients."""
    output = Path(output)
    if not output.is_dir():
        raise ConfigError("not a folder: give the output folder of a run", path=output)
    if k < 1:
        raise ConfigError(f"--k must be at least 1, got {k}")
    context = read_context(output)
    chosen = [quasi_by_keyword(kw) for kw in quasi] if quasi else list(quasi_identifiers())
    sens_given = sensitive is not None and len(sensitive) > 0
    sens = [quasi_by_keyword(kw) for kw in (sensitive if sens_given else DEFAULT_SENSITIVE)]  # type: ignore[union-attr]
    sens = [s for s in sens if s.keyword not in {q.keyword for q in chosen}]
    scan = scan_output(output, chosen, sens, context.granularity)
    notes: list[str] = []
    rules: dict[str, str] = {}
    if quasi:
        used = [q.keyword for q in chosen]
        for kw in used:
            if not scan.columns_present.get(kw):
                notes.append(f"{kw} is in no output header: every patient holds it empty")
    else:
        used = []
        for qi in chosen:
            kept, rule = _retaining_rule(qi, context)
            if not scan.columns_present.get(qi.keyword):
                continue
            used.append(qi.keyword)
            rules[qi.keyword] = rule
            if not kept and context.profile is not None:
                notes.append(f"{qi.keyword} is present although profile {context.profile} removes it ({rule}): "
                             "run dicom-deid verify")
    sens_used = [s.keyword for s in sens if scan.columns_present.get(s.keyword) or sens_given]
    if context.unfinished is not None:
        notes.append("a k-anonymity pass was interrupted: re-run the same `dicom-deid run` command to finish it")
    frame = records_frame(scan.records, scan.columns)
    result = assess(frame, used, k_target=k, sensitive=sens_used, notes=notes)
    return RiskReport(result, scan, context, rules)


def enforce_output(output: Path, k: int, *, quasi: Sequence[str] | None = None) -> tuple[Generalisation, int]:
    """Make OUTPUT ``k``-anonymous; returns the plan and how many files were rewritten.

    The plan is appended to the manifest (``k_anonymity``, status ``started``) before any file
    changes and again with status ``done`` after the last; a run interrupted in between is
    finished by re-applying the recorded plan (every change is idempotent).
    """
    output = Path(output)
    context = read_context(output)
    if context.manifest is None:
        raise ConfigError("no dicom-deid manifest in OUTPUT: k-anonymity applies to a run's output", path=output)
    if context.unfinished is not None and int(context.unfinished.get("k", 0)) == k:
        plan = Generalisation.from_row(context.unfinished)
    else:
        chosen = [quasi_by_keyword(kw) for kw in quasi] if quasi else list(quasi_identifiers())
        scan = scan_output(output, chosen, (), Granularity.DAY)
        used = [q for q in chosen if scan.columns_present.get(q.keyword) or quasi]
        plan = plan_k_anonymity(records_frame(scan.records, scan.columns), used, k)
        append_row(context.manifest, {"type": KANON_ROW, "status": "started", **plan.to_row()})
    summary = apply_generalisation(output, plan)
    append_row(context.manifest, {"type": KANON_ROW, "status": "done", "files_rewritten": summary.rewritten,
                                  **plan.to_row()})
    return plan, summary.rewritten


def describe_levels(plan: Generalisation) -> str:
    names = plan.level_names()
    parts = [f"{kw} {names[kw]}" for kw, lv in plan.levels.items() if lv]
    if plan.rare_models:
        parts.append(f"{len(plan.rare_models)} rare device model(s) generalised to the manufacturer")
    if plan.suppressed:
        parts.append(f"{sum(len(v) for v in plan.suppressed.values())} value(s) of "
                     f"{len(plan.suppressed)} patient(s) emptied")
    return "; ".join(parts) or "nothing: already K-anonymous"


__all__ = ["DEFAULT_SENSITIVE", "KANON_ROW", "QiKind", "RiskReport", "RunContext", "assess_output",
           "describe_levels", "enforce_output", "parse_keywords", "read_context"]
