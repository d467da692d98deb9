"""Verify: an independent oracle over a de-identified output folder.

Re-reads every file under OUTPUT (zip members included) and reports

a. attributes present that the profile says must be removed (X) or emptied (Z), overlay planes
   (60xx groups) left without their Overlay Data included;
b. identifying values of the input (``against``) found anywhere in the output: every element
   (private tags, sequences, file meta), a raw byte scan outside Pixel Data (preamble and
   trailing bytes included), and file paths; person names however spelled (``names``);
c. residual text found by OCR in pixel data, in a sample of every series (verify's own rule);
d. UID problems: original UIDs left unchanged, invalid syntax, duplicate SOP Instance UIDs,
   references to instances that are not in the output;
e. missing PatientIdentityRemoved = YES / DeidentificationMethodCodeSequence;
f. (``dciodvfy=True``) DICOM conformance errors that the matching input did not have.

Every finding has a severity (``judge``): an error is a leak or a profile violation and fails
verify; a warning is a check that could not be done or text that may identify; a note is a
match that is not identifying on its own (vocabulary, a common word, a short value), counted.
What the tool itself writes (pseudonyms, UIDs under its root, its method text, dummies; ``own``)
and what the profile keeps on purpose are never evidence of a leak.

It shares no decision with the writer: it never imports ``plan``, ``scrub``, ``deidentify``,
``clean`` or ``pixels.risk``.  The action table comes from ``profiles``, the identifying values
are extracted here from the input files, names are matched by verify's own code; it uses
``pixels.decode``/``pixels.display`` to render images and, with the run's key only, ``remap`` to
recompute pseudonyms.  Findings never carry an original value unless ``show_values`` is asked
for (input side): they name its kind and a hint (first character and length).  An input or an
element pydicom cannot parse is reported (a note, a warning) and the rest is checked.

Modules, in the order of a run: ``driver`` (``verify_output``), ``rules`` (profile actions),
``identifying`` (values of the input), ``names`` (person names), ``own`` (the tool's own values),
``elements`` (reading and walking files), ``checker`` (per-file checks a, b, d, e), ``judge``
(severities), ``ocr`` (c), ``conformance`` (f), ``result`` (types, JSON).
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
