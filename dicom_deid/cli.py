"""Command line: argparse -> RunConfig; errors -> one line + exit code; progress bar.

Exit codes: 0 success, 1 bad input / keys / internal error, 2 usage error,
3 the run finished but some inputs were quarantined, 4 verify found something.
"""

from __future__ import annotations

import argparse
import logging
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dicom_deid import __version__
from dicom_deid.errors import ConfigError, DeidError

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_QUARANTINED = 0, 1, 2, 3
logger = logging.getLogger("dicom_deid")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise ConfigError(message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="dicom-deid", description="De-identify DICOM studies per DICOM PS3.15 Annex E.")
    parser.add_argument("--version", action="version", version=f"dicom-deid {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging (never element values)")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = sub.add_parser("run", help="de-identify INPUT into OUTPUT")
    run.add_argument("input", type=Path, help="folder, DICOMDIR media folder, zip export or single file")
    run.add_argument("output", type=Path, help="output folder (created; must be outside INPUT)")
    run.add_argument("--profile", default="basic", help="profile name (basic, research, safe-harbor) or .toml path")
    run.add_argument("--option", action="append", default=[], metavar="NAME",
                     help="add a PS3.15 option, e.g. retain-uids, retain-long-modified-dates (repeatable)")
    run.add_argument("--override", action="append", default=[], metavar="TAG=ACTION",
                     help="per-tag override: TAG=keep|remove|empty|replace:VALUE (repeatable)")
    run.add_argument("--key-file", type=Path, help="secret key file (default: created on first use under "
                                                   "$DICOM_DEID_HOME or ~/.config/dicom-deid)")
    run.add_argument("--quarantine", type=Path, help="quarantine folder (default: OUTPUT.quarantine)")
    run.add_argument("--pixels", choices=("auto", "all", "off"), help="burned-in text redaction (default: profile)")
    run.add_argument("--documents", choices=("quarantine", "drop", "keep"),
                     help="encapsulated PDF/CDA/STL/OBJ/MTL documents, whose body is never examined: quarantine, "
                          "drop, or keep (written as is, listed in the report); default: the profile's, quarantine")
    run.add_argument("--recipient", type=Path, help="custodian public key (.pub) to seal the mapping to")
    run.add_argument("--mapping", type=Path, help="sealed mapping file path (never inside OUTPUT)")
    run.add_argument("--dry-run", action="store_true", help="print the plan (actions per tag), write nothing")
    run.add_argument("--report", type=Path, metavar="PATH.html",
                     help="write the input-side HTML review report (outside OUTPUT): changes per instance, "
                          "before/after thumbnails of redactions, quarantine reasons")
    run.add_argument("--sample", type=int, metavar="N", help="with --dry-run: only the first N study folders")
    run.add_argument("--workers", type=int, default=None,
                     help="local worker processes (default: all cores of this machine)")
    run.add_argument("--dask", metavar="ADDRESS", help="run the per-file work on this Dask scheduler "
                                                       "(input and output on storage all workers see)")
    run.add_argument("--force", action="store_true",
                     help="redo inputs that a previous run into OUTPUT already completed")
    run.add_argument("--file-time-limit", type=float, metavar="SECONDS",
                     help="CPU seconds one file may take; a worker stuck longer (decompression bomb, "
                          "hung decoder) is killed and the file quarantined")
    run.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    run.add_argument("--progress", choices=("bar", "json", "none"), default="bar",
                     help="progress display: bar (default on a terminal), json lines on stderr, none")
    from dicom_deid import cli_risk

    cli_risk.add_run_options(run)
    run.set_defaults(func=cmd_run)

    prof = sub.add_parser("profiles", help="list the named profiles")
    prof.set_defaults(func=cmd_profiles)

    try:
        from dicom_deid import custodian
    except ImportError:  # pragma: no cover - module ships with the package
        custodian = None  # type: ignore[assignment]
    if custodian is not None and hasattr(custodian, "register_subcommands"):
        custodian.register_subcommands(sub)
        _add_keys_secret(sub.choices["keys"])
    from dicom_deid.cli_review import register_subcommands as register_review

    register_review(sub)
    from dicom_deid.cli_net import register_subcommands as register_net

    register_net(sub)
    cli_risk.register_subcommands(sub)
    return parser


def _add_keys_secret(keys: argparse.ArgumentParser) -> None:
    """``keys secret --out PATH`` beside ``keys custodian`` (registered by custodian.py)."""
    verbs = next(a for a in keys._actions if isinstance(a, argparse._SubParsersAction))
    secret = verbs.add_parser("secret", help="create the secret key that derives every pseudonym (mode 0600)")
    secret.add_argument("--out", required=True, type=Path, metavar="PATH",
                        help="key file to create (never overwritten); give it to run --key-file")
    secret.set_defaults(func=cmd_keys_secret)


