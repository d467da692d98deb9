"""Subject map: the research team's own table, PatientID -> subject ID (+ name, + date offset).

A team that already keeps a table of its subjects (``P-0042`` for the patient with hospital
PatientID ``12345``) gives it with ``--subject-map FILE.csv`` (or ``[subjects] map = "FILE"`` in
a profile).  The table replaces the keyed pseudonyms of the patients it lists: PatientID becomes
the subject ID (which also names the patient's output folder), PatientName the row's name (or
the subject ID), and, where the profile shifts dates, the row's fixed offset replaces the keyed
one.  A patient the table does not list is an error for that input (quarantined,
``unmapped_patient``) unless ``--unmapped keyed`` gives it the keyed pseudonym instead.

CSV: a header row naming the columns, then one row per patient::

    PatientID,SubjectID,PatientName,DateOffsetDays
    12345,P-0042,P-0042^Study,-120

``PatientID`` and ``SubjectID`` are required, the other two optional (a column, or a cell, may be
left out).  TOML: ``[[subject]]`` tables with ``patient_id``, ``subject_id``, ``name``,
``date_offset_days``.  A bad table is refused whole, with the line (or entry) and the cause:
a duplicate PatientID or subject ID, an empty cell, a subject ID equal to some PatientID (it
would carry a real identifier into the output), a subject ID that cannot name a folder.
Messages never quote the table's values (they are identifiers).

Pure data: no DICOM rules, no keys.  ``verify`` loads the same table to accept its values.
"""

from __future__ import annotations

import csv
import enum
import hashlib
import io
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from dicom_deid.errors import ConfigError

#: Column names of the CSV form (the header row), in their documented order.
COLUMNS = ("PatientID", "SubjectID", "PatientName", "DateOffsetDays")
REQUIRED = ("PatientID", "SubjectID")
_TOML_KEYS = {"patient_id": "PatientID", "subject_id": "SubjectID", "name": "PatientName",
              "date_offset_days": "DateOffsetDays"}
_SUBJECT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")  # names the output folder; fits LO
_MAX_OFFSET_DAYS = 36_500


class Unmapped(enum.Enum):
    """``--unmapped``: what happens to a patient the subject map does not list."""

    ERROR = "error"  # the input is quarantined (unmapped_patient)
    KEYED = "keyed"  # the patient gets the keyed pseudonym, as without a map

    @classmethod
    def parse(cls, value: str | Unmapped) -> Unmapped:
        if isinstance(value, Unmapped):
            return value
        try:
            return cls(str(value).strip().lower())
        except ValueError:
            raise ConfigError(f"--unmapped must be error or keyed, got {value!r}") from None


@dataclass(frozen=True, slots=True)
class Subject:
    """One row: the team's replacement values for one patient."""

    subject_id: str
    name: str  # PatientName written (the subject ID when the row gives none)
    date_offset_days: int | None = None  # replaces the keyed per-patient offset when set


class SubjectMapError(ConfigError):
    """A subject map that cannot be used: the message names the file and the line."""


@dataclass(frozen=True)
class SubjectMap:
    """The table, validated; frozen and picklable (it travels inside the engine description)."""

    subjects: Mapping[str, Subject]  # PatientID (stripped) -> Subject; a plain dict: picklable
    source: str  # file it came from (operator-side; never written to the output)
    sha256: str  # of the file's bytes: recorded with the run, so a resume cannot mix tables
    unmapped: Unmapped = Unmapped.ERROR

    def subject_for(self, patient_id: str) -> Subject | None:
        return self.subjects.get(patient_id.strip())

    def with_unmapped(self, unmapped: str | Unmapped) -> SubjectMap:
        return replace(self, unmapped=Unmapped.parse(unmapped))

    @property
    def replacement_values(self) -> frozenset[str]:
        """Every subject ID and name the table writes (what ``verify`` accepts as pseudonyms)."""
        return frozenset(v for s in self.subjects.values() for v in (s.subject_id, s.name))

    @property
    def fingerprint(self) -> str:
        """Short, non-secret id of the table (safe for the manifest)."""
        return self.sha256[:16]


