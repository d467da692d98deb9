"""Exception tree and quarantine reasons.

DeidError
 +-- InputError            (NotDicomError, UnreadableDicomError)
 +-- PixelError            (UnsupportedPixelEncoding > UnsupportedTransferSyntax, OcrUnavailable)
 +-- EncapsulatedDocumentError
 +-- UnmappedPatient       (--subject-map has no row for this instance's patient)
 +-- ProfileError
 +-- ConfigError(ValueError)
 +-- KeyMaterialError
 +-- SealError
 +-- VerifyFailure
 +-- OutputInUse           (another run holds OUTPUT's lock)

Every error carries the fields a one-line operator message needs; ``str(exc)``
is that line (what, where, why, what to do).  Messages never contain element
values: only paths given by the operator, tag keywords and causes.
"""

from __future__ import annotations

import enum
from pathlib import Path


class QuarantineReason(enum.Enum):
    """Why an input was not written to the output (manifest vocabulary)."""

    NOT_DICOM = "not_dicom"
    UNREADABLE = "unreadable"
    TRUNCATED = "truncated"
    MISSING_REQUIRED = "missing_required"
    UNSUPPORTED_PIXEL_ENCODING = "unsupported_pixel_encoding"
    UNSUPPORTED_TRANSFER_SYNTAX = "unsupported_transfer_syntax"
    OCR_UNAVAILABLE = "ocr_unavailable"
    PIXEL_ERROR = "pixel_error"
    PROFILE_ERROR = "profile_error"
    WRITE_ERROR = "write_error"
    DUPLICATE_INSTANCE = "duplicate_instance"
    WORKER_CRASHED = "worker_crashed"
    INVALID_IDENTIFIER = "invalid_identifier"
    ENCAPSULATED_DOCUMENT = "encapsulated_document"
    UNMAPPED_PATIENT = "unmapped_patient"  # --subject-map without a row for the patient (--unmapped error)
    INTERNAL_ERROR = "internal_error"


class DeidError(Exception):
    """Base of every dicom-deid error."""

    reason: QuarantineReason = QuarantineReason.INTERNAL_ERROR

    def __init__(self, message: str, *, path: str | Path | None = None) -> None:
        self.path = str(path) if path is not None else None
        self.message = message
        super().__init__(f"{self.path}: {message}" if self.path else message)


class InputError(DeidError):
    """The input cannot be read as a DICOM instance."""

    reason = QuarantineReason.UNREADABLE


class NotDicomError(InputError):
    """The file is not DICOM at all (thumbnail, text file ...)."""

    reason = QuarantineReason.NOT_DICOM


class UnreadableDicomError(InputError):
    """The file looks like DICOM but cannot be parsed (corrupt, truncated)."""

    reason = QuarantineReason.UNREADABLE

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        reason: QuarantineReason = QuarantineReason.UNREADABLE,
    ) -> None:
        super().__init__(message, path=path)
        self.reason = reason


class PixelError(DeidError):
    """Pixel data could not be examined or redacted."""

    reason = QuarantineReason.PIXEL_ERROR


class UnsupportedPixelEncoding(PixelError):
    """The pixel encoding cannot be decoded (or re-encoded) safely."""

    reason = QuarantineReason.UNSUPPORTED_PIXEL_ENCODING


class UnsupportedTransferSyntax(UnsupportedPixelEncoding):
    """No installed decoder handles the transfer syntax, or the UID is not a known one.

    ``uid`` is the Transfer Syntax UID as found (never PHI: a UID of the standard or a vendor's).
    """

    reason = QuarantineReason.UNSUPPORTED_TRANSFER_SYNTAX

    def __init__(self, message: str, *, uid: str = "", path: str | Path | None = None) -> None:
        super().__init__(message, path=path)
        self.uid = uid


class PixelStreamError(PixelError):
    """A compressed frame whose embedded metadata (comments, EXIF) cannot be removed safely."""


class OcrUnavailable(PixelError):
    """The text detector or OCR engine is missing or failed."""

    reason = QuarantineReason.OCR_UNAVAILABLE


class EncapsulatedDocumentError(DeidError):
    """An encapsulated document (PDF, CDA, STL ...) that the documents policy does not write."""

    reason = QuarantineReason.ENCAPSULATED_DOCUMENT

    def __init__(self, message: str, *, path: str | Path | None = None, drop: bool = False) -> None:
        super().__init__(message, path=path)
        self.drop = drop  # --documents drop: not copied to the quarantine either


class UnmappedPatient(DeidError):
    """The subject map has no row for the instance's patient and ``--unmapped error`` is in force."""

    reason = QuarantineReason.UNMAPPED_PATIENT


class ProfileError(DeidError):
    """A profile file or override is invalid."""

    reason = QuarantineReason.PROFILE_ERROR


class ConfigError(DeidError, ValueError):
    """Invalid options given by the operator (usage error)."""


class KeyMaterialError(DeidError):
    """A key file is missing, malformed, or has unsafe permissions."""


class SealError(DeidError):
    """A sealed mapping file is invalid, tampered with, or cannot be opened."""


class VerifyFailure(DeidError):
    """verify found residual identifying information."""


class OutputInUse(DeidError):
    """Another run holds the output folder's lock (two runs must never write one OUTPUT)."""


__all__ = [
    "ConfigError",
    "DeidError",
    "EncapsulatedDocumentError",
    "InputError",
    "KeyMaterialError",
    "NotDicomError",
    "OcrUnavailable",
    "OutputInUse",
    "PixelError",
    "ProfileError",
    "QuarantineReason",
    "SealError",
    "UnmappedPatient",
    "UnreadableDicomError",
    "UnsupportedPixelEncoding",
    "UnsupportedTransferSyntax",
    "VerifyFailure",
]