def cmd_keys_secret(args: argparse.Namespace) -> int:
    from dicom_deid.keys import create_secret_key

    key = create_secret_key(args.out)
    print(f"secret key: {args.out}  (mode 0600, key id {key.key_id}); run with --key-file {args.out}")
    return EXIT_OK


def cmd_profiles(args: argparse.Namespace) -> int:
    from dicom_deid.profiles import list_profiles, load_profile

    for name in list_profiles():
        p = load_profile(name)
        print(f"{name:12s} {p.description}")
    return EXIT_OK


def _make_engine(args: argparse.Namespace, profile: Any) -> tuple[Any, Path, bool]:
    from dicom_deid.deidentify import Engine
    from dicom_deid.keys import load_or_create_secret_key
    from dicom_deid.profiles import load_standard
    from dicom_deid.remap import Remapper

    key, key_path, created = load_or_create_secret_key(args.key_file)
    pixel_mode = args.pixels or profile.pixel_mode
    stage = _pixel_stage(pixel_mode) if pixel_mode != "off" else None
    return Engine(profile, load_standard(), Remapper(key), stage), key_path, created


def _pixel_stage(mode: str) -> Any:
    """The pixel stage; a missing dependency is an error, never a silent skip of redaction."""
    from dicom_deid.errors import OcrUnavailable

    try:
        from dicom_deid.pixels import PixelMode, PixelPolicy, make_pixel_stage
    except ImportError as exc:
        raise OcrUnavailable(f"burned-in text redaction cannot load ({exc}); install 'dicom-deid[ocr]' "
                             "or run with --pixels off") from None
    return make_pixel_stage(PixelPolicy(mode=PixelMode(mode)))


