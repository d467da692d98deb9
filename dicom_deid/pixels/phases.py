"""``--pixels auto`` across files: survey the headers, search the samples, then the rest.

The pipeline hands its execution backend (serial, process pool or Dask) to
:func:`run_sampled`, which runs it twice:

1. a header survey (a handful of attributes, ``read_head.scan_head``: the same values
   pydicom reads, decoded from their bytes without parsing the rest of the header) of every input under the root, in walk order, gives each image its series and look; ``sampling.choose_samples``
   picks the samples.  The survey trusts each header's tag order (it stops after the last group
   it wants); the samples' headers are then scanned to the pixels, and where one of them gives
   other facts (a header out of order) the whole survey is made again that way, so the
   verdicts always come from samples whose facts are pydicom's.  An instance that is not a
   sample and that the survey misread is decided in phase 2 from its whole header;
2. **phase 1**: the pending samples go through the normal per-file work with the engine as
   it is (every instance searched in full);
3. **phase 2**: every other pending input goes through it with the series verdicts
   (``sampling.SeriesVerdicts``) in the pixel policy: an instance of a series whose samples
   were all searched and found clear, with a sampled look, is recorded as "sampled series
   found clear"; every other instance is searched in full.

Deterministic whatever the backend: the samples depend on the whole input, never on timing or
on which inputs an interrupted run already finished; the verdict of a sample finished by an
earlier run of the same command is read back from the manifest.  A sample that was quarantined,
or whose verdict cannot be found, leaves its series searched in full.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from struct import error as StructError
from typing import TYPE_CHECKING, Any

import pydicom
from pydicom.errors import BytesLengthException, InvalidDicomError

from dicom_deid.errors import DeidError
from dicom_deid.pixels.mode import PixelMode
from dicom_deid.pixels.sampling import ImageFacts, choose_samples, decide_series, image_facts
from dicom_deid.pixels.stage import Examination, PixelStage
from dicom_deid.read_head import NotPlain, scan_head
from dicom_deid.walk import InputRef, InputWalk, open_input

if TYPE_CHECKING:
    from dicom_deid.boundary import FileResult
    from dicom_deid.deidentify import Engine

logger = logging.getLogger(__name__)

#: What the survey reads of each header (all that ``sampling.look_of`` and series need).
SURVEY_TAGS = (
    "StudyInstanceUID", "SeriesInstanceUID", "InstanceNumber", "SOPClassUID", "Rows", "Columns",
    "NumberOfFrames", "PhotometricInterpretation", "BitsStored", "WindowCenter", "WindowWidth",
    "ImageType", "Modality",
)  # fmt: skip
#: How much of each input the survey reads first (most scanner headers with their private
#: groups fit), then at most (some vendors' private groups are longer); a header longer still
#: is read by pydicom from the start.
HEAD_BYTES, LONG_HEAD_BYTES = 1 << 16, 1 << 20
#: A header that cannot be parsed is not surveyed (its file is searched in full, or
#: quarantined by the per-file boundary); pydicom raises NotImplementedError for an unknown
#: VR and BytesLengthException for a value of the wrong length (the survey of a damaged file
#: once ended the whole run with a traceback).
_UNREADABLE = (DeidError, InvalidDicomError, BytesLengthException, NotImplementedError, OSError, EOFError,
               ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError, StructError)  # fmt: skip

Execute = Callable[[Iterable[InputRef], "Engine"], Iterator["FileResult"]]
Guard = Callable[[Iterator[InputRef]], Iterator[InputRef]]


def survey(refs: Iterable[InputRef], *, in_order: bool = True) -> Iterator[ImageFacts]:
    """Facts of every input of the run (``walk_inputs``) that carries an image (headers only).

    ``in_order``: trust each header's tag order (``read_head.scan_head``); else scan each
    header to its pixels (pydicom's values, whatever the order)."""
    for ref in refs:
        facts = _facts(ref, in_order=in_order)
        if facts is not None:
            yield facts


def _facts(ref: InputRef, *, in_order: bool = False) -> ImageFacts | None:
    """The survey's facts of one input from its first bytes (``read_head``): the few values
    decoded straight from their bytes, or by pydicom from the same elements when one is not
    plainly encoded; pydicom over the whole header when the scan is not sure."""
    try:
        with open_input(ref) as fp:
            head = fp.read(HEAD_BYTES)
            scan = scan_head(head, SURVEY_TAGS, in_order=in_order)
            if scan is None and len(head) == HEAD_BYTES:  # a longer header (large private groups)
                head += fp.read(LONG_HEAD_BYTES - HEAD_BYTES)
                scan = scan_head(head, SURVEY_TAGS, in_order=in_order)
            if scan is not None:
                try:
                    return image_facts(scan.values(), ref.ordinal)
                except NotPlain:
                    ds = scan.dataset()
            else:
                fp.seek(0)
                ds = pydicom.dcmread(fp, stop_before_pixels=True, force=True, specific_tags=list(SURVEY_TAGS))
        return image_facts(ds, ref.ordinal)
    except _UNREADABLE:
        return None


def sampling_stage(engine: Engine) -> PixelStage | None:
    """The engine's pixel stage when it samples series (``auto``), else None."""
    stage = engine.pixel_stage
    if isinstance(stage, PixelStage) and stage.policy.mode is PixelMode.AUTO:
        return stage
    return None


def run_sampled(
    pending: Iterable[InputRef],
    execute: Execute,
    engine: Engine,
    *,
    root: Path,
    walk: Callable[[], Iterator[InputRef]] | None = None,
    guard: Guard | None = None,
    prior: Path | None = None,
) -> Iterator[FileResult]:
    """Results of ``execute`` over ``pending``: in ``auto``, samples first, then the rest.

    ``walk()`` gives the run's inputs again, in the same order and with the same ordinals as
    ``pending`` came from (default: ``walk.InputWalk(root, replay=True)``, which walks INPUT
    once and replays that walk).  ``execute(refs, engine)`` is the
    run's backend (serial, pool or Dask); the second phase gets
    the same engine description with the series verdicts (``Engine.pixel_series``).  ``guard``
    wraps the second phase's inputs (the pipeline stops submitting there when the disk fills).
    ``prior`` is the manifest of an earlier run of the same command into the same output (for
    the verdicts of samples it already finished).
    """
    stage = sampling_stage(engine)
    if stage is None:
        yield from execute(pending, engine)
        return
    rewalk = walk if walk is not None else InputWalk(root, replay=True)
    facts = list(survey(rewalk()))
    samples = choose_samples(facts)
    if not _samples_read_whole(facts, samples, rewalk()):
        logger.debug("pixels auto: a sample's header is out of tag order; surveying every header to its pixels")
        facts = list(survey(rewalk(), in_order=False))
        samples = choose_samples(facts)
    first: list[InputRef] = []
    later = bytearray()
    for ref in pending:
        if ref.ordinal in samples:
            first.append(ref)
        else:
            if ref.ordinal >= len(later):
                later.extend(b"\0" * (ref.ordinal + 1 - len(later)))
            later[ref.ordinal] = 1
    found: dict[int, bool | None] = {}
    for result in execute(first, engine):
        found[result.record.ordinal] = _found_text(result.record.pixels)
        yield result
    missing = samples - found.keys()
    if missing and prior is not None:
        found.update(_prior_verdicts(root, rewalk(), missing, engine, prior))
    verdicts = decide_series(facts, samples, found)
    logger.debug("pixels auto: %d series, %d sampled instances, %d series found clear",
                 len({f.series for f in facts}), len(samples), len(verdicts.clear))
    second_engine = dataclasses.replace(engine, pixel_series=verdicts)
    rest: Iterator[InputRef] = (ref for ref in rewalk() if ref.ordinal < len(later) and later[ref.ordinal])
    yield from execute(guard(rest) if guard is not None else rest, second_engine)


def _samples_read_whole(facts: Iterable[ImageFacts], samples: frozenset[int], refs: Iterable[InputRef]) -> bool:
    """True when each sample's facts are those of its header scanned to the pixels."""
    surveyed = {fact.ordinal: fact for fact in facts if fact.ordinal in samples}
    return all(_facts(ref) == surveyed[ref.ordinal] for ref in refs if ref.ordinal in surveyed)


def _found_text(pixels: Mapping[str, Any] | None) -> bool | None:
    """A sample's verdict from its manifest pixel entry: text, clear, or None (not searched)."""
    if not pixels or pixels.get("examination") != Examination.FULL.value:
        return None
    return bool(pixels.get("text_found"))


def _prior_verdicts(root: Path, refs: Iterable[InputRef], ordinals: frozenset[int] | set[int], engine: Engine,
                    prior: Path) -> dict[int, bool | None]:
    """Verdicts of samples an earlier run finished, by their keyed input id in its manifest."""
    from dicom_deid.manifest import read_manifest

    if not prior.is_file():
        return {}
    tokens = {
        engine.remapper.keyed_id(ref.relative_to(root)): ref.ordinal
        for ref in refs
        if ref.ordinal in ordinals
    }
    out: dict[int, bool | None] = {}
    for row in read_manifest(prior, tolerate_partial=True):
        ordinal = tokens.get(str(row.get("input_id", "")))
        if row.get("type") == "file" and ordinal is not None and row.get("pixels"):
            out[ordinal] = _found_text(row["pixels"])
    return out


__all__ = ["SURVEY_TAGS", "run_sampled", "sampling_stage", "survey"]
