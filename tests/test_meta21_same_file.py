"""A name already taken (issue 16): the bytes there are compared only when their size is the new
file's; a file of another size is another instance without being read."""

from __future__ import annotations

import builtins
from pathlib import Path
from typing import Any, Self

import pytest

from dicom_deid.write import DuplicateInstanceError, write_output


def test_the_same_bytes_are_a_rerun_and_other_bytes_of_the_same_size_a_duplicate(tmp_path: Path) -> None:
    path = tmp_path / "a" / "1.dcm"
    assert write_output(str(path), b"DICM-body") is True
    data = bytearray(b"..DICM-body..")
    assert write_output(str(path), [b"DI", memoryview(bytes(data))[4:11]]) is False  # parts, a view among them
    with pytest.raises(DuplicateInstanceError):
        write_output(str(path), [b"DICM", b"-bodY"])  # same size, one byte differs
    assert path.read_bytes() == b"DICM-body"


def test_a_file_of_another_size_is_a_duplicate_without_reading_it(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "1.dcm"
    assert write_output(str(path), b"DICM-body") is True
    reads: list[int] = []
    real_open = builtins.open

    class Counting:
        def __init__(self, fh: Any) -> None:
            self._fh = fh

        def __enter__(self) -> Self:
            return self

        def __exit__(self, *exc: object) -> None:
            self._fh.close()

        def fileno(self) -> int:
            return int(self._fh.fileno())

        def read(self, *args: Any) -> bytes:
            reads.append(1)
            return bytes(self._fh.read(*args))

    def counting_open(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        fh = real_open(file, mode, *args, **kwargs)
        return Counting(fh) if str(file) == str(path) else fh

    monkeypatch.setattr(builtins, "open", counting_open)
    for other in (b"DICM-longer-body", [b"DICM", memoryview(b"-b")]):
        with pytest.raises(DuplicateInstanceError):
            write_output(str(path), other)
    assert reads == []
    with pytest.raises(DuplicateInstanceError):
        write_output(str(path), b"DICM-bodZ")  # same size: read and compared
    assert reads == [1]
    assert write_output(str(path), b"DICM-body") is False
    assert path.read_bytes() == b"DICM-body"
