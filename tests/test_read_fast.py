"""read_fast.py and items_fast.py build the dataset ``dcmread`` builds, attribute by attribute
(issue 16): every element's fields, every item's flags and positions, every sequence's length
form, on pydicom's test files and on files with sequences made here; what items_fast.py does not
take is read by pydicom's ``read_sequence``, with the same result."""

from __future__ import annotations

import struct
import warnings
from io import BytesIO

import pydicom
import pytest
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence

from dicom_deid import read_fast
from dicom_deid.read import _FAST_FAILURES
from dicom_deid.read_fast import read_explicit
from tests.fuzz_corpus import TEST_FILES

_ITEM_ATTRS = ("_parent_encoding", "_read_little", "_read_implicit", "_read_charset",
               "is_undefined_length_sequence_item", "seq_item_tell", "file_tell")


def assert_same(fast: Dataset, slow: Dataset, where: str = "") -> int:
    """Fail on the first difference; return how many sequence items were compared."""
    assert type(fast) is type(slow), where
    assert list(fast._dict) == list(slow._dict), where
    assert sorted(fast.__dict__) == sorted(slow.__dict__), where
    for name in _ITEM_ATTRS:
        assert getattr(fast, name, "-") == getattr(slow, name, "-"), f"{where} {name}"
    items = 0
    for key, a in fast._dict.items():
        b = slow._dict[key]
        here = f"{where}/{key}"
        assert type(a) is type(b), here
        if type(a) is RawDataElement:
            assert tuple(a) == tuple(b), here
            continue
        assert isinstance(a, DataElement) and isinstance(b, DataElement)
        assert (a.tag, a.VR, a.file_tell, a.is_undefined_length) == (b.tag, b.VR, b.file_tell, b.is_undefined_length), here
        if a.VR != "SQ":
            assert a.value == b.value, here
            continue
        assert type(a.value) is type(b.value) is Sequence, here
        # (pydicom sets no length form on the empty sequence it converts from a zero length)
        assert getattr(a.value, "is_undefined_length", "-") == getattr(b.value, "is_undefined_length", "-"), here
        assert len(a.value) == len(b.value), here
        for i, (x, y) in enumerate(zip(a.value, b.value, strict=True)):
            items += 1 + assert_same(x, y, f"{here}[{i}]")
    return items


def _same_as_dcmread(data: bytes) -> int:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fast, slow = read_explicit(data), pydicom.dcmread(BytesIO(data))
    assert_same(fast.file_meta, slow.file_meta, "file meta")
    assert (fast.preamble, fast.filename, fast.is_little_endian, fast.is_implicit_VR) == \
        (slow.preamble, slow.filename, slow.is_little_endian, slow.is_implicit_VR)
    return assert_same(fast, slow)


