"""uid_bytes.uid_element (issue 16): the element pydicom's ``convert_raw_data_element`` builds for
a raw UI element, built without its dispatch; pydicom itself is the oracle.  read.py decodes the
routing UIDs and the file meta UIDs with it, so every input's header goes through it."""

from __future__ import annotations

import warnings
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydicom import config, hooks
from pydicom.dataelem import DataElement, RawDataElement, convert_raw_data_element
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.tag import BaseTag

from dicom_deid.read import decoded
from dicom_deid.uid_bytes import uid_element

_ODD = (b"1.2.840.10008.1.2.1\x00", b"1.2.3", b"1.2.3 ", b"1.2.3\x00 \x00", b"\x00", b" ", b"1.2.3\\4.5.6\x00",
        b"1.2\\\\3", b"\\", b"1.2.3\\", b" 1.2.3", b"1.2\x003", b"1.2.\xe9", b"1.2.3\\4.5.6\\7.8 \x00", b"a.b",
        b"1." * 40)


def _raw(value: bytes | None, *, tag: int = 0x0020000D, length: int | None = None, tell: int = 132,
         vr: str = "UI") -> RawDataElement:
    size = len(value or b"") if length is None else length
    return RawDataElement(BaseTag(tag), vr, size, value, tell, False, True)


def _pydicom(raw: RawDataElement) -> DataElement:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return convert_raw_data_element(raw)


def _same(fast: DataElement | None, slow: DataElement) -> None:
    """The same object: the same attributes in the same order, equal values of the same types."""
    assert fast is not None
    assert list(fast.__dict__) == list(slow.__dict__)
    for name, expected in slow.__dict__.items():
        got = fast.__dict__[name]
        assert type(got) is type(expected), name
        assert got == expected, name
    if isinstance(slow.value, MultiValue):
        assert [type(v) for v in fast.value] == [type(v) for v in slow.value]
        assert [str(v) for v in fast.value] == [str(v) for v in slow.value]


@pytest.mark.parametrize("value", _ODD)
def test_odd_uid_values_make_the_element_pydicom_makes(value: bytes) -> None:
    raw = _raw(value)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fast = uid_element(raw)
    _same(fast, _pydicom(raw))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=70), st.sampled_from([0x00020010, 0x00080016, 0x0020000D, 0x00081155]),
       st.integers(0, 1 << 20), st.booleans())
def test_any_uid_bytes_make_the_element_pydicom_makes(value: bytes, tag: int, tell: int, undefined: bool) -> None:
    raw = _raw(value, tag=tag, tell=tell, length=0xFFFFFFFF if undefined else None)
    if not raw.length:
        assert uid_element(raw) is None  # empty: pydicom's own empty value
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fast = uid_element(raw)
    _same(fast, _pydicom(raw))


@pytest.mark.parametrize("raw", [_raw(b""), _raw(None, length=0), _raw(b"1.2.3 ", vr="LO"), _raw(b"1.2", vr="UN")])
def test_anything_but_a_valued_raw_uid_is_left_to_pydicom(raw: RawDataElement) -> None:
    assert uid_element(raw) is None


@pytest.mark.parametrize("setting", ["raise", "callback", "hook"])
def test_pydicom_configured_otherwise_converts_it_itself(setting: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def callback(raw: RawDataElement, **kwargs: Any) -> RawDataElement:
        return raw

    def value_hook(raw: RawDataElement, data: dict[str, Any], **kwargs: Any) -> None:
        data["value"] = "9.9"

    if setting == "raise":
        monkeypatch.setattr(config.settings, "_reading_validation_mode", config.RAISE)
    elif setting == "callback":
        monkeypatch.setattr(config, "data_element_callback", callback)
    else:
        monkeypatch.setattr(hooks.hooks, "raw_element_value", value_hook)
    assert uid_element(_raw(b"1.2.3\x00")) is None


def test_read_decodes_a_uid_in_place_as_pydicom_does() -> None:
    """``read.decoded`` stores the element it builds in place of the raw one, as ``ds[key]`` does."""
    value = b"1.2.826.0.1.3680043.2.1125.1\\1.2.3\x00"
    fast_ds, slow_ds = Dataset(), Dataset()
    key = BaseTag(0x00081155)
    for ds in (fast_ds, slow_ds):
        ds._dict[key] = _raw(value, tag=key)
    elem = decoded(fast_ds, key)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = slow_ds[key]
    assert fast_ds._dict[key] is elem
    _same(elem, expected)
