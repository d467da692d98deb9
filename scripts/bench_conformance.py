#!/usr/bin/env python3
"""Conformance and utility of the de-identified copy, per data set: dciodvfy errors, clinical
attributes, references.

    python scripts/bench_conformance.py [SET ...] [--profile basic] [--pixels off]
                                        [--max-files 150] [--workers 2] [--show 8]

Each SET is a folder of DICOM files (default: the public sets under ../public_dicom (or $DICOM_DEID_PUBLIC_DATA), see its
README; none of them is made by this project).  A set with more files than --max-files is sampled
evenly over its sorted file list (deterministic).  The script runs ``dicom-deid run`` on the set
with a fresh key, pairs every written output with its input through the manifest (keyed input
token), and prints one row per set:

* ``skip``: inputs that dciodvfy cannot read through ("Tags out of order", "read failed"): their
  outputs are not compared (the rest of the row leaves them out);
* ``in/out err``: dciodvfy "Error" lines summed over the paired inputs and outputs;
* ``more``: outputs with more dciodvfy errors than their input;
* ``new``: outputs with at least one error message their input does not have (compared message
  by message after replacing quoted values, so a new message counts even if another went away);
* ``clin``: written outputs whose clinical attributes changed, where "clinical" means a public
  top-level non-sequence attribute that PS3.15 Table E.1-1 does not list, whose VR is not PN,
  DA, DT, UI or UR, outside the file meta, and not one of the de-identification marks.  On a
  redacted image, Burned In Annotation, Lossy Image Compression (and its ratio and method) and
  Pixel Data may change as PS3.15/PS3.3 require, and Photometric Interpretation / Planar
  Configuration may change together with the transfer syntax (listed separately, "with the
  written transfer syntax"); anything else counts;
* ``refs``: references (Referenced SOP Instance UID, Referenced Frame of Reference UID, and the
  Study/Series Instance UIDs inside reference sequences) whose target was an input of the run,
  as ``resolved/expected`` (targets that were
  written); a reference resolves when the output holds, at that place, the UID of
  an output instance (or frame of reference / series / study) derived from the target.  ``gone``:
  those the profile removed with their place (a plain X row such as Request Attributes Sequence, a
  private sequence); the rest, ``expected - resolved - gone``, are broken links.

Then the new error messages with their counts, and the attributes that changed.  Exit status 1
when any output gained an error message or a clinical attribute changed.

``--encode`` checks the re-encoding of redacted pixels alone, on every decodable image of the
sets: each image is decoded as the pixel stage decodes it, an 8 x 8 box in its corner is blacked
out, and ``dicom_deid.pixels.encode.encode_frames`` writes it back; the row then gives dciodvfy
errors before and after, outputs with a new message, and the image attributes that changed
(``from -> to``), which are only those the written transfer syntax requires.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PUBLIC = Path(os.environ.get("DICOM_DEID_PUBLIC_DATA", Path(__file__).resolve().parents[2] / "public_dicom"))
DEFAULT_SETS = (
    "pydicom-test-files", "pypi-pydicom-data", "pydicom+pydicom-data", "pypi-deid-data",
    "ImagingDataCommons+highdicom", "dcm4che+dcm4che", "fo-dicom+fo-dicom", "microsoft+presidio",
    "mithp+dicom-redactor", "neurolabusc+dcm_qa", "neurolabusc+dcm_qa_agfa", "neurolabusc+dcm_qa_ge",
    "neurolabusc+dcm_qa_toshiba", "neurolabusc+dcm_qa_uih",
)
_VALUE = re.compile(r"(?i)(values?\s*=?\s*| = )<[^>]*>")  # a quoted value, not Element=<Keyword>
_UID = re.compile(r"(?<![\w.])[0-9]+(?:\.[0-9]+){2,}(?![\w.])|(?<=UID )[0-9.]+$")
_UNPARSED = ("Tags out of order", "read failed")  # dciodvfy could not read the whole input
_MARKS = frozenset({"PatientIdentityRemoved", "DeidentificationMethod", "LongitudinalTemporalInformationModified",
                    "BurnedInAnnotation"})
_REDACTION_MAY_CHANGE = frozenset({"BurnedInAnnotation", "LossyImageCompression", "LossyImageCompressionRatio",
                                   "LossyImageCompressionMethod", "PixelData"})
_IDENTITY_VRS = frozenset({"PN", "DA", "DT", "UI", "UR", "SQ"})
_REFERENCE_KEYWORDS = ("ReferencedSOPInstanceUID", "ReferencedFrameOfReferenceUID")
_NESTED_ENTITY_UIDS = ("SeriesInstanceUID", "StudyInstanceUID")


def _table_tags() -> frozenset[int]:
    """Tags PS3.15 Table E.1-1 lists (read from the vendored CSV, not from dicom-deid's code)."""
    with (ROOT / "profiles" / "source" / "table_E.1-1.csv").open(newline="", encoding="utf-8") as fh:
        return frozenset(int(r["tag_key"], 16) for r in csv.DictReader(fh) if r["tag_kind"] == "single")


def _in_table_mask(tag: int) -> bool:
    """The table's repeating-group rows: curves (50xx,xxxx) and overlays (60xx,3000), (60xx,4000)."""
    group = tag >> 16
    return (group & 0xFF00 == 0x5000) or (group & 0xFF00 == 0x6000 and tag & 0xFFFF in (0x3000, 0x4000))


def _dciodvfy(path: Path) -> Counter[str]:
    proc = subprocess.run(["dciodvfy", str(path)], capture_output=True, timeout=300, check=False)
    text = (proc.stdout + proc.stderr).decode("utf-8", "replace")  # bytes: a value may hold a CR
    lines = text.split("\n")
    return Counter(_UID.sub("UID", _VALUE.sub(r"\1<…>", ln.strip()))
                   for ln in lines if ln.strip().startswith("Error"))


def _sample(files: list[Path], limit: int) -> list[Path]:
    if len(files) <= limit:
        return files
    step = len(files) / limit
    return [files[int(i * step)] for i in range(limit)]


def _stage_inputs(folder: Path, limit: int, work: Path) -> Path:
    """A folder of links to (a sample of) the set's files, keeping their relative paths."""
    files = sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.lower().endswith((".md", ".txt")))
    staged = work / "in"
    for path in _sample(files, limit):
        target = staged / path.relative_to(folder)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(path.resolve())
    return staged


