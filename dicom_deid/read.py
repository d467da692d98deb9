"""Read: input bytes -> Instance.  Owns "is it DICOM?" and "in which encoding?".  Never mutates input."""

from __future__ import annotations

import functools
import re
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from io import BytesIO
from types import MappingProxyType
from typing import Any

from pydicom import dcmread
from pydicom.datadict import dictionary_has_tag, dictionary_VR, tag_for_keyword
from pydicom.datadict import keyword_for_tag as tag_keyword
from pydicom.dataelem import DataElement, RawDataElement, convert_raw_data_element
from pydicom.dataset import Dataset
from pydicom.errors import BytesLengthException, InvalidDicomError
from pydicom.tag import BaseTag
from pydicom.uid import UID

from dicom_deid.errors import (
    NotDicomError,
    QuarantineReason,
    UnreadableDicomError,
    UnsupportedTransferSyntax,
)
from dicom_deid.rawscan import BASE_TAGS, FallBack
from dicom_deid.read_fast import VR_PASSED, read_explicit
from dicom_deid.uid_bytes import DecodeMemo, decoded_element
from dicom_deid.walk import InputRef, read_bytes

MEDIA_STORAGE_DIRECTORY = "1.2.840.10008.1.3.10"

#: What pydicom raises when it decodes a malformed element value on access (bad VR, wrong
#: length for the VR, undecodable text, nesting too deep ...).
ELEMENT_ERRORS: tuple[type[BaseException], ...] = (
    ValueError, TypeError, NotImplementedError, LookupError, ArithmeticError, AttributeError,
    struct.error, BytesLengthException, EOFError, RecursionError,
)

#: Standard transfer syntaxes newer than pydicom 3.0's UID dictionary (PS3.6 2026c Table A-1;
#: dataset encoding per PS3.5 A.4: Explicit VR Little Endian, encapsulated Pixel Data).  Files
#: in them are read and pass through when their pixels need no change; no installed decoder
#: reads their pixels, so a pixel stage that must look quarantines them.
NEWER_SYNTAXES: Mapping[str, str] = MappingProxyType({
    "1.2.840.10008.1.2.4.110": "JPEG XL Lossless",
    "1.2.840.10008.1.2.4.111": "JPEG XL JPEG Recompression",
    "1.2.840.10008.1.2.4.112": "JPEG XL",
    "1.2.840.10008.1.2.8.1": "Deflated Image Frame Compression",
})

#: Header attributes the pipeline routes on (output path, patient key, manifest row): each
#: must decode, or the input is unreadable (never an orchestrator crash).
ROUTING_KEYWORDS = (
    "SpecificCharacterSet", "SOPClassUID", "SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID",
    "Modality", "PatientID", "IssuerOfPatientID", "PatientName", "PatientBirthDate",
)

_UID_TEXT = re.compile(r"[0-9.]{1,64}")
_CONVERT_RAW_CODE = convert_raw_data_element.__code__  # pydicom decodes a raw element's value here
_CONVERT_VALUE_CODE = DataElement._convert_value.__code__  # ... and converts a value set on an element here


def shown_uid(value: object) -> str:
    """A UID for a message: itself when it looks like one, else a placeholder (never raw bytes)."""
    text = str(value).strip("\x00 ")
    return text if _UID_TEXT.fullmatch(text) else "(not a valid UID)"


def syntax_name(uid: object) -> str:
    text = str(uid)
    if text in NEWER_SYNTAXES:
        return NEWER_SYNTAXES[text]
    name = UID(text).name if _UID_TEXT.fullmatch(text) else ""
    return name if name and name != text else shown_uid(text)


def dataset_encoding(uid: object) -> tuple[bool, bool]:
    """(implicit VR, little endian) of a dataset in transfer syntax ``uid``.

    Raises :class:`UnsupportedTransferSyntax` for a UID that is not a standard transfer syntax
    (unknown or private): how its dataset is encoded cannot be known.
    """
    return _encoding_of(str(uid))


