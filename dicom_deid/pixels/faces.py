"""Clean Recognizable Visual Features (PS3.15 E.3.5): faces in photographs, defacing review flags.

* Visible-light photographs (VL photographic, endoscopic, microscopic, dermoscopic, video,
  ophthalmic photography; modalities XC, ES, OP, GM, SM) are searched for faces with the Haar
  cascades that ship inside ``opencv-python-headless`` (frontal and profile, the profile also
  on the mirrored image).  Each face is blacked out with a margin of a fifth of its size.
* Head CT and MR (Body Part Examined, or a head/brain word in the study, series or protocol
  description) can be rendered into a recognizable face.  Pixels are not changed; the instance
  is flagged for defacing review in the manifest and the report.

Knows no files; the cascade files are located inside the installed OpenCV wheel.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from pydicom.dataset import Dataset

from dicom_deid.errors import OcrUnavailable
from dicom_deid.pixels.ocr import TextBox, _import_cv2

if TYPE_CHECKING:
    import numpy.typing as npt

#: SOP Class UID roots of visible-light photography (PS3.4 B.5): 77.1.x and its children.
_PHOTO_SOP_ROOT = "1.2.840.10008.5.1.4.1.1.77.1"
PHOTO_MODALITIES = frozenset({"XC", "ES", "OP", "GM", "SM", "DMS"})
HEAD_CT_MR = frozenset({"CT", "MR"})
_HEAD_PARTS = frozenset({"HEAD", "BRAIN", "SKULL", "FACE", "ORBIT", "SINUS", "HEADNECK", "NECKHEAD",
                         "EAR", "JAW", "TMJ", "NOSE", "MAXILLA", "MANDIBLE", "IAC"})  # fmt: skip
_HEAD_WORDS = re.compile(
    r"\b(HEAD|BRAIN|SKULL|FACE|FACIAL|ORBITS?|SINUS(ES)?|CRANI\w*|NEURO|CEREBR\w*|MAXILLO\w*)\b"
)
_CASCADES = (
    "haarcascade_frontalface_default.xml",
    "haarcascade_frontalface_alt2.xml",
    "haarcascade_profileface.xml",
)


def is_photograph(ds: Dataset) -> bool:
    """A visible-light photograph, by SOP class or modality."""
    sop = str(ds.get("SOPClassUID", "") or "")
    modality = str(ds.get("Modality", "") or "").upper().strip()
    return sop == _PHOTO_SOP_ROOT or sop.startswith(_PHOTO_SOP_ROOT + ".") or modality in PHOTO_MODALITIES


def is_head_volume(ds: Dataset) -> bool:
    """A CT or MR image of the head (a face can be reconstructed from it)."""
    if str(ds.get("Modality", "") or "").upper().strip() not in HEAD_CT_MR:
        return False
    part = re.sub(r"[^A-Z]", "", str(ds.get("BodyPartExamined", "") or "").upper())
    if part in _HEAD_PARTS:
        return True
    text = " ".join(
        str(ds.get(k, "") or "") for k in ("StudyDescription", "SeriesDescription", "ProtocolName")
    ).upper()
    return bool(_HEAD_WORDS.search(text))


@functools.lru_cache(maxsize=1)
def _cascades() -> tuple[Any, ...]:
    cv2 = _import_cv2()
    folder = Path(getattr(getattr(cv2, "data", None), "haarcascades", "") or "")
    loaded = []
    for name in _CASCADES:
        path = folder / name
        classifier = cv2.CascadeClassifier(str(path)) if path.is_file() else None
        if classifier is None or classifier.empty():
            raise OcrUnavailable(
                f"OpenCV face cascade {name} not found: install 'dicom-deid[ocr]' "
                "(opencv-python-headless 4.x ships the Haar cascades)"
            )
        loaded.append(classifier)
    return tuple(loaded)


def find_faces(image: npt.NDArray[np.uint8], *, margin: float = 0.2) -> list[TextBox]:
    """Face rectangles in an 8-bit grey or RGB image, grown by ``margin`` of their size.

    The image is searched at most 512 px wide.  A frontal face counts when both frontal
    cascades agree on it; a profile (either direction) needs the stricter neighbour count.
    """
    cv2 = _import_cv2()
    grey = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    height, width = grey.shape
    scale = min(1.0, 512.0 / max(height, width))
    small = grey if scale == 1.0 else cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    small = cv2.equalizeHist(np.ascontiguousarray(small))
    smallest = max(20, min(small.shape) // 12)
    frontal_default, frontal_alt, profile = _cascades()

    def run(classifier: Any, img: npt.NDArray[np.uint8], neighbours: int) -> list[tuple[int, int, int, int]]:
        hits = classifier.detectMultiScale(img, 1.15, neighbours, minSize=(smallest, smallest))
        return [(int(x), int(y), int(w), int(h)) for x, y, w, h in hits]

    first, second = run(frontal_default, small, 5), run(frontal_alt, small, 3)
    found = [f for f in first if any(_overlap(f, s) > 0.3 for s in second)]
    found += run(profile, small, 7)
    mirrored = np.ascontiguousarray(small[:, ::-1])
    found += [(small.shape[1] - x - w, y, w, h) for x, y, w, h in run(profile, mirrored, 7)]
    boxes = []
    for x, y, w, h in found:
        grow = margin * max(w, h)
        x0, y0 = max(0, int((x - grow) / scale)), max(0, int((y - grow) / scale))
        x1 = min(width, int(np.ceil((x + w + grow) / scale)))
        y1 = min(height, int(np.ceil((y + h + grow) / scale)))
        boxes.append(TextBox(x0, y0, x1 - x0, y1 - y0))
    return boxes


def _overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    ix = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    union = a[2] * a[3] + b[2] * b[3] - ix * iy
    return ix * iy / union if union else 0.0


__all__ = ["find_faces", "is_head_volume", "is_photograph"]
