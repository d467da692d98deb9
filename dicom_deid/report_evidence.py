"""The evidence section of the report: re-identification risk, class-size histogram, k-anonymity
record, HIPAA Safe Harbor table and GDPR note.  Pure HTML from a RiskReport and the manifest rows;
output side (pseudonyms, keywords and counts only)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from dicom_deid.report_html import esc, histogram_svg, table
from dicom_deid.risk.assessment import RiskReport
from dicom_deid.risk.evidence import (
    HarborStatus,
    gdpr_note,
    safe_harbor_rows,
    safe_harbor_verdict,
    tally_manifest,
)
from dicom_deid.risk.metrics import AttackerRisk

_MAX_SMALL = 200
_STATUS_CLASS = {HarborStatus.HANDLED: "ok", HarborStatus.FINDING: "bad", HarborStatus.NOT_COVERED: "warn"}


def _pct(x: float) -> str:
    return f"{x:.1%}"


def _attacker(r: AttackerRisk) -> str:
    return (f"highest {_pct(r.highest_risk)}, records at risk {_pct(r.records_at_risk)}, "
            f"success rate {_pct(r.success_rate)}")


def risk_section(report: RiskReport) -> str:
    a = report.assessment
    status = (f'<p class="ok">Every patient shares its quasi-identifiers with at least {a.k_target - 1} others '
              f"(k = {a.k}).</p>" if a.ok else
              f'<p class="bad">k = {a.k}: {a.patients_below_k} of {a.patients} patient(s) are in classes smaller '
              f"than {a.k_target}.</p>")
    quasi = ", ".join(f"{q} ({report.quasi_rules[q]})" if q in report.quasi_rules else q for q in a.quasi)
    figures = [
        ("patients / instances read", f"{a.patients} / {report.scan.instances} (headers only)"),
        ("quasi-identifiers", quasi or "none present"),
        ("minimum k", a.k), ("equivalence classes", a.classes),
        ("patients in classes below K", f"{a.patients_below_k} (K = {a.k_target})"),
        ("prosecutor risk", _attacker(a.prosecutor)),
        ("journalist risk", _attacker(a.journalist)
         + ("" if a.population_given else " (the release as its own population)")),
        ("marketer risk", f"success rate {_pct(a.marketer)}"),
    ]
    if a.sensitive:
        figures.append((f"l-diversity / t-closeness ({', '.join(a.sensitive)})",
                        f"l = {a.l_diversity}, t = {a.t_closeness:.3f}"))
    intro = ('<p class="muted">One record per patient with the quasi-identifiers as the output holds them; '
             "risks in ARX's sense (El Emam): records at risk are those in classes below K.</p>")
    parts = ['<section id="risk"><h2>Re-identification risk</h2>', status, intro, table(("", ""), figures)]
    if a.histogram:
        parts.append(f'<img class="plot" src="{histogram_svg(a.histogram, a.k_target)}" width="640" height="260" '
                     'alt="equivalence class size histogram">')
        parts.append(table(("class size", "classes", "patients"), [(s, n, s * n) for s, n in a.histogram],
                           numeric=(0, 1, 2)))
    if a.rarest_attributes:
        parts.append("<h3>What makes the small classes small</h3>"
                     + table(("attribute with the rarest value", "small classes"), a.rarest_attributes, numeric=(1,)))
    if a.small_classes:
        rows = [(c.size, c.rarest, c.rarest_count, ", ".join(c.patients)) for c in a.small_classes[:_MAX_SMALL]]
        more = (f"<p class='muted'>First {_MAX_SMALL} of {len(a.small_classes)} classes; "
                "<code>dicom-deid risk OUTPUT --json</code> lists all.</p>") if len(a.small_classes) > _MAX_SMALL else ""
        parts.append(f"<details><summary>Patients in classes below {a.k_target} (pseudonyms)</summary>"
                     + table(("size", "rarest attribute", "patients sharing it", "patients"), rows, numeric=(0, 2))
                     + more + "</details>")
    parts.extend(f"<p class='warn'>{esc(n)}</p>" for n in a.notes)
    parts.append("</section>")
    return "".join(parts)


def kanon_section(rows: Iterable[Mapping[str, Any]]) -> str:
    done = [r for r in rows if r.get("type") == "k_anonymity" and r.get("status") == "done"]
    if not done:
        return ""
    items = []
    for r in done:
        levels = ", ".join(f"{kw}: {r.get('level_names', {}).get(kw, lv)}" for kw, lv in r.get("levels", {}).items()
                           if lv) or "none"
        supp = r.get("suppressed", {})
        items.append((r.get("k"), f"{r.get('k_before')} → {r.get('k_after')}", levels,
                      len(r.get("rare_models", [])), f"{r.get('suppressed_cells', 0)} value(s) of {len(supp)} patient(s)",
                      _pct(float(r.get("information_loss", 0.0))), r.get("files_rewritten", 0)))
    return ('<section id="kanon"><h2>k-anonymity enforcement</h2>'
            + table(("K", "k before → after", "generalised", "rare models", "emptied", "information loss",
                     "files rewritten"), items, numeric=(0, 3, 6))
            + "<p class='muted'>Information loss: mean over patient × quasi-identifier cells of 0 (unchanged), "
              "level / (hierarchy height + 1) (generalised: a month 1/3, a year 2/3) or 1 (emptied).</p></section>")


def harbor_section(report: RiskReport, manifest_rows: Iterable[Mapping[str, Any]],
                   header: Mapping[str, Any]) -> str:
    tally = tally_manifest(manifest_rows)
    rows = safe_harbor_rows(tally, report.scan, header.get("options", ()))
    body = [(r.number, esc(r.title), f'<span class="{_STATUS_CLASS[r.status]}" style="white-space:nowrap">{esc(r.status.value)}</span>',
             esc(r.what), esc(r.attributes), esc(r.note)) for r in rows]
    return ('<section id="safeharbor"><h2>HIPAA Safe Harbor (45 CFR 164.514(b)(2))</h2>'
            f"<p><b>{esc(safe_harbor_verdict(rows))}</b></p>"
            "<p class='muted'>Attributes: action codes applied by the run (instances) and instances still holding "
            "a value in the output (top level and file meta; nested attributes are checked by "
            "<code>dicom-deid verify</code>).</p>"
            + table(("#", "identifier", "status", "what dicom-deid did", "attributes concerned", "note"), body,
                    numeric=(0,), raw=(1, 2, 3, 4, 5))
            + "</section>")


def gdpr_section(header: Mapping[str, Any]) -> str:
    return ('<section id="gdpr"><h2>GDPR note</h2>' + "".join(f"<p>{esc(p)}</p>" for p in gdpr_note(header))
            + "</section>")


def evidence_sections(report: RiskReport, manifest_rows: Sequence[Mapping[str, Any]],
                      header: Mapping[str, Any]) -> list[str]:
    return [risk_section(report), kanon_section(manifest_rows), harbor_section(report, manifest_rows, header),
            gdpr_section(header)]


EVIDENCE_NAV = [("risk", "Risk"), ("kanon", "k-anonymity"), ("safeharbor", "Safe Harbor"), ("gdpr", "GDPR")]

__all__ = ["EVIDENCE_NAV", "evidence_sections", "gdpr_section", "harbor_section", "kanon_section", "risk_section"]
