"""Manifest: one JSON line per input, plus a header and a summary line.

No original values: inputs are named by ordinal and a keyed token of their
relative path (the sealed mapping links token -> path for the custodian).
"""

from __future__ import annotations

import enum
import json
import operator
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, BinaryIO

MANIFEST_NAME = "dicom-deid-manifest.jsonl"


class Outcome(enum.Enum):
    WRITTEN = "written"
    PLANNED = "planned"  # --dry-run
    SKIPPED_NOT_DICOM = "skipped_not_dicom"
    SKIPPED_DICOMDIR = "skipped_dicomdir"
    SKIPPED_DOCUMENT = "skipped_document"  # --documents drop
    QUARANTINED = "quarantined"
    ALREADY_DONE = "already_done"  # resume


class Encoder(enum.Enum):
    """Which write path produced an output file (issue 16; both give the same bytes)."""

    BYTES = "bytes"  # kept elements copied from the input bytes (bytepath.py)
    PYDICOM = "pydicom"  # the whole dataset rebuilt and written by pydicom (the fallback)


@dataclass(frozen=True, slots=True)
class ManifestRecord:
    ordinal: int
    input_id: str  # keyed token of the input's relative path
    outcome: str
    size: int = 0
    output: str | None = None  # path relative to OUT (pseudonyms only)
    reason: str | None = None  # QuarantineReason value
    sop_class_uid: str | None = None
    modality: str | None = None
    actions: dict[str, int] = field(default_factory=dict)  # action code -> count
    changes: dict[str, list[str]] = field(default_factory=dict)  # action code -> attribute paths (no values)
    pixels: dict[str, Any] | None = None  # redaction boxes (coordinates and frames only)
    document: str | None = None  # "kept": an encapsulated document body written unexamined (--documents keep)
    stream_metadata: list[str] = field(default_factory=list)  # e.g. ["APP1", "COM x2"]: removed from the pixel stream
    encoder: str | None = None  # Encoder value of a written file: the byte path or the pydicom path wrote it
    seconds: float = 0.0


def run_output_holding(path: Path) -> Path | None:
    """The de-identified OUTPUT folder (one holding a run's manifest) that ``path`` lies in, if any:
    keys, mapping exports and other input-side files must never be written there."""
    real = Path(path).resolve()
    for folder in (real, *real.parents):
        if (folder / MANIFEST_NAME).is_file():
            return folder
    return None


_RECORD_FIELDS = fields(ManifestRecord)
#: every field's value but the last, the seconds (``with_seconds``), in the fields' order
_BUT_SECONDS = operator.attrgetter(*(f.name for f in _RECORD_FIELDS[:-1]))
if _RECORD_FIELDS[-1].name != "seconds" or not all(f.init for f in _RECORD_FIELDS):  # pragma: no cover
    raise ImportError("ManifestRecord: with_seconds needs every field in __init__ and the seconds last")


def with_seconds(record: ManifestRecord, seconds: float) -> ManifestRecord:
    """``dataclasses.replace(record, seconds=seconds)``, without its introspection of the fields
    per call (each written file's record gets its seconds once it is written)."""
    return _NEW_RECORD(*_BUT_SECONDS(record), seconds)


_NEW_RECORD: Callable[..., ManifestRecord] = ManifestRecord  # positional, in the fields' order


@dataclass(frozen=True, slots=True)
class EncodedRow:
    """A record's manifest line but for its ``seconds`` (measured last, when the line is already
    known to encode): the JSON of the fields sorted before and after it, without braces."""

    head: str
    tail: str

    def line(self, seconds: float) -> bytes:
        """The line ``encode_row`` writes for the record with these ``seconds``."""
        middle = "" if seconds in _OMITTED else f'"seconds": {json.dumps(seconds)}, '
        return ("{" + self.head + ", " + middle + self.tail + "}\n").encode("utf-8")


_OMITTED: tuple[object, ...] = (None, {}, [])  # fields left out of a line


