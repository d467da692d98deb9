"""``uid_bytes.decode_plain``: a raw element decoded with the value pydicom decoded before from the
same bytes (same tag, VR, encoding, endianness) is the element pydicom decodes now.

Every element of pydicom's test files is decoded twice over (the second pass largely from the
memo) and compared with ``Dataset.__getitem__`` on a second read; the memo must be keyed by the
character set, never share a mutable value, and actually be used.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import pytest
from pydicom.dataelem import DataElement, RawDataElement, convert_raw_data_element
from pydicom.dataset import Dataset
from pydicom.tag import BaseTag

from dicom_deid import uid_bytes
from dicom_deid.errors import DeidError
from dicom_deid.read import decoded, parse_dicom
from tests.fuzz_corpus import TEST_FILES


def _state(elem: object) -> tuple[object, ...]:
    assert isinstance(elem, DataElement)
    value = elem.value
    shown = len(value) if elem.VR == "SQ" else (list(value) if isinstance(value, list) else value)
    return (type(elem), elem.tag, elem.VR, type(value), shown, elem.file_tell, elem.is_undefined_length,
            elem.private_creator, elem.validation_mode, tuple(elem.__dict__))


def _two_reads() -> Iterator[tuple[str, Dataset, Dataset]]:
    for path in sorted(TEST_FILES.glob("*.dcm")):
        data = path.read_bytes()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                yield path.name, parse_dicom(data, where="a", fast=True), parse_dicom(data, where="b", fast=True)
            except DeidError:
                continue


def test_memoised_decodes_are_pydicoms(monkeypatch: pytest.MonkeyPatch) -> None:
    converted = []

    def counting(raw: RawDataElement, **kwargs: object) -> DataElement:
        converted.append(raw)
        return convert_raw_data_element(raw, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(uid_bytes, "convert_raw_data_element", counting)
    monkeypatch.setattr(uid_bytes, "_DECODED", {})  # empty: other tests filled the memo
    plain = 0
    for round_ in range(2):
        converted.clear()
        for name, ours, theirs in _two_reads():
            for fast, slow in ((ours, theirs), (ours.file_meta, theirs.file_meta)):
                for key in list(slow._dict):
                    raw = fast._dict[key]
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        try:
                            want = slow[key]
                        except Exception:  # noqa: BLE001, S112 - read.decoded's own test pins the errors
                            continue
                        got = decoded(fast, key)
                    assert _state(got) == _state(want), f"{name} {key}"
                    plain += round_ == 1 and type(raw) is RawDataElement and raw.VR in ("CS", "LO", "SH", "DA", "US")
        if round_ == 0:
            first = len(converted)
    assert plain > 1000
    assert first > 1000 and len(converted) < first // 2  # the second round decoded far fewer: from the memo


def _raw(tag: int, vr: str, value: bytes) -> RawDataElement:
    return RawDataElement(BaseTag(tag), vr, len(value), value, 0, False, True)


def test_a_multi_valued_value_is_never_shared() -> None:
    values = []
    for _ in range(2):
        elem = uid_bytes.decode_plain(_raw(0x00080008, "CS", b"ORIGINAL\\PRIMARY"), "iso8859")
        values.append(elem.value)
    assert values[0] == ["ORIGINAL", "PRIMARY"] and values[0] is not values[1]
    values[0].append("AXIAL")
    assert list(values[1]) == ["ORIGINAL", "PRIMARY"]


def test_the_character_set_is_part_of_the_key() -> None:
    """The same name bytes under two character sets decode as pydicom decodes each."""
    name = b"\xe9\xe8"
    for encoding in ("iso8859", "iso_ir_144", "iso8859", "iso_ir_144"):
        got = uid_bytes.decode_plain(_raw(0x00081050, "PN", name), encoding).value
        want = convert_raw_data_element(_raw(0x00081050, "PN", name), encoding=encoding).value
        assert str(got) == str(want)
    assert str(uid_bytes.decode_plain(_raw(0x00081050, "PN", name), "iso8859").value) != \
        str(uid_bytes.decode_plain(_raw(0x00081050, "PN", name), "iso_ir_144").value)


def test_a_planted_memo_value_is_what_is_decoded() -> None:
    """The memo is consulted: a wrong entry shows (the comparison above would catch one)."""
    raw = _raw(0x00081030, "LO", b"BRAIN")
    assert uid_bytes.decode_plain(raw, "iso8859").value == "BRAIN"
    key = next(k for k in uid_bytes._DECODED if k[0] == 0x00081030 and k[2] == b"BRAIN")
    uid_bytes._DECODED[key] = "PLANTED"
    try:
        assert uid_bytes.decode_plain(raw, "iso8859").value == "PLANTED"
    finally:
        del uid_bytes._DECODED[key]


def test_the_memo_stays_bounded() -> None:
    for i in range(uid_bytes._MEMO_SIZE + 10):
        uid_bytes.decode_plain(_raw(0x00081030, "LO", f"D{i:05d}".encode()), "iso8859")
    assert 0 < len(uid_bytes._DECODED) <= uid_bytes._MEMO_SIZE


def test_a_series_uid_is_remembered_and_an_instance_uid_is_not(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(uid_bytes, "_DECODED", {})
    series = _raw(0x0020000E, "UI", b"1.2.840.113619.2.1.1.1\x00")
    first, second = uid_bytes.uid_element(series), uid_bytes.uid_element(series)
    assert first is not None and second is not None and first is not second
    assert first.value == second.value == convert_raw_data_element(series).value == "1.2.840.113619.2.1.1.1"
    assert type(first.value) is type(convert_raw_data_element(series).value)
    assert [k for k in uid_bytes._DECODED if k[0] == 0x0020000E] == [(0x0020000E, "UI", series.value)]
    instance = _raw(0x00080018, "UI", b"1.2.840.113619.2.1.1.2\x00")
    assert uid_bytes.uid_element(instance).value == "1.2.840.113619.2.1.1.2"  # type: ignore[union-attr]
    assert not [k for k in uid_bytes._DECODED if k[0] == 0x00080018]  # unique to its file: not kept
    several = _raw(0x00081150, "UI", b"1.2.3\\1.2.4")
    values = [uid_bytes.uid_element(several).value for _ in range(2)]  # type: ignore[union-attr]
    assert values[0] == ["1.2.3", "1.2.4"] and values[0] is not values[1]
    uid_bytes._DECODED[(0x0020000E, "UI", series.value)] = "9.9.9"
    assert uid_bytes.uid_element(series).value == "9.9.9"  # type: ignore[union-attr]  # consulted
