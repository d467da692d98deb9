"""Scrub: apply a Plan to a dataset, producing a new dataset and the mapping links.

The source dataset is never mutated: kept elements are shared as immutable raw
elements (so their bytes are written back unchanged, pixel data included) and
changed elements are new objects.  Replacement values come from ``remap``;
text cleaning from ``clean``.  No files, no pixels.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Container, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from pydicom import config as pydicom_config
from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence
from pydicom.tag import BaseTag
from pydicom.uid import UID
from pydicom.valuerep import MAX_VALUE_LEN

from dicom_deid.clean import PatientPattern, clean_text, patient_identifiers
from dicom_deid.items_fast import new_dataset, new_sequence, sequence_element
from dicom_deid.links import Link, LinkKind
from dicom_deid.plan import ElementAction, Plan, TagPath, element_vr
from dicom_deid.profiles import ActionCode, DateMethod, Profile, Standard
from dicom_deid.read import has_keyword, keyword_attribute
from dicom_deid.remap import (
    Remapper,
    UidMemo,
    shift_date,
    shift_datetime,
    year_only_date,
    year_only_datetime,
)
from dicom_deid.uid_bytes import DecodeMemo, decoded_element, uid_value

PATIENT_AGE = 0x00101010
_TEXT_VRS = frozenset({"AE", "CS", "LO", "LT", "PN", "SH", "ST", "UC", "UT", "UR"})
_NUMERIC_TEXT = {"DS": "0", "IS": "0"}
# D is "a non-zero length value": never empty (a UID gets a keyed replacement instead).
_DUMMY_TEXT = {"AE": "ANONYMOUS", "CS": "ANONYMIZED", "AS": "000Y", "DA": "19000101", "TM": "000000",
               "DT": "19000101000000", "PN": "ANONYMOUS", "UR": "ANONYMIZED"}
_BINARY_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "UN"})
_NUMERIC_VRS = frozenset({"FL", "FD", "SL", "SS", "UL", "US", "SV", "UV", "AT"})
_UID_LINK_KINDS = {
    0x0020000D: LinkKind.STUDY_UID,
    0x0020000E: LinkKind.SERIES_UID,
    0x00080018: LinkKind.SOP_INSTANCE_UID,
}
_PIXEL_TAGS = frozenset({0x7FE00008, 0x7FE00009, 0x7FE00010})  # pydicom's PIXEL_KEYWORDS
#: VRs a kept raw element is not stored as is for: a sequence (walked), unknown (dictionary VR)
_NOT_PLAIN = frozenset({"SQ", "UN"})
_AGE = re.compile(r"^\s*(\d{1,3})\s*([DWMY]?)\s*$", re.IGNORECASE)  # AS, or a non-conformant spelling


@dataclass
class ScrubContext:
    """Per-instance inputs of the scrub (built by the pipeline; no global state)."""

    profile: Profile
    standard: Standard
    remapper: Remapper
    patient_key: str
    date_offset_days: int
    source: Dataset  # the original instance: this patient's own values, for cleaning text
    needs_vr: bool = False  # output is explicit VR but the source was read as implicit VR
    patient_id: str | None = None  # the subject map's subject ID for this patient (else keyed)
    patient_name: str | None = None  # the subject map's name for this patient (else keyed)
    uid_memo: UidMemo | None = None  # the run's memo of remapper.uid (Engine.uid_memo); None: none
    decode_memo: DecodeMemo | None = None  # the run's memo of decoded values (Engine.decode_memo); None: none
    links: list[Link] = field(default_factory=list)
    _seen_uids: set[tuple[str, LinkKind]] = field(default_factory=set)
    _pattern: PatientPattern | None = None
    _compiled: bool = False

    @property
    def patient_pattern(self) -> PatientPattern | None:
        """Compiled on first use: most profiles never clean text, and compiling costs."""
        if not self._compiled:
            ident = patient_identifiers(self.source, self.standard.identifying_values)[0]
            self._pattern, self._compiled = ident.pattern(), True
        return self._pattern


class Copier(Protocol):
    """The byte path's choice of the top-level elements the write splices in (``bytepath.CopyChooser``)."""

    protected: frozenset[int]

    def take(self, tag: int, elem: RawDataElement, code: ActionCode) -> bool: ...


