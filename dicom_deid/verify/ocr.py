"""(c) Residual text in de-identified pixel data, read by Tesseract (one engine per thread).

Images are chosen by verify's own rule (``choose_images``), never by the pixel stage's risk
assessment, so an image class the pixel stage skips is not skipped here too.  What OCR reads is
judged like any other text of the output: a value or name of the input is an error; text that
looks like a date or an identifier is a warning; other words are a note.  An image that cannot
be decoded or rendered is a warning: under ``--ocr auto`` a skipped image is a finding, not
silence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from io import BytesIO
from typing import Any

import pydicom
from pydicom.dataset import Dataset

from dicom_deid.errors import DeidError
from dicom_deid.tesseract import find_tessdata, quiet_leptonica
from dicom_deid.verify.checker import _Checker
from dicom_deid.verify.elements import PARSE_ERRORS, hint
from dicom_deid.verify.judge import judge_name, judge_value
from dicom_deid.verify.result import Category, OcrMode, Severity
from dicom_deid.vocabulary import is_vocabulary
from dicom_deid.walk import InputRef, read_bytes


class _WordReader:
    """Tesseract in sparse-text mode: (word, confidence) for an 8-bit image."""

    def __init__(self) -> None:
        from dicom_deid.errors import OcrUnavailable

        self._api: Any = None
        try:
            import tesserocr

            self._tesserocr = tesserocr
            self._api = tesserocr.PyTessBaseAPI(path=find_tessdata() or "./", psm=tesserocr.PSM.SPARSE_TEXT)
            quiet_leptonica()
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


def _display_frames(ds: Dataset) -> list[tuple[int, Any]]:
    """First, middle and last frame as 8-bit display images (the pixel stage's decoder and
    renderer: decoders are shared, decisions are not)."""
    from dicom_deid.pixels.decode import decode_pixels
    from dicom_deid.pixels.display import display_frame

    decoded = decode_pixels(ds)
    count = decoded.facts.frames
    picks = sorted({0, count // 2, count - 1})
    return [(i, display_frame(decoded, decoded.frames[i])) for i in picks]


@dataclass(frozen=True, slots=True)
class Image:
    """An output with pixel data: where it is and what series it belongs to."""

    shown: str
    rel: str
    ref: InputRef
    series: str
    number: int


def choose_images(images: list[Image], mode: OcrMode) -> list[Image]:
    """Verify's own rule: every image (``all``), or a sample of every series with pixel data,
    whatever its modality or SOP class (``auto``): its first and last instance by number."""
    if mode is OcrMode.ALL:
        return list(images)
    by_series: dict[str, list[Image]] = {}
    for image in images:
        by_series.setdefault(image.series, []).append(image)
    chosen: list[Image] = []
    for members in by_series.values():
        members.sort(key=lambda im: (im.number, im.rel))
        chosen += [members[0]] + ([members[-1]] if len(members) > 1 else [])
    return sorted(chosen, key=lambda im: im.rel)


_DECODE_ERRORS: tuple[type[BaseException], ...] = (DeidError, *PARSE_ERRORS)
_WORD = re.compile(r"[A-Za-z0-9]")
_LOOKS_IDENTIFYING = re.compile(
    r"\b(?:\d{1,4}[-/.]\d{1,2}[-/.]\d{2,4}|\d{5,}|\d{1,2}[-/ ]?(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)"
    r"[a-z]*[-/ ]?\d{2,4})\b", re.IGNORECASE)


def _read_words(reader: _WordReader, ref: InputRef, min_confidence: float) -> list[tuple[int, list[tuple[str, float]]]] | str:
    """Confident words per frame of one image, or the name of the error that stopped decoding."""
    try:
        frames = _display_frames(pydicom.dcmread(BytesIO(read_bytes(ref)), force=True))
    except _DECODE_ERRORS as exc:  # reported as a finding, never fatal
        return f"{type(exc).__name__}: {str(exc)[:120]}" if isinstance(exc, DeidError) else type(exc).__name__
    out = []
    for i, image in frames:
        words = [(w.strip(), c) for w, c in reader.words(image) if c >= min_confidence and len(_WORD.findall(w)) >= 3]
        out.append((i, words))
    return out


def check_pixels(checker: _Checker, jobs: list[Image], first: _WordReader, *,
                 threads: int = 4, min_confidence: float = 75.0) -> None:
    """(c): words Tesseract reads with confidence in de-identified pixels (one engine per thread)."""
    import queue
    from concurrent.futures import ThreadPoolExecutor

    free: queue.SimpleQueue[_WordReader] = queue.SimpleQueue()
    free.put(first)
    readers = [first]

    def one(job: Image) -> Any:
        try:
            reader = free.get_nowait()
        except queue.Empty:
            reader = _WordReader()
            readers.append(reader)
        try:
            return _read_words(reader, job.ref, min_confidence)
        finally:
            free.put(reader)

    try:
        with ThreadPoolExecutor(max(1, threads)) as pool:
            results = list(pool.map(one, jobs))
    finally:
        for reader in readers:
            reader.close()
    for job, result in zip(jobs, results, strict=True):
        if isinstance(result, str):
            checker.add(Category.PIXEL_TEXT, job.shown, "pixels", f"not checked by OCR: cannot be decoded or "
                        f"rendered ({result}); look at the image, or withhold it", severity=Severity.WARNING)
            continue
        patients = checker.file_patients.get(job.rel) if checker.file_patients is not None else None
        for i, words in result:
            if words:
                _judge_words(checker, job.shown, f"pixels frame {i}", words, patients)


def _judge_words(checker: _Checker, shown: str, where: str, words: list[tuple[str, float]],
                 patients: frozenset[int] | None) -> None:
    text = " ".join(w for w, _ in words)
    values, names = checker.search(text, patients)
    matched = []
    severity = Severity.NOTE
    for n in values:
        verdict = judge_value(n.kind, n.tokens, where, False, original=n.original)
        matched.append(f"{n.kind} ({hint(n.original)})")
        severity = verdict.severity if verdict.severity is Severity.ERROR else severity
    by_name = {id(h.name): h.name for h in names}
    for key, name in by_name.items():
        verdict = judge_name([h for h in names if id(h.name) == key], where, False)
        matched.append(f"name ({hint(name.original)})")
        severity = verdict.severity if verdict.severity is Severity.ERROR else severity
    summary = (f"{len(words)} word(s) read by OCR (longest {max(len(w) for w, _ in words)} characters, best "
               f"confidence {max(c for _, c in words):.0f})")
    if severity is Severity.ERROR:
        reason = f"; burned-in {', '.join(sorted(set(matched)))} of the input: redact it (run --pixels all) " \
                 "or withhold the series"
    elif _LOOKS_IDENTIFYING.search(_meaningful(words)) or (checker.found is None and _unknown_words(words)):
        severity = Severity.WARNING
        reason = "; text that may be a date, an identifier or a name: look at the image"
    else:
        reason = "; no identifying value of the input among them (annotations, labels or noise): counted"
    checker.add(Category.PIXEL_TEXT, shown, where, summary + reason, severity=severity, value=text)


def _meaningful(words: list[tuple[str, float]]) -> str:
    """The words that are not one character repeated (``00000000`` is how OCR reads a grid of
    round shapes, such as the tiles of a mosaic, not a date or an identifier)."""
    return " ".join(w for w, _ in words if len({c for c in w if c.isalnum()}) > 1)


def _unknown_words(words: list[tuple[str, float]]) -> bool:
    """Any word of 4 or more letters that is not an ordinary word (a possible name)."""
    return any(len(w) >= 4 and w.isalpha() and not is_vocabulary(w) for w, _ in words)
