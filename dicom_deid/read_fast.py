"""Read, the byte path's way: a Part 10 file in Explicit VR Little Endian -> the FileDataset
``pydicom.dcmread`` returns for it, built straight from the bytes (issue 16).

``dcmread`` reads a file element by element through a generic generator (any encoding, deferred
values, stop conditions, debugging); for the common case this module does the same walk with one
``unpack_from`` and one slice per top-level element and builds the same objects: the same
``RawDataElement`` fields (tag, VR, length, value, value position), the same empty values, the
same original encoding and character set; the file meta group as ``_read_file_meta_info``
reads it.  Sequences of undefined length are read here too (items_fast.py: the same items,
elements and sequence objects ``read_sequence`` builds), or by ``read_sequence`` where
items_fast.py does not take one; encapsulated Pixel Data by pydicom's
``read_undefined_length_value``.  Sequences of defined length stay raw bytes, as ``dcmread``
leaves them, and pydicom parses them on access.

Anything else raises :class:`~dicom_deid.rawscan.FallBack` and read.py calls ``dcmread``: no
preamble, another transfer syntax, a command group, elements out of order or repeated, an
unknown VR, a value or header cut short, undefined lengths elsewhere, delimiters at the top
level.  read.py's checks run on the result either way; ``tests/test_bytepath_identity.py``
compares every output and error of the byte path with the pydicom path's.
"""

from __future__ import annotations

import struct
from io import BytesIO

from pydicom.charset import convert_encodings, default_encoding
from pydicom.dataelem import (
    DataElement,
    RawDataElement,
    convert_raw_data_element,
)
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.filereader import read_sequence
from pydicom.fileutil import read_undefined_length_value
from pydicom.tag import BaseTag, SequenceDelimiterTag
from pydicom.values import convert_string

from dicom_deid.items_fast import (
    file_dataset,
    item_dataset,
    new_file_meta,
    read_items,
    sequence_element,
    skip_items,
)
from dicom_deid.rawscan import (
    BASE_TAGS,
    ELEMENT_HEAD,
    ELEMENT_HEAD_CODED,
    ENCAPSULATED,
    EXPLICIT_LITTLE,
    LONG_VR_AT,
    LONG_VR_BYTES,
    PIXEL_DATA,
    SHORT_VR_AT,
    SPECIFIC_CHARACTER_SET,
    UL_AT,
    UNDEFINED,
    VR_OF,
    FallBack,
    empty_raw_value,
)
from dicom_deid.uid_bytes import DecodeMemo, decode_plain, decoded_element

_HEAD = ELEMENT_HEAD
_HEAD_CODED = ELEMENT_HEAD_CODED
_UL = UL_AT
_SYNTAXES = frozenset({EXPLICIT_LITTLE, *ENCAPSULATED})
_CHARSET = SPECIFIC_CHARACTER_SET
_TAGS = BASE_TAGS
_GROUP_LENGTH = 0x00020000
_SYNTAX = 0x00020010
#: VRs of the character set element that ``decode_plain`` decodes as pydicom does (not SQ, UN, ambiguous)
_PLAIN_CHARSET_VRS = frozenset({"CS", "LO", "SH", "ST", "LT", "UT", "UC"})


