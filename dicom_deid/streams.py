"""Scrub the metadata carried inside compressed pixel streams.

A JPEG frame can hold text that no DICOM attribute shows: comment segments (COM), EXIF and XMP
(APP1, with camera serial numbers, dates and GPS positions in visible-light photographs), SPIFF
directory entries (titles, time stamps, contact information, thumbnails) and JFIF thumbnails; a
JPEG 2000 codestream can hold comment segments (COM).  These are removed from every frame; the
compressed image data itself is never touched, so the decoded pixels are bit-identical.

Kept, because decoders read them: APP0 JFIF (without its thumbnail), APP2 ICC profiles, APP14
Adobe (the colour transform flag), the SPIFF header and its colour/orientation/end entries.

Pure functions on bytes; :func:`scrub_pixel_stream` applies them to a dataset's encapsulated
Pixel Data.  JPEG XL, MPEG and HEVC streams are passed through unchanged (a known gap).
"""

from __future__ import annotations

import copy
import struct
from collections import Counter
from dataclasses import dataclass

from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.encaps import encapsulate, encapsulate_extended, generate_frames
from pydicom.uid import UID, JPEG2000TransferSyntaxes, JPEGLSTransferSyntaxes

from dicom_deid.errors import PixelStreamError

_JPEG_SYNTAXES = frozenset(
    {UID("1.2.840.10008.1.2.4.50"), UID("1.2.840.10008.1.2.4.51"), UID("1.2.840.10008.1.2.4.57"),
     UID("1.2.840.10008.1.2.4.70"), *JPEGLSTransferSyntaxes}
)
# JPEG 2000 Part 1 and High-Throughput JPEG 2000 (the same codestream syntax)
_J2K_SYNTAXES = frozenset({*JPEG2000TransferSyntaxes, UID("1.2.840.10008.1.2.4.201"),
                           UID("1.2.840.10008.1.2.4.202"), UID("1.2.840.10008.1.2.4.203")})

_STREAM_SYNTAXES = _JPEG_SYNTAXES | _J2K_SYNTAXES
#: Pixel Data, Extended Offset Table and its Lengths: what scrub_pixel_stream sets
_REWRITTEN = (0x7FE00010, 0x7FE00001, 0x7FE00002)

_SOI, _SOS, _EOI = 0xD8, 0xDA, 0xD9
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})  # TEM, RSTn: no length field
_SPIFF_KEPT_ENTRIES = frozenset({1, 2, 3, 4})  # end of directory, transfer, registration, orientation


@dataclass(frozen=True)
class StreamScrub:
    """What was removed from one instance's pixel stream: segment name -> count."""

    removed: dict[str, int]

    @property
    def names(self) -> list[str]:
        return [f"{name} x{count}" if count > 1 else name for name, count in sorted(self.removed.items())]


def _jpeg_segment_kept(marker: int, body: bytes) -> tuple[bool, bytes]:
    """Whether an APPn/COM segment stays, and the body it stays with."""
    if marker == 0xFE:
        return False, body
    n = marker - 0xE0
    if n == 0 and body[:5] == b"JFIF\x00" and len(body) >= 14:
        return True, body[:12] + b"\x00\x00"  # the JFIF header, thumbnail dropped
    if n == 2 and body[:12] == b"ICC_PROFILE\x00":
        return True, body
    if n == 14 and body[:5] == b"Adobe":
        return True, body
    if n == 8 and (body[:6] == b"SPIFF\x00" or
                   (len(body) >= 4 and int.from_bytes(body[:4], "big") in _SPIFF_KEPT_ENTRIES)):
        return True, body
    return False, body


def _name(marker: int) -> str:
    return "COM" if marker == 0xFE else f"APP{marker - 0xE0}"


def scrub_jpeg(frame: bytes) -> tuple[bytes, Counter[str]]:
    """``frame`` (an ISO 10918 or JPEG-LS stream) without its metadata segments.

    Only segments before the first start of scan are examined (the only place they may stand
    before image data); everything from the scan on is copied unchanged."""
    removed: Counter[str] = Counter()
    if frame[:2] != b"\xff\xd8":
        return frame, removed
    out = bytearray(frame[:2])
    i = 2
    while i + 4 <= len(frame):
        if frame[i] != 0xFF:
            raise PixelStreamError(f"JPEG stream: no marker at byte {i} before the scan")
        marker = frame[i + 1]
        if marker == 0xFF:  # fill byte
            out.append(0xFF)
            i += 1
            continue
        if marker in _STANDALONE or marker == _SOI:
            out += frame[i:i + 2]
            i += 2
            continue
        if marker in (_SOS, _EOI):
            break
        length = int.from_bytes(frame[i + 2:i + 4], "big")
        if length < 2 or i + 2 + length > len(frame):
            raise PixelStreamError(f"JPEG stream: segment {marker:02X} of length {length} runs past the frame")
        body = frame[i + 4:i + 2 + length]
        if 0xE0 <= marker <= 0xEF or marker == 0xFE:
            keep, kept_body = _jpeg_segment_kept(marker, body)
            if not keep:
                removed[_name(marker)] += 1
                i += 2 + length
                continue
            if kept_body != body:
                removed[f"{_name(marker)} thumbnail"] += 1
                body = kept_body
            out += bytes((0xFF, marker)) + (len(body) + 2).to_bytes(2, "big") + body
        else:
            out += frame[i:i + 2 + length]
        i += 2 + length
    if not removed:
        return frame, removed
    return bytes(out) + frame[i:], removed


