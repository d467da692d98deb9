"""The pixel stage of ``dicom-deid run``: decide, decode, find, confirm, redact, re-encode.

Every image instance is searched, except in ``auto`` an instance whose series was sampled and
found clear (``sampling.py``; the header decision never skips a class of image by modality).
Region rules (ultrasound regions, device templates) and, with Clean Recognizable Visual
Features, face detection on photographs apply to every instance.  Text found by the detector is
blacked out only when the recognizer confirms it (``confirm.py``); unconfirmed regions are
redacted on high-risk images, and on any image where one continues a confirmed line, and counted.

``PixelStage.process`` is the pipeline's entry point.  It either returns a
:class:`PixelOutcome` for an instance it fully handled, or raises a
:class:`~dicom_deid.errors.PixelError` (``UnsupportedPixelEncoding``, ``OcrUnavailable``),
which the pipeline turns into a quarantine.  ``PixelStage.decide`` tells beforehand, from the
header alone, whether ``process`` will leave the instance as it is (its early return, the same
function): such an instance may take the byte path (``bytepath.py``).
"""

from __future__ import annotations

import copy
import dataclasses
import enum
import functools
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset

from dicom_deid.errors import UnsupportedTransferSyntax
from dicom_deid.pixels.clinical import keep_clinical
from dicom_deid.pixels.confirm import Verdict
from dicom_deid.pixels.decode import DecodedPixels, check_decodable, decode_pixels
from dicom_deid.pixels.detect import TextFinder, TextRecognizer, find_text
from dicom_deid.pixels.display import display_frame
from dicom_deid.pixels.encode import encode_frames
from dicom_deid.pixels.faces import find_faces, is_head_volume, is_photograph
from dicom_deid.pixels.fit import confirm_growth, merge_lines
from dicom_deid.pixels.frames import assign_frames
from dicom_deid.pixels.mode import PixelMode, check_pixel_options  # noqa: F401 - moved to mode.py (light), re-exported
from dicom_deid.pixels.ocr import DbnetDetector, TesseractReader, TextDetector, TextReader
from dicom_deid.pixels.recognize import CrnnRecognizer
from dicom_deid.pixels.redact import RedactionBox, apply_boxes, clip_box, fill_value, grow_box
from dicom_deid.pixels.regions import load_region_rules, may_apply, template_boxes, ultrasound_boxes
from dicom_deid.pixels.risk import RiskLevel, assess_risk
from dicom_deid.pixels.rowread import RowReader
from dicom_deid.pixels.sampling import SeriesVerdicts
from dicom_deid.pixels.thin import thinned_projections
from dicom_deid.pixels.views import derived_flags, search_images
from dicom_deid.profiles import Option, Profile
from dicom_deid.read import keyword_value

logger = logging.getLogger(__name__)


class Examination(enum.Enum):
    """How an instance's pixels were examined (the manifest's ``examination``)."""

    FULL = "full"  # decoded and searched
    SAMPLED_CLEAR = "sampled-series-clear"  # not searched: its series' samples were, and were clear
    NOT_IMAGE = "not-an-image"  # no pixel data
    OFF = "off"  # --pixels off: not examined at all


@dataclass(frozen=True, slots=True)
class PixelPolicy:
    """What the pixel stage does.  ``margin`` adds fixed pixels to the glyph-proportional padding;
    ``faces`` is Clean Recognizable Visual Features; ``series`` carries, in ``auto``, what the
    samples of each series showed (None: every instance is searched); ``text`` is Clean Pixel
    Data (burned-in text is searched and redacted)."""

    mode: PixelMode = PixelMode.AUTO
    keep_clinical_annotations: bool = False
    margin: int = 0
    faces: bool = False
    series: SeriesVerdicts | None = None
    text: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.mode, PixelMode):
            object.__setattr__(self, "mode", PixelMode(str(self.mode).lower()))
        if self.margin < 0:
            raise ValueError("margin must be >= 0")


