"""Cost of ``--pixels auto`` (series sampling) against ``--pixels off`` on a CT/MR export without text.

Usage (one core; CPU time is reported because the machine may be shared)::

    taskset -c 0 .venv/bin/python scripts/bench_sampling.py ../public_dicom --count 1000 \
        [--sources neurolabusc+dcm_qa_ge/In/SliceTimingRT,neurolabusc+dcm_qa_ge/In/SliceTimingMPh]

builds (as links, nothing copied) an export of ``--count`` real MR/CT instances from the public
folders named in ``SOURCES`` or ``--sources`` (whole series in walk order, largest images first), then runs the
pipeline in this process, serially, with ``--pixels off`` and with ``--pixels auto``, each
``--repeat`` times (alternating), and prints files/s per CPU second (medians), the overhead of
``auto`` (of the medians; of the fastest run of each mode; and the median of the ratios of the
runs made side by side, ``overhead_paired``: on a shared machine a neighbour's load slows both
runs of a pair alike; and ``overhead_steady``, of each input's least disturbed run, see
``steady``), and where its time goes (the survey's median): the header survey (with
the one walk of INPUT, which ``auto`` keeps and replays), the searched samples, the instances
recorded as "sampled series found clear"; and which writer wrote the files of each mode
(``encoders_off``, ``encoders_auto``: "bytes" for the byte path, "pydicom").  ``--input DIR``
benchmarks an export you already have instead.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pydicom

#: Real scanner exports without burned-in text (looked at: phantoms and volunteers, MR and CT).
SOURCES = ("neurolabusc+dcm_qa_uih", "neurolabusc+dcm_qa_ge", "neurolabusc+dcm_qa", "neurolabusc+dcm_qa_toshiba")


def build_export(public: Path, count: int, target: Path, sources: tuple[str, ...] = SOURCES) -> tuple[int, int]:
    """Link ``count`` CT/MR image instances (whole series first) into ``target``."""
    found: list[tuple[int, str, Path]] = []
    for source in sources:
        for root, _dirs, files in sorted(os.walk(public / source)):
            for name in sorted(files):
                path = Path(root) / name
                try:
                    ds = pydicom.dcmread(path, stop_before_pixels=True)
                except (pydicom.errors.InvalidDicomError, OSError):
                    continue
                if ds.get("Modality") in ("CT", "MR") and "Rows" in ds:
                    found.append((-int(ds.Rows) * int(ds.Columns), str(ds.get("SeriesInstanceUID", "")), path))
    found.sort(key=lambda t: (t[0], t[1], str(t[2])))
    series = set()
    for index, (_, uid, path) in enumerate(found[:count]):
        link = target / f"{index // 100:03d}" / f"{index:05d}.dcm"
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(path)
        series.add(uid)
    return min(count, len(found)), len(series)


def run_once(inputs: Path, output: Path, mode: str, key: Path) -> dict[str, Any]:
    from dicom_deid.api import build_engine
    from dicom_deid.config import RunConfig
    from dicom_deid.keys import load_secret_key
    from dicom_deid.manifest import read_manifest
    from dicom_deid.pipeline import run
    from dicom_deid.pixels import PixelMode
    from dicom_deid.profiles import load_profile

    shutil.rmtree(output, ignore_errors=True)
    profile = load_profile("basic")
    engine, _ = build_engine(profile, load_secret_key(key), pixels=PixelMode(mode))
    config = RunConfig(input=inputs, output=output, workers=1, force=True)
    survey = [0.0]
    if mode == "auto":  # time the header survey on its own
        from dicom_deid.pixels import phases

        real = phases.survey

        def timed(refs: Any, **options: Any) -> Any:
            start = time.process_time()
            out = list(real(refs, **options))
            survey[0] += time.process_time() - start
            return iter(out)

        phases.survey = timed
    from dicom_deid.events import FileDone

    per_file: dict[int, float] = {}
    last = [0.0]

    def on_event(event: object) -> None:  # CPU time from the previous input's end to this one's
        if isinstance(event, FileDone):
            now = time.process_time()
            per_file[event.ordinal] = now - last[0]
            last[0] = now

    start, wall = time.process_time(), time.perf_counter()
    last[0] = start
    try:
        summary = run(config, engine, on_event=on_event)
    finally:
        if mode == "auto":
            phases.survey = real
    cpu, wall = time.process_time() - start, time.perf_counter() - wall
    assert summary.manifest is not None
    rows = [r for r in read_manifest(summary.manifest) if r.get("type") == "file"]
    ways = Counter(str((r.get("pixels") or {}).get("examination")) for r in rows)
    encoders = Counter(str(r.get("encoder")) for r in rows)  # "bytes": written from the input bytes
    per_way: dict[str, float] = {}
    for r in rows:
        way = str((r.get("pixels") or {}).get("examination"))
        per_way[way] = per_way.get(way, 0.0) + float(r.get("seconds", 0.0))
    return {"cpu": cpu, "wall": wall, "files": len(rows), "survey_cpu": survey[0], "per_file": per_file,
            "rest_cpu": cpu - sum(per_file.values()), "examinations": dict(ways), "encoders": dict(encoders),
            "wall_by_examination": {k: round(v, 2) for k, v in per_way.items()},
            "redacted": sum(1 for r in rows if (r.get("pixels") or {}).get("redacted"))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="CPU cost of --pixels auto against --pixels off")
    parser.add_argument("public", type=Path, nargs="?", help="folder of public DICOM (to build the export)")
    parser.add_argument("--input", type=Path, help="an export to use as it is (instead of building one)")
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--sources", default=",".join(SOURCES),
                        help="comma-separated folders under the public folder (default: %(default)s)")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("bench_out"))
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="bench-sampling-"))
    try:
        if args.input is not None:
            inputs, series = args.input, None
            instances = sum(1 for _ in inputs.rglob("*") if _.is_file())
        else:
            if args.public is None:
                parser.error("give the public DICOM folder or --input")
            inputs = work / "export"
            sources = tuple(s.strip() for s in args.sources.split(",") if s.strip())
            instances, series = build_export(args.public, args.count, inputs, sources)
        from dicom_deid.keys import create_secret_key

        key = work / "secret.key"
        create_secret_key(key)
        results: dict[str, list[dict[str, Any]]] = {"off": [], "auto": []}
        run_once(inputs, work / "warm", "auto", key)  # models loaded, caches warm
        for _ in range(args.repeat):
            for mode in ("off", "auto"):
                results[mode].append(run_once(inputs, work / f"out-{mode}", mode, key))
        off = statistics.median(r["cpu"] for r in results["off"])
        auto = statistics.median(r["cpu"] for r in results["auto"])
        best_off = min(r["cpu"] for r in results["off"])  # the least disturbed runs on a shared machine
        best_auto = min(r["cpu"] for r in results["auto"])
        last = results["auto"][-1]

        def steady(mode: str) -> float:
            """CPU time with each input's least disturbed run: the sum over inputs of the least CPU
            time between one input's end and the next's (the survey falls in the first sample's),
            over the runs of a mode, plus the least time outside them (noise on a shared machine
            comes in bursts; this keeps each input's own cost)."""
            runs = results[mode]
            per_input = sum(min(r["per_file"].get(o, float("inf")) for r in runs) for o in runs[0]["per_file"])
            return float(per_input + min(r["rest_cpu"] for r in runs))

        steady_off, steady_auto = steady("off"), steady("auto")
        report = {
            "instances": instances, "series": series, "cpu_off_s": round(off, 2), "cpu_auto_s": round(auto, 2),
            "files_per_cpu_s_off": round(instances / off, 1), "files_per_cpu_s_auto": round(instances / auto, 1),
            "overhead": round(auto / off - 1.0, 3), "overhead_best": round(best_auto / best_off - 1.0, 3),
            "cpu_steady_off_s": round(steady_off, 2), "cpu_steady_auto_s": round(steady_auto, 2),
            "overhead_steady": round(steady_auto / steady_off - 1.0, 3),
            "overhead_paired": round(statistics.median(
                a["cpu"] / o["cpu"] for o, a in zip(results["off"], results["auto"], strict=True)) - 1.0, 3),
            "survey_cpu_s": round(statistics.median(r["survey_cpu"] for r in results["auto"]), 2),
            "examinations": last["examinations"], "wall_by_examination": last["wall_by_examination"],
            "encoders_off": results["off"][-1]["encoders"], "encoders_auto": last["encoders"],
            "redacted": last["redacted"], "cpu_affinity": len(os.sched_getaffinity(0)), "runs": results,
        }  # fmt: skip
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "bench_sampling.json").write_text(json.dumps(report, indent=1))
        for run_list in results.values():
            for r in run_list:
                r["per_file"] = {str(k): round(v, 5) for k, v in r["per_file"].items()}
        for key_name, value in report.items():
            if key_name != "runs":
                print(f"{key_name:>24}: {value}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