def test_pydicom_test_files_read_as_dcmread_reads_them(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every file read_fast.py takes; items_fast.py reads every undefined-length sequence among
    them (pydicom's read_sequence, which it replaces, is made to fail)."""
    calls: list[int] = []
    real = read_fast.read_sequence
    monkeypatch.setattr(read_fast, "read_sequence", lambda *a, **k: calls.append(1) or real(*a, **k))
    files = taken = items = 0
    for path in sorted(TEST_FILES.glob("*.dcm")):
        data = path.read_bytes()
        files += 1
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                read_explicit(data)
        except _FAST_FAILURES:
            continue
        items += _same_as_dcmread(data)
        taken += 1
    assert files >= 70 and taken >= 40, (files, taken)
    assert items >= 200, items  # sequence items compared, nested included
    assert not calls  # pydicom's read_sequence was never needed on these


def _explicit(tag: int, vr: str, value: bytes) -> bytes:
    head = struct.pack("<HH2s", tag >> 16, tag & 0xFFFF, vr.encode())
    if vr in ("OB", "OW", "SQ", "UN", "UT", "UC", "UR"):
        return head + b"\0\0" + struct.pack("<L", len(value)) + value
    return head + struct.pack("<H", len(value)) + value


def _undefined_sq(tag: int, *items: bytes) -> bytes:
    return (struct.pack("<HH2sHL", tag >> 16, tag & 0xFFFF, b"SQ", 0, 0xFFFFFFFF) + b"".join(items)
            + struct.pack("<HHL", 0xFFFE, 0xE0DD, 0))


def _item(body: bytes, *, defined: bool) -> bytes:
    if defined:
        return struct.pack("<HHL", 0xFFFE, 0xE000, len(body)) + body
    return struct.pack("<HHL", 0xFFFE, 0xE000, 0xFFFFFFFF) + body + struct.pack("<HHL", 0xFFFE, 0xE00D, 0)


def _file(body: bytes) -> bytes:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.4"
    meta.MediaStorageSOPInstanceUID = "1.2.3.4"
    meta.TransferSyntaxUID = "1.2.840.10008.1.2.1"
    ds = Dataset()
    ds.file_meta = meta
    buf = BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue() + body


_CODE = _explicit(0x00080100, "SH", b"T-1234") + _explicit(0x00080102, "SH", b"SRT ")
_NESTED = _undefined_sq(0x00400260, _item(_CODE, defined=False), _item(_CODE, defined=True))
_CHARSET_ITEM = _explicit(0x00080005, "CS", b"ISO_IR 100") + _explicit(0x00080104, "LO", b"caf\xe9 ")


@pytest.mark.parametrize(("name", "body", "fast_items"), [
    ("nested undefined and defined items", _explicit(0x00080005, "CS", b"ISO_IR 192") + _undefined_sq(
        0x00082218, _item(_CODE + _NESTED, defined=False), _item(_NESTED, defined=True)), 6),
    ("a character set inside an item", _undefined_sq(0x00082218, _item(_CHARSET_ITEM + _NESTED, defined=False)), 3),
    ("an empty sequence", _undefined_sq(0x00082218), 0),
    ("a defined-length sequence inside an item", _undefined_sq(
        0x00082218, _item(_explicit(0x00400260, "SQ", _item(_CODE, defined=True)), defined=False)), 1),
    # not taken here: read_sequence reads them, and the result is dcmread's all the same
    ("an empty undefined-length item", _undefined_sq(0x00082218, _item(b"", defined=False)), None),
    ("elements out of order in an item", _undefined_sq(0x00082218, _item(_CODE[14:] + _CODE[:14], defined=False)), None),
    ("an item delimiter with a length", _undefined_sq(0x00082218, _item(_CODE, defined=False)[:-4] + b"\1\0\0\0"),
     None),
    ("an element past its item", _undefined_sq(0x00082218, _item(_CODE, defined=True)[:4] + b"\x0a\0\0\0"
                                                + _CODE), None),
])
def test_items_read_as_read_sequence_reads_them(name: str, body: bytes, fast_items: int | None,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    data = _file(body)
    calls: list[int] = []
    real = read_fast.read_sequence
    monkeypatch.setattr(read_fast, "read_sequence", lambda *a, **k: calls.append(1) or real(*a, **k))
    try:
        items = _same_as_dcmread(data)
    except _FAST_FAILURES:  # read_fast.py does not take the file at all: dcmread reads it
        assert fast_items is None, name
        return
    if fast_items is None:
        assert calls, f"{name}: items_fast.py took what it must leave to pydicom"
    else:
        assert not calls and items == fast_items, (name, items)


def test_the_comparison_catches_a_wrong_item_position() -> None:
    """assert_same fails when an item's recorded position differs from pydicom's."""
    data = _file(_undefined_sq(0x00082218, _item(_CODE, defined=False)))
    assert _same_as_dcmread(data) == 1
    fast = read_explicit(data)
    fast[0x00082218].value[0].seq_item_tell += 2
    with pytest.raises(AssertionError, match="seq_item_tell"):
        assert_same(fast, pydicom.dcmread(BytesIO(data)))


def test_sequences_of_real_files_are_read_here() -> None:
    """A file whose top-level sequences have undefined length (pydicom's reportsi.dcm, an SR):
    items_fast.py reads every item, dcmread agrees."""
    data = (TEST_FILES / "reportsi.dcm").read_bytes()
    assert _same_as_dcmread(data) >= 10


_BODY = _explicit(0x00080016, "UI", b"1.2.840.10008.5.1.4.1.1.4\0") + _explicit(0x00080018, "UI", b"1.2.3.4\0")


@pytest.mark.parametrize(("name", "edit", "taken"), [
    ("as written", lambda d: d, True),
    ("no group length", lambda d: d[:132] + d[144:], True),
    ("a wrong group length", lambda d: d[:140] + struct.pack("<L", 7) + d[144:], True),
    ("implicit VR file meta", lambda d: d[:132] + struct.pack("<HHL", 2, 0, 4) + d[140:], False),
    ("no file meta", lambda d: d[:132] + _BODY, False),
])
def test_file_meta_read_as_pydicom_reads_it(name: str, edit: object, taken: bool) -> None:
    assert callable(edit)
    data = edit(_file(_BODY))
    assert data[128:132] == b"DICM"
    try:
        _same_as_dcmread(data)
    except _FAST_FAILURES:
        assert not taken, name
    else:
        assert taken, name


def test_dropped_private_elements_are_exactly_the_ones_left_out() -> None:
    """With ``dropped`` (a run whose plan removes every private element unread), read_fast.py
    builds dcmread's dataset less its top-level private elements of defined length and of a VR
    other than UN, and lists exactly those, as (tag, VR) in file order; everything else is
    dcmread's, field by field."""
    files = dropping = listed = 0
    for path in sorted(TEST_FILES.glob("*.dcm")):
        data = path.read_bytes()
        dropped: list[tuple[int, str]] = []
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fast = read_explicit(data, dropped)
                slow = pydicom.dcmread(BytesIO(data))
        except _FAST_FAILURES:
            continue
        files += 1
        expected = [(int(key), raw.VR) for key, raw in slow._dict.items()
                    if key >> 16 & 1 and raw.VR != "UN" and raw.length != 0xFFFFFFFF]
        assert dropped == expected, path.name
        for tag, _ in expected:
            del slow._dict[tag]  # type: ignore[arg-type]
        assert_same(fast, slow, path.name)
        dropping += bool(dropped)
        listed += len(dropped)
    assert files >= 40 and dropping >= 6 and listed >= 300, (files, dropping, listed)


def test_a_dropped_element_is_never_left_in_the_dataset() -> None:
    """The comparison above fails when an element listed as dropped is also read (or the reverse)."""
    body = (_BODY + _explicit(0x00091001, "UN", b"abcd") + _explicit(0x00091010, "LO", b"GEMS_IDEN_01")
            + _explicit(0x00100010, "PN", b"Doe^Jane"))
    dropped: list[tuple[int, str]] = []
    ds = read_explicit(_file(body), dropped)
    assert dropped == [(0x00091010, "LO")]  # the UN one is read: its VR is the dictionary's business
    assert 0x00091010 not in ds and 0x00091001 in ds and 0x00100010 in ds
    with pytest.raises(AssertionError, match="a dropped element"):
        assert_same(ds, read_explicit(_file(body)), "a dropped element")


def _convert_every_sequence(fast: Dataset, slow: Dataset, taken: list[int]) -> int:
    """Convert every raw sequence of ``fast`` with items_fast.sequence_value and of ``slow`` by
    pydicom's ``__getitem__`` (recursively, item by item); return how many."""
    from dicom_deid.items_fast import sequence_value

    done = 0
    for key in list(fast._dict):
        raw = fast._dict[key]
        if getattr(raw, "VR", None) != "SQ":
            continue
        mine, theirs = sequence_value(fast, key), slow[key].value
        done += 1
        for x, y in zip(mine or (), theirs or (), strict=True):
            done += _convert_every_sequence(x, y, taken)
    return done


def test_sequences_of_defined_length_convert_as_pydicom_converts_them(monkeypatch: pytest.MonkeyPatch) -> None:
    """A raw sequence of defined length (dcmread and read_fast.py leave it raw; the plan walks it):
    items_fast.sequence_value gives the element, items and positions pydicom's conversion gives,
    on every pydicom test file, at every nesting level."""
    from dicom_deid import items_fast

    taken: list[int] = []
    real = items_fast.read_defined

    def counting(value: bytes, offset: int, encoding: items_fast.Encoding) -> Sequence:
        seq = real(value, offset, encoding)
        taken.append(len(seq))
        return seq

    monkeypatch.setattr(items_fast, "read_defined", counting)
    files = converted = items = 0
    for path in sorted(TEST_FILES.glob("*.dcm")):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                fast, slow = pydicom.dcmread(path), pydicom.dcmread(path)
            except Exception:  # noqa: BLE001, S112 - a file pydicom cannot read has nothing to compare
                continue
            converted += _convert_every_sequence(fast, slow, taken)
            items += assert_same(fast, slow, path.name)
        files += 1
    assert files >= 50 and converted >= 40 and items >= 40, (files, converted, items)
    assert len(taken) >= 20 and sum(taken) >= 30, taken  # items_fast read them, not pydicom


@pytest.mark.parametrize(("name", "body", "taken"), [
    ("defined and undefined items, nested sequences, a character set", _explicit(0x00080005, "CS", b"ISO_IR 100")
     + _explicit(0x00082218, "SQ", _item(_CODE + _NESTED, defined=True) + _item(_CHARSET_ITEM + _NESTED, defined=False)),
     True),
    ("a sequence delimiter inside (pydicom stops there)", _explicit(
        0x00082218, "SQ", _item(_CODE, defined=True) + struct.pack("<HHL", 0xFFFE, 0xE0DD, 0)), False),
    ("an empty item", _explicit(0x00082218, "SQ", _item(b"", defined=True)), False),
])
def test_sequences_of_defined_length_made_here(name: str, body: bytes, taken: bool,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Taken by items_fast.py or refused (then pydicom converts it): the same dataset either way."""
    from dicom_deid import items_fast
    from dicom_deid.rawscan import FallBack

    outcomes: list[str] = []
    real = items_fast.read_defined

    def recording(value: bytes, offset: int, encoding: items_fast.Encoding) -> Sequence:
        try:
            seq = real(value, offset, encoding)
        except FallBack:
            outcomes.append("refused")
            raise
        outcomes.append("taken")
        return seq

    monkeypatch.setattr(items_fast, "read_defined", recording)
    data = _file(body)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fast, slow = pydicom.dcmread(BytesIO(data)), pydicom.dcmread(BytesIO(data))
        assert type(fast._dict[0x00082218]) is RawDataElement, name  # type: ignore[index]
        converted = _convert_every_sequence(fast, slow, [])
    assert outcomes[0] == ("taken" if taken else "refused"), name
    assert converted >= 1 and assert_same(fast, slow, name) >= 1


@pytest.mark.parametrize("original", ["iso8859", ["iso8859", "shift_jis"]])
def test_item_dataset_is_the_dataset_pydicom_builds_for_an_item(original: str | list[str]) -> None:
    """items_fast.item_dataset gives what ``Dataset(elements, parent_encoding=...)`` and
    ``set_original_encoding(False, True, ...)`` give: the same attributes in the same order, equal
    values, its own mutable dicts, the elements dict itself."""
    from dicom_deid.items_fast import item_dataset

    elements: dict = {}  # type: ignore[type-arg]
    parent = ["iso8859"]
    slow = Dataset(elements, parent_encoding=parent)
    slow.set_original_encoding(False, True, original)
    fast, other = item_dataset(elements, parent, original), item_dataset({}, parent, original)
    assert type(fast) is Dataset
    assert list(vars(fast)) == list(vars(slow))
    assert all(vars(fast)[name] == value for name, value in vars(slow).items())
    assert fast._dict is elements and fast._parent_encoding is parent and fast._read_charset is original
    mutable = [name for name, value in vars(fast).items() if isinstance(value, dict) and name != "_dict"]
    assert mutable and all(vars(fast)[name] is not vars(other)[name] for name in mutable)
