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
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.errors import BytesLengthException, InvalidDicomError
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

from dicom_deid.pixels.phases import SURVEY_TAGS
from dicom_deid.read_head import NotPlain, read_attributes, scan_head
from tests.conftest import TEST_FILES

UNREADABLE = (InvalidDicomError, EOFError, ValueError, TypeError, KeyError, IndexError, AttributeError,
              NotImplementedError, struct.error, OverflowError)  # an IS such as '1e310' reads as infinity


def _elements(ds: Dataset) -> dict[int, tuple[str, object]]:
    return {int(e.tag): (str(e.VR), e.value) for e in ds}


def _pydicom(data: bytes) -> Dataset:
    return pydicom.dcmread(BytesIO(data), stop_before_pixels=True, force=True, specific_tags=list(SURVEY_TAGS))


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("in_order", [False, True], ids=["to-the-pixels", "in-order"])
def test_every_pydicom_test_file_is_read_as_pydicom_reads_it_or_refused(in_order: bool) -> None:
    """Also when the scan trusts the tag order (``in_order``, the survey's): these files are in order."""
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
        scan = scan_head(data, SURVEY_TAGS, in_order=in_order)
        if scan is None:
            continue
        got = scan.dataset()
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
    study = data.index(b"\x20\x00\x0d\x00UI")  # in tag order, before groups 0020 and 0028 that the survey wants
    data[study:study] = b"\x19\x00\x10\x00LO\x08\x00VENDOR  " + b"\x19\x00\x00\x10OB\0\0" + len(blob).to_bytes(4, "little") + blob
    path = tmp_path / "long.dcm"
    path.write_bytes(bytes(data))
    assert read_attributes(bytes(data)[:HEAD_BYTES], SURVEY_TAGS) is None  # the first read is not enough
    (facts,) = survey([InputRef(0, path)])
    assert facts == image_facts(pydicom.dcmread(path, stop_before_pixels=True), 0)
    assert facts.number == 7 and facts.look[1] == "2x2x1"


# --- the plain values (scan_head(...).values()): decoded from the bytes, as pydicom decodes them ---------

SURVEY_KEYWORDS = [k for k in SURVEY_TAGS if k != "Modality"] + ["Modality"]


def _full_facts(data: bytes) -> object:
    """The oracle: pydicom's read of the whole header (what phase 2 decides on), through the same rule."""
    from dicom_deid.pixels.sampling import image_facts

    return image_facts(pydicom.dcmread(BytesIO(data), stop_before_pixels=True, force=True), 0)


def _plain_facts(data: bytes) -> object:
    from dicom_deid.pixels.sampling import image_facts

    scan = scan_head(data, SURVEY_TAGS)
    assert scan is not None
    return image_facts(scan.values(), 0)


@pytest.mark.filterwarnings("ignore")
def test_every_pydicom_test_file_gives_pydicoms_facts_from_its_plain_values_or_is_refused() -> None:
    from dicom_deid.pixels.sampling import image_facts

    checked = plain = refused = 0
    for path in sorted(TEST_FILES.rglob("*")):
        if not path.is_file():
            continue
        data = path.read_bytes()
        try:
            expected = _full_facts(data)
        except UNREADABLE:
            continue
        checked += 1
        scan = scan_head(data, SURVEY_TAGS)
        if scan is None:
            continue
        try:
            got = image_facts(scan.values(), 0)
        except NotPlain:
            refused += 1
            continue
        assert got == expected, path.name
        plain += 1
    assert checked > 150
    assert plain >= 70 and refused < plain  # most headers are plain; the rest go to pydicom


_BASE = {  # keyword: (VR, bytes as stored) of a small derived image header
    "ImageType": ("CS", b"DERIVED\\SECONDARY "), "SOPClassUID": ("UI", b"1.2.840.10008.5.1.4.1.1.7\0"),
    "StudyInstanceUID": ("UI", b"1.2.3\0"), "SeriesInstanceUID": ("UI", b"1.2.3.5\0"),
    "InstanceNumber": ("IS", b"7 "), "PhotometricInterpretation": ("CS", b"MONOCHROME2 "),
    "Rows": ("US", b"\2\0"), "Columns": ("US", b"\2\0"), "BitsAllocated": ("US", b"\x08\0"),
    "BitsStored": ("US", b"\x08\0"), "WindowCenter": ("DS", b"40"), "WindowWidth": ("DS", b"400 "),
}


