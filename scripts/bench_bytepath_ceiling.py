#!/usr/bin/env python3
"""Per-stage CPU of the two write paths (issue 16): read, plan + scrub, encode, per file, in process.

    python scripts/bench_bytepath_ceiling.py FOLDER [N] [--rounds 3] [--profile basic]

Each round runs the pydicom path and the byte path (bytepath.py) over the same N files, in
memory (no output files, no manifest, no mapping: bench_metadata.py measures whole runs), and
checks that both give the same bytes.  Medians over the rounds; CPU time of this process
(``time.process_time``), so pin it to one core (``taskset -c 1``) on a shared machine.  Also
prints a raw scan of the same bytes (rawscan_floor.py: tag, VR and length of every element, nothing
decoded), the floor of any reader written in Python.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
import warnings
from pathlib import Path

from dicom_deid.deidentify import Engine, deidentify
from dicom_deid.errors import DeidError
from dicom_deid.keys import SecretKey
from dicom_deid.profiles import load_profile
from dicom_deid.read import parse_instance
from dicom_deid.write import encode_dataset

sys.path.insert(0, str(Path(__file__).resolve().parent))
import rawscan_floor

STAGES = ("read (parse_instance)", "plan + scrub (deidentify)", "encode", "total")


def run_path(datas: list[bytes], engine: Engine, byte_path: bool) -> tuple[dict[str, float], list[bytes], int]:
    """CPU seconds per stage, the outputs, and how many files the byte path took."""
    spent = dict.fromkeys(STAGES, 0.0)
    outputs: list[bytes] = []
    taken = 0
    clock = time.process_time
    for data in datas:
        t0 = clock()
        try:
            ds = parse_instance(data, where="input", fast=byte_path, memo=engine.decode_memo).dataset
            t1 = clock()
            result = deidentify(ds, engine, data=data if byte_path else None)
            t2 = clock()
            copies = (result.copies.spliced or None) if result.copies is not None else None
            outputs.append(encode_dataset(result.dataset, result.dataset.file_meta, copies, memo=engine.encode_memo))
            t3 = clock()
        except DeidError:
            outputs.append(b"")
            continue
        taken += copies is not None
        spent["read (parse_instance)"] += t1 - t0
        spent["plan + scrub (deidentify)"] += t2 - t1
        spent["encode"] += t3 - t2
        spent["total"] += t3 - t0
    return spent, outputs, taken


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("folder", type=Path)
    ap.add_argument("limit", type=int, nargs="?", default=10**9)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--profile", default="basic")
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    logging.getLogger("pydicom").setLevel(logging.CRITICAL)
    files = sorted(p for p in args.folder.rglob("*") if p.is_file())[:args.limit]
    datas = [p.read_bytes() for p in files]
    engine = Engine(load_profile(args.profile), SecretKey(b"k" * 32))
    results: dict[str, list[dict[str, float]]] = {"pydicom": [], "bytes": []}
    scans: list[float] = []
    taken = 0
    for _ in range(args.rounds):
        old, old_out, _none = run_path(datas, engine, byte_path=False)
        new, new_out, taken = run_path(datas, engine, byte_path=True)
        if old_out != new_out:
            differ = next(f.name for f, a, b in zip(files, old_out, new_out, strict=True) if a != b)
            print(f"bench: the byte path wrote other bytes than the pydicom path for {differ}", file=sys.stderr)
            return 1
        results["pydicom"].append(old)
        results["bytes"].append(new)
        t0 = time.process_time()
        for data in datas:
            try:
                rawscan_floor.scan_file(data)
            except rawscan_floor.FallBack:
                pass
        scans.append(time.process_time() - t0)
    n = len(datas)
    print(f"{args.folder}: {n} files, profile {args.profile}, median of {args.rounds} rounds, CPU ms per file; "
          f"byte path took {taken}, outputs byte-identical")
    print(f"  {'stage':28s} {'pydicom':>8s} {'bytes':>8s}")
    for stage in STAGES:
        old_ms = 1000 * statistics.median(r[stage] for r in results["pydicom"]) / n
        new_ms = 1000 * statistics.median(r[stage] for r in results["bytes"]) / n
        print(f"  {stage:28s} {old_ms:8.3f} {new_ms:8.3f}")
    print(f"  {'raw scan (rawscan_floor.py)':28s} {1000 * statistics.median(scans) / n:8.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
