"""Metadata inside compressed pixel streams: JPEG comments and EXIF, JFIF thumbnails, JPEG 2000
comments are removed from every frame; the decoded pixels stay bit-identical; verify finds such
segments in an output; a frame whose comment cannot be removed safely is quarantined.

The inputs are pydicom's own compressed test files with segments inserted here, byte by byte, as
the JPEG (ITU T.81 B.2.4) and JPEG 2000 (T.800 A.9.2) syntaxes define them."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.encaps import encapsulate, generate_frames

from dicom_deid.cli import main
from dicom_deid.errors import PixelStreamError
from dicom_deid.manifest import MANIFEST_NAME, read_manifest
from dicom_deid.streams import scrub_j2k, scrub_jpeg
from dicom_deid.verify import Category, verify_output

NAME = b"QUILLFEATHER^HORTENSE"
MRN = b"MRN-4471902"


def _segment(marker: int, body: bytes) -> bytes:
    return bytes((0xFF, marker)) + (len(body) + 2).to_bytes(2, "big") + body


def _exif(text: bytes) -> bytes:
    """An APP1 EXIF body whose ImageDescription (0x010E) holds ``text`` (one IFD, little endian)."""
    value = text + b"\x00"
    ifd = (1).to_bytes(2, "little") + (0x010E).to_bytes(2, "little") + (2).to_bytes(2, "little")
    ifd += len(value).to_bytes(4, "little") + (8 + 2 + 12 + 4).to_bytes(4, "little") + (0).to_bytes(4, "little")
    return b"Exif\x00\x00" + b"II*\x00" + (8).to_bytes(4, "little") + ifd + value


def _with_jpeg_segments(frame: bytes, *segments: bytes) -> bytes:
    assert frame[:2] == b"\xff\xd8"
    return frame[:2] + b"".join(segments) + frame[2:]


def _with_j2k_comment(frame: bytes, text: bytes) -> bytes:
    assert frame[:4] == b"\xff\x4f\xff\x51"
    siz_end = 4 + int.from_bytes(frame[4:6], "big")
    return frame[:siz_end] + _segment(0x64, b"\x00\x01" + text) + frame[siz_end:]


def _frames(ds: pydicom.Dataset) -> list[bytes]:
    return list(generate_frames(ds.PixelData, number_of_frames=int(ds.get("NumberOfFrames", 1) or 1)))


def _write(ds: pydicom.Dataset, frames: list[bytes], path: Path) -> Path:
    ds.PixelData = encapsulate(frames, has_bot=len(frames) > 1)
    ds["PixelData"].is_undefined_length = True
    ds.NumberOfFrames = len(frames)
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


def _run(inp: Path, out: Path, *extra: str) -> tuple[int, list[dict]]:
    rc = main(["run", str(inp), str(out), "--pixels", "off", "--quiet", *extra])
    rows = [r for r in read_manifest(out / MANIFEST_NAME) if r["type"] == "file"]
    return rc, rows


def _only_output(out: Path) -> Path:
    files = [p for p in out.rglob("*.dcm")]
    assert len(files) == 1
    return files[0]


@pytest.fixture
def jpeg_with_phi(tmp_path):
    src = pydicom.dcmread(get_testdata_file("SC_rgb_jpeg_dcmtk.dcm"))
    frame = _frames(src)[0]
    tampered = _with_jpeg_segments(frame, _segment(0xE1, _exif(NAME + b" " + MRN)),
                                   _segment(0xFE, b"Patient " + NAME), _segment(0xEB, b"VENDOR " + MRN))
    return src, _write(src.copy(), [tampered], tmp_path / "in" / "jpeg.dcm")


def test_jpeg_comment_exif_and_vendor_segments_are_removed_and_pixels_unchanged(jpeg_with_phi, tmp_path):
    src, path = jpeg_with_phi
    assert NAME in path.read_bytes() and MRN in path.read_bytes()
    rc, rows = _run(path.parent, tmp_path / "out")
    assert rc == 0 and [r["outcome"] for r in rows] == ["written"]
    assert sorted(rows[0]["stream_metadata"]) == ["APP1", "APP11", "COM"]
    written = _only_output(tmp_path / "out")
    data = written.read_bytes()
    assert NAME not in data and MRN not in data and b"QUILLFEATHER" not in data
    out = pydicom.dcmread(written)
    assert out.file_meta.TransferSyntaxUID == src.file_meta.TransferSyntaxUID  # not re-encoded
    np.testing.assert_array_equal(out.pixel_array, src.pixel_array)
    assert b"JFIF\x00" in _frames(out)[0][:40]  # the JFIF header decoders read stays


def test_a_multiframe_j2k_has_the_comment_removed_from_the_frame_that_holds_it(tmp_path):
    src = pydicom.dcmread(get_testdata_file("MR_small_jp2klossless.dcm"))
    frame = _frames(src)[0]
    plain = scrub_j2k(frame)[0]  # the encoder's own comment removed: frames 1 and 3 carry none
    frames = [plain, _with_j2k_comment(plain, b"Reader: " + NAME), plain]
    path = _write(src.copy(), frames, tmp_path / "in" / "j2k.dcm")
    rc, rows = _run(path.parent, tmp_path / "out")
    assert rc == 0 and rows[0]["stream_metadata"] == ["COM"]
    written = _only_output(tmp_path / "out")
    assert NAME not in written.read_bytes()
    out = pydicom.dcmread(written)
    assert [f[:len(plain)] for f in _frames(out)] == [plain, plain, plain]  # (+ a pad byte if odd)
    expected = pydicom.dcmread(path).pixel_array
    assert expected.shape[0] == 3
    np.testing.assert_array_equal(out.pixel_array, expected)


def test_a_comment_in_a_j2k_tile_part_header_is_quarantined_not_written(tmp_path):
    src = pydicom.dcmread(get_testdata_file("MR_small_jp2klossless.dcm"))
    frame = scrub_j2k(_frames(src)[0])[0]
    sot = frame.index(b"\xff\x90")
    com = _segment(0x64, b"\x00\x01" + NAME)
    psot = int.from_bytes(frame[sot + 6:sot + 10], "big")
    assert psot != 0
    patched = (frame[:sot + 6] + (psot + len(com)).to_bytes(4, "big") + frame[sot + 10:sot + 12] + com
               + frame[sot + 12:])
    path = _write(src.copy(), [patched], tmp_path / "in" / "tile.dcm")
    rc, rows = _run(path.parent, tmp_path / "out")
    assert rc == 3 and [(r["outcome"], r["reason"]) for r in rows] == [("quarantined", "pixel_error")]
    assert not list((tmp_path / "out").rglob("*.dcm"))


def test_jfif_thumbnail_is_dropped_and_the_header_kept():
    thumb = bytes(range(2 * 2 * 3))
    jfif = b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01" + b"\x02\x02" + thumb
    frame = b"\xff\xd8" + _segment(0xE0, jfif) + _segment(0xDB, b"\x00" + bytes(64)) + b"\xff\xda\x00\x02rest"
    new, removed = scrub_jpeg(frame)
    assert removed == {"APP0 thumbnail": 1}
    assert new == (b"\xff\xd8" + _segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
                   + _segment(0xDB, b"\x00" + bytes(64)) + b"\xff\xda\x00\x02rest")


def test_segments_after_the_scan_are_never_touched():
    scan = b"\xff\xda\x00\x02" + b"\x12\xff\x00\x34" + b"\xff\xfe\x00\x04hi" + b"\xff\xd9"
    frame = b"\xff\xd8" + _segment(0xEE, b"Adobe\x00d\x00\x00\x00\x00\x01") + scan
    assert scrub_jpeg(frame) == (frame, {})


def test_a_segment_running_past_the_frame_is_an_error():
    with pytest.raises(PixelStreamError, match="runs past the frame"):
        scrub_jpeg(b"\xff\xd8\xff\xfe\x01\x00short")


def test_verify_finds_stream_metadata_left_in_an_output(jpeg_with_phi, tmp_path):
    _, path = jpeg_with_phi
    rc, _ = _run(path.parent, tmp_path / "out")
    assert rc == 0
    clean = verify_output(tmp_path / "out", ocr="off")
    assert not [f for f in clean.errors if f.where == "PixelData"]
    # an output written by a tool that keeps the segments: the tampered input itself, marked de-identified
    written = _only_output(tmp_path / "out")
    shutil.copy(path, tmp_path / "raw.dcm")
    leaky = pydicom.dcmread(written)
    leaky.PixelData = pydicom.dcmread(tmp_path / "raw.dcm").PixelData
    leaky["PixelData"].is_undefined_length = True
    leaky.save_as(written)
    found = [f for f in verify_output(tmp_path / "out", ocr="off").errors if f.where == "PixelData"]
    assert len(found) == 1 and found[0].category is Category.PROFILE
    assert "APP1" in found[0].detail and "COM" in found[0].detail
