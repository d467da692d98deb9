"""items_fast.new_file_meta is ``FileMetaDataset(elements)`` (the same attributes in the same
order, the same group 2 check), and read.has_keyword / keyword_attribute are ``keyword in ds``
and ``getattr(ds, keyword)``."""

from __future__ import annotations

import pytest
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import FileMetaDataset
from pydicom.tag import BaseTag

from dicom_deid.items_fast import new_file_meta
from dicom_deid.read import has_keyword, keyword_attribute, parse_instance
from tests.fuzz_corpus import TEST_FILES


def test_new_file_meta_is_file_meta_dataset() -> None:
    for name in ("CT_small.dcm", "MR_small.dcm", "JPEG2000.dcm"):
        meta = parse_instance((TEST_FILES / name).read_bytes(), where=name).dataset.file_meta
        elements = dict(meta._dict)
        mine, theirs = new_file_meta(elements), FileMetaDataset(elements)
        assert type(mine) is FileMetaDataset
        assert list(mine.__dict__) == list(theirs.__dict__)
        assert mine.__dict__ == theirs.__dict__
        assert mine._dict is elements  # the dict itself, as FileMetaDataset(dict) keeps it
        for name_, value in mine.__dict__.items():
            if isinstance(value, dict) and name_ != "_dict":
                assert value is not new_file_meta({}).__dict__[name_]  # each its own


def test_new_file_meta_refuses_other_groups_as_pydicom_does() -> None:
    meta = parse_instance((TEST_FILES / "CT_small.dcm").read_bytes(), where="x").dataset
    elements: dict[BaseTag, DataElement | RawDataElement] = {BaseTag(0x00100010): meta["PatientName"]}
    with pytest.raises(ValueError) as theirs:
        FileMetaDataset(elements)
    with pytest.raises(ValueError) as mine:
        new_file_meta(elements)
    assert str(mine.value) == str(theirs.value)


def test_keyword_helpers_answer_as_the_dataset_does() -> None:
    ds = parse_instance((TEST_FILES / "CT_small.dcm").read_bytes(), where="x", fast=True).dataset
    for keyword in ("PatientName", "SOPInstanceUID", "DirectoryRecordSequence", "PixelData", "NotAKeyword"):
        assert has_keyword(ds, keyword) == (keyword in ds)
    assert keyword_attribute(ds, "SOPInstanceUID") == ds.SOPInstanceUID
    assert keyword_attribute(ds.file_meta, "TransferSyntaxUID") == ds.file_meta.TransferSyntaxUID
    with pytest.raises(AttributeError):
        keyword_attribute(ds, "DirectoryRecordSequence")
