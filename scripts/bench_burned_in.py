"""Burned-in text benchmark on data the pixel stage was not written against.

Usage (one core; the machine may be shared, so CPU time is what is reported)::

    taskset -c 0 .venv/bin/python scripts/bench_burned_in.py ../public_dicom \\
        --public-split report --synthetic-seeds 2001,2002 --modes auto,all --out bench_out/burned_in

Two kinds of data, both scored by this script alone (pydicom decoding, Tesseract reading; no
code of ``dicom_deid.pixels`` is used to judge):

* **public** real images with burned-in text: the boxes in ``scripts/public_text_boxes.json``
  were drawn and checked by eye; the images stay in DATA (never in the repository).  Items are
  split ``tune`` (looked at while tuning) and ``report`` (never used for tuning).
* **synthetic** cases of ``scripts/synth_burned_in.py`` (real public bases, many fonts and
  styles): choose seeds never used for tuning for the figures you report.

Each data set goes through the real pipeline (``dicom-deid run`` in this process, serial, one
worker) with ``--pixels auto`` and/or ``all``.  Then, per instance:

* **PHI recall**: share of glyph pixels of identifying text that are black in the output and
  changed, next to a changed pixel, or enclosed by changed pixels (a dark stroke already equal to
  the fill inside a blacked-out box) (``recall_px``), and share of identifying labels whose glyphs
  are >= 98 % covered (``recall_box``; ``recall_box_strict`` does not count enclosed strokes).  Glyphs: the planted masks (synthetic) or the pixels inside each
  annotated box that differ from the box border (public);
* **readable leaks**: Tesseract reads each identifying label in the output; a leak is a run of
  4 letters/digits of the planted value (synthetic) or of what Tesseract read in the input at
  the same place (public).  ``readable_before`` counts the same reading on the input;
* **over-redaction**: changed pixels outside the annotated/planted text (grown by 2 px) and
  outside the ultrasound-region / template rectangles the manifest reports, over the image
  area; region-rule redaction is reported apart (``region_share``);
* **CPU s/instance**: process CPU time per input (decode, search, confirm, re-encode, write);
  ``cpu_total`` includes the header survey of ``auto``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import pydicom
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TRUTH = Path(__file__).resolve().parent / "public_text_boxes.json"


# --- independent rendering and reading ------------------------------------------------------


def frames_of(ds: pydicom.Dataset) -> np.ndarray:
    """Stored values (colour space as stored), F × R × C [× 3], via pydicom."""
    ds.pixel_array_options(as_rgb=False)
    arr = ds.pixel_array
    count = int(ds.get("NumberOfFrames", 1) or 1)
    samples = int(ds.get("SamplesPerPixel", 1))
    return arr.reshape((count, int(ds.Rows), int(ds.Columns)) + ((samples,) if samples > 1 else ()))


def display(ds: pydicom.Dataset, stored: np.ndarray) -> np.ndarray:
    """F × R × C uint8 luminance as a viewer shows it over the full range."""
    from pydicom.pixels import apply_color_lut, convert_color_space

    pi = str(ds.PhotometricInterpretation)
    if pi == "PALETTE COLOR":
        rgb = apply_color_lut(stored, ds).astype(np.float32)
        rgb = rgb / (257.0 if rgb.max() > 255 else 1.0)
    elif pi in ("YBR_FULL", "YBR_FULL_422"):  # JPEG 2000 decoders undo YBR_RCT/ICT themselves: RGB
        rgb = np.stack([convert_color_space(f, "YBR_FULL", "RGB") for f in stored]).astype(np.float32)
    elif stored.ndim == 4:
        rgb = stored.astype(np.float32)
        if int(ds.get("BitsStored", 8)) > 8:
            rgb = rgb * (255.0 / ((1 << int(ds.BitsStored)) - 1))
    else:
        grey = stored.astype(np.float32)
        lo, hi = float(grey.min()), float(grey.max())
        out = (grey - lo) * (255.0 / max(1e-6, hi - lo))
        return (255 - out if pi == "MONOCHROME1" else out).clip(0, 255).astype(np.uint8)
    lum = rgb @ np.array([0.299, 0.587, 0.114], np.float32)
    return lum.clip(0, 255).astype(np.uint8)


class Reader:
    def __init__(self) -> None:
        import tesserocr

        from dicom_deid.tesseract import find_tessdata

        self.api = tesserocr.PyTessBaseAPI(path=find_tessdata(), lang="eng", psm=tesserocr.PSM.SINGLE_LINE)

    def read(self, image: np.ndarray, box: tuple[int, int, int, int], angle: float) -> str:
        import cv2

        x, y, w, h = box
        crop = image[max(0, y - 4) : y + h + 4, max(0, x - 4) : x + w + 4]
        if crop.size == 0:
            return ""
        if angle in (90.0, 270.0):
            crop = np.rot90(crop, k=-1 if angle == 90.0 else 1)
        elif angle:
            centre = (crop.shape[1] / 2, crop.shape[0] / 2)
            crop = cv2.warpAffine(crop, cv2.getRotationMatrix2D(centre, -angle, 1.0),
                                  (crop.shape[1], crop.shape[0]), borderMode=cv2.BORDER_REPLICATE)
        elif h > 1.5 * w:  # vertical text of unknown direction: read both ways, keep the longer
            a = self.read(image, box, 90.0)
            b = self.read(image, box, 270.0)
            return a if len(a) >= len(b) else b
        crop = np.ascontiguousarray(crop)
        factor = max(1.0, min(6.0, 36.0 / max(1, crop.shape[0])))
        crop = cv2.resize(crop, None, fx=factor, fy=factor, interpolation=cv2.INTER_CUBIC)
        if float(np.median(crop)) < 128:
            crop = 255 - crop
        crop = cv2.copyMakeBorder(crop, 12, 12, 12, 12, cv2.BORDER_REPLICATE)
        self.api.SetImage(Image.fromarray(crop))
        return alnum(self.api.GetUTF8Text())


def alnum(text: str) -> str:
    return re.sub(r"[^A-Z0-9]", "", text.upper())


def leaked(target: str, reading: str, run: int = 4) -> bool:
    if len(target) < run:
        return bool(target) and target in reading
    return any(target[i : i + run] in reading for i in range(len(target) - run + 1))


# --- the truth of one instance ---------------------------------------------------------------


@dataclass
class Label:
    box: tuple[int, int, int, int]
    frames: tuple[int, ...] | None
    angle: float
    phi: bool
    value: str | None  # planted value (synthetic); None: read from the input (public)
    ink: np.ndarray | None = None  # R × C bool (public: derived from the input)
    style: str = ""  # how it was drawn (synthetic; printed with misses, never scored)


@dataclass
class Truth:
    name: str
    dataset: str  # data set name for the summary
    labels: list[Label]
    allowed: np.ndarray  # F × R × C or R × C bool: planted/annotated text areas (not over-redaction)
    ink: np.ndarray | None = None  # F × R × C bool (synthetic)
    meta: dict[str, Any] = field(default_factory=dict)


def public_ink(image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """Glyph pixels of an annotated box: those differing from the box's border."""
    x, y, w, h = box
    mask = np.zeros(image.shape, bool)
    crop = image[y : y + h, x : x + w].astype(np.float32)
    if crop.size == 0:
        return mask
    ring = np.concatenate([image[max(0, y - 2), x : x + w], image[min(image.shape[0] - 1, y + h + 1), x : x + w],
                           image[y : y + h, max(0, x - 2)], image[y : y + h, min(image.shape[1] - 1, x + w + 1)]])
    bg = float(np.median(ring))
    diff = np.abs(crop - bg)
    mask[y : y + h, x : x + w] = diff > max(25.0, 0.35 * float(diff.max()))
    return mask


