"""Read, the byte path's way: the items of a sequence of undefined length -> the Sequence
``pydicom.filereader.read_sequence`` builds for it, straight from the bytes (issue 16).

read_fast.py reads the top level of an Explicit VR Little Endian file; a sequence of undefined
length there was read by ``read_sequence``, which walks every item through pydicom's generic
element generator (a file object, a heuristic per item, debugging hooks).  This module does the
same walk with one ``unpack_from`` and one slice per element and builds the same objects: the
same ``RawDataElement`` fields (tag, VR, length, value, absolute value position), the same empty
values, one ``Dataset`` per item with the same parent encoding, original encoding, item flags
(``is_undefined_length_sequence_item``, ``seq_item_tell``, ``file_tell``), nested sequences of
undefined length read the same way and wrapped in the same ``DataElement``, and sequences of
defined length inside items left raw, as pydicom leaves them.

Only the plain case is taken; anything else raises :class:`~dicom_deid.rawscan.FallBack` and
read_fast.py hands the sequence to ``read_sequence``: an item that is not (FFFE,E000), an empty
item (pydicom then guesses implicit VR for it), elements out of order or repeated, an unknown VR,
an undefined length other than a sequence's, an element running past its item, a delimiter
with a length, a value or header cut short, nesting deeper than ``MAX_DEPTH``.
``tests/test_read_fast.py`` compares every dataset with ``dcmread``'s, attribute by attribute.
"""

from __future__ import annotations

import struct
from collections.abc import MutableMapping
from io import BytesIO
from typing import cast

from pydicom import config as pydicom_config
from pydicom.charset import convert_encodings, default_encoding
from pydicom.dataelem import (
    DataElement,
    RawDataElement,
    convert_raw_data_element,
)
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.tag import BaseTag
from pydicom.values import convert_string

from dicom_deid.rawscan import (
    BASE_TAGS,
    ELEMENT_HEAD,
    ITEM,
    ITEM_END,
    LONG_VR_BYTES,
    MAX_DEPTH,
    SEQUENCE_END,
    SPECIFIC_CHARACTER_SET,
    UL_AT,
    UNDEFINED,
    VR_OF,
    FallBack,
    empty_raw_value,
)
from dicom_deid.uid_bytes import plain_pydicom

_HEAD = ELEMENT_HEAD
_ITEM_HEAD = struct.Struct("<LL").unpack_from
_UL = UL_AT
_CHARSET = SPECIFIC_CHARACTER_SET
_TAGS = BASE_TAGS

Encoding = str | list[str]


#: What ``Dataset()`` sets on a new dataset, and which of it is mutable (each new dataset gets
#: its own copy).  Only plain values: anything else and :func:`new_dataset` calls ``Dataset()``.
_BLANK = dict(Dataset().__dict__)
_BLANK_COPIED = tuple(name for name, value in _BLANK.items() if type(value) is dict)
_PLAIN = (str, bool, int, type(None))
_BLANK_PLAIN = all(type(v) in _PLAIN or (type(v) is dict and all(type(x) in _PLAIN for x in v.values()))
                   for v in _BLANK.values())


def new_dataset() -> Dataset:
    """``Dataset()``, without its dozen attribute assignments through ``Dataset.__setattr__``
    (each looks its name up as a DICOM keyword): the same attributes, the same values, a new
    dict for each dict attribute (``tests/test_scrub_rules.py`` compares it with ``Dataset()``)."""
    if not _BLANK_PLAIN:
        return Dataset()
    ds = Dataset.__new__(Dataset)
    attrs = ds.__dict__
    attrs.update(_BLANK)  # in its order; then each dict attribute its own copy
    for name in _BLANK_COPIED:
        attrs[name] = dict(_BLANK[name])
    return ds


#: What ``DataElement(tag, "SQ", sequence, ...)`` sets on the element, in its order
_SEQUENCE_ATTRS = ("tag", "VR", "validation_mode", "_value", "file_tell", "is_undefined_length", "private_creator")
_FAST_SEQUENCES = (tuple(DataElement(BaseTag(0x00081115), "SQ", Sequence(), 0, is_undefined_length=True).__dict__)
                   == _SEQUENCE_ATTRS and tuple(Sequence().__dict__) == ("_list",))


