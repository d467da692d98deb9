"""The bundled pydicom files whose pixel data and technical attributes are re-used, stripped of
identity, dates, UIDs, sequences and private elements."""

from __future__ import annotations

from pathlib import Path

import pydicom
import pydicom.data
from pydicom import Dataset, dcmread
from pydicom.uid import UID

BUNDLED_DIR = Path(pydicom.data.__file__).parent / "test_files"
#: the bundled files whose pixel data and technical attributes are re-used
# fmt: off
TEMPLATE_FILES = {"CT": "CT_small.dcm", "MR": "MR_small.dcm", "MR_RLE": "MR_small_RLE.dcm",
                  "MR_BE": "MR_small_bigendian.dcm", "DFL": "image_dfl.dcm",
                  "US": "examples_rgb_color.dcm", "SC": "SC_rgb_rle_2frame.dcm",
                  "RTDOSE": "rtdose.dcm"}
# fmt: on

_DROP_GROUPS = {0x0010, 0x0032, 0x0038, 0x0040, 0x300C, 0xFFFC}
_DROP_VRS = {"DA", "TM", "DT", "PN", "UI", "LT", "ST", "UT", "SQ", "AS"}
_KEEP_0008 = {"SpecificCharacterSet", "ImageType", "Modality", "Manufacturer",
              "ManufacturerModelName", "ConversionType"}  # fmt: skip
_DROP_KEYWORDS = {"StudyID", "DeviceSerialNumber"}


def _load_template(name: str) -> tuple[Dataset, UID]:
    """A bundled file stripped of identity, dates, UIDs, sequences and private elements."""
    src = dcmread(BUNDLED_DIR / name)
    ts = src.file_meta.TransferSyntaxUID
    ds = Dataset()
    for elem in src:
        kw = elem.keyword
        drop = (
            elem.tag.is_private
            or elem.tag.group in _DROP_GROUPS
            or (elem.VR in _DROP_VRS and kw != "SOPClassUID")
            or (elem.tag.group == 0x0008 and kw not in _KEEP_0008 and kw != "SOPClassUID")
            or kw in _DROP_KEYWORDS
        )
        if not drop:
            ds.add(elem)
    ds.SpecificCharacterSet = "ISO_IR 100"
    return ds, ts


def _templates() -> dict[str, tuple[Dataset, UID]]:
    return {key: _load_template(name) for key, name in TEMPLATE_FILES.items()}
