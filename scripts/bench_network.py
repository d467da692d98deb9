#!/usr/bin/env python3
"""Network throughput: instances/s received, de-identified and forwarded by `dicom-deid serve` on
loopback, against the same files through `dicom-deid run`.

    python scripts/bench_network.py [INPUT] [--files 500] [--runs 5] [--pixels off|auto|all]
                                    [--destination orthanc|folder] [--orthanc-storage DIR]

INPUT is a folder of DICOM files (default: a generated corpus of CT/MR, scripts/make_sample_data.py
--bench-files); only files whose SOP class and transfer syntax the node accepts are used, the first
--files of them in path order.  Each run starts a fresh node (`serve` subprocess, one
de-identification thread) and, by default, a fresh Orthanc on loopback (Debian `orthanc`) as the
destination; a pynetdicom modality in this process sends every file on one association, as the
bytes stored (no re-encoding).  Timestamps come from the node's `--progress json` lines:

* received/s: instances acknowledged (on disk in the spool) per second of sending;
* de-identified/s and forwarded/s: instances through that stage per second since the first send;
* node CPU ms/instance: user+system CPU of the node process (receive + de-identify + forward);

`run` gets the same files in a folder (`--workers 1`, the node's one thread; then the default
pool).  The machine may be shared: the CPU-time figures hold under load, the wall-clock ones do
not.  Medians of --runs runs are printed.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import re
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
TICK = os.sysconf("SC_CLK_TCK")
GUARD = 600.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


class _Stream:
    """Lines of a child's stream with their arrival time, read on a thread."""

    def __init__(self, stream: Any) -> None:
        self.q: queue.Queue[tuple[float, str] | None] = queue.Queue()
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream: Any) -> None:
        self.tail: list[str] = []
        for line in stream:
            self.q.put((time.perf_counter(), line))
            self.tail = [*self.tail[-20:], line]
        self.q.put(None)

    def until(self, predicate: Any) -> tuple[float, str]:
        while True:
            item = self.q.get(timeout=GUARD)
            if item is None:
                raise SystemExit("the child process ended early")
            if predicate(item[1]):
                return item


def _select(inp: Path, limit: int) -> list[Path]:
    from pydicom.errors import InvalidDicomError
    from pydicom.filereader import read_file_meta_info
    from pynetdicom import AllStoragePresentationContexts

    from dicom_deid.net.scp import ACCEPTED_TRANSFER_SYNTAXES

    storage = {str(c.abstract_syntax) for c in AllStoragePresentationContexts}
    chosen: list[Path] = []
    for path in sorted(p for p in inp.rglob("*") if p.is_file()):
        try:
            meta = read_file_meta_info(path)
            sop, ts = str(meta.MediaStorageSOPClassUID), str(meta.TransferSyntaxUID)
        except (InvalidDicomError, OSError, AttributeError, ValueError, EOFError):
            continue
        if sop in storage and ts in ACCEPTED_TRANSFER_SYNTAXES:
            chosen.append(path)
            if len(chosen) >= limit:
                break
    return chosen


def _orthanc(work: Path, storage: Path | None = None) -> tuple[subprocess.Popen[str], str]:
    exe = shutil.which("Orthanc")
    if exe is None:
        raise SystemExit("Orthanc is missing (Debian package 'orthanc'); or use --destination folder")
    dicom = _free_port()
    db = (storage or work) / "db"
    config = {"Name": "bench", "StorageDirectory": str(db), "IndexDirectory": str(db),
              "HttpPort": _free_port(), "DicomPort": dicom, "DicomAet": "ORTHANC", "RemoteAccessAllowed": False,
              "Plugins": [], "LuaScripts": [], "DicomAlwaysAllowStore": True, "StorageCompression": False,
              "DicomAssociationCloseDelay": 0}
    work.mkdir(parents=True, exist_ok=True)
    (work / "orthanc.json").write_text(json.dumps(config))
    # DCMTK (Orthanc's DICOM stack) leaves Nagle's algorithm on unless TCP_NODELAY=1: a tuned PACS sets it
    proc = subprocess.Popen([exe, str(work / "orthanc.json")], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, cwd=work, env={**os.environ, "TCP_NODELAY": "1"})
    _Stream(proc.stdout).until(lambda line: "Orthanc has started" in line)
    return proc, f"ORTHANC@127.0.0.1:{dicom}"


