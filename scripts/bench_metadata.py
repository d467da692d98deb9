#!/usr/bin/env python3
"""Metadata-only de-identification throughput: dicom-deid vs dicognito, same corpus, one core.

    python scripts/bench_metadata.py [--files 2000] [--repeat 3] [--work DIR]

Generates a corpus of small CT/MR instances with planted PHI (scripts/make_sample_data.py
--bench-files), pins this process to one core, and times each tool over the whole corpus
(read, de-identify, write) in CPU seconds of this process (robust when other work shares the
machine), printing files/s and MB/s per CPU second (median of --repeat runs) and the ratio.
dicognito is optional: `pip install dicognito` to include it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))


def _dicom_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix not in (".txt", ".png", ".jpg"))


def run_dicom_deid(inp: Path, out: Path, key_dir: Path) -> float:
    from dicom_deid.config import RunConfig
    from dicom_deid.deidentify import Engine
    from dicom_deid.keys import load_or_create_secret_key
    from dicom_deid.manifest import Outcome
    from dicom_deid.pipeline import run
    from dicom_deid.profiles import load_profile

    key, _, _ = load_or_create_secret_key(key_dir / "secret.key" if (key_dir / "secret.key").exists() else None)
    engine = Engine(load_profile("basic"), key)  # pixels off: metadata only, no sealed mapping (as before)
    t0 = time.process_time()
    summary = run(RunConfig(input=inp, output=out), engine)
    dt = time.process_time() - t0
    assert summary.counts[Outcome.WRITTEN] > 0, summary.counts
    return dt


def run_dicognito(files: list[Path], out: Path) -> float:
    import pydicom
    from dicognito.anonymizer import Anonymizer

    out.mkdir(parents=True, exist_ok=True)
    anonymizer = Anonymizer()
    t0 = time.process_time()
    for i, f in enumerate(files):
        ds = pydicom.dcmread(f)
        anonymizer.anonymize(ds)
        ds.save_as(out / f"{i}.dcm")
    return time.process_time() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--work", type=Path, default=None)
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    work = args.work or Path(tempfile.mkdtemp(prefix="deid-bench-"))
    os.environ.setdefault("DICOM_DEID_HOME", str(work / "home"))
    inp = work / "in"
    if not inp.exists():
        from make_sample_data import generate_bench

        generate_bench(inp, args.files)
    files = _dicom_files(inp)
    mb = sum(f.stat().st_size for f in files) / 1e6
    print(f"corpus: {len(files)} files, {mb:.1f} MB, one core (pid affinity), CPU time, median of {args.repeat}")
    results: dict[str, list[float]] = {"dicom-deid": [], "dicognito": []}
    try:
        import dicognito  # noqa: F401
    except ImportError:
        del results["dicognito"]
        print("dicognito not installed: pip install dicognito to compare")
    for _ in range(args.repeat):
        for name, times in results.items():
            out = work / f"out-{name}"
            shutil.rmtree(out, ignore_errors=True)
            if name == "dicom-deid":
                times.append(run_dicom_deid(inp, out, work / "home"))
            else:
                times.append(run_dicognito(files, out))
    med = {k: statistics.median(v) for k, v in results.items()}
    for name, secs in med.items():
        print(f"{name:12s} {len(files) / secs:8.1f} files/s {mb / secs:7.1f} MB/s  (median {secs:.2f} s)")
    if "dicognito" in med:
        print(f"ratio dicom-deid / dicognito: {med['dicognito'] / med['dicom-deid']:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
