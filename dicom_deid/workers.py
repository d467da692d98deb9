"""Execution backends: the same per-file work in this process, a local process pool, or Dask.

Each backend maps ``InputRef`` -> ``FileResult`` with a bounded number of files in flight, so
memory stays flat however large the export.  Workers share no state: each receives the one
engine description (``deidentify.Engine``, frozen and picklable) as is and derives its own
tables, remapper and pixel stage from it (the keyed remapping needs no coordination).  Workers
read their inputs themselves (``walk.load_input``) and hand bytes to ``boundary.process_input``.
"""

from __future__ import annotations

import gc
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from dicom_deid.boundary import FileResult, process_input
from dicom_deid.deidentify import Engine
from dicom_deid.errors import ConfigError
from dicom_deid.links import Link
from dicom_deid.record import dedupe_links
from dicom_deid.walk import InputRef, load_input
from dicom_deid.write import FreeSpace

if TYPE_CHECKING:
    from concurrent.futures import Future

    from dicom_deid.seal import PartSpec


@dataclass(frozen=True)
class Task:
    """Everything one file's work needs besides the engine."""

    root: Path
    output: Path
    quarantine_dir: Path
    dry_run: bool = False
    replace: bool = False  # --force: overwrite outputs of an earlier run
    file_cpu_limit: float | None = None  # CPU seconds one file may take before its worker is killed
    keep_free: int = 0  # bytes of OUTPUT's file system no output may use (see RunConfig.keep_free)
    space: FreeSpace | None = field(default=None, compare=False)  # the run's free-space view (``keep_free``)
    sync_quarantine: bool = True  # False: the run syncs the quarantine folder per batch (Recorder)

    def process(self, ref: InputRef, engine: Engine) -> FileResult:
        """One input, read where this runs, through the per-file boundary."""
        return process_input(load_input(ref, self.root), engine=engine, output=self.output,
                             quarantine_dir=self.quarantine_dir, dry_run=self.dry_run, replace=self.replace,
                             keep_free=self.keep_free, space=self.space, sync_quarantine=self.sync_quarantine)


class _Pending(Protocol):
    """A Dask future of one batch's results."""

    def result(self) -> list[FileResult]: ...


class _PartWriter(Protocol):
    """A Dask worker's own sealed mapping part (``seal.MappingWriter``) as used here."""

    links_written: int

    def add(self, links: list[Link]) -> None: ...
    def flush(self) -> None: ...
    def close(self) -> None: ...
    def abort(self) -> None: ...


_pool_engine: Engine | None = None  # this worker process's engine, built once by the initializer


def quiet_pydicom() -> None:
    """In a worker process: pydicom's parser warnings quote element values (PHI); keep them out of
    worker logs, as ``cli.main`` does for the main process."""
    import logging
    import warnings

    logging.getLogger("pydicom").setLevel(logging.CRITICAL)
    warnings.filterwarnings("ignore", module=r"pydicom(\..*)?")


def _pool_init(engine: Engine) -> None:
    global _pool_engine
    quiet_pydicom()
    _pool_engine = engine  # unpickled here: its tables, remapper and pixel stage are this process's
    gc.freeze()  # this worker's modules and engine live as long as it: the collector skips them


def _pool_work(refs: list[InputRef], task: Task) -> list[FileResult]:
    assert _pool_engine is not None, "worker not initialised"
    out = []
    for ref in refs:
        if task.file_cpu_limit is not None:
            _limit_cpu(task.file_cpu_limit)
        out.append(task.process(ref, _pool_engine))
    return out


def _batches(refs: Iterable[InputRef], size: int) -> Iterator[list[InputRef]]:
    batch: list[InputRef] = []
    for ref in refs:
        batch.append(ref)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _limit_cpu(seconds: float) -> None:
    """Let this worker spend at most ``seconds`` more CPU time (SIGXCPU ends it otherwise)."""
    import resource

    used = resource.getrusage(resource.RUSAGE_SELF)
    spent = used.ru_utime + used.ru_stime
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    soft = int(spent + seconds) + 1
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


def _dask_work(refs: list[InputRef], task: Task, engine: Engine, part: PartSpec | None = None) -> list[FileResult]:
    """One batch on a Dask worker (``engine`` arrives unpickled: derived in this process).  With
    ``part`` the links are sealed into this worker's own part file and stripped from the results
    sent back."""
    worker: object = None
    try:
        from distributed import get_worker

        worker = get_worker()
        quiet_pydicom()
    except ValueError:  # not inside a worker (e.g. a LocalCluster with processes=False in tests)
        worker = None
    results = [task.process(ref, engine) for ref in refs]
    if part is not None:
        sealed = _worker_part(worker, part)
        writer, seen = sealed
        for res in results:
            writer.add(dedupe_links(res.links, seen))
            res.links = []
        writer.flush()  # sealed before the results are reported: a crash loses no reported file
    return results


_local_parts: dict[str, tuple[_PartWriter, set[tuple[str, str]]]] = {}  # outside a worker (tests): by run


