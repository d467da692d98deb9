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

:func:`scan_head` returns the scan itself (:class:`HeadScan`), which can also give the wanted
values without pydicom's reader (:meth:`HeadScan.values`, a :class:`PlainHeader`): each value
decoded straight from its bytes where its encoding is *plain* (ASCII digits and dots for UI,
IS and DS, two bytes for US, text for CS), as pydicom decodes it (same types where the type
shows: ``pydicom.valuerep.IS``, floats, single value as ``str`` and several as a list).  Any
other encoding raises :class:`NotPlain` when asked for: the caller then uses
:meth:`HeadScan.dataset`, pydicom over the same elements.
"""

from __future__ import annotations

import functools
import re
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from io import BytesIO
from typing import Any

import pydicom
from pydicom import config as pydicom_config
from pydicom import hooks as pydicom_hooks
from pydicom.datadict import dictionary_VM, dictionary_VR, keyword_for_tag
from pydicom.dataset import Dataset
from pydicom.tag import Tag
from pydicom.valuerep import IS

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


class NotPlain(Exception):
    """A wanted value is not plainly encoded (or pydicom is configured to decode differently):
    read it with pydicom (:meth:`HeadScan.dataset`)."""


#: (element start, value start, end, explicit VR or None) of a located element
_Located = tuple[int, int, int, bytes | None]


@dataclass(frozen=True, slots=True)
class HeadScan:
    """Where the wanted top-level elements of a header lie (the last of each, as pydicom keeps)."""

    data: bytes
    start: int  # offset of the dataset (after the File Meta Information)
    implicit: bool
    parts: tuple[tuple[int, int], ...]  # the first element and every wanted one, in file order
    found: dict[int, _Located]
    tags: frozenset[int]

    def dataset(self) -> Dataset:
        """``pydicom.dcmread(stop_before_pixels=True, force=True, specific_tags=...)`` of the
        elements located, as of the whole header."""
        data = self.data
        reduced = data[: self.start] + b"".join(data[a:b] for a, b in self.parts)
        return pydicom.dcmread(BytesIO(reduced), stop_before_pixels=True, force=True, specific_tags=list(self.tags))

    def values(self) -> PlainHeader:
        """The wanted values decoded from their bytes (:class:`PlainHeader`)."""
        return PlainHeader(self)


def scan_head(data: bytes, keywords: Iterable[str], *, in_order: bool = False) -> HeadScan | None:
    """Locate the ``keywords``' top-level elements of ``data`` (the whole file or its first
    bytes) up to the Pixel Data, or None when the scan is not sure.

    ``in_order``: trust the header to be in ascending tag order, as the standard requires, and
    stop at the first element of a group after the last wanted one.  A header out of order may
    then give other values than pydicom's (an element placed after a later group is not seen):
    for hints whose user checks each instance again (the ``auto`` survey: the second phase
    decides from the whole header, ``sampling.SeriesVerdicts.found_clear``)."""
    tags = _tags(tuple(keywords))
    wanted = tags | {_CHARSET}
    try:
        start, implicit = _file_meta(data)
        parts, found = _top_level(data, start, implicit, wanted, max(wanted) >> 16 if in_order else _NO_GROUP)
    except (_Unsure, struct.error):
        return None
    return HeadScan(data, start, implicit, tuple(parts), found, tags)


def read_attributes(data: bytes, keywords: Iterable[str]) -> Dataset | None:
    """``pydicom.dcmread(stop_before_pixels=True, force=True, specific_tags=keywords)`` of
    ``data`` (the whole file or its first bytes), or None when the scan is not sure."""
    scan = scan_head(data, keywords)
    return scan.dataset() if scan is not None else None


class PlainHeader:
    """The wanted values of a :class:`HeadScan`, decoded on first use straight from their bytes.

    Answers ``keyword in header`` and ``header.get(keyword, default)`` as a pydicom dataset
    read with ``specific_tags`` would (an attribute not asked for is absent), for the VRs
    UI, US, IS, DS and CS in their plain encodings; anything else raises :class:`NotPlain`.
    Decoding follows pydicom 3's ``values.convert_*``: UI strips trailing NULs and spaces; CS
    strips trailing padding and splits on backslash (one value: ``str``, several: a list);
    IS gives ``pydicom.valuerep.IS`` (digits only); DS gives float(s) (decimal numbers only);
    an empty IS or DS is None (blank: ""), an empty UI or CS "".  Several values where the data dictionary
    allows only one raise :class:`NotPlain` (pydicom's MultiValue prints differently).
    """

    __slots__ = ("_cache", "_scan")

    def __init__(self, scan: HeadScan) -> None:
        self._scan = scan
        self._cache: dict[int, Any] = {}

    def __contains__(self, keyword: str) -> bool:
        tag = _tag_of(keyword)
        return tag is not None and tag in self._scan.found

    def get(self, keyword: str, default: Any = None) -> Any:
        tag = _tag_of(keyword)
        if tag is None or tag not in self._scan.found:
            return default
        cache = self._cache
        if tag not in cache:
            _check_defaults()
            _, value, end, vr = self._scan.found[tag]
            cache[tag] = _decode(tag, vr, self._scan.data[value:end])
        return cache[tag]


@functools.lru_cache(maxsize=8)
def _tags(keywords: tuple[str, ...]) -> frozenset[int]:
    return frozenset(int(Tag(k)) for k in keywords)


@functools.lru_cache(maxsize=256)
def _tag_of(keyword: str) -> int | None:
    try:
        return int(Tag(keyword))
    except ValueError:
        return None


@functools.lru_cache(maxsize=256)
def _expected(tag: int) -> tuple[str, bool]:
    """(dictionary VR, several values allowed) of a public tag."""
    return dictionary_VR(tag), dictionary_VM(tag) != "1"


_PLAIN_UI = re.compile(rb"[0-9.]*")
_PLAIN_IS = re.compile(r"[0-9]{1,9}")
_PLAIN_DS = re.compile(r" *[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]{1,3})? *")
_US = struct.Struct("<H")


def _decode(tag: int, vr: bytes | None, raw: bytes) -> Any:
    """One value as pydicom decodes it, or NotPlain."""
    try:
        expected, multiple = _expected(tag)
    except KeyError:
        raise NotPlain(f"{tag:08X}: not in the data dictionary") from None
    if vr is not None and vr.decode("latin-1") != expected:
        raise NotPlain(f"{keyword_for_tag(tag)}: VR {vr!r}, the dictionary says {expected}")
    if expected == "US":
        if len(raw) != 2:
            raise NotPlain(f"{keyword_for_tag(tag)}: {len(raw)} bytes")
        return _US.unpack(raw)[0]
    if expected == "UI":
        value = raw.rstrip(b"\0 ")
        if _PLAIN_UI.fullmatch(value) is None:
            raise NotPlain(f"{keyword_for_tag(tag)}: not plain")
        return value.decode("ascii")
    text = raw.decode("latin-1")
    if expected == "CS":
        items = text.rstrip(" \x00").split("\\")
    elif expected == "IS":
        items = text.rstrip(" \x00").split("\\")
        if items == [""]:
            return "" if raw else None  # pydicom: None when empty, "" when blank
        if not all(_PLAIN_IS.fullmatch(item) for item in items):
            raise NotPlain(f"{keyword_for_tag(tag)}: not plain")
    elif expected == "DS":
        items = text.strip().rstrip(" \x00").split("\\")
        if items == [""]:
            return "" if raw else None  # pydicom: None when empty, "" when blank
        if not all(_PLAIN_DS.fullmatch(item) for item in items):
            raise NotPlain(f"{keyword_for_tag(tag)}: not plain")
    else:
        raise NotPlain(f"{keyword_for_tag(tag)}: VR {expected} is not decoded here")
    if len(items) > 1 and not multiple:
        raise NotPlain(f"{keyword_for_tag(tag)}: several values")
    if expected == "IS":
        values: list[Any] = [IS(item) for item in items]
    elif expected == "DS":
        values = [float(item) for item in items]
    else:
        values = items
    return values[0] if len(values) == 1 else values


def _check_defaults() -> None:
    """Plain decoding is pydicom's with its default reading settings only."""
    c = pydicom_config
    if (c.use_DS_decimal or c.use_DS_numpy or c.use_IS_numpy or c.use_none_as_empty_text_VR_value
            or c.data_element_callback is not None or c.settings.reading_validation_mode == c.RAISE
            or pydicom_hooks.hooks.raw_element_value is not pydicom_hooks.raw_element_value
            or pydicom_hooks.hooks.raw_element_vr is not pydicom_hooks.raw_element_vr
            or pydicom_hooks.hooks.raw_element_kwargs):
        raise NotPlain("pydicom is not configured as by default")


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


def _top_level(data: bytes, pos: int, implicit: bool, wanted: frozenset[int],
               last_group: int) -> tuple[list[tuple[int, int]], dict[int, _Located]]:
    """(start, end) of the first element and of every wanted top-level element before the
    pixels (or before the first element of a group after ``last_group``), and where each wanted
    element's value lies (the last one of a tag, as pydicom keeps).

    One loop per encoding, the common case inline (hundreds of elements a header, most of them
    private): defined lengths; an undefined length goes through :func:`_element`."""
    parts: list[tuple[int, int]] = []
    found: dict[int, _Located] = {}
    size, first = len(data), pos
    if implicit:
        unpack = _HEAD.unpack_from
        while True:
            if pos + 12 > size:
                raise _Unsure  # the bytes ended before the pixels: a longer header, or no pixels
            group, element, length = unpack(data, pos)
            if group == 0x7FE0 and element in (0x0008, 0x0009, 0x0010) or group > last_group:
                return parts, found  # Pixel Data (stop_before_pixels), or past the wanted groups
            tag = group << 16 | element
            if length != _UNDEFINED:
                end = pos + 8 + length
                if end > size:
                    raise _Unsure
                if tag in wanted:
                    parts.append((pos, end))
                    found[tag] = (pos, pos + 8, end, None)
                elif pos == first:
                    parts.append((pos, end))
            elif tag in wanted:
                raise _Unsure  # a wanted element of undefined length
            else:
                end = _element(data, pos, implicit, 0)[1]
            pos = end
    # explicit VR: the tag as one little endian number, element << 16 | group (``_swapped``)
    unpack = _EXPLICIT_SWAPPED.unpack_from
    long_length = _LONG.unpack_from
    is_wanted = _swapped(wanted).get
    while True:
        if pos + 12 > size:
            raise _Unsure
        swapped, vr, length = unpack(data, pos)
        if vr in _SHORT_VRS:
            header = 8
        elif vr in _LONG_VRS:
            header = 12
            length = long_length(data, pos + 8)[0]
        else:
            raise _Unsure  # pydicom may take it for an implicit VR switch
        if swapped in _PIXELS_SWAPPED or swapped & 0xFFFF > last_group:
            return parts, found
        if length != _UNDEFINED:
            end = pos + header + length
            if end > size:
                raise _Unsure
            tag = is_wanted(swapped)
            if tag is not None:
                parts.append((pos, end))
                found[tag] = (pos, pos + header, end, vr)
            elif pos == first:
                parts.append((pos, end))
        elif is_wanted(swapped) is not None:
            raise _Unsure
        else:
            end = _element(data, pos, implicit, 0)[1]
        pos = end


#: ``last_group`` of a scan to the pixels: no group is after it.
_NO_GROUP = 0xFFFF
#: An explicit VR element's header with its tag read as one number (element << 16 | group).
_EXPLICIT_SWAPPED = struct.Struct("<I2sH")
#: Pixel Data, Float and Double Float Pixel Data (stop_before_pixels), so read.
_PIXELS_SWAPPED = frozenset({0x00107FE0, 0x00087FE0, 0x00097FE0})


@functools.lru_cache(maxsize=8)
def _swapped(tags: frozenset[int]) -> dict[int, int]:
    """Each tag as :data:`_EXPLICIT_SWAPPED` reads it -> the tag."""
    return {(tag & 0xFFFF) << 16 | tag >> 16: tag for tag in tags}


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


__all__ = ["HeadScan", "NotPlain", "PlainHeader", "read_attributes", "scan_head"]
