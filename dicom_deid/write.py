"""Write: the only module that creates output and quarantine files.

Every write is atomic (temp file in the target folder, fsync, os.replace), so
a crash never leaves a half-written file under its final name.
"""

from __future__ import annotations

import json
import os
import secrets
from io import BytesIO
from pathlib import Path

from pydicom import dcmwrite
from pydicom.dataset import Dataset, FileMetaDataset

from dicom_deid.errors import DeidError, QuarantineReason


class WriteError(DeidError):
    reason = QuarantineReason.WRITE_ERROR


def atomic_write_bytes(path: Path, data: bytes, *, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.part")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        try:
            view = memoryview(data)
            while view:
                n = os.write(fd, view)
                view = view[n:]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise WriteError(f"cannot write output ({exc.strerror or exc})", path=path) from None


class DuplicateInstanceError(DeidError):
    """Another input already produced this output path (same SOP Instance UID) with other content."""

    reason = QuarantineReason.DUPLICATE_INSTANCE


def write_output(path: Path, data: bytes) -> bool:
    """Atomically create ``path`` without ever replacing a different file.

    Returns True when written, False when an identical file is already there (a re-run);
    raises DuplicateInstanceError when a different file holds the path (two inputs with
    one SOP Instance UID: the second must not silently replace the first).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.part")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            # No per-file fsync: the rename is atomic (never a half file under the final name);
            # durability comes from the manifest, which is fsynced, and re-runs that compare bytes.
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)  # atomic, and fails rather than replace
            return True
        except FileExistsError:
            if path.read_bytes() == data:
                return False
            raise DuplicateInstanceError(
                "another input has the same SOP Instance UID with different content; kept the first"
            ) from None
    except OSError as exc:
        raise WriteError(f"cannot write output ({exc.strerror or exc})", path=path) from None
    finally:
        tmp.unlink(missing_ok=True)


def encode_dataset(ds: Dataset, meta: FileMetaDataset) -> bytes:
    """Serialise with preamble and file meta, in the transfer syntax named by ``meta``."""
    ds.file_meta = meta
    buf = BytesIO()
    dcmwrite(buf, ds, enforce_file_format=True)
    return buf.getvalue()


def output_relpath(patient: str, study_uid: str, series_uid: str, sop_uid: str) -> str:
    """``<pseudo patient>/<study UID>/<series UID>/<SOP UID>.dcm``: built from pseudonyms only."""
    return f"{patient}/{study_uid}/{series_uid}/{sop_uid}.dcm"


def quarantine(qdir: Path, token: str, data: bytes | None, *, reason: QuarantineReason, message: str,
               source: str) -> Path:
    """Copy an input that could not be fully handled into ``qdir`` with its reason.

    The quarantine folder is input-side (it holds originals, PHI included) and is
    created 0700; it must not be shared with the de-identified output.
    """
    qdir.mkdir(parents=True, exist_ok=True, mode=0o700)
    target = qdir / f"{token}.bin"
    if data is not None:
        atomic_write_bytes(target, data, mode=0o600)
    line = json.dumps({"file": target.name if data is not None else None, "source": source,
                       "reason": reason.value, "message": message}) + "\n"
    with open(qdir / "reasons.jsonl", "a", encoding="utf-8") as fh:
        fh.write(line)
        fh.flush()
        os.fsync(fh.fileno())
    return target


__all__ = ["DuplicateInstanceError", "WriteError", "atomic_write_bytes", "write_output", "encode_dataset", "output_relpath", "quarantine"]
