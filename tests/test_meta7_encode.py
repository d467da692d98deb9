"""element_bytes.encode_element leaves a value read from a file (a buffered one) to pydicom,
and encodes the plain values it takes as pydicom's writer does."""

from __future__ import annotations

import io

from pydicom.dataelem import DataElement
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_data_element

from dicom_deid.element_bytes import encode_element


def _pydicom(elem: DataElement) -> bytes:
    fp = DicomBytesIO()
    fp.is_little_endian, fp.is_implicit_VR = True, False
    write_data_element(fp, elem)
    return fp.getvalue()


def test_a_buffered_value_is_left_to_pydicom() -> None:
    elem = DataElement(0x00091010, "OB", io.BufferedReader(io.BytesIO(b"\x01\x02")))
    assert elem.is_buffered
    assert encode_element(elem, True) is None


def test_plain_values_are_encoded_as_pydicom_writes_them() -> None:
    for elem in (DataElement(0x00100020, "LO", "ID1"), DataElement(0x00080018, "UI", "1.2.3"),
                 DataElement(0x00280010, "US", 512), DataElement(0x00091011, "OB", b"\x01\x02\x03"),
                 DataElement(0x00080060, "CS", None)):
        assert encode_element(elem, True) == _pydicom(elem), elem
