"""Encapsulated documents (issue 12): quarantined by default, dropped or kept on request, never
written with an emptied body, and their Document Title cleaned like any description.

The input is a real PDF (one page of text, built here byte by byte with its cross-reference
table) inside an Encapsulated PDF instance (PS3.3 A.45.1)."""

from __future__ import annotations

import json
from pathlib import Path

import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian

from dicom_deid.clean import REDACTED
from dicom_deid.cli import main
from dicom_deid.errors import ProfileError
from dicom_deid.manifest import MANIFEST_NAME, read_manifest
from dicom_deid.profiles import DocumentPolicy, load_profile

ENCAPSULATED_PDF = "1.2.840.10008.5.1.4.1.1.104.1"
NAME = ("SMITHERSON", "JOHN")


def _pdf(text: str) -> bytes:
    """A minimal, valid PDF 1.4 with one page showing ``text``."""
    stream = f"BT /F1 18 Tf 72 720 Td ({text}) Tj ET".encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        (b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
         b"/Resources << /Font << /F1 5 0 R >> >> >>"),
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (i, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def _pdf_instance() -> Dataset:
    body = _pdf(f"Referral letter for {NAME[1]} {NAME[0]}, MRN 5550123")
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = ENCAPSULATED_PDF
    ds.file_meta.MediaStorageSOPInstanceUID = "1.2.826.0.1.3680043.10.1234.1"
    ds.SOPClassUID, ds.SOPInstanceUID = ENCAPSULATED_PDF, "1.2.826.0.1.3680043.10.1234.1"
    ds.StudyInstanceUID, ds.SeriesInstanceUID = "1.2.826.0.1.3680043.10.1234.2", "1.2.826.0.1.3680043.10.1234.3"
    ds.PatientName, ds.PatientID = f"{NAME[0]}^{NAME[1]}", "5550123"
    ds.PatientBirthDate, ds.PatientSex = "19500101", "M"
    ds.StudyDate, ds.StudyTime, ds.AccessionNumber = "20240102", "101010", "ACC5550123"
    ds.ReferringPhysicianName, ds.StudyID = "", "1"
    ds.Modality, ds.SeriesNumber, ds.InstanceNumber = "DOC", "1", "1"
    ds.ContentDate, ds.ContentTime, ds.AcquisitionDateTime = "20240102", "101010", "20240102101010"
    ds.ConversionType, ds.BurnedInAnnotation = "WSD", "YES"
    ds.DocumentTitle = f"Referral {NAME[0]} {NAME[1]}"
    ds.ConceptNameCodeSequence = Sequence()
    ds.MIMETypeOfEncapsulatedDocument = "application/pdf"
    ds.EncapsulatedDocumentLength = len(body)
    ds.EncapsulatedDocument = body + (b"\x00" if len(body) % 2 else b"")
    return ds


@pytest.fixture
def pdf_input(tmp_path: Path) -> tuple[Path, bytes]:
    inp = tmp_path / "in"
    inp.mkdir()
    ds = _pdf_instance()
    ds.save_as(inp / "DOC1", enforce_file_format=True)
    assert ds.EncapsulatedDocument.startswith(b"%PDF-1.4")  # precondition: a real document body
    return inp, bytes(ds.EncapsulatedDocument)


def _run(inp: Path, out: Path, *args: str) -> tuple[int, list[dict[str, object]]]:
    rc = main(["run", str(inp), str(out), "--pixels", "off", "--quiet", *args])
    rows = [r for r in read_manifest(out / MANIFEST_NAME) if r.get("type") == "file"]
    return rc, rows


def _documents_in(out: Path) -> list[bytes]:
    bodies = []
    for path in out.rglob("*.dcm"):
        ds = pydicom.dcmread(path)
        bodies += [bytes(e.value or b"") for e in ds.iterall() if e.keyword == "EncapsulatedDocument"]
    return bodies


def test_document_is_quarantined_by_default(pdf_input: tuple[Path, bytes], tmp_path: Path) -> None:
    inp, _ = pdf_input
    rc, rows = _run(inp, tmp_path / "out")
    assert rc == 3
    assert [(r["outcome"], r.get("reason")) for r in rows] == [("quarantined", "encapsulated_document")]
    assert list((tmp_path / "out").rglob("*.dcm")) == []
    reasons = [json.loads(line) for line in (tmp_path / "out.quarantine" / "reasons.jsonl").read_text().splitlines()]
    assert [r["reason"] for r in reasons] == ["encapsulated_document"]
    assert (tmp_path / "out.quarantine" / reasons[0]["file"]).read_bytes() == (inp / "DOC1").read_bytes()
    assert "application/pdf" in reasons[0]["message"] and "--documents keep" in reasons[0]["message"]


def test_drop_leaves_the_document_out_without_a_copy(pdf_input: tuple[Path, bytes], tmp_path: Path) -> None:
    inp, _ = pdf_input
    rc, rows = _run(inp, tmp_path / "out", "--documents", "drop")
    assert rc == 0
    assert [(r["outcome"], r.get("reason")) for r in rows] == [("skipped_document", "encapsulated_document")]
    assert list((tmp_path / "out").rglob("*.dcm")) == []
    assert not (tmp_path / "out.quarantine").exists() or not any((tmp_path / "out.quarantine").glob("*.bin"))


@pytest.mark.parametrize(("profile", "title"), [("basic", ""), ("research", "Referral * *")])
def test_keep_writes_the_body_unchanged_and_reports_it(pdf_input: tuple[Path, bytes], tmp_path: Path,
                                                       profile: str, title: str) -> None:
    inp, body = pdf_input
    report = tmp_path / "report.html"
    rc, rows = _run(inp, tmp_path / "out", "--documents", "keep", "--profile", profile, "--report", str(report))
    assert rc == 0
    assert [(r["outcome"], r.get("document")) for r in rows] == [("written", "kept")]
    (path,) = (tmp_path / "out").rglob("*.dcm")
    out = pydicom.dcmread(path)
    assert bytes(out.EncapsulatedDocument) == body
    # Document Title: Type 2 in the Encapsulated Document module, so emptied (basic) or cleaned
    # (Clean Descriptors) like Study Description; the name never survives
    assert "DocumentTitle" in out
    assert str(out.DocumentTitle or "").strip() == title.replace("*", REDACTED)  # each name part
    assert NAME[0] not in str(out.PatientName) and NAME[0] not in str(out.DocumentTitle or "")
    assert "encapsulated document written unexamined" in report.read_text(encoding="utf-8")


def test_keep_from_the_profile_file(pdf_input: tuple[Path, bytes], tmp_path: Path) -> None:
    inp, body = pdf_input
    toml = tmp_path / "mine.toml"
    toml.write_text('name = "mine"\noptions = []\n[documents]\npolicy = "keep"\n')
    assert load_profile(toml).documents is DocumentPolicy.KEEP
    assert load_profile(toml, documents="drop").documents is DocumentPolicy.DROP  # the flag wins
    rc, _ = _run(inp, tmp_path / "out", "--profile", str(toml))
    assert rc == 0
    assert _documents_in(tmp_path / "out") == [body]


def test_invalid_policy_in_a_profile_is_a_profile_error(tmp_path: Path) -> None:
    toml = tmp_path / "bad.toml"
    toml.write_text('[documents]\npolicy = "shred"\n')
    with pytest.raises(ProfileError, match=r"documents.policy: 'shred' is not valid; choose from: quarantine, drop, keep"):
        load_profile(toml)


def test_invalid_flag_is_a_usage_error(pdf_input: tuple[Path, bytes], tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    inp, _ = pdf_input
    assert main(["run", str(inp), str(tmp_path / "out"), "--documents", "shred", "--quiet"]) == 2
    assert "argument --documents: invalid choice: 'shred'" in capsys.readouterr().err


@pytest.mark.parametrize("override", ["EncapsulatedDocument=empty", "EncapsulatedDocument=remove",
                                      "EncapsulatedDocument=replace:x"])
def test_no_output_ever_holds_an_emptied_document(pdf_input: tuple[Path, bytes], tmp_path: Path,
                                                  override: str) -> None:
    """Whatever the policy and overrides, a written document has its whole body."""
    inp, body = pdf_input
    checked = 0
    for policy in ("quarantine", "drop", "keep"):
        out = tmp_path / f"{policy}-out"
        rc, rows = _run(inp, out, "--documents", policy, "--override", override)
        assert rows[0]["outcome"] in ("quarantined", "skipped_document"), (policy, rows[0])
        assert _documents_in(out) == []
        assert rc == (0 if policy == "drop" else 3)
        checked += 1
    rc, _ = _run(inp, tmp_path / "plain-keep", "--documents", "keep")
    assert _documents_in(tmp_path / "plain-keep") == [body]
    assert checked == 3
