"""Pipeline: a batch run.  walk -> (workers: boundary per file) -> record -> summary.

The per-file work is ``boundary.process_input`` (the single fail-closed boundary), run where
``workers.py`` puts it; this module walks the input, skips what a previous run completed,
accounts for every result in order (``record.Recorder``: sealed links, then the manifest row)
and writes the run's summary.  Every input ends as exactly one manifest row.
"""

from __future__ import annotations

import logging
import re
import signal
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Self

from dicom_deid._version import __version__
from dicom_deid.boundary import FileResult, crashed_input
from dicom_deid.config import RunConfig
from dicom_deid.deidentify import Engine
from dicom_deid.errors import ConfigError
from dicom_deid.events import Event, RunFinished, RunStarted
from dicom_deid.lock import OutputLock
from dicom_deid.manifest import (
    MANIFEST_NAME,
    ManifestRecord,
    ManifestWriter,
    Outcome,
    ended_cleanly,
    repair_manifest,
)
from dicom_deid.pixels.mode import PixelMode
from dicom_deid.record import DiscardLinks, MappingSink, Recorder
from dicom_deid.walk import InputRef, InputWalk, load_input
from dicom_deid.workers import Task, map_dask, map_pool, map_serial
from dicom_deid.write import (
    FreeSpace,
    default_keep_free,
    remove_stale_parts,
    syncs_file_systems,
    unresolved_write_errors,
)

logger = logging.getLogger(__name__)


@dataclass
class RunSummary:
    """What a batch run did: inputs per outcome, where its records are, why it stopped early."""

    run_id: str
    counts: Counter[Outcome]
    seconds: float
    manifest: Path | None
    quarantine: Path
    files: int = 0
    bytes_in: int = 0
    plan: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    interrupted: bool = False
    stopped: str | None = None  # why the run stopped early (disk full ...); resume finishes it
    left: int = 0  # inputs not recorded when it stopped
    mapping: Path | None = None  # the sealed mapping file this run created (set by the API)
    warnings: tuple[str, ...] = ()  # the engine's warnings (e.g. burned-in text not redacted)
    pixels: PixelMode = PixelMode.OFF  # the run's effective --pixels mode

    @property
    def quarantined(self) -> int:
        return self.counts.get(Outcome.QUARANTINED, 0)


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


def completed_inputs(manifest: Path, *, profile: str, options: list[str], key_id: str,
                     subject_map: str | None = None, settings: str | None = None) -> dict[str, str]:
    """input_id -> output path of every input a previous run wrote (for resume).

    Only runs of the same profile, options, key, subject map (its fingerprint) and settings (overrides,
    date method, documents policy, pixel mode: :attr:`Engine.settings_id`) can be resumed:
    mixing outputs of different settings in one folder is refused (ConfigError) unless the
    operator passes --force.
    """
    done: dict[str, str] = {}
    if not manifest.exists():
        return done
    from dicom_deid.manifest import read_manifest

    for row in read_manifest(manifest, tolerate_partial=True):
        if row.get("type") == "run":
            if ((row.get("profile"), row.get("options"), row.get("key_id"), row.get("subject_map"))
                    != (profile, options, key_id, subject_map)):
                raise ConfigError(
                    "OUTPUT holds a run with another profile, options, key or subject map; resuming would mix them: "
                    "choose a new OUTPUT, or --force to redo every input", path=manifest.parent)
            if settings is not None and row.get("settings") != settings:
                raise ConfigError(
                    "OUTPUT holds a run with other settings (overrides, date method, --documents, --pixels or "
                    "another dicom-deid rule edition); resuming would mix them: "
                    "choose a new OUTPUT, or --force to redo every input", path=manifest.parent)
        elif row.get("type") == "file" and row.get("outcome") in (Outcome.WRITTEN.value,
                                                                   Outcome.ALREADY_DONE.value):
            done[row["input_id"]] = row["output"]
    return done


