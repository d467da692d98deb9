#!/usr/bin/env python3
"""Precision of ``verify --against`` on dicom-deid's own output: findings per data set.

Usage::

    python scripts/bench_verify_precision.py [--sets NAME,...] [--profile basic] [--ocr auto]
        [--per-folder 100] [--seeds 0] [--workdir bench_out/verify_precision] [--details 15]

For each data set, the input (a sample of at most ``--per-folder`` files per folder of the public
set, or the generated sample export for each ``--seeds``) is de-identified by ``dicom-deid run``
with ``--profile``, then ``verify_output(OUTPUT, against=INPUT)`` checks the output.  Every
finding of dicom-deid's own output is a false alarm unless a reviewer finds a real leak: the
script prints, per data set, inputs, written, quarantined, findings (errors + warnings), notes and
the most frequent finding details.  Public data lives in ../public_dicom (or $DICOM_DEID_PUBLIC_DATA) (see its README.md;
never committed, CI cannot see it).

Tune/report split (see the verify section of the README): tuned on ``sample`` (seed 0),
``pydicom``, ``dcm_qa`` and ``fo-dicom``; reported on the others (``pydicom-data``, the other
dcm_qa vendor sets, ``dcm4che``, ``highdicom``, ``deid-data``, ``presidio``, ``mithp``) and on
generated seeds other than 0.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import io
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PUBLIC = Path(os.environ.get("DICOM_DEID_PUBLIC_DATA", Path(__file__).resolve().parents[2] / "public_dicom"))
SETS: dict[str, str] = {
    "pydicom": "pydicom-test-files",
    "pydicom-data": "pypi-pydicom-data",
    "dcm_qa": "neurolabusc+dcm_qa",
    "dcm_qa_ge": "neurolabusc+dcm_qa_ge",
    "dcm_qa_toshiba": "neurolabusc+dcm_qa_toshiba",
    "dcm_qa_uih": "neurolabusc+dcm_qa_uih",
    "dcm_qa_agfa": "neurolabusc+dcm_qa_agfa",
    "fo-dicom": "fo-dicom+fo-dicom",
    "dcm4che": "dcm4che+dcm4che",
    "highdicom": "ImagingDataCommons+highdicom",
    "deid-data": "pypi-deid-data",
    "presidio": "microsoft+presidio",
    "mithp": "mithp+dicom-redactor",
}
TUNED = frozenset({"sample-0", "pydicom", "dcm_qa", "fo-dicom"})


def _sample_public(src: Path, dst: Path, per_folder: int) -> int:
    """Link at most ``per_folder`` files of each folder of ``src`` (evenly spaced in name order)."""
    count = 0
    for folder, dirs, files in os.walk(src):
        dirs.sort()
        names = sorted(files)
        step = max(1, -(-len(names) // per_folder))
        for name in names[::step]:
            target = dst / Path(folder).relative_to(src) / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(Path(folder) / name)
            count += 1
    return count


def _generate(dst: Path, seed: int) -> int:
    subprocess.run([sys.executable, str(ROOT / "scripts" / "make_sample_data.py"), str(dst), "--seed", str(seed)],
                   check=True, capture_output=True)
    return sum(1 for p in dst.rglob("*") if p.is_file())


def _run(inp: Path, out: Path, key: Path, profile: str, options: list[str], pixels: str | None,
         workers: int) -> dict[str, int]:
    from dicom_deid.cli import main as deid_main
    from dicom_deid.manifest import MANIFEST_NAME, read_manifest

    argv = ["run", str(inp), str(out), "--key-file", str(key), "--profile", profile, "--quiet", "--workers", str(workers),
            "--mapping", str(out.parent / f"{out.name}.ddmap")]
    for option in options:
        argv += ["--option", option]
    if pixels:
        argv += ["--pixels", pixels]
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        deid_main(argv)
    summary = next(r for r in read_manifest(out / MANIFEST_NAME) if r.get("type") == "summary")
    return dict(summary["counts"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sets", default="sample," + ",".join(SETS),
                        help="comma-separated data sets (default: all): sample, " + ", ".join(SETS))
    parser.add_argument("--profile", default="basic")
    parser.add_argument("--option", action="append", default=[], metavar="NAME")
    parser.add_argument("--pixels", choices=("auto", "all", "off"), default=None,
                        help="run's pixel mode (default: the profile's)")
    parser.add_argument("--workers", type=int, default=1, help="run's workers (default 1: in this process)")
    parser.add_argument("--ocr", choices=("auto", "all", "off"), default="auto", help="verify's OCR mode")
    parser.add_argument("--per-folder", type=int, default=100,
                        help="files per folder of a public set, evenly spaced (default 100)")
    parser.add_argument("--seeds", default="0", help="generated sample export seeds (default 0)")
    parser.add_argument("--workdir", type=Path, default=ROOT / "bench_out" / "verify_precision")
    parser.add_argument("--details", type=int, default=10, help="most frequent finding details to print")
    args = parser.parse_args(argv)

    from dicom_deid.keys import create_secret_key
    from dicom_deid.verify import Severity, verify_output

    work = args.workdir
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    os.environ["DICOM_DEID_HOME"] = str(work / "home")
    key = work / "secret.key"
    create_secret_key(key)
    names = [s.strip() for s in args.sets.split(",") if s.strip()]
    rows = []
    for name in names:
        jobs: list[tuple[str, Path]] = []
        if name == "sample":
            for seed in (int(s) for s in args.seeds.split(",")):
                inp = work / f"sample-{seed}" / "in"
                _generate(inp, seed)
                jobs.append((f"sample-{seed}", inp))
        elif name in SETS:
            src = PUBLIC / SETS[name]
            if not src.is_dir():
                print(f"{name}: {src} missing, skipped")
                continue
            inp = work / name / "in"
            _sample_public(src, inp, args.per_folder)
            jobs.append((name, inp))
        else:
            parser.error(f"unknown data set {name!r}")
        for label, inp in jobs:
            out = inp.parent / "out"
            inputs = sum(1 for p in inp.rglob("*") if p.is_file() or p.is_symlink())
            started = time.perf_counter()
            counts = _run(inp, out, key, args.profile, args.option, args.pixels, args.workers)
            run_s = time.perf_counter() - started
            started = time.perf_counter()
            result = verify_output(out, against=inp, ocr=args.ocr)
            verify_s = time.perf_counter() - started
            sev = collections.Counter(f.severity for f in result.findings)
            findings = sev[Severity.ERROR] + sev[Severity.WARNING]
            notes = sum(n for s, n in sev.items() if s not in (Severity.ERROR, Severity.WARNING))
            rows.append((label, inputs, counts.get("written", 0), counts.get("quarantined", 0), result.dicom_checked,
                         result.images_ocr, sev[Severity.ERROR], sev[Severity.WARNING], notes, len(result.notes),
                         run_s, verify_s))
            print(f"\n== {label}{' (tuned)' if label in TUNED else ' (reported)'}: {inputs} inputs, "
                  f"{counts.get('written', 0)} written, {counts.get('quarantined', 0)} quarantined; verify "
                  f"{result.dicom_checked} DICOM, OCR {result.images_ocr} images: {findings} finding(s) "
                  f"({sev[Severity.ERROR]} errors, {sev[Severity.WARNING]} warnings), {notes} note-level, "
                  f"{len(result.notes)} run notes  [run {run_s:.0f} s, verify {verify_s:.0f} s]")
            kinds = collections.Counter((f.severity.value, f.category.value, f.where.split("[")[0], f.detail[:90])
                                        for f in result.findings)
            for (severity, category, where, detail), n in kinds.most_common(args.details):
                print(f"   {n:5d} {severity:7s} {category} {where}: {detail}")
            for note in result.notes[: args.details]:
                print(f"         note: {note[:160]}")
    print("\nset                 inputs written quarant. dicom  ocr errors warnings notes run-notes")
    for label, inputs, written, quarantined, dicom, ocr, errors, warnings, notes, run_notes, _r, _v in rows:
        mark = "*" if label in TUNED else " "
        print(f"{label + mark:19s} {inputs:6d} {written:7d} {quarantined:8d} {dicom:5d} {ocr:4d} {errors:6d} "
              f"{warnings:8d} {notes:5d} {run_notes:9d}")
    print("(* tuned on; the others are reported, not tuned)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
