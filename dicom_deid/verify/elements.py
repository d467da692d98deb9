"""Reading files leniently and walking their elements: the searchable text of each element,
the bytes to raw-scan (Pixel Data left out, deflated bodies inflated) and PHI-free value hints."""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from io import BytesIO
from typing import Any

import pydicom
from pydicom.datadict import keyword_for_tag
from pydicom.dataset import Dataset

PIXEL_DATA = 0x7FE00010
_DEFLATED = "1.2.840.10008.1.2.1.99"
_STORAGE_ROOT = "1.2.840.10008.5.1.4.1.1."
_NUMERIC_VRS = frozenset({"US", "SS", "UL", "SL", "FL", "FD", "AT", "SV", "UV", "OF", "OD", "OL", "OV"})
_BULK_VRS = frozenset({"OB", "OW", "UN"})


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


def _read_lenient(data: bytes) -> Dataset | None:
    if len(data) < 8:
        return None
    preamble = len(data) >= 132 and data[128:132] == b"DICM"
    if not preamble:
        group = int.from_bytes(data[:2], "little"), int.from_bytes(data[:2], "big")
        if not {0x0002, 0x0008} & set(group):
            return None
    try:
        ds = pydicom.dcmread(BytesIO(data), force=True)
        _ = list(ds.keys())
    except Exception:  # noqa: BLE001 - any unreadable file is scanned as raw bytes instead
        return None
    return ds


def _raw_regions(data: bytes, ds: Dataset | None) -> list[bytes]:
    """The bytes to raw-scan: the file without its Pixel Data value, deflated bodies inflated."""
    if ds is None:
        return [data]
    body, offset = data, 0
    meta = getattr(ds, "file_meta", None)
    if meta is not None and str(meta.get("TransferSyntaxUID", "")) == _DEFLATED:
        offset = 132 + 12 + int(meta.get("FileMetaInformationGroupLength", 0) or 0)
        try:
            body = zlib.decompress(data[offset:], -15)
        except zlib.error:
            return [data]
        regions = [data[:offset]]
    else:
        regions = []
    raw = ds.get_item(PIXEL_DATA)
    tell, length = getattr(raw, "value_tell", None), getattr(raw, "length", None)
    if tell is None or length is None:
        return [*regions, body]
    end = len(body) if length == 0xFFFFFFFF else tell + length
    return [*regions, body[:tell], body[end:]]


def _creator(ds: Dataset, tag: int) -> str | None:
    group, element = tag >> 16, tag & 0xFFFF
    if not group & 1 or element < 0x1000:
        return None
    elem = ds.get((group << 16) | (element >> 8))
    return str(elem.value) if elem is not None and elem.value is not None else None
