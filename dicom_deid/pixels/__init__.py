"""Pixel stage: find burned-in text in Pixel Data, black it out, write it back.

Modules follow the data flow: ``sampling`` (which instances of a series ``auto`` searches
first; ``phases`` runs the samples, then the rest) → ``risk`` (header only) → ``decode`` →
``display`` → ``detect`` (``ocr`` proposes, ``recognize`` reads, ``confirm`` judges and
tightens, ``frames`` assigns frames) + ``regions`` (templates) + ``faces`` → ``redact`` →
``encode``; ``stage`` ties them together for one instance.
"""

from dicom_deid.pixels.redact import RedactionBox
from dicom_deid.pixels.sampling import SeriesVerdicts
from dicom_deid.pixels.stage import (
    Examination,
    PixelMode,
    PixelOutcome,
    PixelPolicy,
    PixelStage,
    make_pixel_stage,
    policy_for,
)

__all__ = [
    "Examination",
    "PixelMode",
    "PixelOutcome",
    "PixelPolicy",
    "PixelStage",
    "RedactionBox",
    "SeriesVerdicts",
    "make_pixel_stage",
    "policy_for",
]
