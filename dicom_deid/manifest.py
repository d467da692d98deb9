"""Manifest: one JSON line per input, plus a header and a summary line.

No original values: inputs are named by ordinal and a keyed token of their
relative path (the sealed mapping links token -> path for the custodian).
"""

from __future__ import annotations

import enum
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

MANIFEST_NAME = "dicom-deid-manifest.jsonl"


class Outcome(enum.Enum):
    WRITTEN = "written"
    PLANNED = "planned"  # --dry-run
    SKIPPED_NOT_DICOM = "skipped_not_dicom"
    SKIPPED_DICOMDIR = "skipped_dicomdir"
    QUARANTINED = "quarantined"
    ALREADY_DONE = "already_done"  # resume


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
    seconds: float = 0.0


class ManifestWriter:
    """Appends records as they come; each line is flushed, so a crash loses nothing finished."""

    def __init__(self, path: Path, header: dict[str, Any]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._fh: IO[str] = open(path, "a", encoding="utf-8")  # noqa: SIM115 - open for the whole run
        self._write({"type": "run", **header})

    def _write(self, obj: dict[str, Any]) -> None:
        self._fh.write(json.dumps(obj, sort_keys=True) + "\n")
        self._fh.flush()

    def add(self, record: ManifestRecord) -> None:
        self._write({"type": "file", **{k: v for k, v in asdict(record).items() if v not in (None, {}, [])}})

    def add_plan(self, rows: list[tuple[str, str, str, int]]) -> None:
        """Dry runs: the aggregated plan, (attribute path, action, rule, instances) per row."""
        self._write({"type": "plan", "rows": [list(r) for r in rows]})

    def close(self, summary: dict[str, Any]) -> None:
        self._write({"type": "summary", **summary})
        os.fsync(self._fh.fileno())
        self._fh.close()


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


__all__ = ["MANIFEST_NAME", "ManifestRecord", "ManifestWriter", "Outcome", "append_row", "last_run", "read_manifest"]