def sequence_element(key: BaseTag, value: Sequence, value_tell: int | None, undefined: bool) -> DataElement:
    """``DataElement(key, "SQ", value, value_tell, is_undefined_length=undefined)`` for a BaseTag
    and a Sequence, without the tag conversion, the VR test and the value setter (which keeps a
    Sequence as it is): the same attributes in the same order, the same values
    (``tests/test_meta17_one_pass.py`` compares them); pydicom builds anything else."""
    if not _FAST_SEQUENCES or type(key) is not BaseTag or type(value) is not Sequence:
        return DataElement(key, "SQ", value, value_tell, is_undefined_length=undefined)
    elem = object.__new__(DataElement)
    elem.__dict__.update(tag=key, VR="SQ", validation_mode=pydicom_config.settings.reading_validation_mode,
                         _value=value, file_tell=value_tell, is_undefined_length=undefined, private_creator=None)
    return elem


def new_sequence(items: list[Dataset]) -> Sequence:
    """``Sequence(items)`` for a list of datasets: the same object, holding that list itself
    (``Sequence`` copies it into a new one, checking each item)."""
    if not _FAST_SEQUENCES or any(type(item) is not Dataset for item in items):
        return Sequence(items)
    seq = object.__new__(Sequence)
    seq.__dict__["_list"] = items
    return seq


def new_file_meta(elements: MutableMapping[BaseTag, DataElement | RawDataElement]) -> FileMetaDataset:
    """``FileMetaDataset(elements)``: pydicom's own group 2 check (``FileMetaDataset.validate``:
    the same errors), then what ``Dataset()`` sets (``FileMetaDataset()`` sets nothing more), as
    :func:`new_dataset` sets it, with ``elements`` as its dict (``FileMetaDataset(dataset)`` shares
    the dataset's dict: pass ``dataset._dict``)."""
    FileMetaDataset.validate(elements)
    if not _BLANK_PLAIN:
        return FileMetaDataset(elements)
    meta = FileMetaDataset.__new__(FileMetaDataset)
    attrs = meta.__dict__
    attrs.update(_BLANK)
    for name in _BLANK_COPIED:
        attrs[name] = dict(_BLANK[name])
    attrs["_dict"] = elements
    return meta


#: What ``FileDataset(BytesIO(), dataset, preamble, meta, False, True)`` sets, in its order (the
#: attributes :func:`file_dataset` gives their own values are named in ``_FILE_OWN``)
_FILE_BLANK = dict(FileDataset(BytesIO(), Dataset(), b"", FileMetaDataset(), False, True).__dict__)
_FILE_OWN = frozenset({"_dict", "preamble", "file_meta", "buffer", "fileobj_type"})
_FILE_COPIED = tuple(name for name, value in _FILE_BLANK.items() if type(value) is dict and name not in _FILE_OWN)
_FILE_PLAIN = _BLANK_PLAIN and all(
    type(v) in _PLAIN or (type(v) is dict and all(type(x) in _PLAIN for x in v.values()))
    for name, v in _FILE_BLANK.items() if name not in _FILE_OWN) and _FILE_OWN <= _FILE_BLANK.keys()


def file_dataset(fp: BytesIO, dataset: Dataset, preamble: bytes, file_meta: FileMetaDataset) -> FileDataset:
    """``FileDataset(fp, dataset, preamble, file_meta, False, True)`` for an in-memory file (a
    ``BytesIO``: no name, no timestamp) and a :class:`FileMetaDataset`, without its attribute
    assignments through ``Dataset.__setattr__``: the same attributes in the same order, the same
    values, a new dict for each dict attribute (``tests/test_meta14_file_dataset.py`` compares
    them); ``FileDataset`` itself for anything else."""
    if not _FILE_PLAIN or type(fp) is not BytesIO or type(file_meta) is not FileMetaDataset:
        return FileDataset(fp, dataset, preamble, file_meta, False, True)
    ds = FileDataset.__new__(FileDataset)
    attrs = ds.__dict__
    attrs.update(_FILE_BLANK)
    for name in _FILE_COPIED:
        attrs[name] = dict(_FILE_BLANK[name])
    attrs["_dict"] = dataset._dict
    attrs["preamble"] = preamble
    attrs["file_meta"] = file_meta
    attrs["buffer"] = fp
    attrs["fileobj_type"] = BytesIO
    return ds


