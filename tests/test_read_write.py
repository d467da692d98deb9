"""read and write: what is DICOM, atomic writes that never replace another file, every transfer
syntax round-tripped through bytes (write, then read back), preamble or none."""

from __future__ import annotations

import errno
import json
import os
import stat
from io import BytesIO
from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

from dicom_deid import write as write_mod
from dicom_deid.errors import DeidError, NotDicomError, QuarantineReason, UnreadableDicomError
from dicom_deid.read import DicomDirFile, parse_dicom, read_instance
from dicom_deid.walk import InputRef
from dicom_deid.write import (
    DuplicateInstanceError,
    UnsafeOutputName,
    WriteError,
    atomic_write_bytes,
    encode_dataset,
    output_relpath,
    quarantine,
    write_output,
)

# one pydicom test file per transfer syntax pydicom reads (and the name of the syntax it holds)
SYNTAXES = {
    "MR_small_implicit.dcm": "1.2.840.10008.1.2",
    "MR_small.dcm": "1.2.840.10008.1.2.1",
    "MR_small_bigendian.dcm": "1.2.840.10008.1.2.2",
    "image_dfl.dcm": "1.2.840.10008.1.2.1.99",
    "MR_small_RLE.dcm": "1.2.840.10008.1.2.5",
    "SC_rgb_jpeg_dcmtk.dcm": "1.2.840.10008.1.2.4.50",
    "JPEG-lossy.dcm": "1.2.840.10008.1.2.4.51",
    "JPEG-LL.dcm": "1.2.840.10008.1.2.4.70",
    "MR_small_jpeg_ls_lossless.dcm": "1.2.840.10008.1.2.4.80",
    "JPEGLSNearLossless_08.dcm": "1.2.840.10008.1.2.4.81",
    "MR_small_jp2klossless.dcm": "1.2.840.10008.1.2.4.90",
    "JPEG2000.dcm": "1.2.840.10008.1.2.4.91",
}


def _testfile(name: str) -> Path:
    path = get_testdata_file(name)
    assert path is not None, f"{name} missing: pip install -e '.[test]' (pydicom-data)"
    return Path(path)


def _ref(path: Path) -> InputRef:
    return InputRef(ordinal=0, path=path)


def _elements(ds: Dataset) -> list[tuple[int, str, str]]:
    return [(int(e.tag), e.VR, repr(e.value)) for e in ds]


# --- every transfer syntax through bytes -----------------------------------------------------

@pytest.mark.parametrize(("name", "syntax"), SYNTAXES.items(), ids=list(SYNTAXES))
def test_every_transfer_syntax_round_trips(name: str, syntax: str) -> None:
    """Read, change one element, encode, read back: the syntax, every element and the pixel
    bytes are what was read (pixel data is never decoded on the way)."""
    data = _testfile(name).read_bytes()
    ds = parse_dicom(data, where=name)
    assert ds.file_meta.TransferSyntaxUID == syntax  # precondition
    pixels = ds.get_item(0x7FE00010).value if "PixelData" in ds else None
    ds.PatientName = "ANON^CHANGED"
    out = encode_dataset(ds, ds.file_meta)
    assert out[128:132] == b"DICM"
    back = parse_dicom(out, where="out")
    assert back.file_meta.TransferSyntaxUID == syntax
    assert back.PatientName == "ANON^CHANGED"
    assert _elements(back) == _elements(ds)
    if pixels is not None:
        assert back.get_item(0x7FE00010).value == pixels or back.PixelData == ds.PixelData


def test_syntaxes_cover_native_and_encapsulated() -> None:
    from pydicom.uid import UID

    uids = [UID(s) for s in SYNTAXES.values()]
    assert sum(u.is_compressed for u in uids) == 8 and sum(not u.is_compressed for u in uids) == 4
    assert any(u.is_deflated for u in uids) and any(not u.is_little_endian for u in uids)