def scrub_j2k(frame: bytes) -> tuple[bytes, Counter[str]]:
    """``frame`` (a JPEG 2000 codestream) without the comment segments of its main header.

    A comment in a tile-part header would change that tile-part's length field; such a frame
    raises :class:`PixelStreamError` (the instance is quarantined) rather than being written."""
    removed: Counter[str] = Counter()
    if frame[:4] != b"\xff\x4f\xff\x51":  # SOC SIZ: a raw codestream (DICOM forbids the JP2 file format)
        return frame, removed
    out = bytearray(frame[:2])
    i = 2
    while i + 4 <= len(frame) and frame[i] == 0xFF and frame[i + 1] != 0x90:  # up to the first SOT
        length = int.from_bytes(frame[i + 2:i + 4], "big")
        if length < 2 or i + 2 + length > len(frame):
            raise PixelStreamError(f"JPEG 2000 codestream: marker {frame[i + 1]:02X} runs past the frame")
        if frame[i + 1] == 0x64:
            removed["COM"] += 1
        else:
            out += frame[i:i + 2 + length]
        i += 2 + length
    _check_tile_parts(frame, i)
    if not removed:
        return frame, removed
    return bytes(out) + frame[i:], removed


def _check_tile_parts(frame: bytes, i: int) -> None:
    while i + 12 <= len(frame) and frame[i:i + 2] == b"\xff\x90":
        psot = int.from_bytes(frame[i + 6:i + 10], "big")
        j = i + 12
        while j + 4 <= len(frame) and frame[j] == 0xFF and frame[j + 1] != 0x93:  # up to SOD
            if frame[j + 1] == 0x64:
                raise PixelStreamError("JPEG 2000 codestream: a comment in a tile-part header")
            j += 2 + int.from_bytes(frame[j + 2:j + 4], "big")
        if psot == 0:
            return
        i += psot


def scrub_frame(frame: bytes, syntax: UID) -> tuple[bytes, Counter[str]]:
    if syntax in _JPEG_SYNTAXES:
        return scrub_jpeg(frame)
    if syntax in _J2K_SYNTAXES:
        return scrub_j2k(frame)
    return frame, Counter()


def _scrub_frames(ds: Dataset) -> tuple[list[bytes], Counter[str], tuple[bytes, bytes] | None] | None:
    syntax = ds.file_meta.get("TransferSyntaxUID") if hasattr(ds, "file_meta") else None
    if syntax is None or str(syntax) not in _STREAM_SYNTAXES or "PixelData" not in ds:
        return None  # (a UID is its string: the same set lookup, without UID()'s validation)
    stated = ds.get("NumberOfFrames", 1)
    try:
        frames_n = int(stated or 1)
        if frames_n < 1:
            raise ValueError("fewer than one frame")
        extended = None
        if "ExtendedOffsetTable" in ds and "ExtendedOffsetTableLengths" in ds:
            extended = (ds.ExtendedOffsetTable, ds.ExtendedOffsetTableLengths)
        frames = list(generate_frames(ds.PixelData, number_of_frames=frames_n, extended_offsets=extended))
    except (ValueError, TypeError, KeyError, IndexError, EOFError, OverflowError, struct.error) as exc:
        raise PixelStreamError(f"encapsulated pixel data: cannot split into frames (Number of Frames "
                               f"{str(stated)[:16]!r}: {str(exc)[:80]})") from None
    total: Counter[str] = Counter()
    scrubbed = []
    for frame in frames:
        new, removed = scrub_frame(frame, UID(syntax))
        scrubbed.append(new)
        total.update(removed)
    return scrubbed, total, extended


def find_stream_metadata(ds: Dataset) -> StreamScrub | None:
    """What :func:`scrub_pixel_stream` would remove from ``ds`` (which is not modified)."""
    found = _scrub_frames(ds)
    return StreamScrub(dict(found[1])) if found is not None and found[1] else None


def scrub_pixel_stream(ds: Dataset) -> StreamScrub | None:
    """Remove the metadata segments from every frame of ``ds``'s encapsulated Pixel Data, in place.

    Returns what was removed, or None when nothing was (the element is then left untouched, so
    its bytes are copied as read)."""
    found = _scrub_frames(ds)
    if found is None or not found[1]:
        return None
    scrubbed, total, extended = found
    for tag in _REWRITTEN:  # a decoded element can be the source's own: its new value is set on a copy
        elem = ds._dict.get(tag)  # type: ignore[call-overload]  # an int finds a BaseTag key
        if type(elem) is DataElement:
            ds._dict[elem.tag] = copy.copy(elem)
    if extended is not None:
        data, offsets, lengths = encapsulate_extended(scrubbed)
        ds.PixelData = data
        ds.ExtendedOffsetTable, ds.ExtendedOffsetTableLengths = offsets, lengths
    else:
        ds.PixelData = encapsulate(scrubbed, has_bot=len(scrubbed) > 1)
    ds["PixelData"].VR = "OB"
    ds["PixelData"].is_undefined_length = True
    return StreamScrub(dict(total))


__all__ = ["StreamScrub", "find_stream_metadata", "scrub_frame", "scrub_j2k", "scrub_jpeg", "scrub_pixel_stream"]
