"""Decode Pixel Data into frames plus the facts redaction and encoding need.

Decoding goes through pydicom's pixel backends (pylibjpeg with its libjpeg / openjpeg /
rle plugins, pyjpegls, GDCM, Pillow), tried whole-instance in the order of
:data:`PLUGIN_ORDER`: the first that decodes every frame wins, the others are fallbacks
(``scripts/decoder_table.py`` measured the order).  Colour data is kept in its stored colour
space (``as_rgb=False``) so that values outside redaction boxes stay bit-identical; subsampled
YBR_FULL_422 comes back upsampled and is described as YBR_FULL from then on.

Raises :class:`UnsupportedTransferSyntax` when no installed backend can decode the transfer
syntax (or it is unknown), :class:`UnsupportedPixelEncoding` for pixel encodings redaction
does not handle, and :class:`PixelError` when every backend fails on the data.  Never writes.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import pickle
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
from pydicom.dataset import Dataset
from pydicom.uid import UID

from dicom_deid.errors import PixelError, UnsupportedPixelEncoding, UnsupportedTransferSyntax
from dicom_deid.read import shown_uid, syntax_name

if TYPE_CHECKING:
    import numpy.typing as npt

logger = logging.getLogger(__name__)
_T = TypeVar("_T")

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
    "1.2.840.10008.1.2.4.50": "pylibjpeg + pylibjpeg-libjpeg, or python-gdcm",
    "1.2.840.10008.1.2.4.51": "python-gdcm, or pylibjpeg + pylibjpeg-libjpeg",
    "1.2.840.10008.1.2.4.57": "pylibjpeg + pylibjpeg-libjpeg, or python-gdcm",
    "1.2.840.10008.1.2.4.70": "pylibjpeg + pylibjpeg-libjpeg, or python-gdcm",
    "1.2.840.10008.1.2.4.80": "pyjpegls, or python-gdcm",
    "1.2.840.10008.1.2.4.81": "pyjpegls, or python-gdcm",
    "1.2.840.10008.1.2.4.90": "pylibjpeg + pylibjpeg-openjpeg, or python-gdcm",
    "1.2.840.10008.1.2.4.91": "pylibjpeg + pylibjpeg-openjpeg, or python-gdcm",
    "1.2.840.10008.1.2.4.201": "pylibjpeg + pylibjpeg-openjpeg",
    "1.2.840.10008.1.2.4.202": "pylibjpeg + pylibjpeg-openjpeg",
    "1.2.840.10008.1.2.4.203": "pylibjpeg + pylibjpeg-openjpeg",
    "1.2.840.10008.1.2.5": "numpy",
}

#: Plugin order per transfer syntax (pydicom plugin names): only these are tried, in this order,
#: each on the whole instance.  Measured with ``scripts/decoder_table.py`` on pydicom's bundled
#: test files (tune set; checked on pydicom-data): never crashing the process on a corrupt stream
#: first (``--corrupt``), then most files decoded, then fastest (``--plugins``).  A plugin that
#: crashes ends a single-process run, so GDCM (aborted on 4 of 280 corrupted JPEG baseline and
#: 2 of 80 JPEG-LS streams, and on a JPEG 2000 stream in ``test_pixels_stage``) is not listed, nor
#: pylibjpeg for RLE (11 of 180 corrupted RLE streams).  GDCM decodes what the others cannot --
#: 12-bit JPEG Extended -- in a child process only (``_decode_jpeg12_gdcm``).
PLUGIN_ORDER: Mapping[str, tuple[str, ...]] = MappingProxyType({
    # JPEG Baseline: all agree within +-1 (IDCT rounding); Pillow 3.5x faster than pylibjpeg on 120 frames
    "1.2.840.10008.1.2.4.50": ("pillow", "pylibjpeg"),
    "1.2.840.10008.1.2.4.51": ("pylibjpeg", "pillow"),
    "1.2.840.10008.1.2.4.57": ("pylibjpeg",),
    "1.2.840.10008.1.2.4.70": ("pylibjpeg",),
    # JPEG-LS: pyjpegls (CharLS) 1.6-2x faster than GDCM, 5-8x faster than pylibjpeg
    "1.2.840.10008.1.2.4.80": ("pyjpegls", "pylibjpeg"),
    "1.2.840.10008.1.2.4.81": ("pyjpegls", "pylibjpeg"),
    # JPEG 2000: pylibjpeg (OpenJPEG) fastest, Pillow close behind
    "1.2.840.10008.1.2.4.90": ("pylibjpeg", "pillow"),
    "1.2.840.10008.1.2.4.91": ("pylibjpeg", "pillow"),
    "1.2.840.10008.1.2.4.201": ("pylibjpeg",),
    "1.2.840.10008.1.2.4.202": ("pylibjpeg",),
    "1.2.840.10008.1.2.4.203": ("pylibjpeg",),
    # RLE: pydicom's own decoder; pylibjpeg's is 3-6x faster but crashed on corrupted streams
    "1.2.840.10008.1.2.5": ("pydicom",),
})
_IN_PROCESS_UNSAFE = frozenset({"gdcm"})

#: What pydicom's decoders raise on malformed pixel data (found by the fuzz campaign: broken
#: fragments end ``generate_frames`` with StopIteration or struct.error, lies about the frame
#: count or bit depth surface as AttributeError, ZeroDivisionError ...).
_DECODE_ERRORS = (ValueError, RuntimeError, TypeError, LookupError, NotImplementedError, MemoryError,
                  ArithmeticError, AttributeError, StopIteration, EOFError, struct.error, BufferError)

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
    plugin: str = ""  # the pydicom plugin that decoded it ("" for native encodings)


def _transfer_syntax(ds: Dataset) -> UID:
    meta = getattr(ds, "file_meta", None)
    uid = getattr(meta, "TransferSyntaxUID", None) if meta is not None else None
    if uid is None:
        raise UnsupportedPixelEncoding("(7FE0,0010) has no Transfer Syntax UID in the file meta")
    return UID(str(uid))


def describe_encoding(ds: Dataset) -> str:
    """Short, PHI-free description, e.g. ``JPEG 2000 Image Compression, YBR_RCT 8-bit``."""
    uid = _transfer_syntax(ds)
    photometric = str(ds.get("PhotometricInterpretation", "?"))[:16]
    return f"{syntax_name(uid)}, {photometric} {str(ds.get('BitsStored', '?'))[:4]}-bit"


def _usable(uid: UID, available: Any) -> bool:
    """Whether a plugin of ours (or GDCM in a child, for 12-bit JPEG Extended) can decode ``uid``."""
    if not uid.is_compressed:
        return True
    if plugin_order(uid, available):
        return True
    return str(uid) == _JPEG_EXTENDED and importlib.util.find_spec("gdcm") is not None


def plugin_order(uid: UID, available: Any) -> list[str]:
    """Installed plugins for ``uid`` in the measured order (GDCM never in process)."""
    installed = list(available)
    if str(uid) in PLUGIN_ORDER:
        return [p for p in PLUGIN_ORDER[str(uid)] if p in installed]
    return sorted(p for p in installed if p not in _IN_PROCESS_UNSAFE)


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
        raise UnsupportedTransferSyntax(
            f"(7FE0,0010) {describe_encoding(ds)}: no pixel decoder exists for transfer "
            f"syntax {shown_uid(uid)}; the instance cannot be checked for burned-in text",
            uid=shown_uid(uid),
        ) from exc
    if not decoder.is_available or not _usable(uid, decoder.available_plugins):
        hint = _INSTALL_HINT.get(str(uid), "a pydicom pixel data plugin")
        raise UnsupportedTransferSyntax(
            f"(7FE0,0010) {describe_encoding(ds)} ({shown_uid(uid)}) cannot be decoded: install "
            f"'dicom-deid[codecs]' ({hint} missing)",
            uid=shown_uid(uid),
        )
    photometric = str(ds.get("PhotometricInterpretation", ""))
    known = _SUPPORTED_PHOTOMETRIC | {"YBR_FULL_422", "YBR_RCT", "YBR_ICT"}
    if photometric not in known:
        raise UnsupportedPixelEncoding(
            f"(0028,0004) photometric interpretation {photometric or '(missing)'} "
            "is not supported for redaction"
        )
    return uid


def decode_array(ds: Dataset, **options: Any) -> tuple[npt.NDArray[np.generic], dict[str, Any], str]:
    """(array, pydicom's meta, plugin) through the plugins of :data:`PLUGIN_ORDER`.

    ``options`` go to pydicom's ``Decoder.as_array`` (``as_rgb``, ``index`` ...).  Every caller in
    dicom-deid decodes through here, so installing GDCM never changes which decoder runs.
    Raises PixelError when every plugin fails.
    """
    from pydicom.pixels.decoders.base import get_decoder

    uid = _transfer_syntax(ds)
    decoder = get_decoder(uid)
    plugins = plugin_order(uid, decoder.available_plugins) if uid.is_compressed else [""]
    failures: list[str] = []
    for plugin in plugins:
        try:
            arr, meta = decoder.as_array(ds, decoding_plugin=plugin, **options)
            return arr, meta, plugin
        except _DECODE_ERRORS as exc:
            first_line = (str(exc).strip().splitlines() or [""])[-1].strip()[:120]
            failures.append(f"{plugin or 'pydicom'}: {type(exc).__name__}: {first_line}")
    if str(uid) == _JPEG_EXTENDED and not options.get("as_rgb") and options.get("index") is None:
        fallback = _in_child(_decode_jpeg12_gdcm, ds)
        if fallback is not None:
            return fallback[0], fallback[1], "gdcm"
        failures.append("gdcm (child process): failed")
    raise PixelError(f"(7FE0,0010) {describe_encoding(ds)} cannot be decoded ({'; '.join(failures)})")


def decode_pixels(ds: Dataset) -> DecodedPixels:
    """Decode every frame of ``ds`` (not mutated)."""
    uid = check_decodable(ds)
    arr, meta, plugin = decode_array(ds, as_rgb=False)
    try:
        rows, columns = int(meta["rows"]), int(meta["columns"])
        frames = int(meta.get("number_of_frames", 1) or 1)
        samples = int(meta["samples_per_pixel"])
        arr = arr.reshape((frames, rows, columns) + ((samples,) if samples > 1 else ()))
    except _DECODE_ERRORS as exc:  # the header's frame count or size does not match the data
        raise PixelError(f"(7FE0,0010) {describe_encoding(ds)}: decoded data does not match the image size "
                         f"({type(exc).__name__})") from None
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
    return DecodedPixels(arr, facts, palette, first, plugin)


_JPEG_EXTENDED = "1.2.840.10008.1.2.4.51"


def _decode_jpeg12_gdcm(ds: Dataset) -> tuple[npt.NDArray[np.generic], dict[str, Any]] | None:
    """12-bit JPEG Extended (process 4) through GDCM directly.

    pydicom's GDCM plugin refuses 12-bit JPEG Extended, yet GDCM decodes it (pydicom's own
    ``JPEG-lossy.dcm``, which pylibjpeg rejects, decodes to the same values as dcmtk's dcmdjpeg).
    Greyscale only; ``None`` when GDCM is missing or fails.
    """
    try:
        import gdcm
    except ImportError:
        return None
    from pydicom.encaps import generate_frames

    try:
        rows, columns = int(ds.Rows), int(ds.Columns)
        bits_allocated, bits_stored = int(ds.BitsAllocated), int(ds.BitsStored)
        signed = int(ds.get("PixelRepresentation", 0) or 0)
        photometric = str(ds.PhotometricInterpretation)
        frames = int(ds.get("NumberOfFrames", 1) or 1)
    except (AttributeError, ValueError, TypeError):
        return None
    if int(ds.get("SamplesPerPixel", 1) or 1) != 1 or bits_allocated != 16 or not 8 < bits_stored <= 12:
        return None
    dtype = np.dtype("<i2" if signed else "<u2")
    out = []
    try:
        for src in generate_frames(ds.PixelData, number_of_frames=frames):
            fragment = gdcm.Fragment()
            fragment.SetByteStringValue(src)
            fragments = gdcm.SequenceOfFragments.New()
            fragments.AddFragment(fragment)
            elem = gdcm.DataElement(gdcm.Tag(0x7FE0, 0x0010))
            elem.SetValue(fragments.__ref__())
            img = gdcm.Image()
            img.SetNumberOfDimensions(2)
            img.SetDimensions((columns, rows, 1))
            img.SetDataElement(elem)
            pi_type = gdcm.PhotometricInterpretation.GetPIType(photometric)
            img.SetPhotometricInterpretation(gdcm.PhotometricInterpretation(pi_type))
            img.SetTransferSyntax(gdcm.TransferSyntax(gdcm.TransferSyntax.JPEGExtendedProcess2_4))
            img.SetPixelFormat(gdcm.PixelFormat(1, 16, bits_stored, bits_stored - 1, signed))
            raw = img.GetBuffer().encode("utf-8", "surrogateescape")  # GDCM returns char* as str
            if len(raw) != rows * columns * 2:
                return None
            out.append(np.frombuffer(raw, dtype=dtype).reshape(rows, columns))
    except _DECODE_ERRORS:
        return None
    if len(out) != frames:
        return None
    meta = {"rows": rows, "columns": columns, "number_of_frames": frames, "samples_per_pixel": 1,
            "photometric_interpretation": photometric, "bits_allocated": 16, "bits_stored": bits_stored,
            "pixel_representation": signed}
    return np.stack(out), meta


def _in_child(fn: Callable[[Dataset], _T | None], ds: Dataset) -> _T | None:
    """``fn(ds)`` in a forked child: a library that aborts on corrupt data ends the child, not us.

    None when the child fails or dies.  POSIX only (elsewhere: not run, None).
    """
    if not hasattr(os, "fork"):
        return None
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: compute, send, leave without running any of the parent's cleanup
        code = 1
        try:
            os.close(read_end)
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 2)  # libjpeg inside GDCM prints warnings straight to stderr
            payload = pickle.dumps(fn(ds), protocol=pickle.HIGHEST_PROTOCOL)
            with os.fdopen(write_end, "wb") as out:
                out.write(payload)
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as inp:
        payload = inp.read()
    _, status = os.waitpid(pid, 0)
    if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0 or not payload:
        logger.info("GDCM failed in its child process (status %s)", status)
        return None
    result: _T | None = pickle.loads(payload)  # our own child's output
    return result


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
