"""``--pixels auto``'s per-instance decision, as fast as it now is, answers as before: a verdict
remembered per raw bytes is never given to an instance that differs in anything that decides
it, values read by tag equal ``Dataset.get``'s, and the decodable check remembered per transfer
syntax and photometric interpretation still reports or refuses what it did."""

from __future__ import annotations

import copy
from io import BytesIO
from pathlib import Path

import pydicom
import pytest
from pixel_fixtures import FixedFinder, read_test_file
from pydicom.data import get_testdata_file
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import UID, ExplicitVRLittleEndian, ImplicitVRLittleEndian

from dicom_deid.errors import UnsupportedPixelEncoding
from dicom_deid.pixels import Examination, PixelMode, PixelPolicy, PixelStage
from dicom_deid.pixels.ocr import TextBox
from dicom_deid.pixels.sampling import DatasetHeader, SeriesVerdicts, look_of, series_key

CT = "1.2.840.10008.5.1.4.1.1.2"
MR = "1.2.840.10008.5.1.4.1.1.4"

#: One change per attribute the decision reads; each gives another series or another look
#: (the base image is DERIVED, so its window counts).
CHANGES: dict[str, object] = {
    "StudyInstanceUID": "1.2.9",
    "SeriesInstanceUID": "1.2.3.9",
    "SOPClassUID": MR,
    "Rows": 256,
    "Columns": 256,
    "NumberOfFrames": 2,
    "PhotometricInterpretation": "MONOCHROME1",
    "BitsStored": 16,
    "WindowCenter": 500.0,
    "WindowWidth": 4000.0,
    "ImageType": ["DERIVED", "SECONDARY", "OTHER"],
}


def _header(**changes: object) -> Dataset:
    ds = Dataset()
    ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPClassUID = "1.2", "1.2.3", CT
    ds.SOPInstanceUID, ds.InstanceNumber = "1.2.3.4", 4
    ds.Rows, ds.Columns, ds.PhotometricInterpretation, ds.BitsStored = 512, 512, "MONOCHROME2", 12
    ds.ImageType = ["DERIVED", "SECONDARY", "AXIAL"]
    ds.WindowCenter, ds.WindowWidth = 40.0, 400.0
    for keyword, value in changes.items():
        setattr(ds, keyword, value)
    return ds


def _as_read(ds: Dataset, syntax: str = ExplicitVRLittleEndian) -> Dataset:
    """``ds`` written and read back: every element raw, as the pipeline's reader leaves them."""
    ds = copy.deepcopy(ds)
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = UID(syntax)
    out = BytesIO()
    ds.save_as(out, enforce_file_format=True)
    read = pydicom.dcmread(BytesIO(out.getvalue()))
    assert type(read._dict[0x00280010]) is RawDataElement  # type: ignore[index]
    return read


def _clear_for(ds: Dataset) -> SeriesVerdicts:
    key = series_key(ds)
    assert key is not None
    return SeriesVerdicts({key: frozenset({look_of(ds)})})


@pytest.mark.parametrize("syntax", [ExplicitVRLittleEndian, ImplicitVRLittleEndian, None],
                         ids=["explicit-raw", "implicit-raw", "decoded"])
@pytest.mark.parametrize("keyword", list(CHANGES))
def test_a_remembered_verdict_never_spares_an_instance_that_differs(keyword: str, syntax: str | None) -> None:
    def built(**changes: object) -> Dataset:
        ds = _header(**changes)
        return ds if syntax is None else _as_read(ds, syntax)

    verdicts = _clear_for(_header())
    assert verdicts.found_clear(built())  # remembered now
    assert verdicts.found_clear(built())  # the same bytes: the same answer
    assert not verdicts.found_clear(built(**{keyword: CHANGES[keyword]}))
    assert verdicts.found_clear(built())


def test_a_window_of_an_original_image_still_does_not_count() -> None:
    original = ["ORIGINAL", "PRIMARY", "AXIAL"]
    verdicts = _clear_for(_header(ImageType=original))
    assert verdicts.found_clear(_as_read(_header(ImageType=original)))
    assert verdicts.found_clear(_as_read(_header(ImageType=original, WindowCenter=500.0, WindowWidth=4000.0)))


def test_verdicts_remember_nothing_across_pickling_or_new_verdicts() -> None:
    import pickle

    verdicts = _clear_for(_header())
    assert verdicts.found_clear(_as_read(_header()))
    other = SeriesVerdicts({})
    assert not other.found_clear(_as_read(_header()))
    assert pickle.loads(pickle.dumps(verdicts)) == verdicts


_TEST_FILES = ["CT_small.dcm", "MR_small.dcm", "rtdose.dcm", "JPEG2000.dcm", "US1_J2KR.dcm",
               "SC_rgb.dcm", "emri_small.dcm", "MR_small_implicit.dcm", "MR_small_bigendian.dcm",
               "693_J2KI.dcm", "liver.dcm", "mlut_18.dcm"]  # fmt: skip


@pytest.mark.parametrize("name", _TEST_FILES)
def test_values_read_by_tag_are_those_dataset_get_reads(name: str) -> None:
    path = get_testdata_file(name)
    assert path is not None
    ours, theirs = pydicom.dcmread(path, force=True), pydicom.dcmread(path, force=True)
    assert look_of(DatasetHeader(ours)) == look_of(theirs)
    assert series_key(DatasetHeader(ours)) == series_key(theirs)


# --- the decodable check, once per transfer syntax and photometric interpretation ----------------

