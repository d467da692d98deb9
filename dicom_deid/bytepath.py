"""Byte path: which kept top-level elements the write copies from the input bytes (issue 16).

The pydicom path (read -> plan -> scrub -> write) builds a new dataset holding every element,
kept or not, and then writes it.  On the byte path the plan is the same (``plan_actions`` on the
same parsed dataset, every read.py check included); what changes is only the work done for the
simplest kept elements: a public top-level element kept as read (K, no value, still the raw
element pydicom read, of a valid explicit VR and a defined length) is left out of the scrub and
written as its byte range of the input.  An element emptied (Z) or given a dummy (D) whose new
value depends on nothing but its tag and VR (no pseudonym, no UID: ``scrub.constant_value``) is
left out of the scrub too and written as the bytes element_bytes.py encodes for that same new
element, built once per (action, tag, VR) and only where its encoding is the same in every
character set.  Everything else (replaced by a pseudonym, cleaned, remapped, every sequence,
private elements, the elements the de-identification reads back from the new dataset, file meta)
goes the pydicom way, element by element, as today.

Identical output by construction: today's writer (write.py ``_write_body``) writes such an
element as its tag, VR, length and the value bytes read, which is the byte range of the input
once its header is checked to be in that form (reserved bytes zero).  The input bytes are only
copied when they are exactly what today's writer would produce; ``tests/test_bytepath_identity.py``
compares both paths byte for byte on every test corpus.

Anything else falls back to the pydicom path for the whole file (:func:`choose_copies` returns
the reason): no preamble, not Explicit VR Little Endian (implicit, big endian, deflate), a pixel
stage that may change the image (an instance the stage will leave as it is, such as one of a
series sampled and found clear in ``--pixels auto``, does take the byte path: the stage then
sets nothing, and the method code sequence it claims is written by pydicom either way), a
character set the plan changes.
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field

from pydicom.datadict import tag_for_keyword
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset

from dicom_deid.element_bytes import encode_element
from dicom_deid.plan import Plan
from dicom_deid.profiles import ActionCode, Standard
from dicom_deid.rawscan import ENCAPSULATED, EXPLICIT_LITTLE, LONG_VRS
from dicom_deid.read import keyword_value
from dicom_deid.scrub import constant_value
from dicom_deid.write import Chunk

#: Attributes the de-identification reads back from the new dataset, or sets on it, after the
#: scrub (deidentify.py: routing, links, method attributes; scrub.finish_file_meta;
#: streams.scrub_pixel_stream): they stay in the new dataset, as on the pydicom path.
READ_BACK_KEYWORDS = (
    "SpecificCharacterSet", "SOPClassUID", "SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID",
    "PatientID", "PatientName", "PatientBirthDate", "PatientIdentityRemoved", "DeidentificationMethod",
    "DeidentificationMethodCodeSequence", "LongitudinalTemporalInformationModified", "NumberOfFrames",
    "ExtendedOffsetTable", "ExtendedOffsetTableLengths", "PixelData", "PatientAge",
    # pydicom decodes Pixel Representation whenever a sequence is set on its dataset (to correct
    # US/SS elements): the method code sequence is, so the pydicom path writes it decoded
    "PixelRepresentation",
)
_VALID_VRS = frozenset({"AE", "AS", "AT", "CS", "DA", "DS", "DT", "FD", "FL", "IS", "LO", "LT", "OB", "OD", "OF",
                        "OL", "OV", "OW", "SH", "SL", "SS", "ST", "SV", "TM", "UC", "UI", "UL", "UR", "US", "UT",
                        "UV"})  # no SQ, UN (a sequence in disguise), PN (cleaning reads every name)
_VALID_VR_BYTES: dict[str | None, bytes] = {vr: vr.encode("ascii") for vr in _VALID_VRS}  # as its header writes it
#: VRs whose emptied (Z) or dummy (D) value is encoded once (bytepath._constant_bytes): no UI (a
#: keyed UID), SQ (walked) or UN (the dictionary's VR applies)
_CONSTANT_VRS = (_VALID_VRS | {"PN"}) - {"UI"}
_SYNTAXES = frozenset({EXPLICIT_LITTLE, *ENCAPSULATED})
_CHARSET = 0x00080005
_HEAD_SHORT = struct.Struct("<HH2sH").pack
_HEAD_LONG = struct.Struct("<HH2sH").pack  # the 4-byte length follows: read with the value


@dataclass(frozen=True, slots=True)
class Copies:
    """What the write splices in by tag: ``ranges``, kept elements as their input bytes (header
    and value); ``constants``, emptied or dummy elements as their encoded bytes, the same for every
    file (:func:`_constant_bytes`)."""

    ranges: Mapping[int, Chunk]
    constants: Mapping[int, bytes] = field(default_factory=dict)

    @property
    def spliced(self) -> dict[int, Chunk]:
        """Every element the write splices in (``write.encode_dataset``'s ``copies``)."""
        return {**self.ranges, **self.constants}


@functools.lru_cache(maxsize=16)
def protected_tags(identifying: tuple[str, ...]) -> frozenset[int]:
    """Tags never copied: those read back after the scrub, and the patient's identifying values
    (``Standard.identifying_values``: cleaning reads them from the source mid-scrub)."""
    return frozenset(int(tag_for_keyword(kw) or 0) for kw in (*READ_BACK_KEYWORDS, *identifying)) - {0}


def identifying_keywords(sources: Mapping[str, object]) -> tuple[str, ...]:
    """Every keyword ``Standard.identifying_values`` names (lists, and the keys of mappings)."""
    out: list[str] = []
    for value in sources.values():
        if isinstance(value, Mapping):
            out += [str(k) for k in value] + [str(v) for v in value.values()]
        elif isinstance(value, list | tuple):
            out += [str(v) for v in value]
    return tuple(sorted(set(out)))


def fallback_reason(source: Dataset, data: bytes | None, plan: Plan, *, pixels_may_change: bool) -> str | None:
    """Why this instance takes the pydicom path for the whole file; None when the byte path takes it.

    ``pixels_may_change``: the pixel stage may change the image or set elements after the scrub
    (``PixelStage.leaves_pixels`` is False); an instance it leaves as it is (no pixel stage,
    ``--pixels off``, a series sampled and found clear) may take the byte path."""
    if data is None or len(data) < 132 or data[128:132] != b"DICM":
        return "no preamble"
    if pixels_may_change:
        return "pixel stage"
    if source.original_encoding != (False, True):
        return "not explicit VR little endian"
    syntax = str(keyword_value(source.file_meta, "TransferSyntaxUID", "") or "")
    if syntax not in _SYNTAXES:
        return "transfer syntax"
    if source.original_character_set != source._character_set:
        return "character set"
    charset = plan.actions.get((_CHARSET,))
    if charset is not None and (charset.code is not ActionCode.K or charset.value is not None):
        return "character set changed"
    return None


def choose_copies(source: Dataset, data: bytes, plan: Plan, protected: frozenset[int],
                  standard: Standard) -> Copies:
    """The kept top-level elements whose bytes the write copies, and the emptied or dummy ones
    whose bytes are constant (see the module docstring).

    Call after planning and before the scrub: an element pydicom has decoded since it was read
    is written as pydicom encodes it, so it is not copied.  The scrub makes the same choice in
    its own pass over the elements (``scrub.apply_plan(..., copier=CopyChooser(...))``): this is
    that choice made in a pass of its own."""
    chooser = CopyChooser(data, protected, standard)
    actions = plan.actions
    take, raw_type = chooser.take, RawDataElement
    keep, empty, dummy = ActionCode.K, ActionCode.Z, ActionCode.D
    for key, elem in source._dict.items():
        tag = int(key)  # a BaseTag compares in Python: every set and dict lookup below would call it
        if tag & 0x10000 or not tag & 0xFFFF or tag in protected or type(elem) is not raw_type:
            continue  # private, group length, read back, or decoded
        action = actions[(tag,)]
        code = action.code
        if action.value is None and (code is keep or code is empty or code is dummy):
            take(tag, elem, code)
    return chooser.copies()


class CopyChooser:
    """The byte path's choice, element by element (:func:`choose_copies`, or the scrub's own pass
    over the top level: ``scrub.apply_plan(..., copier=)``).  The caller offers only a raw
    public element that is not a group length, not in ``protected``, planned K, Z or D without
    a value (``take``'s conditions); :meth:`copies` is the answer."""

    __slots__ = ("_constants", "_data", "_dummies", "_pseudonyms", "_ranges", "_view", "protected")

    def __init__(self, data: bytes, protected: frozenset[int], standard: Standard) -> None:
        self._data = data
        self.protected = protected
        self._pseudonyms = standard.pseudonyms
        self._dummies = standard.dummies
        self._ranges: dict[int, Chunk] = {}
        self._constants: dict[int, bytes] = {}
        self._view: memoryview | None = None  # the input's bytes, for ranges too large to copy

    def take(self, tag: int, elem: RawDataElement, code: ActionCode) -> bool:
        """True when the write splices ``elem`` in (its input bytes for K, constant bytes for Z or
        D): it is then left out of the scrub's dataset."""
        if code is not ActionCode.K:  # Z or D
            if tag not in self._pseudonyms and elem[1] in _CONSTANT_VRS:
                constant = _constant_bytes(code, tag, elem[1], self._dummies.get(tag))
                if constant is not None:
                    self._constants[tag] = constant
                    return True
            return False
        _, vr, length, value, tell = elem[:5]  # (tag, VR, length, value, value_tell), by index
        vr_bytes = _VALID_VR_BYTES.get(vr)
        if vr_bytes is None or type(value) is not bytes or len(value) != length:
            return False  # not a valid VR of these (_VALID_VRS), or no value of its length
        if vr in LONG_VRS:
            start = tell - 12
            head = _HEAD_LONG(tag >> 16, tag & 0xFFFF, vr_bytes, 0)
        else:
            start = tell - 8
            head = _HEAD_SHORT(tag >> 16, tag & 0xFFFF, vr_bytes, length)
        data = self._data
        if start < 0 or not data.startswith(head, start):
            return False  # not where pydicom read it, or reserved bytes set: today's writer zeroes them
        if length < _VIEW_FROM:
            self._ranges[tag] = data[start:tell + length]
        else:  # pixel data and other large values: a view, written from the input's bytes, not a copy
            view = self._view
            if view is None:
                view = self._view = memoryview(data)
            self._ranges[tag] = view[start:tell + length]
        return True

    def copies(self) -> Copies:
        return Copies(self._ranges, self._constants)


#: values of this many bytes or more are spliced as views of the input (a copy of a 100 KB image
#: costs a fresh allocation, its page faults and the copy; a view of a few bytes costs more than
#: its copy)
_VIEW_FROM = 4096


@functools.lru_cache(maxsize=4096)  # (code, tag, VR, dummy): no value, no key; bytes built once
def _constant_bytes(code: ActionCode, tag: int, vr: str, dummy: str | None) -> bytes | None:
    """The bytes today's writer writes for the element the scrub builds for Z or D on an element
    that takes no pseudonym (scrub.constant_value: the same value, the same DataElement), encoded
    by element_bytes.py as write.py's byte path encodes it; None unless that encoding is the same
    in every character set (an ASCII-safe one or not) and element_bytes.py takes it."""
    value = constant_value(code, tag, vr, {tag: dummy} if dummy is not None else {})
    elem = DataElement(tag, vr, value)
    plain, other = encode_element(elem, True), encode_element(elem, False)
    return plain if plain is not None and plain == other else None


__all__ = ["READ_BACK_KEYWORDS", "Copies", "CopyChooser", "choose_copies", "fallback_reason", "identifying_keywords",
           "protected_tags"]
