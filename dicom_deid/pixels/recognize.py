"""Read short text lines with the recognition network shipped in the rapidocr wheel.  Knows no DICOM.

:class:`CrnnRecognizer` runs ``ch_PP-OCRv4_rec_infer.onnx`` (PP-OCRv4 recognition: a CRNN with a
CTC head over 6,623 characters, Latin letters and digits among them) through onnxruntime on the
CPU.  The character table is stored inside the model file itself; nothing is downloaded.

It answers one question for the pixel stage: *does this region hold characters?*  Each crop is
read upright, and turned by 90° either way when it is taller than wide, and the best reading is
kept.  A :class:`Reading` gives the characters with the network's confidence per character, so
that confirmation (``confirm.py``) can tell text from texture.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from dicom_deid.errors import OcrUnavailable
from dicom_deid.pixels.models import RECOGNITION, LazySession, find_model
from dicom_deid.pixels.ocr import ImageMemo, TextBox, _import_cv2, image_key, to_rgb8
from dicom_deid.pixels.order import percentiles

if TYPE_CHECKING:
    import numpy.typing as npt

_HEIGHT = 48  # the network's input height
_MAX_RATIO = 40.0
_MEMO_CROPS = 512  # readings remembered by crop content (the latest ones)  # crops wider than 40 heights are read in pieces by the caller, never squeezed


@dataclass(frozen=True, slots=True)
class Reading:
    """What a crop reads: characters and the network's confidence for each."""

    text: str
    confidences: tuple[float, ...]
    rotation: int = 0  # degrees the crop was turned to read it (0, 90, 270)

    @property
    def alnum(self) -> int:
        """Letters and digits read (any script), the evidence that counts for text."""
        return sum(1 for ch in self.text if ch.isalnum())

    @property
    def latin_alnum(self) -> int:
        """Latin letters and digits read: burned-in PHI is almost always in these."""
        return sum(1 for ch in self.text if ch.isascii() and ch.isalnum())

    @property
    def mean_confidence(self) -> float:
        return float(np.mean(self.confidences)) if self.confidences else 0.0

    def score(self) -> float:
        """Evidence of text: confident Latin characters count most."""
        if not self.confidences:
            return 0.0
        weights = [
            conf * (1.0 if (ch.isascii() and ch.isalnum()) else 0.5 if ch.isalnum() else 0.25)
            for ch, conf in zip(self.text, self.confidences, strict=True)
        ]
        return float(sum(weights))


EMPTY = Reading("", ())


def find_recognition_model() -> Path:
    """Path of the recognition model inside the installed rapidocr-onnxruntime wheel."""
    return find_model(RECOGNITION, "recognition")


