"""Raw scan, the floor of any reader written in Python: DICOM file bytes -> tag, VR, length and
byte offsets of every element, no value decoded (``bench_bytepath_ceiling.py`` times it).

Only the common encodings are scanned, and only well-formed files: a preamble, an Explicit VR
Little Endian file meta group whose group length is right, then Explicit VR Little Endian (native
or encapsulated Pixel Data) or Implicit VR Little Endian without private elements, elements in
ascending order, sequences and items whose lengths add up.  Anything else raises
:class:`~dicom_deid.rawscan.FallBack`.
"""

from __future__ import annotations

import struct
import sys
from dataclasses import dataclass
from pathlib import Path

from pydicom.datadict import dictionary_VR

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dicom_deid.rawscan import (
    ENCAPSULATED,
    EXPLICIT_LITTLE,
    IMPLICIT_LITTLE,
    ITEM,
    ITEM_END,
    LONG_VR_BYTES,
    MAX_DEPTH,
    PIXEL_DATA,
    SEQUENCE_END,
    UNDEFINED,
    VR_OF,
    FallBack,
)

_VR_OF = VR_OF
_LONG = LONG_VR_BYTES
_EXPLICIT_HEAD = struct.Struct("<HH2sH").unpack_from
_IMPLICIT_HEAD = struct.Struct("<HHL").unpack_from
_UL = struct.Struct("<L").unpack_from


class Element:
    """One element as found in the bytes.  ``vr`` is the VR written in the file (None in Implicit
    VR); ``start`` is the offset of its tag, ``value_start`` of its value, ``end`` just past it
    (past the delimiter of an undefined length).  ``items``: a sequence's items.  ``accessed``
    is set when its value is decoded (see rewrite.py)."""

    __slots__ = ("accessed", "end", "items", "length", "start", "tag", "value_start", "vr")

    def __init__(self, tag: int, vr: str | None, start: int, value_start: int, length: int, end: int,
                 items: list[Item] | None) -> None:
        self.tag = tag
        self.vr = vr
        self.start = start
        self.value_start = value_start
        self.length = length
        self.end = end
        self.items = items
        self.accessed = False

    def __repr__(self) -> str:
        return f"Element({self.tag:08X}, {self.vr}, {self.start}..{self.end})"


class Item:
    """One sequence item: its elements, and the byte range of the whole item."""

    __slots__ = ("elements", "end", "start")

    def __init__(self, elements: list[Element], start: int, end: int) -> None:
        self.elements = elements
        self.start = start
        self.end = end


@dataclass(frozen=True, slots=True)
class Scan:
    """A scanned file: ``meta`` is group 0002 (after the preamble), ``body`` the dataset."""

    data: bytes
    meta: list[Element]
    body: list[Element]
    syntax: str
    implicit: bool


def scan_file(data: bytes) -> Scan:
    """Scan a whole Part 10 file; raise :class:`FallBack` for anything the byte path does not take."""
    if len(data) < 144 or data[128:132] != b"DICM":
        raise FallBack("no preamble")
    group, element, vr, length = _EXPLICIT_HEAD(data, 132)
    if (group, element, vr, length) != (2, 0, b"UL", 4):
        raise FallBack("file meta without its group length first")
    meta_end = 144 + _UL(data, 140)[0]
    if meta_end > len(data):
        raise FallBack("file meta longer than the file")
    meta = _scan_explicit(data, 132, meta_end, 0, False)[0]
    if any(e.tag >> 16 != 2 for e in meta):
        raise FallBack("file meta group length wrong")
    if meta_end + 8 <= len(data) and _UL(data, meta_end)[0] & 0xFFFF == 2:
        raise FallBack("file meta group length wrong")  # more group 0002 after the stated length
    syntax_elem = next((e for e in meta if e.tag == 0x00020010), None)
    if syntax_elem is None or syntax_elem.vr != "UI":
        raise FallBack("no transfer syntax")
    syntax = data[syntax_elem.value_start:syntax_elem.end].rstrip(b"\x00 ").decode("latin-1")
    if syntax == IMPLICIT_LITTLE:
        body = _scan_implicit(data, meta_end, len(data), 0, False)[0]
        implicit = True
    elif syntax == EXPLICIT_LITTLE or syntax in ENCAPSULATED:
        if meta_end + 6 <= len(data) and data[meta_end + 4:meta_end + 6] not in _VR_OF:
            raise FallBack("explicit VR syntax, dataset not in explicit VR")
        body = _scan_explicit(data, meta_end, len(data), 0, False)[0]
        implicit = False
    else:
        raise FallBack("transfer syntax not taken by the byte path")
    pixels = body[-1] if body and body[-1].tag == PIXEL_DATA else None
    encapsulated = pixels is not None and pixels.length == UNDEFINED
    if pixels is not None and encapsulated != (syntax in ENCAPSULATED):
        raise FallBack("pixel data encapsulation does not match the transfer syntax")
    return Scan(data, meta, body, syntax, implicit)


