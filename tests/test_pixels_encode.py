"""pixels/encode called directly: frames written back in the source's syntax where a lossless codec
can, a lossy JPEG's YCbCr to RLE Lossless (never re-encoded lossy), every value outside the
change identical after a round trip through bytes."""

from __future__ import annotations

import copy
from io import BytesIO

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.uid import RLELossless

from dicom_deid.pixels.decode import decode_pixels
from dicom_deid.pixels.encode import encode_frames

CASES = {  # source file -> transfer syntax written (by the README's rules)
    "MR_small.dcm": "1.2.840.10008.1.2.1",  # native: as read
    "MR_small_bigendian.dcm": "1.2.840.10008.1.2.1",  # big endian: written little endian
    "MR_small_RLE.dcm": "1.2.840.10008.1.2.5",  # RLE: re-encoded RLE
    "MR_small_jpeg_ls_lossless.dcm": "1.2.840.10008.1.2.4.80",  # JPEG-LS lossless: re-encoded
    "MR_small_jp2klossless.dcm": "1.2.840.10008.1.2.4.90",  # JPEG 2000 lossless: re-encoded
    "SC_rgb_jpeg_dcmtk.dcm": "1.2.840.10008.1.2.5",  # lossy JPEG YCbCr: RLE Lossless, never lossy again
}


def _read(name: str) -> pydicom.Dataset:
    path = get_testdata_file(name)
    assert path is not None, f"{name} missing: pip install -e '.[test]' (pydicom-data)"
    return pydicom.dcmread(path)


@pytest.mark.parametrize(("name", "written"), CASES.items(), ids=list(CASES))
def test_frames_written_back_losslessly(name: str, written: str) -> None:
    source = _read(name)
    decoded = decode_pixels(source)
    frames = decoded.frames.copy()
    frames[(0, slice(0, 4), slice(0, 4))] = 0  # a 4x4 box at the corner, as a redaction would
    target = copy.deepcopy(source)
    result = encode_frames(target, frames, decoded.facts)
    assert str(result.transfer_syntax) == written
    target.file_meta.TransferSyntaxUID = result.transfer_syntax
    buf = BytesIO()
    target.save_as(buf, enforce_file_format=True)
    back = decode_pixels(pydicom.dcmread(BytesIO(buf.getvalue())))
    assert np.array_equal(back.frames, frames)  # exactly what was given: lossless
    if decoded.facts.lossy_history:
        assert str(target.LossyImageCompression) == "01"  # the lossy history is kept
    if result.transfer_syntax == RLELossless and decoded.facts.photometric == "YBR_FULL":
        assert (target.PhotometricInterpretation, target.PlanarConfiguration) == ("YBR_FULL", 1)
