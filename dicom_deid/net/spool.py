"""The node's persistent queue: a folder that survives crashes and restarts.

::

    SPOOL/                     mode 0700: input side (holds originals until de-identified)
      .lock                    one node per spool (advisory lock, released when the process ends)
      incoming/<AE>/<id>.dcm   received, acknowledged, not yet de-identified (originals)
      outbox/...               de-identified, awaiting delivery (with --forward)
      failed/...               de-identified, refused for good by the destination (+ reasons.jsonl)
      delivered.jsonl          one line per delivery: output path (pseudonyms only) and time

A received instance is written to a temporary name, fsynced, renamed and its folder fsynced
before the sender hears "success": after that, a crash or SIGKILL cannot lose it.  On start,
temporary files of interrupted writes (never acknowledged) are removed and everything else is
picked up again.  Names are ours (time and sequence), never taken from the dataset or the peer.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import secrets
import threading
import time
from pathlib import Path
from typing import IO

from dicom_deid.errors import ConfigError

INCOMING, OUTBOX, FAILED = "incoming", "outbox", "failed"
_SAFE = re.compile(r"[^A-Za-z0-9_-]")
_PART = ".part"


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_file(path: Path) -> None:
    """Flush a file another handle wrote (fsync acts on the file, whichever descriptor wrote it)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def folder_name(ae_title: str) -> str:
    """A calling AE title as a plain folder name (AE titles may hold '/', '.' or spaces)."""
    return _SAFE.sub("_", ae_title.strip()) or "_"


class Spool:
    """Durable storage of received and de-identified instances.  Thread-safe."""

    def __init__(self, root: Path) -> None:
        self.root = root
        try:
            root.mkdir(parents=True, exist_ok=True, mode=0o700)
            os.chmod(root, 0o700)
            self.incoming, self.outbox, self.failed = (root / INCOMING, root / OUTBOX, root / FAILED)
            for folder in (self.incoming, self.outbox, self.failed):
                folder.mkdir(exist_ok=True, mode=0o700)
            fsync_dir(root)
            fsync_dir(root.parent)
            self._lock_file: IO[str] = open(root / ".lock", "a+", encoding="utf-8")  # noqa: SIM115 - held for life
        except OSError as exc:
            raise ConfigError(f"cannot use the spool folder ({exc.strerror or exc})", path=root) from None
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock_file.close()
            raise ConfigError("the spool is in use by another dicom-deid node; give each node its own --spool",
                              path=root) from None
        self._seq = 0
        self._mutex = threading.Lock()
        self._remove_partial()

    def _remove_partial(self) -> None:
        """Temporary files of writes a crash interrupted: never acknowledged, so the sender still has them."""
        for folder in (self.incoming, self.outbox):
            for path in folder.rglob(f".*{_PART}"):
                path.unlink(missing_ok=True)

    def store(self, calling_ae: str, data: bytes) -> Path:
        """Write a received instance durably; only then may the sender be told "success"."""
        with self._mutex:
            self._seq += 1
            seq = self._seq
        folder = self.incoming / folder_name(calling_ae)
        if not folder.is_dir():  # a new folder is an entry in incoming/: durable before any file in it
            folder.mkdir(exist_ok=True, mode=0o700)
            fsync_dir(self.incoming)
        name = f"{time.strftime('%Y%m%dT%H%M%S')}-{time.time_ns() % 10**9:09d}-{os.getpid()}-{seq:06d}.dcm"
        target = folder / name
        tmp = folder / f".{name}.{secrets.token_hex(4)}{_PART}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        except OSError:
            os.close(fd)
            tmp.unlink(missing_ok=True)
            raise
        os.close(fd)
        os.replace(tmp, target)
        fsync_dir(folder)
        return target

    def received(self) -> list[Path]:
        """Instances received but not yet de-identified, oldest first (names start with the time)."""
        files = [p for p in self.incoming.glob("*/*.dcm") if not p.name.startswith(".")]
        return sorted(files, key=lambda p: p.name)

    def waiting(self) -> list[Path]:
        """De-identified instances awaiting delivery."""
        return sorted(p for p in self.outbox.rglob("*.dcm") if not p.name.startswith("."))

    def release(self, path: Path) -> None:
        """An instance is fully handled (de-identified and accounted for, or delivered): drop it."""
        path.unlink(missing_ok=True)

    def set_aside(self, path: Path, reason: str) -> Path:
        """The destination refused an instance for good: keep it under failed/ with the reason."""
        target = self.failed / path.relative_to(self.outbox)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, target)
        self._append(self.failed / "reasons.jsonl", {"file": target.relative_to(self.failed).as_posix(),
                                                     "reason": reason, "time": _now()})
        return target

    def journal_delivery(self, path: Path, destination: str) -> None:
        self._append(self.root / "delivered.jsonl", {"file": path.relative_to(self.outbox).as_posix(),
                                                     "destination": destination, "time": _now()})

    def _append(self, path: Path, row: dict[str, str]) -> None:
        with self._mutex, open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(row, sort_keys=True) + "\n")

    def close(self) -> None:
        self._lock_file.close()  # releases the lock


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


__all__ = ["FAILED", "INCOMING", "OUTBOX", "Spool", "folder_name", "fsync_dir", "fsync_file"]
