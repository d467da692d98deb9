"""Original-to-pseudonym links: what the sealed mapping file stores.

The pipeline produces these per instance; only ``dicom_deid.seal`` ever writes them,
encrypted.  They must never reach the manifest, logs or the output folder.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class LinkKind(enum.Enum):
    PATIENT_ID = "patient_id"
    PATIENT_NAME = "patient_name"
    PATIENT_BIRTH_DATE = "patient_birth_date"
    DATE_OFFSET = "date_offset"  # replacement = offset in days, e.g. "-1234"
    STUDY_UID = "study_uid"
    SERIES_UID = "series_uid"
    SOP_INSTANCE_UID = "sop_instance_uid"
    OTHER_UID = "other_uid"
    ACCESSION_NUMBER = "accession_number"
    OTHER_ID = "other_id"
    SOURCE_PATH = "source_path"  # replacement = output path relative to OUT, or "quarantine:<id>"


@dataclass(frozen=True, slots=True)
class Link:
    """One original -> replacement link, with its output-side context.

    ``patient``/``study``/``series`` are the *pseudonymous* context (pseudo
    patient ID, new study UID, new series UID) so a custodian can group links.
    """

    kind: LinkKind
    original: str
    replacement: str
    patient: str = ""
    study: str = ""
    series: str = ""


__all__ = ["Link", "LinkKind"]