@functools.lru_cache(maxsize=256)  # a pure function of the UID text (a refusal raises, and is not kept)
def _encoding_of(text: str) -> tuple[bool, bool]:
    if text in NEWER_SYNTAXES:
        return False, True
    syntax = UID(text) if _UID_TEXT.fullmatch(text) else None
    if syntax is None or syntax.is_private or not syntax.is_transfer_syntax:
        raise UnsupportedTransferSyntax(
            f"(0002,0010) Transfer Syntax UID {shown_uid(text)} is not a known transfer syntax: "
            "the encoding of the dataset cannot be known", uid=shown_uid(text))
    return syntax.is_implicit_VR, syntax.is_little_endian


class DicomDirFile(NotDicomError):
    """A DICOMDIR index: counted and skipped; the files it references are walked anyway."""


@dataclass(frozen=True)
class Instance:
    """``dropped``: the (tag, VR) of the private elements read_fast.py left out of ``dataset``
    (``parse_instance(..., drop_private=True)``), for ``plan_actions(..., dropped=)``."""

    dataset: Dataset
    size: int
    dropped: tuple[tuple[int, str], ...] = ()


def _looks_like_dicom_without_preamble(data: bytes) -> bool:
    if len(data) < 8:
        return False
    group = int.from_bytes(data[0:2], "little")
    group_be = int.from_bytes(data[0:2], "big")
    return group in (0x0002, 0x0008) or group_be in (0x0002, 0x0008)


def parse_dicom(data: bytes, *, where: str, fast: bool = False,
                dropped: list[tuple[int, str]] | None = None, memo: DecodeMemo | None = None,
                vr_unchecked: list[BaseTag] | None = None) -> Dataset:
    """Parse DICOM bytes (with or without preamble/meta); raise InputError subclasses.

    ``fast`` (the byte path, issue 16): read the common case with read_fast.py, which builds the
    dataset ``dcmread`` would; anything it does not take is read by ``dcmread``.  ``dropped``
    (with ``fast``): read_fast.py's private elements left unread (``read_explicit``); it stays
    empty when ``dcmread`` reads the file.  ``memo``: the run's memo of decoded values
    (``Engine.decode_memo``), or none.  ``vr_unchecked`` (a list): the top-level elements
    :func:`_check_explicit_vrs` must look at are appended (read_fast.py's, or every one where
    ``dcmread`` read the file)."""
    if not data:
        raise NotDicomError("empty file", path=where)
    has_preamble = len(data) >= 132 and data[128:132] == b"DICM"
    if not has_preamble and not _looks_like_dicom_without_preamble(data):
        raise NotDicomError("not a DICOM file (no DICM preamble, no DICOM header)", path=where)
    try:
        ds = _read_fast(data, dropped, memo, vr_unchecked) if fast and has_preamble else None
        complete = ds is not None  # read_fast.py reads no file cut short: see _check_complete
        if ds is None:
            ds = dcmread(BytesIO(data), force=not has_preamble)
            if vr_unchecked is not None:
                vr_unchecked[:] = ds._dict  # every element
    except InvalidDicomError as exc:
        raise NotDicomError(f"not a DICOM file ({exc})", path=where) from None
    except (EOFError, OSError) as exc:
        raise UnreadableDicomError(f"truncated DICOM file ({exc.__class__.__name__})", path=where,
                                   reason=QuarantineReason.TRUNCATED) from None
    except Exception as exc:  # noqa: BLE001 - pydicom raises many types on corrupt input
        raise UnreadableDicomError(f"corrupt DICOM file ({exc.__class__.__name__}: {exc})"[:300], path=where) from None
    if not complete:
        _check_complete(ds, len(data), where)
    _check_syntax(ds, where)
    return ds


_FAST_FAILURES: tuple[type[BaseException], ...] = (FallBack, InvalidDicomError, OSError, *ELEMENT_ERRORS)


