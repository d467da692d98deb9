"""Re-encoding after redaction keeps the image attributes consistent (issue 12).

Each case is redacted through ``PixelStage`` with a fixed box, written, and compared with its
source: Photometric Interpretation and Planar Configuration are the source's wherever the written
transfer syntax can carry them (the expected values are the source header's), dciodvfy reports no
message the source did not have, and outside the box the pixels are those of the source as pydicom
decodes them.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from pixel_fixtures import FixedFinder, outside_mask, read_test_file, roundtrip
from pydicom.dataset import Dataset
from pydicom.pixels import get_decoder
from pydicom.pixels.processing import convert_color_space
from pydicom.uid import ExplicitVRLittleEndian, JPEG2000Lossless, RLELossless

from dicom_deid.pixels import PixelMode, PixelPolicy, PixelStage
from dicom_deid.pixels.ocr import TextBox
from tests.conformance import dciodvfy_errors

US_IMAGE = "1.2.840.10008.5.1.4.1.1.6.1"


def _ultrasound_ybr_rle_planar() -> Dataset:
    """dcm4che's YBR_FULL-RLE.dcm, rebuilt from a pydicom test file: an Ultrasound image, RLE,
    YBR_FULL, Planar Configuration 1 (pydicom's encoder and colour conversion, not ours)."""
    ds = read_test_file("SC_rgb_rle.dcm")
    ybr = convert_color_space(ds.pixel_array, "RGB", "YBR_FULL")
    ds.PhotometricInterpretation = "YBR_FULL"
    ds.compress(RLELossless, ybr, generate_instance_uid=False)
    ds.PlanarConfiguration = 1  # RLE codes each plane as its own segment whatever this says
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = US_IMAGE
    ds.Modality = "US"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "ABDOMINAL"]
    ds.LossyImageCompression = "00"
    return roundtrip(ds)


@dataclass(frozen=True)
class Case:
    source: str
    syntax_out: str
    photometric_out: str  # "source": as the source header says
    planar_out: str  # "source" or a value


CASES = {
    "rle-YBR_FULL-planar1-US": Case("gen:us-ybr-rle", RLELossless, "source", "source"),
    "j2k-lossless-YBR_RCT": Case("examples_jpeg2k.dcm", JPEG2000Lossless, "source", "source"),
    "j2k-lossless-YBR_RCT-GDCM": Case("GDCMJ2K_TextGBR.dcm", JPEG2000Lossless, "source", "source"),
    "big-endian-RGB-planar1": Case("ExplVR_BigEnd.dcm", ExplicitVRLittleEndian, "source", "source"),
    # a JPEG's YCbCr (4:2:2, upsampled by the decoder) is not re-encoded lossy: RLE Lossless keeps
    # the decoded values as YBR_FULL, colour-by-plane, the only YBR_FULL an Ultrasound image may
    # carry (dciodvfy: uncompressed YBR_FULL, or Planar Configuration 0, is an error there)
    "jpeg-YBR_FULL_422-US-multiframe": Case("examples_ybr_color.dcm", RLELossless, "YBR_FULL", "1"),
    "jpeg-YBR_FULL-SC": Case("SC_rgb_jpeg_dcmtk.dcm", RLELossless, "source", "1"),
    # uncompressed YBR_FULL_422 cannot stay so once redacted: RGB by pydicom's conversion
    "native-YBR_FULL_422": Case("SC_ybr_full_422_uncompressed.dcm", ExplicitVRLittleEndian, "RGB", "source"),
}


def _load(case: Case) -> Dataset:
    return _ultrasound_ybr_rle_planar() if case.source == "gen:us-ybr-rle" else read_test_file(case.source)


def _displayed(ds: Dataset) -> np.ndarray:
    """What a viewer shows: pydicom's decoder with its own colour handling (RGB out)."""
    arr, _ = get_decoder(ds.file_meta.TransferSyntaxUID).as_array(ds, as_rgb=True)
    return arr.reshape((int(ds.get("NumberOfFrames", 1) or 1), int(ds.Rows), int(ds.Columns), -1))


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_redacted_image_keeps_its_attributes_and_gains_no_dciodvfy_error(case: Case, tmp_path: Path) -> None:
    source = _load(case)
    box = (int(source.Columns) // 4, int(source.Rows) // 4, int(source.Columns) // 3, int(source.Rows) // 3)
    src_path = tmp_path / "source.dcm"
    source.save_as(src_path, enforce_file_format=True)
    stage = PixelStage(PixelPolicy(mode=PixelMode.ALL, margin=0), finder=FixedFinder([TextBox(*box)]))
    target = copy.deepcopy(source)

    outcome = stage.process(source, target)

    assert outcome.redacted
    out_path = tmp_path / "out.dcm"
    target.save_as(out_path, enforce_file_format=True)
    written = roundtrip(target)
    assert written.file_meta.TransferSyntaxUID == case.syntax_out
    expected_pi = source.PhotometricInterpretation if case.photometric_out == "source" else case.photometric_out
    assert written.PhotometricInterpretation == expected_pi
    expected_pc = source.get("PlanarConfiguration") if case.planar_out == "source" else int(case.planar_out)
    assert written.get("PlanarConfiguration") == expected_pc
    assert int(written.SamplesPerPixel) == int(source.SamplesPerPixel) == 3
    new = dciodvfy_errors(out_path) - dciodvfy_errors(src_path)
    assert sorted(new) == []
    before, after = _displayed(source), _displayed(written)
    boxes = [(b.x, b.y, b.width, b.height) for b in outcome.boxes]  # ours, plus any region template's
    assert box in boxes
    keep = outside_mask(before.shape[1:3], boxes)
    assert np.array_equal(before[:, keep], after[:, keep])
    x, y, w, h = box
    assert not np.array_equal(before[:, y:y + h, x:x + w], after[:, y:y + h, x:x + w])  # it was redacted


def test_the_generated_case_is_what_the_issue_names() -> None:
    """Precondition: like dcm4che's YBR_FULL-RLE.dcm (RLE, YBR_FULL, Planar Configuration 1, US)."""
    ds = _ultrasound_ybr_rle_planar()
    assert (ds.file_meta.TransferSyntaxUID, ds.PhotometricInterpretation, ds.PlanarConfiguration,
            ds.SOPClassUID) == (RLELossless, "YBR_FULL", 1, US_IMAGE)


def test_compressed_icon_inside_a_sequence_is_refused_when_writing_uncompressed() -> None:
    """fo-dicom's GH133.dcm: an Icon Image Sequence with JPEG data beside a JPEG image.  The plan
    removes icons (E.1-1 X); if one were kept, the redacted image could not be written natively."""
    from dicom_deid.errors import PixelError
    from dicom_deid.pixels.decode import decode_pixels
    from dicom_deid.pixels.encode import encode_frames

    source = read_test_file("JPGExtended.dcm")  # lossy JPEG, no encoder: written uncompressed
    icon = Dataset()
    for keyword in ("SamplesPerPixel", "PhotometricInterpretation", "Rows", "Columns", "BitsAllocated",
                    "BitsStored", "HighBit", "PixelRepresentation", "PixelData"):
        icon[keyword] = copy.deepcopy(source[keyword])
    assert icon["PixelData"].is_undefined_length  # precondition: encapsulated
    source.IconImageSequence = [icon]
    decoded = decode_pixels(source)
    with pytest.raises(PixelError, match=r"^IconImageSequence: compressed pixel data inside a sequence"):
        encode_frames(copy.deepcopy(source), decoded.frames, decoded.facts)
