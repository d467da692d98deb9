"""Regression tests for an adversarial review: each builds the hostile input it names."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pydicom
import pytest
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset
from pydicom.sequence import Sequence
from pydicom.tag import BaseTag
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

from dicom_deid.cli import main
from dicom_deid.manifest import MANIFEST_NAME, read_manifest

SECRET = "SECRETSURNAME"


def _base(sop: str, *, implicit: bool = False, study: str = "1.2.3.4.5.6.7.8.2") -> Dataset:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian if implicit else ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID = sop
    ds.StudyInstanceUID, ds.SeriesInstanceUID = study, "1.2.3.4.5.6.7.8.3"
    ds.PatientName, ds.PatientID, ds.Modality = f"{SECRET}^SECRETGIVEN", "MRN987654", "OT"
    return ds


def _save(ds: Dataset, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, implicit_vr=ds.file_meta.TransferSyntaxUID.is_implicit_VR, little_endian=True,
               enforce_file_format=True)
    return path


def _run(inp: Path, out: Path, *extra: str) -> int:
    return main(["run", str(inp), str(out), "--pixels", "off", "--quiet", "--workers", "1", *extra])


def _leaks(out: Path, needles: list[str]) -> list[tuple[str, str]]:
    hits = []
    for p in out.rglob("*"):
        if p.is_file():
            data = p.read_bytes()
            hits += [(p.name, n) for n in needles if n.encode() in data or n in str(p)]
    return hits


def test_instance_uids_in_the_dicom_root_are_remapped_and_never_name_paths_outside_output(tmp_path):
    _save(_base("1.2.840.10008.99.1", study="1.2.840.10008.5/../../../escaped"), tmp_path / "in" / "d.dcm")
    out = tmp_path / "out"
    assert _run(tmp_path / "in", out) == 0
    (res,) = [pydicom.dcmread(p) for p in out.rglob("*.dcm")]
    assert res.SOPInstanceUID.startswith("2.25.") and res.StudyInstanceUID.startswith("2.25.")
    # with retain-uids the hostile value would name the folder: quarantined instead
    out2 = tmp_path / "out2"
    assert _run(tmp_path / "in", out2, "--option", "retain-uids") == 3
    assert not (tmp_path / "escaped").exists() and not list(out2.rglob("*.dcm"))
    reasons = (tmp_path / "out2.quarantine" / "reasons.jsonl").read_text()
    assert '"reason": "invalid_identifier"' in reasons


def _items_as_un(items: list[Dataset]) -> bytes:
    out = b""
    for item in items:
        fp = DicomBytesIO()
        fp.is_little_endian, fp.is_implicit_VR = True, True
        write_dataset(fp, item)
        body = fp.getvalue()
        out += b"\xfe\xff\x00\xe0" + len(body).to_bytes(4, "little") + body
    return out


def test_public_sequence_stored_as_un_is_walked_not_copied(tmp_path):
    inner = Dataset()
    inner.PatientName = f"{SECRET}^NESTED"
    inner.add_new(0x00090010, "LO", "ACME")
    inner.add_new(0x00091001, "LO", "SECRETPRIVATENESTED")
    ds = _base("1.2.3.100.2")
    value = _items_as_un([inner])  # PerFrameFunctionalGroupsSequence, written with VR UN
    ds[0x52009230] = RawDataElement(BaseTag(0x52009230), "UN", len(value), value, 0, False, True)
    path = _save(ds, tmp_path / "in" / "b.dcm")
    assert b"SECRETPRIVATENESTED" in path.read_bytes()  # precondition
    out = tmp_path / "out"
    assert _run(tmp_path / "in", out, "--profile", "research") == 0
    assert _leaks(out, [SECRET, "SECRETPRIVATENESTED", "MRN987654"]) == []


def test_safe_private_sequence_in_implicit_vr_is_not_kept_unexamined(tmp_path):
    item = Dataset()
    item.PatientName = "SECRETNESTEDNAME"
    ds = _base("1.2.3.100.5", implicit=True)
    ds.add_new(0x20010010, "LO", "Philips Imaging DD 001")
    ds.add_new(0x2001105F, "SQ", Sequence([item]))  # Stack Sequence: safe in Table E.3.10-1
    _save(ds, tmp_path / "in" / "p.dcm")
    out = tmp_path / "out"
    assert _run(tmp_path / "in", out, "--profile", "research") == 0
    assert _leaks(out, ["SECRETNESTEDNAME", SECRET]) == []


def test_overlay_bitmap_in_implicit_vr_is_removed_under_clean_graphics(tmp_path):
    ds = _base("1.2.3.100.6", implicit=True)
    ds.add_new(0x60003000, "OW", b"SECRETOVERLAYBITS!")
    _save(ds, tmp_path / "in" / "e.dcm")
    out = tmp_path / "out"
    assert _run(tmp_path / "in", out, "--profile", "research") == 0
    assert _leaks(out, ["SECRETOVERLAYBITS"]) == []


def _dcm_bytes(sop: str, name: str) -> bytes:
    ds = _base(sop)
    ds.PatientName = name
    fp = DicomBytesIO()
    ds.save_as(fp, enforce_file_format=True)
    return fp.getvalue()


def test_bad_zip_member_and_corrupt_archive_are_quarantined_and_the_run_carries_on(tmp_path):
    inp = tmp_path / "in"
    inp.mkdir()
    _save(_base("1.2.3.200.1"), inp / "good.dcm")
    bad = inp / "bad_member.zip"
    with zipfile.ZipFile(bad, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("a.dcm", _dcm_bytes("1.2.3.200.2", "A^A"))
        zf.writestr("b.dcm", _dcm_bytes("1.2.3.200.3", "B^B"))
    data = bytearray(bad.read_bytes())
    first = data.index(b"DICM")  # corrupt the first member's content: CRC mismatch
    data[first + 200] ^= 0xFF
    bad.write_bytes(bytes(data))
    broken = inp / "broken.zip"
    broken.write_bytes(b"PK\x03\x04" + b"\x00" * 60 + b"PK\x05\x06" + b"\x00" * 18)  # EOCD with junk
    out = tmp_path / "out"
    assert _run(inp, out) == 3
    rows = [r for r in read_manifest(out / MANIFEST_NAME) if r["type"] == "file"]
    outcomes = sorted(r["outcome"] for r in rows)
    assert outcomes.count("written") == 2  # good.dcm and the intact member b.dcm
    assert outcomes.count("quarantined") + outcomes.count("skipped_not_dicom") == 2
    reasons = [json.loads(x) for x in (tmp_path / "out.quarantine" / "reasons.jsonl").read_text().splitlines()]
    assert any("bad_member.zip!0:a.dcm" == r["source"] for r in reasons)


def test_zip_members_with_the_same_name_are_both_processed(tmp_path):
    inp = tmp_path / "in"
    inp.mkdir()
    with zipfile.ZipFile(inp / "dup.zip", "w") as zf:
        zf.writestr("IM1", _dcm_bytes("1.2.3.300.1", "FIRST^ONE"))
        zf.writestr("IM1", _dcm_bytes("1.2.3.300.2", "SECOND^TWO"))
    out = tmp_path / "out"
    assert _run(inp, out) == 0
    rows = [r for r in read_manifest(out / MANIFEST_NAME) if r["type"] == "file"]
    assert len(rows) == 2 and len({r["input_id"] for r in rows}) == 2
    assert len(list(out.rglob("*.dcm"))) == 2


def test_resume_with_other_settings_is_refused_and_force_redoes(tmp_path, capsys):
    _save(_base("1.2.3.400.1"), tmp_path / "in" / "a.dcm")
    out = tmp_path / "out"
    assert _run(tmp_path / "in", out, "--option", "retain-uids") == 0
    capsys.readouterr()
    assert _run(tmp_path / "in", out) == 2
    assert "another profile, options, key or subject map" in capsys.readouterr().err
    assert _run(tmp_path / "in", out, "--force") == 0


def test_linked_study_folders_are_walked(tmp_path):
    real = tmp_path / "real" / "study"
    _save(_base("1.2.3.500.1"), real / "a.dcm")
    inp = tmp_path / "in"
    inp.mkdir()
    (inp / "linked_study").symlink_to(real, target_is_directory=True)
    (inp / "loop").symlink_to(inp, target_is_directory=True)  # a loop is walked once
    out = tmp_path / "out"
    assert _run(inp, out) == 0
    assert len(list(out.rglob("*.dcm"))) == 1


@pytest.mark.parametrize("implicit", [False, True], ids=["explicit", "implicit"])
def test_unlisted_person_name_is_not_kept(tmp_path, implicit):
    ds = _base("1.2.3.600.1", implicit=implicit)
    ds.add_new(0x00142006, "PN", "SECRETEVALUATOR^X")  # EvaluatorName, not in Table E.1-1
    _save(ds, tmp_path / "in" / "a.dcm")
    out = tmp_path / "out"
    assert _run(tmp_path / "in", out) == 0
    assert _leaks(out, ["SECRETEVALUATOR"]) == []


@pytest.mark.parametrize("first, second", [
    (("--documents", "drop"), ("--documents", "keep")),
    (("--override", "StudyDescription=keep"), ()),
    (("--profile", "safe-harbor"), ("--profile", "safe-harbor", "--override", "PatientAge=remove")),
], ids=["documents", "override", "override-on-named-profile"])
def test_resume_with_the_same_profile_but_other_settings_is_refused(tmp_path, capsys, first, second):
    _save(_base("1.2.3.401.1"), tmp_path / "in" / "a.dcm")
    out = tmp_path / "out"
    assert _run(tmp_path / "in", out, *first) == 0
    capsys.readouterr()
    assert _run(tmp_path / "in", out, *second) == 2
    assert "other settings" in capsys.readouterr().err
    assert _run(tmp_path / "in", out, *first) == 0  # the same settings resume
    runs = [json.loads(line) for line in (out / "dicom-deid-manifest.jsonl").read_text().splitlines()
            if json.loads(line)["type"] == "run"]
    assert [r["resumed"] for r in runs] == [0, 1]  # the refused run wrote no header; the last skipped a.dcm
