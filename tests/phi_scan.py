"""Independent PHI search over output files: every element (recursively, private tags and
file meta included) and a raw byte scan.  Test-side oracle: knows nothing of the pipeline."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pydicom
from pydicom.dataset import Dataset


@dataclass(frozen=True)
class Hit:
    file: str
    where: str
    needle: str


def iter_values(ds: Dataset, prefix: str = "") -> Iterable[tuple[str, str]]:
    for elem in ds:
        where = f"{prefix}{elem.keyword or elem.tag}"
        if elem.VR == "SQ":
            for i, item in enumerate(elem.value or ()):
                yield from iter_values(item, f"{where}[{i}].")
        elif elem.tag == 0x7FE00010:
            continue
        else:
            value = elem.value
            if isinstance(value, bytes):
                yield where, value.decode("latin-1")
            elif isinstance(value, list | tuple) or type(value).__name__ == "MultiValue":
                yield where, "\\".join(str(v) for v in value)
            else:
                yield where, str(value)


def scan_file(path: Path, needles: Iterable[str]) -> list[Hit]:
    needles = [n for n in needles if n]
    raw = path.read_bytes()
    raw_upper = raw.upper()
    hits = [Hit(path.name, "raw bytes", n) for n in needles if n.upper().encode("utf-8", "ignore") in raw_upper]
    ds = pydicom.dcmread(path)
    for where, text in [*iter_values(ds.file_meta, "meta."), *iter_values(ds)]:
        up = text.upper()
        hits += [Hit(path.name, where, n) for n in needles if n.upper() in up]
    return hits


def scan_tree(root: Path, needles: Iterable[str]) -> tuple[list[Hit], int]:
    needles = list(needles)
    hits: list[Hit] = []
    count = 0
    for path in sorted(root.rglob("*.dcm")):
        hits += scan_file(path, needles)
        count += 1
    return hits, count
