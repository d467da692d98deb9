#!/usr/bin/env python3
"""Which pixel decoder handles each transfer syntax, measured on real files.

    python scripts/decoder_table.py [FOLDER ...] [--plugins] [--repeat 3]

Default folders: pydicom's bundled test files and, when installed (``pip install
pydicom-data``), pydicom-data's files.  Every file with Pixel Data is read as ``dicom-deid run``
reads it, then:

* without ``--plugins``: prints the README's decoder table, one row per transfer syntax:
  how many files, which plugin decoded them in dicom-deid's order (``PLUGIN_ORDER``), and what
  ``run`` can do with them: *redactable* (decoded, and the redacted frames re-encode; the
  syntax written is shown) or *passes through untouched* (pixels copied byte for byte when they
  need no change; quarantined as ``unsupported_transfer_syntax`` when they must be examined).
* with ``--plugins``: times every installed plugin on every file (median of ``--repeat``
  decodes, CPU seconds of this process) and prints, per syntax, how many files each plugin
  decodes, its median time and whether its output agrees with the others; the winner (most
  files, then fastest) is what ``PLUGIN_ORDER`` in ``dicom_deid/pixels/decode.py`` should list
  first.  Measure on one set of files and check the order on another.
* with ``--corrupt N``: N corrupted copies of each compressed file (flipped bytes, cut
  fragments, overwritten runs; seeded) go to every installed plugin, each in a child process,
  and it prints per syntax how many each plugin decoded, rejected with an exception, or
  *crashed on* (the process died: a library abort or segfault, which would end a run).
"""

from __future__ import annotations

import argparse
import copy
import logging
import statistics
import sys
import time
import warnings
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def default_folders() -> list[tuple[str, Path]]:
    import pydicom.data

    folders = [("pydicom", Path(pydicom.data.__file__).parent / "test_files")]
    try:
        import data_store  # pydicom-data

        folders.append(("pydicom-data", Path(data_store.__file__).parent / "data"))
    except ImportError:
        print("note: pydicom-data is not installed (pip install pydicom-data): its files are left out",
              file=sys.stderr)
    return folders


def pixel_files(folder: Path):
    """(path, dataset) of every readable file under ``folder`` that holds Pixel Data."""
    from dicom_deid.errors import DeidError
    from dicom_deid.read import parse_dicom

    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        try:
            ds = parse_dicom(path.read_bytes(), where=str(path))
        except DeidError as exc:
            if exc.reason.value == "unsupported_transfer_syntax":
                yield path, exc  # unreadable syntax: reported as such
            continue
        if "PixelData" in ds and hasattr(ds, "file_meta") and "TransferSyntaxUID" in ds.file_meta:
            yield path, ds


def _cpu() -> float:
    return time.process_time()


def _decode_with(ds, plugin: str):
    from pydicom.pixels.decoders.base import get_decoder

    decoder = get_decoder(ds.file_meta.TransferSyntaxUID)
    arr, _ = decoder.as_array(ds, as_rgb=False, decoding_plugin=plugin)
    return arr


def measure_plugins(folders: list[tuple[str, Path]], repeat: int) -> None:
    from pydicom.pixels.decoders.base import get_decoder

    from dicom_deid.read import syntax_name

    stats: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    ok: dict[str, Counter[str]] = defaultdict(Counter)
    disagree: dict[str, Counter[str]] = defaultdict(Counter)
    files: Counter[str] = Counter()
    for _, folder in folders:
        for path, ds in pixel_files(folder):
            if isinstance(ds, Exception):
                continue
            uid = str(ds.file_meta.TransferSyntaxUID)
            try:
                decoder = get_decoder(uid)
            except NotImplementedError:
                continue
            if not decoder.UID.is_compressed:
                continue
            files[uid] += 1
            arrays = {}
            for plugin in decoder.available_plugins:
                times = []
                try:
                    for _ in range(repeat):
                        t0 = _cpu()
                        arr = _decode_with(ds, plugin)
                        times.append(_cpu() - t0)
                except Exception:  # noqa: BLE001, S112 - a plugin failing on a file is what we measure
                    continue
                ok[uid][plugin] += 1
                stats[uid][plugin].append(statistics.median(times))
                arrays[plugin] = arr
            if len(arrays) > 1:
                ref = max(arrays, key=lambda p: ok[uid][p])
                for plugin, arr in arrays.items():
                    if arr.shape != arrays[ref].shape or not np.array_equal(arr, arrays[ref]):
                        disagree[uid][plugin] += 1
    print("| transfer syntax | files | plugin | decodes | median CPU ms | differs from the others |")
    print("| --- | --- | --- | --- | --- | --- |")
    for uid in sorted(files, key=lambda u: [int(x) for x in u.split(".")]):
        ranked = sorted(ok[uid], key=lambda p: (-ok[uid][p], statistics.median(stats[uid][p])))
        for i, plugin in enumerate(ranked):
            med = statistics.median(stats[uid][plugin]) * 1000
            label = f"**{plugin}**" if i == 0 else plugin
            print(f"| {syntax_name(uid)} `{uid}` | {files[uid]} | {label} | {ok[uid][plugin]} | {med:.1f} | "
                  f"{disagree[uid][plugin]} |")


