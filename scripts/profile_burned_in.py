"""CPU time of the burned-in text search per image, and where it goes.

Usage (one core; CPU time is what is reported, since the machine may be shared)::

    taskset -c 1 .venv/bin/python scripts/profile_burned_in.py ../public_dicom --public-split tune \\
        --profile 25 --dump bench_out/search.json
    taskset -c 1 .venv/bin/python scripts/profile_burned_in.py some/file.dcm other/folder

Runs only the search of the pixel stage (decode, search images, detector passes, recognition,
confirmation: ``detect.find_text``), not the header rules or the write, on each input (``--stages``
also times the decode and the re-encode of the frames, apart from the search); the models
are loaded before timing starts.  Prints CPU seconds per input, the median per single-frame and
multi-frame input, and with ``--profile N`` the N most expensive functions (cumulative) of the
whole run.  ``--dump`` writes each input's judged regions (box, verdict) as JSON, so that two
versions of the code can be checked for the same findings (``--compare`` another dump).

This script measures speed only; recall and over-redaction are measured by
``bench_burned_in.py`` against boxes the code did not make.
"""

from __future__ import annotations

import argparse
import copy
import cProfile
import io
import json
import os
import pstats
import statistics
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import pydicom
import pydicom.errors

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TRUTH = Path(__file__).resolve().parent / "public_text_boxes.json"


def public_inputs(data: Path, split: str) -> list[tuple[str, bytes]]:
    """(name, bytes) of the annotated public items of ``split`` (checked against their sha256)."""
    from bench_burned_in import annotated_bytes

    doc = json.loads(TRUTH.read_text())
    return [(item["file"], annotated_bytes(data, item)) for item in doc["items"] if item["split"] == split]


