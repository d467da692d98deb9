"""Benchmark `dicom-deid risk`: header throughput and peak memory against the number of instances.

Usage::

    python scripts/bench_risk.py [--instances 100000 1000000] [--patients 50000] [--keep DIR]

For each size, a synthetic de-identified output (``<patient>/<study>/<series>/<sop>.dcm``, small
header-only files: no pixel data) is written to a temporary folder, then ``risk`` runs on it in a
child process that prints its scan and metrics times; the parent takes the child's peak RSS from
``wait4``.  The same number of patients at every size shows whether memory grows with instances
(it should not: records are aggregated per patient as the headers are read).

Values are drawn from ``random.Random(seed)``: sex, age 18-95, study date, one of 4 modalities,
6 scanner models, 12 stations and 8 study descriptions per patient.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from io import BytesIO
from pathlib import Path

from pydicom import dcmwrite
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian

_MODALITIES = ("CT", "MR", "CR", "US")
_MODELS = (("GE MEDICAL SYSTEMS", "RHAPSODE "), ("GE MEDICAL SYSTEMS", "LIGHTSPEED"), ("SIEMENS", "SOMATOM   "),
           ("SIEMENS", "SKYRA     "), ("PHILIPS ", "INGENIA   "), ("TOSHIBA ", "AQUILION  "))
_DESCRIPTIONS = ("CT CHEST", "CT HEAD ", "MR BRAIN", "MR KNEE ", "CR CHEST", "US ABDOM", "CT ABDOM", "MR SPINE")
_UID = "2.25.1{:038d}"  # fixed width (44 characters): every file has the same layout


def _template() -> tuple[bytes, dict[str, int]]:
    """A header-only CT instance with fixed-width placeholders; returns its bytes and their offsets."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
    ds.file_meta.MediaStorageSOPInstanceUID = _UID.format(1)
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = _UID.format(2)
    ds.StudyDate = "11111111"
    ds.Modality = "QQ"
    ds.Manufacturer = "MMMMMMMMMMMMMMMMMM"
    ds.StudyDescription = "DDDDDDDD"
    ds.StationName = "STATION00"
    ds.ManufacturerModelName = "NNNNNNNNNN"
    ds.PatientName = "ANON^PPPPPPPPPPPPPP"
    ds.PatientID = "PPPPPPPPPPPPPP"
    ds.PatientSex = "X "
    ds.PatientAge = "777Y"
    ds.StudyInstanceUID = _UID.format(3)
    ds.SeriesInstanceUID = _UID.format(4)
    ds.PatientIdentityRemoved = "YES"
    buf = BytesIO()
    dcmwrite(buf, ds, enforce_file_format=True)
    data = buf.getvalue()
    marks = {"sop_meta": _UID.format(1), "sop": _UID.format(2), "study": _UID.format(3), "series": _UID.format(4),
             "date": "11111111", "modality": "QQ", "maker": "MMMMMMMMMMMMMMMMMM", "desc": "DDDDDDDD",
             "station": "STATION00", "model": "NNNNNNNNNN", "pid": "PPPPPPPPPPPPPP", "sex": "X ", "age": "777Y"}
    offsets = {}
    for key, text in marks.items():
        at = data.find(text.encode())
        offsets[key] = at
    offsets["pid2"] = data.find(b"PPPPPPPPPPPPPP", offsets["pid"] + 1)
    return data, offsets


