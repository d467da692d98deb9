"""Independent PHI search over output files: every element (recursively, private tags and
file meta included) and a raw byte scan.  Test-side oracle: knows nothing of the pipeline."""

from __future__ import annotations

import re
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


#: A run of this many digits or more is an opaque number (a 2.25 UID's 39-digit component): a
#: digits-only needle (a date, an ID) found inside one is chance, not a copy of the value.
OPAQUE_DIGITS = 20


def contains(haystack: str, needle: str) -> bool:
    """``needle`` (upper case) occurs in ``haystack`` (upper case), other than by chance inside a
    run of :data:`OPAQUE_DIGITS` or more digits when it is itself all digits."""
    if not needle.isdigit():
        return needle in haystack
    for match in re.finditer(re.escape(needle), haystack):
        start, end = match.start(), match.end()
        while start > 0 and haystack[start - 1].isdigit():
            start -= 1
        while end < len(haystack) and haystack[end].isdigit():
            end += 1
        if end - start < OPAQUE_DIGITS:
            return True
    return False


def scan_file(path: Path, needles: Iterable[str]) -> list[Hit]:
    needles = [n for n in needles if n]
    raw_upper = path.read_bytes().upper().decode("latin-1")  # byte for byte, ASCII upper-cased
    hits = [Hit(path.name, "raw bytes", n) for n in needles
            if contains(raw_upper, n.upper().encode("utf-8", "ignore").decode("latin-1"))]
    ds = pydicom.dcmread(path)
    for where, text in [*iter_values(ds.file_meta, "meta."), *iter_values(ds)]:
        up = text.upper()
        hits += [Hit(path.name, where, n) for n in needles if contains(up, n.upper())]
    return hits


def scan_tree(root: Path, needles: Iterable[str]) -> tuple[list[Hit], int]:
    needles = list(needles)
    hits: list[Hit] = []
    count = 0
    for path in sorted(root.rglob("*.dcm")):
        hits += scan_file(path, needles)
        count += 1
    return hits, count
