"""Pipeline: walk -> read -> deidentify (plan, scrub, pixels) -> write -> record.

The single fail-closed boundary: every input ends as exactly one manifest row
(written, skipped, or quarantined with its reason), and nothing partially
de-identified is ever written to the output.
"""

from __future__ import annotations

import logging
import re
import time
import traceback
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from dataclasses import replace as replace_field
from pathlib import Path
from typing import Any

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
from dicom_deid.events import Event, RunFinished, RunStarted
from dicom_deid.links import Link, LinkKind
from dicom_deid.lock import OutputLock
from dicom_deid.manifest import (
    MANIFEST_NAME,
    ManifestRecord,
    ManifestWriter,
    Outcome,
    encode_row,
    ended_cleanly,
    repair_manifest,
)
from dicom_deid.plan import Plan, format_path
from dicom_deid.profiles import ActionCode
from dicom_deid.read import DicomDirFile, describe_decode_failure, read_instance
from dicom_deid.record import DiscardLinks, MappingSink, Recorder, dedupe_links
from dicom_deid.walk import BROKEN_ZIP, InputRef, read_bytes, walk_inputs
from dicom_deid.write import (
    WriteError,
    check_free_space,
    default_keep_free,
    encode_dataset,
    output_relpath,
    quarantine,
    remove_stale_parts,
    unresolved_write_errors,
    write_output,
)

logger = logging.getLogger(__name__)


@dataclass
class FileResult:
    """What one input became; ``links`` go to the sealed mapping only."""

    record: ManifestRecord
    links: list[Link] = field(default_factory=list)
    message: str | None = None  # input-side one-line message for quarantines
    plan_rows: list[tuple[str, str, str]] = field(default_factory=list)  # dry-run: (path, code, rule)
    fatal: str | None = None  # the environment failed (disk full, quarantine unwritable): stop the run


def _pixel_summary(outcome: Any) -> dict[str, Any] | None:
    if outcome is None:
        return None
    boxes = [
        {"x": int(b.x), "y": int(b.y), "w": int(b.width), "h": int(b.height),
         "frames": [int(f) for f in b.frames] if b.frames is not None else None, "source": str(b.source)}
        for b in getattr(outcome, "boxes", ())
    ]
    return {"examined": bool(outcome.examined), "redacted": bool(outcome.redacted), "boxes": boxes,
            "transfer_syntax": str(outcome.transfer_syntax_out), "note": str(outcome.note)}


