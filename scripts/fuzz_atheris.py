#!/usr/bin/env python3
"""Coverage-guided fuzzing of the per-file boundary with atheris: campaigns longer than the suite's.

    pip install -e '.[fuzz]'                                   # atheris (libFuzzer for Python)
    python scripts/fuzz_atheris.py --seeds fuzz-corpus/        # the suite's planted seeds, once
    python scripts/fuzz_atheris.py fuzz-corpus/ -max_total_time=3600 -rss_limit_mb=4096 -timeout=30
    python scripts/fuzz_atheris.py --pixels all fuzz-corpus/ -max_total_time=3600   # pixel stage too

Arguments after the options go to libFuzzer (``-runs=N``, ``-jobs=N``, ``-dict=...``); libFuzzer
grows ``fuzz-corpus/`` with inputs that reach new code and writes any finding to
``crash-<sha1>`` (replay one with ``python scripts/fuzz_atheris.py crash-<sha1>``).

Each input is one file's bytes, handled by ``boundary.process_input`` exactly as ``run`` handles
a file (read, routing headers, plan, scrub, pixels, encode, write, the manifest row).  A finding
is any of: an exception escaping ``process_input``; an ``internal_error`` quarantine (a failure
not named as the input's fault); a written output whose row cannot be encoded, that does not
re-read, or that holds a planted value (the seeds carry them, see ``tests/fuzz_corpus.py``).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def write_seeds(folder: Path) -> int:
    from tests.fuzz_corpus import load_seeds

    folder.mkdir(parents=True, exist_ok=True)
    seeds = load_seeds()
    for seed in seeds:
        (folder / seed.name.replace("/", "_")).write_bytes(seed.data)
    return len(seeds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=Path, metavar="DIR", help="write the seed corpus to DIR and stop")
    parser.add_argument("--pixels", choices=("off", "all"), default="off", help="run the pixel stage too")
    args, libfuzzer_args = parser.parse_known_args()
    if args.seeds is not None:
        print(f"{write_seeds(args.seeds)} seeds written to {args.seeds}")
        return

    import logging
    from io import BytesIO

    import atheris

    with atheris.instrument_imports():
        import pydicom

        from dicom_deid.boundary import process_input
        from dicom_deid.deidentify import Engine
        from dicom_deid.keys import SecretKey
        from dicom_deid.manifest import encode_row
        from dicom_deid.pixels import PixelMode
        from dicom_deid.profiles import load_profile
        from dicom_deid.walk import InputBytes
    from tests.fuzz_corpus import NEEDLES

    logging.getLogger("pydicom").setLevel(logging.CRITICAL)
    logging.getLogger("dicom_deid").setLevel(logging.CRITICAL)
    warnings.simplefilter("ignore")
    engine = Engine(load_profile("basic"), SecretKey.from_bytes(bytes(range(32))), PixelMode(args.pixels))
    work = Path(tempfile.mkdtemp(prefix="dicom-deid-fuzz-"))
    out, qdir = work / "out", work / "out.quarantine"

    def one_input(data: bytes) -> None:
        shutil.rmtree(out, ignore_errors=True)
        shutil.rmtree(qdir, ignore_errors=True)
        res = process_input(InputBytes(0, "input.dcm", "input.dcm", data), engine=engine, output=out,
                            quarantine_dir=qdir)  # bytes plus an opaque id: no file written
        record = res.record
        if record.reason == "internal_error":
            raise AssertionError(f"internal error, not the input's fault: {res.message}")
        encode_row(record)
        if record.outcome == "written":
            written = (out / str(record.output)).read_bytes()
            assert not any(n in written.upper() for n in NEEDLES), "planted value in the output"
            pydicom.dcmread(BytesIO(written))
        else:
            assert not [p for p in out.rglob("*") if p.is_file()], "an output without a written row"

    atheris.Setup([sys.argv[0], *libfuzzer_args], one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