def _read_meta(data: bytes, memo: DecodeMemo | None) -> tuple[FileMetaDataset, int]:
    """The file meta group ``_read_file_meta_info`` returns for ``data`` (after its preamble) and
    the position after it: the same raw elements, the same encoding, and the same elements
    decoded (pydicom decodes the first element, to test its reading, and the group length, to
    compare it with the group's size).  FallBack where pydicom would read it another way (no
    group 2 element first, implicit VR, undefined lengths, elements out of order, cut short)."""
    pos, end = 132, len(data)
    elements: dict[BaseTag, RawDataElement | DataElement] = {}
    last = -1
    new_tuple, raw_type = tuple.__new__, RawDataElement
    tags = _TAGS
    while True:
        if pos + 8 > end:
            raise FallBack("file meta cut short, or nothing after it")
        group, elem, vrb, length = _HEAD(data, pos)
        if group != 2:
            break
        tag = group << 16 | elem
        vr = VR_OF.get(vrb)
        if tag <= last or vr is None:
            raise FallBack("file meta out of order, or not explicit VR")
        last = tag
        if vrb in LONG_VR_BYTES:
            if pos + 12 > end:
                raise FallBack("element header cut short")
            length = _UL(data, pos + 8)[0]
            value_tell = pos + 12
        else:
            value_tell = pos + 8
        pos = value_tell + length
        if length == UNDEFINED or pos > end:
            raise FallBack("file meta value of undefined length, or cut short")
        key = tags.get(tag)
        if key is None:
            key = tags[tag] = BaseTag(tag)
        value = data[value_tell:pos] if length else empty_raw_value(vr, True)
        elements[key] = new_tuple(raw_type, (key, vr, length, value, value_tell, False, True, True, False))
    if not elements:
        raise FallBack("no file meta")
    file_meta = new_file_meta(elements)  # FileMetaDataset(elements)
    file_meta.set_original_encoding(is_implicit_vr=False, is_little_endian=True, character_encoding=default_encoding)
    try:
        decoded_element(file_meta, next(iter(elements)), memo)  # as _read_file_meta_info tests its reading
    except NotImplementedError:
        raise FallBack("file meta read another way") from None
    group_length = tags.get(_GROUP_LENGTH)
    if group_length is not None and group_length in elements:
        decoded_element(file_meta, group_length, memo)  # decoded, as _read_file_meta_info does
    return file_meta, pos


#: Header codes (``tag << 16 | code``, the code the VR's two bytes as ELEMENT_HEAD_CODED reads
#: them) of the top-level elements that read.py's VR check (``read._check_explicit_vrs``) passes
#: without a look: read_explicit lists every other element for it (``unchecked``).  Filled by
#: that check, as it finds each (tag, VR) allowed; bounded there.
VR_PASSED: set[int] = set()