def path_inputs(paths: list[Path]) -> list[tuple[str, bytes]]:
    files: list[Path] = []
    for path in paths:
        files.extend(sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path])
    return [(str(p), p.read_bytes()) for p in files]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="CPU time of the burned-in text search per image")
    parser.add_argument("paths", nargs="+", type=Path, help="DICOM files or folders (with --public-split: the data folder)")
    parser.add_argument("--public-split", choices=("tune",), help="the annotated public items of this split")
    parser.add_argument("--profile", type=int, default=0, metavar="N", help="print the N costliest functions")
    parser.add_argument("--sort", choices=("cumulative", "tottime"), default="cumulative",
                        help="order of the --profile listing (tottime: time in each function itself)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="search each input this many times, memories emptied (least CPU kept)")
    parser.add_argument("--dump", type=Path, help="write each input's judged regions as JSON")
    parser.add_argument("--detector-model", type=Path,
                        help="another detection model file (an experiment: e.g. a quantised derivative)")
    parser.add_argument("--compare", type=Path, help="a --dump of another version: report differences")
    parser.add_argument("--passes", action="store_true",
                        help="print each network pass of each input: view, turned or not, input size, CPU")
    parser.add_argument("--stages", action="store_true",
                        help="also time each input's decode and its re-encode (the pixel stage's write of the "
                             "frames, with its check that the new stream decodes to them)")
    args = parser.parse_args(argv)

    from dicom_deid.errors import DeidError
    from dicom_deid.pixels.decode import decode_pixels
    from dicom_deid.pixels.detect import find_text
    from dicom_deid.pixels.encode import encode_frames
    from dicom_deid.pixels.ocr import DbnetDetector
    from dicom_deid.pixels.recognize import CrnnRecognizer
    from dicom_deid.pixels.views import derived_flags, search_images

    inputs = public_inputs(args.paths[0], args.public_split) if args.public_split else path_inputs(args.paths)
    detector, recognizer = DbnetDetector(model_path=args.detector_model), CrnnRecognizer()
    warm = np.zeros((64, 64), np.uint8)
    detector.detect(warm)
    recognizer.read_crops([np.zeros((16, 48, 3), np.uint8)])

    passes: list[str] = []
    if args.passes:
        _record_passes(detector, passes)
    profiler = cProfile.Profile(time.process_time) if args.profile else None  # CPU time, not wall
    rows: list[dict[str, object]] = []
    stage_totals = [0.0, 0.0]  # decode, re-encode (--stages)
    for name, raw in inputs:
        try:
            ds = pydicom.dcmread(io.BytesIO(raw), force=True)
            if "PixelData" not in ds:
                continue
            start = time.process_time()
            decoded = decode_pixels(ds)
            decode_cpu = time.process_time() - start
        except (DeidError, pydicom.errors.InvalidDicomError) as exc:  # reported and skipped
            print(f"skip {name}: {type(exc).__name__}: {exc}", file=sys.stderr)
            continue
        best = float("inf")
        search = None
        for _ in range(max(1, args.repeat)):
            _forget(detector, recognizer)  # a repeat is searched again, not answered from memory
            start = time.process_time()
            if profiler is not None:
                profiler.enable()
            images = search_images(decoded)
            search = find_text(images, detector, recognizer, derived=derived_flags(decoded, len(images)))
            if profiler is not None:
                profiler.disable()
            best = min(best, time.process_time() - start)
        assert search is not None
        judged = [[j.box.x, j.box.y, j.box.width, j.box.height, j.verdict.value] for j in search.judged]
        facts = decoded.facts
        row: dict[str, object] = {"name": name, "frames": facts.frames, "rows": facts.rows,
                                  "columns": facts.columns, "cpu": best, "judged": judged}
        stages = ""
        if args.stages:
            start = time.process_time()
            written = encode_frames(copy.deepcopy(ds), decoded.frames, facts)  # the same cost as redacted frames
            encode_cpu = time.process_time() - start
            row.update(decode_cpu=decode_cpu, encode_cpu=encode_cpu)
            stage_totals[0] += decode_cpu
            stage_totals[1] += encode_cpu
            stages = f"  decode {decode_cpu:6.3f} s  encode {encode_cpu:6.3f} s ({written.note[:28]})"
        rows.append(row)
        print(f"{best:7.3f} s  {facts.frames:3d}f {facts.rows}x{facts.columns}  "
              f"{sum(j[4] == 'confirmed' for j in judged):2d} confirmed / {len(judged):2d}{stages}  {name[-70:]}",
              flush=True)
        for line in passes:
            print(f"           {line}")
        passes.clear()

    single = [float(r["cpu"]) for r in rows if r["frames"] == 1]  # type: ignore[arg-type]
    multi = [float(r["cpu"]) for r in rows if r["frames"] != 1]  # type: ignore[arg-type]
    print(f"single-frame: {len(single)} inputs, median {statistics.median(single) if single else float('nan'):.3f} s, "
          f"total {sum(single):.2f} s")
    if multi:
        print(f"multi-frame:  {len(multi)} inputs, median {statistics.median(multi):.3f} s, total {sum(multi):.2f} s")
    if args.stages:
        print(f"decode: total {stage_totals[0]:.2f} s, re-encode: total {stage_totals[1]:.2f} s")
    if profiler is not None:
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats(args.sort).print_stats(args.profile)
        print(text.getvalue())
    if args.dump:
        args.dump.parent.mkdir(parents=True, exist_ok=True)
        args.dump.write_text(json.dumps(rows, indent=1))
    if args.compare:
        other = {r["name"]: r for r in json.loads(args.compare.read_text())}
        differ = matched = 0
        for row in rows:
            before = other.get(str(row["name"]))
            if before is None:
                continue
            matched += 1
            if sorted(before["judged"]) != sorted(row["judged"]):  # type: ignore[type-var]
                differ += 1
                print(f"DIFFERS {row['name']}\n  was {sorted(before['judged'])}\n  now {sorted(row['judged'])}")  # type: ignore[type-var]
        print(f"compared {matched} inputs: {differ} differ ({len(rows) - matched} not in the other dump: "
              "names are the paths as given)")
    return 0


def _forget(detector: Any, recognizer: Any) -> None:
    """Empty the memories of images searched and crops read of ``detector`` (and its variants) and
    ``recognizer``: otherwise a repeat finds its answers there, at almost no cost."""
    from dicom_deid.pixels.ocr import ImageMemo

    for holder in (detector, *(detector.__dict__.get(key) for key in ("_plain", "_flat")), recognizer):
        if holder is not None:
            holder._recent = ImageMemo(holder._recent.size)


def _record_passes(detector: Any, lines: list[str]) -> None:
    """Make ``detector`` (and its variants, made later) note each network pass in ``lines``:
    which view (equalised or flat), turned or not, the network input's size, CPU seconds."""
    from dicom_deid.pixels.ocr import DbnetDetector

    original = DbnetDetector.network_map

    def network_map(self: DbnetDetector, prepared: Any, scan: Any, **kw: Any) -> Any:
        start = time.process_time()
        out = original(self, prepared, scan, **kw)
        view = "enhanced" if self.enhance else "flat"
        turned = "turned" if scan.rotate90 else "level"
        lines.append(f"{view:8s} {turned:6s} {prepared.shape[0]}x{prepared.shape[1]} -> network "
                     f"{out.shape[0]}x{out.shape[1]}  {time.process_time() - start:.3f} s")
        return out

    DbnetDetector.network_map = network_map  # type: ignore[method-assign]
    del detector


if __name__ == "__main__":
    raise SystemExit(main())
