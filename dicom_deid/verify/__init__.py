"""Verify: an independent oracle over a de-identified output folder.

Re-reads every file under OUTPUT (zip members included) and reports

a. attributes present that the profile says must be removed (X) or emptied (Z);
b. identifying values of the input (``against``) found anywhere in the output: every element
   (private tags, sequences, file meta), a raw byte scan outside Pixel Data, and file paths;
c. residual text found by OCR in pixel data;
d. UID problems: original UIDs left unchanged, invalid syntax, duplicate SOP Instance UIDs,
   references to instances that are not in the output;
e. missing PatientIdentityRemoved = YES / DeidentificationMethodCodeSequence;
f. (``dciodvfy=True``) DICOM conformance errors that the matching input did not have.

It shares no code with the writer: it never imports ``plan``, ``scrub``, ``deidentify`` or
``remap``; the action table comes from ``profiles`` and the identifying values are extracted
here from the input files.  Findings never carry an original value unless ``show_values`` is
asked for (input side): they name its kind and a hint (first character and length).

Modules, in the order of a run: ``driver`` (``verify_output``), ``rules`` (profile actions),
``identifying`` (values of the input), ``elements`` (reading and walking files), ``checker``
(per-file checks a, b, d, e), ``ocr`` (c), ``conformance`` (f), ``result`` (types, JSON).
"""

from __future__ import annotations

import logging

from dicom_deid.verify.driver import verify_output
from dicom_deid.verify.elements import hint
from dicom_deid.verify.identifying import NeedleIndex, collect_identifying
from dicom_deid.verify.ocr import _WordReader  # noqa: F401 - tests patch verify._WordReader
from dicom_deid.verify.result import Category, Finding, OcrMode, Severity, VerifyResult
from dicom_deid.verify.rules import resolve_profile

logger = logging.getLogger(__name__)


__all__ = [
    "Category",
    "Finding",
    "NeedleIndex",
    "OcrMode",
    "Severity",
    "VerifyResult",
    "collect_identifying",
    "hint",
    "resolve_profile",
    "verify_output",
]