def read_explicit(data: bytes, dropped: list[tuple[int, str]] | None = None,
                  memo: DecodeMemo | None = None, unchecked: list[BaseTag] | None = None) -> FileDataset:
    """The dataset ``dcmread(BytesIO(data))`` returns; raise FallBack where this module does not
    read ``data`` exactly as ``dcmread`` does.

    ``dropped`` (a list, for a run whose plan removes every private element unread:
    ``deidentify.Engine.drops_private``): a top-level private element of defined length and of a
    VR other than UN, or a private sequence of undefined length that ``items_fast.skip_items``
    walks to its end, is not put in the dataset; its (tag, VR) is appended to ``dropped`` instead,
    in file order, for the plan (``plan_actions(..., dropped=)``), which decides it exactly as
    it would have had it been read.  Every check on its header and length is made as before.
    On FallBack the list holds elements of a dataset never returned: clear it.  ``memo``: the
    run's memo of decoded values (``uid_bytes.DecodeMemo``), or none.  ``unchecked`` (a list):
    the keys of the top-level elements read.py's VR check must still look at are appended, in
    file order: those whose header code is not in :data:`VR_PASSED` (the character set, decoded
    below, keeps its VR, or is read as UN, which the check never passes).  The others it passes:
    the same answer."""
    if len(data) < 144 or data[128:132] != b"DICM":
        raise FallBack("no preamble")
    fp = BytesIO(data)
    file_meta, pos = _read_meta(data, memo)
    syntax_key = _TAGS.get(_SYNTAX)
    if syntax_key is not None and syntax_key in file_meta._dict:
        try:
            decoded_element(file_meta, syntax_key, memo)  # as ``file_meta.get`` decodes it, then read there
        except AttributeError:  # what ``get`` answers None for: it does again
            pass
    syntax = file_meta.get("TransferSyntaxUID")
    if syntax is None or str(syntax) not in _SYNTAXES:
        raise FallBack("transfer syntax not taken by the byte path")
    end = len(data)
    if pos + 8 > end or data[pos:pos + 2] == b"\x00\x00" or data[pos + 4:pos + 6] not in VR_OF:
        raise FallBack("no dataset, a command group, or not explicit VR")  # dcmread guesses here
    elements: dict[BaseTag, RawDataElement | DataElement] = {}
    encoding: str | list[str] = default_encoding
    last = -1
    new_tuple, raw_type = tuple.__new__, RawDataElement
    tags = _TAGS
    if len(tags) > 65536:
        tags.clear()
    short_vr, long_vr = SHORT_VR_AT, LONG_VR_AT
    head = _HEAD_CODED
    drop = dropped.append if dropped is not None else None
    note = (unchecked if unchecked is not None else []).append
    passed = VR_PASSED
    try:
        while pos < end:
            group, elem, vr_code, length = head(data, pos)  # struct.error past the end: see below
            tag = group << 16 | elem
            if tag <= last or group == 0xFFFE:
                raise FallBack("elements out of order, repeated, or a delimiter")
            last = tag
            vr = short_vr[vr_code]
            if vr is not None:
                value_tell = pos + 8
            else:
                vr = long_vr[vr_code]
                if vr is None:
                    raise FallBack("unknown value representation")
                length = _UL(data, pos + 8)[0]
                value_tell = pos + 12
            if length != UNDEFINED:
                pos = value_tell + length
                if pos > end:
                    raise FallBack("value cut short")
                if group & 1 and drop is not None and vr != "UN":
                    drop((tag, vr))  # removed unread (see the docstring)
                    continue
                key = tags.get(tag)
                if key is None:
                    key = tags[tag] = BaseTag(tag)
                value = data[value_tell:pos] if length else empty_raw_value(vr, True)
                if tag == _CHARSET:
                    encoding = convert_encodings(convert_string(value or b"", True))
                if tag << 16 | vr_code not in passed:
                    note(key)
                # RawDataElement(key, vr, length, value, value_tell, False, True), without the named
                # tuple's Python-level __new__ (the same object: is_raw True, is_buffered False)
                elements[key] = new_tuple(raw_type, (key, vr, length, value, value_tell, False, True, True, False))
                continue
            if vr == "SQ" and group & 1 and drop is not None:
                try:
                    pos = skip_items(data, value_tell)  # removed unread, as one of defined length
                except FallBack:
                    pass  # read as any other sequence below
                else:
                    drop((tag, vr))
                    continue
            key = tags.get(tag)
            if key is None:
                key = tags[tag] = BaseTag(tag)
            if tag << 16 | vr_code not in passed:
                note(key)
            if vr == "SQ":
                try:
                    seq, pos = read_items(data, value_tell, encoding)
                except FallBack:  # something items_fast.py does not take: pydicom reads this sequence
                    fp.seek(value_tell)
                    seq = read_sequence(fp, False, True, length, encoding)
                    pos = fp.tell()
                elements[key] = sequence_element(key, seq, value_tell, True)  # DataElement(key, vr, seq, ...)
                continue
            fp.seek(value_tell)
            if tag == PIXEL_DATA and vr in ("OB", "OW"):
                value = read_undefined_length_value(fp, True, SequenceDelimiterTag)
                elements[key] = RawDataElement(key, vr, length, value, value_tell, False, True)
            else:
                raise FallBack("undefined length outside a sequence or pixel data")
            pos = fp.tell()
    except struct.error:  # a header cut short: unpack_from past the end of the data
        raise FallBack("element header cut short") from None
    charset_key = BaseTag(_CHARSET)
    charset = elements.get(charset_key)
    original: str | list[str] = default_encoding
    if charset is not None:
        plain = type(charset) is RawDataElement and charset[3] is not None and charset[1] in _PLAIN_CHARSET_VRS
        # the value convert_raw_data_element(charset) decodes (no encoding given: the default one)
        value = (decode_plain(charset, default_encoding, None, memo) if plain  # type: ignore[arg-type]
                 else convert_raw_data_element(charset)).value  # type: ignore[arg-type]
        original = convert_encodings(value)
    dataset = item_dataset(elements, default_encoding, original)  # Dataset(elements, ...), its encoding set
    if charset is not None:
        try:
            decoded_element(dataset, charset_key, memo)  # as ``dataset._character_set`` decodes it, then reads it
        except KeyError:  # what its ``get`` answers None for: it does again
            pass
    fp.seek(end)
    ds = file_dataset(fp, dataset, data[:128], file_meta)  # FileDataset(fp, dataset, ..., False, True)
    ds.set_original_encoding(False, True, dataset._character_set)
    return ds


__all__ = ["VR_PASSED", "read_explicit"]