def annotated_bytes(data: Path, item: dict[str, Any]) -> bytes:
    """The bytes of one annotated public item (``file`` or ``archive!member`` under ``data``),
    checked against its recorded sha256."""
    local = item["file"]
    if "!" in local:
        archive, member = local.split("!", 1)
        raw = zipfile.ZipFile(data / archive).read(member)
    else:
        raw = (data / local).read_bytes()
    if hashlib.sha256(raw).hexdigest() != item["sha256"]:
        raise SystemExit(f"{local}: sha256 differs from the annotated file")
    return raw


def load_public(data: Path, split: str, workdir: Path) -> list[tuple[Path, Truth]]:
    doc = json.loads(TRUTH.read_text())
    out = []
    for item in doc["items"]:
        if split != "all" and item["split"] != split:
            continue
        local = item["file"]
        data_bytes = annotated_bytes(data, item)
        name = re.sub(r"[^A-Za-z0-9]+", "_", local)[-80:]
        path = workdir / f"{len(out):03d}_{name}.dcm"
        path.write_bytes(data_bytes)
        ds = pydicom.dcmread(path, force=True)
        image = display(ds, frames_of(ds))[0]
        labels, allowed = [], np.zeros(image.shape, bool)
        for x, y, w, h, kind, _note in item["boxes"]:
            allowed[max(0, y - 2) : y + h + 2, max(0, x - 2) : x + w + 2] = True
            if kind == "symbol":
                continue
            angle = 90.0 if (h > 2 * w and kind != "symbol") else 0.0
            labels.append(Label((x, y, w, h), None, angle, kind == "phi", None, public_ink(image, (x, y, w, h))))
        out.append((path, Truth(local, f"public-{item['split']}", labels, allowed, meta={"note": item["note"]})))
    return out


