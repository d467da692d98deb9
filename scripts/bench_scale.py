#!/usr/bin/env python3
"""Scaling: files/s and MB/s for 1..N local workers and a local Dask cluster, peak RSS per worker.

    python scripts/bench_scale.py [--files 2000] [--workers 1,2] [--dask] [--pixels off|auto]
                                  [--memory-check]

Each configuration runs `dicom-deid run` as a child process on the same generated corpus
(scripts/make_sample_data.py --bench-files) and reports wall time, files/s, MB/s and the peak
resident memory of the largest process (the parent or one worker).  --memory-check also runs
1 worker on a corpus 10x smaller and prints both peaks, to show memory stays flat with size.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))


def _corpus(work: Path, files: int) -> tuple[Path, float]:
    inp = work / f"in-{files}"
    if not inp.exists():
        from make_sample_data import generate_bench

        generate_bench(inp, files)
    mb = sum(p.stat().st_size for p in inp.rglob("*") if p.is_file()) / 1e6
    return inp, mb


_WRAPPER = (
    "import resource,subprocess,sys,time;t=time.perf_counter();"
    "subprocess.run([sys.executable,'-m','dicom_deid','run',*sys.argv[1:],'--quiet'],stdout=subprocess.DEVNULL);"
    "print(time.perf_counter()-t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss/1024)"
)


def _run(inp: Path, out: Path, args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, peak RSS MB of the largest descendant), measured in a fresh wrapper process."""
    shutil.rmtree(out, ignore_errors=True)
    shutil.rmtree(out.with_name(out.name + ".quarantine"), ignore_errors=True)
    res = subprocess.run([sys.executable, "-c", _WRAPPER, str(inp), str(out), *args], env=env,
                         capture_output=True, text=True, check=True)
    wall, rss = (float(x) for x in res.stdout.split())
    return wall, rss


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=2000)
    ap.add_argument("--workers", default=",".join(str(n) for n in sorted({1, 2, os.cpu_count() or 1})))
    ap.add_argument("--dask", action="store_true", help="also a LocalCluster with as many workers")
    ap.add_argument("--pixels", default="off", choices=("off", "auto", "all"))
    ap.add_argument("--memory-check", action="store_true")
    ap.add_argument("--work", type=Path)
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="deid-scale-"))
    env = dict(os.environ, DICOM_DEID_HOME=str(work / "home"))
    inp, mb = _corpus(work, args.files)
    print(f"corpus: {args.files} files, {mb:.1f} MB; pixels={args.pixels}; cores={os.cpu_count()}")
    print(f"{'backend':14s} {'workers':>7s} {'seconds':>8s} {'files/s':>8s} {'MB/s':>7s} {'peak RSS MB':>11s}")
    base = None
    for n in [int(x) for x in args.workers.split(",")]:
        wall, rss = _run(inp, work / "out", ["--workers", str(n), "--pixels", args.pixels], env)
        base = base or wall
        print(f"{'local pool':14s} {n:7d} {wall:8.2f} {args.files / wall:8.1f} {mb / wall:7.1f} {rss:11.0f}"
              f"   speed-up {base / wall:.2f}x")
    if args.dask:
        from distributed import LocalCluster

        n = max(int(x) for x in args.workers.split(","))
        with LocalCluster(n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1",
                          dashboard_address=None) as cluster:
            wall, _ = _run(inp, work / "out", ["--dask", cluster.scheduler_address, "--pixels", args.pixels], env)
        print(f"{'dask local':14s} {n:7d} {wall:8.2f} {args.files / wall:8.1f} {mb / wall:7.1f} {'-':>11s}")
    if args.memory_check:
        small, _ = _corpus(work, max(1, args.files // 10))
        _, rss_small = _run(small, work / "out-small", ["--workers", "1", "--pixels", args.pixels], env)
        _, rss_large = _run(inp, work / "out-large", ["--workers", "1", "--pixels", args.pixels], env)
        print(f"peak RSS per worker, 1 worker: {args.files // 10} files {rss_small:.0f} MB, "
              f"{args.files} files {rss_large:.0f} MB ({rss_large / rss_small:.2f}x for 10x the files)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
