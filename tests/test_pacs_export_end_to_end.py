"""A generated PACS export with planted PHI, de-identified end to end through the CLI."""

from __future__ import annotations

import hashlib
import os
import zipfile
from pathlib import Path

import pydicom
import pytest

from dicom_deid.cli import main
from dicom_deid.manifest import MANIFEST_NAME, read_manifest
from tests.phi_scan import contains, iter_values, scan_tree
from tests.planted import generate_corpus


def _run(argv: list[str]) -> int:
    return main(["run", *argv, "--pixels", "off", "--quiet"])


def _tree_digest(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _count_inputs(root: Path) -> int:
    """Independent count: every file, zip members expanded."""
    n = 0
    for dirpath, _, files in os.walk(root):
        for f in files:
            p = Path(dirpath) / f
            if p.suffix == ".zip" and zipfile.is_zipfile(p):
                with zipfile.ZipFile(p) as zf:
                    n += sum(1 for i in zf.infolist() if not i.is_dir())
            else:
                n += 1
    return n


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return generate_corpus(tmp_path_factory.mktemp("export") / "in", seed=7, patients=3, bad_inputs=True)


@pytest.fixture(scope="module")
def basic_run(corpus, key_file, tmp_path_factory):
    out = tmp_path_factory.mktemp("basic") / "out"
    before = _tree_digest(corpus.root)
    rc = _run([str(corpus.root), str(out), "--key-file", str(key_file)])
    return {"out": out, "rc": rc, "before": before}


def _outputs(out: Path) -> list[Path]:
    return sorted(out.rglob("*.dcm"))


def test_basic_profile_leaves_no_planted_phi_anywhere(corpus, basic_run):
    needles = corpus.phi_strings() | corpus.original_uids
    assert len(needles) > 100  # precondition: the corpus really plants PHI
    hits, scanned = scan_tree(basic_run["out"], needles)
    assert scanned == len(_outputs(basic_run["out"])) > 30
    assert hits == []


def test_input_is_never_modified(corpus, basic_run):
    assert _tree_digest(corpus.root) == basic_run["before"]


def test_every_input_accounted_for_in_manifest(corpus, basic_run):
    rows = read_manifest(basic_run["out"] / MANIFEST_NAME)
    files = [r for r in rows if r["type"] == "file"]
    assert len(files) == _count_inputs(corpus.root)
    assert sorted(r["ordinal"] for r in files) == list(range(len(files)))
    written = [r for r in files if r["outcome"] == "written"]
    assert len(written) == len(_outputs(basic_run["out"]))
    summary = rows[-1]
    assert summary["type"] == "summary" and summary["files"] == len(files)
    outcomes = {r["outcome"] for r in files}
    assert {"written", "quarantined", "skipped_not_dicom", "skipped_dicomdir"} <= outcomes
    assert basic_run["rc"] == 3  # something was quarantined


def test_bad_inputs_are_skipped_or_quarantined_with_reasons(corpus, basic_run):
    qdir = basic_run["out"].with_name("out.quarantine")
    lines = (qdir / "reasons.jsonl").read_text().splitlines()
    reasons = {line.split('"reason": "')[1].split('"')[0] for line in lines}
    assert reasons == {"truncated"}
    assert len(lines) == 2  # truncated in pixel data, truncated in a header
    assert all(p.stat().st_mode & 0o077 == 0 for p in qdir.glob("*.bin"))
    # the file without preamble or meta is readable and de-identified, not lost
    assert corpus.bad_files["no_preamble"].exists()


def test_manifest_and_paths_hold_no_phi(corpus, basic_run):
    needles = [n.upper() for n in corpus.phi_strings()]
    text = (basic_run["out"] / MANIFEST_NAME).read_text().upper()
    assert [n for n in needles if contains(text, n)] == []
    names = "/".join(p.relative_to(basic_run["out"]).as_posix() for p in basic_run["out"].rglob("*")).upper()
    assert [n for n in needles if contains(names, n)] == []
    for uid in corpus.original_uids:
        assert uid not in names


def test_output_layout_patient_study_series_instance(basic_run):
    for path in _outputs(basic_run["out"]):
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        rel = path.relative_to(basic_run["out"]).parts
        assert rel == (ds.PatientID, ds.StudyInstanceUID, ds.SeriesInstanceUID, f"{ds.SOPInstanceUID}.dcm")
        assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
        assert ds.PatientIdentityRemoved == "YES"
        assert ds.DeidentificationMethodCodeSequence[0].CodeValue == "113100"
        assert ds.file_meta.ImplementationVersionName.startswith("DICOMDEID")
        assert "SourceApplicationEntityTitle" not in ds.file_meta


def _references(ds, keyword="ReferencedSOPInstanceUID"):
    found = []
    for elem in ds.iterall():
        if elem.keyword == keyword:
            found.append(str(elem.value))
    return found


def test_references_between_instances_resolve(corpus, basic_run):
    outs = [pydicom.dcmread(p, stop_before_pixels=True) for p in _outputs(basic_run["out"])]
    sop_uids = {str(ds.SOPInstanceUID) for ds in outs}
    refs = [r for ds in outs for r in _references(ds)]
    assert len(refs) >= 3  # precondition: the SR evidence references survive the basic profile
    assert [r for r in refs if r not in sop_uids] == []
    # frame of reference and study UIDs stay shared within a series / study
    by_series: dict[str, set[str]] = {}
    for ds in outs:
        if "FrameOfReferenceUID" in ds:
            by_series.setdefault(str(ds.SeriesInstanceUID), set()).add(str(ds.FrameOfReferenceUID))
    assert by_series and all(len(v) == 1 for v in by_series.values())


def test_same_key_gives_byte_identical_output(corpus, key_file, basic_run, tmp_path):
    out2 = tmp_path / "again"
    _run([str(corpus.root), str(out2), "--key-file", str(key_file)])
    first = {k: v for k, v in _tree_digest(basic_run["out"]).items() if k.endswith(".dcm")}
    second = {k: v for k, v in _tree_digest(out2).items() if k.endswith(".dcm")}
    assert first and first == second


def test_different_key_gives_unrelated_pseudonyms(corpus, basic_run, tmp_path):
    from dicom_deid.keys import create_secret_key

    other = tmp_path / "other.key"
    create_secret_key(other)
    out2 = tmp_path / "other"
    _run([str(corpus.root), str(out2), "--key-file", str(other)])
    a = {p.parts[-4] for p in _outputs(basic_run["out"])}
    b = {p.parts[-4] for p in _outputs(out2)}
    assert len(a) == len(b) >= 3 and not (a & b)
    uids_a = {p.stem for p in _outputs(basic_run["out"])}
    uids_b = {p.stem for p in _outputs(out2)}
    assert not (uids_a & uids_b)


def test_clinical_content_and_pixels_pass_through_unchanged(corpus, basic_run):
    """Pixel bytes, geometry and acquisition attributes are identical to the input."""
    from dicom_deid.walk import read_bytes, walk_inputs

    rows = {r["ordinal"]: r for r in read_manifest(basic_run["out"] / MANIFEST_NAME) if r["type"] == "file"}
    keep = ["Modality", "Rows", "Columns", "PixelSpacing", "SliceThickness", "RescaleSlope", "RescaleIntercept",
            "WindowCenter", "BitsAllocated", "PhotometricInterpretation", "InstanceNumber", "SOPClassUID",
            "ImagePositionPatient", "ImageOrientationPatient", "KVP", "EchoTime", "RepetitionTime",
            "NumberOfFrames", "SamplesPerPixel", "PixelRepresentation"]
    compared = 0
    for ref in walk_inputs(corpus.root):
        row = rows[ref.ordinal]
        if row["outcome"] != "written":
            continue
        import io

        src = pydicom.dcmread(io.BytesIO(read_bytes(ref)), force=True)
        out = pydicom.dcmread(basic_run["out"] / row["output"])
        if "TransferSyntaxUID" in src.file_meta:
            assert out.file_meta.TransferSyntaxUID == src.file_meta.TransferSyntaxUID
        if "PixelData" in src:
            assert out.PixelData == src.PixelData
        for kw in keep:
            if kw in src:
                assert out.get(kw) == src.get(kw), kw
        compared += 1
    assert compared == len(_outputs(basic_run["out"])) >= 30


def test_dry_run_prints_plan_and_writes_nothing(corpus, key_file, tmp_path, capsys):
    out = tmp_path / "dry"
    rc = main(["run", str(corpus.root), str(out), "--key-file", str(key_file), "--dry-run", "--sample", "2",
               "--pixels", "off", "--quiet"])
    printed = capsys.readouterr().out
    assert rc == 0
    assert not out.exists()
    assert "PatientName" in printed and "E.1-1 row" in printed
    assert " X  " in printed and " U  " in printed


def test_text_values_from_structured_reports_are_dummied_under_basic(basic_run):
    texts = []
    for path in _outputs(basic_run["out"]):
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        texts += [v for where, v in iter_values(ds) if where.endswith("TextValue")]
    assert texts and set(texts) == {"ANONYMIZED"}


def test_the_phi_oracle_finds_a_date_anywhere_but_by_chance_inside_a_uid_number():
    """The scan's one exception: a digits-only planted value inside the 39-digit number of a keyed
    2.25 UID is chance (a 1-in-10^8 coincidence per place), not a copy; in a DT, a free text or a
    dotted UID component it is a leak."""
    assert not contains("2.25.339993595830614727305517829202211296629", "20221129")
    for text in ("20221129123000.5", "SCAN OF 20221129", "1.2.840.20221129.7", "20221129"):
        assert contains(text, "20221129"), text
    assert contains("DOE^JOHN", "DOE^JOHN")
