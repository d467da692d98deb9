"""UIDs read from a raw element's bytes as pydicom decodes them, without decoding the element
(issue 16): the plan reads class and scheme UIDs inside sequence items, the scrub reads every UID
it remaps.  Only with pydicom configured as by default; otherwise pydicom decodes the element.
Also the raw elements decoded as pydicom decodes them, with a memo of their decoded values
(``decode_plain``: routing attributes, file meta, the character set).  The memo is the run's
(:class:`DecodeMemo`, ``Engine.decode_memo``), passed down by the caller; without one, every
element is decoded.
"""

from __future__ import annotations

from collections.abc import MutableSequence

from pydicom import config as pydicom_config
from pydicom import hooks as pydicom_hooks
from pydicom.charset import default_encoding
from pydicom.dataelem import DataElement, RawDataElement, convert_raw_data_element
from pydicom.dataset import Dataset
from pydicom.tag import BaseTag
from pydicom.uid import UID
from pydicom.valuerep import AMBIGUOUS_VR, PersonName
from pydicom.values import convert_UI

from dicom_deid.memo import BoundedMemo


def uid_value(src: Dataset, tag: int) -> object:
    """What ``_remap_uids`` reads of ``src[tag].value``, without decoding a raw UI element: pydicom
    decodes one as its bytes in the default character set, trailing nulls and spaces removed, split
    at backslashes (``values.convert_UI``): one string, or a list of them.  The UIDs are the same
    strings as the decoded element's (``tests/test_scrub_rules.py`` compares them); anything but a
    raw element read as UI is decoded by pydicom (``src[tag].value``)."""
    raw = src._dict.get(tag)  # type: ignore[call-overload]  # by int tag: no Tag() conversion
    if type(raw) is RawDataElement and raw[1] == "UI" and type(raw[3]) is bytes and plain_pydicom():
        # convert_UI, then UID() strips each value (and validates it: warnings only, by default)
        parts = [part.strip() for part in raw[3].decode(default_encoding).rstrip("\x00 ").split("\\")]
        return parts if len(parts) > 1 else parts[0]
    return src[tag].value


#: ``uid_element`` builds what this pydicom's ``DataElement.__init__`` builds: the attributes it sets
_ELEMENT_ATTRS = ("tag", "VR", "validation_mode", "_value", "file_tell", "is_undefined_length", "private_creator")
_FAST_ELEMENTS = tuple(DataElement(BaseTag(0x00080018), "UI", "1.2", 0, already_converted=True).__dict__) == _ELEMENT_ATTRS


def uid_element(raw: RawDataElement, memo: DecodeMemo | None = None) -> DataElement | None:
    """``convert_raw_data_element(raw)`` for a raw element read as UI, without the hooks' dispatch,
    ``convert_value`` and ``DataElement.__init__`` around the conversion: the value is pydicom's own
    ``values.convert_UI`` of the bytes (UI is decoded in the default character set, whatever the
    dataset's), stored as ``already_converted`` stores it, with the same attributes in the same
    order.  None for anything else (no value, an empty one, pydicom configured otherwise): then
    pydicom converts it.  ``memo``: the run's, which keeps the UIDs the files of a series share
    (none: each is converted).  ``tests/test_uid_bytes.py`` compares both on every kind of UI value."""
    value = raw[3]
    if raw[1] != "UI" or type(value) is not bytes or not raw[2] or not plain_pydicom():
        return None
    tag = raw[0]
    if memo is None or tag in _INSTANCE_UIDS or len(value) > _MEMO_VALUE_BYTES:
        return converted_element(raw, "UI", convert_UI(value, True))
    # a class, study, series or frame of reference UID: the same in every file of a series
    memo_key = (tag, "UI", value)
    uid = memo.values.get(memo_key)
    if uid is None:
        uid = convert_UI(value, True)
        if type(uid) is UID:  # one UID (an immutable str); several are a MultiValue: never shared
            memo.remember(memo_key, uid)
    return converted_element(raw, "UI", uid)


def converted_element(raw: RawDataElement, vr: str, value: object) -> DataElement | None:
    """What ``convert_raw_data_element(raw)`` returns when pydicom's conversion gives ``value``
    under ``vr`` (``DataElement(raw.tag, vr, value, raw.value_tell, raw.length == 0xFFFFFFFF,
    already_converted=True)``), built without ``DataElement.__init__``: the same attributes in the
    same order.  None where this pydicom's DataElement sets other attributes."""
    if not _FAST_ELEMENTS:
        return None
    tag = raw[0]
    elem = object.__new__(DataElement)
    elem.__dict__.update(tag=tag if type(tag) is BaseTag else BaseTag(tag), VR=vr,
                         validation_mode=pydicom_config.settings.reading_validation_mode,
                         _value=value, file_tell=raw[4], is_undefined_length=raw[2] == 0xFFFFFFFF,
                         private_creator=None)
    return elem