def _read_fast(data: bytes, dropped: list[tuple[int, str]] | None = None,
               memo: DecodeMemo | None = None, unchecked: list[BaseTag] | None = None) -> Dataset | None:
    """read_fast.py's dataset, or None for ``dcmread`` to read (and report on) the file."""
    try:
        return read_explicit(data, dropped, memo, unchecked)
    except _FAST_FAILURES:
        if dropped is not None:
            dropped.clear()  # dcmread reads every element
        if unchecked is not None:
            unchecked.clear()
        return None


def _check_syntax(ds: Dataset, where: str) -> None:
    """A dataset in an unknown transfer syntax was parsed on a guess: refuse it."""
    try:
        syntax = ds.file_meta.get("TransferSyntaxUID") if hasattr(ds, "file_meta") else None
    except ELEMENT_ERRORS as exc:
        raise UnreadableDicomError(f"(0002,0010) Transfer Syntax UID cannot be decoded ({exc.__class__.__name__})",
                                   path=where) from None
    if syntax is not None:
        try:
            dataset_encoding(syntax)
        except UnsupportedTransferSyntax as exc:
            exc.path = where
            exc.args = (f"{where}: {exc.message}",)
            raise


def _check_complete(ds: Dataset, size: int, where: str) -> None:
    """pydicom reads truncated files quietly: a value cut short, or a last header cut off.

    Not needed after read_fast.py, which never returns what this check refuses: it reads every
    top-level value of defined length as a slice that it first checks to end within the file
    (else FallBack: "value cut short"), and it stops only at the end of the file, raising FallBack
    for a header cut short, so no value is short and nothing trails; an undefined length (a
    sequence, encapsulated Pixel Data) ends this check's trailing-bytes test as it does here.
    ``tests/test_read_write.py`` cuts files at every offset and checks both facts."""
    syntax = ds.file_meta.get("TransferSyntaxUID") if hasattr(ds, "file_meta") else None
    end = 0
    for raw in ds._dict.values():
        length = getattr(raw, "length", None)
        value = getattr(raw, "value", None)
        tell = getattr(raw, "value_tell", None)
        if length is None or tell is None or length == 0xFFFFFFFF:
            end = -1 if length == 0xFFFFFFFF else end
            continue
        if isinstance(value, bytes) and len(value) < length:
            raise UnreadableDicomError(
                f"truncated DICOM file: element ({raw.tag >> 16:04X},{raw.tag & 0xFFFF:04X}) "
                f"has {len(value)} of {length} bytes", path=where, reason=QuarantineReason.TRUNCATED)
        end = tell + length if end >= 0 else end
    deflated = syntax is not None and str(syntax) == "1.2.840.10008.1.2.1.99"
    if end > 0 and not deflated and 0 < size - end < 8:
        raise UnreadableDicomError(f"truncated DICOM file: {size - end} trailing bytes of a cut element header",
                                   path=where, reason=QuarantineReason.TRUNCATED)


def decoded(ds: Dataset, key: BaseTag, memo: DecodeMemo | None = None) -> DataElement:
    """``ds[key]`` for ``key`` one of ``ds``'s own keys (a decoded element, stored back in place of
    the raw one), without ``__getitem__``'s tag conversion, its ``__setitem__`` and its two lookups
    after it: for a raw public element of a plain VR, not pixel data, with its value read, those
    change nothing (no private creator, no pixel cache, no sequence, no ambiguous VR), and the
    element is converted by pydicom's own ``convert_raw_data_element`` with the character set
    ``__getitem__`` passes (``uid_bytes.decoded_element``; its value from a memo where the same
    bytes were decoded before, in ``memo``, the run's: ``uid_bytes.decode_plain``).  Anything else
    goes through ``ds[key]``."""
    return decoded_element(ds, key, memo)


