"""A private sequence of undefined length that the plan removes unread is walked to its end by
``items_fast.skip_items`` and left out of the dataset (read_fast.py's ``dropped``): the same end
as ``read_items`` finds, the same plan, the same output bytes as the pydicom path.

``skip_items`` must never answer a position where ``read_items`` answers another, or answers
nothing (FallBack): checked on every undefined-length sequence of pydicom's test files and of a
file built here, and on that file cut short or damaged at every byte of its private sequence.
"""

from __future__ import annotations

import warnings
from io import BytesIO
from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from dicom_deid.items_fast import read_items, skip_items
from dicom_deid.rawscan import FallBack
from dicom_deid.read import parse_instance
from tests.fuzz_corpus import TEST_FILES
from tests.test_bytepath_identity import _engine, compare

PRIVATE_SQ = 0x00291010


def _item(**values: str) -> Dataset:
    item = Dataset()
    for keyword, value in values.items():
        setattr(item, keyword, value)
    item.is_undefined_length_sequence_item = True
    return item


def _undefined(tag: int, items: list[Dataset]) -> DataElement:
    elem = DataElement(tag, "SQ", Sequence(items))
    elem.is_undefined_length = True
    return elem


def _with_private_sequence(*, charset_inside: bool = False) -> bytes:
    """CT_small.dcm with a private block holding an undefined-length sequence (items of defined and
    undefined length, a nested sequence), written as Explicit VR Little Endian."""
    ds = dcmread(TEST_FILES / "CT_small.dcm")
    ds.add_new(0x00290010, "LO", "ACME PRIVATE")
    inner = _item(CodeValue="X1", CodingSchemeDesignator="99ACME")
    nested = _item(CodeMeaning="NESTED")
    nested[0x00081032] = _undefined(0x00081032, [inner])
    plain = _item(ReferencedSOPInstanceUID="1.2.3.4", PatientName="SECRET^NAME")
    plain.is_undefined_length_sequence_item = False
    items = [plain, nested]
    if charset_inside:
        items.append(_item(SpecificCharacterSet="ISO_IR 100", PatientName="SECRET"))
    ds[PRIVATE_SQ] = _undefined(PRIVATE_SQ, items)
    ds.add_new(0x00291020, "LO", "AFTER")
    out = BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def _sequence_starts(data: bytes) -> list[int]:
    """Where each top-level undefined-length sequence's value starts (as dcmread read it)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            ds = dcmread(BytesIO(data))
        except Exception:  # noqa: BLE001 - a file pydicom refuses has nothing to compare
            return []
    if ds.original_encoding != (False, True):
        return []
    return [elem.file_tell for elem in ds._dict.values()
            if getattr(elem, "VR", None) == "SQ" and getattr(elem, "is_undefined_length", False)
            and isinstance(getattr(elem, "file_tell", None), int)]


def _agree(data: bytes, start: int) -> str:
    """'same' (both end at one position), 'refused' (skip_items refuses: the caller reads it), or
    an AssertionError where skip_items answers what read_items does not."""
    try:
        skipped = skip_items(data, start)
    except FallBack:
        return "refused"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            _, read = read_items(data, start, "iso8859")
        except FallBack:
            raise AssertionError(f"skip_items ended at {skipped}, read_items refused") from None
    assert skipped == read, f"skip_items ended at {skipped}, read_items at {read}"
    return "same"


def test_skip_ends_where_read_ends_on_the_test_files() -> None:
    outcomes = {"same": 0, "refused": 0}
    for path in sorted(TEST_FILES.glob("*.dcm")):
        data = path.read_bytes()
        for start in _sequence_starts(data):
            outcomes[_agree(data, start)] += 1
    assert outcomes["same"] >= 10, outcomes


def test_skip_never_answers_otherwise_on_damaged_sequences() -> None:
    data = _with_private_sequence()
    start = _sequence_starts(data)[-1]
    end = skip_items(data, start)
    assert end == read_items(data, start, "iso8859")[1] and end - start > 100
    outcomes = {"same": 0, "refused": 0}
    for cut in range(start, end):
        outcomes[_agree(data[:cut], start)] += 1  # cut short anywhere
    for at in range(start, end):
        for flip in (0x01, 0x80, 0xFF):
            damaged = bytearray(data)
            damaged[at] ^= flip
            outcomes[_agree(bytes(damaged), start)] += 1
    assert outcomes["refused"] > end - start and outcomes["same"] > 100, outcomes


def test_a_character_set_inside_is_left_to_read_items() -> None:
    data = _with_private_sequence(charset_inside=True)
    start = _sequence_starts(data)[-1]
    with pytest.raises(FallBack, match="character set"):
        skip_items(data, start)
    assert read_items(data, start, "iso8859")[1] > start  # read as before


@pytest.mark.parametrize("charset_inside", [False, True])
def test_the_private_sequence_is_dropped_and_the_output_is_the_pydicom_paths(tmp_path: Path,
                                                                             charset_inside: bool) -> None:
    data = _with_private_sequence(charset_inside=charset_inside)
    instance = parse_instance(data, where="x", fast=True, drop_private=True)
    assert ((PRIVATE_SQ, "SQ") in instance.dropped) is not charset_inside
    assert (PRIVATE_SQ in instance.dataset._dict) is charset_inside
    path = tmp_path / "private_sq.dcm"
    path.write_bytes(data)
    tally = compare([path], _engine("basic"))  # bytes, plan, links: the pydicom path's
    assert tally.compared == 1 and tally.byte_path == 1


ITEM_UNDEFINED = b"\xfe\xff\x00\xe0\xff\xff\xff\xff"
ITEM_END = b"\xfe\xff\x0d\xe0\x00\x00\x00\x00"
SEQUENCE_END = b"\xfe\xff\xdd\xe0\x00\x00\x00\x00"
CODE_VALUE = b"\x08\x00\x00\x01SH\x02\x00X1"  # (0008,0100) SH "X1"


@pytest.mark.parametrize(("body", "taken"), [
    (ITEM_UNDEFINED + CODE_VALUE + ITEM_END + SEQUENCE_END, True),
    (ITEM_UNDEFINED + ITEM_END + SEQUENCE_END, False),  # an empty item: pydicom guesses implicit VR
    (b"\xfe\xff\x00\xe0\x00\x00\x00\x00" + SEQUENCE_END, False),  # an item of length 0
    (ITEM_UNDEFINED + CODE_VALUE + CODE_VALUE + ITEM_END + SEQUENCE_END, False),  # repeated
    (ITEM_UNDEFINED + CODE_VALUE + ITEM_END + b"\xfe\xff\xdd\xe0\x02\x00\x00\x00", False),  # delimiter length
])
def test_handmade_sequences(body: bytes, taken: bool) -> None:
    data = b"\x00" * 16 + body
    assert _agree(data, 16) == ("same" if taken else "refused")