def _send(port: int, files: list[Path]) -> tuple[float, float]:
    """One association, every file as stored; (first send, last acknowledgement) perf_counter times."""
    from pydicom.filereader import read_file_meta_info
    from pynetdicom import AE, _config, build_context, evt

    from dicom_deid.net.transport import no_delay

    _config.STORE_SEND_CHUNKED_DATASET = True
    pairs = sorted({(str(m.MediaStorageSOPClassUID), str(m.TransferSyntaxUID))
                    for m in map(read_file_meta_info, files)})
    ae = AE(ae_title="BENCH")
    assoc = ae.associate("127.0.0.1", port, contexts=[build_context(s, t) for s, t in pairs[:128]],
                         ae_title="DEID", evt_handlers=[(evt.EVT_CONN_OPEN, no_delay)])  # as DCMTK does
    if not assoc.is_established:
        raise SystemExit("the node refused the association")
    start = time.perf_counter()
    for path in files:
        status = assoc.send_c_store(path)
        if int(status.get("Status", -1)) != 0:
            raise SystemExit(f"{path}: C-STORE answered {status.get('Status', 'nothing (association lost)')}")
    end = time.perf_counter()
    assoc.release()
    ae.shutdown()
    return start, end


def _serve_once(files: list[Path], work: Path, key: Path, pixels: str, destination: str,
                orthanc_storage: Path | None) -> dict[str, float]:
    orthanc = None
    if destination == "orthanc":
        orthanc, peer = _orthanc(work / "orthanc", orthanc_storage)
        target = ["--forward", peer]
    else:
        target = ["--out", str(work / "out")]
    node = subprocess.Popen(
        [sys.executable, "-m", "dicom_deid", "serve", "--port", "0", "--allow-ae", "BENCH", *target, "--key-file",
         str(key), "--pixels", pixels, "--spool", str(work / "spool"), "--progress", "json",
         "--max-queue", str(len(files) + 10)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "DICOM_DEID_HOME": str(work)})
    try:
        _, line = _Stream(node.stdout).until(lambda s: "listening as" in s)
        port = int(re.search(r":(\d+),", line).group(1))  # type: ignore[union-attr]
        events = _Stream(node.stderr)
        cpu0 = _cpu_seconds(node.pid)
        orthanc_cpu0 = _cpu_seconds(orthanc.pid) if orthanc else 0.0
        try:
            start, acked = _send(port, files)
        except SystemExit:
            node.terminate()
            node.wait(timeout=GUARD)
            time.sleep(0.5)
            print("".join(events.tail), file=sys.stderr)
            raise
        n = len(files)
        done_key = "forwarded" if destination == "orthanc" else "deidentified"

        def counters(line: str) -> dict[str, int] | None:
            return json.loads(line) if line.startswith("{") else None

        t_deid, _ = events.until(lambda s: (c := counters(s)) is not None and c["deidentified"] + c["quarantined"] >= n)
        t_done, _ = events.until(lambda s: (c := counters(s)) is not None and c[done_key] >= n) \
            if destination == "orthanc" else (t_deid, "")
        cpu = _cpu_seconds(node.pid) - cpu0
        orthanc_cpu = (_cpu_seconds(orthanc.pid) - orthanc_cpu0) if orthanc else 0.0
        node.terminate()
        node.wait(timeout=GUARD)
    finally:
        if node.poll() is None:
            node.kill()
        if orthanc is not None:
            orthanc.kill()
            orthanc.wait()
    return {"received": n / (acked - start), "deidentified": n / (t_deid - start), "forwarded": n / (t_done - start),
            "node_cpu_ms": 1000 * cpu / n, "orthanc_cpu_ms": 1000 * orthanc_cpu / n}


