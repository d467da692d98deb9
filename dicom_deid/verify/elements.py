"""Reading files leniently and walking their elements: the searchable text of each element,
the bytes to raw-scan (Pixel Data left out, deflated bodies inflated) and PHI-free value hints."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from io import BytesIO
from typing import Any

import pydicom
from pydicom.datadict import keyword_for_tag
from pydicom.dataset import Dataset
from pydicom.errors import BytesLengthException, InvalidDicomError

PIXEL_DATA = 0x7FE00010
_DEFLATED = "1.2.840.10008.1.2.1.99"
_STORAGE_ROOT = "1.2.840.10008.5.1.4.1.1."
_NUMERIC_VRS = frozenset({"US", "SS", "UL", "SL", "FL", "FD", "AT", "SV", "UV", "OF", "OD", "OL", "OV"})
_BULK_VRS = frozenset({"OB", "OW", "UN"})
PARSE_ERRORS: tuple[type[BaseException], ...] = (
    ValueError, KeyError, TypeError, IndexError, NotImplementedError, OverflowError, EOFError, AttributeError,
    RecursionError, struct.error, zlib.error, BytesLengthException, InvalidDicomError, OSError)
"""What pydicom raises on malformed input (unknown VRs, length lies, broken sequences, bad
character sets): verify reports such a file or element and carries on."""


def hint(value: str) -> str:
    """A PHI-free hint of a value: first character and length (``Q…9``)."""
    value = value.strip()
    return f"{value[:1]}…{len(value)}" if value else "(empty)"


def _element_text(elem: Any) -> str | None:
    """Searchable text of an element (None for numbers, pixel data and sequences)."""
    if elem.VR == "SQ" or elem.tag == PIXEL_DATA or elem.VR in _NUMERIC_VRS:
        return None
    value = elem.value
    if value is None:
        return ""
    if isinstance(value, bytes):
        if elem.VR in _BULK_VRS and len(value) > 65536:
            return None
        return value.decode("latin-1")
    if isinstance(value, list | tuple) or type(value).__name__ == "MultiValue":
        return "\\".join(str(v) for v in value)
    return str(value)


def _path_name(elem: Any) -> str:
    tag = int(elem.tag)
    return keyword_for_tag(tag) or f"({tag >> 16:04X},{tag & 0xFFFF:04X})"


def _walk(ds: Dataset, prefix: str = "", seq: tuple[str, ...] = ()) -> Iterator[tuple[str, tuple[str, ...], Any, Dataset]]:
    """(path, sequence keywords, element, parent) for every element, depth first."""
    for elem in ds:
        name = _path_name(elem)
        yield prefix + name, seq, elem, ds
        if elem.VR == "SQ":
            for i, item in enumerate(elem.value or ()):
                yield from _walk(item, f"{prefix}{name}[{i}].", (*seq, name))


@dataclass(frozen=True, slots=True)
class Parsed:
    """A file read leniently: the dataset (None when it is not DICOM or cannot be parsed), how
    many elements pydicom could not convert (left out of the dataset), and why."""

    dataset: Dataset | None
    dropped: int = 0
    error: str = ""
    pixel_span: tuple[int, int] | None = None  # (value offset, length) of top-level Pixel Data


def _read_lenient(data: bytes) -> Dataset | None:
    return read_parsed(data).dataset


def read_parsed(data: bytes) -> Parsed:
    """Parse ``data`` and convert every element now, so later walks cannot fail: an element
    pydicom cannot convert (an unknown VR, a length lie, a broken item) is left out and counted;
    a file that cannot be parsed at all has no dataset and the name of the error."""
    if len(data) < 8:
        return Parsed(None)
    preamble = len(data) >= 132 and data[128:132] == b"DICM"
    if not preamble:
        group = int.from_bytes(data[:2], "little"), int.from_bytes(data[:2], "big")
        if not {0x0002, 0x0008} & set(group):
            return Parsed(None)
    try:
        ds = pydicom.dcmread(BytesIO(data), force=True)
        _ = list(ds.keys())
    except PARSE_ERRORS as exc:
        return Parsed(None, error=type(exc).__name__)
    try:
        raw = ds.get_item(PIXEL_DATA) if PIXEL_DATA in ds else None
    except PARSE_ERRORS:  # Pixel Data under an unknown VR: converting it fails; its span is unknown
        raw = None
    tell, length = getattr(raw, "value_tell", None), getattr(raw, "length", None)
    span = (int(tell), int(length)) if tell is not None and length is not None else None
    first: list[str] = []
    dropped = _convert_all(ds, first)
    meta = getattr(ds, "file_meta", None)
    if meta is not None:
        dropped += _convert_all(meta, first)
    return Parsed(ds, dropped, first[0] if first else "", span)


def _convert_all(ds: Dataset, errors: list[str], depth: int = 0) -> int:
    """Convert every element of ``ds`` (items too); delete those that fail. Returns how many."""
    dropped = 0
    for tag in list(ds.keys()):
        try:
            elem = ds[tag]
            items = list(elem.value or ()) if elem.VR == "SQ" else []
        except PARSE_ERRORS as exc:
            errors.append(type(exc).__name__)
            del ds[tag]
            dropped += 1
            continue
        for item in items:
            if depth > 64:  # deeper nesting than any IOD: not walked (its bytes are still raw-scanned)
                del ds[tag]
                dropped += 1
                errors.append("nesting deeper than 64 levels")
                break
            dropped += _convert_all(item, errors, depth + 1)
    return dropped


def _raw_regions(data: bytes, parsed: Parsed | None) -> list[bytes]:
    """The bytes to raw-scan: the file without its Pixel Data value, deflated bodies inflated."""
    ds = parsed.dataset if parsed is not None else None
    if parsed is None or ds is None:
        return [data]
    if len(data) >= 132 and data[128:132] == b"DICM":  # the preamble on its own: "DICM" is not text
        return [data[:128], *_raw_regions_after(data, ds, parsed)]
    return _raw_regions_after(data, ds, parsed)


def _raw_regions_after(data: bytes, ds: Dataset, parsed: Parsed) -> list[bytes]:
    """The regions after the preamble (byte offsets as pydicom reported them, from the file start)."""
    body, offset = data, 0
    magic = 132 if len(data) >= 132 and data[128:132] == b"DICM" else 0
    meta = getattr(ds, "file_meta", None)
    if meta is not None and str(meta.get("TransferSyntaxUID", "")) == _DEFLATED:
        offset = 132 + 12 + int(meta.get("FileMetaInformationGroupLength", 0) or 0)
        try:
            body = zlib.decompress(data[offset:], -15)
        except zlib.error:
            return [data[magic:]]
        regions = [data[magic:offset]]
    else:
        regions = []
    start = magic if not regions else 0
    if parsed.pixel_span is None:
        return [*regions, body[start:]]
    tell, length = parsed.pixel_span
    end = len(body) if length == 0xFFFFFFFF else tell + length
    return [*regions, body[start:tell], body[end:]]


def _creator(ds: Dataset, tag: int) -> str | None:
    group, element = tag >> 16, tag & 0xFFFF
    if not group & 1 or element < 0x1000:
        return None
    elem = ds.get((group << 16) | (element >> 8))
    return str(elem.value) if elem is not None and elem.value is not None else None
