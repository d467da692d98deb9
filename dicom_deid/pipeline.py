"""Pipeline: walk -> read -> deidentify (plan, scrub, pixels) -> write -> record.

The single fail-closed boundary: every input ends as exactly one manifest row
(written, skipped, or quarantined with its reason), and nothing partially
de-identified is ever written to the output.
"""

from __future__ import annotations

import logging
import time
import traceback
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from dicom_deid import __version__
from dicom_deid.config import RunConfig
from dicom_deid.deidentify import Deidentified, Engine, deidentify
from dicom_deid.errors import (
    ConfigError,
    DeidError,
    EncapsulatedDocumentError,
    NotDicomError,
    QuarantineReason,
)
from dicom_deid.events import Event, FileDone, RunFinished, RunStarted
from dicom_deid.links import Link, LinkKind
from dicom_deid.manifest import MANIFEST_NAME, ManifestRecord, ManifestWriter, Outcome
from dicom_deid.plan import Plan, format_path
from dicom_deid.profiles import ActionCode
from dicom_deid.read import DicomDirFile, read_instance
from dicom_deid.walk import BROKEN_ZIP, InputRef, read_bytes, walk_inputs
from dicom_deid.write import encode_dataset, output_relpath, quarantine, write_output

logger = logging.getLogger(__name__)


class MappingSink(Protocol):
    def add(self, links: Iterable[Link]) -> None: ...
    def close(self) -> None: ...  # the run finished: mark the mapping complete
    def abort(self) -> None: ...  # interrupted: keep what is sealed, marked incomplete


class DiscardLinks:
    """Mapping sink used when no sealed mapping is requested (e.g. --dry-run)."""

    def add(self, links: Iterable[Link]) -> None:
        for _ in links:
            pass

    def close(self) -> None:
        return None

    def abort(self) -> None:
        return None


@dataclass
class FileResult:
    """What one input became; ``links`` go to the sealed mapping only."""

    record: ManifestRecord
    links: list[Link] = field(default_factory=list)
    message: str | None = None  # input-side one-line message for quarantines
    plan_rows: list[tuple[str, str, str]] = field(default_factory=list)  # dry-run: (path, code, rule)


def _pixel_summary(outcome: Any) -> dict[str, Any] | None:
    if outcome is None:
        return None
    boxes = [
        {"x": b.x, "y": b.y, "w": b.width, "h": b.height, "frames": list(b.frames) if b.frames is not None else None,
         "source": b.source}
        for b in getattr(outcome, "boxes", ())
    ]
    return {"examined": bool(outcome.examined), "redacted": bool(outcome.redacted), "boxes": boxes,
            "transfer_syntax": str(outcome.transfer_syntax_out), "note": str(outcome.note)}


