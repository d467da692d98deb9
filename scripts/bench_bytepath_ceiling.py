"""Ceiling of a byte-level path (issue 16, draft): per-file CPU of today's stages against a raw scan
(dicom_deid/rawscan.py) and a join of the kept top-level byte ranges.  Not a path: a measure.

    python scripts/bench_bytepath_ceiling.py FOLDER [N]
"""
import sys, time, os, statistics
from pathlib import Path

from dicom_deid import rawscan
from dicom_deid.read import parse_instance
from dicom_deid.deidentify import Engine, deidentify
from dicom_deid.keys import SecretKey
from dicom_deid.profiles import load_profile, ActionCode
from dicom_deid.write import encode_dataset
from dicom_deid.plan import plan_actions
import warnings, logging
warnings.simplefilter("ignore"); logging.getLogger("pydicom").setLevel(logging.CRITICAL)

folder = Path(sys.argv[1]); limit = int(sys.argv[2]) if len(sys.argv) > 2 else 10**9
files = sorted(p for p in folder.iterdir() if p.is_file())[:limit]
engine = Engine(load_profile("basic"), SecretKey(b"k" * 32))
t = {k: 0.0 for k in ("read bytes", "parse_instance", "plan", "deidentify (plan+scrub+meta)", "encode_dataset", "raw scan", "raw join of kept top-level")}
fallback = 0; n = 0
for f in files:
    c = time.process_time(); data = f.read_bytes(); t["read bytes"] += time.process_time() - c
    try:
        c = time.process_time(); inst = parse_instance(data, where=f.name); t["parse_instance"] += time.process_time() - c
        c = time.process_time(); plan = plan_actions(inst.dataset, engine.profile, engine.standard, cache=engine.plan_cache); t["plan"] += time.process_time() - c
        c = time.process_time(); res = deidentify(inst.dataset, engine); t["deidentify (plan+scrub+meta)"] += time.process_time() - c
        c = time.process_time(); out = encode_dataset(res.dataset, res.dataset.file_meta); t["encode_dataset"] += time.process_time() - c
    except Exception:
        continue
    n += 1
    c = time.process_time()
    try:
        scan = rawscan.scan_file(data)
    except rawscan.FallBack:
        fallback += 1; t["raw scan"] += time.process_time() - c; continue
    t["raw scan"] += time.process_time() - c
    c = time.process_time()
    keep = [e for e in scan.body if plan.actions.get((e.tag,)) is not None and plan.actions[(e.tag,)].code is ActionCode.K]
    b"".join(data[e.start:e.end] for e in keep)
    t["raw join of kept top-level"] += time.process_time() - c
print(f"{folder}: {n} files handled, raw scan fell back on {fallback}")
for k, v in t.items():
    print(f"  {k:32s} {1000 * v / max(n, 1):7.3f} ms/file")