def _stage_clear_for(*datasets: Dataset) -> PixelStage:
    looks: dict[str, set[tuple[str, ...]]] = {}
    for ds in datasets:
        looks.setdefault(str(series_key(ds)), set()).add(look_of(ds))
    verdicts = SeriesVerdicts({k: frozenset(v) for k, v in looks.items()})
    return PixelStage(PixelPolicy(PixelMode.AUTO), finder=FixedFinder([TextBox(8, 8, 20, 10)])).with_series(verdicts)


def test_an_instance_without_a_decoder_is_still_noted_after_one_with_a_decoder() -> None:
    source = read_test_file("CT_small.dcm")
    other = read_test_file("CT_small.dcm")
    other.file_meta.TransferSyntaxUID = UID("1.2.840.10008.1.2.4.100")  # MPEG2: no decoder
    stage = _stage_clear_for(source)
    first = stage.process(source, copy.deepcopy(source))
    assert first.examination is Examination.SAMPLED_CLEAR and "no decoder" not in first.note
    second = stage.process(other, copy.deepcopy(other))
    assert second.examination is Examination.SAMPLED_CLEAR
    assert second.note.endswith("; no decoder for 1.2.840.10008.1.2.4.100")


def test_an_unsupported_photometric_is_still_refused_after_a_supported_one() -> None:
    source = read_test_file("CT_small.dcm")
    other = read_test_file("CT_small.dcm")
    other.PhotometricInterpretation = "ARGB"
    stage = _stage_clear_for(source, other)
    assert stage.process(source, copy.deepcopy(source)).examination is Examination.SAMPLED_CLEAR
    with pytest.raises(UnsupportedPixelEncoding, match="ARGB is not supported"):
        stage.process(other, copy.deepcopy(other))


def test_float_pixels_are_still_refused(tmp_path: Path) -> None:
    source = read_test_file("CT_small.dcm")
    stage = _stage_clear_for(source)
    assert stage.process(source, copy.deepcopy(source)).examination is Examination.SAMPLED_CLEAR
    floats = read_test_file("CT_small.dcm")
    del floats.PixelData
    floats.FloatPixelData = b"\0" * 16
    with pytest.raises(UnsupportedPixelEncoding, match="FloatPixelData is not supported"):
        stage.process(floats, copy.deepcopy(floats))


def test_the_same_bytes_in_another_byte_order_are_another_value() -> None:
    """Rows 512 little endian and Rows 2 big endian are the same two bytes (other numbers chosen
    to read the same either way): only the byte order tells them apart."""
    from pydicom.uid import ExplicitVRBigEndian

    same = {"Columns": 257, "BitsStored": 257}
    little = _as_read(_header(Rows=512, **same))
    big = _as_read(_header(Rows=2, **same), ExplicitVRBigEndian)
    assert little._dict[0x00280010].value == big._dict[0x00280010].value  # type: ignore[index]
    verdicts = _clear_for(_header(Rows=512, **same))
    assert verdicts.found_clear(little)
    assert not verdicts.found_clear(big)


# --- ORIGINAL images: one remembered verdict across per-slice windows ------------------------------

ORIGINAL = ["ORIGINAL", "PRIMARY", "AXIAL"]


@pytest.mark.parametrize("syntax", [ExplicitVRLittleEndian, ImplicitVRLittleEndian], ids=["explicit", "implicit"])
@pytest.mark.parametrize("keyword", [k for k in CHANGES if k not in ("WindowCenter", "WindowWidth")])
def test_a_verdict_remembered_for_an_original_image_never_spares_one_that_differs(keyword: str, syntax: str) -> None:
    verdicts = _clear_for(_header(ImageType=ORIGINAL))
    assert verdicts.found_clear(_as_read(_header(ImageType=ORIGINAL), syntax))
    assert verdicts.found_clear(_as_read(_header(ImageType=ORIGINAL, WindowCenter=90.0, WindowWidth=900.0), syntax))
    changed = {"ImageType": ORIGINAL, keyword: CHANGES[keyword]}
    assert not verdicts.found_clear(_as_read(_header(**changed), syntax))  # type: ignore[arg-type]
    # a derived image whose window differs is another look, even after the original's verdict
    assert not verdicts.found_clear(_as_read(_header(ImageType=["DERIVED", "PRIMARY", "AXIAL"]), syntax))


@pytest.mark.parametrize("spelled", [b"ORIGINAL\\PRIMARY\\AXIAL ", b"original\\PRIMARY", b" ORIGINAL \\PRIMARY",
                                     b"ORIGINAL", b"ORIGINAL\0\\PRIMARY", b"ORIGINALS\\PRIMARY", b"DERIVED\\ORIGINAL"])
def test_the_raw_image_type_is_original_exactly_when_the_look_says_so(spelled: bytes) -> None:
    """However Image Type is spelled, the verdict remembered per raw bytes is the look's verdict:
    slices differing only in their window share it when the look leaves the window out, and
    only then."""
    def slice_with(center: float) -> Dataset:
        ds = _as_read(_header(WindowCenter=center))
        ds._dict[0x00080008] = RawDataElement(  # type: ignore[index]
            pydicom.tag.Tag(0x00080008), "CS", len(spelled), spelled, 0, False, True)
        return ds

    first, second, probe = slice_with(40.0), slice_with(90.0), slice_with(40.0)  # the probe is decoded
    look = look_of(DatasetHeader(probe))
    original = look[-2] == "-"  # the look leaves the window out
    verdicts = SeriesVerdicts({str(series_key(DatasetHeader(probe))): frozenset({look})})
    assert verdicts.found_clear(first)
    assert verdicts.found_clear(second) is original
    assert len(verdicts._known) == (1 if original else 2)
