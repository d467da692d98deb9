"""The keep-clinical-annotations policy: a detector box that reads as a short clinical annotation
(``L``, ``5 cm``, ``D1 2.3CM``) on every search image is kept; anything else is still redacted.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from dicom_deid.pixels.ocr import TextBox, TextReader
from dicom_deid.pixels.redact import RedactionBox

if TYPE_CHECKING:
    import numpy.typing as npt


_CLINICAL_TOKEN = re.compile(
    r"^(?:L|R|LT|RT|LEFT|RIGHT|A|P|S|I|H|F|AP|PA|LAT|ANT|POST|SUP|INF|MED|TRV|TRANS|SAG|LONG|COR"
    r"|AX|PROX|MID|DIST|D\d|M\d|DIST\d?|AREA|VOL|CM|MM|HZ|KHZ|MHZ|DB|FPS|BPM|CM/S|M/S|%"
    r"|[+×x*#:=.\-]|\d{1,3}(?:[.,]\d{1,2})?(?:CM|MM|%|DB|HZ)?)$"
)
_PHI_LIKE = re.compile(
    r"\d{4,}"  # IDs, accession numbers, years
    r"|\d{1,2}[/.\-]\d{1,2}[/.\-]\d{2,4}"  # dates
    r"|\d{1,2}:\d{2}"  # times
    r"|[A-Z]{2,}\^"  # DICOM person name
)
_MAX_CLINICAL_LENGTH = 12


def is_clinical_annotation(text: str, phi_values: Iterable[str]) -> bool:
    """True for a short annotation such as ``L``, ``5 cm`` or ``D1 2.3CM`` (and nothing else).

    Unreadable text is never clinical: redaction must not depend on reading.
    """
    cleaned = " ".join(text.upper().split())
    if not cleaned or len(cleaned) > _MAX_CLINICAL_LENGTH or _PHI_LIKE.search(cleaned):
        return False
    squeezed = re.sub(r"[^A-Z0-9]", "", cleaned)
    for value in phi_values:
        for part in re.split(r"[\^\s,/\-.]+", str(value).upper()):
            part = re.sub(r"[^A-Z0-9]", "", part)
            if len(part) >= 2 and part in squeezed:
                return False
    return all(_CLINICAL_TOKEN.match(token) for token in cleaned.split(" "))


def keep_clinical(
    boxes: Sequence[RedactionBox],
    images: Sequence[npt.NDArray[np.uint8]],
    reader: TextReader,
    phi_values: Sequence[str],
) -> list[RedactionBox]:
    """Boxes that must still be redacted once clinical annotations are kept.

    A box is kept (not redacted) only when *every* search image reads as a clinical
    annotation there.  Only detector boxes are considered; template and ultrasound-region
    boxes are always redacted.
    """
    result: list[RedactionBox] = []
    for box in boxes:
        if box.source != "detector":
            result.append(box)
            continue
        probe = TextBox(box.x, box.y, box.width, box.height)
        readings = [reader.read(image, probe) for image in images]
        if not all(is_clinical_annotation(text, phi_values) for text in readings):
            result.append(box)
    return result