class CrnnRecognizer:
    """PP-OCRv4 recognition through onnxruntime; the session is created on first use."""

    def __init__(self, *, threads: int = 1, model_path: Path | None = None, batch: int = 1) -> None:
        self.threads = threads
        self.batch = batch
        self._network = LazySession(RECOGNITION, "recognition", threads=threads, model_path=model_path)
        self._characters: list[str] = []
        self._recent = ImageMemo[Reading](_MEMO_CROPS)

    def _get_session(self) -> Any:
        session = self._network.get()
        if not self._characters:
            table = session.get_modelmeta().custom_metadata_map.get("character", "")
            if not table:
                raise OcrUnavailable("text recognition model carries no character table")
            # CTC: index 0 is the blank; the table; then the space character
            self._characters = ["", *table.splitlines(), " "]
        return session

    def read_boxes(
        self, image: npt.NDArray[np.uint8], boxes: Sequence[TextBox]
    ) -> list[Reading]:
        """The best reading of each box of ``image`` (upright, or turned for tall boxes)."""
        crops: list[npt.NDArray[np.uint8]] = []
        owners: list[tuple[int, int]] = []  # (box index, rotation)
        for index, box in enumerate(boxes):
            crop = _crop(image, box)
            if crop is None:
                continue
            turns = (0, 90, 270) if crop.shape[0] > 1.3 * crop.shape[1] else (0,)
            for turn in turns:
                crops.append(np.ascontiguousarray(np.rot90(crop, k=turn // 90)) if turn else crop)
                owners.append((index, turn))
        best = [EMPTY] * len(boxes)
        for (index, turn), reading in zip(owners, self.read_crops(crops), strict=True):
            reading = Reading(reading.text, reading.confidences, turn)
            if reading.score() > best[index].score():
                best[index] = reading
        return best

    def read_crops(self, crops: Sequence[npt.NDArray[np.uint8]]) -> list[Reading]:
        """Read each RGB crop (one text line each).

        Equal crops are read once, and a crop read a moment ago is not read again (the same
        region on equal frames of a multi-frame instance, or on a projection equal to them)."""
        if not crops:
            return []
        self._get_session()
        keys = [image_key(crop) for crop in crops]
        results: dict[bytes, Reading] = {}
        todo: dict[bytes, npt.NDArray[np.uint8]] = {}
        for key, crop in zip(keys, crops, strict=True):
            known = self._recent.get(key)
            if known is not None:
                results[key] = known
            elif key not in todo:
                todo[key] = crop
        unread = list(todo)
        order = np.argsort([todo[k].shape[1] / max(1, todo[k].shape[0]) for k in unread])
        for start in range(0, len(unread), self.batch):
            chunk = [unread[int(i)] for i in order[start : start + self.batch]]
            out = self._network.run(_batch([todo[k] for k in chunk]))
            for row, key in zip(out, chunk, strict=True):
                results[key] = self._decode(np.asarray(row, dtype=np.float32))
                self._recent.put(key, results[key])
        return [results[key] for key in keys]

    def _decode(self, probabilities: npt.NDArray[np.float32]) -> Reading:
        """Greedy CTC: best class per step, repeats collapsed, blanks dropped."""
        best = probabilities.argmax(axis=1)
        conf = probabilities.max(axis=1)
        text: list[str] = []
        confidences: list[float] = []
        previous = -1
        for step, cls in enumerate(best):
            cls = int(cls)
            if cls != previous and cls != 0 and cls < len(self._characters):
                text.append(unicodedata.normalize("NFKC", self._characters[cls]))
                confidences.append(float(conf[step]))
            previous = cls
        # NFKC can widen one character into several; keep the lists aligned
        chars: list[str] = []
        confs: list[float] = []
        for piece, value in zip(text, confidences, strict=True):
            for ch in piece:
                chars.append(ch)
                confs.append(value)
        joined = "".join(chars)
        kept = joined.strip()
        lead = len(joined) - len(joined.lstrip())  # a leading space read: the confidences start after it
        return Reading(kept, tuple(confs[lead : lead + len(kept)]))


def _crop(image: npt.NDArray[np.uint8], box: TextBox) -> npt.NDArray[np.uint8] | None:
    """The RGB pixels of ``box`` (clipped to ``image``), or None when under 2 px either way."""
    height, width = image.shape[:2]
    x0, y0 = max(0, box.x), max(0, box.y)
    x1, y1 = min(width, box.x1), min(height, box.y1)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    return np.ascontiguousarray(to_rgb8(image[y0:y1, x0:x1]))


def _batch(crops: Sequence[npt.NDArray[np.uint8]]) -> npt.NDArray[np.float32]:
    """Resize to the network height, pad right to the widest crop, normalise to [-1, 1]."""
    cv2 = _import_cv2()
    widths = []
    for crop in crops:
        ratio = min(_MAX_RATIO, crop.shape[1] / max(1, crop.shape[0]))
        widths.append(max(8, int(np.ceil(_HEIGHT * ratio))))
    target = max(widths)  # one crop per run is fastest on the CPU: no padding
    blob = np.zeros((len(crops), 3, _HEIGHT, target), dtype=np.float32)
    for i, (crop, width) in enumerate(zip(crops, widths, strict=True)):
        resized = cv2.resize(crop[:, :, ::-1], (width, _HEIGHT), interpolation=cv2.INTER_LINEAR)
        blob[i, :, :, :width] = _stretch(resized).transpose(2, 0, 1) / 127.5 - 1.0
    return blob


def _stretch(crop: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
    """The crop's own range (1st-99th percentile of its luminance) spread over 0..255: faint text
    reads as well as bold."""
    data = crop.astype(np.float32)
    grey = data.mean(axis=2)
    lo, hi = percentiles(grey, (1, 99))
    if hi - lo < 4.0:
        return data
    stretched: npt.NDArray[np.float32] = np.clip((data - lo) * (255.0 / (hi - lo)), 0.0, 255.0)
    return stretched


__all__ = ["EMPTY", "CrnnRecognizer", "Reading", "find_recognition_model"]
