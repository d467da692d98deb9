"""Walk: find every input under a root (folders, DICOMDIR media, zip exports).

Streams ``InputRef`` in a deterministic order (names sorted per folder) and
never parses datasets or holds a list of files: a million-file export costs
one directory listing at a time.
"""

from __future__ import annotations

import logging
import os
import zipfile
import zlib
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import BinaryIO

from dicom_deid.errors import DeidError, NotDicomError, QuarantineReason, UnreadableDicomError

logger = logging.getLogger(__name__)

BROKEN_ZIP = -1  # member_index of an archive that cannot be opened at all
UNLISTABLE = -2  # member_index of a folder that cannot be listed
EMPTY_ZIP = -3  # member_index of an archive without files
NOT_REGULAR = -4  # member_index of a named pipe, socket, device or link to nothing: never opened


@dataclass(frozen=True, slots=True)
class InputRef:
    """One input file: a path, or a member of a zip archive (addressed by index: names can repeat)."""

    ordinal: int
    path: Path
    member: str | None = None
    member_index: int | None = None

    @property
    def display(self) -> str:
        """Operator-facing name (input side only: it may contain PHI)."""
        if self.member_index in (BROKEN_ZIP, EMPTY_ZIP):
            return f"{self.path} (zip archive)"
        if self.member_index == UNLISTABLE:
            return f"{self.path} (folder)"
        if self.member_index == NOT_REGULAR:
            return f"{self.path} (not a regular file)"
        return f"{self.path}!{self.member}" if self.member is not None else str(self.path)

    def relative_to(self, root: Path) -> str:
        path, top = str(self.path), str(root)
        if os.sep == "/" and top != "/" and path.startswith(top) and path[len(top):len(top) + 1] == "/":
            rel = path[len(top) + 1:]  # a walked path is its root's text, "/" and the rest (no pathlib parse)
        else:
            try:
                rel = self.path.relative_to(root).as_posix()
            except ValueError:
                rel = self.path.as_posix()
        rel = rel if rel != "." else self.path.name
        if self.member_index is None:
            return rel
        return f"{rel}!{self.member_index}:{self.member or ''}"


def _inside_any(path: Path, excluded: tuple[Path, ...]) -> bool:
    try:
        real = path.resolve()
    except (OSError, RuntimeError):
        return False
    return any(real == ex or ex in real.parents for ex in excluded)


def _iter_files(root: Path, exclude: tuple[Path, ...] = ()) -> Iterator[tuple[Path, int | None]]:
    """(path, None) for every file, (folder, UNLISTABLE) for a folder that cannot be listed and
    (path, NOT_REGULAR) for an entry that is neither a file nor a folder.

    Folders (and linked files) whose real path is one of ``exclude`` or inside it are not walked:
    a link inside INPUT to the run's own OUTPUT or quarantine must not make outputs inputs."""
    if root.is_file():
        yield root, None
        return
    excluded = tuple(p.resolve() for p in exclude)
    stack = [root]
    seen: set[tuple[int, int]] = set()  # (device, inode) of folders walked: linked folders never loop
    while stack:
        folder = stack.pop()
        try:
            st = folder.stat()
            if (st.st_dev, st.st_ino) in seen:
                continue
            seen.add((st.st_dev, st.st_ino))
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError:
            yield folder, UNLISTABLE  # on record as an input that could not be read, never silently lost
            continue
        subdirs = []
        for entry in entries:
            path = folder / entry.name  # Path(entry.path), without parsing the folder's part again
            if excluded and entry.is_symlink() and _inside_any(path, excluded):
                logger.warning("a link inside INPUT leads into OUTPUT or the quarantine folder: not walked")
            elif entry.is_dir():  # linked folders too (a PACS export may link studies)
                subdirs.append(path)
            elif entry.is_file():  # regular files, and links to them (read, never written)
                yield path, None
            else:
                yield path, NOT_REGULAR  # on record; a named pipe is never opened (it could block the run)
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


