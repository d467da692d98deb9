"""Issue 16, system calls per written file: outputs written unnamed (O_TMPFILE) and linked into
place, OUTPUT's free space asked once per budget instead of before every file, a batch's outputs
made durable (one syncfs) before any manifest row claims them, the batch's rows in one write."""

from __future__ import annotations

import errno
import os
import pickle
import stat
import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from dicom_deid import record, write
from dicom_deid.boundary import FileResult
from dicom_deid.manifest import ManifestRecord, ManifestWriter, Outcome, encode_row
from dicom_deid.record import DiscardLinks, Recorder
from dicom_deid.write import (
    DuplicateInstanceError,
    FreeSpace,
    NoSpaceError,
    make_durable,
    write_output,
)

LINUX = sys.platform.startswith("linux")


@pytest.fixture(autouse=True)
def _keep_tmpfile_flag(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A test that makes O_TMPFILE fail must not switch it off for the rest of the session."""
    monkeypatch.setattr(write, "_TMPFILE", write._TMPFILE)
    yield


def _opened(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    calls: list[tuple[str, int]] = []
    real = os.open

    def spy(path: str | Path, flags: int, *args: object, **kwargs: object) -> int:
        calls.append((os.fspath(path), flags))
        return real(path, flags, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", spy)
    return calls


@pytest.mark.skipif(not LINUX, reason="O_TMPFILE is Linux's")
def test_an_output_is_written_unnamed_and_linked_without_a_temporary_name(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    opened = _opened(monkeypatch)
    path = tmp_path / "P" / "S" / "1.dcm"
    assert write_output(str(path), [b"DICM", b"-body"]) is True
    assert path.read_bytes() == b"DICM-body"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644 & ~_umask()
    assert [name for name, _ in opened if name.endswith(".part")] == []  # no named temporary file
    assert any(flags & os.O_TMPFILE == os.O_TMPFILE for _, flags in opened)
    assert write._TMPFILE is not None  # not switched off by a fallback
    # a re-run: the same bytes are no error; other bytes under the name are refused, the first kept
    assert write_output(str(path), [b"DICM", b"-body"]) is False
    with pytest.raises(DuplicateInstanceError):
        write_output(str(path), b"DICM-other")
    assert path.read_bytes() == b"DICM-body"
    assert sorted(p.name for p in path.parent.iterdir()) == ["1.dcm"]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_where_unnamed_files_are_refused_a_named_temporary_file_is_used(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    real = os.open
    tmpfile = getattr(os, "O_TMPFILE", 0)

    def no_tmpfile(path: object, flags: int, *args: object, **kwargs: object) -> int:
        if tmpfile and flags & tmpfile == tmpfile:
            raise OSError(errno.EOPNOTSUPP, "Operation not supported")
        return real(path, flags, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", no_tmpfile)
    path = tmp_path / "P" / "1.dcm"
    assert write_output(path, b"one") is True
    assert write_output(path.with_name("2.dcm"), [b"t", b"wo"]) is True
    assert path.read_bytes() == b"one" and path.with_name("2.dcm").read_bytes() == b"two"
    assert sorted(p.name for p in path.parent.iterdir()) == ["1.dcm", "2.dcm"]  # no temporary file left


def _statvfs(free: int, calls: list[str]) -> object:
    def fake(folder: str) -> SimpleNamespace:
        calls.append(folder)
        return SimpleNamespace(f_bavail=free // 4096, f_frsize=4096)

    return fake


def test_free_space_is_asked_once_for_many_files_while_far_from_the_reserve(tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    monkeypatch.setattr(os, "statvfs", _statvfs(1 << 30, calls))  # 1 GiB free, 16 MiB kept
    space = FreeSpace(tmp_path, 16 << 20)
    for _ in range(1000):
        space.check(100_000)  # 100 MB in all: within the budget of (1 GiB - 16 MiB) / 8
    assert calls == [str(tmp_path)]
    for _ in range(400):
        space.check(100_000)  # 140 MB in all: past the budget (126 MiB): asked again
    assert calls == [str(tmp_path)] * 2


def test_near_the_reserve_free_space_is_asked_before_every_file_and_refused(tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    monkeypatch.setattr(os, "statvfs", _statvfs(1 << 20, calls))  # 1 MiB free, 512 KiB kept
    space = FreeSpace(tmp_path, 512 << 10)
    space.check(60_000)
    space.check(60_000)  # budget (512 KiB / 8 = 64 KiB) spent by the first: asked again
    assert len(calls) == 2
    with pytest.raises(NoSpaceError, match="nearly full"):
        space.check(600_000)  # 1 MiB - 600 KB is inside the reserve


def test_a_copy_sent_to_a_worker_asks_at_its_first_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    monkeypatch.setattr(os, "statvfs", _statvfs(1 << 30, calls))
    space = FreeSpace(tmp_path, 16 << 20)
    space.check(10)
    copy = pickle.loads(pickle.dumps(space))
    copy.check(10)  # the budget stayed with the original: every copy would spend it again
    assert len(calls) == 2 and copy.keep_free == 16 << 20 and copy.folder == str(tmp_path)


def test_without_syncfs_each_file_and_each_folder_on_its_path_is_synced(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    for rel in ("P/S/1.dcm", "P/S/2.dcm", "P/T/3.dcm"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"x")
    monkeypatch.setattr(write, "_SYNCFS", [None])
    synced: list[int] = []
    real = os.fsync

    def spy(fd: int) -> None:
        synced.append(os.fstat(fd).st_ino)
        real(fd)

    monkeypatch.setattr(os, "fsync", spy)
    make_durable(tmp_path, ["P/S/1.dcm", "P/S/2.dcm", "P/T/3.dcm"])
    inode = {rel: (tmp_path / rel).stat().st_ino for rel in ("P/S/1.dcm", "P/S/2.dcm", "P/T/3.dcm", "P/S", "P/T",
                                                             "P", ".")}
    assert sorted(synced[:3]) == sorted(inode[r] for r in ("P/S/1.dcm", "P/S/2.dcm", "P/T/3.dcm"))
    if os.name == "posix":  # folders: deepest first, OUTPUT last
        assert sorted(synced[3:5]) == sorted((inode["P/S"], inode["P/T"])) and synced[5:] == [inode["P"], inode["."]]


@pytest.mark.skipif(not LINUX, reason="syncfs is Linux's")
def test_with_syncfs_one_call_on_outputs_file_system_makes_a_batch_durable(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    assert write._syncfs() is not None  # found in the C library
    calls: list[int] = []

    def fake_syncfs(fd: int) -> int:
        calls.append(os.fstat(fd).st_dev)
        return 0

    monkeypatch.setattr(write, "_SYNCFS", [fake_syncfs])
    monkeypatch.setattr(os, "fsync", lambda fd: pytest.fail("no fsync per file with syncfs"))
    make_durable(tmp_path, ["a.dcm", "b.dcm"])
    assert calls == [tmp_path.stat().st_dev]
    make_durable(tmp_path, [])  # nothing written: nothing to flush
    assert len(calls) == 1


def _written(out: Path, ordinal: int) -> FileResult:
    rel = f"P/{ordinal}.dcm"
    (out / rel).parent.mkdir(parents=True, exist_ok=True)
    (out / rel).write_bytes(b"x")
    return FileResult(ManifestRecord(ordinal, f"t{ordinal}", Outcome.WRITTEN.value, 1, output=rel))


def _recorder(out: Path, writer: ManifestWriter) -> Recorder:
    return Recorder(writer=writer, sink=DiscardLinks(), output=out, quarantine_dir=out.parent / "q", run_id="r",
                    unresolved={}, emit=lambda event: None)


def test_rows_are_written_only_after_their_outputs_are_made_durable(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    out.mkdir()
    manifest = out / "m.jsonl"
    writer = ManifestWriter(manifest, {"run": 1})
    seen: list[tuple[list[str], int]] = []

    def spy(folder: Path, written: list[str]) -> None:
        seen.append((list(written), manifest.read_bytes().count(b"\n")))  # rows in the manifest then

    monkeypatch.setattr(record, "make_durable", spy)
    rec = _recorder(out, writer)
    quarantined = FileResult(ManifestRecord(2, "t2", Outcome.QUARANTINED.value, 1, reason="unreadable"))
    for res in (_written(out, 0), _written(out, 1), quarantined):
        rec.add(res)
    rec.commit()
    assert seen == [(["P/0.dcm", "P/1.dcm"], 1)]  # the header only: no row before the outputs are durable
    assert manifest.read_bytes().count(b"\n") == 4 and rec.files == 3


def test_outputs_that_cannot_be_made_durable_get_no_row_and_are_taken_back(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    out.mkdir()
    writer = ManifestWriter(out / "m.jsonl", {"run": 1})

    def fail(folder: Path, written: list[str]) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(record, "make_durable", fail)
    rec = _recorder(out, writer)
    rec.add(_written(out, 0))
    rec.commit()
    assert rec.stopped is not None and "durable" in rec.stopped
    assert (out / "m.jsonl").read_bytes().count(b"\n") == 1 and not (out / "P" / "0.dcm").exists()
    assert rec.unrecorded == 1 and rec.files == 0


def test_a_batch_of_rows_is_one_write_whole_or_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "m.jsonl"
    writer = ManifestWriter(path, {"run": 1})
    header = path.read_bytes()
    records = [ManifestRecord(i, f"t{i}", Outcome.WRITTEN.value, 10 + i, output=f"P/{i}.dcm", seconds=0.5)
               for i in range(3)]
    writes: list[int] = []
    real = os.write

    def spy(fd: int, data: bytes) -> int:
        writes.append(fd)
        return real(fd, data)

    monkeypatch.setattr(os, "write", spy)
    writer.add_many([(r, None) for r in records])
    assert len(writes) == 1
    assert path.read_bytes() == header + b"".join(encode_row(r) for r in records)

    def short_then_full(fd: int, data: bytes) -> int:
        if len(data) > 20:
            return real(fd, bytes(data[:20]))  # the kernel took 20 bytes, then the disk is full
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", short_then_full)
    with pytest.raises(OSError):
        writer.add_many([(r, None) for r in records])
    assert path.read_bytes() == header + b"".join(encode_row(r) for r in records)  # no part of a line kept


def test_large_copied_values_are_views_of_the_input_and_written_as_read(tmp_path: Path) -> None:
    """The byte path splices a kept value of 4 KiB or more (here an 8 KiB palette) as a view of the
    input's bytes, not a copy, and smaller ones as bytes; the file written holds the input's bytes."""
    import io

    import pydicom

    from dicom_deid.deidentify import Engine, deidentify
    from dicom_deid.keys import SecretKey
    from dicom_deid.profiles import load_profile
    from dicom_deid.read import parse_instance
    from dicom_deid.write import encode_parts
    from tests.fuzz_corpus import TEST_FILES

    ds = pydicom.dcmread(TEST_FILES / "CT_small.dcm")
    ds.RedPaletteColorLookupTableData = bytes(range(256)) * 32  # (0028,1201) OW, kept by the basic profile
    ds.BluePaletteColorLookupTableData = b"ab" * 100  # (0028,1203)
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    data = buf.getvalue()
    engine = Engine(load_profile("basic"), SecretKey(bytes(range(32))))
    result = deidentify(parse_instance(data, where="input").dataset, engine, data=data)
    assert result.copies is not None
    large, small = result.copies.ranges[0x00281201], result.copies.ranges[0x00281203]
    assert isinstance(large, memoryview) and large.obj is data  # no copy
    element = b"\x28\x00\x01\x12OW\x00\x00" + (8192).to_bytes(4, "little") + bytes(range(256)) * 32
    assert large.tobytes() == element  # its header and value, as read
    assert type(small) is bytes and len(small) == 12 + 200
    parts = encode_parts(result.dataset, result.dataset.file_meta, result.copies.spliced)
    path = tmp_path / "x.dcm"
    assert write_output(path, parts) is True
    assert element in path.read_bytes()
    assert path.read_bytes() == b"".join(bytes(p) for p in parts)


def test_a_quarantine_left_to_the_batch_is_written_without_fsync(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from dicom_deid.errors import QuarantineReason
    from dicom_deid.write import quarantine

    synced: list[int] = []
    real = os.fsync

    def spy(fd: int) -> None:
        synced.append(fd)
        real(fd)

    monkeypatch.setattr(os, "fsync", spy)
    qdir = tmp_path / "q"
    quarantine(qdir, "00000001-tok", b"original", reason=QuarantineReason.UNREADABLE, message="m", source="a.dcm",
               input_id="tok", sync=False)
    assert synced == []
    assert (qdir / "00000001-tok.bin").read_bytes() == b"original"
    assert b'"input_id": "tok"' in (qdir / "reasons.jsonl").read_bytes()
    quarantine(qdir, "00000002-tok", b"original", reason=QuarantineReason.UNREADABLE, message="m", source="b.dcm")
    assert len(synced) == 3 if os.name == "posix" else len(synced) >= 2  # the copy, its folder, the reason line


def test_a_batch_with_quarantines_left_to_it_syncs_the_quarantine_before_its_rows(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    out.mkdir()
    manifest = out / "m.jsonl"
    seen: list[tuple[Path, list[str], int]] = []

    def spy(folder: Path, written: list[str]) -> None:
        seen.append((folder, list(written), manifest.read_bytes().count(b"\n")))

    monkeypatch.setattr(record, "make_durable", spy)
    for deferred in (True, False):
        seen.clear()
        rec = Recorder(writer=ManifestWriter(manifest, {"run": 1}), sink=DiscardLinks(), output=out,
                       quarantine_dir=tmp_path / "q", run_id="r", unresolved={}, emit=lambda event: None,
                       sync_quarantine=deferred)
        rows = manifest.read_bytes().count(b"\n")
        rec.add(FileResult(ManifestRecord(0, "t0", Outcome.QUARANTINED.value, 1, reason="unreadable")))
        rec.commit()
        expected = [(out, [], rows), (tmp_path / "q", ["reasons.jsonl"], rows)] if deferred else [(out, [], rows)]
        assert seen == expected
        assert manifest.read_bytes().count(b"\n") == rows + 1