class _Progress:
    """Progress observer: a bar (files/s, MB/s, counts) or JSON lines for pipelines."""

    def __init__(self, mode: str) -> None:
        self.bar: Any = None
        self.mode = mode
        self.quarantined = self.redacted = self.files = 0
        self.bytes = 0
        self.started = 0.0

    def __call__(self, event: Any) -> None:
        import json
        import time

        from dicom_deid.events import FileDone, RunFinished, RunStarted

        if isinstance(event, RunStarted):
            self.started = time.perf_counter()
            if self.mode == "bar":
                from tqdm import tqdm

                self.bar = tqdm(unit="file", file=sys.stderr, dynamic_ncols=True, desc="de-identifying")
        elif isinstance(event, FileDone):
            self.files += 1
            self.bytes += event.size
            if event.outcome == "quarantined":
                self.quarantined += 1
                print(f"dicom-deid: quarantined: {event.message}", file=sys.stderr)
            if self.bar is not None:
                self.bar.update(1)
                secs = max(time.perf_counter() - self.started, 1e-9)
                self.bar.set_postfix(MBps=f"{self.bytes / 1e6 / secs:.1f}", quarantined=self.quarantined,
                                     refresh=False)
            elif self.mode == "json" and self.files % 100 == 0:
                print(json.dumps(self._state()), file=sys.stderr, flush=True)
        elif isinstance(event, RunFinished) and self.mode == "json":
            print(json.dumps({**self._state(), "done": True, "interrupted": event.interrupted}), file=sys.stderr)

    def _state(self) -> dict[str, Any]:
        import time

        secs = max(time.perf_counter() - self.started, 1e-9)
        return {"files": self.files, "bytes": self.bytes, "files_per_s": round(self.files / secs, 1),
                "mb_per_s": round(self.bytes / 1e6 / secs, 2), "quarantined": self.quarantined}

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def cmd_run(args: argparse.Namespace) -> int:
    from dicom_deid.config import RunConfig
    from dicom_deid.pipeline import run
    from dicom_deid.profiles import load_profile, parse_override

    if args.sample is not None and not args.dry_run:
        raise ConfigError("--sample only applies with --dry-run")
    from dicom_deid.cli_risk import check_run_options, enforce_after_run

    quasi = check_run_options(args)
    overrides = [parse_override(o) for o in args.override]
    profile = load_profile(args.profile, extra_options=args.option, overrides=overrides, documents=args.documents)
    from dicom_deid.walk import input_root
    from dicom_deid.workers import EngineSpec, default_workers

    args.input = input_root(args.input)

    if args.report is not None:
        from dicom_deid.report import validate_report_path

        validate_report_path(args.report, output_root=args.output, input_root=args.input)

    workers = args.workers if args.workers is not None else default_workers()
    RunConfig(input=args.input, output=args.output, profile=profile, quarantine=args.quarantine,
              pixel_mode=args.pixels, workers=workers).validate()  # before any key is created
    if not args.dry_run:
        args.output.mkdir(parents=True, exist_ok=True)  # fails here, before keys or a mapping exist
    engine, key_path, created = _make_engine(args, profile)
    spec = EngineSpec(profile, engine.remapper.key, args.pixels or profile.pixel_mode)
    if created:
        print(f"dicom-deid: created secret key {key_path} (mode 0600); keep it to get the same pseudonyms "
              "in later runs", file=sys.stderr)
    config = RunConfig(input=args.input, output=args.output, profile=profile, key_file=key_path,
                       quarantine=args.quarantine, dry_run=args.dry_run, pixel_mode=args.pixels,
                       workers=workers, recipient=args.recipient, mapping=args.mapping, sample=args.sample,
                       dask=args.dask, force=args.force, file_cpu_limit=args.file_time_limit,
                       manifest=(args.report.with_name(args.report.stem + ".manifest.jsonl")
                                 if args.dry_run and args.report is not None else None))
    config.validate()
    import uuid

    run_id = uuid.uuid4().hex
    mapping = None if args.dry_run else _open_mapping(args, config, key_path, profile, run_id)
    mode = "none" if args.quiet else args.progress
    if mode == "bar" and not sys.stderr.isatty():
        mode = "none"
    progress = _Progress(mode)
    try:
        summary = run(config, engine, mapping=mapping, on_event=progress, run_id=run_id, spec=spec)
    finally:
        progress.close()
    if args.dry_run:
        _print_plan(summary)
    if args.k_anonymity is not None and not summary.interrupted:
        enforce_after_run(args, config.output, quasi)
    if args.report is not None and summary.manifest is not None:
        from dicom_deid.report import render_report

        render_report(summary.manifest, args.report, input_root=config.input,
                      quarantine_dir=config.quarantine_dir, output_root=config.output)
    counts = ", ".join(f"{k} {v}" for k, v in sorted(summary.counts.items()))
    rate = summary.files / summary.seconds if summary.seconds else 0.0
    print(f"dicom-deid: {summary.files} inputs in {summary.seconds:.1f} s ({rate:.0f} files/s): {counts}")
    if not args.dry_run:
        print(f"  output:     {config.output}")
        print(f"  manifest:   {summary.manifest}")
        if summary.quarantined:
            print(f"  quarantine: {summary.quarantine} (input side: holds originals)")
        if mapping is not None and getattr(mapping, "created", True) and getattr(mapping, "path", None):
            print(f"  mapping:    {mapping.path} (sealed to the custodian)")
    if args.report is not None:
        print(f"  report:     {args.report} (input side: may show original images)")
    if summary.stopped is not None:
        print(f"dicom-deid: error: {summary.stopped}; the run stopped with {summary.left} inputs left: free space "
              "(or repair the folder), then re-run the same command to finish", file=sys.stderr)
        return EXIT_ERROR
    if summary.interrupted:
        print("dicom-deid: interrupted; re-run the same command to finish", file=sys.stderr)
        return EXIT_ERROR
    return EXIT_QUARANTINED if summary.quarantined else EXIT_OK


def _open_mapping(args: argparse.Namespace, config: Any, key_path: Path, profile: Any, run_id: str) -> Any:
    from dicom_deid.seal import prepare_run_mapping

    return prepare_run_mapping(
        recipient=args.recipient, mapping=args.mapping, output_dir=config.output, key_dir=key_path.parent,
        run_id=run_id,
        run_info={"profile": profile.name, "options": sorted(o.value for o in profile.options)},
        warn=lambda msg: print(f"dicom-deid: warning: {msg}", file=sys.stderr),
    )


def _print_plan(summary: Any) -> None:
    print("plan (attribute, action, rule, instances):")
    for (path, code, rule), n in sorted(summary.plan.items()):
        print(f"  {path:60s} {code}  {rule}  x{n}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                            format="dicom-deid: %(levelname)s: %(message)s")
        # pydicom's parser warnings quote element values (PHI): keep them out of logs.
        import pydicom  # noqa: F401 - pydicom sets its logger level on import; override after

        logging.getLogger("pydicom").setLevel(logging.CRITICAL)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return int(args.func(args))
    except ConfigError as exc:
        print(f"dicom-deid: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except DeidError as exc:
        print(f"dicom-deid: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("dicom-deid: interrupted", file=sys.stderr)
        return EXIT_ERROR
    except OSError as exc:  # the run's own files (manifest, mapping, folders): disk full, permissions
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"dicom-deid: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