@dataclass
class SetResult:
    name: str
    inputs: int = 0
    written: int = 0
    quarantined: Counter[str] = field(default_factory=Counter)
    errors_in: int = 0
    errors_out: int = 0
    more: int = 0
    new_files: int = 0
    new_messages: Counter[str] = field(default_factory=Counter)
    clinical_files: int = 0
    clinical_changes: Counter[str] = field(default_factory=Counter)
    refs_expected: int = 0
    refs_resolved: int = 0
    refs_gone: int = 0
    syntax_changes: Counter[str] = field(default_factory=Counter)  # see _clinical_changes  # at a place the profile removes (a plain X row, a private sequence)
    redacted: int = 0
    unparsed: int = 0  # inputs dciodvfy cannot read through: not compared
    per_file: list[tuple[str, list[str]]] = field(default_factory=list)  # input path, new messages/changes


def _walk_values(ds: object, keyword: str, in_sequence: bool = False) -> Iterator[tuple[str, str]]:
    """(location, value) of every ``keyword`` element; nested only if ``in_sequence``."""
    from pydicom.dataset import Dataset
    from pydicom.multival import MultiValue

    assert isinstance(ds, Dataset)

    def walk(d: Dataset, where: str, depth: int) -> Iterator[tuple[str, str]]:
        for elem in d:
            if elem.VR == "SQ":
                for i, item in enumerate(elem.value or ()):
                    yield from walk(item, f"{where}{elem.keyword}[{i}].", depth + 1)
            elif elem.keyword == keyword and (depth > 0 or not in_sequence):
                values = elem.value if isinstance(elem.value, MultiValue | list) else [elem.value]
                for v in values:
                    yield f"{where}{keyword}", str(v).strip().rstrip("\x00")

    return walk(ds, "", 0)


