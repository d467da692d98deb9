"""Command line: argparse -> Deidentifier + RunConfig; errors -> one line + exit code; progress bar.

A thin shell over the public API (``dicom_deid.api.Deidentifier``): ``run`` builds the
Deidentifier (the engine) and the RunConfig from its flags and calls ``run_config``.  The other
verbs live beside it in the CLI layer: ``cli_keys`` (keys, mapping), ``cli_review`` (verify,
report), ``cli_net`` (serve, pull).

Exit codes: 0 success, 1 bad input / keys / internal error, 2 usage error,
3 the run finished but some inputs were quarantined, 4 verify found something.
"""

from __future__ import annotations

import argparse
import gc
import logging
import sys
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dicom_deid._version import __version__
from dicom_deid.cli_engine import add_subject_flags, make_deidentifier
from dicom_deid.errors import ConfigError, DeidError
from dicom_deid.events import Event, FileDone, RunFinished, RunStarted

if TYPE_CHECKING:
    from dicom_deid.config import RunConfig
    from dicom_deid.pipeline import RunSummary
    from dicom_deid.pixels.mode import PixelMode

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
    add_subject_flags(run)
    run.add_argument("--quarantine", type=Path, help="quarantine folder (default: OUTPUT.quarantine)")
    run.add_argument("--pixels", choices=("auto", "all", "off"),
                     help="burned-in text redaction (default: the profile's; a profile without clean_pixel_data "
                          "warns on every run unless --pixels off is given)")
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
    run.add_argument("--progress", choices=("bar", "json", "none"), default=None,
                     help="progress display: bar (default on a terminal, else none), json lines on stderr, none")
    from dicom_deid import cli_risk

    cli_risk.add_run_options(run)
    run.set_defaults(func=cmd_run)

    prof = sub.add_parser("profiles", help="list the named profiles")
    prof.set_defaults(func=cmd_profiles)

    from dicom_deid.cli_keys import register_subcommands as register_keys
    from dicom_deid.cli_net import register_subcommands as register_net
    from dicom_deid.cli_review import register_subcommands as register_review

    register_keys(sub)
    register_review(sub)
    register_net(sub)
    cli_risk.register_subcommands(sub)
    return parser


def cmd_profiles(args: argparse.Namespace) -> int:
    from dicom_deid.profiles import list_profiles, load_profile

    for name in list_profiles():
        p = load_profile(name)
        print(f"{name:12s} {p.description}")
    return EXIT_OK


class _Progress:
    """Progress observer: a bar (files/s, MB/s, counts) or JSON lines for pipelines."""

    def __init__(self, mode: str) -> None:
        self.bar: Any = None  # tqdm (untyped)
        self.mode = mode
        self.quarantined = self.redacted = self.files = 0
        self.bytes = 0
        self.started = 0.0
        from dicom_deid.manifest import Outcome

        self._quarantined = Outcome.QUARANTINED  # read for every file: looked up once

    def __call__(self, event: Event) -> None:
        if isinstance(event, FileDone):
            self._count(event)
            return
        import json
        import time

        if isinstance(event, RunStarted):
            self.started = time.perf_counter()
            if self.mode == "bar":
                from tqdm import tqdm

                self.bar = tqdm(unit="file", file=sys.stderr, dynamic_ncols=True, desc="de-identifying")
        elif isinstance(event, RunFinished) and self.mode == "json":
            print(json.dumps({**self._state(), "done": True, "interrupted": event.interrupted}), file=sys.stderr)

    def _count(self, event: FileDone) -> None:
        self.files += 1
        self.bytes += event.size
        if event.outcome is self._quarantined:
            self.quarantined += 1
            print(f"dicom-deid: quarantined: {event.message}", file=sys.stderr)
        if self.bar is not None:
            import time

            self.bar.update(1)
            secs = max(time.perf_counter() - self.started, 1e-9)
            self.bar.set_postfix(MBps=f"{self.bytes / 1e6 / secs:.1f}", quarantined=self.quarantined,
                                 refresh=False)
        elif self.mode == "json" and self.files % 100 == 0:
            import json

            print(json.dumps(self._state()), file=sys.stderr, flush=True)

    def _state(self) -> dict[str, int | float]:
        import time

        secs = max(time.perf_counter() - self.started, 1e-9)
        return {"files": self.files, "bytes": self.bytes, "files_per_s": round(self.files / secs, 1),
                "mb_per_s": round(self.bytes / 1e6 / secs, 2), "quarantined": self.quarantined}

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _refuse_unused_flags(args: argparse.Namespace) -> None:
    """A flag that would have no effect in this combination is refused, never silently ignored."""
    if args.dry_run:
        for flag, given in (("--mapping", args.mapping), ("--recipient", args.recipient), ("--force", args.force),
                            ("--quarantine", args.quarantine)):
            if given:
                raise ConfigError(f"{flag} has no effect with --dry-run (it writes no output, mapping or quarantine)")
    if args.dask:
        for flag, given, why in (("--workers", args.workers, "the Dask scheduler's workers run the work"),
                                 ("--file-time-limit", args.file_time_limit, "it is enforced on local workers only")):
            if given is not None:
                raise ConfigError(f"{flag} has no effect with --dask: {why}")
    if args.quiet and args.progress not in (None, "none"):
        raise ConfigError(f"--quiet and --progress {args.progress} contradict each other: give one")
    if args.progress == "bar" and not sys.stderr.isatty():
        raise ConfigError("--progress bar needs a terminal on stderr; use --progress json (or none) when logging")