def apply_plan(source: Dataset, plan: Plan, ctx: ScrubContext, *, skip: Container[int] = (),
               copier: Copier | None = None) -> Dataset:
    """Return a new dataset with every planned action applied (file meta not included).

    ``skip``: top-level tags left out of the new dataset whatever their action (the byte path's
    copied elements, ``bytepath.Copies``: the write splices them in as bytes).  ``copier`` (the
    byte path): offered, in the same pass, each top-level element it may splice in (a raw public
    element, not a group length nor one of ``copier.protected``, planned K, Z or D without a
    value, as it is when the pass reaches it: only an element's own action decodes it); one it
    takes is left out of the new dataset, as one of ``skip``."""
    out = new_dataset()
    _apply(source, out, plan, ctx, (), skip, copier)
    out.set_original_encoding(
        source.original_encoding[0], source.original_encoding[1], source.original_character_set
    )
    return out


def _apply(src: Dataset, dst: Dataset, plan: Plan, ctx: ScrubContext, prefix: TagPath,
           skip: Container[int] = (), copier: Copier | None = None) -> None:
    actions, elements, out = plan.actions, src._dict, dst._dict
    remove, keep, raw_type = ActionCode.X, ActionCode.K, RawDataElement  # locals: read for every element
    emptied, dummied = ActionCode.Z, ActionCode.D
    take, protected = (copier.take, copier.protected) if copier is not None else (None, frozenset())
    # pydicom is handed the source's own key (a BaseTag): a lookup with it finds itself (no Tag()
    # conversion, no BaseTag.__eq__ in Python); our tables are looked up with the int ``tag``
    for key in list(elements):  # the source's keys (BaseTag): ``for tag in src`` converts every element
        tag = int(key)
        if tag in skip:
            continue
        path = prefix + (tag,)
        action = actions[path]
        code = action.code
        if code is remove:
            continue
        raw = elements[key]  # as it is now: an earlier action may have decoded it (cleaning reads names)
        if (take is not None and action.value is None and type(raw) is raw_type and not tag & 0x10000
                and tag & 0xFFFF and tag not in protected and (code is keep or code is emptied or code is dummied)
                and take(tag, raw, code)):
            continue  # spliced in by the write (bytepath.CopyChooser)
        if (code is keep and action.value is None and type(raw) is raw_type and raw[3] is not None
                and raw[1] and raw[1] not in _NOT_PLAIN and not tag >> 16 & 1 and tag != PATIENT_AGE):
            # a kept raw public element (not a sequence, not pixel data): what ``dst[tag] = raw`` stores
            out[key] = raw
            continue
        # element_vr's common cases: a raw element read with its value, a DataElement (a sequence)
        vr = (raw[1] if raw[3] is not None else None) if type(raw) is raw_type else (
            raw.VR if type(raw) is DataElement else None)
        if not vr or vr == "UN" or type(vr) is not str:
            vr = element_vr(src, key)
        if vr == "SQ":
            _apply_sequence(src, dst, key, action, plan, ctx, path)
            continue
        if action.value is not None:
            _put(dst, DataElement(key, vr, _fit(action.value, vr)))
        elif code is ActionCode.K:
            raw = src.get_item(key)
            if tag == PATIENT_AGE and ctx.profile.age_cap_years is not None:
                _put(dst, DataElement(key, vr, _cap_age(src[key].value, ctx.profile.age_cap_years)))
            elif ctx.needs_vr and raw.VR is None:
                elem = src[key]
                _put(dst, DataElement(key, elem.VR, elem.value))
            else:
                _put(dst, raw)  # immutable raw element: its bytes are written as read
        elif code is ActionCode.Z:
            pseudo = _pseudonym(tag, src, ctx)
            value = pseudo if pseudo is not None else constant_value(code, tag, vr, ctx.standard.dummies)
            _put(dst, new_element(key, vr, value))
        elif code is ActionCode.D and vr == "UI":  # a dummy UID is a keyed replacement, never empty
            _put(dst, new_element(key, vr, _remap_uids(tag, uid_value(src, key), ctx, nested=bool(prefix)) or
                                    ctx.remapper.uid(f"dummy:{tag:08X}")))
        elif code is ActionCode.D:  # never empty: a pseudonym, the attribute's dummy or the VR's
            dummy = _pseudonym(tag, src, ctx) or constant_value(code, tag, vr, ctx.standard.dummies)
            _put(dst, new_element(key, vr, dummy))
        elif code is ActionCode.U:
            _put(dst, new_element(key, vr, _remap_uids(tag, uid_value(src, key), ctx, nested=bool(prefix))))
        elif code is ActionCode.C:
            _put(dst, DataElement(key, vr, _clean(tag, vr, src[key].value, ctx, nested=bool(prefix))))


