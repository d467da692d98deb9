"""Mapping-side file creation: exclusive 0600 files, atomic publish, directory fsync."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from dicom_deid.errors import ConfigError


def _inside(path: Path, folder: Path) -> bool:
    target, out = Path(path).resolve(), Path(folder).resolve()
    return target == out or out in target.parents


def _create_exclusive(path: Path) -> BinaryIO:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise ConfigError(
            "file already exists; refusing to overwrite (choose another path)", path=path
        ) from None
    os.fchmod(fd, 0o600)  # whatever the umask
    return os.fdopen(fd, "wb")


def _write_atomic(
    out: Path, fill: Callable[[BinaryIO], None], check: Callable[[Path], object] | None = None
) -> None:
    """Create ``out`` (0600) complete or not at all: temp file, fsync, hard link (never clobbers)."""
    if out.exists():
        raise ConfigError(
            "file already exists; refusing to overwrite (choose another path)", path=out
        )
    tmp = out.with_name(f".{out.name}.{secrets.token_hex(4)}.tmp")
    try:
        with _create_exclusive(tmp) as f:
            fill(f)
            f.flush()
            os.fsync(f.fileno())
        if check is not None:
            check(tmp)
        try:
            os.link(tmp, out)
        except FileExistsError:
            raise ConfigError(
                "file already exists; refusing to overwrite (choose another path)", path=out
            ) from None
        _fsync_dir(out.parent)
    finally:
        tmp.unlink(missing_ok=True)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
