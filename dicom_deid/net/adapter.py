"""The node's one coupling to the per-file boundary: a received instance through ``process_input``.

Every instance the node receives goes through the same per-file boundary as ``dicom-deid run``
(``boundary.process_input`` with the same ``Engine`` description): the same plan, quarantine,
manifest rows and sealed mapping links.  The boundary takes bytes plus an opaque id: this module
hands it the spool file's bytes, named by the spool file (no copy, no temporary file).  Nothing
else in ``dicom_deid.net`` imports the boundary, the writer, the manifest writer or the seal
(outcomes cross as the manifest's ``Outcome`` enum); the engine itself is built by
``cli_net.open_node`` through ``dicom_deid.Deidentifier``, exactly as ``run`` builds it.

Durability: a received original may be dropped from the spool only after :meth:`commit`, which
fsyncs the de-identified files written since the last commit, seals the mapping links buffered
so far and fsyncs the manifest.  A crash before that re-processes the original on restart; the
keyed remapping makes the second result identical to the first.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from dicom_deid._version import __version__
from dicom_deid.boundary import process_input
from dicom_deid.deidentify import Engine
from dicom_deid.errors import QuarantineReason, UnreadableDicomError
from dicom_deid.links import Link, LinkKind
from dicom_deid.manifest import ManifestRecord, ManifestWriter, Outcome
from dicom_deid.net.spool import fsync_dir, fsync_file
from dicom_deid.record import dedupe_links
from dicom_deid.walk import InputBytes
from dicom_deid.write import quarantine

_MAX_SEEN = 200_000  # patient / study / series links remembered to seal each once


class SealedLinks(Protocol):
    """The sealed mapping writer (``seal.MappingWriter``) as the node uses it."""

    def add(self, links: list[Link]) -> None: ...
    def flush(self) -> None: ...  # seal what is buffered: durable before originals are dropped
    def close(self) -> None: ...
    def abort(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Processed:
    """What one received instance became.  ``output`` is set only when it was written."""

    outcome: Outcome
    output: Path | None = None
    reason: QuarantineReason | None = None
    message: str | None = None  # input-side one-line message (names the spool file, not values)


class PipelineSession:
    """One node session (one manifest "run" block, one sealed mapping part).  Thread-safe."""

    def __init__(self, engine: Engine, *, input_root: Path, output: Path, quarantine_dir: Path,
                 manifest: Path, mapping: SealedLinks, run_id: str, backend: str, workers: int,
                 warnings: tuple[str, ...] = ()) -> None:
        self.engine = engine
        self.input_root = input_root
        self.output = output
        self.quarantine_dir = quarantine_dir
        self.manifest_path = manifest
        self.run_id = run_id
        self._mapping = mapping
        self._lock = threading.Lock()
        self._ordinal = 0
        self._unsynced: list[Path] = []
        self._durable: set[Path] = set()  # output folders whose own entry is on disk
        self._quarantined = False  # quarantined since the last commit
        self._seen: set[tuple[str, str]] = set()
        self.counts: Counter[str] = Counter()
        self._started = time.perf_counter()
        profile = engine.profile
        header: dict[str, object] = {
            "run_id": run_id, "tool": f"dicom-deid {__version__}", "standard": f"PS3.15 {engine.standard.edition}",
            "profile": profile.name, "options": sorted(o.value for o in profile.options),
            "key_id": engine.remapper.key.key_id, "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "workers": workers, "backend": backend, "resumed": 0,
        }
        if engine.subject_map is not None:
            header["subject_map"] = engine.subject_map.fingerprint
        if warnings:
            header["warnings"] = list(warnings)
        self._manifest = ManifestWriter(manifest, header)

    def process(self, path: Path) -> Processed:
        """De-identify the spool file ``path`` (never raises for a bad instance: it is quarantined)."""
        with self._lock:
            ordinal = self._ordinal
            self._ordinal += 1
        item = _received(ordinal, path, self.input_root)
        result = process_input(item, engine=self.engine, output=self.output, quarantine_dir=self.quarantine_dir)
        record, message = result.record, result.message
        outcome = result.outcome
        if outcome in (Outcome.SKIPPED_NOT_DICOM, Outcome.SKIPPED_DICOMDIR):
            # From the network every instance is meant to be stored: keep it, never drop it.
            reason = QuarantineReason.NOT_DICOM
            rel = item.name
            message = message or f"{item.display}: DICOMDIR index received: it is not an instance to store"
            quarantine(self.quarantine_dir, f"{ordinal:08d}-{record.input_id}", item.data,
                       reason=reason, message=message, source=rel)
            record = ManifestRecord(record.ordinal, record.input_id, Outcome.QUARANTINED.value,
                                    len(item.data or b""), reason=reason.value, seconds=record.seconds)
            result.links = [Link(LinkKind.SOURCE_PATH, rel, f"quarantine:{record.input_id}")]
            outcome = Outcome.QUARANTINED
        output = self.output / record.output if outcome is Outcome.WRITTEN and record.output else None
        with self._lock:
            self._manifest.add(record)
            if len(self._seen) > _MAX_SEEN:
                self._seen.clear()  # a node runs for months: bounded memory, at worst a link sealed twice
            self._mapping.add(dedupe_links(result.links, self._seen))
            self.counts[outcome.value] += 1
            if output is not None:
                self._unsynced.append(output)
            elif outcome is Outcome.QUARANTINED:
                self._quarantined = True
        reason_value = QuarantineReason(record.reason) if record.reason else None
        return Processed(outcome, output, reason_value, message)



    def commit(self) -> None:
        """Make everything processed so far durable: outputs, mapping links, manifest rows."""
        with self._lock:
            written, self._unsynced = self._unsynced, []
            folders: set[Path] = set()
            new: set[Path] = set()
            for path in written:
                if not path.exists():  # already delivered and dropped by the forwarder: nothing to keep
                    continue
                fsync_file(path)
                folders.add(path.parent)  # the file's entry
                folder = path.parent  # a folder new to this session is an entry in its parent
                while folder != self.output and folder not in self._durable and folder.is_relative_to(self.output):
                    new.add(folder)
                    folders.add(folder.parent)
                    folder = folder.parent
            if self._quarantined and self.quarantine_dir.is_dir():  # the copies' entries (write.py fsyncs data)
                folders.update((self.quarantine_dir, self.quarantine_dir.parent))
                self._quarantined = False
            for folder in sorted(folders, key=lambda p: len(p.parts), reverse=True):
                fsync_dir(folder)
            if len(self._durable) > 100_000:
                self._durable.clear()  # bounded memory; costs a few extra fsyncs
            self._durable |= new
            self._mapping.flush()
            fsync_file(self.manifest_path)

    def close(self, *, complete: bool) -> None:
        """End the session: summary line; the mapping marked complete, or kept sealed but incomplete."""
        self.commit()
        with self._lock:
            self._manifest.close({"counts": dict(self.counts), "files": sum(self.counts.values()),
                                  "seconds": round(time.perf_counter() - self._started, 3),
                                  "interrupted": not complete})
        if complete:
            self._mapping.close()
        else:
            self._mapping.abort()


def _received(ordinal: int, path: Path, root: Path) -> InputBytes:
    """A spool file's bytes with its opaque id (its name in the spool) for the per-file boundary."""
    try:
        name = path.relative_to(root).as_posix()
    except ValueError:
        name = path.name
    try:
        return InputBytes(ordinal, name, str(path), path.read_bytes())
    except OSError as exc:
        return InputBytes(ordinal, name, str(path), None,
                          UnreadableDicomError(f"cannot read spool file ({exc.strerror or exc})", path=path))


def open_session(engine: Engine, *, input_root: Path, output: Path, quarantine_dir: Path, manifest: Path,
                 key_dir: Path, recipient: Path | None, mapping: Path | None, run_id: str, backend: str,
                 workers: int, warn: Callable[[str], None], run_info: Mapping[str, object] | None = None,
                 warnings: tuple[str, ...] = ()) -> PipelineSession:
    """A session with its sealed mapping opened as ``dicom-deid run`` opens it (same rules, same places)."""
    from dicom_deid.seal import prepare_run_mapping

    writer = prepare_run_mapping(
        recipient=recipient, mapping=mapping, output_dir=output, key_dir=key_dir, run_id=run_id,
        run_info=run_info or {"profile": engine.profile.name,
                              "options": sorted(o.value for o in engine.profile.options), "backend": backend},
        warn=warn)
    try:
        return PipelineSession(engine, input_root=input_root, output=output, quarantine_dir=quarantine_dir,
                               manifest=manifest, mapping=writer, run_id=run_id, backend=backend, workers=workers,
                               warnings=warnings)
    except BaseException:
        writer.abort()
        raise


__all__ = ["PipelineSession", "Processed", "SealedLinks", "open_session"]
