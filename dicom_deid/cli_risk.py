"""Command line for the risk stage: ``dicom-deid risk`` and ``run --k-anonymity``.

``cli.build_parser`` calls :func:`register_subcommands` and :func:`add_run_options`; ``cli.cmd_run``
calls :func:`enforce_after_run` once the per-file run is finished.  Exit codes of ``risk``: 0 when
every patient is in a class of at least K, 4 when some are not.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from dicom_deid.errors import ConfigError

EXIT_OK, EXIT_BELOW_K = 0, 4
_MAX_LINES = 20


def register_subcommands(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    risk = subparsers.add_parser(
        "risk", help="re-identification risk of an output: k-anonymity, l-diversity, t-closeness, "
                     "prosecutor/journalist/marketer risk (exit 4 when some patients are below K)")
    risk.add_argument("output", type=Path, help="output folder of a dicom-deid run (headers only are read)")
    risk.add_argument("--quasi", action="append", default=[], metavar="KEYWORD[,KEYWORD]",
                      help="quasi-identifiers (default: those the profile retains and the output holds)")
    risk.add_argument("--sensitive", action="append", default=[], metavar="KEYWORD",
                      help="sensitive attribute for l-diversity and t-closeness (default: StudyDescription)")
    risk.add_argument("--k", type=int, default=5, help="the K to check classes against (default 5)")
    risk.add_argument("--json", action="store_true", help="print the assessment as JSON")
    risk.add_argument("--report", type=Path, metavar="PATH.html",
                      help="write the evidence pack (risk figures, class-size histogram, Safe Harbor table, "
                           "GDPR note) as a self-contained HTML page")
    risk.set_defaults(func=cmd_risk)


def add_run_options(run: argparse.ArgumentParser) -> None:
    run.add_argument("--k-anonymity", type=int, metavar="K",
                     help="after the run, generalise (age bands, dates to month/year, height/weight bands, rare "
                          "device models) then empty rare values until every patient shares its "
                          "quasi-identifiers with at least K-1 others")
    run.add_argument("--quasi", action="append", default=[], metavar="KEYWORD[,KEYWORD]",
                     help="with --k-anonymity: the quasi-identifiers (default: those the output holds)")


def check_run_options(args: argparse.Namespace) -> list[str] | None:
    """Validate ``run``'s risk options before any work; returns the quasi-identifier keywords."""
    if args.k_anonymity is None:
        if args.quasi:
            raise ConfigError("--quasi only applies with --k-anonymity")
        return None
    from dicom_deid.risk.assessment import parse_keywords

    if args.k_anonymity < 2:
        raise ConfigError(f"--k-anonymity must be at least 2, got {args.k_anonymity}")
    if args.dry_run:
        raise ConfigError("--k-anonymity cannot be combined with --dry-run (it rewrites the output)")
    return parse_keywords(args.quasi) or None


def enforce_after_run(args: argparse.Namespace, output: Path, quasi: list[str] | None) -> None:
    from dicom_deid.risk.assessment import describe_levels, enforce_output

    plan, rewritten = enforce_output(output, args.k_anonymity, quasi=quasi)
    print(f"dicom-deid: k-anonymity {plan.k}: k was {plan.k_before}, now {plan.k_after} over {plan.patients} "
          f"patient(s); {describe_levels(plan)}; information loss {plan.information_loss:.1%}; "
          f"{rewritten} file(s) rewritten")


def _pct(x: float) -> str:
    return f"{x:.1%}"


def cmd_risk(args: argparse.Namespace) -> int:
    from dicom_deid.risk.assessment import assess_output, parse_keywords

    if args.report is not None:
        from dicom_deid.report import validate_report_path

        validate_report_path(args.report, output_root=args.output)
    quasi = parse_keywords(args.quasi) or None
    sensitive = parse_keywords(args.sensitive) or None
    report = assess_output(args.output, quasi=quasi, sensitive=sensitive, k=args.k)
    if report.scan.instances == 0:
        raise ConfigError("no DICOM instance to assess: give the output folder of a run", path=args.output)
    a = report.assessment
    if args.report is not None:
        from dicom_deid.report import render_evidence_report

        render_evidence_report(report, args.report)
    if args.json:
        out: dict[str, Any] = {"output": str(args.output), "instances": report.scan.instances,
                               "unreadable": report.scan.unreadable, **a.to_dict()}
        print(json.dumps(out, indent=1, sort_keys=True))
        return EXIT_OK if a.ok else EXIT_BELOW_K
    print(f"dicom-deid risk: {a.patients} patient(s), {report.scan.instances} instance(s) in {args.output}; "
          f"quasi-identifiers: {', '.join(a.quasi) or 'none'}")
    hist = ", ".join(f"{size}: {n}" for size, n in a.histogram)
    print(f"  k = {a.k} (target {a.k_target}); {a.classes} equivalence class(es); class sizes (size: classes) {hist}")
    print(f"  {a.patients_below_k} patient(s) in classes below {a.k_target}")
    p, j = a.prosecutor, a.journalist
    print(f"  prosecutor: highest risk {_pct(p.highest_risk)}, records at risk {_pct(p.records_at_risk)}, "
          f"success rate {_pct(p.success_rate)}")
    population = "" if a.population_given else " (the release as its own population)"
    print(f"  journalist: highest risk {_pct(j.highest_risk)}, records at risk {_pct(j.records_at_risk)}, "
          f"success rate {_pct(j.success_rate)}{population}")
    print(f"  marketer:   success rate {_pct(a.marketer)}")
    if a.sensitive:
        print(f"  l-diversity ({', '.join(a.sensitive)}): {a.l_diversity}; t-closeness: {a.t_closeness:.3f}")
    if a.rarest_attributes:
        print("  what makes small classes small: "
              + ", ".join(f"{kw} ({n} class(es))" for kw, n in a.rarest_attributes))
    for cls in a.small_classes[:_MAX_LINES]:
        print(f"  below k: size {cls.size}, rarest {cls.rarest} ({cls.rarest_count} patient(s) share it): "
              f"{', '.join(cls.patients[:8])}{' ...' if len(cls.patients) > 8 else ''}")
    if len(a.small_classes) > _MAX_LINES:
        print(f"  ... {len(a.small_classes) - _MAX_LINES} more class(es) below k (use --json)")
    for note in a.notes:
        print(f"  note: {note}")
    if report.scan.unreadable:
        print(f"  note: {report.scan.unreadable} file(s) could not be read as DICOM and were left out")
    if args.report is not None:
        print(f"  report: {args.report} (output side)", file=sys.stderr)
    return EXIT_OK if a.ok else EXIT_BELOW_K


__all__ = ["EXIT_BELOW_K", "EXIT_OK", "add_run_options", "check_run_options", "cmd_risk", "enforce_after_run",
           "register_subcommands"]