def keyword_value(ds: Dataset, keyword: str, default: object = None) -> Any:
    """``ds.get(keyword, default)`` for a DICOM keyword, without its attribute lookup, keyword
    and tag conversions in Python: the element's value (decoded as ``ds[tag]`` decodes it), or
    ``default`` where ``ds`` has no such element.  Any other name goes to ``ds.get``."""
    tag = _keyword_tag(keyword)
    if tag is None:
        return ds.get(keyword, default)
    elem = ds._dict.get(tag)
    if elem is None:
        return default
    if type(elem) is not DataElement:
        elem = decoded(ds, tag)
    try:
        return elem.value
    except AttributeError:  # as ``Dataset.get`` answers one from ``__getattr__``
        return default


def keyword_attribute(ds: Dataset, keyword: str) -> Any:
    """``getattr(ds, keyword)`` for a DICOM keyword ``ds`` holds: its value, as
    :func:`keyword_value` reads it; AttributeError where ``ds`` has no such element."""
    value = keyword_value(ds, keyword, _ABSENT)
    if value is _ABSENT:
        raise AttributeError(f"{type(ds).__name__!r} object has no attribute {keyword!r}")
    return value


def has_keyword(ds: Dataset, keyword: str) -> bool:
    """``keyword in ds`` for a DICOM keyword, by its tag (no keyword and tag conversions)."""
    tag = _keyword_tag(keyword)
    return keyword in ds if tag is None else tag in ds._dict


_ABSENT = object()


@functools.lru_cache(maxsize=256)  # a pure dictionary lookup, for the few keywords read by name
def _keyword_tag(keyword: str) -> BaseTag | None:
    """The keyword's tag, as the BaseTag read_fast.py keys its datasets with (``rawscan.BASE_TAGS``):
    a lookup finds the element by identity.  None for a name that is no DICOM keyword (a
    repeating group's keyword included, as for ``Dataset.__getattr__``)."""
    tag = tag_for_keyword(keyword)
    return None if tag is None else BASE_TAGS.setdefault(tag, BaseTag(tag))


@functools.lru_cache(maxsize=1)
def _routing_tags() -> tuple[tuple[str, BaseTag, str], ...]:
    """(keyword, tag, dictionary VR) of each routing attribute and the two file meta ones; each
    tag the BaseTag read_fast.py keys its datasets with (``rawscan.BASE_TAGS``), so a lookup
    finds the element by identity (an int, or another BaseTag, compares in Python)."""
    keywords = (*ROUTING_KEYWORDS, "MediaStorageSOPClassUID", "TransferSyntaxUID")
    out = []
    for kw in keywords:
        tag = int(tag_for_keyword(kw) or 0)
        out.append((kw, BASE_TAGS.setdefault(tag, BaseTag(tag)), str(dictionary_VR(tag))))
    return tuple(out)


def _decode_routing(ds: Dataset, where: str, memo: DecodeMemo | None) -> None:
    """Decode the routing attributes now, so a malformed one is this input's error.

    Each must also have its own value representation: a UID, name or ID under another VR
    would be handled (removed, replaced) as that VR, or fail when its pseudonym is set.
    """
    for kw, tag, expected in _routing_tags():
        holder = ds.file_meta if tag >> 16 == 2 else ds
        try:
            elem = holder._dict.get(tag)  # (by tag: no keyword lookups)
            if elem is not None:
                elem = decoded(holder, tag, memo)  # decoded, as ``holder.get(kw)`` would
                str(elem.value if elem.value is not None else "")
            vr = elem.VR if elem is not None else expected
        except ELEMENT_ERRORS as exc:
            raise UnreadableDicomError(f"corrupt DICOM file: {_named(kw, tag)} cannot be decoded "
                                       f"({exc.__class__.__name__})", path=where) from None
        if vr != expected:
            raise UnreadableDicomError(f"corrupt DICOM file: {_named(kw, tag)} has value representation "
                                       f"{str(vr)[:2]!r}, not {expected}", path=where)


