"""Reference table of the PHI planted in the synthetic corpus, like pydicom's ``PIXEL_REFERENCE``.

The generator is ``scripts/make_sample_data.py`` (one implementation, also used by the demo);
this module loads it and adds the helpers that tests of the pipeline need::

    corpus = generate_corpus(tmp_path / "in", bad_inputs=True)
    ...  # de-identify corpus.root into out/
    assert find_leaks(out.rglob("*"), corpus.phi_strings() | corpus.original_uids) == []

``corpus.planted`` lists every planted value with its category, location and patient label;
``values_at(ds, item.keyword_or_location)`` reads that location back from a dataset.
"""

from __future__ import annotations

import importlib.util
import re
import sys
import zipfile
from collections.abc import Iterable, Iterator
from io import BytesIO
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from pydicom import Dataset, dcmread
from pydicom.datadict import tag_for_keyword
from pydicom.dataelem import DataElement
from pydicom.multival import MultiValue

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "make_sample_data.py"


def _load_generator() -> ModuleType:
    """Import the script as module ``make_sample_data`` (registered so dataclasses resolve)."""
    name = "make_sample_data"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, SCRIPT)
    assert spec is not None and spec.loader is not None, SCRIPT
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


if TYPE_CHECKING:
    from scripts.make_sample_data import (
        BUNDLED_DIR,
        PHI_PRIVATE_CREATOR,
        SAFE_PRIVATE_CREATOR,
        TEMPLATE_FILES,
        UID_ROOT,
        Corpus,
        PlantedItem,
        generate_bench,
        generate_corpus,
        main,
        make_bad_inputs,
    )
else:
    _gen = _load_generator()
    BUNDLED_DIR = _gen.BUNDLED_DIR
    PHI_PRIVATE_CREATOR = _gen.PHI_PRIVATE_CREATOR
    SAFE_PRIVATE_CREATOR = _gen.SAFE_PRIVATE_CREATOR
    TEMPLATE_FILES = _gen.TEMPLATE_FILES
    UID_ROOT = _gen.UID_ROOT
    Corpus = _gen.Corpus
    PlantedItem = _gen.PlantedItem
    generate_bench = _gen.generate_bench
    generate_corpus = _gen.generate_corpus
    make_bad_inputs = _gen.make_bad_inputs
    main = _gen.main  # the script's CLI: main(argv) -> exit code

__all__ = [
    "BUNDLED_DIR",
    "PHI_PRIVATE_CREATOR",
    "SAFE_PRIVATE_CREATOR",
    "TEMPLATE_FILES",
    "UID_ROOT",
    "Corpus",
    "PlantedItem",
    "find_leaks",
    "generate_bench",
    "generate_corpus",
    "iter_datasets",
    "main",
    "make_bad_inputs",
    "values_at",
]

_SEGMENT = re.compile(
    r'(?:\((?P<group>[0-9A-Fa-f]{4}),xx(?P<elem>[0-9A-Fa-f]{2}),"(?P<creator>[^"]+)"\)'
    r"|(?P<keyword>[A-Za-z0-9]+))(?:\[(?P<index>\d+)\])?(?:\.|$)"
)


def values_at(ds: Dataset, location: str) -> list[str]:
    """The values at a ``PlantedItem.keyword_or_location`` in ``ds``, as text ([] if absent).

    ``location`` is a keyword (``PatientName``), a path (``RequestAttributesSequence[0].
    AccessionNumber``; a sequence without ``[i]`` is searched in every item) or a private
    element by creator (``(0029,xx10,"ACME PHI 1.0")``). Multi-valued elements are joined
    with a backslash, as encoded."""
    current = [ds]
    pos = 0
    while True:
        m = _SEGMENT.match(location, pos)
        if m is None or m.end() == pos:
            raise ValueError(f"cannot parse location {location!r} at offset {pos}")
        pos = m.end()
        found = [e for item in current if (e := _element(item, m)) is not None]
        if pos >= len(location):
            return [_as_text(e.value) for e in found if e.VR != "SQ"]
        index = None if m["index"] is None else int(m["index"])
        current = []
        for elem in found:
            if elem.VR == "SQ":
                items = list(elem.value)
                current.extend(items if index is None else items[index : index + 1])


def _element(ds: Dataset, m: re.Match[str]) -> DataElement | None:
    if m["keyword"]:
        tag = tag_for_keyword(m["keyword"])
        if tag is None:
            raise ValueError(f"unknown DICOM keyword {m['keyword']!r} in location")
        return ds.get(tag)  # by tag, get() returns the DataElement
    try:
        return ds.private_block(int(m["group"], 16), m["creator"])[int(m["elem"], 16)]
    except KeyError:
        return None


def _as_text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("latin-1")
    if isinstance(value, list | tuple | MultiValue):
        return "\\".join(str(v) for v in value)
    return "" if value is None else str(value)


def iter_datasets(corpus: Corpus) -> Iterator[tuple[str, Dataset]]:
    """Every valid instance of the corpus as (name, dataset): ``dicom_files``, then the members
    of ``zip_files`` (named ``archive.zip!member``). Bad inputs and DICOMDIR are not included."""
    for path in corpus.dicom_files:
        yield path.relative_to(corpus.root).as_posix(), dcmread(path)
    for zpath in corpus.zip_files:
        with zipfile.ZipFile(zpath) as zf:
            for name in zf.namelist():
                yield f"{zpath.name}!{name}", dcmread(BytesIO(zf.read(name)))


def find_leaks(paths: Iterable[Path], needles: Iterable[str]) -> list[tuple[Path, str]]:
    """Raw byte scan: (file, needle) for every needle found in a file's bytes or in its path.

    Needles are searched as ASCII/Latin-1 bytes, exactly as written (case-sensitive; the
    planted case variants are separate needles). Folders in ``paths`` are checked by name."""
    encoded = [(n, n.encode("latin-1")) for n in sorted(set(needles))]
    leaks: list[tuple[Path, str]] = []
    for path in paths:
        data = path.read_bytes() if path.is_file() else b""
        leaks.extend((path, n) for n, b in encoded if b in data or n in path.as_posix())
    return leaks
