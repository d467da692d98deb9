"""dicom-deid: de-identify DICOM studies per PS3.15 Annex E."""

from __future__ import annotations

import logging

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = ["__version__"]