def decoder_table(folders: list[tuple[str, Path]]) -> list[str]:
    """Rows of the README table (markdown)."""
    from dicom_deid.errors import DeidError, UnsupportedTransferSyntax
    from dicom_deid.pixels.decode import decode_pixels
    from dicom_deid.pixels.encode import encode_frames
    from dicom_deid.read import shown_uid, syntax_name

    count: dict[str, Counter[str]] = defaultdict(Counter)
    used: dict[str, Counter[str]] = defaultdict(Counter)
    outcome: dict[str, Counter[str]] = defaultdict(Counter)
    for label, folder in folders:
        for path, ds in pixel_files(folder):
            if isinstance(ds, UnsupportedTransferSyntax):
                uid = ds.uid
                count[uid][label] += 1
                outcome[uid]["unknown syntax: quarantined"] += 1
                continue
            uid = shown_uid(ds.file_meta.TransferSyntaxUID)
            count[uid][label] += 1
            try:
                decoded = decode_pixels(ds)
                target = copy.deepcopy(ds)
                result = encode_frames(target, decoded.frames, decoded.facts)
                back = decode_pixels(target)
                if not np.array_equal(back.frames, decoded.frames):
                    raise ValueError("re-encoded frames differ")
            except UnsupportedTransferSyntax:
                outcome[uid]["passes through untouched"] += 1
                used[uid]["none"] += 1
                continue
            except (DeidError, ValueError, RuntimeError) as exc:
                reason = getattr(getattr(exc, "reason", None), "value", "pixel_error")
                outcome[uid][f"passes through untouched ({reason} when examined)"] += 1
                used[uid]["fails"] += 1
                print(f"{label}/{path.relative_to(folder)}: {reason}: {str(exc).split(': ', 1)[-1][:160]}",
                      file=sys.stderr)
                continue
            used[uid][decoded.plugin or "native"] += 1
            written = "same syntax" if str(result.transfer_syntax) == uid else syntax_name(result.transfer_syntax)
            outcome[uid][f"redactable ({written})"] += 1
    labels = [label for label, _ in folders]
    rows = ["| transfer syntax | files (" + " / ".join(labels) + ") | decoder used | what `run` does with them |",
            "| --- | --- | --- | --- |"]
    for uid in sorted(count, key=lambda u: [int(x) for x in u.split(".")] if u[0].isdigit() else [10**9]):
        files = " / ".join(str(count[uid][label]) for label in labels)
        dec = ", ".join(f"{name} {n}" for name, n in used[uid].most_common()) or "none"
        what = ", ".join(f"{kind}: {n}" for kind, n in outcome[uid].most_common())
        rows.append(f"| {syntax_name(uid)} `{uid}` | {files} | {dec} | {what} |")
    return rows


def _corrupt_variants(folders: list[tuple[str, Path]], n: int, seed: int) -> list[tuple[str, str, bytes]]:
    """(syntax, file, corrupted Pixel Data) for every compressed file with a decoder."""
    import random

    rng = random.Random(seed)
    out = []
    for _, folder in folders:
        for path, ds in pixel_files(folder):
            if isinstance(ds, Exception) or not ds.file_meta.TransferSyntaxUID.is_compressed:
                continue
            pixels = bytes(ds.PixelData)
            for _ in range(n):
                data = bytearray(pixels)
                kind = rng.randrange(3)
                if kind == 0:
                    for _ in range(rng.randint(1, 20)):
                        data[rng.randrange(16, len(data))] ^= rng.randrange(1, 256)
                elif kind == 1:
                    data = data[:rng.randrange(16, len(data))] + b"\xfe\xff\xdd\xe0\x00\x00\x00\x00"
                else:
                    at = rng.randrange(16, max(17, len(data) - 16))
                    data[at:at + 16] = rng.randbytes(16)
                out.append((str(ds.file_meta.TransferSyntaxUID), str(path), bytes(data)))
    return out


