"""README promises that had no test: each test quotes the promise it holds the code to.

Inputs are pydicom's own test files with planted values; expected values come from the README's
words and the planted values, never from the code under test.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import sys
from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset

from dicom_deid.cli import main
from dicom_deid.manifest import MANIFEST_NAME, read_manifest
from tests.conftest import TEST_FILES

FILES = ("CT_small.dcm", "MR_small.dcm", "SC_rgb.dcm")
PLANTED_NAME = "QUIXWORTH^PERCIVAL"
UID_ROOT = "2.25."


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three images of one planted patient, plus one truncated file (to be quarantined)."""
    root = tmp_path_factory.mktemp("promises") / "in"
    root.mkdir()
    for i, name in enumerate(FILES):
        path = get_testdata_file(name)
        assert path is not None, f"{name} missing: pip install -e '.[test]' (pydicom-data)"
        ds = pydicom.dcmread(path)
        ds.PatientName, ds.PatientID = PLANTED_NAME, "MRN-4471"
        ds.PatientAge = ("089Y", "090Y", "091Y")[i]
        ds.PatientSex = "F"
        ds.StudyDescription = "Knee of Quixworth"
        ds.SeriesDescription = "Sagittal"
        ds.save_as(root / f"{i}.dcm")
    data = (TEST_FILES / "MR_small.dcm").read_bytes()
    (root / "cut.dcm").write_bytes(data[:-2000])
    return root


def _run(inp: Path, out: Path, key: Path, *extra: str) -> int:
    return main(["run", str(inp), str(out), "--pixels", "off", "--workers", "1", "--key-file", str(key), *extra])