def cmd_run(args: argparse.Namespace) -> int:
    from dicom_deid.cli_risk import check_run_options, enforce_after_run
    from dicom_deid.config import RunConfig
    from dicom_deid.profiles import load_profile, parse_override
    from dicom_deid.subjects import load_subject_map
    from dicom_deid.walk import input_root
    from dicom_deid.workers import default_workers

    quasi = check_run_options(args)
    _refuse_unused_flags(args)
    # the files named first (profile, subject map): a mistake in them stops the run before anything exists
    profile = load_profile(args.profile, extra_options=args.option, overrides=[parse_override(o) for o in args.override],
                           documents=args.documents)
    subject_map = load_subject_map(args.subject_map) if args.subject_map is not None else None
    args.input = input_root(args.input)
    if args.report is not None:
        from dicom_deid.report import validate_report_path

        validate_report_path(args.report, output_root=args.output, input_root=args.input)
    from dicom_deid.pixels.mode import check_pixel_options

    check_pixel_options(profile, args.pixels or profile.pixel_mode)  # an option is done or refused, before OUTPUT exists
    config = RunConfig(input=args.input, output=args.output, quarantine=args.quarantine, dry_run=args.dry_run,
                       workers=args.workers if args.workers is not None else default_workers(),
                       recipient=args.recipient, mapping=args.mapping, sample=args.sample, dask=args.dask,
                       force=args.force, file_cpu_limit=args.file_time_limit,
                       manifest=(args.report.with_name(args.report.stem + ".manifest.jsonl")
                                 if args.dry_run and args.report is not None else None))
    config.validate()  # before any key is created
    from dicom_deid.walk import walk_inputs

    if next(iter(walk_inputs(config.input)), None) is None:
        raise ConfigError("no files found in the input folder: nothing to de-identify", path=config.input)
    from dicom_deid.api import refuse_keys_inside_input
    from dicom_deid.keys import DEFAULT_KEY_NAME, default_key_dir

    key_dir = args.key_file.parent if args.key_file is not None else default_key_dir()
    refuse_keys_inside_input(config, key_dir, creates_key=args.key_file is None
                             and not (key_dir / DEFAULT_KEY_NAME).exists())  # before a key is created
    with _removed_if_refused(args.output):
        if not args.dry_run:
            args.output.mkdir(parents=True, exist_ok=True)  # fails here, before keys or a mapping exist
        deid = make_deidentifier(profile=profile, key_file=args.key_file, pixels=args.pixels,
                                 subject_map=subject_map, unmapped=args.unmapped)
        mode = "none" if args.quiet else args.progress or ("bar" if sys.stderr.isatty() else "none")
        progress = _Progress(mode)
        # what is loaded by now (modules, tables, the engine) outlives the run: the collector's
        # passes over the per-file objects skip it (3 % of a run's time); given back after the run
        # (a caller's own objects, in a test or an embedding program, are collected as before)
        gc.freeze()
        try:
            summary = deid.run_config(config, on_event=progress,
                                      warn=lambda msg: print(f"dicom-deid: warning: {msg}", file=sys.stderr))
        finally:
            gc.unfreeze()
            progress.close()
    if args.dry_run:
        _print_plan(summary)
    if args.k_anonymity is not None and not summary.interrupted and summary.stopped is None:
        enforce_after_run(args, config.output, quasi)
    if args.report is not None and summary.manifest is not None:
        from dicom_deid.report import render_report

        render_report(summary.manifest, args.report, input_root=config.input,
                      quarantine_dir=config.quarantine_dir, output_root=config.output)
    return _print_summary(summary, config, args)


