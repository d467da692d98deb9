"""``uid_bytes.decode_plain``: a raw element decoded with the value pydicom decoded before from the
same bytes (same tag, VR, encoding, endianness) is the element pydicom decodes now.

Every element of pydicom's test files is decoded twice over (the second pass largely from the
memo) and compared with ``Dataset.__getitem__`` on a second read; the memo must be keyed by the
character set, never share a mutable value, and actually be used.  The memo is the caller's
(``uid_bytes.DecodeMemo``, the run's ``Engine.decode_memo``): without one nothing is remembered.
"""

from __future__ import annotations

import pickle
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydicom.dataelem import DataElement, RawDataElement, convert_raw_data_element
from pydicom.dataset import Dataset
from pydicom.tag import BaseTag

from dicom_deid import uid_bytes
from dicom_deid.boundary import process_input
from dicom_deid.deidentify import Engine
from dicom_deid.errors import DeidError
from dicom_deid.keys import SecretKey
from dicom_deid.manifest import Outcome
from dicom_deid.profiles import load_profile
from dicom_deid.read import decoded, parse_dicom
from dicom_deid.walk import InputBytes
from tests.fuzz_corpus import TEST_FILES


def _state(elem: object) -> tuple[object, ...]:
    assert isinstance(elem, DataElement)
    value = elem.value
    shown = len(value) if elem.VR == "SQ" else (list(value) if isinstance(value, list) else value)
    return (type(elem), elem.tag, elem.VR, type(value), shown, elem.file_tell, elem.is_undefined_length,
            elem.private_creator, elem.validation_mode, tuple(elem.__dict__))


def _two_reads(memo: uid_bytes.DecodeMemo) -> Iterator[tuple[str, Dataset, Dataset]]:
    for path in sorted(TEST_FILES.glob("*.dcm")):
        data = path.read_bytes()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                yield (path.name, parse_dicom(data, where="a", fast=True, memo=memo),
                       parse_dicom(data, where="b", fast=True))
            except DeidError:
                continue