def _named(keyword: str, tag: int) -> str:
    """``PatientID (0010,0020)``: an attribute as the messages name it."""
    return f"{keyword} ({tag >> 16:04X},{tag & 0xFFFF:04X})"


def _check_file_meta(ds: Dataset, where: str, memo: DecodeMemo | None) -> None:
    """The file meta group (PS3.10 7.1) is small and always Explicit VR: an element of it under
    another VR than its own is corrupt (it would be written back as that VR)."""
    meta = getattr(ds, "file_meta", None)
    if meta is None:
        return
    for tag in list(meta._dict):  # its own keys (meta.keys() is the same view)
        try:
            elem = decoded(meta, tag, memo)
            known = _dictionary_vr(int(tag))
            expected = elem.VR if known is None else known
        except ELEMENT_ERRORS as exc:
            raise UnreadableDicomError(f"corrupt DICOM file: file meta element ({tag >> 16:04X},{tag & 0xFFFF:04X}) "
                                       f"cannot be decoded ({exc.__class__.__name__})", path=where) from None
        if elem.VR != expected:
            raise UnreadableDicomError(f"corrupt DICOM file: file meta element ({tag >> 16:04X},{tag & 0xFFFF:04X}) "
                                       f"has value representation {str(elem.VR)[:2]!r}, not {expected}", path=where)


@functools.lru_cache(maxsize=256)  # a pure dictionary lookup, for each file meta element read
def _dictionary_vr(tag: int) -> str | None:
    """``dictionary_VR(tag)`` ("US or SS" as it is), or None for a tag the dictionary lacks."""
    return str(dictionary_VR(tag)) if dictionary_has_tag(tag) else None


#: VRs that can hold any text: a value under one of them where the dictionary expects
#: something else (a number, a code, a date, a UID, binary) is a corrupted element.
_FREE_TEXT_VRS = frozenset({"LO", "LT", "SH", "ST", "UC", "UT", "PN"})
#: ... where the dictionary expects a number, a code, a UID, a tag or binary data.  Ages,
#: dates and times are left to their attributes' own rules (deid-data's RGB_CINE.dcm stores
#: PatientAge as LO).
_STRUCTURED_VRS = frozenset({"AT", "CS", "DS", "FD", "FL", "IS", "OB", "OD", "OF", "OL", "OV", "OW", "SL", "SQ",
                             "SS", "SV", "UI", "UL", "US", "UV"})
#: Binary VRs under a text attribute (AccessionNumber as AT) are corrupt too: its replacement
#: could not even be written.
_BINARY_VRS = frozenset({"AT", "FD", "FL", "OB", "OD", "OF", "OL", "OV", "OW", "SL", "SQ", "SS", "SV", "UL", "US",
                         "UV"})
_TEXT_VRS = frozenset({"AE", "AS", "CS", "DA", "DS", "DT", "IS", "LO", "LT", "PN", "SH", "ST", "TM", "UC", "UI", "UR",
                       "UT"})


@functools.lru_cache(maxsize=8192)  # a pure dictionary lookup, made for every public element read
def _dictionary_vrs(tag: int) -> frozenset[str] | None:
    """The VRs the data dictionary allows for a public ``tag`` ("US or SS": both); None if unknown."""
    if not dictionary_has_tag(tag):
        return None
    return frozenset(dictionary_VR(tag).split(" or "))


#: (tag, VR) pairs _check_explicit_vrs found in the dictionary's VRs (or of an unknown tag): a
#: memo of a pure dictionary lookup, bounded.
_VR_PASSES: set[tuple[int, str]] = set()


