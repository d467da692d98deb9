"""The pixel stage of ``dicom-deid run``: decide, decode, find, redact, re-encode.

``PixelStage.process`` is the only entry point the pipeline uses.  It either returns a
:class:`PixelOutcome` for an instance it fully handled, or raises a
:class:`~dicom_deid.errors.PixelError` (``UnsupportedPixelEncoding``, ``OcrUnavailable``),
which the pipeline turns into a quarantine.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset

from dicom_deid.errors import UnsupportedTransferSyntax
from dicom_deid.pixels.decode import check_decodable, decode_pixels
from dicom_deid.pixels.detect import find_text_boxes, keep_clinical, search_images
from dicom_deid.pixels.encode import encode_frames
from dicom_deid.pixels.mode import PixelMode
from dicom_deid.pixels.ocr import (
    ContrastTextDetector,
    DbnetDetector,
    TesseractReader,
    TextDetector,
    TextReader,
)
from dicom_deid.pixels.redact import RedactionBox, apply_boxes, clip_box, fill_value, grow_box
from dicom_deid.pixels.regions import load_region_rules, template_boxes, ultrasound_boxes
from dicom_deid.pixels.risk import RiskLevel, assess_risk

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PixelPolicy:
    mode: PixelMode = PixelMode.AUTO
    keep_clinical_annotations: bool = False
    margin: int = 2

    def __post_init__(self) -> None:
        if not isinstance(self.mode, PixelMode):
            object.__setattr__(self, "mode", PixelMode(str(self.mode).lower()))
        if self.margin < 0:
            raise ValueError("margin must be >= 0")


@dataclass(frozen=True, slots=True)
class PixelOutcome:
    examined: bool  # were pixels decoded and searched
    redacted: bool  # were pixels changed
    boxes: tuple[RedactionBox, ...]
    transfer_syntax_out: str  # UID actually written
    note: str  # short, PHI-free


@functools.lru_cache(maxsize=4)
def _shared_detector(threads: int) -> DbnetDetector:
    """One network session per process and thread setting (the model is read-only)."""
    return DbnetDetector(threads=threads)


@functools.lru_cache(maxsize=1)
def _shared_reader() -> TesseractReader:
    return TesseractReader()


class PixelStage:
    """Per-process pixel stage; models load on first use and are shared in the process."""

    def __init__(
        self,
        policy: PixelPolicy,
        *,
        detector: TextDetector | None = None,
        reader: TextReader | None = None,
        regions_dir: Path | None = None,
        threads: int = 1,
    ) -> None:
        self.policy = policy
        self._detector = detector
        self._reader = reader
        self._regions_dir = regions_dir
        self._threads = threads
        self._quick = ContrastTextDetector()
        self._owns_engines = (detector is None, reader is None)

    def __getstate__(self) -> dict[str, object]:
        """Picklable for worker processes: lazily loaded engines are reloaded there."""
        state = dict(self.__dict__)
        if self._owns_engines[0]:
            state["_detector"] = None
        if self._owns_engines[1]:
            state["_reader"] = None
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)

    @property
    def detector(self) -> TextDetector:
        if self._detector is None:
            self._detector = _shared_detector(self._threads)
        return self._detector

    @property
    def reader(self) -> TextReader:
        if self._reader is None:
            self._reader = _shared_reader()
        return self._reader

    def process(
        self, source: Dataset, target: Dataset, *, phi_values: Sequence[str] = ()
    ) -> PixelOutcome:
        """Search ``source``'s pixels and write redacted pixels into ``target`` if needed."""
        syntax_in = str(target.file_meta.TransferSyntaxUID)
        if "PixelData" not in source:
            return PixelOutcome(False, False, (), syntax_in, "no pixel data")
        mode = self.policy.mode
        risk = assess_risk(source)
        if mode is PixelMode.OFF:
            return PixelOutcome(False, False, (), syntax_in, "skipped: pixels off")
        if mode is PixelMode.AUTO and risk.level is RiskLevel.LOW:
            try:
                check_decodable(source)  # an undecodable low-risk image is still reported
            except UnsupportedTransferSyntax as exc:  # its pixels need no change: pass through
                return PixelOutcome(False, False, (), syntax_in,
                                    f"skipped: {risk.reason}; no decoder for {exc.uid}")
            return PixelOutcome(False, False, (), syntax_in, f"skipped: {risk.reason}")

        decoded = decode_pixels(source)
        facts = decoded.facts
        rows, columns = facts.rows, facts.columns
        rules = load_region_rules(self._regions_dir)
        fixed = template_boxes(rules, source, rows, columns)
        fixed += ultrasound_boxes(rules, source, rows, columns)

        images = search_images(decoded)
        # the quick check sees the same projections and sampled frames as the detector, at full
        # and reduced scale (large glyphs exceed its character size at full scale)
        if (mode is PixelMode.AUTO and risk.level is RiskLevel.MEDIUM and not fixed
                and not any(self._quick.detect(img) for img in _with_reduced(images))):
            return PixelOutcome(True, False, (), syntax_in, f"examined: no text ({risk.reason})")

        found, images = find_text_boxes(decoded, self.detector, images=images)
        if self.policy.keep_clinical_annotations and found:
            found = keep_clinical(found, images, self.reader, phi_values)
        boxes = [grow_box(b, self.policy.margin) for b in found] + fixed
        clipped = [c for c in (clip_box(b, rows, columns) for b in boxes) if c is not None]
        if not clipped:
            return PixelOutcome(True, False, (), syntax_in, f"examined: no text ({risk.reason})")

        redacted = apply_boxes(decoded.frames, clipped, fill_value(decoded))
        if np.array_equal(redacted, decoded.frames):
            return PixelOutcome(
                True, False, tuple(clipped), syntax_in, "examined: text regions already blank"
            )
        result = encode_frames(target, redacted, facts)
        target.BurnedInAnnotation = "NO"
        note = f"redacted {len(clipped)} box(es), {result.note}"
        return PixelOutcome(True, True, tuple(clipped), str(result.transfer_syntax), note)


def _with_reduced(images: Sequence[npt.NDArray[np.uint8]]) -> list[npt.NDArray[np.uint8]]:
    """Each image, plus 1/2 and 1/4 scale versions where the image is large enough."""
    out = []
    for image in images:
        out.append(image)
        for step in (2, 4):
            if min(image.shape[:2]) // step >= 64:
                out.append(np.ascontiguousarray(image[::step, ::step]))
    return out


def make_pixel_stage(policy: PixelPolicy) -> PixelStage:
    return PixelStage(policy)
