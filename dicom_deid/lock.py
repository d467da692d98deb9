"""An exclusive lock on OUTPUT for the length of a run: two runs never write one output.

The lock is ``OUTPUT/.dicom-deid.lock``, held with ``flock`` (released by the kernel when the
process ends, however it ends) and holding the owner's pid, host and start time for the
message a second run gets.  A lock file whose owner is gone (a killed run) is stale: the next
run reports it and takes over.  On a file system without ``flock`` the file alone decides:
an owner on this host that no longer runs is stale; on another host it is not.
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

from dicom_deid.errors import OutputInUse

LOCK_NAME = ".dicom-deid.lock"
logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LockOwner:
    pid: int
    host: str
    started: str

    def describe(self) -> str:
        return f"pid {self.pid} on host {self.host}, started {self.started}"

    @classmethod
    def parse(cls, text: str) -> LockOwner | None:
        try:
            data = json.loads(text)
            return cls(int(data["pid"]), str(data["host"]), str(data["started"]))
        except (ValueError, KeyError, TypeError):
            return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class OutputLock:
    """``with OutputLock(output) as lock:`` ... ``lock.stale`` names a dead run's leftover lock."""

    def __init__(self, output: Path) -> None:
        self.path = Path(output) / LOCK_NAME
        self.stale: LockOwner | None = None
        self._fd: int | None = None

    def acquire(self) -> Self:
        me = LockOwner(os.getpid(), socket.gethostname(), time.strftime("%Y-%m-%dT%H:%M:%S%z"))
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                previous = self._lock(fd, me)
                if os.fstat(fd).st_ino != self._inode():  # the holder released (unlinked) meanwhile
                    os.close(fd)
                    continue
                if previous is not None:
                    self.stale = previous
                os.ftruncate(fd, 0)
                record = {"pid": me.pid, "host": me.host, "started": me.started}
                os.pwrite(fd, (json.dumps(record) + "\n").encode(), 0)
                os.fsync(fd)
            except BaseException:
                os.close(fd)
                raise
            self._fd = fd
            return self

    def _inode(self) -> int:
        try:
            return os.stat(self.path).st_ino
        except FileNotFoundError:
            return -1

    def _lock(self, fd: int, me: LockOwner) -> LockOwner | None:
        """Take the lock on ``fd``; return the owner a dead run left in it, if any."""
        previous = LockOwner.parse(os.read(fd, 4096).decode("utf-8", "replace"))
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise self._in_use(previous) from None
            # no flock here (some network file systems): the recorded owner decides
            if previous is not None and (previous.host != me.host or _alive(previous.pid)):
                raise self._in_use(previous) from None
        return previous

    def _in_use(self, owner: LockOwner | None) -> OutputInUse:
        who = owner.describe() if owner is not None else "owner unknown"
        return OutputInUse(f"output folder is in use by another dicom-deid run ({who}); wait for it to finish, "
                           "or choose another OUTPUT", path=self.path.parent)

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            self.path.unlink(missing_ok=True)  # while still held: no other run can be between
        finally:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> Self:
        return self.acquire()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()


__all__ = ["LOCK_NAME", "LockOwner", "OutputLock"]