def _scan_explicit(data: bytes, pos: int, end: int, depth: int, delimited: bool) -> tuple[list[Element], int]:
    """Elements from ``pos`` to ``end``, and where they stop.  In an undefined-length item
    (``delimited``; ``end`` is then the end of the enclosing value) the scan stops at the item
    delimiter, which the caller checks."""
    out: list[Element] = []
    last = -1
    while pos < end:
        if pos + 8 > end:
            raise FallBack("element header cut short")
        group, elem, vrb, length = _EXPLICIT_HEAD(data, pos)
        tag = group << 16 | elem
        if group == 0xFFFE:
            if tag == ITEM_END and delimited:
                return out, pos
            raise FallBack("item or delimiter tag among elements")
        if tag <= last:
            raise FallBack("elements out of order or repeated")
        last = tag
        vr = _VR_OF.get(vrb)
        if vr is None:
            raise FallBack("unknown value representation")
        if vrb in _LONG:
            if pos + 12 > end:
                raise FallBack("element header cut short")
            length = _UL(data, pos + 8)[0]
            value_start = pos + 12
        else:
            value_start = pos + 8
        items = None
        if length == UNDEFINED:
            if vr == "SQ":
                items, after = _undefined_items(data, value_start, end, depth, False)
            elif tag == PIXEL_DATA and depth == 0 and vr in ("OB", "OW"):
                after = _fragments_end(data, value_start, end)
            else:
                raise FallBack("undefined length outside a sequence or pixel data")
        else:
            after = value_start + length
            if after > end:
                raise FallBack("value cut short")
            if vr == "SQ":
                items = _defined_items(data, value_start, after, depth, False)
        out.append(Element(tag, vr, pos, value_start, length, after, items))
        pos = after
    if delimited:
        raise FallBack("undefined-length item without its delimiter")
    return out, pos


def _scan_implicit(data: bytes, pos: int, end: int, depth: int, delimited: bool) -> tuple[list[Element], int]:
    out: list[Element] = []
    last = -1
    while pos < end:
        if pos + 8 > end:
            raise FallBack("element header cut short")
        group, elem, length = _IMPLICIT_HEAD(data, pos)
        tag = group << 16 | elem
        if group == 0xFFFE:
            if tag == ITEM_END and delimited:
                return out, pos
            raise FallBack("item or delimiter tag among elements")
        if group & 1:
            raise FallBack("private element in implicit VR")  # its VR is not known
        if tag <= last:
            raise FallBack("elements out of order or repeated")
        last = tag
        value_start = pos + 8
        sequence = _dictionary_vr(tag) == "SQ"
        items = None
        if length == UNDEFINED:
            if not sequence:
                raise FallBack("undefined length outside a sequence")
            items, after = _undefined_items(data, value_start, end, depth, True)
        else:
            after = value_start + length
            if after > end:
                raise FallBack("value cut short")
            if sequence:
                items = _defined_items(data, value_start, after, depth, True)
        out.append(Element(tag, None, pos, value_start, length, after, items))
        pos = after
    if delimited:
        raise FallBack("undefined-length item without its delimiter")
    return out, pos


_VR_CACHE: dict[int, str] = {}


def _dictionary_vr(tag: int) -> str:
    """The data dictionary's VR of a public tag ("UN" when unknown); memoised (a pure lookup)."""
    vr = _VR_CACHE.get(tag)
    if vr is None:
        try:
            vr = str(dictionary_VR(tag))
        except KeyError:
            vr = "UN"
        _VR_CACHE[tag] = vr
    return vr


def _item(data: bytes, pos: int, end: int, depth: int, implicit: bool) -> tuple[Item, int]:
    if depth >= MAX_DEPTH:
        raise FallBack("sequences nested too deep")
    if pos + 8 > end:
        raise FallBack("item header cut short")
    tag_group, tag_elem, length = _IMPLICIT_HEAD(data, pos)
    if tag_group << 16 | tag_elem != ITEM:
        raise FallBack("sequence content is not an item")
    scan = _scan_implicit if implicit else _scan_explicit
    if length == UNDEFINED:
        elements, stop = scan(data, pos + 8, end, depth + 1, True)
        if stop + 8 > end or _IMPLICIT_HEAD(data, stop) != (0xFFFE, 0xE00D, 0):
            raise FallBack("item delimiter missing")
        return Item(elements, pos, stop + 8), stop + 8
    after = pos + 8 + length
    if after > end:
        raise FallBack("item cut short")
    elements = scan(data, pos + 8, after, depth + 1, False)[0] if length else []
    return Item(elements, pos, after), after


def _defined_items(data: bytes, pos: int, end: int, depth: int, implicit: bool) -> list[Item]:
    items: list[Item] = []
    while pos < end:
        item, pos = _item(data, pos, end, depth, implicit)
        items.append(item)
    return items


def _undefined_items(data: bytes, pos: int, end: int, depth: int, implicit: bool) -> tuple[list[Item], int]:
    items: list[Item] = []
    while True:
        if pos + 8 > end:
            raise FallBack("sequence delimiter missing")
        group, elem, length = _IMPLICIT_HEAD(data, pos)
        if group << 16 | elem == SEQUENCE_END:
            if length:
                raise FallBack("sequence delimiter with a length")
            return items, pos + 8
        item, pos = _item(data, pos, end, depth, implicit)
        items.append(item)


def _fragments_end(data: bytes, pos: int, end: int) -> int:
    """End of encapsulated Pixel Data (PS3.5 A.4): items, then the sequence delimiter."""
    first = True
    while True:
        if pos + 8 > end:
            raise FallBack("encapsulated pixel data cut short")
        group, elem, length = _IMPLICIT_HEAD(data, pos)
        tag = group << 16 | elem
        if tag == SEQUENCE_END and not first:
            if length:
                raise FallBack("sequence delimiter with a length")
            return pos + 8
        if tag != ITEM or length == UNDEFINED or pos + 8 + length > end:
            raise FallBack("encapsulated pixel data not made of items")
        pos += 8 + length
        first = False