def test_unchanged_elements_are_copied_byte_for_byte() -> None:
    """The fast path: an element read and not touched is written as the bytes read."""
    path = _testfile("MR_small.dcm")
    data = path.read_bytes()
    ds = parse_dicom(data, where="MR_small")
    out = encode_dataset(ds, ds.file_meta)
    pixel_at = data.find(ds.get_item(0x7FE00010).value)
    assert pixel_at > 0 and out.endswith(data[pixel_at:])


@pytest.mark.parametrize(("syntax", "implicit", "little"), [
    (ImplicitVRLittleEndian, True, True), (ExplicitVRLittleEndian, False, True), (ExplicitVRBigEndian, False, False)],
    ids=["implicit", "explicit", "big-endian"])
def test_a_dataset_built_in_memory_is_written_in_the_syntax_its_meta_names(syntax, implicit, little) -> None:
    ds = Dataset()
    ds.SOPClassUID, ds.SOPInstanceUID = "1.2.840.10008.5.1.4.1.1.7", "2.25.7"
    ds.PatientName = "A^B"
    ds.Rows = 2
    ds.set_original_encoding(implicit, little, None)
    meta = FileMetaDataset()
    meta.TransferSyntaxUID = syntax
    meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = ds.SOPClassUID, ds.SOPInstanceUID
    back = pydicom.dcmread(BytesIO(encode_dataset(ds, meta)))
    assert back.file_meta.TransferSyntaxUID == syntax
    assert (back.PatientName, back.Rows, back.SOPInstanceUID) == ("A^B", 2, "2.25.7")


# --- what is DICOM: preamble or none ----------------------------------------------------------

def test_dicom_without_preamble_is_read() -> None:
    with_preamble = _testfile("MR_small.dcm").read_bytes()
    bare = with_preamble[132:]  # file meta, no preamble and no DICM prefix
    ds = parse_dicom(bare, where="bare")
    assert ds.SOPInstanceUID == pydicom.dcmread(_testfile("MR_small.dcm")).SOPInstanceUID


@pytest.mark.parametrize(("name", "syntax"), [("MR_small_implicit.dcm", ImplicitVRLittleEndian),
                                              ("MR_small.dcm", ExplicitVRLittleEndian)], ids=["implicit", "explicit"])
def test_dataset_without_preamble_or_file_meta_is_read_and_given_a_syntax(name: str, syntax: str,
                                                                          tmp_path: Path) -> None:
    """An ACR-NEMA style file: the dataset alone, from (0008,0005) on."""
    data = _testfile(name).read_bytes()
    meta_length = int.from_bytes(data[140:144], "little")  # (0002,0000) File Meta Information Group Length
    bare = data[144 + meta_length:]
    assert bare[:2] == b"\x08\x00"  # precondition: group 0008 first
    (tmp_path / "bare").write_bytes(bare)
    instance = read_instance(_ref(tmp_path / "bare"))
    assert instance.dataset.file_meta.TransferSyntaxUID == syntax
    assert instance.dataset.SOPInstanceUID == pydicom.dcmread(_testfile(name)).SOPInstanceUID
    assert instance.size == len(bare)


@pytest.mark.parametrize(("data", "message"), [
    (b"", "empty file"),
    (b"hello world, not an image", "not a DICOM file"),
    (b"\x00" * 200, "not a DICOM file"),
], ids=["empty", "text", "zeros"])
def test_not_dicom(data: bytes, message: str) -> None:
    with pytest.raises(NotDicomError, match=message):
        parse_dicom(data, where="x")


def test_truncated_file_is_unreadable_with_its_reason() -> None:
    data = _testfile("MR_small.dcm").read_bytes()
    with pytest.raises(UnreadableDicomError, match=r"x: truncated DICOM file: element \(7FE0,0010\)") as info:
        parse_dicom(data[:-1000], where="x")
    assert info.value.reason is QuarantineReason.TRUNCATED