def walk_inputs(root: Path, *, exclude: tuple[Path, ...] = ()) -> Iterator[InputRef]:
    """Every candidate input under ``root``, zip members expanded, in a stable order.

    DICOMDIR media are walked as folders: every file the index references lies under it, and
    the index itself is reported (and skipped) as such by ``read``.  An archive that cannot be
    opened is one input (quarantined by ``read``), so its loss is on record.  ``exclude``: folders
    never walked even when a link inside ``root`` leads there (the run's OUTPUT and quarantine).
    """
    ordinal = 0
    for path, special in _iter_files(root, exclude):
        if special is not None:
            yield InputRef(ordinal, path, None, special)
            ordinal += 1
        elif is_zip(path):
            try:
                with zipfile.ZipFile(path) as zf:
                    members = [(i, info.filename) for i, info in enumerate(zf.infolist()) if not info.is_dir()]
            except (zipfile.BadZipFile, OSError, ValueError):
                yield InputRef(ordinal, path, None, BROKEN_ZIP)
                ordinal += 1
                continue
            if not members:
                yield InputRef(ordinal, path, None, EMPTY_ZIP)
                ordinal += 1
            for index, name in sorted(members, key=lambda m: (m[1], m[0])):
                yield InputRef(ordinal, path, name, index)
                ordinal += 1
        else:
            yield InputRef(ordinal, path)
            ordinal += 1


class InputWalk:
    """``walk_inputs(root, exclude=...)`` as a callable, for a run that walks its input more than once.

    With ``replay`` (``--pixels auto`` walks three times: the header survey, the samples, the
    rest), the first complete walk is kept, each plain file as its folder (shared) and name,
    zip members and special inputs as they are (tens of bytes an input), and every later call
    replays it: no folder is listed and no link resolved again, and every walk gives the same
    inputs with the same ordinals even when INPUT changes meanwhile.  Without ``replay`` each
    call walks again, one listing at a time.
    """

    def __init__(self, root: Path, *, exclude: tuple[Path, ...] = (), replay: bool = False) -> None:
        self.root = root
        self.exclude = exclude
        self.replay = replay
        self._kept: _KeptWalk | None = None

    def __call__(self) -> Iterator[InputRef]:
        if self._kept is not None:
            return iter(self._kept)
        refs = walk_inputs(self.root, exclude=self.exclude)
        return self._keep(refs) if self.replay else refs

    def _keep(self, refs: Iterable[InputRef]) -> Iterator[InputRef]:
        kept = _KeptWalk()
        for ref in refs:
            kept.add(ref)
            yield ref
        if kept.complete:  # only a walk iterated to its end is replayed
            self._kept = kept


class _KeptWalk:
    """The inputs of one walk, compactly: ordinals count from 0, in walk order."""

    def __init__(self) -> None:
        self._folders: dict[str, int] = {}
        self._folder_of = array("I")
        self._names: list[str] = []
        self._others: dict[int, InputRef] = {}  # zip members, special inputs
        self.complete = True

    def add(self, ref: InputRef) -> None:
        if ref.ordinal != len(self._names):
            self.complete = False  # not a walk from 0: never replayed
            return
        if ref.member is None and ref.member_index is None:
            text = str(ref.path)
            cut = text.rfind(os.sep) + 1  # the folder keeps its separator: folder + name is the path
            folder, name = text[:cut], text[cut:]
            self._folder_of.append(self._folders.setdefault(folder, len(self._folders)))
            self._names.append(name)
        else:
            self._others[ref.ordinal] = ref
            self._folder_of.append(0)
            self._names.append("")

    def __iter__(self) -> Iterator[InputRef]:
        folders = list(self._folders)
        others = self._others
        for ordinal, (folder, name) in enumerate(zip(self._folder_of, self._names, strict=True)):
            other = others.get(ordinal) if others else None
            yield other if other is not None else InputRef(ordinal, Path(folders[folder] + name))


