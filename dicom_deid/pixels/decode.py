"""Decode Pixel Data into frames plus the facts redaction and encoding need.

Decoding goes through pydicom's pixel backends (pylibjpeg with its libjpeg / openjpeg /
rle plugins, pyjpegls, or GDCM).  Colour data is kept in its stored colour space
(``as_rgb=False``) so that values outside redaction boxes stay bit-identical; subsampled
YBR_FULL_422 comes back upsampled and is described as YBR_FULL from then on.

Raises :class:`UnsupportedPixelEncoding` when no installed backend can decode the
transfer syntax, and :class:`PixelError` when a backend fails on the data.  Never writes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from pydicom.dataset import Dataset
from pydicom.uid import UID

from dicom_deid.errors import PixelError, UnsupportedPixelEncoding

if TYPE_CHECKING:
    import numpy.typing as npt

logger = logging.getLogger(__name__)

#: Transfer syntaxes whose stream is lossy by construction (DCT processes, PS3.5 8.2.1).
#: Syntaxes that *may* be lossy (JPEG-LS near-lossless, JPEG 2000, HTJ2K) count as lossy
#: only when Lossy Image Compression (0028,2110) says "01".
LOSSY_SYNTAXES = frozenset(
    {
        "1.2.840.10008.1.2.4.50",  # JPEG Baseline (Process 1)
        "1.2.840.10008.1.2.4.51",  # JPEG Extended (Process 2 & 4)
    }
)

_INSTALL_HINT = {
    "1.2.840.10008.1.2.4.50": "pylibjpeg + pylibjpeg-libjpeg",
    "1.2.840.10008.1.2.4.51": "pylibjpeg + pylibjpeg-libjpeg",
    "1.2.840.10008.1.2.4.57": "pylibjpeg + pylibjpeg-libjpeg",
    "1.2.840.10008.1.2.4.70": "pylibjpeg + pylibjpeg-libjpeg",
    "1.2.840.10008.1.2.4.80": "pyjpegls",
    "1.2.840.10008.1.2.4.81": "pyjpegls",
    "1.2.840.10008.1.2.4.90": "pylibjpeg + pylibjpeg-openjpeg",
    "1.2.840.10008.1.2.4.91": "pylibjpeg + pylibjpeg-openjpeg",
    "1.2.840.10008.1.2.4.201": "pylibjpeg + pylibjpeg-openjpeg",
    "1.2.840.10008.1.2.4.202": "pylibjpeg + pylibjpeg-openjpeg",
    "1.2.840.10008.1.2.4.203": "pylibjpeg + pylibjpeg-openjpeg",
    "1.2.840.10008.1.2.5": "pylibjpeg + pylibjpeg-rle",
}

_MONOCHROME = frozenset({"MONOCHROME1", "MONOCHROME2"})
_SUPPORTED_PHOTOMETRIC = _MONOCHROME | {"RGB", "YBR_FULL", "PALETTE COLOR"}


@dataclass(frozen=True, slots=True)
class PixelFacts:
    """What the decoded array is, in DICOM terms (after decoding, not as stored)."""

    transfer_syntax: UID
    photometric: str  # of the decoded array: MONOCHROME1/2, RGB, YBR_FULL, PALETTE COLOR
    stored_photometric: str  # as found in the dataset
    rows: int
    columns: int
    frames: int
    samples: int
    bits_allocated: int
    bits_stored: int
    signed: bool
    lossy_history: bool  # source stream lossy or LossyImageCompression == "01"

    @property
    def min_value(self) -> int:
        return -(1 << (self.bits_stored - 1)) if self.signed else 0

    @property
    def max_value(self) -> int:
        return (1 << (self.bits_stored - 1)) - 1 if self.signed else (1 << self.bits_stored) - 1


@dataclass(frozen=True, slots=True)
class DecodedPixels:
    """All frames as one array: (frames, rows, columns) or (frames, rows, columns, 3)."""

    frames: npt.NDArray[np.generic]
    facts: PixelFacts
    palette: npt.NDArray[np.uint8] | None = None  # (entries, 3) RGB for PALETTE COLOR
    palette_first: int = 0  # first stored value mapped by the palette


def _transfer_syntax(ds: Dataset) -> UID:
    meta = getattr(ds, "file_meta", None)
    uid = getattr(meta, "TransferSyntaxUID", None) if meta is not None else None
    if uid is None:
        raise UnsupportedPixelEncoding("(7FE0,0010) has no Transfer Syntax UID in the file meta")
    return UID(str(uid))


def describe_encoding(ds: Dataset) -> str:
    """Short, PHI-free description, e.g. ``JPEG 2000 Image Compression, YBR_RCT 8-bit``."""
    uid = _transfer_syntax(ds)
    name = uid.name if uid.is_transfer_syntax else str(uid)
    return f"{name}, {ds.get('PhotometricInterpretation', '?')} {ds.get('BitsStored', '?')}-bit"


def check_decodable(ds: Dataset) -> UID:
    """Raise :class:`UnsupportedPixelEncoding` unless an installed backend can decode ``ds``."""
    from pydicom.pixels.decoders.base import get_decoder

    uid = _transfer_syntax(ds)
    if "PixelData" not in ds:
        kind = next((k for k in ("FloatPixelData", "DoubleFloatPixelData") if k in ds), None)
        if kind:
            raise UnsupportedPixelEncoding(f"{kind} is not supported for text redaction")
        raise PixelError("the instance has no Pixel Data")
    try:
        decoder = get_decoder(uid)
    except NotImplementedError as exc:
        raise UnsupportedPixelEncoding(
            f"(7FE0,0010) {describe_encoding(ds)}: no pixel decoder exists for this transfer "
            "syntax; the instance cannot be checked for burned-in text"
        ) from exc
    if not decoder.is_available:
        hint = _INSTALL_HINT.get(str(uid), "a pydicom pixel data plugin")
        raise UnsupportedPixelEncoding(
            f"(7FE0,0010) {describe_encoding(ds)} cannot be decoded: install 'dicom-deid[codecs]' "
            f"({hint} missing)"
        )
    photometric = str(ds.get("PhotometricInterpretation", ""))
    known = _SUPPORTED_PHOTOMETRIC | {"YBR_FULL_422", "YBR_RCT", "YBR_ICT"}
    if photometric not in known:
        raise UnsupportedPixelEncoding(
            f"(0028,0004) photometric interpretation {photometric or '(missing)'} "
            "is not supported for redaction"
        )
    return uid


def decode_pixels(ds: Dataset) -> DecodedPixels:
    """Decode every frame of ``ds`` (not mutated)."""
    from pydicom.pixels.decoders.base import get_decoder

    uid = check_decodable(ds)
    decoder = get_decoder(uid)
    try:
        arr, meta = decoder.as_array(ds, as_rgb=False)  # type: ignore[arg-type]
    except (ValueError, RuntimeError, TypeError, KeyError, IndexError, NotImplementedError) as exc:
        raise PixelError(
            f"(7FE0,0010) {describe_encoding(ds)} cannot be decoded: "
            f"{type(exc).__name__}: {str(exc)[:200]}"
        ) from exc
    rows, columns = int(meta["rows"]), int(meta["columns"])
    frames = int(meta.get("number_of_frames", 1) or 1)
    samples = int(meta["samples_per_pixel"])
    arr = arr.reshape((frames, rows, columns) + ((samples,) if samples > 1 else ()))
    photometric = str(meta["photometric_interpretation"])
    if photometric == "YBR_FULL_422":
        photometric = "YBR_FULL"  # decoders return the chroma upsampled
    if photometric not in _SUPPORTED_PHOTOMETRIC:
        raise UnsupportedPixelEncoding(
            f"(0028,0004) decoded photometric interpretation {photometric} is not supported"
        )
    lossy = str(uid) in LOSSY_SYNTAXES or str(ds.get("LossyImageCompression", "")) == "01"
    facts = PixelFacts(
        transfer_syntax=uid,
        photometric=photometric,
        stored_photometric=str(ds.get("PhotometricInterpretation", "")),
        rows=rows,
        columns=columns,
        frames=frames,
        samples=samples,
        bits_allocated=int(meta["bits_allocated"]),
        bits_stored=int(meta["bits_stored"]),
        signed=int(meta["pixel_representation"]) == 1,
        lossy_history=lossy,
    )
    palette, first = (None, 0)
    if photometric == "PALETTE COLOR":
        palette, first = read_palette(ds)
    return DecodedPixels(arr, facts, palette, first)


def read_palette(ds: Dataset) -> tuple[npt.NDArray[np.uint8], int]:
    """The palette as 8-bit RGB entries plus the first mapped stored value."""
    from pydicom.pixels.processing import apply_color_lut

    descriptor = ds.get("RedPaletteColorLookupTableDescriptor")
    if descriptor is None:
        raise PixelError("(0028,1101) palette descriptor is missing")
    entries = int(descriptor[0]) or 65536
    first = int(descriptor[1])
    indices = np.arange(first, first + entries, dtype=np.int64)
    dtype = np.uint16 if int(ds.get("BitsStored", 8)) > 8 or first + entries > 256 else np.uint8
    try:
        rgb = apply_color_lut(indices.astype(dtype), ds)
    except (ValueError, KeyError, AttributeError) as exc:
        raise PixelError(f"(0028,1201) palette cannot be applied: {type(exc).__name__}") from exc
    rgb = np.asarray(rgb).reshape(-1, 3)
    if rgb.dtype != np.uint8:
        peak = max(1, int(rgb.max()))
        rgb = (rgb.astype(np.float64) * (255.0 / (65535 if peak > 255 else 255))).round()
    return rgb.astype(np.uint8), first
