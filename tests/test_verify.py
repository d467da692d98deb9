"""verify: the independent oracle finds every planted item in an untouched copy and nothing in
dicom-deid's own output.  Expected values come from the planted reference table and PS3.15
Table E.1-1 rows, never from the code under test."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from dicom_deid.cli import main
from dicom_deid.errors import ConfigError, OcrUnavailable
from dicom_deid.manifest import MANIFEST_NAME, read_manifest
from dicom_deid.verify import Category, Severity, verify_output
from tests.planted import PHI_PRIVATE_CREATOR, generate_corpus


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return generate_corpus(tmp_path_factory.mktemp("verify") / "in", seed=11, patients=3, bad_inputs=True)


@pytest.fixture(scope="module")
def deid_out(corpus, tmp_path_factory):
    """dicom-deid's own output: basic profile, pixel stage on (auto)."""
    from dicom_deid.cli import main
    from dicom_deid.keys import create_secret_key

    base = tmp_path_factory.mktemp("verify-run")
    create_secret_key(base / "secret.key")
    rc = main(["run", str(corpus.root), str(base / "out"), "--key-file", str(base / "secret.key"), "--quiet"])
    assert rc == 3  # precondition: the two truncated files were quarantined, everything else written
    return base / "out"


@pytest.fixture(scope="module")
def untouched(corpus, tmp_path_factory):
    copy = tmp_path_factory.mktemp("verify-copy") / "copy"
    shutil.copytree(corpus.root, copy)
    return copy


@pytest.fixture(scope="module")
def untouched_result(corpus, untouched):
    return verify_output(untouched, against=corpus.root, ocr="auto", show_values=True)


def _private_where(corpus) -> dict[str, str]:
    """Planted private locations ``(0029,xx10,"ACME PHI 1.0")`` -> the element's tag as written."""
    ds = pydicom.dcmread(corpus.dicom_files[0])
    block = ds.private_block(0x0029, PHI_PRIVATE_CREATOR)
    out = {}
    for offset in (0x10, 0x11):
        tag = block.get_tag(offset)
        out[f'(0029,xx{offset:02X},"{PHI_PRIVATE_CREATOR}")'] = f"({tag >> 16:04X},{tag & 0xFFFF:04X})"
    return out


def _same_words(found: str, planted: str) -> bool:
    """A name is reported as the input's PN value (``DOE^JOHN``): planted as ``John Doe`` or inside
    a description (``CT CHEST - DOE, JOHN``), its words are the same."""
    a, b = set(re.findall(r"[^\W_]+", found)), set(re.findall(r"[^\W_]+", planted))
    return bool(a) and bool(b) and (a <= b or b <= a)


def test_untouched_copy_every_planted_item_is_found(corpus, untouched_result):
    private = _private_where(corpus)
    by_where: dict[tuple[str, str], list[str]] = {}
    for f in untouched_result.findings:
        by_where.setdefault((f.category.value, f.where), []).append((f.value or "").lower())
    missing, checked = [], 0
    for item in corpus.planted:
        category = Category.UID if item.category == "uid" else Category.IDENTIFYING
        where = private.get(item.keyword_or_location, item.keyword_or_location)
        values = by_where.get((category.value, where), []) + by_where.get((category.value, "raw bytes"), [])
        planted = item.value.lower()
        if not any(v and (v in planted or planted in v or _same_words(v, planted)) for v in values):
            missing.append(f"{item.category} at {item.keyword_or_location} ({item.patient})")
        checked += 1
    assert checked == len(corpus.planted) > 200
    assert {i.category for i in corpus.planted} >= {"name", "id", "date", "time", "address", "phone", "email",
                                                    "institution", "device", "uid", "free_text", "private", "path"}
    assert missing == []


def test_untouched_copy_has_findings_in_every_category(untouched_result):
    counts = untouched_result.counts()
    assert {c: counts[c] > 0 for c in "abde"} == dict.fromkeys("abde", True)
    # pydicom's examples_rgb_color.dcm (the US template) has "CTR 440643 CINE" burned in: a number
    # that may be an identifier is a warning, since it is no value of the input
    assert any(f.category is Category.PIXEL_TEXT and f.severity is Severity.WARNING and "frame" in f.where
               for f in untouched_result.findings)
    wheres = {(f.category, f.where) for f in untouched_result.findings}
    # E.1-1 row 329 Patient's Address: X; row 337 Patient's Name: Z (a pseudonym allowed, not the original)
    assert (Category.PROFILE, "PatientAddress") in wheres
    assert (Category.PROFILE, "PatientName") in wheres
    assert (Category.MARKING, "PatientIdentityRemoved") in wheres
    assert (Category.MARKING, "DeidentificationMethodCodeSequence") in wheres
    assert any(c is Category.PIXEL_TEXT and w.startswith("pixels frame") for c, w in wheres)  # US burned-in text
    assert not untouched_result.ok


def test_own_output_has_no_findings(corpus, deid_out, dciodvfy):
    written = [r for r in read_manifest(deid_out / MANIFEST_NAME) if r.get("outcome") == "written"]
    result = verify_output(deid_out, against=corpus.root, ocr="auto", dciodvfy=True)
    assert [f.to_dict() for f in result.findings if f.severity is not Severity.NOTE] == []
    assert result.ok
    assert result.dicom_checked == len(written) > 30
    assert result.files_checked == len(written) + 1  # and the manifest
    assert result.images_ocr >= 4  # precondition: US / SC / OT images were read by OCR
    assert {k for k, v in result.needles.items() if v} >= {"name", "id", "date", "address", "phone", "email",
                                                           "institution", "device", "time"}
    assert not any("paired" in n for n in result.notes)  # outputs were paired with inputs via the manifest


