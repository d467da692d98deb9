"""Encoding facts of the metadata byte path (read_fast.py, bytepath.py, element_bytes.py): the
transfer syntaxes it takes, the value representations and their header lengths, and
:class:`FallBack`, raised for anything it does not take (the input then takes the pydicom path:
read.py, deidentify.py, write.py, which decide what to do with it; the byte path never rejects an
input).  ``scripts/rawscan_floor.py`` scans whole files with the same facts (a benchmark floor).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import cast

from pydicom.dataelem import empty_value_for_VR
from pydicom.tag import BaseTag

EXPLICIT_LITTLE = "1.2.840.10008.1.2.1"
IMPLICIT_LITTLE = "1.2.840.10008.1.2"
PIXEL_DATA = 0x7FE00010
ITEM, ITEM_END, SEQUENCE_END = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD
UNDEFINED = 0xFFFFFFFF
MAX_DEPTH = 32  # deeper nesting goes the pydicom way (and its recursion checks)

#: Encapsulated transfer syntaxes whose dataset is Explicit VR Little Endian (PS3.5 A.4) and
#: whose Pixel Data the byte path copies untouched.
ENCAPSULATED = frozenset({
    "1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51", "1.2.840.10008.1.2.4.57", "1.2.840.10008.1.2.4.70",
    "1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.81", "1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91",
    "1.2.840.10008.1.2.4.201", "1.2.840.10008.1.2.4.202", "1.2.840.10008.1.2.4.203", "1.2.840.10008.1.2.5",
})

_VRS = ("AE", "AS", "AT", "CS", "DA", "DS", "DT", "FD", "FL", "IS", "LO", "LT", "OB", "OD", "OF", "OL", "OV", "OW",
        "PN", "SH", "SL", "SQ", "SS", "ST", "SV", "TM", "UC", "UI", "UL", "UN", "UR", "US", "UT", "UV")
_VR_OF = {vr.encode("ascii"): vr for vr in _VRS}
#: VRs with a reserved 2 bytes and a 4-byte length in Explicit VR (PS3.5 7.1.2).
LONG_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"})
_LONG = frozenset(vr.encode("ascii") for vr in LONG_VRS)

VR_OF = _VR_OF  # the VR bytes of an explicit element -> its VR
LONG_VR_BYTES = _LONG
#: VR_OF split by header form: one dictionary lookup per element finds the VR and its form
SHORT_VR_OF = {vrb: vr for vrb, vr in _VR_OF.items() if vrb not in _LONG}
LONG_VR_OF = {vrb: vr for vrb, vr in _VR_OF.items() if vrb in _LONG}

#: the same split, indexed by the VR's two bytes read as a little endian 16-bit number
#: (``ELEMENT_HEAD_CODED``): a tuple index per element instead of a hashed lookup
def _indexed(vrs: dict[bytes, str]) -> tuple[str | None, ...]:
    table: list[str | None] = [None] * (1 << 16)
    for vrb, vr in vrs.items():
        table[int.from_bytes(vrb, "little")] = vr
    return tuple(table)


SHORT_VR_AT = _indexed(SHORT_VR_OF)
LONG_VR_AT = _indexed(LONG_VR_OF)


class FallBack(Exception):
    """The byte-level path does not take this input; the pydicom path does.  Never an error."""


__all__ = [
    "ENCAPSULATED",
    "EXPLICIT_LITTLE",
    "IMPLICIT_LITTLE",
    "ITEM",
    "ITEM_END",
    "LONG_VRS",
    "LONG_VR_AT",
    "LONG_VR_BYTES",
    "LONG_VR_OF",
    "MAX_DEPTH",
    "PIXEL_DATA",
    "SEQUENCE_END",
    "SHORT_VR_AT",
    "SHORT_VR_OF",
    "UNDEFINED",
    "VR_OF",
    "FallBack",
    "empty_raw_value",
]

#: (group, element, VR bytes, 2-byte length) of an explicit VR little endian element header
ELEMENT_HEAD = struct.Struct("<HH2sH").unpack_from
#: the same header with its VR bytes as a number (the index of SHORT_VR_AT and LONG_VR_AT)
ELEMENT_HEAD_CODED = struct.Struct("<HHHH").unpack_from
#: a little endian 4-byte unsigned value (the long form's length)
UL_AT = struct.Struct("<L").unpack_from
SPECIFIC_CHARACTER_SET = 0x00080005
#: int tag -> its BaseTag (an immutable int): one object per tag, shared by the fast readers
#: (read_fast.py, items_fast.py); a memo of tags seen, no data
BASE_TAGS: dict[int, BaseTag] = {}

#: ``empty_value_for_VR(vr, True)``, pydicom's own function, typed as what it returns for a raw
#: element (bytes or None) once here: a ``cast`` in the readers' loops built a type union per call
empty_raw_value = cast("Callable[[str | None, bool], bytes | None]", empty_value_for_VR)