def _header(implicit: bool = False, **planted: tuple[str, bytes]) -> bytes:
    """A file written byte by byte (pydicom's writer would re-encode the values): the base header
    with ``planted`` keyword=(VR, bytes) in place, then 4 bytes of Pixel Data."""
    from pydicom.filewriter import write_file_meta_info
    from pydicom.tag import Tag

    meta = FileMetaDataset()
    meta.TransferSyntaxUID = ImplicitVRLittleEndian if implicit else ExplicitVRLittleEndian
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    meta.MediaStorageSOPInstanceUID = "1.2.3.4"
    out = BytesIO()
    out.write(b"\0" * 128 + b"DICM")
    write_file_meta_info(out, meta, enforce_standard=True)
    elements = {**_BASE, **planted, "PixelData": ("OB", b"\0\1\2\3")}
    for tag, (vr, raw) in sorted((int(Tag(k)), v) for k, v in elements.items()):
        out.write(struct.pack("<HH", tag >> 16, tag & 0xFFFF))
        if implicit:
            out.write(struct.pack("<I", len(raw)))
        elif vr in ("OB", "OW", "SQ", "UN", "UT"):
            out.write(vr.encode() + b"\0\0" + struct.pack("<I", len(raw)))
        else:
            out.write(vr.encode() + struct.pack("<H", len(raw)))
        out.write(raw)
    return out.getvalue()


def _value(keyword: str, raw: bytes, vr: str) -> bytes:
    return _header(**{keyword: (vr, raw)})


#: (keyword, VR, bytes as stored, plain?): each value read from its bytes must equal pydicom's, or be refused.
PLANTED = [
    ("ImageType", "CS", b"ORIGINAL\\PRIMARY\\AXIAL ", True),
    ("ImageType", "CS", b"ORIGINAL", True),  # one value: pydicom gives a str (iterated by character)
    ("ImageType", "CS", b"derived\\secondary", True),
    ("ImageType", "CS", b" DERIVED \\\x00", True),
    ("ImageType", "CS", b"", True),
    ("ImageType", "CS", b"D\xc9RIV\xc9\\X", True),  # Latin-1, as pydicom decodes CS
    ("PhotometricInterpretation", "CS", b"MONOCHROME2 ", True),
    ("PhotometricInterpretation", "CS", b"RGB\\YBR", False),  # two values where the dictionary allows one
    ("SOPClassUID", "UI", b"1.2.840.10008.5.1.4.1.1.7\x00", True),
    ("SOPClassUID", "UI", b"1.2.3\\4.5", False),
    ("SOPClassUID", "UI", b" 1.2.3", False),
    ("SOPClassUID", "UI", b"", True),
    ("InstanceNumber", "IS", b"12", True),
    ("InstanceNumber", "IS", b"007 ", True),
    ("InstanceNumber", "IS", b"  ", True),  # blank
    ("InstanceNumber", "IS", b"", True),  # empty
    ("InstanceNumber", "IS", b" 12", False),
    ("InstanceNumber", "IS", b"-3", False),
    ("InstanceNumber", "IS", b"1.0 ", False),
    ("InstanceNumber", "IS", b"1\\2", False),
    ("InstanceNumber", "IS", b"x1", False),
    ("NumberOfFrames", "IS", b"0 ", True),
    ("NumberOfFrames", "IS", b"01", True),
    ("NumberOfFrames", "IS", b"60", True),
    ("WindowCenter", "DS", b"40\\50 ", True),
    ("WindowCenter", "DS", b" -1.5e2", True),
    ("WindowCenter", "DS", b".5", True),
    ("WindowCenter", "DS", b"", True),
    ("WindowCenter", "DS", b"    ", True),
    ("WindowCenter", "DS", b"nan ", False),
    ("WindowCenter", "DS", b"1_000", False),
    ("WindowCenter", "DS", b"40\\", False),
    ("WindowWidth", "DS", b"400\\500", True),
    ("Rows", "US", b"\x00\x02", True),
    ("Rows", "US", b"\x00\x02\x00\x02", False),
    ("Rows", "SS", b"\x00\x02", False),  # a VR other than the dictionary's: pydicom decides
    ("BitsStored", "US", b"\x0c\x00", True),
]


def _same(got: object, expected: object) -> bool:
    """The same value as the survey uses it: type where it shows (IS, int, float, text), and value."""
    from pydicom.multival import MultiValue
    from pydicom.valuerep import IS

    if isinstance(expected, MultiValue):
        return isinstance(got, list) and len(got) == len(expected) and all(
            _same(g, e) for g, e in zip(got, expected, strict=True))
    if expected is None:
        return got is None
    if isinstance(expected, float):
        return type(got) is float and got == float(expected)
    if isinstance(expected, IS):
        return type(got) is IS and str(got) == str(expected) and int(got) == int(expected)
    if isinstance(expected, int):
        return type(got) is int and got == expected
    return isinstance(expected, str) and type(got) is str and got == str(expected)


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize(("keyword", "vr", "raw", "plain"), PLANTED,
                         ids=[f"{k}-{v}-{r!r}" for k, v, r, _ in PLANTED])