def test_missing_sop_instance_uid_and_dicomdir(tmp_path: Path) -> None:
    ds = pydicom.dcmread(_testfile("MR_small.dcm"))
    del ds.SOPInstanceUID
    ds.save_as(tmp_path / "a.dcm")
    with pytest.raises(UnreadableDicomError, match="a.dcm: missing SOPInstanceUID") as info:
        read_instance(_ref(tmp_path / "a.dcm"))
    assert info.value.reason is QuarantineReason.MISSING_REQUIRED
    with pytest.raises(DicomDirFile, match="DICOMDIR index"):
        read_instance(_ref(_testfile("DICOMDIR")))


def test_read_never_changes_the_input(tmp_path: Path) -> None:
    path = tmp_path / "in.dcm"
    path.write_bytes(_testfile("MR_small_bigendian.dcm").read_bytes())
    before = (path.read_bytes(), path.stat().st_mtime_ns)
    read_instance(_ref(path))
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before


# --- atomic writes ------------------------------------------------------------------------------

def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".part"))


def test_write_output_creates_reuses_and_never_replaces(tmp_path: Path) -> None:
    path = tmp_path / "P" / "S" / "x.dcm"
    assert write_output(path, b"one") is True
    assert write_output(path, b"one") is False  # identical: a re-run
    with pytest.raises(DuplicateInstanceError, match="same SOP Instance UID with different content"):
        write_output(path, b"two")
    assert path.read_bytes() == b"one"
    assert write_output(path, b"two", replace=True) is True  # --force
    assert path.read_bytes() == b"two"
    assert _leftovers(path.parent) == []
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


