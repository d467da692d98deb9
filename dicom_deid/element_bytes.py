"""Element bytes: the simple elements a de-identification creates, encoded as pydicom's writer does.

The byte path (bytepath.py) builds and encodes only the elements that change: pseudonyms,
remapped UIDs, emptied values, the de-identification method attributes and the file meta
group.  Most are short ASCII strings, UIDs or small numbers; encoding them here costs a
fraction of ``pydicom.filewriter.write_data_element`` (a buffer, a writer lookup and a charset
conversion per element).  Anything outside the plain cases below returns None and the caller
uses pydicom's writer for that element: person names read from a file or not ASCII, decimal and
integer strings, binary values other than OB bytes, non-ASCII text, ISO 2022 character sets,
ambiguous VRs, undefined lengths, values over 64 KiB.  Inside a sequence item the scrub rebuilt,
a raw (undecoded) element is decoded and encoded as pydicom does once per (tag, VR, value,
character sets) and its bytes reused (in the run's :class:`EncodeMemo`, ``Engine.encode_memo``,
where the caller passes one), and an element not taken here is written by pydicom's element
writer on its own (:func:`encode_item`), so the sequence itself is still encoded here.

Explicit VR Little Endian only.  ``tests/test_bytepath_identity.py`` compares every output of
the byte path with the pydicom path's, which never calls this module.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from typing import cast

from pydicom.charset import convert_encodings, default_encoding, python_encoding
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.errors import BytesLengthException
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_data_element
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence as DicomSequence
from pydicom.tag import BaseTag
from pydicom.uid import UID
from pydicom.valuerep import PersonName

from dicom_deid.memo import BoundedMemo
from dicom_deid.rawscan import VR_OF
from dicom_deid.read import ELEMENT_ERRORS

#: write_string / write_DA / write_DT / write_TM / write_UI: str values, default encoding.
_STRING_VRS = frozenset({"AE", "AS", "CS", "DA", "DT", "TM", "UI"})
#: write_text: str values in the dataset's character set.
_TEXT_VRS = frozenset({"LO", "LT", "SH", "ST", "UC", "UT"})
_NUMBER_FORMATS = {"US": "H", "UL": "L"}
_STANDARD_VRS = frozenset(VR_OF.values())
_LONG = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"})
#: Character sets in which an ASCII string encodes as its ASCII bytes with no escape sequence.
_ASCII_SAFE = frozenset({default_encoding, *(python_encoding[term] for term in (
    "", "ISO_IR 6", "ISO_IR 100", "ISO_IR 101", "ISO_IR 109", "ISO_IR 110", "ISO_IR 126", "ISO_IR 127",
    "ISO_IR 138", "ISO_IR 144", "ISO_IR 148", "ISO_IR 192"))})

Encodings = tuple[str, ...]
"""The character sets pydicom's writer passes to every element inside a dataset's sequences:
``convert_encodings`` of the dataset's Specific Character Set (pydicom's default without one)."""


_HEAD_SHORT = struct.Struct("<HH2sH").pack
_HEAD_LONG = struct.Struct("<HH2sHL").pack
_ITEM = struct.Struct("<HHL").pack
_CHARSET = 0x00080005
_PIXEL_DATA = 0x7FE00010


def ascii_text_ok(encodings: str | Sequence[str] | None) -> bool:
    """True when text in ``encodings`` (a Specific Character Set value) encodes ASCII as itself."""
    names = convert_encodings(encodings if isinstance(encodings, str) else list(encodings or [default_encoding]))
    return len(names) == 1 and names[0] in _ASCII_SAFE


#: value types that are no ``io.BufferedIOBase`` (``DataElement.is_buffered`` asks an ABC: slow)
_UNBUFFERED = frozenset({str, bytes, int, float, type(None), UID, PersonName, MultiValue, DicomSequence, list})


def encode_element(elem: DataElement, text_ok: bool, encodings: Encodings | None = None,
                   memo: EncodeMemo | None = None) -> bytes | None:
    """Tag, VR, length and value of ``elem`` as pydicom writes it (Explicit VR Little Endian);
    None where this module does not take it.  ``text_ok``: see :func:`ascii_text_ok`.
    ``encodings``: the character sets pydicom's writer uses inside the dataset's sequences
    (:func:`item_encodings`); with them, an element of a sequence item that this module does not
    encode itself is written by pydicom's element writer alone, not the whole sequence.
    ``memo`` (with ``encodings``): the run's memo of the raw elements of new items (none: each is
    decoded and encoded)."""
    if elem.is_undefined_length or (type(elem._value) not in _UNBUFFERED and elem.is_buffered):
        return None  # encapsulated pixel data, a delimited sequence, a value read from a file
    vr = elem.VR
    if vr == "SQ":
        return _encode_sequence(elem, text_ok, encodings, memo)
    value = _encode_value(vr, elem.value, text_ok)
    if value is None:
        return None
    tag = elem.tag
    if vr in _LONG:
        return _HEAD_LONG(tag >> 16, tag & 0xFFFF, vr.encode("ascii"), 0, len(value)) + value
    if len(value) > 0xFFFF:
        return None  # pydicom writes it as UN, with a warning
    return _HEAD_SHORT(tag >> 16, tag & 0xFFFF, vr.encode("ascii"), len(value)) + value


def _encode_value(vr: str, value: object, text_ok: bool) -> bytes | None:
    if vr not in _STANDARD_VRS:
        return None  # pydicom's writer refuses it (unknown or ambiguous VR) and names the element
    if value is None or value == "":
        return b""  # an empty element: pydicom writes no value
    if vr in _STRING_VRS or (vr in _TEXT_VRS and text_ok):
        text = _joined(value)
        if text is None or not text.isascii():
            return None
        if len(text) % 2:
            text += "\x00" if vr == "UI" else " "
        return text.encode("ascii")
    if vr == "PN" and text_ok and type(value) is PersonName:
        # one name (several are a MultiValue): write_PN writes PersonName.encode, which is the
        # name's original bytes or its components encoded; for ASCII text in an ASCII-safe
        # character set both are the text itself, unless original bytes read differ from it
        text = str(value)
        if not text.isascii() or value.original_string not in (None, text.encode("ascii")):
            return None
        return (text + " " if len(text) % 2 else text).encode("ascii")
    if vr == "OB" and type(value) is bytes:  # write_OBvalue: the bytes, a zero byte to even length
        return value + b"\x00" if len(value) % 2 else value
    fmt = _NUMBER_FORMATS.get(vr)
    if fmt is not None:
        values = list(value) if isinstance(value, MultiValue | list) else [value]
        if not values or not all(type(v) is int for v in values):
            return None
        try:
            return struct.pack(f"<{len(values)}{fmt}", *values)
        except struct.error:
            return None  # pydicom's error, from pydicom's writer
    return None


def _joined(value: object) -> str | None:
    """The value as pydicom's string writers join it (backslash between values); None if not text."""
    if isinstance(value, str):
        return value
    if isinstance(value, MultiValue | list | tuple):
        parts: Iterable[object] = value
        if all(isinstance(v, str) for v in parts):
            return "\\".join(value)
    return None