def _worker_part(worker: object, part: PartSpec) -> tuple[_PartWriter, set[tuple[str, str]]]:
    import hashlib

    store = getattr(worker, "_dicom_deid_parts", None) if worker is not None else _local_parts
    if store is None:
        store = {}
        worker._dicom_deid_parts = store  # type: ignore[attr-defined]
    entry = store.get(part.run_id)
    if entry is None:
        address = getattr(worker, "address", str(os.getpid()))
        name = "worker-" + hashlib.sha256(f"{address}:{os.getpid()}".encode()).hexdigest()[:16]
        entry = store[part.run_id] = (part.open(name), set())
    return entry


def _finish_worker_parts(run_id: str, complete: bool, dask_worker: object = None) -> int:
    """Run on every worker at the end: close (or abort) this run's part; return links sealed."""
    store = getattr(dask_worker, "_dicom_deid_parts", None) if dask_worker is not None else _local_parts
    entry = (store or {}).pop(run_id, None)
    if entry is None:
        return 0
    writer = entry[0]
    if complete:
        writer.close()
    else:
        writer.abort()
    return int(writer.links_written)


def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def map_serial(refs: Iterable[InputRef], task: Task, engine: Engine) -> Iterator[FileResult]:
    for ref in refs:
        yield task.process(ref, engine)


def map_pool(refs: Iterable[InputRef], task: Task, engine: Engine, workers: int,
             on_crash: Callable[[InputRef], FileResult], batch: int = 8) -> Iterator[FileResult]:
    """Results in completion order; files go to workers in small batches, at most 2 batches per
    worker in flight, so memory stays flat and inter-process overhead stays small.

    A worker process that dies (segfault in a codec, out-of-memory kill, --file-time-limit) breaks
    the pool: the files then in flight are retried one at a time in a fresh pool, and the one that
    kills its worker again becomes ``on_crash(ref)`` (a quarantine record).  The run carries on.
    """
    from concurrent.futures import (  # a serial run never loads them
        FIRST_COMPLETED,
        ProcessPoolExecutor,
        wait,
    )
    from concurrent.futures.process import BrokenProcessPool

    limit = max(2, 2 * workers)
    source = _batches(refs, batch)
    pool = ProcessPoolExecutor(max_workers=workers, initializer=_pool_init, initargs=(engine,))
    pending: dict[Future[list[FileResult]], list[InputRef]] = {}
    try:
        exhausted = False
        while pending or not exhausted:
            while not exhausted and len(pending) < limit:
                refs_batch = next(source, None)
                if refs_batch is None:
                    exhausted = True
                    break
                pending[pool.submit(_pool_work, refs_batch, task)] = refs_batch
            if not pending:
                break
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            broken: list[InputRef] = []
            for fut in done:
                refs_batch = pending.pop(fut)
                try:
                    yield from fut.result()
                except BrokenProcessPool:
                    broken += refs_batch
            if broken:
                for refs_batch in pending.values():
                    broken += refs_batch
                pending.clear()
                pool.shutdown(wait=False, cancel_futures=True)
                yield from _isolate(sorted(broken, key=lambda r: r.ordinal), task, engine, on_crash)
                pool = ProcessPoolExecutor(max_workers=workers, initializer=_pool_init, initargs=(engine,))
    except BaseException:
        for fut in pending:
            fut.cancel()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _isolate(refs: list[InputRef], task: Task, engine: Engine,
             on_crash: Callable[[InputRef], FileResult]) -> Iterator[FileResult]:
    """Run each suspect file alone in its own worker, so a crash names its file."""
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    pool = ProcessPoolExecutor(max_workers=1, initializer=_pool_init, initargs=(engine,))
    try:
        for ref in refs:
            try:
                yield from pool.submit(_pool_work, [ref], task).result()
            except BrokenProcessPool:
                yield on_crash(ref)
                pool.shutdown(wait=False, cancel_futures=True)
                pool = ProcessPoolExecutor(max_workers=1, initializer=_pool_init, initargs=(engine,))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def map_dask(refs: Iterable[InputRef], task: Task, engine: Engine, address: str, batch: int = 32,
             part: PartSpec | None = None) -> Iterator[FileResult]:
    """Submit the same per-file work to a Dask distributed scheduler (shared storage assumed).

    With ``part`` (a ``seal.PartSpec``), each worker seals its links into its own part file next
    to the run's mapping file; the parts are closed here at the end and combined by the caller.
    """
    try:
        from distributed import Client  # untyped library: calls below are checked at run time
    except ImportError:
        raise ConfigError("--dask needs the 'scale' extra: pip install 'dicom-deid[scale]'") from None
    try:
        client = Client(address, timeout="20s")
    except OSError as exc:
        raise ConfigError(f"cannot reach the Dask scheduler at {address} ({exc})") from None
    try:
        n = max(1, sum(client.nthreads().values()))
        limit = 2 * n
        # the same description, sent as is (pickled: its four described fields only); hash=False: no need
        # to tokenize what it derives
        engine_future = client.scatter(engine, broadcast=True, hash=False)
        pending: deque[_Pending] = deque()
        complete = False
        try:
            for refs_batch in _batches(refs, batch):
                pending.append(client.submit(_dask_work, refs_batch, task, engine_future, part, pure=False))
                if len(pending) >= limit:
                    yield from pending.popleft().result()
            while pending:
                yield from pending.popleft().result()
            complete = True
        finally:
            if part is not None:
                client.run(_finish_worker_parts, part.run_id, complete)
    finally:
        client.close()


__all__ = ["Task", "default_workers", "map_dask", "map_pool", "map_serial"]