def load_synthetic(data: Path, seeds: list[int], count: int, workdir: Path) -> list[tuple[Path, Truth]]:
    import cv2
    import synth_burned_in as synth

    out = []
    for seed in seeds:
        for case in synth.make_cases(data, count, seed):
            folder = workdir / f"s{seed}" / case.name
            folder.mkdir(parents=True, exist_ok=True)
            for i, inst in enumerate(case.instances):
                path = folder / f"IM{i:04d}.dcm"
                inst.dataset.save_as(path, enforce_file_format=True)
                grown = np.stack([cv2.dilate(m.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0 for m in inst.label])
                labels = [Label(p.box, p.frames, p.angle, True, alnum(p.text), style=p.style) for p in inst.plants]
                out.append((path, Truth(f"s{seed}/{case.name}/IM{i:04d}", f"synthetic-{seed}", labels, grown,
                                        ink=inst.ink, meta=case.meta)))
    return out


# --- scoring ----------------------------------------------------------------------------------


def filled(mask: np.ndarray) -> np.ndarray:
    """``mask`` with its holes filled: pixels no path outside the mask reaches from the border.

    A dark glyph stroke inside a blacked-out box is often already equal to the fill value, so it
    is not "changed"; it is covered all the same when the changed pixels enclose it.
    """
    import cv2

    h, w = mask.shape
    outside = np.zeros((h + 2, w + 2), np.uint8)
    outside[1:-1, 1:-1] = mask.astype(np.uint8)
    flood = np.zeros((h + 4, w + 4), np.uint8)
    cv2.floodFill(outside, flood, (0, 0), 2)
    return np.asarray(outside[1:-1, 1:-1] != 2)


def score(source: Path, output: Path | None, truth: Truth, pixels: dict[str, Any] | None,
          reader: Reader) -> dict[str, Any]:
    import cv2

    src = pydicom.dcmread(source, force=True)
    before = frames_of(src)
    disp_before = display(src, before)
    count = before.shape[0]
    if output is None:
        after, disp_after = before, disp_before
    else:
        res = pydicom.dcmread(output)
        after = frames_of(res).reshape(before.shape)
        disp_after = display(res, after)
    changed = (before != after) if before.ndim == 3 else (before != after).any(axis=-1)
    black = disp_after <= 3
    redacted = changed & black
    near = np.stack([cv2.dilate(r.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0 for r in redacted])
    strict = near & black
    covered = np.stack([filled(n) for n in near]) & black
    region = np.zeros(changed.shape[1:], bool)
    for b in (pixels or {}).get("boxes", []):
        if b.get("source") in ("ultrasound-region", "template"):
            region[b["y"] : b["y"] + b["h"], b["x"] : b["x"] + b["w"]] = True
    allowed = truth.allowed if truth.allowed.ndim == 3 else np.broadcast_to(truth.allowed, changed.shape)
    over = changed & ~allowed & ~region[None]
    phi_px = phi_cov = boxes = boxes_ok = boxes_strict = leaks = readable = 0
    per_label = []
    for label in truth.labels:
        frames = list(label.frames) if label.frames is not None else list(range(count))
        if truth.ink is not None:
            x, y, w, h = label.box
            ink = np.zeros((len(frames),) + truth.ink.shape[1:], bool)
            ink[:, max(0, y - 1) : y + h + 1, max(0, x - 1) : x + w + 1] = \
                truth.ink[frames, max(0, y - 1) : y + h + 1, max(0, x - 1) : x + w + 1]
        else:
            assert label.ink is not None
            ink = np.broadcast_to(label.ink, (len(frames),) + label.ink.shape)
        total = int(ink.sum())
        got = int((covered[frames] & ink).sum())
        frac = got / total if total else 1.0
        if label.phi and total:
            phi_px += total
            phi_cov += got
            boxes += 1
            boxes_ok += frac >= 0.98
            boxes_strict += int((strict[frames] & ink).sum()) / total >= 0.98
        f = frames[len(frames) // 2]
        if label.phi:
            before_text = reader.read(disp_before[f], label.box, label.angle)
            target = label.value if label.value is not None else before_text
            if len(target) >= 3:
                was = leaked(target, before_text)
                readable += was
                after_text = reader.read(disp_after[f], label.box, label.angle) if output is not None else before_text
                is_leak = leaked(target, after_text) if output is not None else was
                leaks += is_leak
                if is_leak:
                    per_label.append({"box": label.box, "recall": round(frac, 3), "read_after": after_text[:40]})
        if frac < 0.98 and label.phi and total:
            per_label.append({"box": label.box, "recall": round(frac, 3), "style": label.style})
    area = changed.size
    return {
        "name": truth.name, "dataset": truth.dataset, "frames": count, "written": output is not None,
        "phi_px": phi_px, "phi_covered": phi_cov, "phi_labels": boxes, "phi_labels_covered": boxes_ok,
        "phi_labels_covered_strict": boxes_strict,
        "leaks": leaks, "readable_before": readable,
        "over": float(over.sum()) / area, "region_share": float((changed & region[None]).sum()) / area,
        "examination": (pixels or {}).get("examination"), "note": (pixels or {}).get("note"),
        "misses": per_label[:6], "meta": truth.meta,
    }  # fmt: skip


# --- running the pipeline --------------------------------------------------------------------


def run_pipeline(inputs: Path, output: Path, mode: str, key: Path) -> tuple[dict[int, dict[str, Any]], dict[int, float], float]:
    """Serial in-process run; (manifest rows by ordinal, CPU seconds per ordinal, total CPU)."""
    from dicom_deid.api import build_engine  # the API's own assembly of the engine
    from dicom_deid.config import RunConfig
    from dicom_deid.events import FileDone
    from dicom_deid.keys import load_secret_key
    from dicom_deid.manifest import read_manifest
    from dicom_deid.pipeline import run
    from dicom_deid.pixels import PixelMode
    from dicom_deid.profiles import load_profile

    profile = load_profile("basic")
    engine, _ = build_engine(profile, load_secret_key(key), pixels=PixelMode(mode))
    config = RunConfig(input=inputs, output=output, workers=1, force=True)
    cpu: dict[int, float] = {}
    last = [time.process_time()]

    def on_event(event: Any) -> None:
        if isinstance(event, FileDone):
            now = time.process_time()
            cpu[event.ordinal] = now - last[0]
            last[0] = now

    # each mode starts as a fresh process would: the networks' sessions and their memory of images
    # and crops already searched are shared within a process, and a later mode would be answered
    # from what an earlier one searched
    from dicom_deid.pixels import stage

    stage._shared_detector.cache_clear()
    stage._shared_recognizer.cache_clear()
    start = time.process_time()
    summary = run(config, engine, on_event=on_event)
    total = time.process_time() - start
    assert summary.manifest is not None
    rows = {r["ordinal"]: r for r in read_manifest(summary.manifest) if r.get("type") == "file"}
    return rows, cpu, total


def evaluate(name: str, items: list[tuple[Path, Truth]], inputs: Path, mode: str, workdir: Path, key: Path,
             reader: Reader) -> dict[str, Any]:
    from dicom_deid.walk import walk_inputs

    out = workdir / f"out-{name}-{mode}"
    shutil.rmtree(out, ignore_errors=True)
    shutil.rmtree(out.with_name(out.name + ".quarantine"), ignore_errors=True)
    rows, cpu, total = run_pipeline(inputs, out, mode, key)
    by_path = {ref.path.resolve(): ref.ordinal for ref in walk_inputs(inputs)}
    results = []
    for path, truth in items:
        ordinal = by_path[path.resolve()]
        row = rows.get(ordinal, {})
        output = out / row["output"] if row.get("outcome") == "written" else None
        result = score(path, output, truth, row.get("pixels"), reader)
        result["cpu"] = cpu.get(ordinal, float("nan"))
        result["outcome"] = row.get("outcome")
        results.append(result)
    return summarise(results, total)


def summarise(results: list[dict[str, Any]], total_cpu: float) -> dict[str, Any]:
    phi_px = sum(r["phi_px"] for r in results)
    labels = sum(r["phi_labels"] for r in results)
    single = [r["cpu"] for r in results if r["frames"] == 1]
    overs = [r["over"] for r in results]
    return {
        "instances": len(results),
        "phi_labels": labels,
        "recall_px": sum(r["phi_covered"] for r in results) / phi_px if phi_px else 1.0,
        "recall_box": sum(r["phi_labels_covered"] for r in results) / labels if labels else 1.0,
        "recall_box_strict": sum(r["phi_labels_covered_strict"] for r in results) / labels if labels else 1.0,
        "readable_leaks": sum(r["leaks"] for r in results),
        "readable_before": sum(r["readable_before"] for r in results),
        "over_mean": statistics.mean(overs) if overs else 0.0,
        "over_max": max(overs) if overs else 0.0,
        "region_share_mean": statistics.mean(r["region_share"] for r in results) if results else 0.0,
        "cpu_per_single_frame_median": statistics.median(single) if single else float("nan"),
        "cpu_per_single_frame_max": max(single) if single else float("nan"),
        "cpu_total": total_cpu,
        "quarantined": sum(r["outcome"] == "quarantined" for r in results),
        "cases": results,
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="burned-in text benchmark (public + synthetic)")
    parser.add_argument("data", type=Path, help="folder of public DICOM (the benchmark images and bases)")
    parser.add_argument("--public-split", choices=("tune", "report", "all", "none"), default="report")
    parser.add_argument("--synthetic-seeds", default="", help="comma-separated seeds (report: never-tuned ones)")
    parser.add_argument("--synthetic-count", type=int, default=34, help="cases per seed")
    parser.add_argument("--modes", default="auto,all")
    parser.add_argument("--out", type=Path, default=Path("bench_out/burned_in"))
    parser.add_argument("--keep", action="store_true", help="keep the inputs and outputs under --out")
    args = parser.parse_args(argv)

    args.out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="bench-burned-", dir=args.out if args.keep else None))
    key = work / "secret.key"
    from dicom_deid.keys import create_secret_key

    create_secret_key(key)
    reader = Reader()
    sets: list[tuple[str, list[tuple[Path, Truth]], Path]] = []
    if args.public_split != "none":
        folder = work / f"public-{args.public_split}"
        folder.mkdir()
        sets.append((f"public-{args.public_split}", load_public(args.data, args.public_split, folder), folder))
    seeds = [int(s) for s in args.synthetic_seeds.split(",") if s.strip()]
    if seeds:
        folder = work / "synthetic"
        folder.mkdir()
        sets.append((f"synthetic-{'+'.join(map(str, seeds))}", load_synthetic(args.data, seeds, args.synthetic_count,
                                                                              folder), folder))
    report: dict[str, Any] = {"cpu_affinity": len(os.sched_getaffinity(0)), "sets": {}}
    for name, items, folder in sets:
        for mode in [m.strip() for m in args.modes.split(",") if m.strip()]:
            result = evaluate(name, items, folder, mode, work, key, reader)
            report["sets"][f"{name}/{mode}"] = result
            s = {k: v for k, v in result.items() if k != "cases"}
            print(f"{name:>28} {mode:>4}: " + " ".join(
                f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in s.items()), flush=True)
            for case in result["cases"]:
                if case["leaks"] or case["phi_labels_covered"] < case["phi_labels"] or case["over"] > 0.01:
                    print(f"      {case['name'][:60]:<60} over={case['over']:.4f} leaks={case['leaks']} "
                          f"labels={case['phi_labels_covered']}/{case['phi_labels']} cpu={case['cpu']:.2f} "
                          f"{case['examination']} {case['misses'][:3]}", flush=True)
    (args.out / "bench_burned_in.json").write_text(json.dumps(report, indent=1, default=str))
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
