"""Atomic writes (write.py): the folder of a renamed file is synced (issue 16's durability gap),
and ``write_output`` makes a new folder only when the first try to create in it fails."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest

from dicom_deid.write import (
    DuplicateInstanceError,
    NoSpaceError,
    atomic_write_bytes,
    sync_folder,
    write_output,
)


def _synced_kinds(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record what each os.fsync call synced: "folder" or "file"."""
    kinds: list[str] = []
    real = os.fsync

    def spy(fd: int) -> None:
        kinds.append("folder" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file")
        real(fd)

    monkeypatch.setattr(os, "fsync", spy)
    return kinds


def test_atomic_write_syncs_the_file_then_its_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    kinds = _synced_kinds(monkeypatch)
    atomic_write_bytes(tmp_path / "sub" / "k", b"secret", mode=0o600)
    assert kinds == ["file", "folder"]
    assert (tmp_path / "sub" / "k").read_bytes() == b"secret"


@pytest.mark.skipif(os.name != "posix", reason="folders are synced on POSIX only")
def test_sync_folder_syncs_that_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[int] = []
    real = os.fsync

    def spy(fd: int) -> None:
        synced.append(os.fstat(fd).st_ino)
        real(fd)

    monkeypatch.setattr(os, "fsync", spy)
    sync_folder(tmp_path)
    assert synced == [tmp_path.stat().st_ino]


def test_a_folder_that_cannot_be_synced_is_no_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Some file systems answer EINVAL to fsync of a folder: the file is written all the same."""
    real = os.fsync

    def refuse_folders(fd: int) -> None:
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            raise OSError(22, "Invalid argument")
        real(fd)

    monkeypatch.setattr(os, "fsync", refuse_folders)
    atomic_write_bytes(tmp_path / "k", b"data")
    assert (tmp_path / "k").read_bytes() == b"data"


def test_write_output_makes_the_folders_it_needs_and_only_those(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[Path] = []
    real = Path.mkdir

    def spy(self: Path, *args: object, **kwargs: object) -> None:
        made.append(self)
        real(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "mkdir", spy)
    first = tmp_path / "P" / "S" / "1.dcm"
    assert write_output(first, b"one") is True
    assert made and made[0] == first.parent  # a new folder: made
    made.clear()
    assert write_output(first.with_name("2.dcm"), b"two") is True
    assert made == []  # the folder is there: the file is created in it at once
    assert first.read_bytes() == b"one" and first.with_name("2.dcm").read_bytes() == b"two"
    assert sorted(p.name for p in first.parent.iterdir()) == ["1.dcm", "2.dcm"]  # no temporary file left


def _parts(n: int) -> list[bytes]:
    return [bytes([i % 251]) * (1 + i % 7) for i in range(n)]


def test_write_output_writes_parts_in_order_past_one_writev(tmp_path: Path) -> None:
    """More parts than one writev takes (and an empty one): the file is their concatenation."""
    parts = [*_parts(2500), b"", b"end"]
    path = tmp_path / "P" / "x.dcm"
    assert write_output(path, parts) is True
    assert path.read_bytes() == b"".join(parts)
    assert write_output(path, parts) is False  # identical parts: a re-run
    with pytest.raises(DuplicateInstanceError):
        write_output(path, [*parts[:-1], b"END"])
    assert path.read_bytes() == b"".join(parts)


@pytest.mark.skipif(not hasattr(os, "writev"), reason="no writev on this platform")
def test_a_short_writev_is_finished(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = os.writev

    def short(fd: int, buffers: list[bytes]) -> int:
        return real(fd, [b"".join(buffers)[:5]])  # the kernel took only 5 bytes

    monkeypatch.setattr(os, "writev", short)
    parts = _parts(40)
    path = tmp_path / "x.dcm"
    assert write_output(path, parts) is True
    assert path.read_bytes() == b"".join(parts)


@pytest.mark.skipif(not hasattr(os, "writev"), reason="no writev on this platform")
def test_a_failed_parts_write_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def full(fd: int, buffers: list[bytes]) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "writev", full)
    path = tmp_path / "out" / "x.dcm"
    with pytest.raises(NoSpaceError):
        write_output(path, _parts(10))
    assert not path.exists() and list(path.parent.iterdir()) == []