def load_subject_map(path: str | Path, *, unmapped: str | Unmapped = Unmapped.ERROR) -> SubjectMap:
    """Read a subject map (``.csv`` or ``.toml``) and validate every row."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise SubjectMapError("subject map not found", path=path) from None
    except OSError as exc:
        raise SubjectMapError(f"subject map cannot be read ({exc.strerror or exc})", path=path) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise SubjectMapError("subject map is not UTF-8 text", path=path) from None
    rows = _toml_rows(text, path) if path.suffix.lower() == ".toml" else _csv_rows(text, path)
    subjects = _validate(rows, path)
    return SubjectMap(subjects=subjects, source=str(path), sha256=hashlib.sha256(data).hexdigest(),
                      unmapped=Unmapped.parse(unmapped))


Row = tuple[str, Mapping[str, str]]  # (where: "line 3" / "subject 2", column -> cell)


def _csv_rows(text: str, path: Path) -> list[Row]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        lines = [(reader.line_num, cells) for cells in reader]
    except csv.Error as exc:
        raise SubjectMapError(f"line {reader.line_num}: not valid CSV ({exc})", path=path) from None
    lines = [(n, cells) for n, cells in lines if any(c.strip() for c in cells)]
    if not lines:
        raise SubjectMapError("subject map is empty: the first row names the columns "
                              f"({','.join(COLUMNS)}), then one row per patient", path=path)
    header_line, header = lines[0]
    names = [h.strip() for h in header]
    unknown = [n for n in names if n not in COLUMNS]
    if unknown or any(r not in names for r in REQUIRED):
        # a header naming the required columns has an extra one: quote it; otherwise the first row
        # is probably data (a PatientID), which is never quoted
        extra = f" (unknown column {unknown[0]!r})" if unknown and all(r in names for r in REQUIRED) else ""
        raise SubjectMapError(
            f"line {header_line}: the first row must name the columns, {', '.join(REQUIRED)} required, "
            f"{', '.join(c for c in COLUMNS if c not in REQUIRED)} optional{extra}", path=path)
    if len(set(names)) != len(names):
        raise SubjectMapError(f"line {header_line}: a column is named twice", path=path)
    rows: list[Row] = []
    for number, cells in lines[1:]:
        if len(cells) > len(names):
            raise SubjectMapError(f"line {number}: {len(cells)} cells, but the header names {len(names)} "
                                  "columns", path=path)
        rows.append((f"line {number}", {n: cells[i] if i < len(cells) else "" for i, n in enumerate(names)}))
    return rows


def _toml_rows(text: str, path: Path) -> list[Row]:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SubjectMapError(f"invalid TOML: {exc}", path=path) from None
    extra = sorted(set(raw) - {"subject"})
    entries = raw.get("subject", [])
    if extra or not isinstance(entries, list):
        raise SubjectMapError("a TOML subject map holds only [[subject]] tables"
                              + (f" (unknown key {extra[0]!r})" if extra else ""), path=path)
    rows: list[Row] = []
    for i, entry in enumerate(entries, start=1):
        where = f"subject {i}"
        if not isinstance(entry, dict):
            raise SubjectMapError(f"{where}: not a table", path=path)
        unknown = sorted(set(entry) - set(_TOML_KEYS))
        if unknown:
            raise SubjectMapError(f"{where}: unknown key {unknown[0]!r}; valid keys: {', '.join(_TOML_KEYS)}",
                                  path=path)
        rows.append((where, {_TOML_KEYS[k]: str(v) for k, v in entry.items()}))
    return rows


def _validate(rows: Iterable[Row], path: Path) -> dict[str, Subject]:
    subjects: dict[str, Subject] = {}
    where_pid: dict[str, str] = {}
    where_sid: dict[str, str] = {}
    count = 0
    for where, cells in rows:
        count += 1
        for column in REQUIRED:
            if not cells.get(column, "").strip():
                raise SubjectMapError(f"{where}: empty {column}", path=path)
        pid, sid = cells["PatientID"].strip(), cells["SubjectID"].strip()
        if len(pid) > 64 or "\\" in pid:
            raise SubjectMapError(f"{where}: PatientID is longer than 64 characters or holds a backslash, "
                                  "so no DICOM PatientID can equal it", path=path)
        if not _SUBJECT_ID.fullmatch(sid):
            raise SubjectMapError(f"{where}: SubjectID must be 1 to 64 letters, digits, '.', '_' or '-', starting "
                                  "with a letter or digit (it names the patient's output folder)", path=path)
        if pid in where_pid:
            raise SubjectMapError(f"{where}: duplicate PatientID (first on {where_pid[pid]})", path=path)
        if sid in where_sid:
            raise SubjectMapError(f"{where}: duplicate SubjectID (first on {where_sid[sid]}): two patients would "
                                  "become one", path=path)
        name = _cell(cells, "PatientName", where, path)
        if name is not None and (len(name) > 64 or "\\" in name):
            raise SubjectMapError(f"{where}: PatientName must be at most 64 characters without a backslash",
                                  path=path)
        offset = _offset(_cell(cells, "DateOffsetDays", where, path), where, path)
        where_pid[pid], where_sid[sid] = where, where
        subjects[pid] = Subject(sid, name if name is not None else sid, offset)
    if not count:
        raise SubjectMapError("subject map lists no patient", path=path)
    for sid, where in where_sid.items():
        if sid in where_pid:
            raise SubjectMapError(f"{where}: SubjectID equals the PatientID on {where_pid[sid]}: a subject ID must "
                                  "never be a patient's real ID", path=path)
    return subjects


def _cell(cells: Mapping[str, str], column: str, where: str, path: Path) -> str | None:
    """An optional cell: None when the column is absent; an empty cell in a present column is an error."""
    if column not in cells:
        return None
    value = cells[column].strip()
    if not value:
        raise SubjectMapError(f"{where}: empty {column} (leave the column out, or fill it for every row)",
                              path=path)
    return value


def _offset(text: str | None, where: str, path: Path) -> int | None:
    if text is None:
        return None
    try:
        days = int(text)
    except ValueError:
        raise SubjectMapError(f"{where}: DateOffsetDays must be a whole number of days", path=path) from None
    if days == 0:
        raise SubjectMapError(f"{where}: DateOffsetDays 0 keeps the real dates (use the retain-long-full-dates "
                              "option for that)", path=path)
    if abs(days) > _MAX_OFFSET_DAYS:
        raise SubjectMapError(f"{where}: DateOffsetDays must be within ±{_MAX_OFFSET_DAYS} days", path=path)
    return days


__all__ = ["COLUMNS", "Subject", "SubjectMap", "SubjectMapError", "Unmapped", "load_subject_map"]