def process_input(ref: InputRef, *, root: Path, engine: Engine, output: Path, quarantine_dir: Path,
                  dry_run: bool = False, replace: bool = False) -> FileResult:
    """Handle one input completely.  Never raises for a bad input: the boundary is here."""
    started = time.perf_counter()
    token = engine.remapper.keyed_id(ref.relative_to(root))
    rel_source = ref.relative_to(root)
    size = 0

    def quarantined(reason: QuarantineReason, message: str, data: bytes | None) -> FileResult:
        if not dry_run:
            quarantine(quarantine_dir, f"{ref.ordinal:08d}-{token}", data, reason=reason, message=message,
                       source=rel_source)
        record = ManifestRecord(ref.ordinal, token, Outcome.QUARANTINED.value, size, reason=reason.value,
                                seconds=round(time.perf_counter() - started, 6))
        return FileResult(record, [Link(LinkKind.SOURCE_PATH, rel_source, f"quarantine:{token}")], message)

    try:
        instance = read_instance(ref)
        size = instance.size
    except DicomDirFile:
        return FileResult(ManifestRecord(ref.ordinal, token, Outcome.SKIPPED_DICOMDIR.value))
    except NotDicomError as exc:
        return FileResult(ManifestRecord(ref.ordinal, token, Outcome.SKIPPED_NOT_DICOM.value,
                                         reason=exc.reason.value), message=str(exc))
    except DeidError as exc:
        return quarantined(exc.reason, str(exc), _safe_bytes(ref))

    ds = instance.dataset
    try:
        result: Deidentified = deidentify(ds, engine)
        rel = output_relpath(result.patient, result.study_uid, result.series_uid, result.sop_uid)
        if not dry_run:
            data = encode_dataset(result.dataset, result.dataset.file_meta)
            write_output(output / rel, data, replace=replace)
    except DeidError as exc:
        if exc.path is None:
            exc.path = ref.display
            exc.args = (f"{ref.display}: {exc.message}",)
        if isinstance(exc, EncapsulatedDocumentError) and exc.drop:  # --documents drop: nothing kept
            return FileResult(ManifestRecord(ref.ordinal, token, Outcome.SKIPPED_DOCUMENT.value, size,
                                             reason=exc.reason.value), message=str(exc))
        return quarantined(exc.reason, str(exc), _safe_bytes(ref))
    except Exception as exc:  # noqa: BLE001 - the one per-file boundary (STYLE: errors)
        tb = traceback.extract_tb(exc.__traceback__)
        where = f"{tb[-1].filename.rsplit('/', 1)[-1]}:{tb[-1].lineno}" if tb else "?"
        logger.error("input #%d: internal error %s at %s", ref.ordinal, exc.__class__.__name__, where)
        return quarantined(QuarantineReason.INTERNAL_ERROR,
                           f"{ref.display}: internal error ({exc.__class__.__name__} at {where})", _safe_bytes(ref))

    record = ManifestRecord(
        ordinal=ref.ordinal, input_id=token,
        outcome=(Outcome.PLANNED if dry_run else Outcome.WRITTEN).value,
        size=size, output=rel, sop_class_uid=str(ds.get("SOPClassUID", "")),
        modality=str(ds.get("Modality", "") or "") or None,
        actions=dict(sorted(result.plan.counts().items())), changes=_changes(result.plan),
        pixels=_pixel_summary(result.pixels), document=result.document,
        seconds=round(time.perf_counter() - started, 6),
    )
    links = [*result.links, Link(LinkKind.SOURCE_PATH, rel_source, rel, result.patient,
                                 result.study_uid, result.series_uid)]
    rows: list[tuple[str, str, str]] = []
    if dry_run:
        rows = [(_generic_path(format_path(a.path)), a.code.value, a.rule) for a in result.plan]
    return FileResult(record, links, plan_rows=rows)


def _changes(plan: Plan) -> dict[str, list[str]]:
    """Attribute paths per action code, for everything not kept as is (keywords only, no values)."""
    out: dict[str, list[str]] = {}
    for action in plan:
        if action.code is not ActionCode.K:
            out.setdefault(action.code.value, []).append(format_path(action.path))
    return out


def crashed_input(ref: InputRef, root: Path, engine: Engine, quarantine_dir: Path) -> FileResult:
    """The record of an input whose processing killed its worker process twice."""
    token = engine.remapper.keyed_id(ref.relative_to(root))
    rel_source = ref.relative_to(root)
    message = f"{ref.display}: worker process died while handling this file (crash or out of memory)"
    quarantine(quarantine_dir, f"{ref.ordinal:08d}-{token}", _safe_bytes(ref),
               reason=QuarantineReason.WORKER_CRASHED, message=message, source=rel_source)
    record = ManifestRecord(ref.ordinal, token, Outcome.QUARANTINED.value, reason=QuarantineReason.WORKER_CRASHED.value)
    return FileResult(record, [Link(LinkKind.SOURCE_PATH, rel_source, f"quarantine:{token}")], message)


def _generic_path(text: str) -> str:
    import re

    return re.sub(r"\[\d+\]", "[*]", text)


def _safe_bytes(ref: InputRef) -> bytes | None:
    """The input's bytes for the quarantine copy; a broken archive is copied whole."""
    try:
        return read_bytes(ref)
    except DeidError:
        if ref.member_index == BROKEN_ZIP:
            try:
                return ref.path.read_bytes()
            except OSError:
                return None
        return None
    except OSError:
        return None