#: VRs whose one ``str`` value (no backslash) ``DataElement`` stores as it is, once validated
#: (``DataElement._convert``: no conversion for them); DA, DT and TM too while pydicom converts
#: no dates (``config.datetime_conversion``, off by default)
_STORED_AS_IS = frozenset({"AE", "AS", "CS", "LO", "LT", "SH", "ST", "UC", "UT", "UR"})
_DATES = frozenset({"DA", "DT", "TM"})
_MISSING = object()
#: new_element builds what this pydicom's ``DataElement.__init__`` builds: the attributes it sets
_FAST_ELEMENTS = tuple(DataElement(BaseTag(0x00100020), "LO", "").__dict__) == (
    "tag", "VR", "validation_mode", "_value", "file_tell", "is_undefined_length", "private_creator")


def new_element(tag: int, vr: str, value: object) -> DataElement:
    """``DataElement(tag, vr, value)`` for a value the de-identification made (a remapped UID, a
    pseudonym, an emptied or dummy value: each valid for its VR by construction), without
    pydicom's per-element tag conversion, backslash test, conversion dispatch and validation.

    The same object: the same attributes in the same order, the value stored as pydicom stores
    it (a ``UID`` of the stripped string for UI, the string itself for the VRs of
    ``_STORED_AS_IS``, None as None).  Only where validation can only warn (its one effect on a
    valid value is none); anything else, or any other value, is built by pydicom
    (``tests/test_scrub_rules.py`` compares both)."""
    if type(value) is UID and not hasattr(value, "_PRIVATE_TS_ENCODING"):
        value = str(value)  # UID() of a UID is the UID of its string (a private syntax's encoding aside)
    if (type(value) is str or value is None) and _FAST_ELEMENTS \
            and (mode := pydicom_config.settings.reading_validation_mode) != pydicom_config.RAISE:
        stored: object = _MISSING
        if value is None:
            if vr in _STORED_AS_IS or vr == "UI" or (vr in _DATES and not pydicom_config.datetime_conversion):
                stored = None
        elif "\\" not in value:
            if vr == "UI":
                stored = str.__new__(UID, value.strip())
            elif vr in _STORED_AS_IS or (vr in _DATES and not pydicom_config.datetime_conversion):
                stored = value
        if stored is not _MISSING:
            elem = object.__new__(DataElement)
            elem.__dict__.update(tag=tag if type(tag) is BaseTag else BaseTag(tag), VR=vr,
                                 validation_mode=mode, _value=stored,
                                 file_tell=None, is_undefined_length=False, private_creator=None)
            return elem
    return DataElement(tag, vr, value)