def test_a_planted_value_is_decoded_as_pydicom_decodes_it_or_refused(keyword: str, vr: str, raw: bytes,
                                                                     plain: bool) -> None:
    data = _value(keyword, raw, vr)
    expected_ds = pydicom.dcmread(BytesIO(data), stop_before_pixels=True, force=True)
    scan = scan_head(data, SURVEY_TAGS)
    assert scan is not None and keyword in scan.values()
    if not plain:
        with pytest.raises(NotPlain, match=keyword):
            scan.values().get(keyword)
        return
    got, expected = scan.values().get(keyword), expected_ds.get(keyword)
    assert _same(got, expected), (got, expected)
    assert _plain_facts(data) == _full_facts(data)  # and the facts the survey keeps are pydicom's


def test_an_attribute_not_asked_for_is_absent_as_with_specific_tags() -> None:
    data = _file(ExplicitVRLittleEndian)
    scan = scan_head(data, ("Rows",))
    assert scan is not None
    header = scan.values()
    assert "Rows" in header and header.get("Rows") == 2
    assert "Columns" not in header and header.get("Columns", "?") == "?"
    assert "NotAKeyword" not in header and header.get("NotAKeyword") is None


def test_pydicom_configured_otherwise_is_left_to_pydicom() -> None:
    from pydicom import config

    scan = scan_head(_file(ExplicitVRLittleEndian), SURVEY_TAGS)
    assert scan is not None and scan.values().get("Rows") == 2
    config.use_none_as_empty_text_VR_value = True
    try:
        with pytest.raises(NotPlain, match="configured"):
            scan.values().get("Rows")
    finally:
        config.use_none_as_empty_text_VR_value = False


_CHARS = st.sampled_from(list("0123456789.+-eE \\\x00ABCDORIGINALxyz\xc9_"))


@pytest.mark.filterwarnings("ignore")
@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(keyword=st.sampled_from(["ImageType", "InstanceNumber", "NumberOfFrames", "WindowCenter", "WindowWidth",
                                "SOPClassUID", "PhotometricInterpretation"]),
       text=st.lists(_CHARS, max_size=20).map("".join), implicit=st.booleans())
@example(keyword="InstanceNumber", text="1e310", implicit=False)  # an IS that reads as infinity (found by Hypothesis)
@example(keyword="NumberOfFrames", text="1e310", implicit=False)  # the same in the look of an image (found by Hypothesis)
def test_any_value_gives_pydicoms_facts_or_is_refused(keyword: str, text: str, implicit: bool) -> None:
    """Property: whatever the bytes of a survey value, the survey's facts are pydicom's (or it falls back)."""
    from dicom_deid.pixels.phases import _facts
    from dicom_deid.walk import InputRef

    raw = text.encode("latin-1")
    raw += b" " * (len(raw) % 2)
    from pydicom.datadict import dictionary_VR

    data = _header(implicit, **{keyword: (dictionary_VR(keyword), raw)})
    try:
        expected = _full_facts(data)
    except UNREADABLE:
        expected = None
    scan = scan_head(data, SURVEY_TAGS)
    assert scan is not None
    try:
        got = _plain_facts(data)
    except NotPlain:
        got = "refused"
    if got != "refused":
        assert got == expected
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:  # the survey of the file: pydicom's facts whichever way it took
        path = Path(tmp) / "f.dcm"
        path.write_bytes(data)
        assert _facts(InputRef(0, path)) == expected


@pytest.mark.filterwarnings("ignore")
def test_a_damaged_header_never_crashes_the_survey_and_never_disagrees_with_pydicom(tmp_path: Path) -> None:
    """Every cut and a spread of single-byte changes of a real header: the survey gives pydicom's facts
    of the damaged bytes, or none (the file is then searched in full); it never raises."""
    from dicom_deid.pixels.phases import _facts
    from dicom_deid.walk import InputRef

    original = (TEST_FILES / "MR_small.dcm").read_bytes()
    header_end = original.index(b"\xe0\x7f\x10\x00")
    variants = [original[:cut] for cut in range(0, header_end + 16, 7)]
    for offset in range(132, header_end, 5):
        for byte in (0x00, 0x5C, 0xFF):
            damaged = bytearray(original)
            damaged[offset] = byte
            variants.append(bytes(damaged))
    path = tmp_path / "f.dcm"
    agreed = 0
    for data in variants:
        path.write_bytes(data)
        got = _facts(InputRef(0, path))  # never raises
        if got is None:
            continue
        try:
            expected = _full_facts(data)
        except (*UNREADABLE, BytesLengthException, OverflowError):
            continue
        assert got == expected
        agreed += 1
    assert len(variants) > 300 and agreed > len(variants) // 2