@pytest.mark.parametrize("writer", ["write_output", "atomic_write_bytes"])
def test_a_failed_write_leaves_no_file_under_its_name(writer: str, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The disk fills half-way: no file under the final name, no temporary file left behind."""
    real_write = os.write
    calls = []

    def half_then_full(fd: int, data: bytes | memoryview) -> int:
        calls.append(len(data))
        if len(calls) > 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, bytes(data)[: len(data) // 2])

    monkeypatch.setattr(write_mod.os, "write", half_then_full)
    path = tmp_path / "out" / "x.dcm"
    with pytest.raises(WriteError, match=r"x.dcm: cannot write output \(No space left on device\)"):
        getattr(write_mod, writer)(path, b"0123456789" * 100)
    monkeypatch.undo()
    assert not path.exists() and _leftovers(path.parent) == []
    assert len(calls) == 2  # precondition: the first half was written


def test_write_into_a_folder_that_cannot_be_created(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_bytes(b"")
    with pytest.raises(OSError, match="File exists|Not a directory"):
        write_output(blocker / "x.dcm", b"data")
    with pytest.raises(OSError, match="File exists|Not a directory"):
        atomic_write_bytes(blocker / "x.dcm", b"data")


def test_atomic_write_bytes_mode(tmp_path: Path) -> None:
    atomic_write_bytes(tmp_path / "k", b"secret", mode=0o600)
    assert stat.S_IMODE((tmp_path / "k").stat().st_mode) == 0o600 and (tmp_path / "k").read_bytes() == b"secret"
    atomic_write_bytes(tmp_path / "k", b"again", mode=0o600)  # replaces its own file
    assert (tmp_path / "k").read_bytes() == b"again" and _leftovers(tmp_path) == []


@pytest.mark.parametrize("bad", ["", "..", "a/b", "../x", ".hidden", "a b", "x" * 129, "2.25..1"])
def test_output_names_are_plain(bad: str) -> None:
    with pytest.raises(UnsafeOutputName, match="cannot name an output file or folder"):
        output_relpath(bad, "2.25.1", "2.25.2", "2.25.3")
    with pytest.raises(UnsafeOutputName, match="SOPInstanceUID cannot name"):
        output_relpath("DDX", "2.25.1", "2.25.2", bad)


def test_output_relpath_layout() -> None:
    assert output_relpath("DDX", "2.25.1", "2.25.2", "2.25.3") == "DDX/2.25.1/2.25.2/2.25.3.dcm"


def test_quarantine_copies_with_reason_and_private_modes(tmp_path: Path) -> None:
    qdir = tmp_path / "q"
    target = quarantine(qdir, "00000001-abc", b"original", reason=QuarantineReason.TRUNCATED,
                        message="in/a.dcm: truncated", source="a.dcm")
    quarantine(qdir, "00000002-def", None, reason=QuarantineReason.INTERNAL_ERROR, message="m", source="b.dcm")
    assert target.read_bytes() == b"original"
    assert stat.S_IMODE(qdir.stat().st_mode) == 0o700 and stat.S_IMODE(target.stat().st_mode) == 0o600
    rows = [json.loads(line) for line in (qdir / "reasons.jsonl").read_text().splitlines()]
    assert rows == [
        {"file": "00000001-abc.bin", "source": "a.dcm", "reason": "truncated", "message": "in/a.dcm: truncated"},
        {"file": None, "source": "b.dcm", "reason": "internal_error", "message": "m"},
    ]


#: Explicit VR Little Endian files read_fast.py takes: native pixels, encapsulated pixels, sequences
#: of undefined length (the file meta is read by pydicom either way).
_FAST_FILES = ("MR_small.dcm", "JPEG2000.dcm", "reportsi.dcm", "SC_rgb_small_odd.dcm")


@pytest.mark.parametrize("name", _FAST_FILES)
def test_the_fast_reader_never_returns_what_the_completeness_check_refuses(name: str) -> None:
    """read.py skips ``_check_complete`` after read_fast.py: on every cut of a file, the fast
    reader either does not take it (FallBack and friends: dcmread then reads it, with the check) or
    returns a dataset the check passes; and parse_dicom answers the same with and without it."""
    from dicom_deid.read import _FAST_FAILURES, _check_complete
    from dicom_deid.read_fast import read_explicit

    data = _testfile(name).read_bytes()
    step = max(1, (len(data) - 132) // 400)
    cuts = sorted({*range(132, len(data), step), *range(len(data) - 40, len(data) + 1)})
    taken = refused = 0
    for cut in cuts:
        part = data[:cut]
        try:
            ds = read_explicit(part)
        except _FAST_FAILURES:
            refused += 1
        else:
            _check_complete(ds, len(part), "x")  # never raises on what the fast reader returns
            taken += 1
        assert _outcome(part, fast=True) == _outcome(part, fast=False), f"{name} cut at {cut}"
    assert taken >= 1 and refused >= len(cuts) // 2, (taken, refused)


def _outcome(data: bytes, *, fast: bool) -> str:
    try:
        ds = parse_dicom(data, where="x", fast=fast)
    except DeidError as exc:
        return f"{type(exc).__name__}: {exc} ({exc.reason})"
    return f"read {len(ds._dict)} elements"


def test_dataset_encoding_is_the_syntax_s_every_time() -> None:
    """read.dataset_encoding is remembered per UID text: the same answer on every call, and an
    unknown or private syntax refused on every call (a refusal is never remembered as an answer)."""
    from dicom_deid.errors import UnsupportedTransferSyntax
    from dicom_deid.read import dataset_encoding

    checked = 0
    for _ in range(3):
        assert dataset_encoding("1.2.840.10008.1.2") == (True, True)
        assert dataset_encoding("1.2.840.10008.1.2.1") == (False, True)
        assert dataset_encoding("1.2.840.10008.1.2.2") == (False, False)
        for bad in ("1.2.3.4", "1.2.840.10008.5.1.4.1.1.2", "not a uid"):
            with pytest.raises(UnsupportedTransferSyntax, match="is not a known transfer syntax"):
                dataset_encoding(bad)
        checked += 1
    assert checked == 3