def process_input(ref: InputRef, *, root: Path, engine: Engine, output: Path, quarantine_dir: Path,
                  dry_run: bool = False, replace: bool = False, keep_free: int = 0) -> FileResult:
    """Handle one input completely.  Never raises: the fail-closed boundary is here.

    Every exception an input causes (reading, routing headers, planning, pixels, writing, the
    manifest row) becomes its quarantine reason.  The output file is written last, after its
    manifest row is built and checked, so an input is either written with its row or
    quarantined with its row.  A failure of the environment rather than of the input (disk
    full, an unwritable quarantine) also sets ``fatal``: the run stops, and a resume finishes.
    """
    started = time.perf_counter()
    rel_source = ref.relative_to(root)
    token = engine.remapper.keyed_id(rel_source)
    size = 0

    def quarantined(reason: QuarantineReason, message: str, fatal: str | None = None) -> FileResult:
        record = ManifestRecord(ref.ordinal, token, Outcome.QUARANTINED.value, size, reason=reason.value,
                                seconds=round(time.perf_counter() - started, 6))
        result = FileResult(record, [Link(LinkKind.SOURCE_PATH, rel_source, f"quarantine:{token}")], message,
                            fatal=fatal)
        if not dry_run:
            try:
                quarantine(quarantine_dir, f"{ref.ordinal:08d}-{token}", _safe_bytes(ref), reason=reason,
                           message=message, source=rel_source, input_id=token)
            except WriteError as exc:
                result.fatal = result.fatal or f"cannot write to the quarantine folder: {exc}"
        return result

    try:
        instance = read_instance(ref)
        size = instance.size
        ds = instance.dataset
        result: Deidentified = deidentify(ds, engine)
        rel = output_relpath(result.patient, result.study_uid, result.series_uid, result.sop_uid)
        record = ManifestRecord(
            ordinal=ref.ordinal, input_id=token,
            outcome=(Outcome.PLANNED if dry_run else Outcome.WRITTEN).value,
            size=size, output=rel, sop_class_uid=str(ds.get("SOPClassUID", "") or ""),
            modality=str(ds.get("Modality", "") or "") or None,
            actions=dict(sorted(result.plan.counts().items())), changes=_changes(result.plan),
            pixels=_pixel_summary(result.pixels), document=result.document,
        )
        encode_row(record)  # a field the manifest cannot hold fails this input, not the run
        links = [*result.links, Link(LinkKind.SOURCE_PATH, rel_source, rel, result.patient,
                                     result.study_uid, result.series_uid)]
        rows: list[tuple[str, str, str]] = []
        if dry_run:
            rows = [(_generic_path(format_path(a.path)), a.code.value, a.rule) for a in result.plan]
        else:
            data = encode_dataset(result.dataset, result.dataset.file_meta)
            check_free_space(output, keep_free, len(data))
            write_output(output / rel, data, replace=replace)
        record = replace_field(record, seconds=round(time.perf_counter() - started, 6))
        return FileResult(record, links, plan_rows=rows)
    except DicomDirFile:
        return FileResult(ManifestRecord(ref.ordinal, token, Outcome.SKIPPED_DICOMDIR.value))
    except NotDicomError as exc:
        return FileResult(ManifestRecord(ref.ordinal, token, Outcome.SKIPPED_NOT_DICOM.value,
                                         reason=exc.reason.value), message=str(exc))
    except DeidError as exc:
        if exc.path is None:
            exc.path = ref.display
            exc.args = (f"{ref.display}: {exc.message}",)
        if isinstance(exc, EncapsulatedDocumentError) and exc.drop:  # --documents drop: nothing kept
            return FileResult(ManifestRecord(ref.ordinal, token, Outcome.SKIPPED_DOCUMENT.value, size,
                                             reason=exc.reason.value), message=str(exc))
        # an output that cannot be written (disk full, I/O error) is the environment's fault: stop the run
        return quarantined(exc.reason, str(exc), fatal=str(exc) if isinstance(exc, WriteError) else None)
    except Exception as exc:  # noqa: BLE001 - the one per-file boundary (STYLE: errors)
        corrupt = describe_decode_failure(exc)  # pydicom decoding a malformed element on access
        if corrupt is not None:
            return quarantined(QuarantineReason.UNREADABLE, f"{ref.display}: corrupt DICOM file: {corrupt}")
        tb = traceback.extract_tb(exc.__traceback__)
        where = f"{tb[-1].filename.rsplit('/', 1)[-1]}:{tb[-1].lineno}" if tb else "?"
        logger.error("input #%d: internal error %s at %s", ref.ordinal, exc.__class__.__name__, where)
        return quarantined(QuarantineReason.INTERNAL_ERROR,
                           f"{ref.display}: internal error ({exc.__class__.__name__} at {where})")


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
    record = ManifestRecord(ref.ordinal, token, Outcome.QUARANTINED.value, reason=QuarantineReason.WORKER_CRASHED.value)
    result = FileResult(record, [Link(LinkKind.SOURCE_PATH, rel_source, f"quarantine:{token}")], message)
    try:
        quarantine(quarantine_dir, f"{ref.ordinal:08d}-{token}", _safe_bytes(ref),
                   reason=QuarantineReason.WORKER_CRASHED, message=message, source=rel_source, input_id=token)
    except WriteError as exc:
        result.fatal = f"cannot write to the quarantine folder: {exc}"
    return result