def policy_for(profile: Profile, mode: PixelMode | str) -> PixelPolicy:
    """The pixel policy a profile asks for: Clean Pixel Data searches burned-in text, Clean
    Recognizable Visual Features searches faces (and flags head CT/MR for defacing review)."""
    return PixelPolicy(
        mode=PixelMode(mode) if not isinstance(mode, PixelMode) else mode,
        faces=Option.CLEAN_RECOGNIZABLE_VISUAL_FEATURES in profile.options,
        text=Option.CLEAN_PIXEL_DATA in profile.options,
    )


@dataclass(frozen=True, slots=True)
class PixelOutcome:
    examined: bool  # were pixels decoded and searched
    redacted: bool  # were pixels changed
    boxes: tuple[RedactionBox, ...]
    transfer_syntax_out: str  # UID actually written
    note: str  # short, PHI-free
    examination: Examination = Examination.FULL
    text_found: bool = False  # text redacted by the search (the series verdict in auto)
    uncertain: int = 0  # regions not confirmed as text but redacted (high-risk image)
    uncertain_kept: int = 0  # regions not confirmed as text and left (lower-risk image)
    review: tuple[str, ...] = ()  # e.g. "defacing": a person should review this instance

    def summary(self) -> dict[str, bool | int | str | list[str] | list[dict[str, int | str | list[int] | None]]]:
        """The manifest's ``pixels`` entry: coordinates, counts and flags only (no text)."""
        boxes: list[dict[str, int | str | list[int] | None]] = [
            {"x": int(b.x), "y": int(b.y), "w": int(b.width), "h": int(b.height),
             "frames": [int(f) for f in b.frames] if b.frames is not None else None, "source": str(b.source)}
            for b in self.boxes
        ]  # fmt: skip
        sources = [b.source for b in self.boxes]
        out: dict[str, bool | int | str | list[str] | list[dict[str, int | str | list[int] | None]]] = {
            "examined": self.examined, "redacted": self.redacted, "boxes": boxes,
            "transfer_syntax": self.transfer_syntax_out, "note": self.note,
            "examination": self.examination.value, "text_found": self.text_found,
            "text_boxes": sum(s in ("detector", "detector-uncertain") for s in sources),
            "region_boxes": sum(s in ("template", "ultrasound-region") for s in sources),
            "face_boxes": sum(s == "face" for s in sources),
            "uncertain": self.uncertain, "uncertain_kept": self.uncertain_kept,
        }  # fmt: skip
        if self.review:
            out["review"] = list(self.review)
        return out


@dataclass(frozen=True, slots=True)
class PassThrough:
    """How :meth:`PixelStage.process` leaves an instance as it is, decided from its header alone:
    the early return's examination and note.  ``check``: it first checks that the pixels could be
    decoded (float pixels are refused; without a decoder the note says so), so an instance that
    cannot be decoded is still reported."""

    examination: Examination
    note: str
    check: bool = True


@dataclass(frozen=True, slots=True)
class PixelDecision:
    """What the pixel stage will do with one instance, decided from its header before any pixel
    is read (:meth:`PixelStage.decide`): ``passing`` is the early return, or None when the
    stage decodes the pixels and may change them."""

    passing: PassThrough | None

    @property
    def leaves_pixels(self) -> bool:
        return self.passing is not None


def _header_view(source: Dataset) -> Dataset:
    """``source``'s elements in a dataset of their own: a value read from it is decoded in the
    view, while ``source`` keeps the element as read."""
    return Dataset(dict(source._dict))


@functools.lru_cache(maxsize=4)
def _shared_detector(threads: int) -> DbnetDetector:
    """One network session per process and thread setting (the model is read-only); glyph rows that
    no pass boxed are read by the shared recognizer (``rowread.RowReader``)."""
    return DbnetDetector(threads=threads, row_reader=RowReader(_shared_recognizer(threads)))