def _decode_variants_child(plugin: str, batch: Path, start: int) -> None:
    """In a child process: decode variants from ``start`` on, printing one line per outcome."""
    import pickle

    import pydicom
    from pydicom.pixels.decoders.base import get_decoder

    variants = pickle.loads(batch.read_bytes())
    for i in range(start, len(variants)):
        uid, path, pixels = variants[i]
        print(f"start {i}", flush=True)
        ds = pydicom.dcmread(path)
        ds.PixelData = pixels
        decoder = get_decoder(uid)
        if plugin not in decoder.available_plugins:
            print(f"skip {i}", flush=True)
            continue
        try:
            decoder.as_array(ds, as_rgb=False, decoding_plugin=plugin)
            print(f"decoded {i}", flush=True)
        except Exception:  # noqa: BLE001 - rejecting corrupt data is the good outcome measured here
            print(f"rejected {i}", flush=True)


def measure_corruption(folders: list[tuple[str, Path]], n: int) -> None:
    import pickle
    import subprocess
    import tempfile

    from dicom_deid.read import syntax_name

    variants = _corrupt_variants(folders, n, seed=7)
    with tempfile.TemporaryDirectory() as tmp:
        batch = Path(tmp) / "variants.pkl"
        batch.write_bytes(pickle.dumps(variants))
        print("| transfer syntax | plugin | corrupted streams | decoded | rejected | crashed the process |")
        print("| --- | --- | --- | --- | --- | --- |")
        rows: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
        for plugin in ("gdcm", "pillow", "pydicom", "pyjpegls", "pylibjpeg"):
            start = 0
            while start < len(variants):
                proc = subprocess.run([sys.executable, __file__, "--corrupt-child", plugin, str(batch), str(start)],
                                      capture_output=True, text=True, check=False)
                current = None
                for line in proc.stdout.splitlines():
                    kind, index = line.split()
                    if kind == "start":
                        current = int(index)
                    else:
                        rows[(variants[int(index)][0], plugin)][kind] += 1
                        current = None
                if proc.returncode == 0 or current is None:
                    break
                rows[(variants[current][0], plugin)]["crashed"] += 1
                start = current + 1
        for (uid, plugin), c in sorted(rows.items(), key=lambda kv: ([int(x) for x in kv[0][0].split(".")], kv[0][1])):
            if c["skip"]:
                continue
            total = c["decoded"] + c["rejected"] + c["crashed"]
            print(f"| {syntax_name(uid)} `{uid}` | {plugin} | {total} | {c['decoded']} | {c['rejected']} | "
                  f"{c['crashed']} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folders", nargs="*", type=Path,
                        help="folders of DICOM files, or 'pydicom' / 'pydicom-data' (default: both)")
    parser.add_argument("--plugins", action="store_true", help="time every installed plugin per syntax")
    parser.add_argument("--repeat", type=int, default=3, help="decodes per file and plugin for --plugins")
    parser.add_argument("--corrupt", type=int, metavar="N", help="N corrupted copies per compressed file")
    parser.add_argument("--corrupt-child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    logging.getLogger("pydicom").setLevel(logging.CRITICAL)
    warnings.simplefilter("ignore")
    if args.corrupt_child:
        _decode_variants_child(args.corrupt_child[0], Path(args.corrupt_child[1]), int(args.corrupt_child[2]))
        return 0
    known = dict(default_folders())  # "pydicom", "pydicom-data" name those sets
    folders = [(str(p), known[str(p)]) if str(p) in known else (p.name, p) for p in args.folders] or list(known.items())
    if args.corrupt:
        measure_corruption(folders, args.corrupt)
    elif args.plugins:
        measure_plugins(folders, args.repeat)
    else:
        print("\n".join(decoder_table(folders)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
