"""Pixel stage: find burned-in text in Pixel Data, black it out, write it back.

Modules follow the data flow: ``risk`` (header only) → ``decode`` → ``display`` →
``detect``/``ocr`` (text boxes) + ``regions`` (templates) → ``redact`` → ``encode``;
``stage`` ties them together for the pipeline.
"""

from dicom_deid.pixels.redact import RedactionBox
from dicom_deid.pixels.stage import (
    PixelMode,
    PixelOutcome,
    PixelPolicy,
    PixelStage,
    make_pixel_stage,
)

__all__ = [
    "PixelMode",
    "PixelOutcome",
    "PixelPolicy",
    "PixelStage",
    "RedactionBox",
    "make_pixel_stage",
]
