"""An input file is read whole by ``walk.file_bytes`` (4 system calls instead of ``Path.read_bytes``'s 9;
issue 16): every byte, whatever its size, and a file that grows while it is read is read to its end."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dicom_deid import walk
from dicom_deid.walk import file_bytes


@pytest.mark.parametrize("size", [0, 1, 132, 65_537])
def test_a_file_is_read_whole(tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    (tmp_path / "f").write_bytes(data)
    assert file_bytes(tmp_path / "f") == data


def test_a_file_read_in_parts_is_joined(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A read may return less than asked before the end (Linux caps one read near 2 GiB)."""
    data = os.urandom(10_000)
    (tmp_path / "f").write_bytes(data)
    real = os.read
    monkeypatch.setattr(walk.os, "read", lambda fd, n: real(fd, min(n, 3_000)))
    assert file_bytes(tmp_path / "f") == data


def test_a_file_that_grew_after_its_size_was_taken_is_read_to_its_end(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"a" * 100)
    real = os.fstat

    def stale(fd: int) -> os.stat_result:  # the size before 50 bytes were appended
        with path.open("ab") as fh:
            fh.write(b"b" * 50)
        st = real(fd)
        return os.stat_result((st.st_mode, st.st_ino, st.st_dev, st.st_nlink, st.st_uid, st.st_gid, 100,
                               int(st.st_atime), int(st.st_mtime), int(st.st_ctime)))

    monkeypatch.setattr(walk.os, "fstat", stale)
    assert file_bytes(path) == b"a" * 100 + b"b" * 50


def test_a_missing_file_raises_os_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        file_bytes(tmp_path / "missing")
