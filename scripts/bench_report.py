"""Time verify and the review report on a generated run, and how fast Chromium opens the report.

Usage::

    python scripts/bench_report.py [--files 2000] [--rows 10000] [--workdir bench_out/report]

1. writes ``--files`` small CT/MR instances (``make_sample_data.generate_bench``) and
   de-identifies them with the basic profile (pixels off: CT/MR are skipped as low risk anyway);
2. times ``verify_output`` on that output (with ``--against`` the input, OCR auto);
3. builds a manifest of ``--rows`` rows (the real rows repeated) and times ``render_report``,
   then the report's size and thumbnail count;
4. when Debian ``chromium`` is installed, times headless Chromium from start to the DOM dump of
   the report (all thumbnails decoded, checked by the report's own marker).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dicom_deid.cli import main as deid_main
from dicom_deid.keys import create_secret_key
from dicom_deid.manifest import MANIFEST_NAME, read_manifest
from dicom_deid.report import render_report
from dicom_deid.verify import verify_output
from tests.planted import generate_bench


def _chromium_seconds(report: Path) -> tuple[float, str] | None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        return None
    with tempfile.TemporaryDirectory() as profile:
        started = time.perf_counter()
        proc = subprocess.run(
            [
                chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                f"--user-data-dir={profile}",
                "--dump-dom",
                report.resolve().as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        seconds = time.perf_counter() - started
    marker = re.search(r'data-thumbs-ok="([^"]*)"', proc.stdout)
    return seconds, marker.group(1) if marker else "no marker"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--files", type=int, default=2000, help="instances to de-identify (default 2000)"
    )
    parser.add_argument(
        "--rows", type=int, default=10_000, help="manifest rows in the report (default 10000)"
    )
    parser.add_argument("--workdir", type=Path, default=ROOT / "bench_out" / "report")
    args = parser.parse_args(argv)

    work = args.workdir
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    corpus = generate_bench(work / "in", args.files)
    create_secret_key(work / "secret.key")
    started = time.perf_counter()
    rc = deid_main(
        [
            "run",
            str(corpus.root),
            str(work / "out"),
            "--key-file",
            str(work / "secret.key"),
            "--pixels",
            "off",
            "--quiet",
            "--mapping",
            str(work / "mapping.ddmap"),
        ]
    )
    print(
        f"de-identified {len(corpus.dicom_files)} files in {time.perf_counter() - started:.1f} s (rc {rc})"
    )

    started = time.perf_counter()
    result = verify_output(work / "out", against=corpus.root, ocr="auto")
    seconds = time.perf_counter() - started
    print(
        f"verify --against: {result.files_checked} files in {seconds:.1f} s "
        f"({result.files_checked / seconds:.0f} files/s), {len(result.errors)} finding(s)"
    )

    records = read_manifest(work / "out" / MANIFEST_NAME)
    header = next(r for r in records if r["type"] == "run")
    rows = [r for r in records if r["type"] == "file"]
    big = [{**rows[i % len(rows)], "ordinal": i} for i in range(args.rows)]
    manifest = work / "big" / MANIFEST_NAME
    manifest.parent.mkdir()
    manifest.write_text("".join(json.dumps(x) + "\n" for x in [header, *big]), encoding="utf-8")
    started = time.perf_counter()
    report = render_report(manifest, work / "report.html", output_root=work / "out", verify=result)
    seconds = time.perf_counter() - started
    text = report.read_text(encoding="utf-8")
    print(
        f"report: {args.rows} rows in {seconds:.2f} s, {report.stat().st_size / 1e6:.1f} MB, "
        f"{text.count('<img ')} thumbnails -> {report}"
    )
    opened = _chromium_seconds(report)
    if opened is None:
        print("chromium: not installed (Debian package chromium)")
    else:
        print(
            f"chromium: opened and rendered in {opened[0]:.1f} s (start-up included), thumbnails {opened[1]}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
