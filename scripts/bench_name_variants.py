#!/usr/bin/env python3
"""How often name matching in other spellings hits ordinary words of real files.

Usage::

    python scripts/bench_name_variants.py [--root ../public_dicom (or $DICOM_DEID_PUBLIC_DATA)] [--sets NAME,...] [--names-from all|own]

Reads every DICOM file under the chosen public sets (header only) and collects the person names
(every PN value) and the free text (LO, LT, SH, ST, UT, UC values that are not names).  Then, for
each text, it asks ``clean`` (``PatientIdentifiers(...).pattern()``) and verify's
``NameIndex.search`` to find the names in other spellings: spelling variants, parts split across
lines or spaced out, initials.  Exact matches are not counted: they are the name itself.

With ``--names-from all`` (the default, a stress test) every text is searched for the names of
*every* file of the set, so each hit is a false positive unless a file quotes another's
name; ``own`` searches each file's text for its own names only, as a run does.  The script prints
the words examined, the words each layer takes for a name, and those words.

Tune/report split: thresholds were tuned on pydicom-test-files, neurolabusc+dcm_qa and
fo-dicom; the other sets are reported.
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import sys
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TEXT_VRS = frozenset({"LO", "LT", "SH", "ST", "UT", "UC"})
TUNED = ("pydicom-test-files", "neurolabusc+dcm_qa", "fo-dicom+fo-dicom")
_WORD = re.compile(r"[^\W\d_]+")


def _read(path: Path) -> tuple[list[str], list[str]]:
    import pydicom

    names: list[str] = []
    texts: list[str] = []
    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True, force=True)
        for elem in ds.iterall():
            if elem.VR == "PN" and elem.value:
                values = elem.value if isinstance(elem.value, list | tuple) or type(elem.value).__name__ == \
                    "MultiValue" else [elem.value]
                names += [str(v) for v in values if str(v).strip()]
            elif elem.VR in TEXT_VRS and isinstance(elem.value, str) and elem.value.strip():
                texts.append(elem.value)
    except Exception:  # noqa: BLE001 - a benchmark skips what pydicom cannot read
        return [], []
    return names, texts


def _files(root: Path, per_folder: int) -> list[Path]:
    out = []
    for folder in sorted({p.parent for p in root.rglob("*") if p.is_file()}):
        files = sorted(p for p in folder.iterdir() if p.is_file())
        step = max(1, -(-len(files) // per_folder))
        out += files[::step]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=Path(os.environ.get("DICOM_DEID_PUBLIC_DATA", Path(__file__).resolve().parents[2] / "public_dicom")))
    parser.add_argument("--sets", default="", help="comma-separated folder names under --root (default: all)")
    parser.add_argument("--names-from", choices=("all", "own"), default="all")
    parser.add_argument("--per-folder", type=int, default=20, help="files per folder, evenly spaced (default 20)")
    args = parser.parse_args(argv)

    from dicom_deid.clean import REDACTED, PatientIdentifiers
    from dicom_deid.verify.names import NameIndex, Spelling

    warnings.simplefilter("ignore")
    sets = [s for s in args.sets.split(",") if s] or sorted(p.name for p in args.root.iterdir() if p.is_dir())
    print(f"names from: {args.names_from} files of the set; exact matches not counted\n")
    print(f"{'set':34s} {'files':>5s} {'names':>5s} {'words':>7s} {'clean':>6s} {'verify':>6s}  words taken for names")
    for name in sets:
        per_file = [_read(p) for p in _files(args.root / name, args.per_folder)]
        per_file = [(n, t) for n, t in per_file if n or t]
        all_names = sorted({n for names, _ in per_file for n in names})
        everyone = PatientIdentifiers.build(all_names, [], []).pattern()
        index = NameIndex()
        for n in all_names:
            index.add(n, "PN", 1)
        words = 0
        clean_hits: collections.Counter[str] = collections.Counter()
        verify_hits: collections.Counter[str] = collections.Counter()
        for names, texts in per_file:
            if args.names_from == "own":
                pattern = PatientIdentifiers.build(names, [], []).pattern()
                own = NameIndex()
                for n in names:
                    own.add(n, "PN", 1)
            else:
                pattern, own = everyone, index
            for text in texts:
                found = _WORD.findall(text)
                words += len(found)
                if pattern is not None and pattern.names is not None:
                    cleaned = pattern.names.sub(REDACTED, text)
                    if cleaned != text:
                        kept = set(_WORD.findall(cleaned))
                        clean_hits.update(w for w in found if w not in kept)
                for hit in own.search(text, None):
                    if hit.spelling in (Spelling.VARIANT, Spelling.SPLIT, Spelling.INITIAL) and hit.distinctive:
                        verify_hits[hit.word] += 1
        mark = "*" if name in TUNED else " "
        shown = ", ".join(f"{w}" for w, _ in (clean_hits + verify_hits).most_common(12))
        print(f"{name + mark:34s} {len(per_file):5d} {len(all_names):5d} {words:7d} {sum(clean_hits.values()):6d} "
              f"{sum(verify_hits.values()):6d}  {shown}")
    print("\n(* tuned on; the others are reported)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
