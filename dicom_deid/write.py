"""Write: the only module that creates output and quarantine files.

Every write is atomic (an unnamed or temporary file in the target folder, given its name
once whole), so a crash never leaves a half-written file under its final name.  Keys and
reports are fsynced with their folder as they are written; a batch run's outputs (and, on
Linux, its quarantine copies) are made durable a batch at a time (``make_durable``), before
their manifest rows.
"""

from __future__ import annotations

import errno
import json
import os
import re
import secrets
import struct
import sys
import zlib
from collections.abc import Callable, Mapping, Sequence
from io import BytesIO
from pathlib import Path

from pydicom import dcmwrite
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.errors import BytesLengthException
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_data_element, write_file_meta_info
from pydicom.valuerep import VR

from dicom_deid.element_bytes import (
    EncodeMemo,
    ascii_text_ok,
    encode_element,
    encode_meta,
    item_encodings,
)
from dicom_deid.errors import DeidError, QuarantineReason
from dicom_deid.read import dataset_encoding, keyword_attribute

#: one part of a file written: bytes, or a view of an input's bytes (the byte path splices large
#: copied values as views: ``write_output`` writes either)
Chunk = bytes | memoryview


class WriteError(DeidError):
    reason = QuarantineReason.WRITE_ERROR


class NoSpaceError(WriteError):
    """The file system is (nearly) full: not this input's fault; the run must stop."""


_NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


def _write_error(exc: OSError, path: Path) -> WriteError:
    cls = NoSpaceError if exc.errno in _NO_SPACE else WriteError
    return cls(f"cannot write output ({exc.strerror or exc})", path=path)


def free_bytes(folder: Path) -> int | None:
    """Bytes available to this user on ``folder``'s file system (None if it cannot be told)."""
    try:
        st = os.statvfs(folder)
    except OSError:
        return None
    return st.f_bavail * st.f_frsize