def run(config: RunConfig, engine: Engine, *, mapping: MappingSink | None = None,
        on_event: Callable[[Event], None] | None = None, run_id: str | None = None,
        warnings: tuple[str, ...] = ()) -> RunSummary:
    """Run a whole batch.  ``mapping`` receives every link (the sealed mapping writer).

    With ``config.workers > 1`` or ``config.dask`` the same ``engine`` description goes to each
    worker as is.  ``warnings`` (the engine's, e.g. no burned-in text redaction) are recorded in
    the manifest's run line, where the report shows them.  Inputs that a previous run into the same
    output completed are skipped unless ``config.force`` (outputs are deterministic, so a resumed
    run ends identical to an uninterrupted one).  OUTPUT is locked for the length of the run
    (:class:`~dicom_deid.lock.OutputLock`): a second run into it raises OutputInUse.
    """
    config.validate()
    if config.dry_run:  # writes no output: no lock
        return _run(config, engine, mapping=mapping, on_event=on_event, run_id=run_id, warnings=warnings)
    config.output.mkdir(parents=True, exist_ok=True)
    with OutputLock(config.output) as lock:  # one run per OUTPUT for the whole run
        if lock.stale is not None:
            logger.warning("%s: a run that did not finish left its lock (%s); this run takes over and finishes "
                           "its work", config.output, lock.stale.describe())
        return _run(config, engine, mapping=mapping, on_event=on_event, run_id=run_id, warnings=warnings)