@dataclass
class RunSummary:
    run_id: str
    counts: Counter[str]
    seconds: float
    manifest: Path | None
    quarantine: Path
    files: int = 0
    bytes_in: int = 0
    plan: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    interrupted: bool = False

    @property
    def quarantined(self) -> int:
        return self.counts.get(Outcome.QUARANTINED.value, 0)


def _sampled(refs: Iterator[InputRef], sample: int | None) -> Iterator[InputRef]:
    """--sample N: inputs of the first N folders holding files (a folder per study in PACS exports)."""
    if sample is None:
        yield from refs
        return
    seen: list[Path] = []
    for ref in refs:
        folder = ref.path.parent if ref.member is None else ref.path
        if folder not in seen:
            if len(seen) >= sample:
                return
            seen.append(folder)
        yield ref


def completed_inputs(manifest: Path, *, profile: str, options: list[str], key_id: str) -> dict[str, str]:
    """input_id -> output path of every input a previous run wrote (for resume).

    Only runs of the same profile, options and key can be resumed: mixing outputs of different
    settings in one folder is refused (ConfigError) unless the operator passes --force.
    """
    done: dict[str, str] = {}
    if not manifest.exists():
        return done
    from dicom_deid.manifest import read_manifest

    for row in read_manifest(manifest, tolerate_partial=True):
        if row.get("type") == "run":
            if (row.get("profile"), row.get("options"), row.get("key_id")) != (profile, options, key_id):
                raise ConfigError(
                    "OUTPUT holds a run with another profile, options or key; resuming would mix them: "
                    "choose a new OUTPUT, or --force to redo every input", path=manifest.parent)
        elif row.get("type") == "file" and row.get("outcome") in (Outcome.WRITTEN.value,
                                                                   Outcome.ALREADY_DONE.value):
            done[row["input_id"]] = row["output"]
    return done


