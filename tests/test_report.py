"""The review report: self-contained, no original PHI on the output side, renders in Chromium."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
from io import BytesIO
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dicom_deid.cli import main
from dicom_deid.errors import ConfigError
from dicom_deid.manifest import MANIFEST_NAME, read_manifest
from dicom_deid.report import render_report
from dicom_deid.verify import verify_output
from tests.planted import generate_corpus

_DATA_URI = re.compile(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"')


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return generate_corpus(tmp_path_factory.mktemp("report") / "in", seed=5, patients=3, bad_inputs=True)


@pytest.fixture(scope="module")
def run_out(corpus, tmp_path_factory):
    from dicom_deid.cli import main
    from dicom_deid.keys import create_secret_key

    base = tmp_path_factory.mktemp("report-run")
    create_secret_key(base / "secret.key")
    rc = main(["run", str(corpus.root), str(base / "out"), "--key-file", str(base / "secret.key"), "--quiet"])
    assert rc == 3
    return base / "out"


@pytest.fixture(scope="module")
def rows(run_out):
    return [r for r in read_manifest(run_out / MANIFEST_NAME) if r.get("type") == "file"]


@pytest.fixture(scope="module")
def input_report(corpus, run_out, tmp_path_factory):
    result = verify_output(run_out, against=corpus.root, ocr="off")
    path = tmp_path_factory.mktemp("report-in") / "review.html"
    return render_report(run_out / MANIFEST_NAME, path, input_root=corpus.root, verify=result)


def _thumbs(text: str) -> list[Image.Image]:
    return [Image.open(BytesIO(base64.b64decode(m))) for m in _DATA_URI.findall(text)]


def test_output_side_report_contains_no_original_phi(corpus, run_out, rows):
    path = render_report(run_out / MANIFEST_NAME, run_out / "review.html", verify=verify_output(run_out, ocr="off"))
    text = path.read_text(encoding="utf-8")
    redacted = [r for r in rows if (r.get("pixels") or {}).get("redacted")]
    assert len(redacted) >= 2  # precondition: the pixel stage redacted burned-in text
    needles = corpus.phi_strings() | corpus.original_uids
    assert len(needles) > 100
    assert sorted(n for n in needles if n.upper() in text.upper()) == []
    assert "INPUT-SIDE" not in text and "before (input)" not in text
    assert text.count(">after (output)<") == len(redacted)
    for source in ("UNSORTED", "IM0001"):  # quarantine sources are input-side only
        assert source not in text


def test_report_is_self_contained_and_thumbnails_are_small(input_report):
    text = input_report.read_text(encoding="utf-8")
    assert re.findall(r'(?:src|href)="(?!data:|#)[^"]*"', text) == []
    assert "http://" not in text and "https://" not in text
    assert "default-src 'none'" in text  # the page may not fetch anything
    thumbs = _thumbs(text)
    assert len(thumbs) >= 10
    assert all(max(im.size) <= 256 for im in thumbs)


def test_input_side_report_has_before_after_and_quarantine_sources(input_report, rows):
    text = input_report.read_text(encoding="utf-8")
    redacted = [r for r in rows if (r.get("pixels") or {}).get("redacted")]
    assert text.count(">before (input)<") == text.count(">after (output)<") == len(redacted)
    assert "INPUT-SIDE REPORT" in text
    quarantined = [r for r in rows if r["outcome"] == "quarantined"]
    assert len(quarantined) == 2
    assert text.count("UNSORTED/IM000") >= 2  # source paths of the two truncated files


def test_input_side_report_is_refused_inside_the_output(corpus, run_out):
    with pytest.raises(ConfigError, match="cannot be written inside the output folder"):
        render_report(run_out / MANIFEST_NAME, run_out / "in.html", input_root=corpus.root)
    with pytest.raises(ConfigError, match="cannot be written inside the output folder"):
        render_report(run_out / MANIFEST_NAME, run_out / "sub" / "in.html", input_root=corpus.root, show_values=True)


def test_show_values_lists_original_values_on_the_input_side(corpus, run_out, tmp_path):
    path = render_report(run_out / MANIFEST_NAME, tmp_path / "values.html", input_root=corpus.root,
                         show_values=True)
    text = path.read_text(encoding="utf-8")
    names = {i.value for i in corpus.planted if i.keyword_or_location == "PatientName"}
    assert len(names) == 4
    assert any(n in text for n in names)  # original PatientName shown next to its pseudonym


def test_dry_run_manifest_shows_the_plan_and_planned_redactions(corpus, run_out, rows, tmp_path):
    header = next(r for r in read_manifest(run_out / MANIFEST_NAME) if r["type"] == "run")
    planned = [{**r, "outcome": "planned"} if r["outcome"] == "written" else r for r in rows]
    manifest = tmp_path / "dry.manifest.jsonl"
    plan = {"type": "plan", "rows": [["PatientName", "Z", "E.1-1 row 337, basic", len(planned)]]}
    lines = [header, *planned, plan, {"type": "summary", "counts": {}, "files": len(rows), "interrupted": False}]
    manifest.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    path = render_report(manifest, tmp_path / "dry.html", input_root=corpus.root,
                         output_root=tmp_path / "not-written")
    text = path.read_text(encoding="utf-8")
    redacted = [r for r in rows if (r.get("pixels") or {}).get("redacted")]
    assert "dry-run plan" in text and "E.1-1 row 337, basic" in text
    assert text.count(">after (planned)<") == len(redacted) >= 2


def test_cli_report_writes_output_side_report(run_out, tmp_path, corpus):
    out = tmp_path / "cli.html"
    assert main(["report", str(run_out), "--out", str(out), "--verify", "--ocr", "off"]) == 0
    assert out.stat().st_size > 10_000
    assert main(["report", str(run_out), "--out", str(run_out / "x.html"), "--against", str(corpus.root)]) == 2
    assert not (run_out / "x.html").exists()


def test_large_manifest_renders_fast_and_small(run_out, rows, tmp_path):
    """10,000 rows (the real rows repeated): seconds and a few MB, thumbnails capped."""
    header = next(r for r in read_manifest(run_out / MANIFEST_NAME) if r["type"] == "run")
    big = [{**r, "ordinal": i} for i, r in enumerate(rows[j % len(rows)] for j in range(10_000))]
    manifest = tmp_path / MANIFEST_NAME
    manifest.write_text("".join(json.dumps(x) + "\n" for x in [header, *big]), encoding="utf-8")
    path = render_report(manifest, tmp_path / "big.html", output_root=run_out, max_redacted=40)
    size = path.stat().st_size  # speed is measured by scripts/bench_report.py, not asserted here
    assert size < 12_000_000
    assert len(_thumbs(path.read_text(encoding="utf-8"))) <= 40 + 12


def test_report_renders_in_headless_chromium(input_report, tmp_path, chromium):
    flags = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1280,2000", "--enable-logging=stderr",
             "--v=0"]
    url = input_report.resolve().as_uri()
    shot = tmp_path / "report.png"
    dom = subprocess.run([*flags, "--dump-dom", url], capture_output=True, text=True, timeout=60, check=False)
    assert dom.returncode == 0, dom.stderr[-2000:]
    console = [ln for ln in dom.stderr.splitlines() if ":CONSOLE" in ln]
    assert console == []  # no script error, no blocked request, no log at all
    marker = re.search(r'data-thumbs-ok="(\d+)/(\d+)"', dom.stdout)
    assert marker is not None, "the inline script did not run"
    assert int(marker.group(1)) == int(marker.group(2)) >= 10  # every thumbnail decoded (naturalWidth > 0)
    snap = subprocess.run([*flags, f"--screenshot={shot}", url], capture_output=True, text=True, timeout=60,
                          check=False)
    assert snap.returncode == 0, snap.stderr[-2000:]
    image = Image.open(shot)
    assert image.size == (1280, 2000)
    assert np.asarray(image.convert("L")).std() > 20  # not a blank page
    if os.environ.get("DICOM_DEID_SCREENSHOT_DIR"):
        keep = Path(os.environ["DICOM_DEID_SCREENSHOT_DIR"])
        keep.mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, keep / "report.png")
