"""Record: each input's result -> its sealed links, then its manifest row.  Stops cleanly on faults.

A manifest row marks an input done (a resume skips it), so a row is appended only once the
links of that input are sealed and its output is durable: rows wait in a short queue
(``ROW_BATCH`` results or ``ROW_SECONDS``), the mapping is flushed, the batch's outputs are made
durable (``write.make_durable``: one syncfs on Linux), then the rows are appended whole.  When the file
system refuses the mapping or the manifest, the run stops: results not recorded have their
outputs taken back (a resume redoes them), so OUTPUT never holds a file without a row.
"""

from __future__ import annotations

import logging
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from dicom_deid.errors import DeidError
from dicom_deid.events import Event, FileDone
from dicom_deid.links import Link, LinkKind
from dicom_deid.manifest import ManifestWriter, Outcome
from dicom_deid.write import REASONS_NAME, make_durable, resolve_write_error

if TYPE_CHECKING:
    from dicom_deid.boundary import FileResult

logger = logging.getLogger(__name__)

ROW_BATCH = 32  # results whose rows wait for one mapping flush
ROW_SECONDS = 2.0  # ... or this long, whichever comes first


class MappingSink(Protocol):
    def add(self, links: Iterable[Link]) -> None: ...
    def flush(self) -> None: ...  # seal what is buffered now
    def close(self) -> None: ...  # the run finished: mark the mapping complete
    def abort(self) -> None: ...  # interrupted: keep what is sealed, marked incomplete


class DiscardLinks:
    """Mapping sink used when no sealed mapping is requested (e.g. --dry-run)."""

    def add(self, links: Iterable[Link]) -> None:
        for _ in links:
            pass

    def flush(self) -> None:
        return None

    def close(self) -> None:
        return None

    def abort(self) -> None:
        return None


_PATIENT_KINDS = frozenset({LinkKind.PATIENT_ID, LinkKind.PATIENT_NAME, LinkKind.PATIENT_BIRTH_DATE,
                            LinkKind.DATE_OFFSET, LinkKind.STUDY_UID, LinkKind.SERIES_UID,
                            LinkKind.ACCESSION_NUMBER})


#: their values (an Enum member hashes in Python, its value string in C)
_PATIENT_KIND_VALUES = frozenset(kind.value for kind in _PATIENT_KINDS)


def dedupe_links(links: list[Link], seen: set[tuple[str, str]]) -> list[Link]:
    """Patient/study/series links repeat in every instance; seal each once per run."""
    out = []
    for link in links:
        kind = link.kind._value_  # the member's value as stored (``.value`` is a descriptor)
        if kind in _PATIENT_KIND_VALUES:
            key = (kind, link.original)
            if key in seen:
                continue
            seen.add(key)
        out.append(link)
    return out


def _same_file_system(a: Path, b: Path) -> bool:
    """Whether one syncfs of ``a`` also flushes ``b`` (False when either cannot be told)."""
    try:
        return os.stat(a).st_dev == os.stat(b).st_dev
    except OSError:
        return False


class Recorder:
    """Accounts for every result of a run, in order; ``stopped`` says why the run must stop."""

    def __init__(self, *, writer: ManifestWriter | None, sink: MappingSink, output: Path, quarantine_dir: Path,
                 run_id: str, unresolved: dict[str, str], emit: Callable[[Event], None],
                 sync_quarantine: bool = False) -> None:
        self._writer = writer
        self._sink = sink
        self._output = output
        self._quarantine_dir = quarantine_dir
        self._run_id = run_id
        self._unresolved = unresolved  # input_id -> quarantine file of an earlier write_error
        self._emit = emit
        self._sync_quarantine = sync_quarantine  # quarantine copies were written without fsync: sync per batch
        self._pending: list[FileResult] = []
        self._last_commit = time.monotonic()
        self._seen: set[tuple[str, str]] = set()
        self._broken: str | None = None  # why rows can no longer be recorded
        self.stopped: str | None = None
        self.counts: Counter[str] = Counter()
        self.plan: Counter[tuple[str, str, str]] = Counter()
        self.files = self.bytes_in = self.unrecorded = 0

    def add(self, res: FileResult) -> None:
        if self._broken is None:
            try:
                self._sink.add(dedupe_links(res.links, self._seen))
            except (DeidError, OSError) as exc:
                self._break(f"cannot seal the mapping: {exc}")
        self._pending.append(res)
        self._emit(FileDone(res.record.ordinal, res.outcome, res.record.size, res.reason,
                            res.message))
        if res.fatal and self.stopped is None:
            self.stopped = res.fatal
        if (len(self._pending) >= ROW_BATCH or self.stopped is not None
                or time.monotonic() - self._last_commit >= ROW_SECONDS):
            self.commit()

    def commit(self) -> None:
        """Seal the buffered links, then append the waiting rows."""
        batch, self._pending = self._pending, []
        self._last_commit = time.monotonic()
        if batch and self._broken is None:
            try:
                self._sink.flush()
            except (DeidError, OSError) as exc:
                self._break(f"cannot seal the mapping: {exc}")
        if batch and self._broken is None and self._writer is not None:
            written = [res.record.output for res in batch
                       if res.record.outcome == Outcome.WRITTEN.value and res.record.output]
            quarantined = self._sync_quarantine and any(
                res.record.outcome == Outcome.QUARANTINED.value for res in batch)
            try:
                make_durable(self._output, written)  # one flush for the batch, before any row claims a file
                if quarantined and (not written or not _same_file_system(self._output, self._quarantine_dir)):
                    make_durable(self._quarantine_dir, [REASONS_NAME])  # the copies, their entries, the reasons
            except OSError as exc:
                self._break(f"cannot make the outputs durable ({exc.strerror or exc})")
        if batch and self._broken is None and self._writer is not None:
            try:  # the batch's rows in one write (one system call, not two per row), whole or not at all
                self._writer.add_many([(res.record, res.row) for res in batch])
            except OSError as exc:
                self._break(f"cannot write the manifest {self._writer.path} ({exc.strerror or exc})")
            except BaseException:  # Ctrl-C: the batch waits for the final commit
                self._pending = batch + self._pending
                raise
        for res in batch:
            if self._broken is not None:
                self._take_back(res)
                continue
            self.files += 1
            self.bytes_in += res.record.size
            self.counts[res.record.outcome] += 1
            self.plan.update(res.plan_rows)
            token = res.record.input_id
            if res.record.outcome == Outcome.WRITTEN.value and token in self._unresolved:
                try:
                    resolve_write_error(self._quarantine_dir, token, self._unresolved.pop(token), run_id=self._run_id)
                except DeidError as exc:  # the entry stays unresolved; the input itself is written
                    logger.warning("could not mark an earlier write error resolved: %s", exc)

    def _break(self, why: str) -> None:
        self._broken = why
        if self.stopped is None:
            self.stopped = why

    def _take_back(self, res: FileResult) -> None:
        """A result whose row cannot be written: remove its output (a resume redoes the input)."""
        self.unrecorded += 1
        if res.record.outcome == Outcome.WRITTEN.value and res.record.output:
            try:
                (self._output / res.record.output).unlink(missing_ok=True)
            except OSError as exc:
                logger.error("could not remove an output whose row was not recorded: %s", exc.strerror)

    @property
    def manifest_usable(self) -> bool:
        return self._broken is None or not self._broken.startswith("cannot write the manifest")


__all__ = ["ROW_BATCH", "ROW_SECONDS", "DiscardLinks", "MappingSink", "Recorder", "dedupe_links"]
