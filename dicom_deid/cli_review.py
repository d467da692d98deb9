"""Command line for review: ``dicom-deid verify`` and ``dicom-deid report``.

``cli.build_parser`` calls :func:`register_subcommands`; errors are raised as ``DeidError``
subclasses and mapped to exit codes by ``cli.main``.  Exit codes: 0 clean, 4 findings.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from dicom_deid.errors import ConfigError

if TYPE_CHECKING:
    from dicom_deid.subjects import SubjectMap

EXIT_OK, EXIT_FINDINGS = 0, 4
_MAX_LINES = 50
_ORDER = {"error": 0, "warning": 1, "note": 2}


def register_subcommands(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``verify`` and ``report`` to the main parser's subcommands."""
    verify = subparsers.add_parser(
        "verify", help="re-read an output folder and report anything identifying left (exit 4 on findings)")
    verify.add_argument("output", type=Path, help="output folder of a dicom-deid run (or any folder of DICOM)")
    verify.add_argument("--against", type=Path, metavar="INPUT",
                        help="the input it was made from: search the output for the input's identifying values "
                             "and original UIDs")
    _add_common(verify)
    verify.add_argument("--json", action="store_true", help="print the result as JSON (for pipelines)")
    verify.add_argument("--show-values", action="store_true",
                        help="print original values in findings (needs --against; input side only)")
    verify.set_defaults(func=cmd_verify)

    report = subparsers.add_parser("report", help="write the self-contained HTML review report of a run")
    report.add_argument("run_output", type=Path, help="output folder of a run (or its manifest)")
    report.add_argument("--out", type=Path, required=True, metavar="PATH.html", help="report file to write")
    report.add_argument("--against", type=Path, metavar="INPUT",
                        help="the run's input: before/after thumbnails and quarantine sources (input-side "
                             "report, refused inside the output folder)")
    report.add_argument("--verify", action="store_true", help="run verify and include its findings")
    _add_common(report)
    report.add_argument("--show-values", action="store_true",
                        help="original values of changed attributes, first instance per series (needs --against)")
    report.add_argument("--sample", type=int, default=12, metavar="N",
                        help="thumbnails of N images that were not redacted (default 12)")
    report.set_defaults(func=cmd_report)


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--profile", help="profile to check against (default: the one the manifest names)")
    parser.add_argument("--option", action="append", default=[], metavar="NAME", help="add a PS3.15 option")
    parser.add_argument("--override", action="append", default=[], metavar="TAG=ACTION",
                        help="a per-tag override the run was given (keep, remove, empty, replace:VALUE)")
    parser.add_argument("--ocr", choices=("auto", "all", "off"), default="auto",
                        help="OCR of pixel data: images at risk of burned-in text (auto), all, or off")
    parser.add_argument("--dciodvfy", action="store_true",
                        help="DICOM conformance check (dicom3tools); with --against, report new errors only")
    parser.add_argument("--key-file", type=Path, metavar="PATH",
                        help="the run's secret key (with --against): recompute the exact pseudonyms instead of "
                             "accepting their form")
    parser.add_argument("--subject-map", type=Path, metavar="FILE.csv",
                        help="the run's subject map: its subject IDs and names are the profile's replacement values")


def _profile(args: argparse.Namespace, output: Path):  # type: ignore[no-untyped-def]
    """The profile to check against: --profile, else the manifest's; plus --option and --override."""
    from dataclasses import replace

    from dicom_deid.profiles import Option, load_profile, parse_override
    from dicom_deid.verify import resolve_profile

    overrides = [parse_override(o) for o in args.override]
    if args.profile is None and not args.option and not overrides:
        return None
    if args.profile is not None:
        return load_profile(args.profile, extra_options=args.option, overrides=overrides)
    base, _notes = resolve_profile(output, None)
    return replace(base, options=base.options | {Option.parse(o) for o in args.option},
                   overrides={**base.overrides, **dict(overrides)})


def _key(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from dicom_deid.keys import load_secret_key

    return load_secret_key(args.key_file) if args.key_file is not None else None


def _subject_map(args: argparse.Namespace) -> SubjectMap | None:
    from dicom_deid.subjects import load_subject_map

    return load_subject_map(args.subject_map) if args.subject_map is not None else None


def cmd_verify(args: argparse.Namespace) -> int:
    from dicom_deid.verify import verify_output

    result = verify_output(args.output, against=args.against, profile=_profile(args, args.output), ocr=args.ocr,
                           dciodvfy=args.dciodvfy, show_values=args.show_values, key=_key(args),
                           subject_map=_subject_map(args))
    if result.dicom_checked == 0:
        raise ConfigError("nothing to verify: no DICOM file found; give the output folder of a run",
                          path=args.output)
    if args.json:
        print(result.dumps())
        return EXIT_OK if result.ok else EXIT_FINDINGS
    side = f"against {args.against}" if args.against else "without the input (no value search)"
    low = f", {len(result.warnings)} warning(s), {len(result.low)} note(s)" if result.warnings or result.low else ""
    print(f"dicom-deid verify: {result.files_checked} files ({result.dicom_checked} DICOM) checked {side}, "
          f"profile {result.profile}, OCR {result.ocr} ({result.images_ocr} images): "
          f"{len(result.errors)} finding(s){low}")
    ordered = sorted(result.findings, key=lambda f: _ORDER[f.severity.value])
    for finding in ordered[:_MAX_LINES]:
        value = f" = {finding.value!r}" if finding.value is not None else ""
        print(f"  {finding.category.value} {finding.severity.value:7s} {finding.file}  {finding.where}: "
              f"{finding.detail}{value}")
    if len(result.findings) > _MAX_LINES:
        print(f"  ... {len(result.findings) - _MAX_LINES} more (use --json)")
    for note in result.notes:
        print(f"  note: {note}")
    return EXIT_OK if result.ok else EXIT_FINDINGS


def cmd_report(args: argparse.Namespace) -> int:
    from dicom_deid.report import render_report
    from dicom_deid.verify import verify_output

    run_output = args.run_output if args.run_output.is_dir() else args.run_output.parent
    result = None
    if args.verify:
        result = verify_output(run_output, against=args.against, profile=_profile(args, run_output), ocr=args.ocr,
                               dciodvfy=args.dciodvfy, show_values=args.show_values, key=_key(args),
                               subject_map=_subject_map(args))
    manifest = args.run_output / "dicom-deid-manifest.jsonl" if args.run_output.is_dir() else args.run_output
    path = render_report(manifest, args.out, input_root=args.against, verify=result,
                         sample_thumbnails=args.sample, show_values=args.show_values)
    side = "input side: keep it with the input" if args.against or args.show_values else "output side"
    print(f"dicom-deid: report written to {path} ({side})", file=sys.stderr)
    if result is not None and not result.ok:
        print(f"dicom-deid: verify found {len(result.errors)} finding(s)", file=sys.stderr)
        return EXIT_FINDINGS
    return EXIT_OK


__all__ = ["EXIT_FINDINGS", "EXIT_OK", "cmd_report", "cmd_verify", "register_subcommands"]