def _encode_sequence(elem: DataElement, text_ok: bool, encodings: Encodings | None,
                     memo: EncodeMemo | None) -> bytes | None:
    """A sequence rebuilt by the scrub: defined lengths, items of decoded elements only (pydicom
    decodes every raw element of a new item before writing it, so those go its way)."""
    parts: list[bytes] = []
    for item in elem.value or ():
        if not isinstance(item, Dataset) or getattr(item, "is_undefined_length_sequence_item", False):
            return None
        body = encode_item(item, text_ok, encodings, memo)
        if body is None:
            return None
        parts.append(_ITEM(0xFFFE, 0xE000, len(body)))
        parts.append(body)
    value = b"".join(parts)
    tag = elem.tag
    return _HEAD_LONG(tag >> 16, tag & 0xFFFF, b"SQ", 0, len(value)) + value


def encode_item(item: Dataset, text_ok: bool, encodings: Encodings | None = None,
                memo: EncodeMemo | None = None) -> bytes | None:
    """The elements of a sequence item built by the scrub (or of a file meta group), in tag order,
    as ``pydicom.filewriter.write_dataset`` writes them; None unless this module takes every one.

    Like pydicom, a dataset that was not read in Explicit VR Little Endian with its own character
    set (a new item) has its raw elements decoded first (``item[tag]``), then encoded; one read
    that way has them written as read.  With ``encodings`` (inside a sequence), a raw element of a
    new item is encoded once per (tag, VR, value, character sets) and its bytes reused from
    ``memo``, the run's, where given (:func:`_decoded_raw`), and an element this module does not
    encode is written by pydicom's element writer (:func:`_pydicom_element`)."""
    elements = item._dict
    if _CHARSET in elements:
        return None  # an item's own character set: pydicom's way
    # without its own, an item's character set (``item._character_set``) is its parent's
    parents = item._parent_encoding
    decode = item.original_encoding != (False, True) or item.original_character_set != parents
    charset: object = None
    out: list[bytes] = []
    for tag, elem in sorted((int(key), value) for key, value in elements.items()):
        if tag & 0xFFFF == 0 and tag >> 16 > 6:
            continue  # retired group length: pydicom never writes it
        if type(elem) is RawDataElement:
            if not decode:
                chunk = _raw_bytes(tag, elem)
                if chunk is None:
                    return None
                out.append(chunk)
                continue
            if encodings is not None and elem.VR in _MEMO_VRS and type(elem.value) is bytes:
                if charset is None:
                    charset = _hashable(item.original_character_set or parents)  # as item[tag]
                chunk = _decoded_raw(item, tag, elem, charset, text_ok, encodings, memo)
                if chunk is None:
                    return None
                out.append(chunk)
                continue
        chunk = _decode_and_encode(item, tag, elem, text_ok, encodings, memo)
        if chunk is None:
            return None
        out.append(chunk)
    return b"".join(out)


