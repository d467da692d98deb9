"""UIDs read from a raw element's bytes as pydicom decodes them, without decoding the element
(issue 16): the plan reads class and scheme UIDs inside sequence items, the scrub reads every UID
it remaps.  Only with pydicom configured as by default; otherwise pydicom decodes the element.
"""

from __future__ import annotations

from pydicom import config as pydicom_config
from pydicom import hooks as pydicom_hooks
from pydicom.charset import default_encoding
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.tag import BaseTag
from pydicom.values import convert_UI


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


def uid_element(raw: RawDataElement) -> DataElement | None:
    """``convert_raw_data_element(raw)`` for a raw element read as UI, without the hooks' dispatch,
    ``convert_value`` and ``DataElement.__init__`` around the conversion: the value is pydicom's own
    ``values.convert_UI`` of the bytes (UI is decoded in the default character set, whatever the
    dataset's), stored as ``already_converted`` stores it, with the same attributes in the same
    order.  None for anything else (no value, an empty one, pydicom configured otherwise): then
    pydicom converts it.  ``tests/test_uid_bytes.py`` compares both on every kind of UI value."""
    value = raw[3]
    if raw[1] != "UI" or type(value) is not bytes or not raw[2] or not _FAST_ELEMENTS or not plain_pydicom():
        return None
    tag = raw[0]
    elem = object.__new__(DataElement)
    elem.__dict__.update(tag=tag if type(tag) is BaseTag else BaseTag(tag), VR="UI",
                         validation_mode=pydicom_config.settings.reading_validation_mode,
                         _value=convert_UI(value, True), file_tell=raw[4], is_undefined_length=raw[2] == 0xFFFFFFFF,
                         private_creator=None)
    return elem


def plain_pydicom() -> bool:
    """pydicom decodes elements as by default: no hook or callback of its own, and an invalid UID
    warns rather than raises (then ``uid_value`` leaves the decoding to pydicom)."""
    return (pydicom_config.settings.reading_validation_mode != pydicom_config.RAISE
            and pydicom_config.data_element_callback is None and not pydicom_hooks.hooks.raw_element_kwargs
            and pydicom_hooks.hooks.raw_element_value is pydicom_hooks.raw_element_value
            and pydicom_hooks.hooks.raw_element_vr is pydicom_hooks.raw_element_vr)


__all__ = ["plain_pydicom", "uid_element", "uid_value"]
