"""A ``dicom-deid run`` subprocess that is certain to be mid-run when a test acts: no sleeps.

The input holds a folder of truncated files (each prints one "quarantined:" line on stderr).
The run's stderr is a one-page pipe that the test stops reading after the first such line, so
the run blocks in ``write`` once the pipe is full and cannot finish before the test kills,
interrupts or races it.  ``BAD_FILES`` lines are far more than the pipe and the few reads hold.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from pathlib import Path
from typing import Self

from tests.conftest import TEST_FILES

BAD_FILES = 120
PIPE_BYTES = 4096


def add_bad_folder(root: Path, after: str | None = None) -> list[Path]:
    """``BAD_FILES`` truncated DICOM files in a folder walked right after folder ``after``."""
    first = after or min(p.name for p in root.iterdir() if p.is_dir())
    folder = root / f"{first}~bad"
    folder.mkdir()
    cut = (TEST_FILES / "CT_small.dcm").read_bytes()[:2000]
    paths = []
    for i in range(BAD_FILES):
        path = folder / f"cut{i:04d}.dcm"
        path.write_bytes(cut)
        paths.append(path)
    return paths


# ``python -m dicom_deid`` with Ctrl-C as in a terminal: a suite started in the background of a shell
# without job control inherits SIGINT ignored, and so would every run it starts.
_INTERRUPTIBLE = (
    "import runpy, signal, sys; signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT}); "
    "signal.signal(signal.SIGINT, signal.default_int_handler); sys.argv[0] = 'dicom-deid'; "
    "runpy.run_module('dicom_deid', run_name='__main__', alter_sys=True)"
)


class BlockedRun:
    """``with BlockedRun(args, env) as run:`` ... ``run.proc`` is blocked mid-run."""

    def __init__(self, args: list[str], env: dict[str, str] | None = None, stdout: Path | None = None) -> None:
        read_fd, write_fd = os.pipe()
        fcntl.fcntl(write_fd, fcntl.F_SETPIPE_SZ, PIPE_BYTES)  # set before the child can write
        out = open(stdout, "wb") if stdout is not None else subprocess.DEVNULL  # noqa: SIM115
        try:
            self.proc = subprocess.Popen([sys.executable, "-c", _INTERRUPTIBLE, "run", *args], stderr=write_fd,
                                         stdout=out, env=env)
        finally:
            os.close(write_fd)
            if stdout is not None:
                out.close()  # type: ignore[union-attr]
        self._fd = read_fd
        self.seen = b""

    def wait_until_blocked(self) -> None:
        """Read stderr until the first quarantine line, then stop reading."""
        while b"quarantined:" not in self.seen:
            chunk = os.read(self._fd, PIPE_BYTES)
            if not chunk:
                raise AssertionError(f"run ended before its first quarantine line: {self.seen[-2000:]!r}")
            self.seen += chunk
        assert self.proc.poll() is None, "the run finished although its stderr was not read"

    def drain(self) -> str:
        """Read the rest of stderr until the run ends (after a signal); return all of it."""
        while True:
            chunk = os.read(self._fd, 65536)
            if not chunk:
                break
            self.seen += chunk
        self.proc.wait()
        return self.seen.decode("utf-8", "replace")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.drain()
        os.close(self._fd)

    def __enter__(self) -> Self:
        self.wait_until_blocked()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = ["BAD_FILES", "BlockedRun", "add_bad_folder"]
