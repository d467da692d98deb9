"""Read: input bytes -> Instance.  Owns "is it DICOM?".  Never mutates input."""

from __future__ import annotations

from dataclasses import dataclass
from io import BytesIO

from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

from dicom_deid.errors import NotDicomError, QuarantineReason, UnreadableDicomError
from dicom_deid.walk import InputRef, read_bytes

MEDIA_STORAGE_DIRECTORY = "1.2.840.10008.1.3.10"


class DicomDirFile(NotDicomError):
    """A DICOMDIR index: counted and skipped; the files it references are walked anyway."""


@dataclass(frozen=True)
class Instance:
    ref: InputRef
    dataset: Dataset
    size: int


def _looks_like_dicom_without_preamble(data: bytes) -> bool:
    if len(data) < 8:
        return False
    group = int.from_bytes(data[0:2], "little")
    group_be = int.from_bytes(data[0:2], "big")
    return group in (0x0002, 0x0008) or group_be in (0x0002, 0x0008)


def parse_dicom(data: bytes, *, where: str) -> Dataset:
    """Parse DICOM bytes (with or without preamble/meta); raise InputError subclasses."""
    if not data:
        raise NotDicomError("empty file", path=where)
    has_preamble = len(data) >= 132 and data[128:132] == b"DICM"
    if not has_preamble and not _looks_like_dicom_without_preamble(data):
        raise NotDicomError("not a DICOM file (no DICM preamble, no DICOM header)", path=where)
    try:
        ds = dcmread(BytesIO(data), force=not has_preamble)
    except InvalidDicomError as exc:
        raise NotDicomError(f"not a DICOM file ({exc})", path=where) from None
    except (EOFError, OSError) as exc:
        raise UnreadableDicomError(f"truncated DICOM file ({exc.__class__.__name__})", path=where,
                                   reason=QuarantineReason.TRUNCATED) from None
    except Exception as exc:  # noqa: BLE001 - pydicom raises many types on corrupt input
        raise UnreadableDicomError(f"corrupt DICOM file ({exc.__class__.__name__}: {exc})"[:300], path=where) from None
    _check_complete(ds, len(data), where)
    return ds


def _check_complete(ds: Dataset, size: int, where: str) -> None:
    """pydicom reads truncated files quietly: a value cut short, or a last header cut off."""
    syntax = ds.file_meta.get("TransferSyntaxUID") if hasattr(ds, "file_meta") else None
    end = 0
    for raw in ds._dict.values():
        length = getattr(raw, "length", None)
        value = getattr(raw, "value", None)
        tell = getattr(raw, "value_tell", None)
        if length is None or tell is None or length == 0xFFFFFFFF:
            end = -1 if length == 0xFFFFFFFF else end
            continue
        if isinstance(value, bytes) and len(value) < length:
            raise UnreadableDicomError(
                f"truncated DICOM file: element ({raw.tag >> 16:04X},{raw.tag & 0xFFFF:04X}) "
                f"has {len(value)} of {length} bytes", path=where, reason=QuarantineReason.TRUNCATED)
        end = tell + length if end >= 0 else end
    deflated = syntax is not None and str(syntax) == "1.2.840.10008.1.2.1.99"
    if end > 0 and not deflated and 0 < size - end < 8:
        raise UnreadableDicomError(f"truncated DICOM file: {size - end} trailing bytes of a cut element header",
                                   path=where, reason=QuarantineReason.TRUNCATED)


def read_instance(ref: InputRef, *, where: str | None = None) -> Instance:
    """Read one input fully; raise NotDicomError / UnreadableDicomError with a one-line cause."""
    where = where or ref.display
    try:
        data = read_bytes(ref)
    except OSError as exc:
        raise UnreadableDicomError(f"cannot read file ({exc.strerror or exc})", path=where) from None
    ds = parse_dicom(data, where=where)
    sop_class = ds.get("SOPClassUID") or ds.file_meta.get("MediaStorageSOPClassUID")
    if str(sop_class or "") == MEDIA_STORAGE_DIRECTORY or "DirectoryRecordSequence" in ds:
        raise DicomDirFile("DICOMDIR index (its referenced files are processed on their own)", path=where)
    for kw in ("SOPClassUID", "SOPInstanceUID"):
        if not ds.get(kw):
            raise UnreadableDicomError(f"missing {kw}: not a storable DICOM instance", path=where,
                                       reason=QuarantineReason.MISSING_REQUIRED)
    if "TransferSyntaxUID" not in ds.file_meta:
        # No meta (or meta without a syntax): record what pydicom detected, so output is well formed.
        from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

        implicit, little = ds.original_encoding
        ds.file_meta.TransferSyntaxUID = (
            ImplicitVRLittleEndian if implicit else ExplicitVRLittleEndian if little else ExplicitVRBigEndian
        )
    return Instance(ref=ref, dataset=ds, size=len(data))


__all__ = ["DicomDirFile", "Instance", "parse_dicom", "read_instance"]
