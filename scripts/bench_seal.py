"""Cost of sealing the mapping, per file, against the same work without sealing.

Usage::

    .venv/bin/python scripts/bench_seal.py --files 20000 --links-per-file 12

Three figures, each the median of ``--repeat`` runs:

* **sealing**: ``MappingWriter.add`` for one file's links (about 12 after the
  pipeline's per-run de-duplication of patient/study/series links), including
  segment encryption, signing, fsync every ``--segment-links`` links, and the
  trailer, minus the same loop feeding a sink that discards the links;
* **per-file baseline**: pydicom reading, editing eight identifying elements of,
  and writing ``CT_small.dcm`` in memory.  The pipeline does at least this
  much for every file, so the ratio printed is an upper bound of the overhead
  on a whole run (``--baseline-us`` replaces it with a measured whole-run
  figure, e.g. ``seconds / files`` from ``dicom-deid run`` without sealing);
* **custodian read-back**: opening the file and streaming every link back.

The mapping is written to ``--dir`` (default: a temporary folder) so fsync
cost is that of the disk under it.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pydicom
from pydicom.data import get_testdata_file

from dicom_deid.custodian import (
    generate_custodian_keys,
    load_custodian_private_key,
    load_or_create_signing_key,
    load_recipient_key,
)
from dicom_deid.links import Link, LinkKind
from dicom_deid.seal import MappingWriter, open_mapping

_PER_FILE_KINDS = [LinkKind.SOP_INSTANCE_UID, LinkKind.SOURCE_PATH] + [LinkKind.OTHER_UID] * 10


def make_files(files: int, links_per_file: int) -> list[list[Link]]:
    """Realistic sizes: 50-64 character UIDs, a source path, pseudonymous context."""
    out = []
    for f in range(files):
        patient, study, series = (
            f"PSEUDO{f // 500:08d}",
            f"2.25.{f // 100:038d}",
            f"2.25.{f // 10:039d}",
        )
        links = []
        for i in range(links_per_file):
            kind = _PER_FILE_KINDS[i % len(_PER_FILE_KINDS)]
            if kind is LinkKind.SOURCE_PATH:
                original = (
                    f"exports/2024/DOE^JOHN_{f // 500}/STUDY_{f // 100}/SER{f // 10}/IM{f:06d}"
                )
                replacement = f"{patient}/{study}/{series}/{f:06d}.dcm"
            else:
                original = f"1.2.840.113619.2.55.3.{f:010d}.{i:04d}.{f * 7919 % 10**9:09d}"
                replacement = f"2.25.{(f * 1000003 + i) * 2654435761:039d}"[:64]
            links.append(Link(kind, original, replacement, patient, study, series))
        out.append(links)
    return out


def _discard(files: list[list[Link]]) -> float:
    started = time.perf_counter()
    for links in files:
        for _ in links:
            pass
    return time.perf_counter() - started


def _seal(files: list[list[Link]], folder: Path, n: int, segment_links: int) -> tuple[float, Path]:
    recipient = load_recipient_key(folder / "custodian" / "custodian.pub")
    signer = load_or_create_signing_key(folder / "keys")
    path = folder / f"bench-{n}.ddmap"
    started = time.perf_counter()
    with MappingWriter.create(
        path, recipient, signer, f"bench-{n}", {"profile": "basic"}, segment_links=segment_links
    ) as writer:
        for links in files:
            writer.add(links)
    return time.perf_counter() - started, path


def _baseline_us(count: int) -> float:
    raw = Path(get_testdata_file("CT_small.dcm")).read_bytes()  # type: ignore[arg-type]
    started = time.perf_counter()
    for i in range(count):
        ds = pydicom.dcmread(io.BytesIO(raw))
        for keyword in (
            "PatientName",
            "PatientID",
            "PatientBirthDate",
            "AccessionNumber",
            "StudyInstanceUID",
            "SeriesInstanceUID",
            "SOPInstanceUID",
            "FrameOfReferenceUID",
        ):
            if keyword in ds:
                value = f"2.25.{i}" if keyword.endswith("UID") else "ANON"
                setattr(ds, keyword, "19000101" if keyword.endswith("Date") else value)
        ds.save_as(io.BytesIO(), enforce_file_format=True)
    return (time.perf_counter() - started) / count * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=20000)
    parser.add_argument("--links-per-file", type=int, default=12)
    parser.add_argument("--segment-links", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--dir", type=Path, help="where to write the mapping (fsync cost is that disk's)"
    )
    parser.add_argument(
        "--baseline-us", type=float, help="measured per-file time of a run without sealing"
    )
    args = parser.parse_args(argv)

    files = make_files(args.files, args.links_per_file)
    n_links = args.files * args.links_per_file
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        folder = Path(tmp)
        generate_custodian_keys(folder / "custodian")
        seal_s, discard_s = [], []
        path = folder / "none"
        for n in range(args.repeat):
            discard_s.append(_discard(files))
            seconds, path = _seal(files, folder, n, args.segment_links)
            seal_s.append(seconds)
        private = load_custodian_private_key(folder / "custodian" / "custodian.key")
        signer = load_or_create_signing_key(folder / "keys")
        started = time.perf_counter()
        view = open_mapping([path], private, trusted_signers=[signer.public])
        read_back = sum(1 for _ in view.links())
        read_s = time.perf_counter() - started
        size = path.stat().st_size
    assert read_back == n_links
    seal_us = (statistics.median(seal_s) - statistics.median(discard_s)) / args.files * 1e6
    if args.baseline_us:
        base_us, base_what = args.baseline_us, "given whole-run time without sealing"
    else:
        base_us = statistics.median(_baseline_us(300) for _ in range(args.repeat))
        base_what = (
            "pydicom read + edit + write of CT_small.dcm, a lower bound of per-file pipeline work"
        )
    print(
        f"sealing:   {seal_us:7.1f} us/file ({seal_us / args.links_per_file:.2f} us/link); "
        f"{args.files} files x {args.links_per_file} links, segments of {args.segment_links}, "
        f"{size / n_links:.0f} bytes/link on disk"
    )
    print(f"baseline:  {base_us:7.1f} us/file ({base_what})")
    print(f"overhead:  {seal_us / base_us:7.1%} of per-file time (aim < 5%)")
    print(
        f"read-back: {read_s / n_links * 1e6:7.2f} us/link (open, verify, decrypt, stream {n_links} links)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
