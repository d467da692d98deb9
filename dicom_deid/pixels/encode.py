"""Write redacted frames back into a dataset.  Never switches to a lossy syntax silently.

* native syntaxes (Implicit/Explicit VR Little Endian, Deflated) stay as they were;
* lossless compressed syntaxes (RLE, JPEG-LS lossless, JPEG 2000 lossless) are re-encoded
  in the same syntax, and the new stream is decoded again and compared with the redacted
  array before it is accepted;
* everything else (JPEG baseline/extended/lossless, JPEG-LS near-lossless, JPEG 2000
  part 1 lossy, big endian, HTJ2K ...) is written as Explicit VR Little Endian.  When the
  source had lossy history, Lossy Image Compression stays "01" (PS3.3 C.7.6.1.1.5) and the
  method is recorded if it was missing.

The SOP Instance UID is never changed here (remapping belongs to ``remap.py``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from pydicom.dataset import Dataset
from pydicom.uid import (
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGLSLossless,
    JPEGLSNearLossless,
    RLELossless,
)

from dicom_deid.errors import PixelError
from dicom_deid.pixels.decode import PixelFacts, decode_array

if TYPE_CHECKING:
    import numpy.typing as npt

logger = logging.getLogger(__name__)

_NATIVE = frozenset(
    {ImplicitVRLittleEndian, ExplicitVRLittleEndian, DeflatedExplicitVRLittleEndian}
)
#: Syntaxes re-encoded in place.  JPEG-LS near-lossless is written with NEAR = 0, which is
#: a lossless stream in the same syntax.  JPEG 2000 (.91) is not: pydicom's encoder only
#: writes irreversible streams for it, so it goes to Explicit VR Little Endian.
_LOSSLESS_REENCODE = frozenset({RLELossless, JPEGLSLossless, JPEGLSNearLossless, JPEG2000Lossless})
_LOSSY_METHOD = {
    "1.2.840.10008.1.2.4.50": "ISO_10918_1",
    "1.2.840.10008.1.2.4.51": "ISO_10918_1",
    "1.2.840.10008.1.2.4.81": "ISO_14495_1",
    "1.2.840.10008.1.2.4.91": "ISO_15444_1",
    "1.2.840.10008.1.2.4.203": "ISO_15444_15",
}


@dataclass(frozen=True, slots=True)
class EncodeResult:
    transfer_syntax: UID
    note: str


def encode_frames(
    target: Dataset, frames: npt.NDArray[np.generic], facts: PixelFacts
) -> EncodeResult:
    """Replace ``target``'s Pixel Data with ``frames`` (F × R × C [× S])."""
    source_uid = facts.transfer_syntax
    arr = frames if facts.frames > 1 else frames[0]
    _set_image_pixel_attributes(target, facts)
    if source_uid in _NATIVE:
        _set_native(target, arr, facts, source_uid)
        return EncodeResult(source_uid, "native")
    if source_uid in _LOSSLESS_REENCODE and _lossless_codec_accepts(source_uid, facts):
        try:
            _compress(target, arr, source_uid)
        except (ValueError, RuntimeError, TypeError, NotImplementedError) as exc:
            logger.info("re-encoding %s failed (%s); writing uncompressed", source_uid.name, exc)
        else:
            return EncodeResult(source_uid, f"re-encoded {source_uid.name}")
    if not source_uid.is_little_endian:
        _leave_big_endian(target)
    _set_native(target, arr, facts, ExplicitVRLittleEndian)
    if facts.lossy_history:
        target.LossyImageCompression = "01"
        if "LossyImageCompressionMethod" not in target and str(source_uid) in _LOSSY_METHOD:
            target.LossyImageCompressionMethod = _LOSSY_METHOD[str(source_uid)]
    return EncodeResult(ExplicitVRLittleEndian, f"written uncompressed (was {source_uid.name})")


_BYTE_SWAPPED_VRS = frozenset({"OW", "OF", "OD", "OL", "OV"})