def _references(ds: object) -> list[tuple[str, str, str]]:
    """(kind, location, uid) of the references a dataset makes to other objects."""
    out = []
    for kw in _REFERENCE_KEYWORDS:
        out += [(kw, loc, v) for loc, v in _walk_values(ds, kw)]
    for kw in _NESTED_ENTITY_UIDS:
        out += [(kw, loc, v) for loc, v in _walk_values(ds, kw, in_sequence=True)]
    return out


def _targets(ds: object) -> dict[str, set[str]]:
    from pydicom.dataset import Dataset

    assert isinstance(ds, Dataset)
    frames = {v for _, v in _walk_values(ds, "FrameOfReferenceUID")}
    return {
        "ReferencedSOPInstanceUID": {str(ds.get("SOPInstanceUID", ""))},
        "ReferencedFrameOfReferenceUID": frames,
        "SeriesInstanceUID": {str(ds.get("SeriesInstanceUID", ""))},
        "StudyInstanceUID": {str(ds.get("StudyInstanceUID", ""))},
    }


_WITH_SYNTAX = ("PhotometricInterpretation", "PlanarConfiguration")


def _clinical_changes(src: object, out: object, table: frozenset[int], redacted: bool) -> tuple[list[str], list[str]]:
    """(clinical attributes changed, colour attributes changed together with the transfer syntax
    of a redacted image: the written syntax cannot carry the source's form)."""
    from pydicom.dataset import Dataset

    assert isinstance(src, Dataset) and isinstance(out, Dataset)
    syntax_changed = redacted and src.file_meta.get("TransferSyntaxUID") != out.file_meta.get("TransferSyntaxUID")
    changed, with_syntax = [], []
    for elem in src:
        tag = int(elem.tag)
        if (elem.tag.is_private or elem.tag.element == 0 or tag in table or _in_table_mask(tag)
                or elem.VR in _IDENTITY_VRS or tag >> 16 == 0x0002):
            continue
        keyword = elem.keyword
        if not keyword or keyword in _MARKS or (redacted and keyword in _REDACTION_MAY_CHANGE):
            continue
        if tag not in out or out[tag].value != elem.value:
            shown = f"{keyword} {elem.value} -> {out.get(keyword)}" if keyword in _WITH_SYNTAX else keyword
            (with_syntax if syntax_changed and keyword in _WITH_SYNTAX else changed).append(shown)
    for keyword in _WITH_SYNTAX:  # also when added
        if keyword not in src and keyword in out:
            (with_syntax if syntax_changed else changed).append(f"{keyword} (absent) -> {out.get(keyword)}")
    return changed, with_syntax