def file_bytes(path: Path | str) -> bytes:
    """The whole of a file, in 4 system calls where ``Path.read_bytes`` makes 9 (open, fstat, one
    read of its size and one byte more, which a short read shows to be all of it, close)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0))
    try:
        size = os.fstat(fd).st_size
        chunks: list[bytes] = []
        got, want = 0, size + 1
        while True:
            chunk = os.read(fd, want)
            if not chunk:
                break
            chunks.append(chunk)
            got += len(chunk)
            if got > size:  # the file grew since fstat: read on to its end
                want = 1 << 20
            elif len(chunk) < want and got == size:
                break  # a short read that reached the size: the end
            else:
                want = size + 1 - got  # a large file read in parts
    finally:
        os.close(fd)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def read_bytes(ref: InputRef) -> bytes:
    """The raw bytes of an input (with ``open_input``, the only place that opens input files)."""
    if ref.member_index is None:
        return file_bytes(ref.path)
    if ref.member_index == EMPTY_ZIP:
        raise NotDicomError("zip archive without files", path=ref.display)
    if ref.member_index == NOT_REGULAR:
        raise NotDicomError("not a regular file (a named pipe, socket, device or link to nothing): not read",
                            path=ref.display)
    if ref.member_index == UNLISTABLE:
        raise UnreadableDicomError("folder cannot be listed (permissions?): its files were not read",
                                   path=ref.display)
    if ref.member_index == BROKEN_ZIP:
        raise UnreadableDicomError("corrupt zip archive: it cannot be opened, none of its members was read",
                                   path=ref.display, reason=QuarantineReason.UNREADABLE)
    try:
        with zipfile.ZipFile(ref.path) as zf:
            return zf.read(zf.infolist()[ref.member_index])
    except (zipfile.BadZipFile, RuntimeError, NotImplementedError, zlib.error, EOFError, IndexError) as exc:
        raise UnreadableDicomError(f"cannot read zip member ({exc.__class__.__name__}: {exc})"[:200],
                                   path=ref.display) from None


def open_input(ref: InputRef) -> BinaryIO:
    """An input as a binary file object, for reading only its first bytes (the header survey):
    the file itself, or a zip member's bytes (``read_bytes``)."""
    if ref.member_index is None:
        return ref.path.open("rb")
    return BytesIO(read_bytes(ref))


@dataclass(frozen=True, slots=True)
class InputBytes:
    """One input as the per-file boundary takes it: its bytes plus an opaque id.

    ``name`` is stable across runs (relative to the input root, or a spool file name): it is keyed
    into the manifest's ``input_id`` and sealed as the source path.  ``display`` names the input
    to the operator (input side: it may name the patient).  ``error`` says why the bytes could
    not be read; ``data`` is then what the quarantine keeps (a broken archive whole), if anything.
    """

    ordinal: int
    name: str
    display: str
    data: bytes | None
    error: DeidError | None = None


def load_input(ref: InputRef, root: Path) -> InputBytes:
    """Read ``ref``'s bytes for the per-file boundary; never raises for a bad input."""
    name, display = ref.relative_to(root), ref.display
    try:
        return InputBytes(ref.ordinal, name, display, read_bytes(ref))
    except DeidError as exc:
        kept = None
        if ref.member_index == BROKEN_ZIP:
            try:
                kept = ref.path.read_bytes()
            except OSError:
                kept = None
        return InputBytes(ref.ordinal, name, display, kept, exc)
    except OSError as exc:
        error = UnreadableDicomError(f"cannot read file ({exc.strerror or exc})", path=display)
        return InputBytes(ref.ordinal, name, display, None, error)


__all__ = ["BROKEN_ZIP", "EMPTY_ZIP", "NOT_REGULAR", "UNLISTABLE", "InputBytes", "InputRef", "InputWalk", "file_bytes",
           "input_root", "load_input", "open_input", "read_bytes", "walk_inputs"]