def _decode_and_encode(item: Dataset, tag: int, elem: object, text_ok: bool,
                       encodings: Encodings | None, memo: EncodeMemo | None) -> bytes | None:
    """What pydicom writes for element ``tag`` of ``item`` (``elem``, as stored): a raw one decoded
    as pydicom's writer decodes it (``item[tag]``), then encoded by this module, else (inside a
    sequence, ``encodings`` given) by pydicom's element writer alone; None where neither takes it."""
    if type(elem) is RawDataElement:
        try:
            elem = item[tag]
        except ELEMENT_ERRORS:
            return None  # a corrupt element: pydicom's writer fails on it and names it
    if type(elem) is not DataElement:
        return None
    chunk = encode_element(elem, text_ok, encodings, memo)
    if chunk is None and encodings is not None:
        chunk = _pydicom_element(elem, encodings)
    return chunk


def item_encodings(specific_character_set: object) -> Encodings:
    """What ``write_data_element`` hands down to the elements of a top-level sequence whose
    dataset has ``specific_character_set`` (its value; None without one): write_sequence_item ->
    write_dataset -> ``dataset.get("SpecificCharacterSet", parent_encoding)``, and items never
    carry their own here (:func:`encode_item` leaves those to pydicom)."""
    value = specific_character_set or [default_encoding]
    names = convert_encodings(value if isinstance(value, str) else [str(v) for v in cast(Iterable[object], value)])
    return tuple(names)


#: Explicit VRs whose raw value pydicom decodes by (tag, VR, bytes, character set) alone.  Not
#: SQ (items read from the bytes), not UN (pydicom may look the VR up, for a private tag in
#: the item's creators), no ambiguous VR (explicit VRs never are).
_MEMO_VRS = frozenset(VR_OF.values()) - {"SQ", "UN"}
_MEMO_MAX_VALUE = 1024  # longer values are encoded each time, not remembered
_MEMO_MAX_ENTRIES = 65536
EncodeKey = tuple[int, str | None, bytes, object, Encodings, bool]
"""(tag, VR, value bytes, decoding character set, writing character sets, text_ok)."""


class EncodeMemo(BoundedMemo[EncodeKey, bytes]):
    """One run's memo of the raw elements of new sequence items (issue 16): :data:`EncodeKey` ->
    the bytes pydicom's writer writes for the decoded element (:func:`_decoded_raw`).  A pure
    function of the key (the values are pydicom's own, computed on the first occurrence), so it
    changes no output; owned by the engine of one process (``Engine.encode_memo``), never module
    state, and bounded: at ``limit`` entries it starts again empty."""

    __slots__ = ()

    def __init__(self, limit: int = _MEMO_MAX_ENTRIES) -> None:
        super().__init__(limit)


def _hashable(value: str | Sequence[str]) -> object:
    return value if isinstance(value, str) else tuple(value)


