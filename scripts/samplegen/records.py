"""The reference table: ``PlantedItem`` and the recorder that collects planted items, original
UIDs and written paths while a corpus is built."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from samplegen.identities import _Patient


@dataclass(frozen=True, slots=True)
class PlantedItem:
    """One planted value. ``keyword_or_location`` is a keyword, a tag path such as
    ``RequestAttributesSequence[0].AccessionNumber`` or ``(0029,xx10,"ACME PHI 1.0")``, or
    ``path`` (the value is part of a file or folder name under the corpus root).
    For free text the value is a substring of the element value; otherwise it is equal to it."""

    value: str
    category: str
    keyword_or_location: str
    patient: str


@dataclass(slots=True)
class _Recorder:
    """Collects planted items, UIDs and written paths while a corpus is built."""

    planted: dict[PlantedItem, None] = field(default_factory=dict)
    safe: dict[PlantedItem, None] = field(default_factory=dict)
    uids: set[str] = field(default_factory=set)
    files: list[Path] = field(default_factory=list)

    def plant(self, patient: _Patient, category: str, location: str, value: str) -> str:
        self.planted[PlantedItem(value, category, location, patient.label)] = None
        return value