def constant_value(code: ActionCode, tag: int, vr: str, dummies: Mapping[int, str]) -> object:
    """The value Z (empty) or D (the attribute's dummy, else the VR's) gives an element whose tag
    takes no pseudonym (``Standard.pseudonyms``) and whose VR is not UI (``dummies``: ``Standard.dummies``): it depends on nothing
    else (not the value, not the key), so the byte path may encode it once (bytepath.py)."""
    if code is ActionCode.Z:
        return _empty(vr)
    return dummies.get(tag) or _dummy(vr)


def _put(dst: Dataset, elem: DataElement | RawDataElement) -> None:
    """``dst[elem.tag] = elem``.  For a public element that is not a sequence or pixel data, that
    stores it under its tag and nothing else (pydicom's ``__setitem__`` first converts the key and
    checks it, then handles only private blocks, pixel data and sequences)."""
    tag = elem.tag
    if tag >> 16 & 1 or tag in _PIXEL_TAGS or elem.VR == "SQ":
        dst[tag] = elem
    else:
        dst._dict[tag] = elem


def _apply_sequence(
    src: Dataset, dst: Dataset, tag: int, action: ElementAction, plan: Plan, ctx: ScrubContext, path: TagPath
) -> None:
    if action.code is ActionCode.Z or (action.value is not None and action.value == ""):
        set_sequence(dst, tag, [])
        return
    items = []
    for i, item in enumerate(src[tag].value or ()):
        new_item = new_dataset()
        _apply(item, new_item, plan, ctx, path + (i,))
        items.append(new_item)
    set_sequence(dst, tag, items)


_PIXEL_REPRESENTATION = 0x00280103
#: set_sequence's Pixel Representation steps: a Dataset's ``_pixel_rep`` is an attribute of the
#: instance alone (``hasattr`` finds it in its dict)
_INSTANCE_PIXEL_REP = not hasattr(Dataset, "_pixel_rep") and not hasattr(Dataset, "__slots__")


def set_sequence(dst: Dataset, tag: int, items: list[Dataset]) -> None:
    """``dst[tag] = DataElement(tag, "SQ", Sequence(items))`` for a public tag and a list of
    datasets, without pydicom's tag conversions, checks and value setter: the same element (the
    same attributes in the same order, a Sequence holding ``items``), stored under its tag, then
    what ``Dataset.__setitem__`` does after storing a sequence (``_set_pixel_representation``:
    the Pixel Representation of ``dst``, decoded there if it holds one, else the one it was
    given, handed to each item), with ``hasattr(ds, "_pixel_rep")`` read from the instance's
    dict (``tests/test_meta17_one_pass.py`` compares both).  A private tag (its creator is
    looked up), or a pydicom that builds these objects otherwise, goes through pydicom."""
    if tag >> 16 & 1 or not _INSTANCE_PIXEL_REP or any(type(item) is not Dataset for item in items):
        dst[tag] = DataElement(tag, "SQ", Sequence(items))
        return
    key = tag if type(tag) is BaseTag else BaseTag(tag)
    dst._dict[key] = sequence_element(key, new_sequence(items), None, False)  # DataElement(tag, "SQ", Sequence(items))
    # Dataset._set_pixel_representation(elem), as __setitem__ calls it
    attrs = dst.__dict__
    pr: object = None
    if _PIXEL_REPRESENTATION in dst._dict:
        pr = dst[_PIXEL_REPRESENTATION].value
    elif "_pixel_rep" in attrs:
        pr = attrs["_pixel_rep"]
    if pr is not None:
        attrs["_pixel_rep"] = int(b"\x01" in pr) if isinstance(pr, bytes) else pr
    has_rep = "_pixel_rep" in attrs
    for item in items:
        inner = item._dict.get(_PIXEL_REPRESENTATION)  # type: ignore[call-overload]  # an int finds a BaseTag key
        if inner is not None:
            value = inner.value
            if value is not None:
                item.__dict__["_pixel_rep"] = int(b"\x01" in value) if isinstance(value, bytes) else value
            elif has_rep:
                item.__dict__["_pixel_rep"] = attrs["_pixel_rep"]
        elif has_rep:
            item.__dict__["_pixel_rep"] = attrs["_pixel_rep"]