def _check_explicit_vrs(ds: Dataset, where: str, only: Iterable[BaseTag] | None = None) -> None:
    """A top-level public element must not hold free text where its attribute holds none, nor
    binary data where it holds text.

    A tag corrupted into another attribute's (InstitutionName flipped into RepetitionTime, a
    fuzz finding) keeps the VR and the value it had: the profile would keep a name as a
    "numeric" attribute.  Text under another text-like VR (OperatorsName or PatientAge as LO,
    seen in deid-data) is a vendor quirk and passes: the attribute's own rule applies.  Raw
    VRs only: nothing is decoded here.

    ``only``: the keys of the elements to look at, in the dataset's order (read_fast.py lists
    those whose (tag, VR) this check has not passed before: ``read_explicit(..., unchecked)``);
    the others pass.  Each (tag, VR) passed is noted for read_fast.py (``VR_PASSED``).
    """
    passes, raw_type, codes = _VR_PASSES, RawDataElement, VR_PASSED
    elements = ds._dict
    for tag in elements if only is None else only:
        raw = elements[tag]
        vr = raw[1] if type(raw) is raw_type else getattr(raw, "VR", None)  # a raw element's VR, by index
        if vr is None:
            continue
        if tag >> 16 & 1:
            _note_passed(codes, int(tag), vr)  # never looked at
            continue
        key = (int(tag), vr)  # an int key: a BaseTag compares in Python
        if key in passes:
            if only is not None:  # passed before, by a check over every element: noted once
                _note_passed(codes, int(tag), vr)
            continue
        expected = _dictionary_vrs(int(tag))
        if expected is None or vr in expected:
            if len(passes) < 65536:
                passes.add(key)
            _note_passed(codes, int(tag), vr)
            continue
        text_into_structured = vr in _FREE_TEXT_VRS and _STRUCTURED_VRS.issuperset(expected)
        binary_into_text = vr in _BINARY_VRS and _TEXT_VRS.issuperset(expected)
        if text_into_structured or binary_into_text:
            keyword = tag_keyword(tag) or "element"
            raise UnreadableDicomError(f"corrupt DICOM file: {keyword} ({tag >> 16:04X},{tag & 0xFFFF:04X}) has "
                                       f"value representation {vr} where the standard has {dictionary_VR(tag)}",
                                       path=where)


def _note_passed(codes: set[int], tag: int, vr: object) -> None:
    """Note (tag, VR) in read_fast.py's ``VR_PASSED`` (its header code), for a VR of two ASCII
    letters (one read_explicit can read); bounded."""
    if len(codes) < 65536 and type(vr) is str and len(vr) == 2 and vr.isascii():
        codes.add(tag << 16 | int.from_bytes(vr.encode("ascii"), "little"))


def _check_encapsulation(ds: Dataset, where: str) -> None:
    """Compressed syntaxes need encapsulated Pixel Data (undefined length, PS3.5 A.4)."""
    syntax = str(keyword_value(ds.file_meta, "TransferSyntaxUID", "") or "")
    raw = ds._dict.get(BaseTag(0x7FE00010))
    if raw is None or not syntax:
        return
    compressed = syntax in NEWER_SYNTAXES or UID(syntax).is_compressed
    undefined = getattr(raw, "length", None) == 0xFFFFFFFF or getattr(raw, "is_undefined_length", False)
    value = getattr(raw, "value", None)
    first_item = isinstance(value, bytes) and value.startswith(b"\xfe\xff\x00\xe0")  # (FFFE,E000), PS3.5 A.4
    if (compressed or undefined) and not (undefined and first_item):
        raise UnreadableDicomError("corrupt DICOM file: (7FE0,0010) Pixel Data is not properly encapsulated "
                                   f"(transfer syntax {syntax_name(syntax)})", path=where)