def item_dataset(elements: dict[BaseTag, RawDataElement | DataElement], parent: Encoding,
                 original: Encoding) -> Dataset:
    """``Dataset(elements, parent_encoding=parent)`` then ``set_original_encoding(False, True,
    original)``, as pydicom reads an item (and read_fast.py a file's dataset), without their
    attribute assignments through ``Dataset.__setattr__``: the same attributes in the same order,
    the same values (``tests/test_read_fast.py`` compares them)."""
    ds = new_dataset()
    attrs = ds.__dict__
    attrs["_parent_encoding"] = parent
    attrs["_dict"] = elements
    attrs["_read_implicit"] = False
    attrs["_read_little"] = True
    attrs["_read_charset"] = original
    return ds



def read_items(data: bytes, pos: int, encoding: Encoding, depth: int = 0) -> tuple[Sequence, int]:
    """The Sequence ``read_sequence`` returns for the undefined-length sequence whose value starts
    at ``pos`` of ``data`` (positions are absolute, as in a whole-file read), and the position after
    its delimiter.
    ``encoding``: the character sets in force where the sequence is (read_sequence's
    ``encoding``).  Raises FallBack where this module does not read it exactly as pydicom does."""
    if depth > MAX_DEPTH:
        raise FallBack("sequences nested too deep")
    end = len(data)
    items: list[Dataset] = []
    while True:
        if pos + 8 > end:
            raise FallBack("item header cut short")
        tag, length = _ITEM_HEAD(data, pos)
        tag = (tag & 0xFFFF) << 16 | tag >> 16  # (group, element) as two little-endian halves
        if tag == SEQUENCE_END:
            if length:
                raise FallBack("sequence delimiter with a length")
            pos += 8
            break
        item, pos = _read_item(data, pos, tag, length, encoding, depth)
        items.append(item)
    sequence = Sequence(items)
    sequence.is_undefined_length = True
    return sequence, pos


def read_defined(value: bytes, offset: int, encoding: Encoding) -> Sequence:
    """The Sequence pydicom's ``convert_SQ`` builds from the value of a sequence of defined length
    read as explicit VR little endian (``value``, found at ``offset`` in the file): ``read_sequence``
    over its bytes, item by item until they end; as there, the items' own positions are absolute
    and everything inside them is positioned from the start of ``value``.  ``encoding``: the list
    ``convert_value`` passes.  Raises FallBack where this module does not read it as pydicom does
    (a sequence delimiter inside, an item running past the value, anything read_items refuses)."""
    pos, end = 0, len(value)
    items: list[Dataset] = []
    while pos < end:
        if pos + 8 > end:
            raise FallBack("item header cut short")
        tag, length = _ITEM_HEAD(value, pos)
        tag = (tag & 0xFFFF) << 16 | tag >> 16
        item, pos = _read_item(value, pos, tag, length, encoding, 0, offset)
        items.append(item)
    if pos != end:
        raise FallBack("an item past the sequence's length")
    sequence = Sequence(items)
    sequence.is_undefined_length = False
    return sequence


