"""``items_fast.file_dataset`` builds what ``FileDataset(fp, dataset, preamble, meta, False, True)``
builds for read_fast.py (issue 16): the same attributes in the same order, the same values, its
own dict attributes; ``FileDataset`` itself for what it does not take."""

from __future__ import annotations

from io import BytesIO

import pytest
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset

from dicom_deid.items_fast import file_dataset
from dicom_deid.read_fast import read_explicit
from tests.fuzz_corpus import TEST_FILES


def _pair(data: bytes) -> tuple[FileDataset, FileDataset]:
    read = read_explicit(data)
    dataset, meta, fp = Dataset(read._dict), read.file_meta, BytesIO(data)
    return file_dataset(fp, dataset, data[:128], meta), FileDataset(fp, dataset, data[:128], meta, False, True)


@pytest.mark.parametrize("name", ["CT_small.dcm", "MR_small.dcm", "MR_small_RLE.dcm", "JPEG2000.dcm"])
def test_file_dataset_is_filedatasets_own(name: str) -> None:
    fast, slow = _pair((TEST_FILES / name).read_bytes())
    assert type(fast) is FileDataset
    assert list(vars(fast)) == list(vars(slow))
    for attr, value in vars(slow).items():
        assert vars(fast)[attr] is value if attr in ("_dict", "file_meta", "buffer") else vars(fast)[attr] == value, attr
    mutable = [attr for attr, value in vars(fast).items() if type(value) is dict and attr != "_dict"]
    assert len(mutable) == 3 and all(vars(fast)[attr] is not vars(slow)[attr] for attr in mutable)
    other, _ = _pair((TEST_FILES / name).read_bytes())
    assert all(vars(fast)[attr] is not vars(other)[attr] for attr in mutable)  # never shared between files


def test_read_explicit_returns_the_fast_build_and_its_encoding() -> None:
    data = (TEST_FILES / "CT_small.dcm").read_bytes()
    read = read_explicit(data)
    assert read.preamble == data[:128] and read.fileobj_type is BytesIO and read.filename is None
    assert read.original_encoding == (False, True) and read.timestamp is None


def test_anything_else_goes_to_filedataset() -> None:
    """A named buffer (FileDataset reads its name) and file meta that is no FileMetaDataset
    (FileDataset converts it) are built by FileDataset."""

    class Named(BytesIO):
        name = "named.dcm"

    assert file_dataset(Named(b""), Dataset(), b"", FileMetaDataset()).filename == "named.dcm"
    plain = Dataset()
    plain.TransferSyntaxUID = "1.2.840.10008.1.2.1"
    assert type(file_dataset(BytesIO(b""), Dataset(), b"", plain).file_meta) is FileMetaDataset  # type: ignore[arg-type]