def describe_decode_failure(exc: BaseException) -> str | None:
    """If ``exc`` came from pydicom decoding a malformed element on access, or from a value that
    its (corrupted) VR cannot take when the element is copied, say which element; else None.

    Both happen only with corrupt input: the values we create (pseudonyms, shifted dates) fit
    their standard VR, and read.py refuses the routing attributes under another VR.  Never
    quotes the value.
    """
    tb = exc.__traceback__
    found = None
    while tb is not None:
        code = tb.tb_frame.f_code
        if code is _CONVERT_RAW_CODE:
            found = (getattr(tb.tb_frame.f_locals.get("raw"), "tag", None), "cannot be decoded")
        elif code is _CONVERT_VALUE_CODE:
            elem = tb.tb_frame.f_locals.get("self")
            vr = getattr(elem, "VR", "?")
            found = (getattr(elem, "tag", None), f"holds a value its value representation {vr} cannot take")
        tb = tb.tb_next
    if found is None or not isinstance(found[0], int):
        return None
    tag: int = found[0]
    return f"element ({tag >> 16:04X},{tag & 0xFFFF:04X}) {found[1]} ({exc.__class__.__name__})"


def read_instance(ref: InputRef, *, where: str | None = None) -> Instance:
    """Read one input fully; raise NotDicomError / UnreadableDicomError with a one-line cause."""
    where = where or ref.display
    try:
        data = read_bytes(ref)
    except OSError as exc:
        raise UnreadableDicomError(f"cannot read file ({exc.strerror or exc})", path=where) from None
    return parse_instance(data, where=where)


def parse_instance(data: bytes, *, where: str, fast: bool = False, drop_private: bool = False,
                   memo: DecodeMemo | None = None) -> Instance:
    """One input's bytes -> Instance; raise NotDicomError / UnreadableDicomError with a one-line cause.

    ``where`` names the input in messages (a path, a zip member, a spool file: opaque here).
    ``fast``: see :func:`parse_dicom`; every check below applies either way (none reads a
    private element).  ``drop_private`` (with ``fast``; only for a run whose plan removes every
    private element unread, ``Engine.drops_private``): read_fast.py leaves them out of the
    dataset and lists them in ``Instance.dropped``.  ``memo``: the run's memo of decoded values
    (``Engine.decode_memo``; none: each element read is decoded), the same answers either way."""
    dropped: list[tuple[int, str]] | None = [] if fast and drop_private else None
    unchecked: list[BaseTag] | None = [] if fast else None
    ds = parse_dicom(data, where=where, fast=fast, dropped=dropped, memo=memo, vr_unchecked=unchecked)
    _check_file_meta(ds, where, memo)
    _check_explicit_vrs(ds, where, unchecked)
    _decode_routing(ds, where, memo)
    _check_encapsulation(ds, where)
    sop_class = keyword_value(ds, "SOPClassUID") or keyword_value(ds.file_meta, "MediaStorageSOPClassUID")
    if str(sop_class or "") == MEDIA_STORAGE_DIRECTORY or has_keyword(ds, "DirectoryRecordSequence"):
        raise DicomDirFile("DICOMDIR index (its referenced files are processed on their own)", path=where)
    for kw in ("SOPClassUID", "SOPInstanceUID"):
        if not keyword_value(ds, kw):
            raise UnreadableDicomError(f"missing {kw}: not a storable DICOM instance", path=where,
                                       reason=QuarantineReason.MISSING_REQUIRED)
    if not has_keyword(ds.file_meta, "TransferSyntaxUID"):
        # No meta (or meta without a syntax): record what pydicom detected, so output is well formed.
        from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

        implicit, little = ds.original_encoding
        ds.file_meta.TransferSyntaxUID = (
            ImplicitVRLittleEndian if implicit else ExplicitVRLittleEndian if little else ExplicitVRBigEndian
        )
    return Instance(dataset=ds, size=len(data), dropped=tuple(dropped) if dropped else ())


__all__ = [
    "ELEMENT_ERRORS",
    "NEWER_SYNTAXES",
    "DicomDirFile",
    "Instance",
    "dataset_encoding",
    "decoded",
    "describe_decode_failure",
    "has_keyword",
    "keyword_attribute",
    "keyword_value",
    "parse_dicom",
    "parse_instance",
    "read_instance",
    "shown_uid",
    "syntax_name",
]
