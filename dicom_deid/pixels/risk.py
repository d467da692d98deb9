"""Prior risk of burned-in text, from the header alone.  It never decides whether pixels are searched.

Every image is searched (``--pixels all``) or its series is sampled (``--pixels auto``,
``sampling.py``): no class of image is skipped by modality, and Burned In Annotation
(0028,0301) = NO is a hint, never a pass.  The risk level decides one thing: what happens to a
region the detector proposes but the recognizer does not confirm as text (``confirm.py``) —
on HIGH-risk images it is redacted (and counted), elsewhere it is left (and counted) unless it
continues a line that was confirmed (``stage.continues_a_line``): then it is part of that label.

=========  ==============================================================================
HIGH       US, SC, XA, RF, OT, ES, XC, DX, CR, IO, PX, GM, SM, OP, DOC modalities; Secondary
           Capture, VL photographic/endoscopic/microscopic, video, ophthalmic photography,
           ultrasound, X-ray angiography/RF, DX/CR/IO SOP classes; Burned In Annotation YES;
           Image Type DERIVED (screen captures, re-renders, reformats)
LOW        CT, MR, PT, NM, RTDOSE, SEG, REG ... ORIGINAL images
MEDIUM     anything else
=========  ==============================================================================
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from pydicom.dataset import Dataset

HIGH_RISK_MODALITIES = frozenset(
    {"US", "IVUS", "SC", "XA", "RF", "OT", "ES", "XC", "DX", "CR", "IO", "PX", "GM", "SM",
     "OP", "DOC", "VA", "TG"}
)  # fmt: skip
LOW_RISK_MODALITIES = frozenset(
    {"CT", "MR", "PT", "NM", "RTDOSE", "RTSTRUCT", "RTPLAN", "RTRECORD", "SEG", "REG", "RWV",
     "KO", "PR", "SR", "FID", "OPT", "OCT", "IVOCT"}
)  # fmt: skip

#: SOP Class UID roots: a UID matches when equal to a root or below it ("root.").
_HIGH_RISK_SOP_ROOTS = (
    "1.2.840.10008.5.1.4.1.1.1",  # CR; below it DX, mammography, intra-oral
    "1.2.840.10008.5.1.4.1.1.3",  # Ultrasound multi-frame (retired and current)
    "1.2.840.10008.5.1.4.1.1.6",  # Ultrasound image (retired and current)
    "1.2.840.10008.5.1.4.1.1.7",  # Secondary Capture family (incl. multi-frame)
    "1.2.840.10008.5.1.4.1.1.12",  # X-ray angiography, RF
    "1.2.840.10008.5.1.4.1.1.77.1",  # VL endoscopic/microscopic/photographic/video, ophthalmic
    "1.2.840.10008.5.1.4.1.1.104",  # Encapsulated documents (should carry no pixels)
)


class RiskLevel(enum.Enum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


@dataclass(frozen=True, slots=True)
class RiskDecision:
    level: RiskLevel
    reason: str  # short and PHI-free: modality / SOP class / flag names only


def _is_high_risk_sop(uid: str) -> bool:
    return any(uid == root or uid.startswith(root + ".") for root in _HIGH_RISK_SOP_ROOTS)


def assess_risk(ds: Dataset) -> RiskDecision:
    """Risk of burned-in text, from Modality, SOP Class, Burned In Annotation, Image Type."""
    modality = str(ds.get("Modality", "")).upper().strip()
    sop_class = str(ds.get("SOPClassUID", "")).strip()
    burned_in = str(ds.get("BurnedInAnnotation", "")).upper().strip()
    image_type = [str(v).upper() for v in (ds.get("ImageType") or [])]
    label = modality or "no modality"
    if burned_in == "YES":
        return RiskDecision(RiskLevel.HIGH, f"{label} BurnedInAnnotation YES")
    if modality in HIGH_RISK_MODALITIES:
        return RiskDecision(RiskLevel.HIGH, f"{label} high risk modality")
    if sop_class and _is_high_risk_sop(sop_class):
        return RiskDecision(RiskLevel.HIGH, f"{label} high risk SOP class")
    if image_type and image_type[0] == "DERIVED":
        # reformats, MIPs, screen captures and re-renders: text is often drawn into them
        return RiskDecision(RiskLevel.HIGH, f"{label} DERIVED image")
    if modality in LOW_RISK_MODALITIES:
        return RiskDecision(RiskLevel.LOW, f"{label} low risk")
    return RiskDecision(RiskLevel.MEDIUM, f"{label} medium risk")
