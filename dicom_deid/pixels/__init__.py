"""Pixel stage: find burned-in text in Pixel Data, black it out, write it back.

Modules follow the data flow: ``risk`` (header only) → ``decode`` → ``display`` →
``detect``/``ocr`` (text boxes) + ``regions`` (templates) → ``redact`` → ``encode``;
``stage`` ties them together for the pipeline.  ``mode`` holds :class:`PixelMode` alone: the
stage's modules (and their start-up cost) load on first use of a name below, so a run with
``--pixels off`` never loads them.
"""

from __future__ import annotations

import typing

from dicom_deid.pixels.mode import PixelMode

if typing.TYPE_CHECKING:
    from dicom_deid.pixels.redact import RedactionBox
    from dicom_deid.pixels.stage import PixelOutcome, PixelPolicy, PixelStage, make_pixel_stage

_LAZY = {"PixelOutcome": "stage", "PixelPolicy": "stage", "PixelStage": "stage", "make_pixel_stage": "stage",
         "RedactionBox": "redact"}


def __getattr__(name: str) -> object:
    """PEP 562: the stage's names, imported when first asked for."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


__all__ = [
    "PixelMode",
    "PixelOutcome",
    "PixelPolicy",
    "PixelStage",
    "RedactionBox",
    "make_pixel_stage",
]