@pytest.fixture(scope="module")
def research_result(corpus, tmp_path_factory):
    from dicom_deid.cli import main
    from dicom_deid.keys import create_secret_key

    base = tmp_path_factory.mktemp("verify-research")
    create_secret_key(base / "secret.key")
    rc = main(["run", str(corpus.root), str(base / "out"), "--profile", "research", "--pixels", "off",
               "--key-file", str(base / "secret.key"), "--quiet"])
    assert rc == 3
    return verify_output(base / "out", against=corpus.root, ocr="off")


def test_research_output_has_no_findings(research_result):
    assert [f.to_dict() for f in research_result.findings if f.severity is not Severity.NOTE] == []


def test_output_side_json_holds_no_original_value(corpus, untouched):
    result = verify_output(untouched, against=corpus.root, ocr="off")
    text = result.dumps().upper()
    assert len(result.findings) > 500  # precondition: plenty of findings were described
    leaked = sorted(n for n in corpus.phi_strings() | corpus.original_uids if n.upper() in text)
    assert leaked == []
    assert all(f.value is None for f in result.findings)


def _tamper(out: Path) -> tuple[Path, str]:
    """Plant problems into one output file of a copy; return the file and its relative path."""
    path = min(p for p in out.rglob("*.dcm") if pydicom.dcmread(p, stop_before_pixels=True).Modality == "CT")
    ds = pydicom.dcmread(path)
    ds.PatientAddress = "1 Nowhere Lane"  # E.1-1 row 329: X
    ds.PatientIdentityRemoved = "NO"
    ref = Dataset()
    ref.ReferencedSOPClassUID = ds.SOPClassUID
    ref.ReferencedSOPInstanceUID = "2.25.1234567890"  # not in the output
    ds.ReferencedImageSequence = Sequence([ref])
    with pytest.warns(UserWarning, match="Invalid value for VR UI"):
        ds.FrameOfReferenceUID = "1.2.3.04"  # leading zero: invalid UID syntax
    ds.save_as(path)
    return path, path.relative_to(out).as_posix()


def test_without_input_profile_uid_and_marking_problems_are_found(deid_out, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(deid_out, out)
    _, rel = _tamper(out)
    result = verify_output(out, ocr="off")
    found = {(f.category, f.file, f.where) for f in result.errors}
    assert found == {
        (Category.PROFILE, rel, "PatientAddress"),
        # E.1-1 Referenced Image Sequence: X/Z/U*, kept with remapped UIDs (U*); checked for (d)
        (Category.MARKING, rel, "PatientIdentityRemoved"),
        (Category.UID, rel, "FrameOfReferenceUID"),
    }
    # without the input a reference to an instance not in the output cannot be judged: it is
    # reported below the error level (tests/test_verify_dangling.py), never dropped
    dangling = [f for f in result.findings if f.where == "ReferencedImageSequence[0].ReferencedSOPInstanceUID"]
    assert [(f.category, f.severity in (Severity.NOTE, Severity.WARNING)) for f in dangling] == [(Category.UID, True)]


def test_dciodvfy_reports_only_errors_new_in_the_output(corpus, deid_out, tmp_path, dciodvfy):
    out = tmp_path / "out"
    shutil.copytree(deid_out, out)
    path = min(p for p in out.rglob("*.dcm") if pydicom.dcmread(p, stop_before_pixels=True).Modality == "MR")
    ds = pydicom.dcmread(path)
    del ds.Modality  # Type 1 in the General Series module
    ds.save_as(path)
    result = verify_output(out, against=corpus.root, ocr="off", dciodvfy=True)
    conformance = [f for f in result.findings if f.category is Category.CONFORMANCE]
    assert {f.file for f in conformance} == {path.relative_to(out).as_posix()}
    assert any("Modality" in f.detail for f in conformance)
    assert all(f.severity is Severity.ERROR for f in conformance)


def test_ocr_unavailable_is_reported_not_ignored(deid_out, monkeypatch):
    from dicom_deid import verify

    def unavailable(self):
        raise OcrUnavailable("Tesseract is missing")

    monkeypatch.setattr(verify._WordReader, "__init__", unavailable)
    auto = verify_output(deid_out, ocr="auto")
    assert [(f.category, f.severity) for f in auto.findings] == [(Category.PIXEL_TEXT, Severity.WARNING)]
    assert any(n.startswith("OCR unavailable") for n in auto.notes)
    strict = verify_output(deid_out, ocr="all")
    assert [(f.category, f.severity) for f in strict.findings] == [(Category.PIXEL_TEXT, Severity.ERROR)]


def test_show_values_needs_the_input_side(deid_out):
    with pytest.raises(ConfigError, match="--show-values needs --against INPUT"):
        verify_output(deid_out, show_values=True)


def test_cli_verify_exit_codes_and_json(corpus, deid_out, untouched, tmp_path, capsys):
    assert main(["verify", str(deid_out), "--against", str(corpus.root), "--ocr", "off"]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith("dicom-deid verify: ") and first.endswith(": 0 finding(s)")
    assert main(["verify", str(untouched), "--against", str(corpus.root), "--ocr", "off", "--json"]) == 4
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False and report["counts"]["b"] > 0 and report["counts"]["d"] > 0
    assert main(["verify", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("dicom-deid: error: ") and "not a folder" in err[0]