def bench_set(name: str, folder: Path, args: argparse.Namespace, table: frozenset[int]) -> SetResult:
    import pydicom

    from dicom_deid.cli import main
    from dicom_deid.keys import create_secret_key, load_secret_key
    from dicom_deid.manifest import MANIFEST_NAME, read_manifest
    from dicom_deid.remap import Remapper
    from dicom_deid.walk import read_bytes, walk_inputs

    result = SetResult(name)
    with tempfile.TemporaryDirectory(prefix="bench-conf-") as tmp_name:
        tmp = Path(tmp_name)
        staged = _stage_inputs(folder, args.max_files, tmp)
        key = tmp / "keys" / "secret.key"
        key.parent.mkdir(mode=0o700)
        create_secret_key(key)
        out = tmp / "out"
        argv = ["run", str(staged), str(out), "--key-file", str(key), "--profile", args.profile,
                "--pixels", args.pixels, "--quiet", "--workers", str(args.workers)]
        if args.documents:
            argv += ["--documents", args.documents]
        main(argv)
        remapper = Remapper(load_secret_key(key))
        rows = {r["input_id"]: r for r in read_manifest(out / MANIFEST_NAME) if r.get("type") == "file"}
        refs = list(walk_inputs(staged))
        result.inputs = len(refs)
        pairs: list[tuple[Path, Path, bool]] = []
        sources: dict[str, pydicom.Dataset] = {}
        for ref in refs:
            row = rows.get(remapper.keyed_id(ref.relative_to(staged)), {})
            if row.get("outcome") == "quarantined":
                result.quarantined[str(row.get("reason"))] += 1
            if row.get("outcome") != "written":
                continue
            result.written += 1
            redacted = bool((row.get("pixels") or {}).get("redacted"))
            result.redacted += redacted
            if ref.member is None:
                src_path = ref.path
            else:
                src_path = tmp / "members" / f"{ref.ordinal}.dcm"
                src_path.parent.mkdir(exist_ok=True)
                src_path.write_bytes(read_bytes(ref))
            pairs.append((src_path, out / row["output"], redacted))

        def check(pair: tuple[Path, Path, bool]) -> tuple[Counter[str], Counter[str], tuple[list[str], list[str]],
                                                          object, object]:
            src_path, out_path, redacted = pair
            src = pydicom.dcmread(src_path, force=True)
            dst = pydicom.dcmread(out_path)
            return (_dciodvfy(src_path), _dciodvfy(out_path), _clinical_changes(src, dst, table, redacted),
                    src, dst)

        outputs = []
        with ThreadPoolExecutor(max(1, args.workers)) as pool:
            for pair, (before, after, (changed, with_syntax), src, dst) in zip(pairs, pool.map(check, pairs),
                                                                                strict=True):
                result.syntax_changes.update(with_syntax)
                sources[str(getattr(src, "SOPInstanceUID", ""))] = src
                outputs.append(dst)
                shown = str(pair[0].relative_to(staged)) if pair[0].is_relative_to(staged) else str(pair[0])
                if any(u in msg for msg in before for u in _UNPARSED):
                    result.unparsed += 1
                    result.per_file.append((shown, ["(not compared: dciodvfy cannot read the input through)",
                                                    *sorted(after - before)]))
                    continue
                if after - before or changed:
                    result.per_file.append((shown, sorted(after - before) + [f"changed {c}" for c in changed]))
                result.errors_in += sum(before.values())
                result.errors_out += sum(after.values())
                result.more += sum(after.values()) > sum(before.values())
                new = after - before
                result.new_files += bool(new)
                result.new_messages.update(new)
                result.clinical_files += bool(changed)
                result.clinical_changes.update(changed)
        _count_references(result, list(sources.values()), outputs, remapper)
    return result


def _count_references(result: SetResult, sources: list[object], outputs: list[object], remapper: object) -> None:
    """Expected: input references whose target is an input that was written.  Resolved: the output
    holds, at the same place, a UID that names an output target of that kind."""
    from dicom_deid.remap import Remapper

    assert isinstance(remapper, Remapper)
    in_targets: dict[str, set[str]] = {}
    out_targets: dict[str, set[str]] = {}
    for ds in sources:
        for kind, uids in _targets(ds).items():
            in_targets.setdefault(kind, set()).update(uids)
    for ds in outputs:
        for kind, uids in _targets(ds).items():
            out_targets.setdefault(kind, set()).update(uids)
    by_sop = {str(getattr(d, "SOPInstanceUID", "")): d for d in outputs}
    for src in sources:
        dst = by_sop.get(remapper.uid(str(getattr(src, "SOPInstanceUID", ""))))
        if dst is None:
            continue
        out_refs = {(kind, loc): uid for kind, loc, uid in _references(dst)}
        for kind, loc, uid in _references(src):
            if uid not in in_targets.get(kind, set()):
                continue
            result.refs_expected += 1
            new = out_refs.get((kind, loc))
            if new is None:
                result.refs_gone += 1
            elif new in out_targets.get(kind, set()) and new == remapper.uid(uid):
                result.refs_resolved += 1