def _run(config: RunConfig, engine: Engine, *, mapping: MappingSink | None, on_event: Callable[[Event], None] | None,
         run_id: str | None, warnings: tuple[str, ...]) -> RunSummary:
    emit = _safe_emitter(on_event)
    run_id = run_id or uuid.uuid4().hex
    sink: MappingSink = mapping or DiscardLinks()
    profile = engine.profile
    options = tuple(sorted(o.value for o in profile.options))
    subject_map = engine.subject_map.fingerprint if engine.subject_map is not None else None
    emit(RunStarted(run_id, profile.name, options, config.dry_run))
    manifest_path = config.manifest or (None if config.dry_run else config.output / MANIFEST_NAME)
    resuming = not config.dry_run and manifest_path is not None and manifest_path.is_file()
    if resuming and manifest_path is not None:
        torn = repair_manifest(manifest_path)
        if torn:
            logger.warning("manifest: removed a torn last line (%d bytes) left by an interrupted run", torn)
    done = {} if (config.force or config.dry_run or manifest_path is None) else completed_inputs(
        manifest_path, profile=profile.name, options=list(options), key_id=engine.remapper.key.key_id,
        subject_map=subject_map, settings=engine.settings_id)
    if resuming and manifest_path is not None and not ended_cleanly(manifest_path):
        # a killed run's temporary files (never under a final name); we hold OUTPUT's lock
        remove_stale_parts(config.output)
        remove_stale_parts(config.quarantine_dir)
    writer = None
    if manifest_path is not None:
        manifest_path.parent.mkdir(parents=True, exist_ok=True)
        header: dict[str, object] = {
            "run_id": run_id, "tool": f"dicom-deid {__version__}", "standard": f"PS3.15 {engine.standard.edition}",
            "profile": profile.name, "options": list(options), "key_id": engine.remapper.key.key_id,
            "pixels": engine.pixels.value, "settings": engine.settings_id,
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "workers": config.workers,
            "backend": "dask" if config.dask else "pool" if config.workers > 1 else "serial",
            "resumed": len(done),
        }
        if subject_map is not None:
            header["subject_map"] = subject_map
        if warnings:
            header["warnings"] = list(warnings)
        writer = ManifestWriter(manifest_path, header)
    keep_free = 0 if config.dry_run else (
        config.keep_free if config.keep_free is not None else default_keep_free(config.output))
    # quarantine copies made on this machine are made durable with each batch's outputs (one syncfs)
    # rather than by three fsyncs each; Dask workers (other machines) sync their own
    batch_sync = not config.dry_run and not config.dask and syncs_file_systems()
    recorder = Recorder(writer=writer, sink=sink, output=config.output, quarantine_dir=config.quarantine_dir,
                        run_id=run_id, emit=emit, sync_quarantine=batch_sync,
                        unresolved={} if config.dry_run else unresolved_write_errors(config.quarantine_dir))
    started = time.perf_counter()
    interrupted = False
    left = 0
    root = config.input
    skipped: deque[FileResult] = deque()

    # auto walks INPUT more than once (survey, samples, the rest): the first walk is kept and replayed
    # (the pixel stage's modules load only when it runs: a --pixels off run imports none of them)
    sampled = engine.pixel_stage is not None
    if sampled:
        from dicom_deid.pixels.phases import run_sampled, sampling_stage
    walk = InputWalk(root, exclude=(config.output, config.quarantine_dir),
                     replay=sampled and sampling_stage(engine) is not None)

    def guard(refs: Iterator[InputRef]) -> Iterator[InputRef]:
        nonlocal left
        for ref in refs:
            if recorder.stopped is not None:  # disk full ...: count what is left, submit no more
                left = 1 + sum(1 for _ in refs)
                return
            yield ref

    def to_process() -> Iterator[InputRef]:
        for ref in guard(_sampled(walk(), config.sample if config.dry_run else None)):
            if done:
                token = engine.remapper.keyed_id(ref.relative_to(root))
                prior = done.get(token)
                if prior is not None and (config.output / prior).is_file():
                    skipped.append(FileResult(ManifestRecord(ref.ordinal, token, Outcome.ALREADY_DONE.value,
                                                             output=prior)))
                    continue
            yield ref

    task = Task(root=root, output=config.output, quarantine_dir=config.quarantine_dir, dry_run=config.dry_run,
                file_cpu_limit=config.file_cpu_limit, replace=config.force, keep_free=keep_free,
                space=FreeSpace(config.output, keep_free) if keep_free > 0 else None, sync_quarantine=not batch_sync)
    part_spec = None
    if config.dask and hasattr(sink, "part_spec") and not config.dry_run:
        part_spec = sink.part_spec()  # each Dask worker seals its own links: none cross the network

    def execute(refs: Iterable[InputRef], run_engine: Engine) -> Iterator[FileResult]:
        if config.dask:
            return map_dask(refs, task, run_engine, config.dask, part=part_spec)
        if config.workers > 1 or config.file_cpu_limit is not None:  # a limit needs a worker to kill
            return map_pool(refs, task, run_engine, config.workers,
                            on_crash=lambda ref: crashed_input(load_input(ref, root), run_engine,
                                                               config.quarantine_dir))
        return map_serial(refs, task, run_engine)

    # --pixels auto samples each series before the rest (pixels/phases.py); otherwise one pass
    results: Iterator[FileResult] = (
        run_sampled(to_process(), execute, engine, root=root, walk=walk, guard=guard,
                    prior=manifest_path if done else None) if sampled else execute(to_process(), engine))

    ctrl_c = _DeferredInterrupt()
    try:
        with ctrl_c:
            for res in results:
                while skipped:
                    recorder.add(skipped.popleft())
                recorder.add(res)
                if ctrl_c.requested:
                    raise KeyboardInterrupt
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
            summary: dict[str, object] = {"counts": dict(recorder.counts), "files": recorder.files,
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
    counts = Counter({Outcome(outcome): n for outcome, n in recorder.counts.items()})
    return RunSummary(run_id, counts, seconds, manifest_path, config.quarantine_dir, recorder.files,
                      recorder.bytes_in, recorder.plan, interrupted, recorder.stopped, left, warnings=warnings,
                      pixels=engine.pixels)


def _without_paths(message: str) -> str:
    """The manifest travels with the output: keep the cause of a stop, not the folder names."""
    return re.sub(r"(?:/[^\s:()]+)+", "...", message)


class _DeferredInterrupt:
    """Ctrl-C while inputs are processed: the input at hand is finished and recorded, then the run
    stops (interrupted, resumable).  Python's own KeyboardInterrupt can be raised anywhere, even in a
    finalizer that swallows it, and the run would go on; a second Ctrl-C still interrupts at once.
    Only installed from the main thread over Python's default handler (an embedding program's own
    handler is left alone)."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: object = None

    def _on_sigint(self, signum: int, frame: FrameType | None) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __enter__(self) -> Self:
        if (threading.current_thread() is threading.main_thread()
                and signal.getsignal(signal.SIGINT) is signal.default_int_handler):
            self._previous = signal.signal(signal.SIGINT, self._on_sigint)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)  # type: ignore[arg-type]
            self._previous = None


def _safe_emitter(handler: Callable[[Event], None] | None) -> Callable[[Event], None]:
    def emit(event: Event) -> None:
        if handler is None:
            return
        try:
            handler(event)
        except Exception:
            logger.exception("event handler failed")

    return emit


__all__ = ["RunSummary", "completed_inputs", "run"]