def encode_fields(record: ManifestRecord) -> EncodedRow:
    """``record``'s line but for its seconds (raises TypeError/ValueError if a field cannot be
    written): encoded once, when the input is handled, and written when it is recorded."""
    # the fields as they are (json copies nothing; asdict's deep copy cost ~1 ms a file); sorted
    # keys, as ``json.dumps(row, sort_keys=True)``: "ordinal" always before seconds, "type" after
    head: dict[str, object] = {}
    tail: dict[str, object] = {}
    for f in _RECORD_FIELDS:
        name = f.name
        if name != "seconds":
            value = getattr(record, name)
            if value not in _OMITTED:
                (head if name < "seconds" else tail)[name] = value
    tail["type"] = "file"
    changes = _changes_json(record.changes)
    if changes is None:
        return EncodedRow(_SORTED_JSON(head)[1:-1], _SORTED_JSON(tail)[1:-1])
    head["changes"] = _CHANGES_MARK
    text = _SORTED_JSON(head)
    if text.count(_CHANGES_FIELD) != 1:  # another field holds the mark's text: encoded in place
        head["changes"] = record.changes
        return EncodedRow(_SORTED_JSON(head)[1:-1], _SORTED_JSON(tail)[1:-1])
    return EncodedRow(text.replace(_CHANGES_FIELD, f'"changes": {changes}', 1)[1:-1], _SORTED_JSON(tail)[1:-1])


#: ``changes`` is encoded as this string, then its text replaced by the encoded changes
#: (``_changes_json``: the same text as the field encoded in place)
_CHANGES_MARK = "\x00changes\x00"
_CHANGES_FIELD = f'"changes": {json.dumps(_CHANGES_MARK)}'


class _ChangesMemo(dict[tuple[tuple[str, tuple[str, ...]], ...], str]):
    """The encoded ``changes`` of recent records, by their content: a run's files of one kind
    change the same attributes (hundreds of names a file, most of them the private elements
    removed), so their JSON is the same text; emptied when it grows large."""

    def remember(self, key: tuple[tuple[str, tuple[str, ...]], ...], text: str) -> None:
        if len(self) >= 256:
            self.clear()
        self[key] = text


_CHANGES = _ChangesMemo()


def _changes_json(changes: dict[str, list[str]]) -> str | None:
    """``json.dumps(changes, sort_keys=True)``, remembered by content; None for no changes or
    anything but a dict of lists of str (encoded in place as before)."""
    if not changes or type(changes) is not dict:
        return None
    key = []
    for code, paths in changes.items():
        if type(code) is not str or type(paths) is not list or not set(map(type, paths)) <= _STR:
            return None
        key.append((code, tuple(paths)))
    found = _CHANGES.get(tuple(key))
    if found is None:
        found = _SORTED_JSON(changes)
        _CHANGES.remember(tuple(key), found)
    return found


_STR = frozenset({str})


#: ``json.dumps(obj, sort_keys=True)`` without building its encoder for each call (dumps makes a
#: JSONEncoder with these same settings whenever one differs from the defaults)
_SORTED_JSON = json.JSONEncoder(sort_keys=True).encode


def encode_row(record: ManifestRecord) -> bytes:
    """The manifest line of ``record`` (raises TypeError/ValueError if a field cannot be written)."""
    return encode_fields(record).line(record.seconds)