_IMAGE_ATTRIBUTES = ("PhotometricInterpretation", "PlanarConfiguration", "SamplesPerPixel", "BitsAllocated",
                     "BitsStored", "HighBit", "PixelRepresentation", "Rows", "Columns", "NumberOfFrames")


def bench_encode(name: str, folder: Path, args: argparse.Namespace) -> SetResult:
    """Decode, black out a corner, re-encode: dciodvfy and image attributes before and after."""
    import pydicom

    from dicom_deid.errors import DeidError
    from dicom_deid.pixels.decode import decode_pixels
    from dicom_deid.pixels.encode import encode_frames

    result = SetResult(name)
    files = _sample(sorted(p for p in folder.rglob("*") if p.is_file()), args.max_files)
    with tempfile.TemporaryDirectory(prefix="bench-enc-") as tmp_name:
        tmp = Path(tmp_name)

        def one(i: int, path: Path) -> tuple[str, Path, Path, list[str]] | None:
            try:
                src = pydicom.dcmread(path)
                if "PixelData" not in src or "TransferSyntaxUID" not in src.file_meta:
                    return None
                decoded = decode_pixels(src)
                frames = decoded.frames.copy()
                frames[:, :8, :8] = frames.min()
                target = pydicom.dcmread(path)
                syntax_in = str(target.file_meta.TransferSyntaxUID)
                encode_frames(target, frames, decoded.facts)
                out = tmp / f"{i}.dcm"
                target.save_as(out, enforce_file_format=False)
            except (DeidError, ValueError, TypeError, AttributeError, KeyError, OSError, NotImplementedError,
                    RuntimeError, pydicom.errors.InvalidDicomError):
                return None
            changed = [f"{kw} {src.get(kw)} -> {target.get(kw)}" for kw in _IMAGE_ATTRIBUTES
                       if src.get(kw) != target.get(kw)]
            if str(target.file_meta.TransferSyntaxUID) != syntax_in:
                changed.append("TransferSyntaxUID -> Explicit VR Little Endian")
            return str(path.relative_to(folder)), path, out, changed

        # codecs run one at a time in this thread (some are not thread-safe); dciodvfy in parallel
        encoded = [one(i, path) for i, path in enumerate(files)]
        result.inputs = len(files)
        done = [e for e in encoded if e is not None]
        with ThreadPoolExecutor(max(1, args.workers)) as pool:
            checks = pool.map(lambda e: (_dciodvfy(e[1]), _dciodvfy(e[2])), done)
            for (shown, _, _, changed), (before, after) in zip(done, checks, strict=True):
                result.written += 1
                if any(u in msg for msg in before for u in _UNPARSED):
                    result.unparsed += 1
                    continue
                result.errors_in += sum(before.values())
                result.errors_out += sum(after.values())
                result.more += sum(after.values()) > sum(before.values())
                new = after - before
                result.new_files += bool(new)
                result.new_messages.update(new)
                result.clinical_changes.update(c for c in changed if not c.startswith("TransferSyntaxUID"))
                if new or changed:
                    result.per_file.append((shown, sorted(new) + changed))
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sets", nargs="*", type=Path, help="folders (default: the public sets)")
    parser.add_argument("--profile", default="basic")
    parser.add_argument("--pixels", default="off", choices=("off", "auto", "all"))
    parser.add_argument("--documents", choices=("quarantine", "drop", "keep"), default=None)
    parser.add_argument("--max-files", type=int, default=150, help="sample larger sets down to this many files")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--show", type=int, default=8, help="new messages / changed attributes to list")
    parser.add_argument("--json", type=Path, help="also write the results as JSON")
    parser.add_argument("--files", action="store_true", help="list each file with a new error or a change")
    parser.add_argument("--encode", action="store_true", help="check re-encoding after a redaction only")
    args = parser.parse_args(argv)
    if shutil.which("dciodvfy") is None:
        print("dciodvfy not found: install Debian dicom3tools", file=sys.stderr)
        return 2
    import logging
    import warnings

    logging.getLogger("pydicom").setLevel(logging.CRITICAL)
    warnings.filterwarnings("ignore")
    sets = args.sets or [PUBLIC / s for s in DEFAULT_SETS if (PUBLIC / s).is_dir()]
    table = _table_tags()
    results = []
    print(f"profile {args.profile}, pixels {args.pixels}, at most {args.max_files} files per set")
    print(f"{'set':32s} {'in':>5s} {'wrote':>5s} {'quar':>4s} {'in err':>7s} {'out err':>7s} {'more':>4s} "
          f"{'new':>4s} {'clin':>4s} {'skip':>4s} {'refs':>11s} {'gone':>4s}")
    for folder in sets:
        stdout, stderr = sys.stdout, sys.stderr
        sys.stdout = sys.stderr = io.StringIO()  # the CLI's summary lines
        try:
            res = bench_encode(folder.name, folder, args) if args.encode else bench_set(folder.name, folder, args, table)
        finally:
            sys.stdout, sys.stderr = stdout, stderr
        results.append(res)
        print(f"{res.name[:32]:32s} {res.inputs:5d} {res.written:5d} {sum(res.quarantined.values()):4d} "
              f"{res.errors_in:7d} {res.errors_out:7d} {res.more:4d} {res.new_files:4d} {res.clinical_files:4d} "
              f"{res.unparsed:4d} "
              f"{res.refs_resolved:5d}/{res.refs_expected:<5d} {res.refs_gone:4d}", flush=True)
    total = SetResult("total")
    for res in results:
        for name in ("inputs", "written", "errors_in", "errors_out", "more", "new_files", "clinical_files",
                     "refs_expected", "refs_resolved", "refs_gone", "redacted", "unparsed"):
            setattr(total, name, getattr(total, name) + getattr(res, name))
        total.quarantined.update(res.quarantined)
        total.new_messages.update(res.new_messages)
        total.clinical_changes.update(res.clinical_changes)
        total.syntax_changes.update(res.syntax_changes)
    print(f"{'total':32s} {total.inputs:5d} {total.written:5d} {sum(total.quarantined.values()):4d} "
          f"{total.errors_in:7d} {total.errors_out:7d} {total.more:4d} {total.new_files:4d} "
          f"{total.clinical_files:4d} {total.unparsed:4d} {total.refs_resolved:5d}/{total.refs_expected:<5d} {total.refs_gone:4d}")
    print(f"quarantined by reason: {dict(total.quarantined.most_common())}; redacted images: {total.redacted}")
    for change, n in total.syntax_changes.most_common():
        print(f"  with the written transfer syntax (redacted images): x{n} {change}")
    for res in results:
        for msg, n in res.new_messages.most_common(args.show):
            print(f"  new  {res.name[:24]:24s} x{n:<3d} {msg[:150]}")
        for kw, n in res.clinical_changes.most_common(args.show):
            print(f"  clin {res.name[:24]:24s} x{n:<3d} {kw}")
    if args.files:
        for res in results:
            for shown, problems in res.per_file:
                print(f"  file {res.name[:24]:24s} {shown}: " + " | ".join(p[:120] for p in problems))
    if args.json:
        args.json.write_text(json.dumps([{**r.__dict__, "quarantined": dict(r.quarantined),
                                          "new_messages": dict(r.new_messages),
                                          "clinical_changes": dict(r.clinical_changes),
                                          "syntax_changes": dict(r.syntax_changes)} for r in results],
                                        indent=1))
    broken = total.refs_expected - total.refs_resolved - total.refs_gone
    failed = total.new_files or total.clinical_files or broken
    return 1 if failed else 0


if __name__ == "__main__":
    os.environ.setdefault("DICOM_DEID_HOME", tempfile.mkdtemp(prefix="bench-conf-home-"))
    raise SystemExit(main())