def _run_once(folder: Path, work: Path, key: Path, pixels: str, workers: int | None) -> dict[str, float]:
    out = work / "run-out"
    shutil.rmtree(out, ignore_errors=True)
    shutil.rmtree(out.with_name("run-out.quarantine"), ignore_errors=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    args = [sys.executable, "-m", "dicom_deid", "run", str(folder), str(out), "--key-file", str(key), "--pixels",
            pixels, "--quiet"] + (["--workers", str(workers)] if workers else [])
    t = time.perf_counter()
    subprocess.run(args, check=False, stdout=subprocess.DEVNULL, env={**os.environ, "DICOM_DEID_HOME": str(work)})
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    n = sum(1 for _ in out.rglob("*.dcm"))
    return {"files_per_s": n / wall, "cpu_ms": 1000 * cpu / max(1, n), "written": n}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("input", nargs="?", type=Path, help="folder of DICOM files (default: generated CT/MR)")
    ap.add_argument("--files", type=int, default=500)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--pixels", default="off", choices=("off", "auto", "all"))
    ap.add_argument("--destination", default="orthanc", choices=("orthanc", "folder"))
    ap.add_argument("--orthanc-storage", type=Path, metavar="DIR",
                    help="Orthanc's storage and index folder, e.g. /dev/shm/x: a tmpfs takes its per-instance "
                         "fsyncs out of the figure, leaving the node's own cost (default: the work folder)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-net-") as tmp:
        work = Path(tmp)
        if args.input is None:
            from make_sample_data import generate_bench

            generate_bench(work / "generated", args.files)
            args.input = work / "generated"
        files = _select(args.input, args.files)
        if not files:
            raise SystemExit(f"no DICOM file the node accepts under {args.input}")
        folder = work / "in"  # the same files for `run`
        for i, path in enumerate(files):
            target = folder / f"{i:06d}.dcm"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(path.resolve())
        mb = sum(p.stat().st_size for p in files) / 1e6
        from dicom_deid.keys import create_secret_key

        key = work / "secret.key"
        create_secret_key(key)
        print(f"{len(files)} instances ({mb:.1f} MB) from {args.input}; pixels {args.pixels}; "
              f"destination {args.destination}; {args.runs} runs, medians; {os.cpu_count()} CPUs")
        serve = []
        for i in range(args.runs):
            storage = args.orthanc_storage / f"run{i}" if args.orthanc_storage else None
            serve.append(_serve_once(files, work / f"serve{i}", key, args.pixels, args.destination, storage))
            print(f"  serve run {i + 1}: " + ", ".join(f"{k} {v:.1f}" for k, v in serve[-1].items()), flush=True)
        runs1 = [_run_once(folder, work, key, args.pixels, 1) for _ in range(args.runs)]
        runs_pool = [_run_once(folder, work, key, args.pixels, None) for _ in range(args.runs)]

    def med(rows: list[dict[str, float]], key: str) -> float:
        return statistics.median(r[key] for r in rows)

    print(f"serve (1 de-identification thread), instances/s: received {med(serve, 'received'):.1f}, "
          f"de-identified {med(serve, 'deidentified'):.1f}, forwarded {med(serve, 'forwarded'):.1f}")
    print(f"serve CPU per instance: node {med(serve, 'node_cpu_ms'):.1f} ms (receive + de-identify + forward), "
          f"destination Orthanc {med(serve, 'orthanc_cpu_ms'):.1f} ms")
    print(f"run --workers 1: {med(runs1, 'files_per_s'):.1f} files/s, {med(runs1, 'cpu_ms'):.1f} ms CPU per file")
    print(f"run (default workers): {med(runs_pool, 'files_per_s'):.1f} files/s, "
          f"{med(runs_pool, 'cpu_ms'):.1f} ms CPU per file")
    return 0


if __name__ == "__main__":
    sys.exit(main())