def _read_item(data: bytes, pos: int, tag: int, length: int, encoding: Encoding, depth: int,
               offset: int = 0) -> tuple[Dataset, int]:
    """The item whose header (``tag``, ``length``) is at ``pos``, as ``read_sequence_item`` reads
    it, and the position after it (``offset`` is added to the item's own position only)."""
    if tag != ITEM or not length:
        raise FallBack("not an item, or an empty item")
    item_tell = pos + offset
    end = len(data)
    stop = None if length == UNDEFINED else pos + 8 + length
    if stop is not None and stop > end:
        raise FallBack("item cut short")
    elements, pos = _read_elements(data, pos + 8, stop, encoding, depth)
    if not elements:
        raise FallBack("an empty item")  # pydicom guesses implicit VR for it
    charset = elements.get(_CHARSET)  # type: ignore[call-overload]
    original: Encoding = encoding
    if charset is not None:
        original = convert_encodings(convert_raw_data_element(charset).value)
    ds = item_dataset(elements, encoding, original)
    attrs = ds.__dict__  # plain attributes: Dataset.__setattr__ stores them as these
    attrs["is_undefined_length_sequence_item"] = stop is None
    attrs["seq_item_tell"] = item_tell
    attrs["file_tell"] = item_tell
    return ds, pos


def _read_elements(data: bytes, pos: int, stop: int | None, encoding: Encoding,
                   depth: int) -> tuple[dict[BaseTag, RawDataElement | DataElement], int]:
    """One item's elements from ``pos`` to ``stop`` (defined length) or to its delimiter (None),
    in the order read, and the position after the item."""
    end = len(data) if stop is None else stop
    elements: dict[BaseTag, RawDataElement | DataElement] = {}
    last = -1
    new_tuple, raw_type = tuple.__new__, RawDataElement
    tags = _TAGS
    if len(tags) > 65536:
        tags.clear()
    while True:
        if pos >= end:
            if stop is None or pos > end:
                raise FallBack("item cut short, or an element past its item")
            return elements, pos
        if pos + 8 > end:
            raise FallBack("element header cut short")
        group, elem, vrb, length = _HEAD(data, pos)
        tag = group << 16 | elem
        if tag == ITEM_END and stop is None:
            if vrb != b"\x00\x00" or length:
                raise FallBack("item delimiter with a length")
            return elements, pos + 8
        if tag <= last or group == 0xFFFE:
            raise FallBack("elements out of order, repeated, or a delimiter")
        if not elements and vrb not in VR_OF:
            raise FallBack("first element not explicit VR")  # pydicom guesses implicit VR here
        last = tag
        vr = VR_OF.get(vrb)
        if vr is None:
            raise FallBack("unknown value representation")
        if vrb in LONG_VR_BYTES:
            if pos + 12 > end:
                raise FallBack("element header cut short")
            length = _UL(data, pos + 8)[0]
            value_tell = pos + 12
        else:
            value_tell = pos + 8
        key = tags.get(tag)
        if key is None:
            key = tags[tag] = BaseTag(tag)
        if length == UNDEFINED:
            if vr != "SQ":
                raise FallBack("undefined length outside a sequence")
            seq, pos = read_items(data, value_tell, encoding, depth + 1)
            elements[key] = sequence_element(key, seq, value_tell, True)  # DataElement(key, vr, seq, ...)
            continue
        pos = value_tell + length
        if pos > end:
            raise FallBack("value cut short")
        value = data[value_tell:pos] if length else empty_raw_value(vr, True)
        if tag == _CHARSET:
            encoding = convert_encodings(convert_string(value or b"", True))
        # RawDataElement(key, vr, length, value, value_tell, False, True), as read_fast.py builds it
        elements[key] = new_tuple(raw_type, (key, vr, length, value, value_tell, False, True, True, False))