def default_keep_free(folder: Path) -> int:
    """Space a run keeps free for its manifest and summary: 2% of the file system, 512 KiB to 16 MiB
    (rows of up to 4 KB, for the results in flight and those waiting for their links to be sealed)."""
    try:
        st = os.statvfs(folder)
    except OSError:
        return 0
    return max(512 << 10, min(16 << 20, st.f_blocks * st.f_frsize // 50))


def check_free_space(folder: Path, keep_free: int, need: int) -> None:
    """Raise NoSpaceError unless ``need`` bytes fit on ``folder``'s file system with ``keep_free`` to spare."""
    if keep_free <= 0:
        return
    free = free_bytes(folder)
    if free is not None and free < keep_free + need:
        raise NoSpaceError(f"file system nearly full ({free // 1024} KiB free, {keep_free // 1024} KiB kept "
                           "for the manifest)", path=folder)


class FreeSpace:
    """OUTPUT's free space as one process of a run sees it: asked of the file system (statvfs)
    only when what this process wrote since it last asked could have brought it near the
    reserve, not before every file.

    After each answer the process may write a budget without asking again: an eighth of the room
    left above ``keep_free`` (other programs may use the rest), at most ``MAX_BUDGET``; so the
    closer the file system is to the reserve, the more often it asks, and within the last
    ``8 * need`` bytes above it, before every file (as :func:`check_free_space`).  A copy sent
    to another process (pickled) keeps no budget: it asks at its first file.
    """

    MAX_BUDGET = 256 << 20

    __slots__ = ("_budget", "folder", "keep_free")

    def __init__(self, folder: Path | str, keep_free: int) -> None:
        self.folder = os.fspath(folder)
        self.keep_free = keep_free
        self._budget = 0  # bytes this process may still write before it asks again

    def __getstate__(self) -> tuple[str, int]:
        return self.folder, self.keep_free

    def __setstate__(self, state: tuple[str, int]) -> None:
        self.folder, self.keep_free = state
        self._budget = 0

    def check(self, need: int) -> None:
        """Raise NoSpaceError unless ``need`` bytes fit with ``keep_free`` to spare; count them."""
        if self.keep_free <= 0:
            return
        if need > self._budget:
            try:
                st = os.statvfs(self.folder)
            except OSError:  # cannot be told: ask again at the next file, never refuse
                return
            free = st.f_bavail * st.f_frsize
            if free < self.keep_free + need:
                raise NoSpaceError(f"file system nearly full ({free // 1024} KiB free, {self.keep_free // 1024} "
                                   "KiB kept for the manifest)", path=Path(self.folder))
            self._budget = min(self.MAX_BUDGET, (free - self.keep_free) // 8)
        self._budget -= need


def atomic_write_bytes(path: Path, data: bytes, *, mode: int = 0o644, sync: bool = True) -> None:
    """Write ``path`` whole or not at all (temp file, rename); ``sync``: fsync it, then its folder
    (False: the caller makes it durable later, e.g. a run's ``make_durable`` per batch)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.part")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        try:
            view = memoryview(data)
            while view:
                n = os.write(fd, view)
                view = view[n:]
            if sync:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        if sync:
            sync_folder(path.parent)  # the rename itself survives a crash (its folder's entry is on disk)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise _write_error(exc, path) from None


#: what fsync of a folder answers where the file system or platform does not do it (nothing to make durable)
_NO_FOLDER_SYNC = frozenset({errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EBADF, errno.EACCES, errno.EPERM,
                             errno.EISDIR})


def sync_folder(folder: Path) -> None:
    """fsync ``folder`` (POSIX), so a file renamed into it is still there after a crash; a no-op
    where folders cannot be opened or synced (Windows, some network file systems).  Costs a
    journal commit (about 0.07 ms CPU and 0.2 ms here): for rare files (keys, quarantine copies,
    reports), not for every output."""
    if os.name != "posix":
        return
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as exc:
        if exc.errno in _NO_FOLDER_SYNC:
            return
        raise
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in _NO_FOLDER_SYNC:
            raise
    finally:
        os.close(fd)


def make_durable(folder: Path, written: Sequence[str]) -> None:
    """Make the files ``written`` (paths relative to ``folder``) and their names durable, so a
    crash cannot lose a file a manifest row is about to claim.  Called once per batch of rows.

    Linux: one ``syncfs`` of ``folder``'s file system (data, inodes and folder entries of every
    file of the batch in one flush; a flush per file costs a disk round trip each, about 6 ms
    on a virtual disk).  Elsewhere: fsync of each file, then of each folder on its path below
    ``folder`` and of ``folder`` itself.  Raises OSError when the file system cannot make them
    durable (the rows must then not be written).
    """
    if not written:
        return
    syncfs = _syncfs()
    if syncfs is not None:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            if syncfs(fd) != 0:
                import ctypes

                err = ctypes.get_errno()
                raise OSError(err, os.strerror(err))
        finally:
            os.close(fd)
        return
    root = os.fspath(folder)
    folders: set[str] = {root}
    for rel in written:
        path = os.path.join(root, rel)
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        parent = os.path.dirname(rel)
        while parent:
            folders.add(os.path.join(root, parent))
            parent = os.path.dirname(parent)
    for name in sorted(folders, key=len, reverse=True):  # deepest first: a folder's entry before its parent's
        sync_folder(Path(name))


def syncs_file_systems() -> bool:
    """Whether :func:`make_durable` makes a whole file system durable in one call here (syncfs)."""
    return _syncfs() is not None


_SYNCFS: list[object] = []  # [the C library's syncfs, or None]: looked up once per process


def _syncfs() -> Callable[[int], int] | None:
    """syncfs(2) from the C library (Linux, glibc or musl), or None where there is none."""
    if not _SYNCFS:
        found: object = None
        if sys.platform.startswith("linux"):
            import ctypes

            try:
                found = ctypes.CDLL(None, use_errno=True).syncfs
                found.argtypes = [ctypes.c_int]
                found.restype = ctypes.c_int
            except (OSError, AttributeError):
                found = None
        _SYNCFS.append(found)
    return _SYNCFS[0]  # type: ignore[return-value]


class DuplicateInstanceError(DeidError):
    """Another input already produced this output path (same SOP Instance UID) with other content."""

    reason = QuarantineReason.DUPLICATE_INSTANCE


def write_output(path: Path | str, data: bytes | Sequence[Chunk], *, replace: bool = False) -> bool:
    """Atomically create ``path`` without ever replacing a different file.

    ``data``: the file's bytes, or its consecutive parts (``encode_parts``), written as they are
    (gathered by the kernel: no joined copy of a large file).
    Returns True when written, False when an identical file is already there (a re-run);
    raises DuplicateInstanceError when a different file holds the path (two inputs with
    one SOP Instance UID: the second must not silently replace the first).

    Where the file system takes it (Linux: ext4, XFS, btrfs, tmpfs), the file is written
    unnamed (``O_TMPFILE``) and given its name by one ``linkat`` once whole: never a half file
    under the final name, nothing left behind by a crash, no temporary name to draw or remove.
    Elsewhere (and for ``replace``): a named temporary file, linked (or renamed) into place.
    """
    target = os.fspath(path)  # str paths below: pathlib's parsing costs more than each system call
    if not replace and _TMPFILE is not None:
        written = _write_unnamed(target, data)
        if written is not None:
            return written
    return _write_named(target, data, replace)


#: ``os.O_TMPFILE`` where the platform has it; set to None in this process once a file system or
#: a missing /proc refuses it (then every write takes the named temporary file)
_TMPFILE: int | None = getattr(os, "O_TMPFILE", None)
#: what open(O_TMPFILE) or its linkat answer where unnamed files cannot be used
_NO_TMPFILE = frozenset({errno.EOPNOTSUPP, errno.ENOTSUP, errno.EISDIR, errno.EINVAL, errno.ENOSYS, errno.EXDEV})


def _write_unnamed(target: str, data: bytes | Sequence[Chunk]) -> bool | None:
    """``write_output`` by an unnamed file linked into place; None where unnamed files cannot be
    used here (the caller writes a named temporary file instead)."""
    global _TMPFILE
    assert _TMPFILE is not None
    folder = os.path.dirname(target) or "."
    try:
        fd = os.open(folder, _TMPFILE | os.O_WRONLY, 0o644)
    except (FileNotFoundError, NotADirectoryError):  # a new folder (or no folder): made first, as always,
        Path(folder).mkdir(parents=True, exist_ok=True)  # its errors raised as they are
        try:
            fd = os.open(folder, _TMPFILE | os.O_WRONLY, 0o644)
        except OSError as exc:
            if exc.errno in _NO_TMPFILE:
                _TMPFILE = None
                return None
            raise _write_error(exc, Path(target)) from None
    except OSError as exc:
        if exc.errno in _NO_TMPFILE:
            _TMPFILE = None
            return None
        raise _write_error(exc, Path(target)) from None
    try:
        _write_all(fd, data)
        # No fsync per file: the name is given atomically (never a half file under it), and the
        # run makes a batch of files durable before their manifest rows (``make_durable``).
        try:
            # linkat(AT_SYMLINK_FOLLOW) of the descriptor's /proc name (``src_dir_fd``, ignored for an
            # absolute name, makes os.link call linkat, which follows it): fails rather than replace
            os.link(f"/proc/self/fd/{fd}", target, src_dir_fd=fd)
            return True
        except FileExistsError:
            return _same_file(target, data)
        except OSError as exc:
            if exc.errno in _NO_TMPFILE or (exc.errno == errno.ENOENT and not os.path.isdir("/proc/self/fd")):
                _TMPFILE = None  # no /proc, or a file system that cannot link an unnamed file
                return None
            raise
    except OSError as exc:
        raise _write_error(exc, Path(target)) from None
    finally:
        os.close(fd)


def _write_named(target: str, data: bytes | Sequence[Chunk], replace: bool) -> bool:
    """``write_output`` by a named temporary file in the target folder, linked (or, for
    ``replace``, renamed) into place, then removed."""
    folder, name = os.path.split(target)
    tmp = os.path.join(folder, f".{name}.{secrets.token_hex(6)}.part")
    try:
        fd: int | None = os.open(tmp, _CREATE, 0o644)
    except (FileNotFoundError, NotADirectoryError):  # a new folder (or no folder): made first, as always,
        fd = None  # its errors raised as they are
    except OSError as exc:
        raise _write_error(exc, Path(target)) from None
    if fd is None:
        Path(folder).mkdir(parents=True, exist_ok=True)
    try:
        if fd is None:
            fd = os.open(tmp, _CREATE, 0o644)
        try:
            _write_all(fd, data)
        finally:
            os.close(fd)
        if replace:  # --force: this run's content wins
            os.replace(tmp, target)
            return True
        try:
            os.link(tmp, target)  # atomic, and fails rather than replace
            return True
        except FileExistsError:
            return _same_file(target, data)
    except OSError as exc:
        raise _write_error(exc, Path(target)) from None
    finally:
        _unlink_quietly(tmp)


def _write_all(fd: int, data: bytes | Sequence[Chunk]) -> None:
    if isinstance(data, bytes):
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    else:
        _write_parts(fd, data)


def _same_file(target: str, data: bytes | Sequence[Chunk]) -> bool:
    """False when ``target`` already holds ``data`` (a re-run); DuplicateInstanceError otherwise.

    A file of another size holds other bytes: it is not read (nor ``data`` joined) to tell."""
    with open(target, "rb") as fh:
        size = len(data) if isinstance(data, bytes) else sum(memoryview(c).nbytes for c in data)  # bytes, whatever a view's format
        if os.fstat(fh.fileno()).st_size == size and fh.read() == (data if isinstance(data, bytes)
                                                                    else b"".join(data)):
            return False
    raise DuplicateInstanceError(
        "another input has the same SOP Instance UID with different content; kept the first"
    ) from None


_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL
_IOV_MAX = 1024  # buffers one writev may take (POSIX guarantees 16; Linux and the BSDs take 1024)


def _write_parts(fd: int, parts: Sequence[Chunk]) -> None:
    """Write ``parts`` in order, every byte: by ``os.writev`` (the kernel gathers the buffers)
    a batch at a time; a short write's rest (or all, where there is no writev) by ``os.write``."""
    writev = getattr(os, "writev", None)
    for start in range(0, len(parts), _IOV_MAX):
        batch = parts[start:start + _IOV_MAX]
        written = writev(fd, batch) if writev is not None else 0
        if written < sum(map(len, batch)):
            view = memoryview(b"".join(batch))[written:]
            while view:
                view = view[os.write(fd, view):]


def _unlink_quietly(path: str) -> None:
    """Remove a temporary file if it is still there (``Path.unlink(missing_ok=True)``)."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


_LONG_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"})
_DEFLATED = "1.2.840.10008.1.2.1.99"


class BytePathMisuse(RuntimeError):
    """Copies passed for an output encoding the byte path does not take (a programming error)."""


class UnencodableDataset(DeidError):
    """The de-identified dataset cannot be written back: an element kept from a corrupt input holds
    an invalid value representation or value.  Never written as it is: the input is quarantined."""

    reason = QuarantineReason.UNREADABLE


#: What pydicom's writer raises on an element it cannot encode (unknown VR, value not of its VR;
#: a value its VR cannot pack comes back as OSError).  Encoding goes to memory: no real I/O here.
_ENCODE_ERRORS = (NotImplementedError, ValueError, TypeError, UnicodeError, struct.error, OverflowError,
                  LookupError, AttributeError, OSError, BytesLengthException)
_VALID_VRS = frozenset(str(vr.value) for vr in VR if len(str(vr.value)) == 2)


def encode_dataset(ds: Dataset, meta: FileMetaDataset, copies: Mapping[int, Chunk] | None = None, *,
                   memo: EncodeMemo | None = None) -> bytes:
    """The file's bytes: ``encode_parts`` joined."""
    return b"".join(encode_parts(ds, meta, copies, memo=memo))


def encode_parts(ds: Dataset, meta: FileMetaDataset, copies: Mapping[int, Chunk] | None = None, *,
                 memo: EncodeMemo | None = None) -> list[Chunk]:
    """Serialise with preamble and file meta, in the transfer syntax named by ``meta``.

    Little-endian output whose encoding matches what was read takes a fast path: unchanged
    (raw) top-level elements are copied as the bytes read, pixel data included, and only
    changed elements go through pydicom's element writer.  Anything else uses ``dcmwrite``.
    ``copies`` (the byte path, bytepath.py): top-level elements not in ``ds`` that are written as
    the given input bytes, in tag order among the others; only with a little-endian encoding
    that matches what was read (else ValueError: the caller chose the byte path wrongly).
    Raises UnencodableDataset when an element cannot be written as valid DICOM.  ``memo`` (the
    byte path): the run's memo of encoded elements of new sequence items (``Engine.encode_memo``).

    The file comes as consecutive parts (the byte path's elements, each as read or encoded; one
    part otherwise): ``write_output`` writes them as they are, without joining them first.
    """
    try:
        return _encode(ds, meta, copies or {}, memo)
    except _ENCODE_ERRORS as exc:
        tag = _failing_tag(exc)
        where = f"element ({tag >> 16:04X},{tag & 0xFFFF:04X})" if tag is not None else "an element"
        raise UnencodableDataset(f"corrupt DICOM file: {where} cannot be written back as valid DICOM "
                                 f"({exc.__class__.__name__})") from None


def _failing_tag(exc: BaseException) -> int | None:
    """The innermost element pydicom's writer (or the raw copy) was writing when it failed."""
    tag = getattr(exc, "dicom_tag", None)
    tb = exc.__traceback__
    while tb is not None:
        elem = tb.tb_frame.f_locals.get("elem")
        found = getattr(elem, "tag", None)
        if isinstance(found, int):
            tag = found
        tb = tb.tb_next
    return tag


def _encode(ds: Dataset, meta: FileMetaDataset, copies: Mapping[int, Chunk], memo: EncodeMemo | None) -> list[Chunk]:
    ds.file_meta = meta
    syntax = keyword_attribute(meta, "TransferSyntaxUID")
    implicit, little = dataset_encoding(syntax)
    same_encoding = (ds.original_encoding == (implicit, little)
                     and ds.original_character_set == ds._character_set)
    if copies and (not ds._dict.keys().isdisjoint(copies) or not little or not same_encoding or implicit or syntax == _DEFLATED):
        raise BytePathMisuse("byte path chosen for an encoding it does not take")
    if copies:
        return _encode_spliced(ds, meta, copies, memo)
    if not little or not same_encoding:
        buf = BytesIO()
        dcmwrite(buf, ds, enforce_file_format=True)
        return [buf.getvalue()]
    head = DicomBytesIO()
    head.is_little_endian, head.is_implicit_VR = True, False
    head.write(b"\x00" * 128 + b"DICM")
    write_file_meta_info(head, meta, enforce_standard=True)
    body = DicomBytesIO()
    body.is_little_endian, body.is_implicit_VR = True, implicit
    _write_body(body, ds, implicit)
    data = body.getvalue()
    if syntax == _DEFLATED:
        comp = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -zlib.MAX_WBITS)
        data = comp.compress(data) + comp.flush()
        if len(data) % 2:
            data += b"\x00"  # even length, as pydicom writes it
    return [head.getvalue(), data]


def _write_body(fp: DicomBytesIO, ds: Dataset, implicit: bool) -> None:
    encodings = ds.get("SpecificCharacterSet", None)
    pack_tag = struct.Struct("<HH").pack
    for tag in sorted(ds._dict):
        if tag.element == 0 and tag.group > 6:
            continue  # retired group length
        elem = ds._dict[tag]
        raw_vr = getattr(elem, "VR", None)
        if (isinstance(elem, RawDataElement) and isinstance(elem.value, bytes)
                and (implicit or raw_vr) and len(elem.value) == elem.length):
            if not implicit and str(raw_vr) not in _VALID_VRS:
                raise NotImplementedError("unknown value representation")  # reported with its tag
            fp.write(pack_tag(tag.group, tag.element))
            if implicit:
                fp.write(struct.pack("<I", elem.length))
            elif str(raw_vr) in _LONG_VRS:
                fp.write(str(raw_vr).encode("ascii") + b"\x00\x00" + struct.pack("<I", elem.length))
            else:
                fp.write(str(raw_vr).encode("ascii") + struct.pack("<H", elem.length))
            fp.write(elem.value)
        else:
            write_data_element(fp, ds[tag], encodings)


def _encode_spliced(ds: Dataset, meta: FileMetaDataset, copies: Mapping[int, Chunk],
                    memo: EncodeMemo | None) -> list[Chunk]:
    """The byte path (bytepath.py): what ``_write_body`` writes for ``ds`` plus ``copies``, the
    copied elements as their input bytes; the elements built by the de-identification (and the
    file meta group) encoded by element_bytes.py where it takes them, else by pydicom."""
    encodings = ds.get("SpecificCharacterSet", None)
    text_ok = ascii_text_ok(encodings)
    inner = item_encodings(encodings)  # what pydicom's writer hands down inside every sequence
    chunks: list[Chunk] = [b"\x00" * 128 + b"DICM", encode_meta(meta) or _pydicom_meta(meta)]
    elements = {int(tag): elem for tag, elem in ds._dict.items()}  # int keys: a BaseTag compares in Python
    for tag in sorted({*elements, *copies}):
        copied = copies.get(tag)
        if copied is not None:
            chunks.append(copied)
            continue
        if not tag & 0xFFFF and tag >> 16 > 6:
            continue  # retired group length
        elem = elements[tag]
        raw_vr = getattr(elem, "VR", None)
        if (isinstance(elem, RawDataElement) and isinstance(elem.value, bytes) and raw_vr
                and len(elem.value) == elem.length):
            if str(raw_vr) not in _VALID_VRS:
                raise NotImplementedError("unknown value representation")  # reported with its tag
            head = (_HEAD_LONG(tag >> 16, tag & 0xFFFF, str(raw_vr).encode("ascii"), 0, elem.length)
                    if str(raw_vr) in _LONG_VRS else
                    _HEAD_SHORT(tag >> 16, tag & 0xFFFF, str(raw_vr).encode("ascii"), elem.length))
            chunks += (head, elem.value)
            continue
        chunk = encode_element(elem, text_ok, inner, memo) if type(elem) is DataElement else None
        if chunk is None:
            fp = DicomBytesIO()
            fp.is_little_endian, fp.is_implicit_VR = True, False
            write_data_element(fp, ds[tag], encodings)
            chunk = fp.getvalue()
        chunks.append(chunk)
    return chunks


_HEAD_SHORT = struct.Struct("<HH2sH").pack
_HEAD_LONG = struct.Struct("<HH2sHL").pack


def _pydicom_meta(meta: FileMetaDataset) -> bytes:
    fp = DicomBytesIO()
    fp.is_little_endian, fp.is_implicit_VR = True, False
    write_file_meta_info(fp, meta, enforce_standard=True)
    return fp.getvalue()


class UnsafeOutputName(DeidError):
    """A value used to name the output (pseudonym or UID) is not a plain name: never a path."""

    reason = QuarantineReason.INVALID_IDENTIFIER


_NAME = re.compile(r"[0-9A-Za-z][0-9A-Za-z._-]{0,127}")


def output_relpath(patient: str, study_uid: str, series_uid: str, sop_uid: str) -> str:
    """``<pseudo patient>/<study UID>/<series UID>/<SOP UID>.dcm``: built from pseudonyms only.

    Each part must be a plain name (a retained or overridden value could hold ``/`` or ``..``):
    nothing is ever written outside OUTPUT.
    """
    parts = (patient, study_uid, series_uid, sop_uid)
    for what, part in zip(("PatientID", "StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"), parts,
                          strict=True):
        if not _NAME.fullmatch(part) or ".." in part:
            raise UnsafeOutputName(f"{what} cannot name an output file or folder (empty or not a plain name)")
    return f"{patient}/{study_uid}/{series_uid}/{sop_uid}.dcm"


def quarantine(qdir: Path, token: str, data: bytes | None, *, reason: QuarantineReason, message: str,
               source: str, input_id: str | None = None, sync: bool = True) -> Path:
    """Copy an input that could not be fully handled into ``qdir`` with its reason.

    The quarantine folder is input-side (it holds originals, PHI included) and is
    created 0700; it must not be shared with the de-identified output.  Raises
    WriteError (NoSpaceError when full): a quarantine that cannot be written stops the run.
    ``sync``: the copy, its folder entry and the reason line are fsynced here (three flushes);
    False where the run makes ``qdir`` durable once per batch, before the rows (``make_durable``).
    """
    try:
        qdir.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise _write_error(exc, qdir) from None
    target = qdir / f"{token}.bin"
    if data is not None:
        atomic_write_bytes(target, data, mode=0o600, sync=sync)
    entry = {"file": target.name if data is not None else None, "source": source, "reason": reason.value,
             "message": message}
    if input_id is not None:
        entry["input_id"] = input_id
    _append_reason(qdir, entry, sync=sync)
    return target


def _append_reason(qdir: Path, entry: Mapping[str, object], *, sync: bool = True) -> None:
    line = (json.dumps(entry) + "\n").encode("utf-8")
    path = qdir / REASONS_NAME
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    except OSError as exc:
        raise _write_error(exc, path) from None
    try:
        start = os.fstat(fd).st_size
        try:
            view = memoryview(line)
            while view:
                view = view[os.write(fd, view):]
            if sync:
                os.fsync(fd)
        except OSError as exc:
            os.ftruncate(fd, start)  # whole lines only
            raise _write_error(exc, path) from None
    finally:
        os.close(fd)


REASONS_NAME = "reasons.jsonl"


def unresolved_write_errors(qdir: Path) -> dict[str, str]:
    """input_id -> quarantine file of every ``write_error`` entry no later run resolved.

    A write error (disk full, I/O error) is the environment's fault, not the input's: once a
    later run writes that input, :func:`resolve_write_error` marks the entry resolved.
    """
    path = qdir / REASONS_NAME
    pending: dict[str, str] = {}
    if not path.is_file():
        return pending
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if not isinstance(entry, dict):
            continue
        name = str(entry.get("file") or "")
        token = str(entry.get("input_id") or (name[:-4].split("-", 1)[-1] if name.endswith(".bin") else ""))
        if not token:
            continue
        if entry.get("resolved"):
            pending.pop(token, None)
        elif entry.get("reason") == QuarantineReason.WRITE_ERROR.value:
            pending[token] = name
    return pending


def resolve_write_error(qdir: Path, input_id: str, file: str, *, run_id: str) -> None:
    """Record that a later run wrote this input, and remove its now needless copy (an original)."""
    _append_reason(qdir, {"file": file or None, "input_id": input_id, "reason": QuarantineReason.WRITE_ERROR.value,
                          "resolved": True, "message": f"written by run {run_id}"})
    if file and "/" not in file:
        (qdir / file).unlink(missing_ok=True)


def remove_stale_parts(folder: Path) -> int:
    """Remove temporary ``.*.part`` files a killed run left (call only while holding the lock)."""
    removed = 0
    if not folder.is_dir():
        return removed
    for dirpath, _, names in os.walk(folder):
        for name in names:
            if name.startswith(".") and name.endswith(".part"):
                Path(dirpath, name).unlink(missing_ok=True)
                removed += 1
    return removed


__all__ = ["REASONS_NAME", "BytePathMisuse", "Chunk", "DuplicateInstanceError", "FreeSpace", "NoSpaceError", "UnencodableDataset",
           "UnsafeOutputName", "WriteError", "atomic_write_bytes", "check_free_space", "default_keep_free", "encode_dataset", "encode_parts", "free_bytes", "make_durable",
           "output_relpath", "quarantine", "remove_stale_parts", "resolve_write_error", "sync_folder", "syncs_file_systems",
           "unresolved_write_errors", "write_output"]