@pytest.fixture(scope="module")
def basic_out(inputs: Path, key_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("promises-out") / "out"
    assert _run(inputs, out, key_file, "--quiet") == 3  # the cut file is quarantined
    return out


def _outputs(out: Path) -> list[pydicom.Dataset]:
    found = [pydicom.dcmread(p) for p in sorted(out.rglob("*.dcm"))]
    assert len(found) == len(FILES)  # precondition: every image written
    return found


def _uids(ds: Dataset) -> list[str]:
    values: list[str] = []
    for elem in ds.iterall():
        if elem.VR == "UI" and elem.value:
            values += [str(v) for v in (elem.value if elem.VM > 1 else [elem.value])]
    return values


def test_uids_are_2_25_and_at_most_44_characters(basic_out: Path, inputs: Path) -> None:
    """"UIDs (`2.25.<128-bit>`, at most 44 characters)": every instance UID of every output."""
    originals = {u for p in inputs.glob("[0-9].dcm") for u in _uids(pydicom.dcmread(p))}
    checked = 0
    for ds in _outputs(basic_out):
        for uid in _uids(ds):
            if uid.startswith("1.2.840.10008."):
                continue  # class and transfer syntax UIDs of the standard are kept
            assert uid.startswith(UID_ROOT) and len(uid) <= 44, uid
            assert uid not in originals
            checked += 1
    assert checked >= 4 * len(FILES)  # study, series, instance, frame of reference... per file


def test_safe_harbor_ages_over_89_become_090y(inputs: Path, key_file: Path, tmp_path: Path) -> None:
    """"HIPAA Safe Harbor: ages over 89 become `090Y`": 089Y stays, 090Y stays, 091Y becomes 090Y."""
    out = tmp_path / "out"
    assert _run(inputs, out, key_file, "--quiet", "--profile", "safe-harbor") == 3
    ages = sorted(str(ds.PatientAge) for ds in _outputs(out))
    assert ages == ["089Y", "090Y", "090Y"]


def test_override_remove_and_empty(inputs: Path, key_file: Path, tmp_path: Path) -> None:
    """"--override TAG=keep|remove|empty|replace:VALUE": research keeps PatientSex (K) and cleans
    StudyDescription (C); the overrides remove the one and empty the other."""
    out = tmp_path / "out"
    assert _run(inputs, out, key_file, "--quiet", "--profile", "research", "--override", "PatientSex=remove",
                "--override", "(0008,1030)=empty", "--override", "SeriesDescription=replace:SERIES") == 3
    for ds in _outputs(out):
        assert "PatientSex" not in ds
        assert ds["StudyDescription"].value == ""
        assert ds.SeriesDescription == "SERIES"
    plain = tmp_path / "plain"
    assert _run(inputs, plain, key_file, "--quiet", "--profile", "research") == 3
    assert {(ds.PatientSex, ds.StudyDescription) for ds in _outputs(plain)} == {("F", "Knee of ***")}


def test_quarantine_dir(inputs: Path, key_file: Path, tmp_path: Path) -> None:
    """"--quarantine DIR": the input that cannot be handled is copied there with its reason."""
    out, q = tmp_path / "out", tmp_path / "elsewhere" / "q"
    assert _run(inputs, out, key_file, "--quiet", "--quarantine", str(q)) == 3
    reasons = [json.loads(line) for line in (q / "reasons.jsonl").read_text().splitlines()]
    assert [(r["source"], r["reason"]) for r in reasons] == [("cut.dcm", "truncated")]
    assert (q / reasons[0]["file"]).read_bytes() == (inputs / "cut.dcm").read_bytes()
    assert not (tmp_path / "out.quarantine").exists()


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("mode", ["bar", "none", "json"])
def test_progress_modes(mode: str, inputs: Path, key_file: Path, tmp_path: Path,
                        monkeypatch: pytest.MonkeyPatch) -> None:
    """"--progress bar|json|none": a bar on a terminal, JSON lines, or nothing but the quarantine line."""
    err = _Terminal()
    monkeypatch.setattr(sys, "stderr", err)
    assert _run(inputs, tmp_path / "out", key_file, "--progress", mode) == 3
    text = err.getvalue().replace("\r", "\n")
    lines = [ln for ln in text.splitlines() if ln.strip()
             and not ln.startswith(("dicom-deid: warning: no --recipient", "dicom-deid: WARNING: --pixels off"))]
    quarantined = re.findall(r"dicom-deid: quarantined: [^\n]*", text)  # a bar may precede it on its line
    assert len(quarantined) == 1 and "cut.dcm" in quarantined[0]
    if mode == "bar":
        assert re.search(r"^de-identifying: 4file ", text, flags=re.MULTILINE)
    elif mode == "json":
        last = json.loads(lines[-1])
        assert (last["files"], last["quarantined"], last["done"], last["interrupted"]) == (4, 1, True, False)
    else:
        assert lines == quarantined


def test_progress_by_default_off_a_terminal_is_none(inputs: Path, key_file: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """"bar (default on a terminal, else none)": without --progress and without a terminal, no bar."""
    assert _run(inputs, tmp_path / "out", key_file) == 3
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert [ln for ln in err if not ln.startswith(("dicom-deid: quarantined: ", "dicom-deid: warning: no --recipient",
                                                   "dicom-deid: WARNING: --pixels off"))] == []
    assert len(err) == 3


def test_dry_run_with_report(inputs: Path, key_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """"--dry-run [--sample N] [--report PATH.html] prints (and reports) the plan ... without writing any
    de-identified file"."""
    out, report = tmp_path / "out", tmp_path / "side" / "plan.html"
    report.parent.mkdir()
    assert _run(inputs, out, key_file, "--quiet", "--dry-run", "--report", str(report)) == 3  # the cut file
    printed = capsys.readouterr().out
    assert "plan (attribute, action, rule, instances):" in printed
    assert re.search(r"PatientName\s+Z\s+E\.1-1 row \d+, basic\s+x3", printed)
    assert not out.exists()
    html = report.read_text(encoding="utf-8")
    assert "PatientName" in html and html.lstrip().lower().startswith("<!doctype html>")
    manifest = report.with_name("plan.manifest.jsonl")
    outcomes = sorted(r.get("outcome") for r in read_manifest(manifest) if r["type"] == "file")
    assert outcomes == ["planned"] * 3 + ["quarantined"]


def _sample_cards(html: str) -> int:
    m = re.search(r'<section id="samples"><h2>Sample of images not redacted \((\d+) of (\d+)\)', html)
    assert m is not None
    return int(m.group(1))


def test_report_sample(basic_out: Path, tmp_path: Path) -> None:
    """"dicom-deid report OUTPUT --out PATH.html ... [--sample N]": N thumbnails of untouched images."""
    counts = []
    for n in (1, 2, 3):
        assert main(["report", str(basic_out), "--out", str(tmp_path / f"r{n}.html"), "--sample", str(n)]) == 0
        counts.append(_sample_cards((tmp_path / f"r{n}.html").read_text(encoding="utf-8")))
    assert counts == [1, 2, 3]


def test_verify_dciodvfy_reports_a_new_conformance_error(basic_out: Path, inputs: Path, tmp_path: Path, dciodvfy: str,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """"with `--dciodvfy`, new conformance errors": a Type 1 attribute removed from one output is found
    by --dciodvfy only."""
    out = tmp_path / "out"
    shutil.copytree(basic_out, out)
    (path,) = [p for p in out.rglob("*.dcm") if pydicom.dcmread(p).SOPClassUID == "1.2.840.10008.5.1.4.1.1.2"]
    ds = pydicom.dcmread(path)
    del ds.Modality  # General Series Module of a CT image, Type 1; not a profile matter
    ds.save_as(path)
    assert main(["verify", str(out), "--against", str(inputs), "--ocr", "off"]) == 0
    capsys.readouterr()
    assert main(["verify", str(out), "--against", str(inputs), "--ocr", "off", "--dciodvfy"]) == 4
    lines = capsys.readouterr().out.splitlines()
    found = [ln for ln in lines if ln.lstrip().startswith("f error")]
    assert found and all(path.name in ln for ln in found) and any("Modality" in ln for ln in found)


def test_verify_show_values(basic_out: Path, inputs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """"--show-values" prints the original values of findings, and needs --against INPUT."""
    untouched = tmp_path / "untouched"
    shutil.copytree(inputs, untouched)
    (untouched / "cut.dcm").unlink()
    assert main(["verify", str(untouched), "--against", str(inputs), "--ocr", "off"]) == 4
    hidden = capsys.readouterr().out
    assert main(["verify", str(untouched), "--against", str(inputs), "--ocr", "off", "--show-values"]) == 4
    shown = capsys.readouterr().out
    assert "QUIXWORTH" not in hidden.upper()
    assert re.search(r"PatientName: .* = '?QUIXWORTH\^PERCIVAL", shown)
    assert main(["verify", str(basic_out), "--show-values"]) == 2
    assert capsys.readouterr().err.strip() == ("dicom-deid: error: --show-values needs --against INPUT (it prints "
                                               "original values: input side only)")


def test_manifest_of_a_run_names_no_original_value(basic_out: Path) -> None:
    text = (basic_out / MANIFEST_NAME).read_text(encoding="utf-8").upper()
    assert "QUIXWORTH" not in text and "MRN-4471" not in text and "CUT.DCM" not in text
