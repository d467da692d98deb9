"""``deidentify`` leaves its source as it was: the file meta elements it keeps and then signs as
ours (ImplementationClassUID, ...) are replaced in the new group, not set on the source's own
decoded elements (set_plain)."""

from __future__ import annotations

from pydicom.dataset import Dataset

from dicom_deid.deidentify import IMPLEMENTATION_CLASS_UID, Engine, deidentify
from dicom_deid.keys import SecretKey
from dicom_deid.profiles import load_profile
from dicom_deid.read import parse_instance
from tests.fuzz_corpus import TEST_FILES


def _values(ds: Dataset) -> dict[int, object]:
    return {int(tag): ds[tag].value for tag in list(ds._dict)}


def test_the_source_and_its_file_meta_are_not_changed() -> None:
    engine = Engine(load_profile("basic"), SecretKey(bytes(range(32))))
    checked = 0
    for name in ("CT_small.dcm", "MR_small.dcm", "rtplan.dcm"):
        data = (TEST_FILES / name).read_bytes()
        for fast in (False, True):
            instance = parse_instance(data, where=name, fast=fast)
            source = instance.dataset
            meta_before, body_before = _values(source.file_meta), _values(source)
            assert meta_before[0x00020012] != IMPLEMENTATION_CLASS_UID  # precondition: ours differs
            result = deidentify(source, engine, data=data if fast else None)
            assert result.dataset.file_meta.ImplementationClassUID == IMPLEMENTATION_CLASS_UID
            assert _values(source.file_meta) == meta_before
            assert _values(source) == body_before
            checked += 1
    assert checked == 6


def test_a_scrubbed_pixel_stream_leaves_the_source_stream() -> None:
    """JPEG 2000 with a comment segment: the output's stream loses it, the source's keeps it, even
    where the caller had decoded the source's Pixel Data (then shared with the new dataset)."""
    engine = Engine(load_profile("basic"), SecretKey(bytes(range(32))))
    data = (TEST_FILES / "JPEG2000.dcm").read_bytes()
    for fast in (False, True):
        source = parse_instance(data, where="JPEG2000.dcm", fast=fast).dataset
        before = source["PixelData"].value  # decoded in the source: a DataElement there
        result = deidentify(source, engine, data=data if fast else None)
        assert result.stream_metadata == ["COM"]  # precondition: the stream was scrubbed
        assert len(result.dataset["PixelData"].value) < len(before)
        assert source["PixelData"].value == before
