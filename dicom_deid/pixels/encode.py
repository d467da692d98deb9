"""Write redacted frames back into a dataset.  Never switches to a lossy syntax silently.

* native syntaxes (Implicit/Explicit VR Little Endian, Deflated) stay as they were;
* lossless compressed syntaxes (RLE, JPEG-LS lossless, JPEG 2000 lossless) are re-encoded
  in the same syntax, and the new stream is decoded again, as labelled, and compared with the
  redacted array before it is accepted;
* a JPEG colour image (YCbCr) is written RLE Lossless (see below);
* everything else (JPEG baseline/extended/lossless, JPEG-LS near-lossless, JPEG 2000
  part 1 lossy, big endian, HTJ2K ...) is written as Explicit VR Little Endian.  When the
  source had lossy history, Lossy Image Compression stays "01" (PS3.3 C.7.6.1.1.5) and the
  method is recorded if it was missing.

Image attributes stay as the source had them wherever the written syntax allows (PS3.5 Tables
8.2.2-1 to 8.2.4-1, as pydicom's encoders apply them): Photometric Interpretation and Planar
Configuration are kept, so a redacted RLE YBR_FULL image keeps Planar Configuration 1 and a JPEG
2000 lossless YBR_RCT image is encoded again with the reversible colour transform (the encoder's
own MCT option).  Only where the written syntax cannot carry the source's colour space do they
change, together and as the decoder delivered the pixels: the YCbCr of a JPEG image (YBR_FULL or
YBR_FULL_422, upsampled by the decoder) is written RLE Lossless as YBR_FULL with Planar
Configuration 1, stored values unchanged; YBR_RCT/YBR_ICT written uncompressed become RGB (the
decoder inverts the transform); uncompressed YBR_FULL_422 becomes RGB through pydicom's
``convert_color_space``.  No colour maths is done here.

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
    planar = _source_planar(target, facts)
    if source_uid in _NATIVE:
        arr, photometric = _native_colour(arr, facts)
        _set_image_pixel_attributes(target, facts, photometric, planar)
        _set_native(target, arr, facts, source_uid, planar)
        return EncodeResult(source_uid, "native")
    if source_uid in _LOSSLESS_REENCODE and _lossless_codec_accepts(source_uid, facts):
        label = _stream_photometric(source_uid, facts)
        try:
            _compress(target, arr, source_uid, facts, label, planar)
        except (ValueError, RuntimeError, TypeError, NotImplementedError) as exc:
            logger.info("re-encoding %s failed (%s); writing uncompressed", source_uid.name, exc)
        else:
            return EncodeResult(source_uid, f"re-encoded {source_uid.name}")
    if facts.photometric == "YBR_FULL" and facts.samples == 3 and facts.bits_allocated == 8:
        # a JPEG's YCbCr: RLE carries it losslessly as YBR_FULL, colour-by-plane (valid for every
        # IOD, Ultrasound included, which allows YBR_FULL only so), with no colour conversion
        try:
            _compress(target, arr, RLELossless, facts, "YBR_FULL", 1)
        except (ValueError, RuntimeError, TypeError, NotImplementedError) as exc:
            logger.info("RLE encoding failed (%s); writing uncompressed", exc)
        else:
            _keep_lossy_history(target, facts)
            return EncodeResult(RLELossless, f"re-encoded RLE Lossless (was {source_uid.name})")
    if not source_uid.is_little_endian:
        _leave_big_endian(target)
    _refuse_nested_encapsulated(target)
    arr, photometric = _native_colour(arr, facts)
    _set_image_pixel_attributes(target, facts, photometric, planar)
    _set_native(target, arr, facts, ExplicitVRLittleEndian, planar)
    _keep_lossy_history(target, facts)
    return EncodeResult(ExplicitVRLittleEndian, f"written uncompressed (was {source_uid.name})")


def _keep_lossy_history(target: Dataset, facts: PixelFacts) -> None:
    """PS3.3 C.7.6.1.1.5: once lossy, always "01"; the method is recorded if it was missing."""
    if facts.lossy_history:
        target.LossyImageCompression = "01"
        method = _LOSSY_METHOD.get(str(facts.transfer_syntax))
        if "LossyImageCompressionMethod" not in target and method:
            target.LossyImageCompressionMethod = method


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


def _refuse_nested_encapsulated(target: Dataset) -> None:
    """Pixel data inside a sequence (an icon) stays encapsulated: it cannot go uncompressed."""
    for element in target:
        if element.VR != "SQ":
            continue
        for item in element.value or ():
            if any(e.tag == 0x7FE00010 and getattr(e, "is_undefined_length", False) for e in item.iterall()):
                raise PixelError(f"{element.keyword or element.tag}: compressed pixel data inside a sequence "
                                 "cannot be written with the redacted image uncompressed")


def _source_planar(target: Dataset, facts: PixelFacts) -> int:
    """The source's Planar Configuration (0 when absent): kept in the output."""
    value = target.get("PlanarConfiguration")
    return 1 if facts.samples > 1 and value is not None and int(value) == 1 else 0


