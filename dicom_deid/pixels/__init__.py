"""Pixel stage: find burned-in text in Pixel Data, black it out, write it back.

Modules follow the data flow: ``sampling`` (which instances of a series ``auto`` searches
first; ``phases`` runs the samples, then the rest) → ``risk`` (header only) → ``decode`` →
``display`` → ``detect`` (``ocr`` proposes, ``recognize`` reads, ``confirm`` judges and
tightens, ``frames`` assigns frames) + ``regions`` (templates) + ``faces`` → ``redact`` →
``encode``; ``stage`` ties them together for one instance.  ``mode`` holds ``PixelMode``, light
on purpose: a ``--pixels off`` run imports it and never the stage, whose names below are loaded
on first use (numpy, codecs and OCR only when pixels are examined).
"""

from __future__ import annotations

import importlib
import typing

from dicom_deid.pixels.mode import PixelMode

if typing.TYPE_CHECKING:
    from dicom_deid.pixels.redact import RedactionBox
    from dicom_deid.pixels.sampling import SeriesVerdicts
    from dicom_deid.pixels.stage import (
        Examination,
        PixelOutcome,
        PixelPolicy,
        PixelStage,
        make_pixel_stage,
        policy_for,
    )

_LAZY = {"RedactionBox": "redact", "SeriesVerdicts": "sampling", "Examination": "stage", "PixelOutcome": "stage",
         "PixelPolicy": "stage", "PixelStage": "stage", "make_pixel_stage": "stage", "policy_for": "stage"}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


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