@functools.lru_cache(maxsize=4)
def _shared_recognizer(threads: int) -> CrnnRecognizer:
    return CrnnRecognizer(threads=threads)


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
        recognizer: TextRecognizer | None = None,
        finder: TextFinder | None = None,
        regions_dir: Path | None = None,
        threads: int = 1,
    ) -> None:
        self.policy = policy
        self._finder = finder
        self._detector = detector
        self._reader = reader
        self._recognizer = recognizer
        self._regions_dir = regions_dir
        self._threads = threads
        self._owns_engines = (detector is None, reader is None, recognizer is None)
        #: (transfer syntax, photometric interpretation) of instances with Pixel Data that
        #: ``decode.check_decodable`` passed: all it checks of such an instance
        self._decodable: set[tuple[str, str]] = set()

    def __getstate__(self) -> dict[str, object]:
        """Picklable for worker processes: lazily loaded engines are reloaded there."""
        state = dict(self.__dict__)
        for owned, name in zip(self._owns_engines, ("_detector", "_reader", "_recognizer"), strict=True):
            if owned:
                state[name] = None
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)

    def with_series(self, verdicts: SeriesVerdicts | None) -> PixelStage:
        """The same stage (engines shared) deciding with what the samples of each series showed."""
        clone = copy.copy(self)
        clone.policy = dataclasses.replace(self.policy, series=verdicts)
        return clone

    @property
    def detector(self) -> TextDetector:
        if self._detector is None:
            self._detector = _shared_detector(self._threads)
        return self._detector

    @property
    def recognizer(self) -> TextRecognizer:
        if self._recognizer is None:
            self._recognizer = _shared_recognizer(self._threads)
        return self._recognizer

    @property
    def reader(self) -> TextReader:
        if self._reader is None:
            self._reader = _shared_reader()
        return self._reader

    def passes_through(self, header: Dataset) -> PassThrough | None:
        """How :meth:`process` leaves ``header``'s instance as it is, decided from the header
        alone; None when it decodes the pixels (to search them, or to apply region rules or
        face detection), and may change them.

        :meth:`process` takes its early return from this very function, so whoever asks it
        first (``leaves_pixels``: the byte path's choice) and the stage can never disagree."""
        if "PixelData" not in header:
            floats = any(k in header for k in ("FloatPixelData", "DoubleFloatPixelData"))
            return PassThrough(Examination.NOT_IMAGE, "no pixel data", check=floats)  # float pixels: refused
        policy = self.policy
        if policy.mode is PixelMode.OFF:
            return PassThrough(Examination.OFF, "not examined: pixels off", check=False)
        sampled_clear = self._sampled_clear(header)
        if policy.text and not sampled_clear:
            return None  # searched in full
        if policy.faces and is_photograph(header):
            return None  # faces are searched on every photograph
        if may_apply(load_region_rules(self._regions_dir), header):
            rows = int(keyword_value(header, "Rows", 0) or 0)  # header.get, decoded by tag
            columns = int(keyword_value(header, "Columns", 0) or 0)
            if self._fixed_boxes(header, rows, columns):
                return None  # region rules apply to every instance
        if sampled_clear:
            return PassThrough(Examination.SAMPLED_CLEAR, "not searched: sampled series found clear")
        return PassThrough(Examination.OFF, "not searched: text not asked for (no Clean Pixel Data)")

    def decide(self, source: Dataset) -> PixelDecision:
        """What :meth:`process` will do with ``source``, decided from its header alone (the byte
        path asks before it chooses the copies, ``bytepath.fallback_reason``; hand the answer
        to :meth:`process` so the header is not read twice).

        Reads the header through a view of its own, so ``source``'s elements stay as read (the
        byte path copies only elements no one has decoded, and the pydicom path writes them so)."""
        return PixelDecision(self.passes_through(_header_view(source)))

    def leaves_pixels(self, source: Dataset) -> bool:
        """True when :meth:`process` will certainly leave ``source``'s pixels, and every element
        it could set, as they are (it returns early, or refuses the instance)."""
        return self.decide(source).leaves_pixels

    def _sampled_clear(self, header: Dataset) -> bool:
        policy = self.policy
        return policy.mode is PixelMode.AUTO and policy.series is not None and policy.series.found_clear(header)

    def _fixed_boxes(self, ds: Dataset, rows: int, columns: int) -> list[RedactionBox]:
        """The region rules' boxes (device templates, ultrasound regions) for this instance."""
        rules = load_region_rules(self._regions_dir)
        return template_boxes(rules, ds, rows, columns) + ultrasound_boxes(rules, ds, rows, columns)

    def process(
        self, source: Dataset, target: Dataset, *, phi_values: Sequence[str] = (),
        decision: PixelDecision | None = None,
    ) -> PixelOutcome:
        """Search ``source``'s pixels and write redacted pixels into ``target`` if needed.

        ``decision``: this stage's :meth:`decide` of ``source``, when the caller has asked
        already (default: decided here, by the same function)."""
        syntax_in = str(keyword_value(target.file_meta, "TransferSyntaxUID"))
        policy = self.policy
        review = ("defacing",) if policy.faces and is_head_volume(source) else ()
        passing = decision.passing if decision is not None else self.passes_through(source)
        if passing is not None:
            note = passing.note
            if passing.check:
                try:
                    self._check_decodable(source)  # an instance that cannot be decoded is still reported
                except UnsupportedTransferSyntax as exc:  # its pixels need no change: pass through (issue 10)
                    note += f"; no decoder for {exc.uid}"
            return PixelOutcome(False, False, (), syntax_in, note, passing.examination, review=review)

        risk = assess_risk(source)
        photo = policy.faces and is_photograph(source)
        sampled_clear = self._sampled_clear(source)
        decoded = decode_pixels(source)
        facts = decoded.facts
        rows, columns = facts.rows, facts.columns
        fixed = self._fixed_boxes(source, rows, columns)
        boxes: list[RedactionBox] = []
        text_found = False
        uncertain = uncertain_kept = 0
        notes: list[str] = []
        searched = not sampled_clear and policy.text
        if searched:
            images = search_images(decoded)
            derived = derived_flags(decoded, len(images))
            if self._finder is not None:
                search = self._finder(images, derived)
            else:
                search = find_text(images, self.detector, self.recognizer, derived=derived)
            search = confirm_growth(search, self.recognizer)  # a line grows only over what reads as text
            search = thinned_projections(search, derived, self.recognizer)  # a projection's copy as thin as a frame's
            search = merge_lines(search)  # one line seen twice is one box, padded once
            # each region with the search image it was found on (``assign_frames``: the frames of
            # a region that no frame reads are those that show what the search saw there)
            found = search.found(Verdict.CONFIRMED)
            confirmed = [box for box, _ in found]
            doubtful = search.found(Verdict.UNCERTAIN)
            # unconfirmed regions are redacted on high-risk images, and on any image where one
            # continues a confirmed line (the rest of a label whose start was read); the others
            # are counted and left
            if risk.level is RiskLevel.HIGH:
                redact_doubtful, left = doubtful, []
            else:
                beside = [continues_a_line(b, confirmed) for b, _ in doubtful]
                redact_doubtful = [d for d, near in zip(doubtful, beside, strict=True) if near]
                left = [d for d, near in zip(doubtful, beside, strict=True) if not near]
            # the series verdict counts what is redacted as text
            text_found = bool(confirmed) or bool(redact_doubtful)
            if policy.keep_clinical_annotations and confirmed:
                kept = keep_clinical(confirmed, list(images), self.reader, phi_values)
                found = [(box, image) for box, image in found if box in kept]
                confirmed = [box for box, _ in found]
            read = getattr(self.recognizer, "read_crops", None)
            if read is not None:  # each region on the frames that read as text, else that show it
                confirmed = assign_frames(decoded, confirmed, read, [image for _, image in found])
            boxes += [grow_box(b, policy.margin) for b in confirmed]
            if redact_doubtful:
                uncertain = len(redact_doubtful)
                regions = [b for b, _ in redact_doubtful]
                if read is not None:
                    regions = assign_frames(decoded, regions, read, [image for _, image in redact_doubtful])
                boxes += [_relabel(grow_box(b, policy.margin), "detector-uncertain") for b in regions]
                why = "high risk" if risk.level is RiskLevel.HIGH else "beside confirmed text"
                notes.append(f"{uncertain} unconfirmed region(s) redacted ({why})")
            if left:
                uncertain_kept = len(left)
                notes.append(f"{uncertain_kept} unconfirmed region(s) left ({risk.level.value} risk)")
        if photo:
            faces = _face_boxes(decoded)
            boxes += faces
            if faces:
                notes.append(f"{len(faces)} face(s)")
        boxes += fixed
        clipped = [c for c in (clip_box(b, rows, columns) for b in boxes) if c is not None]
        if searched:
            how, exam = f"examined ({risk.reason})", Examination.FULL
        elif sampled_clear:
            how, exam = "sampled series found clear; region rules applied", Examination.SAMPLED_CLEAR
        else:
            how, exam = "text not searched (no Clean Pixel Data)", Examination.OFF
        extra = "; ".join(notes)
        if not clipped:
            note = f"{how}: no text" + (f"; {extra}" if extra else "")
            return PixelOutcome(searched, False, (), syntax_in, note, exam, text_found,
                                uncertain, uncertain_kept, review)
        redacted = apply_boxes(decoded.frames, clipped, fill_value(decoded))
        if np.array_equal(redacted, decoded.frames):
            return PixelOutcome(searched, False, tuple(clipped), syntax_in,
                                f"{how}: regions already blank", exam, text_found, uncertain,
                                uncertain_kept, review)
        result = encode_frames(target, redacted, facts)
        target.BurnedInAnnotation = "NO"
        note = f"{how}: redacted {len(clipped)} box(es), {result.note}" + (f"; {extra}" if extra else "")
        return PixelOutcome(searched, True, tuple(clipped), str(result.transfer_syntax), note,
                            exam, text_found, uncertain, uncertain_kept, review)

    def _check_decodable(self, source: Dataset) -> None:
        """``check_decodable(source)``, once per transfer syntax and photometric interpretation."""
        meta = getattr(source, "file_meta", None)
        if meta is None or "PixelData" not in source:
            check_decodable(source)
            return
        key = (str(keyword_value(meta, "TransferSyntaxUID", "")),
               str(keyword_value(source, "PhotometricInterpretation", "")))
        if key not in self._decodable:
            check_decodable(source)
            self._decodable.add(key)