def _set_image_pixel_attributes(target: Dataset, facts: PixelFacts, photometric: str, planar: int) -> None:
    target.PhotometricInterpretation = photometric
    target.SamplesPerPixel = facts.samples
    if facts.samples > 1:
        target.PlanarConfiguration = planar
    # one sample per pixel: Planar Configuration means nothing and is left as the source had it


def _native_colour(arr: npt.NDArray[np.generic], facts: PixelFacts) -> tuple[npt.NDArray[np.generic], str]:
    """Pixels and Photometric Interpretation to write uncompressed.

    YBR_FULL is kept only where the source itself held YBR_FULL uncompressed.  Upsampled
    YBR_FULL_422 (and a YCbCr that RLE could not take) is written as RGB, converted by pydicom's
    own ``convert_color_space`` (PS3.3 C.7.6.3.1.2): RGB is valid wherever those were (an
    uncompressed Ultrasound image may not be YBR_FULL)."""
    source_native = facts.transfer_syntax in _NATIVE
    if facts.photometric != "YBR_FULL" or (source_native and facts.stored_photometric == "YBR_FULL"):
        return arr, facts.photometric
    from pydicom.pixels.processing import convert_color_space

    return convert_color_space(arr, "YBR_FULL", "RGB"), "RGB"


def _stream_photometric(uid: UID, facts: PixelFacts) -> str:
    """The colour space the re-encoded stream is labelled with: the source's.

    JPEG 2000 lossless YBR_RCT decodes to RGB (the decoder inverts the reversible transform); the
    encoder applies it again when told the stream is YBR_RCT (its MCT option)."""
    if uid == JPEG2000Lossless and facts.stored_photometric == "YBR_RCT" and facts.photometric == "RGB":
        return "YBR_RCT"
    return facts.photometric


def _lossless_codec_accepts(uid: UID, facts: PixelFacts) -> bool:
    if uid == JPEG2000Lossless and facts.photometric == "YBR_FULL":
        return False  # the J2K encoder takes RGB/YBR_RCT, not YBR_FULL
    return not (uid in (JPEGLSLossless, JPEGLSNearLossless) and facts.photometric == "YBR_FULL")


def _set_native(target: Dataset, arr: npt.NDArray[np.generic], facts: PixelFacts, uid: UID,
                planar: int = 0) -> None:
    if planar and facts.samples > 1:  # colour-by-plane: (F,) R, C, S -> (F,) S, R, C
        arr = np.moveaxis(arr, -1, -3)
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


def _compress(target: Dataset, arr: npt.NDArray[np.generic], uid: UID, facts: PixelFacts, photometric: str,
              planar: int) -> None:
    """Encode ``arr`` in ``uid`` with the encoder's own options, label the stream ``photometric`` /
    ``planar``, and accept it only if it decodes, as labelled, to ``arr``."""
    from pydicom.dataset import FileMetaDataset
    trial = Dataset()
    trial.file_meta = FileMetaDataset(target.file_meta)
    for keyword in ("Rows", "Columns", "BitsAllocated", "BitsStored", "HighBit", "PixelRepresentation",
                    "NumberOfFrames"):
        if keyword in target:
            setattr(trial, keyword, target[keyword].value)
    trial.SamplesPerPixel = facts.samples
    trial.PhotometricInterpretation = photometric
    if facts.samples > 1:
        # RLE codes each colour plane as its own segment whatever Planar Configuration says, and
        # pydicom's RLE encoder takes the pixels colour-by-pixel: label the source's value after
        trial.PlanarConfiguration = 0 if uid == RLELossless else planar
    near = 0 if uid == JPEGLSNearLossless else None
    trial.compress(uid, arr, generate_instance_uid=False, jls_error=near)
    if facts.samples > 1:
        trial.PlanarConfiguration = planar
    check, _meta, _plugin = decode_array(trial, as_rgb=False)  # the pipeline's decoders, never GDCM in process
    if not np.array_equal(check.reshape(arr.shape), arr):
        raise ValueError("re-encoded stream does not decode to the redacted pixels")
    _set_image_pixel_attributes(target, facts, photometric, planar)
    target.PixelData = trial.PixelData
    target["PixelData"].VR = trial["PixelData"].VR
    target["PixelData"].is_undefined_length = True
    target.file_meta.TransferSyntaxUID = uid
    for keyword in ("BitsStored", "HighBit"):
        if keyword in trial:
            setattr(target, keyword, trial[keyword].value)


__all__ = ["EncodeResult", "encode_frames"]