def _leave_big_endian(target: Dataset) -> None:
    """Prepare a dataset read as Explicit VR Big Endian to be written little endian.

    Parsed values are endian-free; binary words other than Pixel Data are not, so an
    instance carrying any (LUT data, overlays ...) cannot be converted safely.
    """
    for element in target.iterall():  # parses every raw element
        if element.tag != 0x7FE00010 and element.VR in _BYTE_SWAPPED_VRS:
            raise PixelError(
                f"{element.keyword or element.tag} ({element.VR}) cannot be converted from "
                "Explicit VR Big Endian; the redacted instance cannot be written"
            )
    target.set_original_encoding(False, True, target.original_character_set)


def _set_image_pixel_attributes(target: Dataset, facts: PixelFacts) -> None:
    target.PhotometricInterpretation = facts.photometric
    target.SamplesPerPixel = facts.samples
    if facts.samples > 1:
        target.PlanarConfiguration = 0
    elif "PlanarConfiguration" in target:
        del target.PlanarConfiguration


def _lossless_codec_accepts(uid: UID, facts: PixelFacts) -> bool:
    if uid == JPEG2000Lossless and facts.photometric == "YBR_FULL":
        return False  # the J2K encoder takes RGB/YBR_RCT, not YBR_FULL
    return not (uid in (JPEGLSLossless, JPEGLSNearLossless) and facts.photometric == "YBR_FULL")


def _set_native(target: Dataset, arr: npt.NDArray[np.generic], facts: PixelFacts, uid: UID) -> None:
    data = np.ascontiguousarray(arr)
    expected = {8: np.uint8, 16: np.uint16, 32: np.uint32}.get(facts.bits_allocated)
    if expected is None:
        raise PixelError(f"(0028,0100) Bits Allocated {facts.bits_allocated} cannot be written")
    if facts.signed:  # sign-extended two's complement, as the decoders return it
        raw = data.astype(np.dtype(f"int{facts.bits_allocated}"), copy=False)
    else:
        raw = data.astype(expected, copy=False)
    target.PixelData = raw.astype(raw.dtype.newbyteorder("<"), copy=False).tobytes()
    target["PixelData"].VR = "OB" if facts.bits_allocated == 8 else "OW"
    target["PixelData"].is_undefined_length = False
    target.file_meta.TransferSyntaxUID = uid
    if facts.frames > 1:
        target.NumberOfFrames = facts.frames
    for keyword in ("ExtendedOffsetTable", "ExtendedOffsetTableLengths"):
        if keyword in target:
            delattr(target, keyword)
    target.BitsAllocated = facts.bits_allocated
    target.BitsStored = facts.bits_stored
    target.HighBit = facts.bits_stored - 1
    target.PixelRepresentation = 1 if facts.signed else 0


def _compress(target: Dataset, arr: npt.NDArray[np.generic], uid: UID) -> None:
    from pydicom.dataset import FileMetaDataset
    trial = Dataset()
    trial.file_meta = FileMetaDataset(target.file_meta)
    for keyword in (
        "Rows", "Columns", "SamplesPerPixel", "PhotometricInterpretation", "PlanarConfiguration",
        "BitsAllocated", "BitsStored", "HighBit", "PixelRepresentation", "NumberOfFrames",
    ):  # fmt: skip
        if keyword in target:
            setattr(trial, keyword, target[keyword].value)
    near = 0 if uid == JPEGLSNearLossless else None
    trial.compress(uid, arr, generate_instance_uid=False, jls_error=near)
    check, _meta, _plugin = decode_array(trial, as_rgb=False)  # the pipeline's decoders, never GDCM in process
    if not np.array_equal(check.reshape(arr.shape), arr):
        raise ValueError("re-encoded stream does not decode to the redacted pixels")
    target.PixelData = trial.PixelData
    target["PixelData"].VR = trial["PixelData"].VR
    target["PixelData"].is_undefined_length = True
    target.file_meta.TransferSyntaxUID = uid
    for keyword in ("PhotometricInterpretation", "PlanarConfiguration", "BitsStored", "HighBit"):
        if keyword in trial:
            setattr(target, keyword, trial[keyword].value)


__all__ = ["EncodeResult", "encode_frames"]
