"""Read a few top-level attributes of a header without parsing the rest (the ``auto`` survey).

pydicom parses every element of a header in Python even when ``specific_tags`` names a few; a
GE or Siemens header holds hundreds of (mostly private) elements.  :func:`read_attributes`
only *locates* element boundaries (tag, VR, length) up to the Pixel Data, copies the bytes of
the wanted top-level elements (plus Specific Character Set and the dataset's first element,
from which pydicom infers the encoding) after the unchanged preamble and File Meta
Information, and hands that short stream to ``pydicom.dcmread`` with the same arguments.  So
every value is decoded by pydicom exactly as from the whole file.

Anything it does not know for certain (no ``DICM`` preamble, Big Endian, deflated or private
syntaxes, an unknown VR, undefined lengths other than sequences, a header longer than the bytes
given) returns None: the caller reads the file the ordinary way.
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Iterable
from io import BytesIO

import pydicom
from pydicom.datadict import dictionary_VR
from pydicom.dataset import Dataset
from pydicom.tag import Tag

_IMPLICIT_LE = "1.2.840.10008.1.2"
_NOT_LE = frozenset({"1.2.840.10008.1.2.2", "1.2.840.10008.1.2.1.99"})  # big endian, deflated
_LONG_VRS = frozenset({b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"})
_SHORT_VRS = frozenset({b"AE", b"AS", b"AT", b"CS", b"DA", b"DS", b"DT", b"FD", b"FL", b"IS", b"LO", b"LT", b"PN",
                        b"SH", b"SL", b"SS", b"ST", b"TM", b"UI", b"UL", b"US"})  # fmt: skip
_CHARSET = 0x00080005
_ITEM, _ITEM_END, _SEQ_END = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD
_UNDEFINED = 0xFFFFFFFF
_HEAD = struct.Struct("<HHI")
_TAG = struct.Struct("<HH")
_EXPLICIT = struct.Struct("<HH2sH")
_LONG = struct.Struct("<I")
_MAX_DEPTH = 32


class _Unsure(Exception):
    """The scan cannot tell for certain: read the file the ordinary way."""


def read_attributes(data: bytes, keywords: Iterable[str]) -> Dataset | None:
    """``pydicom.dcmread(stop_before_pixels=True, force=True, specific_tags=keywords)`` of
    ``data`` (the whole file or its first bytes), or None when the scan is not sure."""
    tags = _tags(tuple(keywords))
    try:
        start, implicit = _file_meta(data)
        parts = _top_level(data, start, implicit, tags | {_CHARSET})
    except (_Unsure, struct.error):
        return None
    reduced = data[:start] + b"".join(data[a:b] for a, b in parts)
    return pydicom.dcmread(BytesIO(reduced), stop_before_pixels=True, force=True, specific_tags=list(tags))


@functools.lru_cache(maxsize=8)
def _tags(keywords: tuple[str, ...]) -> frozenset[int]:
    return frozenset(int(Tag(k)) for k in keywords)


def _file_meta(data: bytes) -> tuple[int, bool]:
    """(offset of the dataset, implicit VR) after the preamble and group 0002."""
    if data[128:132] != b"DICM":
        raise _Unsure
    pos, syntax = 132, None
    while True:
        if pos + 8 > len(data):
            raise _Unsure
        group, element, vr, length = _EXPLICIT.unpack_from(data, pos)
        if group != 0x0002:
            break
        if vr in _LONG_VRS:
            (length,) = _LONG.unpack_from(data, pos + 8)
            pos += 12
        elif vr in _SHORT_VRS:
            pos += 8
        else:
            raise _Unsure
        if length == _UNDEFINED or pos + length > len(data):
            raise _Unsure
        if element == 0x0010:
            syntax = data[pos : pos + length].rstrip(b"\0 ").decode("ascii", "replace")
        pos += length
    if syntax is None or syntax in _NOT_LE or not syntax.startswith("1.2.840.10008.1.2"):
        raise _Unsure  # no syntax, big endian, deflated, private: pydicom guesses or inflates
    implicit = syntax == _IMPLICIT_LE
    _check_encoding(data, pos, implicit)
    return pos, implicit


def _check_encoding(data: bytes, pos: int, implicit: bool) -> None:
    """The first element must be encoded as the syntax says (pydicom switches otherwise), and
    no Command Set (group 0000, which pydicom reads apart)."""
    if pos + 8 > len(data) or data[pos : pos + 2] == b"\0\0":
        raise _Unsure
    looks_implicit = not (0x40 < data[pos + 4] < 0x5B and 0x40 < data[pos + 5] < 0x5B)  # as pydicom tells
    if looks_implicit != implicit:
        raise _Unsure


def _top_level(data: bytes, pos: int, implicit: bool, wanted: frozenset[int]) -> list[tuple[int, int]]:
    """(start, end) of the first element and of every wanted top-level element before the pixels."""
    parts: list[tuple[int, int]] = []
    size, first = len(data), True
    unpack = _HEAD.unpack_from if implicit else _EXPLICIT.unpack_from
    long_vrs, short_vrs = _LONG_VRS, _SHORT_VRS
    while True:  # the common case inline (hundreds of elements a header): defined lengths
        if pos + 12 > size:
            raise _Unsure  # the bytes ended before the pixels: a longer header, or no pixels
        if implicit:
            group, element, length = unpack(data, pos)
            value = pos + 8
        else:
            group, element, vr, length = unpack(data, pos)
            if vr in long_vrs:
                length = _LONG.unpack_from(data, pos + 8)[0]
                value = pos + 12
            elif vr in short_vrs:
                value = pos + 8
            else:
                raise _Unsure  # pydicom may take it for an implicit VR switch
        if group == 0x7FE0 and element in (0x0008, 0x0009, 0x0010):
            return parts  # Pixel Data (stop_before_pixels)
        tag = group << 16 | element
        if length != _UNDEFINED:
            end = value + length
            if end > size:
                raise _Unsure
            if first or tag in wanted:
                parts.append((pos, end))
        elif tag in wanted:
            raise _Unsure  # a wanted element of undefined length
        else:
            end = _element(data, pos, implicit, 0)[1]
        first = False
        pos = end


def _element(data: bytes, pos: int, implicit: bool, depth: int) -> tuple[int, int, bool]:
    """(tag, end offset, undefined length) of the element at ``pos``."""
    if pos + 8 > len(data):
        raise _Unsure
    if implicit:
        group, element, length = _HEAD.unpack_from(data, pos)
        vr, value = None, pos + 8
    else:
        group, element, vr, length = _EXPLICIT.unpack_from(data, pos)
        if vr in _LONG_VRS:
            (length,) = _LONG.unpack_from(data, pos + 8)
            value = pos + 12
        elif vr in _SHORT_VRS:
            value = pos + 8
        else:
            raise _Unsure  # pydicom may take it for an implicit VR switch
    tag = group << 16 | element
    if length != _UNDEFINED:
        if value + length > len(data):
            raise _Unsure
        return tag, value + length, False
    if vr not in (None, b"SQ", b"UN") or vr is None and _known_not_sequence(tag):
        raise _Unsure  # encapsulated data pydicom reads to a delimiter, not a sequence of items
    return tag, _sequence_end(data, value, implicit, depth + 1), True


def _sequence_end(data: bytes, pos: int, implicit: bool, depth: int) -> int:
    """End of an undefined-length sequence starting at ``pos`` (its items)."""
    if depth > _MAX_DEPTH:
        raise _Unsure
    while True:
        if pos + 8 > len(data):
            raise _Unsure
        group, element, length = _HEAD.unpack_from(data, pos)
        tag = group << 16 | element
        pos += 8
        if tag == _SEQ_END:
            return pos
        if tag != _ITEM:
            raise _Unsure  # not a sequence (implicit VR data of undefined length)
        if length != _UNDEFINED:
            pos += length
            continue
        while True:  # an item of undefined length: its elements up to the item delimiter
            if pos + 8 > len(data):
                raise _Unsure
            if _HEAD.unpack_from(data, pos)[:2] == (0xFFFE, 0xE00D):
                pos += 8
                break
            pos = _element(data, pos, implicit, depth)[1]


def _known_not_sequence(tag: int) -> bool:
    try:
        return dictionary_VR(tag) != "SQ"
    except KeyError:
        return False


__all__ = ["read_attributes"]
