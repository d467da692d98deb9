"""`dicom-deid risk` and the evidence pack on the generated sample export (`make demo` data).

Expected figures come from the planted population: the patients and their PatientSex are read
from the input files with pydicom, and the closed forms are applied here."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pydicom
import pytest

from dicom_deid.cli import main
from dicom_deid.manifest import MANIFEST_NAME, read_manifest
from tests.planted import generate_corpus


@pytest.fixture(scope="module")
def sample(tmp_path_factory, key_file):
    base = tmp_path_factory.mktemp("risk-sample")
    corpus = generate_corpus(base / "in", seed=0, patients=3, bad_inputs=True)  # as scripts/make_sample_data.py
    rc = main(["run", str(corpus.root), str(base / "out"), "--profile", "research", "--pixels", "off",
               "--key-file", str(key_file), "--quiet"])
    assert rc == 3  # the two truncated files are quarantined
    return corpus, base


def _planted_sex(corpus) -> dict[str, str]:
    """PatientID -> PatientSex over the input files that the run wrote (read with pydicom)."""
    written = {r["input_id"] for r in read_manifest(Path(corpus.root).parent / "out" / MANIFEST_NAME)
               if r.get("outcome") == "written"}
    assert written
    sex: dict[str, str] = {}
    for path in corpus.dicom_files:
        ds = pydicom.dcmread(path, force=True, stop_before_pixels=True)
        sex.setdefault(str(ds.PatientID), str(ds.PatientSex))
    no_preamble = pydicom.dcmread(corpus.bad_files["no_preamble"], force=True)
    sex.setdefault(str(no_preamble.PatientID), str(no_preamble.PatientSex))
    return sex


def test_risk_on_sex_matches_the_planted_population(sample, capsys):
    corpus, base = sample
    sex = _planted_sex(corpus)
    assert set(sex) == set(corpus.patients.values())  # 3 planted patients + the bad-inputs patient
    classes = Counter(sex.values())
    n, j = len(sex), len(classes)
    capsys.readouterr()
    rc = main(["risk", str(base / "out"), "--quasi", "PatientSex", "--k", "5", "--json"])
    result = json.loads(capsys.readouterr().out)
    assert rc == 4  # fewer than 5 patients: every class is below K
    assert result["patients"] == n
    assert result["k"] == min(classes.values())
    assert {h["size"]: h["classes"] for h in result["histogram"]} == dict(Counter(classes.values()))
    assert result["patients_below_k"] == n
    assert result["prosecutor"]["highest_risk"] == pytest.approx(1 / min(classes.values()))
    assert result["prosecutor"]["success_rate"] == pytest.approx(j / n)
    assert result["prosecutor"]["records_at_risk"] == pytest.approx(1.0)
    assert result["marketer"] == pytest.approx(j / n)
    assert result["instances"] == sum(1 for _ in (base / "out").rglob("*.dcm"))
    pseudonyms = {p.name for p in (base / "out").iterdir() if p.is_dir()}
    assert {p for c in result["small_classes"] for p in c["patients"]} == pseudonyms


def test_default_quasi_identifiers_are_what_research_keeps(sample, capsys):
    corpus, base = sample
    capsys.readouterr()
    rc = main(["risk", str(base / "out"), "--json"])
    result = json.loads(capsys.readouterr().out)
    # planted: sex, study dates, modality, make, model and station; research keeps sex (Retain Patient
    # Characteristics), dates shifted (Modified Dates), the station (Device Identity); E.1-1 does not
    # list Modality, Manufacturer or the model; no planted age, size, weight, body part or institution kept
    assert result["quasi"] == ["PatientSex", "StudyDate", "Modality", "Manufacturer", "ManufacturerModelName",
                               "StationName"]
    # each planted patient has their own station name (a different fake hospital): all unique
    assert rc == 4 and result["k"] == 1 and result["classes"] == len(corpus.patients)
    assert result["sensitive"] == ["StudyDescription"]
    assert result["l_diversity"] == 1


def test_report_shows_the_evidence_pack(sample):
    corpus, base = sample
    from dicom_deid.report import render_report

    path = render_report(base / "out" / MANIFEST_NAME, base / "review.html", sample_thumbnails=0)
    text = path.read_text(encoding="utf-8")
    header = next(r for r in read_manifest(base / "out" / MANIFEST_NAME) if r.get("type") == "run")
    assert '<section id="risk">' in text and "Re-identification risk" in text
    assert re.search(r'<img class="plot" src="data:image/svg\+xml;base64,[A-Za-z0-9+/=]+"', text)
    assert f"k = 1: {len(corpus.patients)} of {len(corpus.patients)} patient(s)" in text
    section = text[text.index('<section id="safeharbor">'):text.index('<section id="gdpr">')]
    rows = re.findall(r"<tr><td class=\"n\">(\d+)</td>", section)
    assert rows == [str(i) for i in range(1, 19)]
    assert section.count(">not covered<") >= 2  # biometrics and faces at least
    # research keeps the device serial number and station name, and shifted dates keep the day
    for number in ("3", "13"):
        row = re.search(rf'<tr><td class="n">{number}</td>.*?</tr>', section).group(0)
        assert ">present in output<" in row, number
    gdpr = text[text.index('<section id="gdpr">'):]
    assert header["key_id"] in gdpr and header["run_id"] in gdpr and "personal data" in gdpr
    needles = corpus.phi_strings() | corpus.original_uids
    assert sorted(n for n in needles if n.upper() in text.upper()) == []


def test_risk_report_writes_the_evidence_page(sample, tmp_path, capsys):
    _, base = sample
    out = tmp_path / "evidence.html"
    rc = main(["risk", str(base / "out"), "--quasi", "PatientSex", "--report", str(out)])
    assert rc == 4
    text = out.read_text(encoding="utf-8")
    assert "Re-identification risk" in text and "HIPAA Safe Harbor" in text and "GDPR" in text
    assert (out.stat().st_mode & 0o777) == 0o644  # output side


def test_risk_refuses_bad_arguments_with_one_line(sample, tmp_path, capsys):
    _, base = sample
    for argv, message in (
        (["risk", str(tmp_path / "missing")], "not a folder"),
        (["risk", str(base / "out"), "--k", "0"], "--k must be at least 1, got 0"),
        (["risk", str(base / "out"), "--quasi", "Nope"], "unknown attribute 'Nope'"),
        (["risk", str(base / "out"), "--report", str(tmp_path / "r.txt")], "must end in .html"),
    ):
        capsys.readouterr()
        rc = main(argv)
        err = capsys.readouterr().err.strip().splitlines()
        assert rc == 2 and len(err) == 1 and message in err[0], (argv, err)


def test_readme_documents_risk_and_its_flags():
    import argparse

    from dicom_deid.cli import build_parser
    from tests.conftest import REPO

    text = (REPO / "README.md").read_text()
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    flags = [f for a in sub.choices["risk"]._actions for f in a.option_strings if f.startswith("--") and f != "--help"]
    flags += ["--k-anonymity", "--quasi"]
    assert "dicom-deid risk OUTPUT" in text and len(flags) == 7
    assert [f for f in flags if f not in text] == []


def test_readme_risk_examples_run(sample, tmp_path):
    """The README's `risk` examples, on the sample output in place of the README's OUT."""
    import shlex

    from tests.conftest import REPO

    _, base = sample
    text = (REPO / "README.md").read_text()
    lines = [ln for ln in text.splitlines() if ln.startswith("dicom-deid risk OUT ")]
    assert len(lines) == 2
    where = {"OUT": str(base / "out"), "risk.html": str(tmp_path / "risk.html")}
    for line in lines:
        argv = [where.get(a, a) for a in shlex.split(line)[1:]]
        assert main(argv) in (0, 4), line
    assert (tmp_path / "risk.html").is_file()