class ManifestWriter:
    """Appends whole lines: one ``write`` per line; a line cut short (disk full) is taken back.

    Each line reaches the file (not a buffer) before ``add`` returns, so a crash loses no line
    written; a crash in the middle of a ``write`` can leave a torn last line, which
    :func:`repair_manifest` removes before the next run appends.
    """

    def __init__(self, path: Path, header: dict[str, Any]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            self._write({"type": "run", **header})
        except BaseException:
            os.close(self._fd)
            raise

    def _write(self, obj: dict[str, Any]) -> None:
        self._append((json.dumps(obj, sort_keys=True) + "\n").encode("utf-8"))

    def _append(self, line: bytes) -> None:
        start = os.fstat(self._fd).st_size
        try:
            view = memoryview(line)
            while view:
                view = view[os.write(self._fd, view):]
        except OSError:
            os.ftruncate(self._fd, start)  # never leave half a line (freeing space always works)
            raise

    def add(self, record: ManifestRecord, row: EncodedRow | None = None) -> None:
        """Append ``record``'s line; ``row``: its fields already encoded (``encode_fields`` of this
        record, or of one that differs only in its seconds)."""
        self._append(row.line(record.seconds) if row is not None else encode_row(record))

    def add_many(self, entries: Sequence[tuple[ManifestRecord, EncodedRow | None]]) -> None:
        """Append the lines of ``entries`` (record, its fields encoded or None) in one write: all
        of them or, when the file system refuses (a write cut short is taken back), none."""
        if entries:
            self._append(b"".join(row.line(record.seconds) if row is not None else encode_row(record)
                                  for record, row in entries))

    def add_plan(self, rows: list[tuple[str, str, str, int]]) -> None:
        """Dry runs: the aggregated plan, (attribute path, action, rule, instances) per row."""
        self._write({"type": "plan", "rows": [list(r) for r in rows]})

    def close(self, summary: dict[str, Any]) -> None:
        """Append the summary line and make the manifest durable (the file is closed even on error)."""
        try:
            self._write({"type": "summary", **summary})
            os.fsync(self._fd)
        finally:
            os.close(self._fd)

    def abandon(self) -> None:
        """Close without a summary (the file system refused a line): the next run repairs nothing,
        every line already in the file is whole."""
        os.close(self._fd)


def repair_manifest(path: Path) -> int:
    """Remove a torn last line left by a crash mid-write; return how many bytes were removed.

    Only the tail after the last newline (or a last line that does not parse) is removed: every
    whole line stays, so every input recorded stays recorded.
    """
    if not path.is_file():
        return 0
    with open(path, "rb+") as fh:
        size = fh.seek(0, os.SEEK_END)
        last = _last_newline(fh, size)
        keep = last + 1
        if last == size - 1 and size:  # ends with a newline: is the last line whole JSON?
            prev = _last_newline(fh, last)
            fh.seek(prev + 1)
            try:
                json.loads(fh.read(last - prev))
            except ValueError:
                keep = prev + 1
        if keep < size:
            fh.truncate(keep)
            fh.flush()
            os.fsync(fh.fileno())
        return size - keep


def ended_cleanly(path: Path) -> bool:
    """Whether the last run recorded in the manifest wrote its summary (was not killed)."""
    if not path.is_file():
        return True
    with open(path, "rb") as fh:
        size = fh.seek(0, os.SEEK_END)
        if size == 0:
            return True
        prev = _last_newline(fh, size - 1)
        fh.seek(prev + 1)
        try:
            return bool(json.loads(fh.read(size - prev - 1)).get("type") == "summary")
        except (ValueError, AttributeError):
            return False


def _last_newline(fh: BinaryIO, end: int) -> int:
    """Offset of the last newline before ``end``, or -1."""
    pos = end
    while pos > 0:
        start = max(0, pos - (1 << 16))
        fh.seek(start)
        found = fh.read(pos - start).rfind(b"\n")
        if found >= 0:
            return start + found
        pos = start
    return -1


def append_row(path: Path, row: dict[str, Any]) -> None:
    """Append one line after a run (e.g. a ``k_anonymity`` post-pass row), flushed and fsynced."""
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(row, sort_keys=True) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def read_manifest(path: Path, *, tolerate_partial: bool = False) -> list[dict[str, Any]]:
    """All lines of a manifest (runs append).  ``tolerate_partial`` skips a last line cut by a crash."""
    rows = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                if not tolerate_partial:
                    raise
    return rows


def last_run(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows of the most recent run in a manifest (from its last "run" header)."""
    starts = [i for i, r in enumerate(rows) if r.get("type") == "run"]
    return rows[starts[-1]:] if starts else rows


__all__ = ["MANIFEST_NAME", "EncodedRow", "ManifestRecord", "ManifestWriter", "Outcome", "append_row", "encode_fields", "encode_row", "ended_cleanly",
           "last_run", "read_manifest", "repair_manifest", "with_seconds"]