def run(config: RunConfig, engine: Engine, *, mapping: MappingSink | None = None,
        on_event: Callable[[Event], None] | None = None, run_id: str | None = None,
        spec: Any = None) -> RunSummary:
    """Run a whole batch.  ``mapping`` receives every link (the sealed mapping writer).

    With ``config.workers > 1`` or ``config.dask``, ``spec`` (a ``workers.EngineSpec`` matching
    ``engine``) lets each worker build its own engine.  Inputs that a previous run into the same
    output completed are skipped unless ``config.force`` (outputs are deterministic, so a resumed
    run ends identical to an uninterrupted one).
    """
    from dicom_deid.workers import Task, map_dask, map_pool, map_serial

    config.validate()
    emit = _safe_emitter(on_event)
    run_id = run_id or uuid.uuid4().hex
    sink: MappingSink = mapping or DiscardLinks()
    profile = engine.profile
    options = tuple(sorted(o.value for o in profile.options))
    emit(RunStarted(run_id, profile.name, options, config.dry_run))
    manifest_path = config.manifest or (None if config.dry_run else config.output / MANIFEST_NAME)
    done = {} if (config.force or config.dry_run or manifest_path is None) else completed_inputs(
        manifest_path, profile=profile.name, options=list(options), key_id=engine.remapper.key.key_id)
    writer = None
    if manifest_path is not None:
        manifest_path.parent.mkdir(parents=True, exist_ok=True)
        writer = ManifestWriter(manifest_path, {
            "run_id": run_id, "tool": f"dicom-deid {__version__}", "standard": f"PS3.15 {engine.standard.edition}",
            "profile": profile.name, "options": list(options), "key_id": engine.remapper.key.key_id,
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "workers": config.workers,
            "backend": "dask" if config.dask else "pool" if config.workers > 1 else "serial",
            "resumed": len(done),
        })
    counts: Counter[str] = Counter()
    plan_counts: Counter[tuple[str, str, str]] = Counter()
    started = time.perf_counter()
    files = bytes_in = 0
    seen_patient_links: set[tuple[str, str]] = set()
    interrupted = False
    root = config.input
    skipped: deque[FileResult] = deque()

    def to_process() -> Iterator[InputRef]:
        for ref in _sampled(walk_inputs(root), config.sample if config.dry_run else None):
            if done:
                token = engine.remapper.keyed_id(ref.relative_to(root))
                prior = done.get(token)
                if prior is not None and (config.output / prior).is_file():
                    skipped.append(FileResult(ManifestRecord(ref.ordinal, token, Outcome.ALREADY_DONE.value,
                                                             output=prior)))
                    continue
            yield ref

    task = Task(root=root, output=config.output, quarantine_dir=config.quarantine_dir, dry_run=config.dry_run,
                file_cpu_limit=config.file_cpu_limit, replace=config.force)
    part_spec = None
    if config.dask and hasattr(sink, "part_spec") and not config.dry_run:
        part_spec = sink.part_spec()  # each Dask worker seals its own links: none cross the network
    if config.dask:
        results: Iterator[FileResult] = map_dask(to_process(), task, spec, config.dask, part=part_spec)
    elif config.workers > 1 or config.file_cpu_limit is not None:  # a limit needs a worker to kill
        results = map_pool(to_process(), task, spec, config.workers,
                           on_crash=lambda ref: crashed_input(ref, root, engine, config.quarantine_dir))
    else:
        results = map_serial(to_process(), lambda ref: process_input(
            ref, root=root, engine=engine, output=config.output, quarantine_dir=config.quarantine_dir,
            dry_run=config.dry_run, replace=config.force))

    def account(res: FileResult) -> None:
        nonlocal files, bytes_in
        files += 1
        bytes_in += res.record.size
        counts[res.record.outcome] += 1
        plan_counts.update(res.plan_rows)
        if writer is not None:
            writer.add(res.record)
        sink.add(dedupe_links(res.links, seen_patient_links))
        emit(FileDone(res.record.ordinal, res.record.outcome, res.record.size, res.record.reason, res.message))

    try:
        for res in results:
            while skipped:
                account(skipped.popleft())
            account(res)
        while skipped:
            account(skipped.popleft())
    except KeyboardInterrupt:
        interrupted = True
    except BaseException:
        sink.abort()
        raise
    finally:
        seconds = time.perf_counter() - started
        if writer is not None:
            if config.dry_run:
                writer.add_plan([(*key, n) for key, n in sorted(plan_counts.items())])
            writer.close({"counts": dict(counts), "files": files, "bytes": bytes_in, "seconds": round(seconds, 3),
                          "interrupted": interrupted})
    if interrupted:
        sink.abort()
    elif part_spec is not None:
        from dicom_deid.seal import finish_with_parts

        finish_with_parts(sink)  # type: ignore[arg-type]
    else:
        sink.close()
    emit(RunFinished(run_id, dict(counts), seconds, interrupted))
    return RunSummary(run_id, counts, seconds, manifest_path, config.quarantine_dir, files, bytes_in, plan_counts,
                      interrupted)


_PATIENT_KINDS = frozenset({LinkKind.PATIENT_ID, LinkKind.PATIENT_NAME, LinkKind.PATIENT_BIRTH_DATE,
                            LinkKind.DATE_OFFSET, LinkKind.STUDY_UID, LinkKind.SERIES_UID,
                            LinkKind.ACCESSION_NUMBER})


def dedupe_links(links: list[Link], seen: set[tuple[str, str]]) -> list[Link]:
    """Patient/study/series links repeat in every instance; seal each once per run."""
    out = []
    for link in links:
        if link.kind in _PATIENT_KINDS:
            key = (link.kind.value, link.original)
            if key in seen:
                continue
            seen.add(key)
        out.append(link)
    return out


def _safe_emitter(handler: Callable[[Event], None] | None) -> Callable[[Event], None]:
    def emit(event: Event) -> None:
        if handler is None:
            return
        try:
            handler(event)
        except Exception:
            logger.exception("event handler failed")

    return emit


__all__ = ["DiscardLinks", "FileResult", "MappingSink", "RunSummary", "process_input", "run"]
