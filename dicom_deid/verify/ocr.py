"""(c) Residual text in de-identified pixel data, read by Tesseract (one engine per thread)."""

from __future__ import annotations

import os
import re
from io import BytesIO
from pathlib import Path
from typing import Any

import pydicom
from pydicom.dataset import Dataset

from dicom_deid.verify.checker import _Checker
from dicom_deid.verify.elements import hint
from dicom_deid.verify.result import Category, Severity
from dicom_deid.walk import InputRef, read_bytes


class _WordReader:
    """Tesseract in sparse-text mode: (word, confidence) for an 8-bit image."""

    def __init__(self) -> None:
        from dicom_deid.errors import OcrUnavailable

        self._api: Any = None
        try:
            import tesserocr

            self._tesserocr = tesserocr
            self._api = tesserocr.PyTessBaseAPI(path=_tessdata(), psm=tesserocr.PSM.SPARSE_TEXT)
            return
        except (ImportError, RuntimeError):
            pass
        try:
            import pytesseract

            pytesseract.get_tesseract_version()
        except (ImportError, OSError, RuntimeError) as exc:
            raise OcrUnavailable("Tesseract is missing: install Debian 'tesseract-ocr' and tesserocr or "
                                 "pytesseract") from exc

    def words(self, image: Any) -> list[tuple[str, float]]:
        from PIL import Image

        pil = Image.fromarray(image)
        if max(pil.size) <= 1024:
            pil = pil.resize((pil.width * 2, pil.height * 2), Image.Resampling.BICUBIC)
        if self._api is not None:
            tesserocr = self._tesserocr
            self._api.SetImage(pil)
            self._api.Recognize()
            level = tesserocr.RIL.WORD
            words = []
            iterator = self._api.GetIterator()
            for r in tesserocr.iterate_level(iterator, level) if iterator is not None else ():
                try:
                    words.append((str(r.GetUTF8Text(level) or ""), float(r.Confidence(level))))
                except RuntimeError:  # "No text returned" for an empty word
                    continue
            return words
        import pytesseract

        data = pytesseract.image_to_data(pil, config="--psm 11", output_type=pytesseract.Output.DICT)
        return [(str(w), float(c)) for w, c in zip(data["text"], data["conf"], strict=True) if str(w).strip()]

    def close(self) -> None:
        if self._api is not None:
            self._api.End()


def _tessdata() -> str:
    """Tesseract's language folder: $TESSDATA_PREFIX or the Debian locations."""
    candidates = [os.environ.get("TESSDATA_PREFIX", ""), "/usr/share/tesseract-ocr/5/tessdata",
                  "/usr/share/tesseract-ocr/4.00/tessdata", "/usr/share/tessdata", "/usr/local/share/tessdata"]
    return next((c for c in candidates if c and (Path(c) / "eng.traineddata").is_file()), "./")


def _display_frames(ds: Dataset) -> list[tuple[int, Any]]:
    """First, middle and last frame as 8-bit display images."""
    import numpy as np

    try:
        from dicom_deid.pixels.decode import decode_pixels
        from dicom_deid.pixels.display import display_frame

        decoded = decode_pixels(ds)
        count = decoded.facts.frames
        picks = sorted({0, count // 2, count - 1})
        return [(i, display_frame(decoded, decoded.frames[i])) for i in picks]
    except ImportError:
        arr = np.asarray(ds.pixel_array)
        frames = arr if int(ds.get("NumberOfFrames", 1) or 1) > 1 else arr[None]
        out = []
        for i in sorted({0, len(frames) // 2, len(frames) - 1}):
            f = frames[i].astype(np.float32)
            lo, hi = float(f.min()), float(f.max())
            out.append((i, ((f - lo) * (255.0 / max(hi - lo, 1e-6))).astype(np.uint8)))
        return out


def _at_risk(ds: Dataset) -> bool:
    from dicom_deid.pixels.risk import RiskLevel, assess_risk

    return assess_risk(ds).level is not RiskLevel.LOW


_WORD = re.compile(r"[A-Za-z0-9]")


def _read_words(reader: _WordReader, ref: InputRef, min_confidence: float) -> list[tuple[int, list[tuple[str, float]]]] | str:
    """Confident words per frame of one image, or the name of the error that stopped decoding."""
    try:
        frames = _display_frames(pydicom.dcmread(BytesIO(read_bytes(ref)), force=True))
    except Exception as exc:  # noqa: BLE001 - an image that cannot be decoded is reported, not fatal
        return type(exc).__name__
    out = []
    for i, image in frames:
        words = [(w.strip(), c) for w, c in reader.words(image) if c >= min_confidence and len(_WORD.findall(w)) >= 3]
        out.append((i, words))
    return out


def check_pixels(checker: _Checker, jobs: list[tuple[str, str, InputRef]], first: _WordReader, *,
                 threads: int = 4, min_confidence: float = 75.0) -> None:
    """(c): words Tesseract reads with confidence in de-identified pixels (one engine per thread)."""
    import queue
    from concurrent.futures import ThreadPoolExecutor

    free: queue.SimpleQueue[_WordReader] = queue.SimpleQueue()
    free.put(first)
    readers = [first]

    def one(job: tuple[str, str, InputRef]) -> Any:
        try:
            reader = free.get_nowait()
        except queue.Empty:
            reader = _WordReader()
            readers.append(reader)
        try:
            return _read_words(reader, job[2], min_confidence)
        finally:
            free.put(reader)

    try:
        with ThreadPoolExecutor(max(1, threads)) as pool:
            results = list(pool.map(one, jobs))
    finally:
        for reader in readers:
            reader.close()
    for (shown, rel, _ref), result in zip(jobs, results, strict=True):
        if isinstance(result, str):
            checker.add(Category.PIXEL_TEXT, shown, "pixels", f"cannot be decoded for OCR ({result})",
                        severity=Severity.WARNING)
            continue
        patients = checker.file_patients.get(rel) if checker.file_patients is not None else None
        for i, words in result:
            if not words:
                continue
            text = " ".join(w for w, _ in words)
            matched = checker.index.search(text, patients) if checker.index is not None else []
            what = "; matches " + ", ".join(sorted({f"{n.kind} ({hint(n.original)})" for n in matched})) if matched else ""
            checker.add(Category.PIXEL_TEXT, shown, f"pixels frame {i}",
                        f"{len(words)} word(s) read by OCR (longest {max(len(w) for w, _ in words)} characters, "
                        f"best confidence {max(c for _, c in words):.0f}){what}", value=text)