def _pseudonym(tag: int, src: Dataset, ctx: ScrubContext) -> str | None:
    kind = ctx.standard.pseudonyms.get(tag)
    if kind is None:
        return None
    derive = ctx.uid_memo if ctx.uid_memo is not None else ctx.remapper  # the same answers, remembered
    if kind == "patient_id":
        return ctx.patient_id or derive.patient_id(ctx.patient_key)
    if kind == "patient_name":
        return ctx.patient_name or derive.patient_name(ctx.patient_key)
    original = str(decoded_element(src, tag, ctx.decode_memo).value or "").strip()  # src[tag], by its own key
    if not original:
        return ""
    if kind == "accession_number":
        value = ctx.remapper.accession_number(original)
        ctx.links.append(Link(LinkKind.ACCESSION_NUMBER, original, value))
        return value
    value = ctx.remapper.other_id(original)
    ctx.links.append(Link(LinkKind.OTHER_ID, original, value))
    return value


def _empty(vr: str) -> object:
    return b"" if vr in _BINARY_VRS else None if vr in _NUMERIC_VRS else ""


def _dummy(vr: str) -> object:
    if vr in _BINARY_VRS:
        return b"\x00\x00"
    if vr in _NUMERIC_VRS:
        return 0
    if vr in _NUMERIC_TEXT:
        return _NUMERIC_TEXT[vr]
    return _DUMMY_TEXT.get(vr, "ANONYMIZED")


def _fit(value: str, vr: str) -> str:
    limit = MAX_VALUE_LEN.get(vr)
    return value[:limit] if limit else value


def _values(value: object) -> list[object]:
    if isinstance(value, MultiValue | list | tuple):
        return list(value)
    return [] if value is None or value == "" else [value]


def _remap_uids(tag: int, value: object, ctx: ScrubContext, *, nested: bool = False) -> object:
    """Remap every UID value; record each link once per instance.

    Only the instance's own top-level Study/Series/SOP Instance UIDs are linked as such; the same
    attributes inside sequences are references to other instances and are linked as OTHER_UID.
    """
    originals = [str(v) for v in _values(value)]
    kind = LinkKind.OTHER_UID if nested else _UID_LINK_KINDS.get(tag, LinkKind.OTHER_UID)
    new = []
    derive = ctx.uid_memo.uid if ctx.uid_memo is not None else ctx.remapper.uid
    for uid in originals:
        uid = uid.strip().rstrip("\x00")
        if not uid:
            continue
        replacement = derive(uid)
        if (uid, kind) not in ctx._seen_uids:
            ctx._seen_uids.add((uid, kind))
            ctx.links.append(Link(kind, uid, replacement))
        new.append(replacement)
    if not new:
        return ""
    return new if len(new) > 1 else new[0]


def _clean(tag: int, vr: str, value: object, ctx: ScrubContext, *, nested: bool = False) -> object:
    if vr == "UI":
        return _remap_uids(tag, value, ctx, nested=nested)
    if vr in ("DA", "DT"):
        return _clean_dates(vr, value, ctx)
    if vr == "TM":  # whole-day shifts keep the time of day; year-only keeps no element of a date
        return value if ctx.profile.date_method is not DateMethod.YEAR else _midnight(value)
    if tag == PATIENT_AGE and ctx.profile.age_cap_years is not None:
        return _cap_age(value, ctx.profile.age_cap_years)
    if vr in _TEXT_VRS:
        cleaned = [_fit(clean_text(str(v), ctx.patient_pattern), vr) for v in _values(value)]
        return cleaned if len(cleaned) > 1 else (cleaned[0] if cleaned else "")
    return value  # numbers and codes carry no free text