def _decoded_raw(item: Dataset, tag: int, raw: RawDataElement, charset: object, text_ok: bool,
                 encodings: Encodings, memo: EncodeMemo | None) -> bytes | None:
    """What pydicom writes for raw element ``raw`` of a new item: decoded (``item[tag]``), then
    encoded (this module, else pydicom's element writer); remembered in ``memo`` (the run's; none:
    not remembered) by everything it depends on."""
    if memo is None:
        return _decode_and_encode(item, tag, raw, text_ok, encodings, None)
    value: bytes = raw.value  # type: ignore[assignment]
    key = (tag, raw.VR, value, charset, encodings, text_ok)
    chunk = memo.values.get(key)
    if chunk is not None:
        return chunk
    chunk = _decode_and_encode(item, tag, raw, text_ok, encodings, memo)
    if chunk is not None and len(value) <= _MEMO_MAX_VALUE:
        memo.remember(key, chunk)
    return chunk


#: What pydicom's element writer raises on a value it cannot encode: then the whole element is
#: left to it (it fails again there and names the element).
_WRITE_ERRORS = (NotImplementedError, ValueError, TypeError, UnicodeError, struct.error, OverflowError,
                 LookupError, AttributeError, OSError, BytesLengthException)


def _pydicom_element(elem: DataElement, encodings: Encodings) -> bytes | None:
    """``write_data_element(fp, elem, encodings)`` on its own: what ``write_dataset`` writes for a
    non-sequence element of an item.  None for a sequence, Pixel Data, an undefined length or an
    ambiguous VR, which ``write_dataset`` first corrects with the item's ancestors."""
    if (elem.VR not in _STANDARD_VRS or elem.VR == "SQ" or int(elem.tag) == _PIXEL_DATA or elem.is_undefined_length
            or elem.is_buffered):
        return None
    fp = DicomBytesIO()
    fp.is_little_endian, fp.is_implicit_VR = True, False
    try:
        write_data_element(fp, elem, list(encodings))
    except _WRITE_ERRORS:
        return None
    return fp.getvalue()


def _raw_bytes(tag: int, elem: RawDataElement) -> bytes | None:
    """A raw element as ``write_data_element`` writes one: its VR as read and its value bytes."""
    vr, value = elem.VR, elem.value
    if vr is None or len(vr) != 2 or type(value) is not bytes or elem.length == 0xFFFFFFFF:
        return None
    if vr in _LONG:
        return _HEAD_LONG(tag >> 16, tag & 0xFFFF, vr.encode("ascii"), 0, len(value)) + value
    if len(value) > 0xFFFF:
        return None
    return _HEAD_SHORT(tag >> 16, tag & 0xFFFF, vr.encode("ascii"), len(value)) + value


def encode_meta(meta: Dataset) -> bytes | None:
    """The file meta group as ``write_file_meta_info(enforce_standard=True)`` writes it: its group
    length first, then the other elements in tag order.  None where pydicom would add an element
    (version, implementation), refuse the group (a required element missing or empty, another
    group), or where an element is not one this module takes."""
    elements = meta._dict
    if any(tag >> 16 != 2 for tag in elements):
        return None
    for tag in _META_REQUIRED:
        elem = elements.get(tag)  # type: ignore[call-overload]
        if elem is None or (elem.length == 0 if type(elem) is RawDataElement else elem.is_empty):
            return None
    group_length = elements.pop(_GROUP_LENGTH, None)  # pydicom writes it first, with the new length
    try:
        body = encode_item(meta, True)
    finally:
        if group_length is not None:
            elements[_GROUP_LENGTH] = group_length
    if body is None:
        return None
    return _HEAD_SHORT(2, 0, b"UL", 4) + struct.pack("<L", len(body)) + body


#: Present and not empty, or pydicom's write_file_meta_info adds (0002,0001), (0002,0012),
#: (0002,0013) or refuses the file meta for (0002,0002), (0002,0003), (0002,0010).
_META_REQUIRED = (0x00020001, 0x00020002, 0x00020003, 0x00020010, 0x00020012, 0x00020013)
_GROUP_LENGTH = BaseTag(0x00020000)


__all__ = ["EncodeMemo", "Encodings", "ascii_text_ok", "encode_element", "encode_item", "encode_meta", "item_encodings"]
