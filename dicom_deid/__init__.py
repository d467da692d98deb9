"""dicom-deid: de-identify DICOM studies per PS3.15 Annex E.

The public API (see the README's "Python API")::

    from dicom_deid import Deidentifier
    deid = Deidentifier(profile="research", key="secret.key")
    result = deid.dataset(ds)                      # a pydicom Dataset, in memory
    deid.file("IM0001", "out/IM0001.dcm")          # one file
    summary = deid.run("export/", "research-set/", workers=4, recipient="custodian.pub")

Everything else is internal; the command line (``dicom-deid``) and the network node are shells
over :class:`Deidentifier`.
"""

from __future__ import annotations

import logging

from dicom_deid._version import __version__
from dicom_deid.api import Deidentifier, DeidWarning
from dicom_deid.deidentify import Deidentified
from dicom_deid.errors import ConfigError, DeidError, QuarantineReason
from dicom_deid.keys import SecretKey
from dicom_deid.manifest import Outcome
from dicom_deid.pipeline import RunSummary
from dicom_deid.pixels.mode import PixelMode
from dicom_deid.subjects import SubjectMap, Unmapped, load_subject_map

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "ConfigError",
    "DeidError",
    "DeidWarning",
    "Deidentified",
    "Deidentifier",
    "Outcome",
    "PixelMode",
    "QuarantineReason",
    "RunSummary",
    "SecretKey",
    "SubjectMap",
    "Unmapped",
    "__version__",
    "load_subject_map",
]