def _clean_dates(vr: str, value: object, ctx: ScrubContext) -> object:
    out = []
    for v in _values(value):
        text = str(v)
        if ctx.profile.date_method is DateMethod.YEAR:
            new = year_only_date(text) if vr == "DA" else year_only_datetime(text)
        elif vr == "DA":
            new = shift_date(text, ctx.date_offset_days)
        else:
            new = shift_datetime(text, ctx.date_offset_days)
        out.append(new if new is not None else "")  # unparseable: emptied, never kept
    if not out:
        return ""
    return out if len(out) > 1 else out[0]


def _midnight(value: object) -> object:
    out = ["000000" for _ in _values(value)]
    return out if len(out) > 1 else (out[0] if out else "")


def _cap_age(value: object, cap: int) -> object:
    """Ages in years above ``cap`` become ``cap + 1`` years; a value without a unit counts as
    years; a value that is no age at all is emptied, never kept (fail closed)."""
    text = str(value or "")
    m = _AGE.match(text)
    if m is None:
        return "" if text.strip() else value
    if m.group(2).upper() in ("Y", "") and int(m.group(1)) > cap:
        return f"{cap + 1:03d}Y"
    return value


def finish_file_meta(meta: Dataset, dataset: Dataset, implementation_uid: str, version: str) -> None:
    """After the plan ran over the file meta: align it with the scrubbed dataset, sign it as ours."""
    set_plain(meta, "MediaStorageSOPInstanceUID", keyword_attribute(dataset, "SOPInstanceUID"))
    set_plain(meta, "MediaStorageSOPClassUID", keyword_attribute(dataset, "SOPClassUID"))
    set_plain(meta, "ImplementationClassUID", implementation_uid)
    set_plain(meta, "ImplementationVersionName", version)
    if not has_keyword(meta, "FileMetaInformationVersion"):
        set_plain(meta, "FileMetaInformationVersion", b"\x00\x01")


@functools.lru_cache(maxsize=64)  # a pure dictionary lookup, for the few keywords set_plain sets
def _plain_tag(keyword: str) -> tuple[int, str]:
    tag = tag_for_keyword(keyword)
    if tag is None or tag >> 16 & 1 or tag in _PIXEL_TAGS or dictionary_VR(tag) in ("SQ", "UN") \
            or " or " in dictionary_VR(tag):
        raise ValueError(f"{keyword}: set_plain sets plain public elements only")
    return tag, dictionary_VR(tag)


def set_plain(ds: Dataset, keyword: str, value: object) -> None:
    """``setattr(ds, keyword, value)`` for a public element of one VR that is not a sequence or
    pixel data (the method attributes, the file meta group ours sets).  Where ``ds`` has no such
    element yet, pydicom's ``__setattr__`` builds ``DataElement(tag, dictionary VR, value)`` and
    stores it under its tag and does nothing else (``__setitem__`` handles only private blocks,
    pixel data and sequences, and a file meta group's check of group 2, which these keywords
    are): that is done here without its per-call keyword and tag conversions.  An element already
    there keeps its VR and takes the value: a decoded one of the dictionary's VR is replaced by
    the element ``new_element`` builds for that VR and value, in its place (``__setattr__`` would
    set that value on the element there, the same object, which can be the source's own: a kept
    element of the scrub, or of the file meta group, is the source's decoded one), any other by
    pydicom."""
    tag, vr = _plain_tag(keyword)
    there = ds._dict.get(tag)  # type: ignore[call-overload]  # an int finds a BaseTag key
    if there is not None:
        if type(there) is DataElement and there.VR == vr:
            ds._dict[there.tag] = new_element(there.tag, vr, value)
        elif type(there) is DataElement:
            there.value = value
        else:
            setattr(ds, keyword, value)
        return
    elem = new_element(tag, vr, value)
    ds._dict[elem.tag] = elem  # keyed by its BaseTag, as __setitem__ keys it (writers read .group)


__all__ = ["ScrubContext", "apply_plan", "constant_value", "finish_file_meta", "new_dataset", "set_plain",
           "set_sequence"]