def _generic_path(text: str) -> str:
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
    stopped: str | None = None  # why the run stopped early (disk full ...); resume finishes it
    left: int = 0  # inputs not recorded when it stopped

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
    run ends identical to an uninterrupted one).  OUTPUT is locked for the length of the run
    (:class:`~dicom_deid.lock.OutputLock`): a second run into it raises OutputInUse.
    """
    config.validate()
    if config.dry_run:  # writes no output: no lock
        return _run(config, engine, mapping=mapping, on_event=on_event, run_id=run_id, spec=spec)
    config.output.mkdir(parents=True, exist_ok=True)
    with OutputLock(config.output) as lock:  # one run per OUTPUT for the whole run
        if lock.stale is not None:
            logger.warning("%s: a run that did not finish left its lock (%s); this run takes over and finishes "
                           "its work", config.output, lock.stale.describe())
        return _run(config, engine, mapping=mapping, on_event=on_event, run_id=run_id, spec=spec)


def _run(config: RunConfig, engine: Engine, *, mapping: MappingSink | None, on_event: Callable[[Event], None] | None,
         run_id: str | None, spec: Any) -> RunSummary:
    from dicom_deid.workers import Task, map_dask, map_pool, map_serial

    emit = _safe_emitter(on_event)
    run_id = run_id or uuid.uuid4().hex
    sink: MappingSink = mapping or DiscardLinks()
    profile = engine.profile
    options = tuple(sorted(o.value for o in profile.options))
    emit(RunStarted(run_id, profile.name, options, config.dry_run))
    manifest_path = config.manifest or (None if config.dry_run else config.output / MANIFEST_NAME)
    resuming = not config.dry_run and manifest_path is not None and manifest_path.is_file()
    if resuming and manifest_path is not None:
        torn = repair_manifest(manifest_path)
        if torn:
            logger.warning("manifest: removed a torn last line (%d bytes) left by an interrupted run", torn)
    done = {} if (config.force or config.dry_run or manifest_path is None) else completed_inputs(
        manifest_path, profile=profile.name, options=list(options), key_id=engine.remapper.key.key_id)
    if resuming and manifest_path is not None and not ended_cleanly(manifest_path):
        # a killed run's temporary files (never under a final name); we hold OUTPUT's lock
        remove_stale_parts(config.output)
        remove_stale_parts(config.quarantine_dir)
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
    keep_free = 0 if config.dry_run else (
        config.keep_free if config.keep_free is not None else default_keep_free(config.output))
    recorder = Recorder(writer=writer, sink=sink, output=config.output, quarantine_dir=config.quarantine_dir,
                        run_id=run_id, emit=emit,
                        unresolved={} if config.dry_run else unresolved_write_errors(config.quarantine_dir))
    started = time.perf_counter()
    interrupted = False
    left = 0
    root = config.input
    skipped: deque[FileResult] = deque()

    def to_process() -> Iterator[InputRef]:
        nonlocal left
        refs = _sampled(walk_inputs(root), config.sample if config.dry_run else None)
        for ref in refs:
            if recorder.stopped is not None:  # disk full ...: count what is left, submit no more
                left = 1 + sum(1 for _ in refs)
                return
            if done:
                token = engine.remapper.keyed_id(ref.relative_to(root))
                prior = done.get(token)
                if prior is not None and (config.output / prior).is_file():
                    skipped.append(FileResult(ManifestRecord(ref.ordinal, token, Outcome.ALREADY_DONE.value,
                                                             output=prior)))
                    continue
            yield ref

    task = Task(root=root, output=config.output, quarantine_dir=config.quarantine_dir, dry_run=config.dry_run,
                file_cpu_limit=config.file_cpu_limit, replace=config.force, keep_free=keep_free)
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
            dry_run=config.dry_run, replace=config.force, keep_free=keep_free))

    try:
        for res in results:
            while skipped:
                recorder.add(skipped.popleft())
            recorder.add(res)
        while skipped:
            recorder.add(skipped.popleft())
    except KeyboardInterrupt:
        interrupted = True
    except BaseException:
        sink.abort()
        raise
    finally:
        recorder.commit()
        seconds = time.perf_counter() - started
        left += recorder.unrecorded
        if writer is not None:
            summary: dict[str, Any] = {"counts": dict(recorder.counts), "files": recorder.files,
                                       "bytes": recorder.bytes_in, "seconds": round(seconds, 3),
                                       "interrupted": interrupted}
            if recorder.stopped is not None:
                summary.update(stopped=_without_paths(recorder.stopped), inputs_left=left)
            if recorder.manifest_usable:
                try:
                    if config.dry_run:
                        writer.add_plan([(*key, n) for key, n in sorted(recorder.plan.items())])
                    writer.close(summary)
                except OSError as exc:  # the summary is on stderr; the next run repairs nothing
                    logger.error("manifest summary not written (%s)", exc.strerror or exc)
            else:
                writer.abandon()
    if interrupted or recorder.stopped is not None:
        sink.abort()
    elif part_spec is not None:
        from dicom_deid.seal import finish_with_parts

        finish_with_parts(sink)  # type: ignore[arg-type]
    else:
        sink.close()
    emit(RunFinished(run_id, dict(recorder.counts), seconds, interrupted))
    return RunSummary(run_id, recorder.counts, seconds, manifest_path, config.quarantine_dir, recorder.files,
                      recorder.bytes_in, recorder.plan, interrupted, recorder.stopped, left)


def _without_paths(message: str) -> str:
    """The manifest travels with the output: keep the cause of a stop, not the folder names."""
    return re.sub(r"(?:/[^\s:()]+)+", "...", message)


def _safe_emitter(handler: Callable[[Event], None] | None) -> Callable[[Event], None]:
    def emit(event: Event) -> None:
        if handler is None:
            return
        try:
            handler(event)
        except Exception:
            logger.exception("event handler failed")

    return emit


__all__ = ["DiscardLinks", "FileResult", "MappingSink", "RunSummary", "dedupe_links", "process_input", "run"]