def skip_items(data: bytes, pos: int, depth: int = 0) -> int:
    """The position after the undefined-length sequence whose value starts at ``pos``: where
    :func:`read_items` ends it, found by the same walk over the same headers without building
    its items (for a sequence nobody reads: a private one the plan removes unread, read_fast.py's
    ``dropped``).  FallBack wherever ``read_items`` raises it, and also for a Specific Character
    Set inside (``read_items`` decodes it; the caller then reads the sequence as before), so
    where this returns, ``read_items`` returns the same position (``tests/test_meta8_skip_items.py``)."""
    if depth > MAX_DEPTH:
        raise FallBack("sequences nested too deep")
    end = len(data)
    while True:
        if pos + 8 > end:
            raise FallBack("item header cut short")
        tag, length = _ITEM_HEAD(data, pos)
        tag = (tag & 0xFFFF) << 16 | tag >> 16
        if tag == SEQUENCE_END:
            if length:
                raise FallBack("sequence delimiter with a length")
            return pos + 8
        if tag != ITEM or not length:
            raise FallBack("not an item, or an empty item")
        stop = None if length == UNDEFINED else pos + 8 + length
        if stop is not None and stop > end:
            raise FallBack("item cut short")
        pos = _skip_elements(data, pos + 8, stop, depth)


def _skip_elements(data: bytes, pos: int, stop: int | None, depth: int) -> int:
    """``_read_elements``'s walk over one item, building nothing: the position after the item."""
    end = len(data) if stop is None else stop
    last = -1
    vr_of, long_vrs = VR_OF, LONG_VR_BYTES
    while True:
        if pos >= end:
            if stop is None or pos > end:
                raise FallBack("item cut short, or an element past its item")
            if last < 0:
                raise FallBack("an empty item")
            return pos
        if pos + 8 > end:
            raise FallBack("element header cut short")
        group, elem, vrb, length = _HEAD(data, pos)
        tag = group << 16 | elem
        if tag == ITEM_END and stop is None:
            if vrb != b"\x00\x00" or length:
                raise FallBack("item delimiter with a length")
            if last < 0:
                raise FallBack("an empty item")
            return pos + 8
        if tag <= last or group == 0xFFFE:
            raise FallBack("elements out of order, repeated, or a delimiter")
        if tag == _CHARSET:
            raise FallBack("a character set inside: read_items decodes it")
        last = tag
        vr = vr_of.get(vrb)
        if vr is None:
            raise FallBack("unknown value representation")
        if vrb in long_vrs:
            if pos + 12 > end:
                raise FallBack("element header cut short")
            length = _UL(data, pos + 8)[0]
            value_tell = pos + 12
        else:
            value_tell = pos + 8
        if length == UNDEFINED:
            if vr != "SQ":
                raise FallBack("undefined length outside a sequence")
            pos = skip_items(data, value_tell, depth + 1)
            continue
        pos = value_tell + length
        if pos > end:
            raise FallBack("value cut short")


def sequence_value(ds: Dataset, key: BaseTag) -> Sequence | None:
    """``ds[key].value`` for a sequence element, ``key`` one of ``ds``'s keys: a raw sequence of
    defined length (explicit VR little endian, as read_fast.py and dcmread leave it) is converted
    here as ``Dataset.__getitem__`` converts it (``convert_raw_data_element``: ``convert_SQ``, the
    element stored back under its tag, Pixel Representation passed to the items), its items read
    by :func:`read_defined`; anything else (or a sequence it refuses) by pydicom."""
    raw = ds._dict.get(key)
    if (type(raw) is RawDataElement and raw[1] == "SQ" and raw[5] is False and raw[6] is True
            and type(raw[3]) is bytes and 0 < raw[2] == len(raw[3]) and raw[2] != UNDEFINED
            and raw[4] is not None and plain_pydicom()):
        # Dataset.__getitem__'s character set, then convert_value's and convert_SQ's list of it
        encoding = ds.original_character_set or ds._character_set
        encodings = encoding or [default_encoding]
        if isinstance(encodings, str):
            encodings = [encodings]
        try:
            seq = read_defined(raw[3], raw[4], cast(Encoding, encodings))  # the object itself, as pydicom passes it
        except FallBack:
            return cast(Sequence | None, ds[key].value)
        ds[key] = DataElement(raw[0], "SQ", seq, raw[4], False, already_converted=True)
        ds._set_pixel_representation(ds[key])
        return seq
    return cast(Sequence | None, ds[key].value)


__all__ = ["item_dataset", "new_dataset", "new_sequence", "read_defined", "read_items", "sequence_element",
           "sequence_value", "skip_items"]