@contextmanager
def _removed_if_refused(output: Path) -> Iterator[None]:
    """An OUTPUT folder this run made is removed again when the run is refused and left it empty."""
    made = not output.exists()
    try:
        yield
    except BaseException:
        if made and output.is_dir() and not any(output.iterdir()):
            output.rmdir()
        raise


def _print_summary(summary: RunSummary, config: RunConfig, args: argparse.Namespace) -> int:
    counts = ", ".join(f"{k.value} {v}" for k, v in sorted(summary.counts.items(), key=lambda kv: kv[0].value))
    rate = summary.files / summary.seconds if summary.seconds else 0.0
    print(f"dicom-deid: {summary.files} inputs in {summary.seconds:.1f} s ({rate:.0f} files/s): {counts}")
    if not args.dry_run:
        print(f"  output:     {config.output}")
        print(f"  manifest:   {summary.manifest}")
        if summary.quarantined:
            print(f"  quarantine: {summary.quarantine} (input side: holds originals)")
        if summary.mapping is not None:
            print(f"  mapping:    {summary.mapping} (sealed to the custodian)")
    if args.report is not None:
        print(f"  report:     {args.report} (input side: may show original images)")
    _print_pixel_summary(summary.pixels, summary.manifest)
    for note in summary.warnings:
        print(f"  warning:    {note}")
    if summary.stopped is not None:
        print(f"dicom-deid: error: {summary.stopped}; the run stopped with {summary.left} inputs left: free space "
              "(or repair the folder), then re-run the same command to finish", file=sys.stderr)
        return EXIT_ERROR
    if summary.interrupted:
        print("dicom-deid: interrupted; re-run the same command to finish", file=sys.stderr)
        return EXIT_ERROR
    from dicom_deid.manifest import Outcome

    not_dicom = sum(v for k, v in summary.counts.items() if k in (Outcome.SKIPPED_NOT_DICOM, Outcome.SKIPPED_DICOMDIR))
    if summary.files and not_dicom == summary.files:
        print("dicom-deid: no DICOM instance among the inputs: nothing was written", file=sys.stderr)
        return EXIT_QUARANTINED
    return EXIT_QUARANTINED if summary.quarantined else EXIT_OK


def _print_pixel_summary(mode: PixelMode, manifest: Path | None) -> None:
    """How pixels were examined; --pixels off is said loudly (burned-in text left as it is)."""
    if mode.value == "off":  # PixelMode.OFF (not imported at run time: the CLI starts fast)
        print("dicom-deid: WARNING: --pixels off: burned-in text was NOT searched in any image; names, IDs "
              "and dates drawn into the pixels are still in the output", file=sys.stderr)
        return
    if manifest is None or not manifest.is_file():
        return
    from collections import Counter

    from dicom_deid.manifest import last_run, read_manifest

    rows = [r for r in last_run(read_manifest(manifest, tolerate_partial=True)) if r.get("type") == "file"]
    ways = Counter(str((r.get("pixels") or {}).get("examination")) for r in rows if r.get("pixels"))
    redacted = sum(1 for r in rows if (r.get("pixels") or {}).get("redacted"))
    review = sum(1 for r in rows if (r.get("pixels") or {}).get("review"))
    if ways:
        parts = ", ".join(f"{k} {v}" for k, v in sorted(ways.items()))
        print(f"  pixels:     --pixels {mode.value}: {parts}; redacted {redacted}"
              + (f"; {review} flagged for defacing review" if review else ""))


def _print_plan(summary: RunSummary) -> None:
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