#: Decoded values shared by elements of the same (tag, VR, bytes, encoding, endianness): values
#: of these types only, each immutable (a multi-valued element's MultiValue is a list: never shared)
_SHAREABLE = frozenset({str, int, float, bytes, PersonName})
_MEMO_VALUE_BYTES = 128  # longer values are decoded each time (hashing the key costs with its length)
_MEMO_SIZE = 4096
#: UIDs unique to each instance (SOP Instance UID, its file meta copy): never remembered
_INSTANCE_UIDS = frozenset({0x00080018, 0x00020003})


class DecodeMemo(BoundedMemo[tuple[object, ...], object]):
    """One run's memo of decoded element values (issue 16): (tag, VR, bytes[, encoding,
    endianness]) -> the immutable value pydicom decoded from them (``decode_plain``,
    ``uid_element``).  A pure function of the key, so it changes no result; owned by the engine
    of one process (``Engine.decode_memo``), never module state, and bounded: at ``limit``
    entries it starts again empty."""

    __slots__ = ()

    def __init__(self, limit: int = _MEMO_SIZE) -> None:
        super().__init__(limit)


def decode_plain(raw: RawDataElement, encoding: str | MutableSequence[str], ds: Dataset | None = None,
                 memo: DecodeMemo | None = None) -> DataElement:
    """``convert_raw_data_element(raw, encoding=encoding, ds=ds)`` for a raw element read with its
    value under a plain explicit VR (not SQ, UN or an ambiguous one; not private, not pixel
    data): the element it returns, with the value it decoded before from the same bytes, the
    same way (same tag, VR, encoding and endianness: routing attributes, file meta, the
    character set are the same in every file of a series), where that value is immutable
    (``_SHAREABLE``) and pydicom is configured as by default.  The element is a new one each
    time, built as pydicom builds it (``converted_element``).  ``memo``: the run's (none: the
    value is decoded each time)."""
    value, vr = raw[3], raw[1]
    memo_key = None
    if memo is not None and type(value) is bytes and vr and len(value) <= _MEMO_VALUE_BYTES and plain_pydicom():
        memo_key = (raw[0], vr, value, encoding if type(encoding) is str else tuple(encoding), raw[5], raw[6])
        known = memo.values.get(memo_key)
        if known is not None:
            elem = converted_element(raw, vr, known)
            if elem is not None:
                return elem
    elem = convert_raw_data_element(raw, encoding=encoding, ds=ds)
    if memo_key is not None and memo is not None and elem.VR == vr and type(elem._value) in _SHAREABLE:
        memo.remember(memo_key, elem._value)
    return elem


#: Raw VRs ``decoded_element`` leaves to ``Dataset.__getitem__``: a sequence (its items get the
#: Pixel Representation), UN (its VR is looked up), ambiguous ones (corrected from the dataset)
_NOT_PLAIN_VRS = frozenset({"SQ", "UN", *AMBIGUOUS_VR})
_CHARSET_TAG = 0x00080005


def decoded_element(ds: Dataset, key: BaseTag | int, memo: DecodeMemo | None = None) -> DataElement:
    """``ds[key]`` for ``key`` one of ``ds``'s own keys (``read.decoded``, which documents it);
    ``memo``: the run's :class:`DecodeMemo`, or none."""
    raw = ds._dict[key]  # type: ignore[index]
    tag = int(key)  # an int compares in C (a BaseTag in Python)
    if (type(raw) is RawDataElement and raw[3] is not None and raw[1] and raw[1] not in _NOT_PLAIN_VRS
            and not tag >> 16 & 1 and tag >> 16 != 0x7FE0):
        elem = uid_element(raw, memo) if raw[1] == "UI" else None  # a UID: the same element, built directly
        if elem is None:
            encoding = (default_encoding if tag == _CHARSET_TAG
                        else ds.original_character_set or ds._character_set)
            elem = decode_plain(raw, encoding, ds, memo)
        ds._dict[key] = elem  # type: ignore[index]
        return elem
    return ds[key]


def plain_pydicom() -> bool:
    """pydicom decodes elements as by default: no hook or callback of its own, and an invalid UID
    warns rather than raises (then ``uid_value`` leaves the decoding to pydicom)."""
    return (pydicom_config.settings.reading_validation_mode != pydicom_config.RAISE
            and pydicom_config.data_element_callback is None and not pydicom_hooks.hooks.raw_element_kwargs
            and pydicom_hooks.hooks.raw_element_value is pydicom_hooks.raw_element_value
            and pydicom_hooks.hooks.raw_element_vr is pydicom_hooks.raw_element_vr)


__all__ = ["DecodeMemo", "converted_element", "decode_plain", "decoded_element", "plain_pydicom", "uid_element", "uid_value"]
