"""``read_head.read_attributes``: the survey's few attributes, the very values pydicom reads.

The oracle is pydicom itself (``dcmread(stop_before_pixels=True, force=True, specific_tags=...)``
of the whole file), over every file of pydicom's own test data: each file is either read the
same, or refused (None: the survey then reads it the ordinary way).
"""

from __future__ import annotations

import struct
from io import BytesIO
from pathlib import Path

import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.errors import InvalidDicomError
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

from dicom_deid.pixels.phases import SURVEY_TAGS
from dicom_deid.read_head import read_attributes
from tests.conftest import TEST_FILES

UNREADABLE = (InvalidDicomError, EOFError, ValueError, TypeError, KeyError, IndexError, AttributeError,
              NotImplementedError, struct.error)


def _elements(ds: Dataset) -> dict[int, tuple[str, object]]:
    return {int(e.tag): (str(e.VR), e.value) for e in ds}


def _pydicom(data: bytes) -> Dataset:
    return pydicom.dcmread(BytesIO(data), stop_before_pixels=True, force=True, specific_tags=list(SURVEY_TAGS))


@pytest.mark.filterwarnings("ignore")
def test_every_pydicom_test_file_is_read_as_pydicom_reads_it_or_refused() -> None:
    checked = same = 0
    for path in sorted(TEST_FILES.rglob("*")):
        if not path.is_file():
            continue
        data = path.read_bytes()
        try:
            expected = _pydicom(data)
        except UNREADABLE:  # pydicom cannot read it: nothing to compare
            continue
        checked += 1
        got = read_attributes(data, SURVEY_TAGS)
        if got is None:
            continue
        assert _elements(got) == _elements(expected), path.name
        assert got.file_meta == expected.file_meta, path.name
        same += 1
    assert checked > 150
    assert same >= 80  # about half take the short way (no preamble, big endian, deflated, no pixels: refused)


def _file(syntax: str, **extra: object) -> bytes:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = syntax
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    ds.file_meta.MediaStorageSOPInstanceUID = "1.2.3.4"
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.ImageType = ["DERIVED", "SECONDARY"]
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    ds.ReferencedImageSequence = Sequence([Dataset()])
    ds.ReferencedImageSequence[0].ReferencedSOPInstanceUID = "1.2.3.9"
    ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.InstanceNumber = "1.2.3", "1.2.3.5", 7
    ds.Rows, ds.Columns, ds.BitsAllocated, ds.BitsStored, ds.PixelRepresentation = 2, 2, 8, 8, 0
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.WindowCenter, ds.WindowWidth = [40, 50], [400, 500]
    for key, value in extra.items():
        setattr(ds, key, value)
    ds.PixelData = b"\0\1\2\3"
    out = BytesIO()
    ds.save_as(out, enforce_file_format=True, little_endian=syntax != ExplicitVRBigEndian,
               implicit_vr=syntax == ImplicitVRLittleEndian)
    return out.getvalue()


@pytest.mark.parametrize("syntax", [ImplicitVRLittleEndian, ExplicitVRLittleEndian], ids=["implicit", "explicit"])
def test_a_header_with_sequences_is_read_as_pydicom_reads_it(syntax: str) -> None:
    data = _file(syntax)
    got = read_attributes(data, SURVEY_TAGS)
    assert got is not None
    expected = _elements(_pydicom(data))
    assert _elements(got) == expected
    assert got.ImageType == ["DERIVED", "SECONDARY"] and got.InstanceNumber == 7 and got.Rows == 2
    assert "ReferencedImageSequence" not in got  # only the attributes asked for


@pytest.mark.parametrize(
    ("why", "data"),
    [
        ("big endian", _file(ExplicitVRBigEndian)),
        ("header cut before the pixels", _file(ExplicitVRLittleEndian)[:300]),
        ("no DICM preamble", _file(ExplicitVRLittleEndian)[128:]),
        ("not DICOM", b"%PDF-1.4 " * 40),
    ],
    ids=["big-endian", "cut", "no-preamble", "not-dicom"],
)
def test_what_the_scan_is_not_sure_of_is_left_to_pydicom(why: str, data: bytes) -> None:
    assert read_attributes(data, SURVEY_TAGS) is None, why


def test_an_element_out_of_order_after_the_wanted_ones_is_still_read() -> None:
    """pydicom reads a whole header, in whatever order; so does the scan (it stops only at the pixels)."""
    data = bytearray(_file(ExplicitVRLittleEndian))
    pixels = data.index(b"\xe0\x7f\x10\x00")
    late = b"\x20\x00\x13\x00IS\x02\x009 "  # Instance Number again, after (0028,xxxx): the last one wins
    data[pixels:pixels] = late
    got = read_attributes(bytes(data), SURVEY_TAGS)
    assert got is not None
    assert got.InstanceNumber == 9 == _pydicom(bytes(data)).InstanceNumber


def test_a_real_header_is_read_from_its_first_bytes(tmp_path: Path) -> None:
    data = (TEST_FILES / "MR_small.dcm").read_bytes()
    got = read_attributes(data[:4096], SURVEY_TAGS)
    assert got is not None
    assert _elements(got) == _elements(_pydicom(data))


def test_the_survey_reads_a_header_longer_than_its_first_read(tmp_path: Path) -> None:
    """A vendor's long private group pushes the pixels past the first 64 KiB: same facts as pydicom's."""
    from dicom_deid.pixels.phases import HEAD_BYTES, survey
    from dicom_deid.pixels.sampling import image_facts
    from dicom_deid.walk import InputRef

    blob = b"\x01" * (HEAD_BYTES + 4096)
    data = bytearray(_file(ExplicitVRLittleEndian))
    pixels = data.index(b"\xe0\x7f\x10\x00")
    data[pixels:pixels] = b"\x29\x00\x10\x00LO\x08\x00VENDOR  " + b"\x29\x00\x00\x10OB\0\0" + len(blob).to_bytes(4, "little") + blob
    path = tmp_path / "long.dcm"
    path.write_bytes(bytes(data))
    assert read_attributes(bytes(data)[:HEAD_BYTES], SURVEY_TAGS) is None  # the first read is not enough
    (facts,) = survey([InputRef(0, path)])
    assert facts == image_facts(pydicom.dcmread(path, stop_before_pixels=True), 0)
    assert facts.number == 7 and facts.look[1] == "2x2x1"
