"""Issue 10: one bad file never stops a run.  A seeded fuzz campaign, small enough for every CI run.

1,100+ mutants of pydicom's own files (every transfer syntax family, an SR, a DICOMDIR, a zip
export; see ``tests/fuzz_corpus.py`` for the mutators) go through ``dicom-deid run`` in a
subprocess with two workers and the pixel stage off, then a pixel-focused batch with the pixel
stage on every image.  Each run must end with exit status 0 or 3, print no traceback, give every
input exactly one manifest row, leave no file in OUTPUT without a row, quarantine with a reason
line and a copy, and leave no planted value anywhere in OUTPUT.  ``verify --against`` then goes
over the same tree with the same assertions.

Longer campaigns: ``scripts/fuzz_atheris.py`` (coverage-guided, see its docstring).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from dicom_deid.manifest import MANIFEST_NAME, last_run, read_manifest
from tests.fuzz_corpus import NEEDLES, Campaign, build_campaign, count_inputs

CAMPAIGN_SEED = 1_000_003  # never used while writing the mutators
MUTANTS = 1_100
PIXEL_MUTANTS = 60


@dataclass
class Ran:
    campaign: Campaign
    out: Path
    rc: int
    stderr: str
    rows: list[dict[str, object]]
    env: dict[str, str]


def _cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dicom_deid", *args], capture_output=True, text=True, env=env,
                          check=False)


def _campaign(base: Path, key_file: Path, *, seed: int, count: int, pixels: str, pixel_only: bool) -> Ran:
    campaign = build_campaign(base / "in", seed=seed, count=count, pixel_only=pixel_only,
                              deep=0 if pixel_only else 8)
    env = {**os.environ, "DICOM_DEID_HOME": str(base / "home")}
    out = base / "out"
    res = _cli(["run", str(campaign.root), str(out), "--key-file", str(key_file), "--pixels", pixels,
                "--workers", "2", "--quiet"], env)
    rows = [r for r in last_run(read_manifest(out / MANIFEST_NAME)) if r.get("type") == "file"]
    return Ran(campaign, out, res.returncode, res.stderr, rows, env)


@pytest.fixture(scope="module")
def metadata_run(tmp_path_factory: pytest.TempPathFactory, key_file: Path) -> Ran:
    return _campaign(tmp_path_factory.mktemp("fuzz"), key_file, seed=CAMPAIGN_SEED, count=MUTANTS, pixels="off",
                     pixel_only=False)


@pytest.fixture(scope="module")
def pixel_run(tmp_path_factory: pytest.TempPathFactory, key_file: Path) -> Ran:
    return _campaign(tmp_path_factory.mktemp("fuzz-px"), key_file, seed=CAMPAIGN_SEED + 1, count=PIXEL_MUTANTS,
                     pixels="all", pixel_only=True)


RUNS = ["metadata_run", "pixel_run"]


def test_the_campaign_is_large_and_diverse(metadata_run: Ran, pixel_run: Ran) -> None:
    c = metadata_run.campaign
    assert c.mutants + pixel_run.campaign.mutants >= 1_000
    assert len(c.seeds) >= 15 and {"test-SR.dcm", "dicomdirtests/DICOMDIR", "image_dfl.dcm"} <= set(c.seeds)
    assert all(c.by_mutator.get(m, 0) >= 50 for m in ("flip", "truncate", "vr", "length", "undefined", "duplicate",
                                                      "reorder", "syntax", "pixel_length", "frames", "fragments"))
    assert c.by_mutator["nest10000"] == 8
    assert (c.root / "export.zip").is_file() and count_inputs(c.root) == c.inputs


@pytest.mark.parametrize("which", RUNS)
def test_run_never_dies_and_prints_no_traceback(which: str, request: pytest.FixtureRequest) -> None:
    ran: Ran = request.getfixturevalue(which)
    assert ran.rc in (0, 3), ran.stderr[-2000:]
    assert "Traceback" not in ran.stderr
    internal = [line for line in ran.stderr.splitlines() if "internal error" in line]
    assert internal == []  # every failure named as the input's fault, none as ours


@pytest.mark.parametrize("which", RUNS)
def test_every_input_has_exactly_one_row(which: str, request: pytest.FixtureRequest) -> None:
    ran: Ran = request.getfixturevalue(which)
    expected = count_inputs(ran.campaign.root)
    ordinals = Counter(int(str(r["ordinal"])) for r in ran.rows)
    assert len(ran.rows) == expected and set(ordinals) == set(range(expected))
    assert max(ordinals.values()) == 1
    summary = read_manifest(ran.out / MANIFEST_NAME)[-1]
    assert summary["type"] == "summary" and summary["files"] == expected and summary["interrupted"] is False


@pytest.mark.parametrize("which", RUNS)
def test_no_output_file_without_a_row_and_every_quarantine_on_record(which: str, request: pytest.FixtureRequest) -> None:
    ran: Ran = request.getfixturevalue(which)
    on_disk = {p.relative_to(ran.out).as_posix() for p in ran.out.rglob("*") if p.is_file()} - {MANIFEST_NAME}
    written = {str(r["output"]) for r in ran.rows if r["outcome"] == "written"}
    assert on_disk == written and len(written) >= (150 if which == "metadata_run" else 10)
    quarantined = [r for r in ran.rows if r["outcome"] == "quarantined"]
    qdir = ran.out.with_name(ran.out.name + ".quarantine")
    reasons = [json.loads(line) for line in (qdir / "reasons.jsonl").read_text().splitlines()]
    assert sorted(e["input_id"] for e in reasons) == sorted(str(r["input_id"]) for r in quarantined)
    copies = [e for e in reasons if e["file"]]
    assert all((qdir / e["file"]).is_file() for e in copies)
    # no copy only where the input's bytes cannot be read at all: a zip member with a bad CRC
    assert all("badcrc.zip!" in e["source"] for e in reasons if not e["file"])
    assert len(quarantined) >= (300 if which == "metadata_run" else 20)
    assert all(r.get("reason") for r in quarantined)


@pytest.mark.parametrize("which", RUNS)
def test_no_planted_value_in_any_output(which: str, request: pytest.FixtureRequest) -> None:
    ran: Ran = request.getfixturevalue(which)
    checked = 0
    for path in ran.out.rglob("*"):
        if path.is_file():
            data = path.read_bytes().upper()
            assert not any(n in data for n in NEEDLES), path
            checked += 1
    assert checked == len({r["output"] for r in ran.rows if r["outcome"] == "written"}) + 1  # + manifest


@pytest.mark.parametrize("which", RUNS)
def test_verify_against_the_same_tree(which: str, request: pytest.FixtureRequest) -> None:
    """verify re-reads every output and every input, corrupt ones included: no traceback, no finding."""
    ran: Ran = request.getfixturevalue(which)
    res = _cli(["verify", str(ran.out), "--against", str(ran.campaign.root), "--ocr", "off"], ran.env)
    assert "Traceback" not in res.stderr, res.stderr[-3000:]
    assert res.returncode == 0, (res.stdout[-3000:], res.stderr[-2000:])
    assert " 0 finding(s)" in res.stdout