def generate(root: Path, instances: int, patients: int, seed: int = 0) -> float:
    """Write ``instances`` files for ``patients`` patients; returns seconds taken."""
    started = time.perf_counter()
    data, off = _template()
    rng = random.Random(seed)
    per = [instances // patients + (1 if i < instances % patients else 0) for i in range(patients)]
    uid = 10
    for p, count in enumerate(per):
        pid = f"DD{p:012d}"
        maker, model = rng.choice(_MODELS)
        fields = {"pid": pid, "date": f"{rng.randrange(2010, 2024)}{rng.randrange(1, 13):02d}{rng.randrange(1, 29):02d}",
                  "modality": rng.choice(_MODALITIES), "maker": f"{maker:<18s}", "model": model,
                  "desc": rng.choice(_DESCRIPTIONS), "station": f"STATION{rng.randrange(12):02d}",
                  "sex": rng.choice(("F ", "M ")), "age": f"{rng.randrange(18, 96):03d}Y"}
        buf = bytearray(data)
        for key, value in fields.items():
            buf[off[key]:off[key] + len(value)] = value.encode()
        buf[off["pid2"]:off["pid2"] + 14] = pid.encode()
        uid += 1
        study = _UID.format(uid)
        series = _UID.format(uid + 1)
        uid += 2
        buf[off["study"]:off["study"] + 44] = study.encode()
        buf[off["series"]:off["series"] + 44] = series.encode()
        folder = root / pid / study / series
        folder.mkdir(parents=True)
        for _ in range(count):
            uid += 1
            sop = _UID.format(uid).encode()
            buf[off["sop"]:off["sop"] + 44] = sop
            buf[off["sop_meta"]:off["sop_meta"] + 44] = sop
            fd = os.open(folder / f"{sop.decode()}.dcm", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            os.write(fd, buf)
            os.close(fd)
    return time.perf_counter() - started


_CHILD = """
import json, sys, time, warnings
warnings.simplefilter("ignore")
from pathlib import Path
from dicom_deid.risk.assessment import assess_output
t = time.perf_counter()
report = assess_output(Path(sys.argv[1]), k=5, sensitive=sys.argv[2:] or None)
total = time.perf_counter() - t
a = report.assessment
print(json.dumps({"seconds": total, "instances": report.scan.instances, "patients": a.patients, "k": a.k,
                  "classes": a.classes, "quasi": list(a.quasi), "sensitive": list(a.sensitive)}))
"""


def measure(root: Path, sensitive: list[str]) -> dict[str, float]:
    proc = subprocess.Popen([sys.executable, "-c", _CHILD, str(root), *sensitive], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"risk child failed with exit code {proc.returncode}")
    result = json.loads(out)
    result["peak_rss_mb"] = usage.ru_maxrss / 1024
    result["cpu_seconds"] = usage.ru_utime + usage.ru_stime  # robust on a shared machine
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--instances", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--patients", type=int, default=50_000)
    parser.add_argument("--sensitive", nargs="*", default=[], help="sensitive attributes (default none)")
    parser.add_argument("--keep", type=Path, help="write the corpora under this folder and keep them")
    args = parser.parse_args()
    print(f"risk benchmark: {args.patients} patients, headers only, {os.cpu_count()} CPU(s), one process, "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"{'instances':>10} {'generate s':>10} {'risk s':>8} {'files/s':>8} {'CPU s':>7} {'files/CPU s':>11} "
          f"{'peak RSS MB':>11} {'k':>3} {'classes':>8}")
    for n in args.instances:
        base = Path(tempfile.mkdtemp(prefix="bench-risk-", dir=args.keep))
        try:
            gen = generate(base / "out", n, args.patients)
            r = measure(base / "out", args.sensitive)
            assert r["instances"] == n and r["patients"] == min(n, args.patients), r
            print(f"{n:>10} {gen:>10.1f} {r['seconds']:>8.1f} {n / r['seconds']:>8.0f} {r['cpu_seconds']:>7.1f} "
                  f"{n / r['cpu_seconds']:>11.0f} {r['peak_rss_mb']:>11.1f} {r['k']:>3} {r['classes']:>8}", flush=True)
        finally:
            if args.keep is None:
                shutil.rmtree(base, ignore_errors=True)
    print("quasi-identifiers:", ", ".join(r["quasi"]), "| sensitive:", ", ".join(r["sensitive"]) or "none")
    return 0


if __name__ == "__main__":
    sys.exit(main())
