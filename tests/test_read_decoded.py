"""read.decoded: ``ds[key]`` without Dataset.__getitem__'s bookkeeping, the same element stored."""

from __future__ import annotations

import warnings
from collections.abc import Iterator

from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset

from dicom_deid.errors import DeidError
from dicom_deid.read import decoded, parse_dicom
from tests.fuzz_corpus import TEST_FILES


def _state(elem: object) -> tuple[object, ...]:
    assert isinstance(elem, DataElement)
    value = elem.value
    return (type(elem), elem.tag, elem.VR, type(value), str(value) if elem.VR != "SQ" else len(value),
            elem.file_tell, elem.is_undefined_length, elem.private_creator, elem.validation_mode)


def _two_reads() -> Iterator[tuple[str, Dataset, Dataset]]:
    """(file name, read a, read b): two reads of the same bytes of every pydicom test file the
    reader takes (a file it refuses is not these tests'), pydicom's warnings silenced meanwhile."""
    for path in sorted(TEST_FILES.glob("*.dcm")):
        data = path.read_bytes()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                ours, theirs = parse_dicom(data, where="a", fast=True), parse_dicom(data, where="b", fast=True)
            except DeidError:
                continue
            yield path.name, ours, theirs


def test_decoded_stores_and_returns_what_getitem_does() -> None:
    """Every element of every pydicom test file (file meta included), decoded both ways from two
    reads of the same bytes: the same element returned and stored, the other elements untouched."""
    compared = raw_compared = 0
    for name, ours, theirs in _two_reads():
        for fast, slow in ((ours, theirs), (ours.file_meta, theirs.file_meta)):
            for key in list(slow._dict):
                raw_compared += type(fast._dict[key]) is RawDataElement
                try:
                    want = slow[key]
                except Exception as exc:  # noqa: BLE001 - the same error both ways
                    try:
                        decoded(fast, key)
                    except type(exc):
                        continue
                    raise AssertionError(f"{name} {key}: decoded did not raise {type(exc).__name__}")
                got = decoded(fast, key)
                assert _state(got) == _state(want), f"{name} {key}"
                assert fast._dict[key] is got, f"{name} {key}"
                compared += 1
            assert [type(v) for v in fast._dict.values()] == [type(v) for v in slow._dict.values()]
    assert compared > 1000 and raw_compared > 1000


def test_decoded_text_takes_the_dataset_character_set() -> None:
    """Text is decoded in the dataset's character set (and the character set itself in the
    default one), as ``__getitem__`` decodes it: a Cyrillic name and a Latin-1 one."""
    from io import BytesIO

    from pydicom import dcmwrite
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.tag import BaseTag
    from pydicom.uid import ExplicitVRLittleEndian

    for charset, name in (("ISO_IR 144", "Люкceмбypг"), ("ISO_IR 100", "Gérard^Dupré"), ("ISO_IR 192", "山田^太郎")):
        ds = Dataset()
        ds.SpecificCharacterSet = charset
        ds.PatientName = name
        ds.InstitutionName = name.replace("^", " ")
        ds.SOPClassUID, ds.SOPInstanceUID = "1.2.840.10008.5.1.4.1.1.7", "1.2.3"
        ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        buf = BytesIO()
        dcmwrite(buf, ds, enforce_file_format=True)
        fast, slow = (parse_dicom(buf.getvalue(), where="x", fast=True) for _ in range(2))
        for tag in (0x00080005, 0x00100010, 0x00080080):
            key = BaseTag(tag)
            assert tag == 0x00080005 or type(fast._dict[key]) is RawDataElement  # (the reader decodes the set)
            assert _state(decoded(fast, key)) == _state(slow[key]), (charset, tag)
        assert str(fast.PatientName) == name


def test_keyword_value_is_get_by_keyword() -> None:
    """read.keyword_value(ds, kw, default) against ``ds.get(kw, default)`` on two reads of every test
    file: every keyword of the file (raw and decoded), absent ones, the file meta group, and the
    same element stored afterwards; a name that is no keyword is refused."""
    import pytest
    from pydicom.datadict import keyword_for_tag

    from dicom_deid.read import keyword_value

    compared = 0
    for name, ours, theirs in _two_reads():
        for fast, slow in ((ours, theirs), (ours.file_meta, theirs.file_meta)):
            keywords = [keyword_for_tag(tag) for tag in slow._dict] + ["PatientID", "AccessionNumber", "Modality"]
            for kw in filter(None, keywords):
                try:
                    want = slow.get(kw, "absent")
                except Exception as exc:  # noqa: BLE001 - the same error both ways
                    with pytest.raises(type(exc)):
                        keyword_value(fast, kw, "absent")
                    continue
                got = keyword_value(fast, kw, "absent")
                assert type(got) is type(want) and str(got) == str(want), f"{name} {kw}"
                compared += 1
            assert [type(v) for v in fast._dict.values()] == [type(v) for v in slow._dict.values()]
    assert compared > 1000
    assert keyword_value(ours, "NotAKeyword", "absent") == "absent" and keyword_value(ours, "preamble") == ours.preamble