def continues_a_line(box: RedactionBox, lines: Sequence[RedactionBox]) -> bool:
    """``box`` overlaps one of ``lines`` or goes on along it: it is no more than 1.5 times as high
    as the line (across the reading direction), shares most of that extent, and the gap between
    them is at most the line's height (glyph boxes are padded already, so the end of a line cut
    short by the detector touches it)."""
    for line in lines:
        if line is box:
            continue
        horizontal = line.width >= line.height
        across = line.height if horizontal else line.width
        if horizontal:
            shared = min(box.y1, line.y1) - max(box.y, line.y)
            gap = max(box.x - line.x1, line.x - box.x1)
        else:
            shared = min(box.x1, line.x1) - max(box.x, line.x)
            gap = max(box.y - line.y1, line.y - box.y1)
        box_across = box.height if horizontal else box.width
        if box_across > 1.5 * across:
            continue  # a line the other way, or a larger region: not the rest of this one
        if shared >= 0.5 * min(across, box_across) and gap <= across:
            return True
    return False


def _relabel(box: RedactionBox, source: str) -> RedactionBox:
    return dataclasses.replace(box, source=source)


def _face_boxes(decoded: DecodedPixels, frames: int = 8) -> list[RedactionBox]:
    """Faces on up to ``frames`` evenly spaced frames; each applies to every frame."""
    count = decoded.facts.frames
    picks = np.unique(np.linspace(0, count - 1, num=min(frames, count)).round().astype(int))
    found: list[RedactionBox] = []
    for index in picks:
        for box in find_faces(display_frame(decoded, decoded.frames[int(index)])):
            found.append(RedactionBox(box.x, box.y, box.width, box.height, None, "face"))
    return sorted(set(found), key=lambda b: (b.y, b.x))


def make_pixel_stage(policy: PixelPolicy) -> PixelStage:
    return PixelStage(policy)
