"""Every transfer syntax / photometric / bit depth the pixel stage claims, end to end.

Each row is a real pydicom test file (or a generated variant of one) with what its header
says, redacted through ``PixelStage`` with a fixed text search (one confirmed box) so that the test
is about decoding, filling and re-encoding, not about detection.  Expected values come from
the files' headers and from the issue's rules, not from the code under test.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import pydicom
import pytest
from pixel_fixtures import (
    FixedFinder,
    load_generator,
    outside_mask,
    read_test_file,
    roundtrip,
    stored_frames,
)
from pydicom.dataset import Dataset
from pydicom.uid import (
    JPEG2000,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEGLosslessSV1,
    JPEGLSLossless,
    JPEGLSNearLossless,
    RLELossless,
)

from dicom_deid.pixels import PixelMode, PixelPolicy, PixelStage
from dicom_deid.pixels.ocr import TextBox

EVRLE = ExplicitVRLittleEndian


@dataclass(frozen=True)
class Row:
    source: str  # pydicom test file, or "gen:<base>:<syntax>" for a generated variant
    syntax_in: str
    photometric_in: str
    bits_stored: int
    signed: bool
    frames: int
    syntax_out: str
    photometric_out: str
    lossy_flag: str  # LossyImageCompression after writing: "01", or "keep" (as in the source)


ROWS = {
    "native-MONO2-16-signed": Row("CT_small.dcm", EVRLE, "MONOCHROME2", 16, True, 1, EVRLE, "MONOCHROME2", "keep"),
    "big-endian-MONO2-16": Row("MR_small_bigendian.dcm", "1.2.840.10008.1.2.2", "MONOCHROME2", 16, True, 1, EVRLE, "MONOCHROME2", "keep"),
    "implicit-32bit-multiframe": Row("rtdose.dcm", ImplicitVRLittleEndian, "MONOCHROME2", 32, False, 15, ImplicitVRLittleEndian, "MONOCHROME2", "keep"),
    "rle-MONO2-16": Row("MR_small_RLE.dcm", RLELossless, "MONOCHROME2", 16, True, 1, RLELossless, "MONOCHROME2", "keep"),
    "rle-RGB-8": Row("SC_rgb_rle.dcm", RLELossless, "RGB", 8, False, 1, RLELossless, "RGB", "keep"),
    "rle-RGB-16": Row("SC_rgb_rle_16bit.dcm", RLELossless, "RGB", 16, False, 1, RLELossless, "RGB", "keep"),
    "rle-RGB-8-2frames": Row("SC_rgb_rle_2frame.dcm", RLELossless, "RGB", 8, False, 2, RLELossless, "RGB", "keep"),
    "jpegls-lossless-MONO2-16": Row("MR_small_jpeg_ls_lossless.dcm", JPEGLSLossless, "MONOCHROME2", 16, True, 1, JPEGLSLossless, "MONOCHROME2", "keep"),
    "j2k-lossless-MONO2-16": Row("MR_small_jp2klossless.dcm", JPEG2000Lossless, "MONOCHROME2", 16, True, 1, JPEG2000Lossless, "MONOCHROME2", "keep"),
    "j2k-lossless-YBR_RCT-8": Row("examples_jpeg2k.dcm", JPEG2000Lossless, "YBR_RCT", 8, False, 1, JPEG2000Lossless, "YBR_RCT", "keep"),
    "j2k-91-MONO2-16": Row("JPEG2000.dcm", JPEG2000, "MONOCHROME2", 16, True, 1, EVRLE, "MONOCHROME2", "keep"),
    "jpeg-baseline-YBR_FULL-8": Row("SC_rgb_jpeg_dcmtk.dcm", JPEGBaseline8Bit, "YBR_FULL", 8, False, 1, RLELossless, "YBR_FULL", "01"),
    "jpeg-baseline-RGB-8": Row("SC_jpeg_no_color_transform.dcm", JPEGBaseline8Bit, "RGB", 8, False, 1, EVRLE, "RGB", "01"),
    "jpeg-baseline-YBR_422-30frames": Row("examples_ybr_color.dcm", JPEGBaseline8Bit, "YBR_FULL_422", 8, False, 30, RLELossless, "YBR_FULL", "01"),
    "jpeg-extended-MONO2-12": Row("JPGExtended.dcm", JPEGExtended12Bit, "MONOCHROME2", 12, False, 1, EVRLE, "MONOCHROME2", "01"),
    "jpeg-lossless-RGB-8": Row("SC_rgb_jpeg_gdcm.dcm", JPEGLosslessSV1, "RGB", 8, False, 1, EVRLE, "RGB", "keep"),
    "native-YBR_FULL_422-8": Row("SC_ybr_full_422_uncompressed.dcm", EVRLE, "YBR_FULL_422", 8, False, 1, EVRLE, "RGB", "keep"),
    "native-PALETTE-8": Row("examples_palette.dcm", EVRLE, "PALETTE COLOR", 8, False, 1, EVRLE, "PALETTE COLOR", "keep"),
    "native-MONO1-16-signed": Row("gen:mono1:" + EVRLE, EVRLE, "MONOCHROME1", 16, True, 1, EVRLE, "MONOCHROME1", "keep"),
    "native-MONO2-8": Row("gen:us_grey8:" + EVRLE, EVRLE, "MONOCHROME2", 8, False, 1, EVRLE, "MONOCHROME2", "keep"),
    "jpegls-MONO2-12": Row("gen:ct12:" + JPEGLSLossless, JPEGLSLossless, "MONOCHROME2", 12, False, 1, JPEGLSLossless, "MONOCHROME2", "keep"),
    "rle-MONO1-16-signed": Row("gen:mono1:" + RLELossless, RLELossless, "MONOCHROME1", 16, True, 1, RLELossless, "MONOCHROME1", "keep"),
    "j2k-lossless-RGB-8": Row("gen:us_rgb:" + JPEG2000Lossless, JPEG2000Lossless, "RGB", 8, False, 1, JPEG2000Lossless, "RGB", "keep"),
    "jpeg-baseline-MONO2-8": Row("gen:us_grey8:" + JPEGBaseline8Bit, JPEGBaseline8Bit, "MONOCHROME2", 8, False, 1, EVRLE, "MONOCHROME2", "01"),
    "jpegls-near-lossless-MONO2-16": Row("near:CT_small.dcm", JPEGLSNearLossless, "MONOCHROME2", 16, True, 1, JPEGLSNearLossless, "MONOCHROME2", "keep"),
    "deflated-MONO2-16": Row("deflate:CT_small.dcm", DeflatedExplicitVRLittleEndian, "MONOCHROME2", 16, True, 1, DeflatedExplicitVRLittleEndian, "MONOCHROME2", "keep"),
}  # fmt: skip


def load_row(row: Row) -> Dataset:
    if row.source.startswith("gen:"):
        _, base, syntax = row.source.split(":", 2)
        gen = load_generator()
        rng = np.random.default_rng(5)
        return gen.make_case(0, base, syntax, "OT", rng, items=1).dataset
    if row.source.startswith("near:"):
        ds = read_test_file(row.source.split(":", 1)[1])
        ds.compress(JPEGLSNearLossless, ds.pixel_array, jls_error=3, generate_instance_uid=False)
        return roundtrip(ds)
    if row.source.startswith("deflate:"):
        ds = read_test_file(row.source.split(":", 1)[1])
        ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
        return roundtrip(ds)
    return read_test_file(row.source)


def box_for(ds: Dataset) -> tuple[int, int, int, int]:
    rows, columns = int(ds.Rows), int(ds.Columns)
    return (columns // 4, rows // 4, max(2, columns // 3), max(2, rows // 3))


def black_of(photometric: str, bits: int, ds: Dataset, before: np.ndarray) -> np.ndarray:
    """The fill the issue asks for, per photometric (independent of the stage's code)."""
    if photometric == "MONOCHROME2":
        return np.array([before.min()])
    if photometric == "MONOCHROME1":
        return np.array([before.max()])
    if photometric in ("RGB", "YBR_RCT"):  # a YBR_RCT stream decodes to RGB (the decoder inverts the RCT)
        return np.zeros(3)
    if photometric == "YBR_FULL":
        return np.array([0, 1 << (bits - 1), 1 << (bits - 1)])
    if photometric == "PALETTE COLOR":
        from pydicom.pixels import apply_color_lut

        lut = apply_color_lut(np.arange(256, dtype=np.uint8), ds).astype(float)
        return np.array([int(np.argmin(lut @ [0.299, 0.587, 0.114]))])
    raise AssertionError(photometric)


@pytest.mark.parametrize("row", list(ROWS.values()), ids=list(ROWS))
def test_redaction_round_trip(row: Row) -> None:
    source = load_row(row)
    # precondition: the row describes the file
    assert source.file_meta.TransferSyntaxUID == row.syntax_in
    assert source.PhotometricInterpretation == row.photometric_in
    assert int(source.BitsStored) == row.bits_stored
    assert int(source.PixelRepresentation) == int(row.signed)
    assert int(source.get("NumberOfFrames", 1) or 1) == row.frames
    original_sop = str(source.SOPInstanceUID)
    box = box_for(source)
    stage = PixelStage(PixelPolicy(mode=PixelMode.ALL), finder=FixedFinder([TextBox(*box)]))
    target = copy.deepcopy(source)

    outcome = stage.process(source, target)

    assert outcome.examined and outcome.redacted
    assert outcome.transfer_syntax_out == row.syntax_out
    written = roundtrip(target)
    assert written.file_meta.TransferSyntaxUID == row.syntax_out
    assert written.PhotometricInterpretation == row.photometric_out
    assert written.BurnedInAnnotation == "NO"
    assert str(written.SOPInstanceUID) == original_sop
    expected_flag = (
        source.get("LossyImageCompression") if row.lossy_flag == "keep" else row.lossy_flag
    )
    assert written.get("LossyImageCompression") == expected_flag
    before, after = stored_frames(source), stored_frames(written)
    if row.photometric_in in ("YBR_FULL", "YBR_FULL_422") and row.photometric_out == "RGB":
        # uncompressed YBR_FULL_422 becomes RGB by pydicom's own conversion (issue 12)
        from pydicom.pixels import convert_color_space

        before = convert_color_space(before, "YBR_FULL", "RGB")
    assert before.shape == after.shape
    x, y, w, h = box
    fill = black_of(row.photometric_out, row.bits_stored, written, before)
    inside = after[:, y : y + h, x : x + w]
    assert (inside == fill.astype(after.dtype)).all()
    boxes = [(b.x, b.y, b.width, b.height) for b in outcome.boxes]
    assert box in boxes  # the search's box as reported
    keep = outside_mask(before.shape[1:3], boxes)
    assert np.array_equal(before[:, keep], after[:, keep])  # bit-identical outside the boxes
    assert 0 < int(keep.sum()) <= before.shape[1] * before.shape[2] - w * h


def test_table_covers_issue_list() -> None:
    """The issue's list: syntaxes, photometrics, bit depths, signedness, multi-frame."""
    rows = list(ROWS.values())
    syntaxes = {r.syntax_in for r in rows}
    assert {EVRLE, ImplicitVRLittleEndian, RLELossless, JPEGBaseline8Bit, JPEGExtended12Bit,
            JPEGLosslessSV1, JPEGLSLossless, JPEG2000Lossless, JPEG2000} <= syntaxes  # fmt: skip
    photometrics = {r.photometric_in for r in rows}
    assert {
        "MONOCHROME1",
        "MONOCHROME2",
        "RGB",
        "YBR_FULL",
        "YBR_FULL_422",
        "PALETTE COLOR",
    } <= photometrics
    assert {8, 12, 16} <= {r.bits_stored for r in rows}
    assert {True, False} == {r.signed for r in rows}
    assert any(r.frames > 1 for r in rows)


def test_monochrome1_fill_is_the_largest_stored_value() -> None:
    source = load_row(ROWS["native-MONO1-16-signed"])
    before = stored_frames(source)
    stage = PixelStage(PixelPolicy(mode=PixelMode.ALL), finder=FixedFinder([TextBox(10, 10, 20, 20)]))
    target = copy.deepcopy(source)
    stage.process(source, target)
    after = stored_frames(target)
    assert (after[:, 10:30, 10:30] == before.max()).all()
    assert before.max() != before.min()


def test_pydicom_files_table_matches_disk() -> None:
    """Precondition for the table: the named pydicom test files exist."""
    names = [
        r.source for r in ROWS.values() if not r.source.startswith(("gen:", "deflate:", "near:"))
    ]
    for name in names:
        assert (pydicom.data.__file__ and read_test_file(name)) is not None
    assert len(names) == 18
