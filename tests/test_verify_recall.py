"""Recall of verify: leaks planted into otherwise clean output files, one test per leak kind.

dicom-deid de-identifies a small input (a CT and an SR of one patient, research profile); the
output passes verify.  Then each leak below is planted with pydicom into a copy of one output
file, and verify must report it as an error at the planted location.  The expected locations
and categories come from this table, never from verify.  Verify is tested independently of
``run``: the leaks are written here, not by the pipeline.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from dicom_deid.cli import main
from dicom_deid.verify import Category, Severity, VerifyResult, verify_output

PATIENT = "QUIXWORTH^PERCIVIL"
IDENTITY = {
    "PatientName": PATIENT,
    "PatientID": "MRN7734921",
    "PatientBirthDate": "19610203",
    "PatientAddress": "14 Wrenfield Lane, Oxbury",
    "PatientTelephoneNumbers": "(555) 213-4477",
    "InstitutionName": "Vellmoor Memorial Hospital",
    "AccessionNumber": "ACC88213X",
    "OperatorsName": "LI^WEI",
    "PerformingPhysicianName": "MÜLLER^JÜRGEN",
    "PatientComments": "contact percivil.q@oxbury-mail.example",
}
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"


def _identify(ds: Dataset) -> None:
    ds.SpecificCharacterSet = "ISO_IR 192"
    for keyword, value in IDENTITY.items():
        setattr(ds, keyword, value)


def _write(ds: Dataset, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)


def _sr(ct: Dataset) -> Dataset:
    sr = Dataset()
    sr.file_meta = FileMetaDataset()
    sr.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    sr.SOPClassUID = "1.2.840.10008.5.1.4.1.1.88.11"  # Basic Text SR
    sr.SOPInstanceUID = generate_uid()
    sr.StudyInstanceUID, sr.SeriesInstanceUID = ct.StudyInstanceUID, generate_uid()
    sr.Modality, sr.StudyDate, sr.ValueType, sr.ContinuityOfContent = "SR", ct.StudyDate, "CONTAINER", "SEPARATE"
    title = Dataset()
    title.CodeValue, title.CodingSchemeDesignator, title.CodeMeaning = "11528-7", "LN", "Radiology Report"
    sr.ConceptNameCodeSequence = Sequence([title])
    item = Dataset()
    item.RelationshipType, item.ValueType = "CONTAINS", "TEXT"
    name = Dataset()
    name.CodeValue, name.CodingSchemeDesignator, name.CodeMeaning = "121071", "DCM", "Finding"
    item.ConceptNameCodeSequence = Sequence([name])
    item.TextValue = "No acute findings."
    sr.ContentSequence = Sequence([item])
    _identify(sr)
    return sr


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory, key_file) -> tuple[Path, Path]:
    """(input, output): a CT and an SR of one patient, de-identified with the research profile."""
    base = tmp_path_factory.mktemp("recall")
    ct = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    _identify(ct)
    _write(ct, base / "in" / "ct.dcm")
    _write(_sr(ct), base / "in" / "sr.dcm")
    rc = main(["run", str(base / "in"), str(base / "out"), "--profile", "research", "--pixels", "off",
               "--key-file", str(key_file), "--quiet"])
    assert rc == 0
    return base / "in", base / "out"


def _burn(ds: Dataset, text: str) -> None:
    """An ORIGINAL CT of 512 x 512 with ``text`` burned in at the top left, as a scanner does."""
    from PIL import Image, ImageDraw, ImageFont

    image = np.kron(ds.pixel_array.astype(np.int32), np.ones((4, 4), np.int32))
    lo, hi = int(image.min()), int(image.max())
    canvas = Image.new("L", (512, 512), 0)
    ImageDraw.Draw(canvas).text((12, 10), text, fill=255, font=ImageFont.truetype(FONT, 26))
    burned = np.where(np.asarray(canvas) > 127, hi, image).astype(np.int16 if lo < 0 else np.uint16)
    ds.Rows = ds.Columns = 512
    ds.PixelData = burned.tobytes()
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.SeriesInstanceUID = "2.25." + str(int.from_bytes(b"burned-in series", "big"))


def _text(keyword: str, value: str) -> Callable[[Dataset], None]:
    def plant(ds: Dataset) -> None:
        setattr(ds, keyword, value)
    return plant


def _private(ds: Dataset) -> None:
    block = ds.private_block(0x0029, "ACME LEAK 1.0", create=True)
    block.add_new(0x10, "LO", "QUIXWORTH")


def _nested(ds: Dataset) -> None:
    item = Dataset()
    item.ScheduledProcedureStepDescription = "CT chest for quixworth"
    ds.RequestAttributesSequence = Sequence([item])


def _sr_text(ds: Dataset) -> None:
    ds.ContentSequence[0].TextValue = "Discussed with Percivil Quixworth."


def _file_meta(ds: Dataset) -> None:
    ds.file_meta.PrivateInformationCreatorUID = "2.25.7"
    ds.file_meta.PrivateInformation = b"sent by QUIXWORTH "


def _padding(ds: Dataset) -> None:
    ds.DataSetTrailingPadding = b"QUIXWORTH PERCIVIL  "


def _original_uid(ds: Dataset, original: Dataset) -> None:
    ref = Dataset()
    ref.ReferencedSOPClassUID, ref.ReferencedSOPInstanceUID = original.SOPClassUID, original.SOPInstanceUID
    ds.ReferencedImageSequence = Sequence([ref])


@dataclass(frozen=True)
class Leak:
    kind: str
    source: str  # "ct" or "sr": the output file it is planted into
    plant: Callable[[Dataset], None] | None  # changes the dataset (None: bytes only)
    where: str  # where verify must report it (prefix of Finding.where)
    category: Category = Category.IDENTIFYING
    raw: Callable[[bytes], bytes] | None = None  # changes the written bytes


LEAKS = [
    # person names, however spelled
    Leak("surname in a description", "ct", _text("StudyDescription", "CT CHEST QUIXWORTH"), "StudyDescription"),
    Leak("given name alone, lower case", "ct", _text("SeriesDescription", "percivil follow-up"),
         "SeriesDescription"),
    Leak("full name, other order and case", "ct", _text("ImageComments", "Percivil Quixworth"), "ImageComments"),
    Leak("given name spelled with one edit", "ct", _text("ImageComments", "seen by PERCIVAL today"),
         "ImageComments"),
    Leak("surname spelled with two edits", "ct", _text("ImageComments", "Mr Quickworth"), "ImageComments"),
    Leak("staff name transliterated (Mueller for Müller)", "ct", _text("SeriesDescription", "Dr Mueller"),
         "SeriesDescription"),
    Leak("initial with a short surname", "ct", _text("ImageComments", "scanned by W. Li"), "ImageComments"),
    Leak("short name parts together, other order", "ct", _text("PerformedProcedureStepDescription", "WEI LI"),
         "PerformedProcedureStepDescription"),
    Leak("name split across lines", "ct", _text("ImageComments", "Patient QUIX-\r\nWORTH, CT"), "ImageComments"),
    Leak("name spaced out letter by letter", "ct", _text("StudyDescription", "P E R C I V I L"),
         "StudyDescription"),
    Leak("name padded with spaces", "ct", _text("SeriesDescription", "   QUIXWORTH    PERCIVIL   "),
         "SeriesDescription"),
    Leak("name in SR text", "sr", _sr_text, "ContentSequence[0].TextValue"),
    Leak("name in a private tag", "ct", _private, "(0029,1010)"),
    Leak("name in a nested sequence", "ct", _nested, "RequestAttributesSequence[0].ScheduledProcedureStepDescription"),
    Leak("name in the file meta", "ct", _file_meta, "PrivateInformation"),
    Leak("name in the preamble", "ct", None, "raw bytes",
         raw=lambda b: b"QUIXWORTH PERCIVIL".ljust(128, b"\0") + b[128:]),
    Leak("name in the trailing padding", "ct", _padding, "DataSetTrailingPadding"),
    Leak("name in bytes after the data set", "ct", None, "raw bytes", raw=lambda b: b + b"\0QUIXWORTH\0"),
    # other identifying values
    Leak("patient ID", "ct", _text("ImageComments", "MRN 7734921"), "ImageComments"),
    Leak("patient ID in an attribute Table E.1-1 does not list (kept)", "ct", _text("ReceiveCoilName", "MRN7734921"),
         "ReceiveCoilName"),
    Leak("accession number", "sr", _text("StudyDescription", "order ACC88213X"), "StudyDescription"),
    Leak("birth date as DA", "ct", _text("ImageComments", "DOB 19610203"), "ImageComments"),
    Leak("birth date ISO", "ct", _text("ImageComments", "born 1961-02-03"), "ImageComments"),
    Leak("birth date m/d/y", "ct", _text("ImageComments", "born 02/03/1961"), "ImageComments"),
    Leak("birth date d.m.y", "ct", _text("ImageComments", "geb. 03.02.1961"), "ImageComments"),
    Leak("birth date with month name", "ct", _text("ImageComments", "born 3 Feb 1961"), "ImageComments"),
    Leak("birth date DDMONYYYY", "ct", _text("ImageComments", "DOB 03FEB1961"), "ImageComments"),
    Leak("address", "ct", _text("ImageComments", "lives at 14 Wrenfield Lane"), "ImageComments"),
    Leak("phone number", "ct", _text("ImageComments", "call 555.213.4477"), "ImageComments"),
    Leak("e-mail address", "ct", _text("ImageComments", "percivil.q@oxbury-mail.example"), "ImageComments"),
    Leak("institution name", "sr", _text("StudyDescription", "from Vellmoor Memorial Hospital"),
         "StudyDescription"),
    Leak("burned-in name on an ORIGINAL CT", "ct", lambda ds: _burn(ds, "QUIXWORTH PERCIVIL"), "pixels frame 0",
         Category.PIXEL_TEXT),
]
ORIGINAL_UID = Leak("original SOP Instance UID in a reference", "ct", None, "ReferencedImageSequence[0]",
                    Category.UID)


def _output_of(out: Path, modality: str) -> Path:
    return next(p for p in sorted(out.rglob("*.dcm")) if pydicom.dcmread(p, stop_before_pixels=True).Modality
                == modality)


@pytest.fixture(scope="module")
def planted(clean_run, tmp_path_factory) -> tuple[VerifyResult, dict[str, str]]:
    """One output folder: the clean output plus one file per leak; verify run once over it."""
    inp, out = clean_run
    folder = tmp_path_factory.mktemp("leaks") / "out"
    shutil.copytree(out, folder)
    sources = {"ct": _output_of(out, "CT"), "sr": _output_of(out, "SR")}
    original_ct = pydicom.dcmread(inp / "ct.dcm", stop_before_pixels=True)
    files = {}
    for i, leak in enumerate([*LEAKS, ORIGINAL_UID]):
        ds = pydicom.dcmread(sources[leak.source])
        uid = f"2.25.{9000 + i}"  # a new instance under the tool's root: no duplicate
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = uid
        if leak is ORIGINAL_UID:
            _original_uid(ds, original_ct)
        elif leak.plant is not None:
            leak.plant(ds)
        path = folder / "leaks" / f"leak{i:02d}.dcm"
        _write(ds, path)
        if leak.raw is not None:
            path.write_bytes(leak.raw(path.read_bytes()))
        files[leak.kind] = path.relative_to(folder).as_posix()
    return verify_output(folder, against=inp, ocr="auto"), files


def test_the_clean_output_passes(clean_run):
    inp, out = clean_run
    result = verify_output(out, against=inp, ocr="auto")
    assert [f.to_dict() for f in result.findings if f.severity is not Severity.NOTE] == []
    assert result.dicom_checked == 2 and result.images_ocr == 1  # precondition: both files checked, CT read


def test_the_suite_covers_25_leak_kinds_and_nothing_else_is_reported(planted):
    result, files = planted
    assert len(LEAKS) + 1 >= 25
    leak_files = set(files.values())
    stray = [f.to_dict() for f in result.findings if f.file not in leak_files and f.severity is not Severity.NOTE]
    assert stray == []  # the untouched outputs beside the leaks stay clean


@pytest.mark.parametrize("leak", [*LEAKS, ORIGINAL_UID], ids=lambda leak: leak.kind)
def test_planted_leak_is_an_error_where_it_was_planted(planted, leak):
    result, files = planted
    mine = [f for f in result.findings if f.file == files[leak.kind]]
    hits = [f for f in mine if f.category is leak.category and f.severity is Severity.ERROR
            and f.where.startswith(leak.where)]
    assert hits, [f.to_dict() for f in mine]
