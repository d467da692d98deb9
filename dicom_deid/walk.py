"""Walk: find every input under a root (folders, DICOMDIR media, zip exports).

Streams ``InputRef`` in a deterministic order (names sorted per folder) and
never parses datasets or holds a list of files: a million-file export costs
one directory listing at a time.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class InputRef:
    """One input file: a path, or a member of a zip archive."""

    ordinal: int
    path: Path
    member: str | None = None

    @property
    def display(self) -> str:
        """Operator-facing name (input side only: it may contain PHI)."""
        return f"{self.path}!{self.member}" if self.member else str(self.path)

    def relative_to(self, root: Path) -> str:
        try:
            rel = self.path.relative_to(root).as_posix()
        except ValueError:
            rel = self.path.as_posix()
        rel = rel if rel != "." else self.path.name
        return f"{rel}!{self.member}" if self.member else rel


def _iter_files(root: Path) -> Iterator[Path]:
    if root.is_file():
        yield root
        return
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError:
            continue
        subdirs = []
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                subdirs.append(Path(entry.path))  # linked folders are not followed: no loops
            elif entry.is_file():  # regular files, and links to them (read, never written)
                yield Path(entry.path)
        stack.extend(reversed(subdirs))


def is_zip(path: Path) -> bool:
    if path.suffix.lower() != ".zip":
        return False
    return zipfile.is_zipfile(path)


def input_root(path: Path) -> Path:
    """The folder to walk: a DICOMDIR file given as input stands for its media folder."""
    if path.is_file() and path.name.upper() == "DICOMDIR":
        return path.parent
    return path


def walk_inputs(root: Path) -> Iterator[InputRef]:
    """Every candidate input under ``root``, zip members expanded, in a stable order.

    DICOMDIR media are walked as folders: every file the index references lies under it, and
    the index itself is reported (and skipped) as such by ``read``.
    """
    ordinal = 0
    for path in _iter_files(root):
        if is_zip(path):
            with zipfile.ZipFile(path) as zf:
                names = sorted(i.filename for i in zf.infolist() if not i.is_dir())
            for name in names:
                yield InputRef(ordinal, path, name)
                ordinal += 1
        else:
            yield InputRef(ordinal, path)
            ordinal += 1


def read_bytes(ref: InputRef) -> bytes:
    """The raw bytes of an input (the only place that opens input files)."""
    if ref.member is None:
        return ref.path.read_bytes()
    with zipfile.ZipFile(ref.path) as zf:
        return zf.read(ref.member)


__all__ = ["InputRef", "input_root", "read_bytes", "walk_inputs"]