def _count_conversions(monkeypatch: pytest.MonkeyPatch) -> list[RawDataElement]:
    """The raw elements pydicom converts from now on (``uid_bytes.convert_raw_data_element`` counted)."""
    converted: list[RawDataElement] = []

    def counting(raw: RawDataElement, **kwargs: object) -> DataElement:
        converted.append(raw)
        return convert_raw_data_element(raw, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(uid_bytes, "convert_raw_data_element", counting)
    return converted


def test_memoised_decodes_are_pydicoms(monkeypatch: pytest.MonkeyPatch) -> None:
    converted = _count_conversions(monkeypatch)
    memo = uid_bytes.DecodeMemo()
    plain = 0
    for round_ in range(2):
        converted.clear()
        for name, ours, theirs in _two_reads(memo):
            for fast, slow in ((ours, theirs), (ours.file_meta, theirs.file_meta)):
                for key in list(slow._dict):
                    raw = fast._dict[key]
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        try:
                            want = slow[key]
                        except Exception:  # noqa: BLE001, S112 - read.decoded's own test pins the errors
                            continue
                        got = decoded(fast, key, memo)
                    assert _state(got) == _state(want), f"{name} {key}"
                    plain += round_ == 1 and type(raw) is RawDataElement and raw.VR in ("CS", "LO", "SH", "DA", "US")
        if round_ == 0:
            first = len(converted)
    assert plain > 1000
    assert first > 1000 and len(converted) < first // 2  # the second round decoded far fewer: from the memo


def _raw(tag: int, vr: str, value: bytes) -> RawDataElement:
    return RawDataElement(BaseTag(tag), vr, len(value), value, 0, False, True)


def test_a_multi_valued_value_is_never_shared() -> None:
    memo = uid_bytes.DecodeMemo()
    values = []
    for _ in range(2):
        elem = uid_bytes.decode_plain(_raw(0x00080008, "CS", b"ORIGINAL\\PRIMARY"), "iso8859", memo=memo)
        values.append(elem.value)
    assert values[0] == ["ORIGINAL", "PRIMARY"] and values[0] is not values[1]
    values[0].append("AXIAL")
    assert list(values[1]) == ["ORIGINAL", "PRIMARY"]


def test_the_character_set_is_part_of_the_key() -> None:
    """The same name bytes under two character sets decode as pydicom decodes each."""
    name = b"\xe9\xe8"
    memo = uid_bytes.DecodeMemo()
    for encoding in ("iso8859", "iso_ir_144", "iso8859", "iso_ir_144"):
        got = uid_bytes.decode_plain(_raw(0x00081050, "PN", name), encoding, memo=memo).value
        want = convert_raw_data_element(_raw(0x00081050, "PN", name), encoding=encoding).value
        assert str(got) == str(want)
    assert len(memo) == 2  # one per character set
    assert str(uid_bytes.decode_plain(_raw(0x00081050, "PN", name), "iso8859", memo=memo).value) != \
        str(uid_bytes.decode_plain(_raw(0x00081050, "PN", name), "iso_ir_144", memo=memo).value)


def test_a_planted_memo_value_is_what_is_decoded() -> None:
    """The memo is consulted: a wrong entry shows (the comparison above would catch one)."""
    raw = _raw(0x00081030, "LO", b"BRAIN")
    memo = uid_bytes.DecodeMemo()
    assert uid_bytes.decode_plain(raw, "iso8859", memo=memo).value == "BRAIN"
    key = next(k for k in memo.values if k[0] == 0x00081030 and k[2] == b"BRAIN")
    memo.values[key] = "PLANTED"
    assert uid_bytes.decode_plain(raw, "iso8859", memo=memo).value == "PLANTED"
    assert uid_bytes.decode_plain(raw, "iso8859").value == "BRAIN"  # without a memo: decoded


def test_the_memo_stays_bounded() -> None:
    memo = uid_bytes.DecodeMemo()
    for i in range(uid_bytes._MEMO_SIZE + 10):
        uid_bytes.decode_plain(_raw(0x00081030, "LO", f"D{i:05d}".encode()), "iso8859", memo=memo)
    assert 0 < len(memo) <= uid_bytes._MEMO_SIZE


def test_a_series_uid_is_remembered_and_an_instance_uid_is_not() -> None:
    memo = uid_bytes.DecodeMemo()
    series = _raw(0x0020000E, "UI", b"1.2.840.113619.2.1.1.1\x00")
    first, second = uid_bytes.uid_element(series, memo), uid_bytes.uid_element(series, memo)
    assert first is not None and second is not None and first is not second
    assert first.value == second.value == convert_raw_data_element(series).value == "1.2.840.113619.2.1.1.1"
    assert type(first.value) is type(convert_raw_data_element(series).value)
    assert [k for k in memo.values if k[0] == 0x0020000E] == [(0x0020000E, "UI", series.value)]
    instance = _raw(0x00080018, "UI", b"1.2.840.113619.2.1.1.2\x00")
    assert uid_bytes.uid_element(instance, memo).value == "1.2.840.113619.2.1.1.2"  # type: ignore[union-attr]
    assert not [k for k in memo.values if k[0] == 0x00080018]  # unique to its file: not kept
    several = _raw(0x00081150, "UI", b"1.2.3\\1.2.4")
    values = [uid_bytes.uid_element(several, memo).value for _ in range(2)]  # type: ignore[union-attr]
    assert values[0] == ["1.2.3", "1.2.4"] and values[0] is not values[1]
    memo.values[(0x0020000E, "UI", series.value)] = "9.9.9"
    assert uid_bytes.uid_element(series, memo).value == "9.9.9"  # type: ignore[union-attr]  # consulted
    assert uid_bytes.uid_element(series).value == "1.2.840.113619.2.1.1.1"  # type: ignore[union-attr]  # no memo


def test_the_run_remembers_in_its_own_engines_memos(tmp_path: Path) -> None:
    """The per-file boundary decodes and encodes through its engine's memos (``decode_memo``,
    ``encode_memo``); another engine's, and those of a copy sent to a worker, start empty:
    nothing is shared through module state."""
    key = SecretKey.from_bytes(bytes(range(32)))
    engine, other = Engine(load_profile("research"), key), Engine(load_profile("research"), key)
    written = 0
    for ordinal, path in enumerate(sorted(TEST_FILES.glob("*.dcm"))):
        item = InputBytes(ordinal, path.name, path.name, path.read_bytes())
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = process_input(item, engine=engine, output=tmp_path / "out", quarantine_dir=tmp_path / "q")
        written += result.outcome is Outcome.WRITTEN
    assert written > 20
    assert len(engine.decode_memo) > 100 and len(engine.encode_memo) > 0
    assert len(other.decode_memo) == 0 and len(other.encode_memo) == 0
    sent = pickle.loads(pickle.dumps(engine))
    assert sent.decode_memo is not engine.decode_memo and len(sent.decode_memo) == 0 and len(sent.encode_memo) == 0


def test_without_a_memo_each_element_is_decoded(monkeypatch: pytest.MonkeyPatch) -> None:
    converted = _count_conversions(monkeypatch)
    raw = _raw(0x00081030, "LO", b"BRAIN")
    assert [uid_bytes.decode_plain(raw, "iso8859").value for _ in range(3)] == ["BRAIN"] * 3
    assert len(converted) == 3
    memo = uid_bytes.DecodeMemo()
    assert [uid_bytes.decode_plain(raw, "iso8859", memo=memo).value for _ in range(3)] == ["BRAIN"] * 3
    assert len(converted) == 4 and len(memo) == 1
