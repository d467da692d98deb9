#!/usr/bin/env python3
"""Metadata-only throughput: dicom-deid vs dicognito vs a plain copy, same files, one core, one run.

    python scripts/bench_metadata.py [--corpus mixed small ...] [--repeat 3] [--work DIR] [--profile 30]

Each tool runs as a whole command in a child process pinned to one core, over the whole corpus,
and is measured in CPU seconds of that child (user + system, from ``wait4``: robust when other
work shares the machine; wall seconds are printed beside them, and the system part: the kernel's
writes and page faults, which vary with the page cache and grow with the bytes written):

- ``dicom-deid``: ``python -m dicom_deid run IN OUT --pixels off --workers 1 --quiet`` (basic
  profile; manifest and sealed mapping included, as a user runs it).  Each file takes the byte
  path (bytepath.py, issue 16) or the pydicom path by itself; the line "byte path" counts them
  from the manifest.  ``--baseline DIR`` times another source tree beside it (``git archive
  main``: the figures before the byte path) and checks both write the same bytes;
- ``dicognito``: its library in a loop like its CLI (``dcmread``, ``Anonymizer.anonymize``,
  ``save_as``), except that a file it fails on is counted and skipped instead of ending the run;
- ``copy``: a Python process that reads each file and writes it to the output (the I/O floor).

Tools run interleaved, ``--repeat`` times after one warm-up round (page cache, bytecode); the
medians and the ratios of the medians are printed.  Corpora (public DICOM under
``--public``, never our own generator unless ``generated`` is named; samples are seeded):

- ``mixed``: a realistic mix: 200 GE MR (dcm_qa_ge), 100 Toshiba MR, 40 UIH, 40 dcm_qa bases,
  all of PyPI pydicom-data, pydicom's own test files, fo-dicom's test files and PyPI deid-data;
- ``small``: 2,000 GE MR files of ~28 KB (dcm_qa_ge);
- ``small-toshiba``: 2,000 Toshiba MR files of ~87 KB (dcm_qa_toshiba), held out for reporting;
- ``generated``: ``--files`` synthetic CT/MR from scripts/make_sample_data.py.

``--startup N`` times the start of a run instead (median CPU seconds of N children): the
Python interpreter alone, ``import pydicom`` (the floor dicom-deid shares with dicognito),
``import dicom_deid``, and a whole one-file run (pydicom's CT_small.dcm).

``--instructions N`` counts instructions instead of seconds (valgrind's callgrind, about 50 times
slower): each tool over the corpus's first N files less its one-file run, per file.  On a machine
shared with other work, CPU seconds grow with the contention; instruction counts do not.

``--profile N`` also runs dicom-deid once in this process under cProfile on each corpus and
prints the N functions with the most own time and the most cumulative time (the .prof file is
kept in the work folder for snakeviz/pstats).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

PUBLIC = Path(os.environ.get("DICOM_DEID_PUBLIC_DATA", ROOT.parent / "public_dicom"))
_SKIP_SUFFIXES = (".txt", ".png", ".jpg", ".jpeg", ".md", ".json", ".xml", ".zip", ".gz", ".bz2", ".py", ".nii",
                  ".csv", ".tsv", ".html", ".pdf", ".bmp", ".gif", ".raw", ".bval", ".bvec")

#: corpus -> [(folder under --public, how many files: None = all)]
CORPORA: dict[str, list[tuple[str, int | None]]] = {
    "mixed": [("neurolabusc+dcm_qa_ge", 200), ("neurolabusc+dcm_qa_toshiba", 100), ("neurolabusc+dcm_qa_uih", 40),
              ("neurolabusc+dcm_qa", 40), ("pypi-pydicom-data", None), ("pydicom-test-files", None),
              ("fo-dicom+fo-dicom", None), ("pypi-deid-data", None)],
    "small": [("neurolabusc+dcm_qa_ge", 2000)],
    "small-toshiba": [("neurolabusc+dcm_qa_toshiba", 2000)],
}


@dataclass(frozen=True)
class Timing:
    cpu: float
    wall: float
    counts: dict[str, int]
    system: float = 0.0  # the kernel's part of ``cpu`` (writes, page faults): the same for every tool's bytes


def _candidates(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*")
                  if p.is_file() and not p.is_symlink() and p.suffix.lower() not in _SKIP_SUFFIXES)


def build_corpus(name: str, dest: Path, public: Path, seed: int, files: int) -> list[Path]:
    """Copy the corpus's files into ``dest`` (flat, numbered; done once) and list them."""
    stamp = dest.with_name(dest.name + ".complete")  # beside it: the tools read every file inside
    if not stamp.exists():
        shutil.rmtree(dest, ignore_errors=True)
        dest.mkdir(parents=True)
        if name == "generated":
            from make_sample_data import generate_bench

            generate_bench(dest / "generated", files, seed=seed)
        else:
            rng = random.Random(seed)
            n = 0
            for folder, count in CORPORA[name]:
                found = _candidates(public / folder)
                if not found:
                    raise SystemExit(f"bench: {public / folder} has no files (see --public)")
                chosen = found if count is None or count >= len(found) else sorted(rng.sample(found, count))
                for src in chosen:
                    shutil.copyfile(src, dest / f"{n:05d}_{src.name}"[:120])
                    n += 1
        stamp.write_text(name)
    return _candidates(dest)


def _child_env(work: Path, source: Path = ROOT) -> dict[str, str]:
    """Children import dicom-deid from ``source`` (this checkout, or ``--baseline``)."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # as installed: bytecode cached (outside the repository)
    env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
    env["DICOM_DEID_HOME"] = str(work / "home")
    env["PYTHONPATH"] = str(source)
    return env


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, float, str, float]:
    """Run ``argv`` (on this process's core); (CPU seconds of it and its children, wall seconds,
    stdout, the system part of those CPU seconds)."""
    with tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=err, cwd=env["DICOM_DEID_HOME"])
        assert proc.stdout is not None
        out = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode not in (0, 3):  # dicom-deid: 3 = some inputs quarantined
            err.seek(0)
            raise SystemExit(f"bench: {argv[:4]} failed ({proc.returncode}): {err.read().decode()[-2000:]}")
    return usage.ru_utime + usage.ru_stime, wall, out.decode(), usage.ru_stime


def _manifest_counts(out: Path) -> dict[str, int]:
    """Outcomes, and for written files which writer wrote them (the manifest's ``encoder``: the
    byte path or the pydicom path, issue 16; a tree from before it names none)."""
    counts: dict[str, int] = {}
    with (out / "dicom-deid-manifest.jsonl").open() as fh:
        for line in fh:
            row = json.loads(line)
            if "outcome" in row:
                counts[row["outcome"]] = counts.get(row["outcome"], 0) + 1
            if row.get("encoder"):
                key = f"{row['encoder']} path"
                counts[key] = counts.get(key, 0) + 1
    return counts


def run_tool(tool: str, inp: Path, out: Path, work: Path, baseline: Path | None) -> Timing:
    for path in (out, out.with_name(out.name + ".quarantine")):
        shutil.rmtree(path, ignore_errors=True)
    env = _child_env(work, baseline if tool == "baseline" and baseline else ROOT)
    if tool in ("dicom-deid", "baseline"):
        argv = [sys.executable, "-m", "dicom_deid", "run", str(inp), str(out), "--pixels", "off",
                "--workers", "1", "--quiet"]
        secs, wall, _, system = timed(argv, env)
        return Timing(secs, wall, _manifest_counts(out), system)
    argv = [sys.executable, __file__, f"--child-{tool}", str(inp), str(out)]
    secs, wall, stdout, system = timed(argv, env)
    return Timing(secs, wall, json.loads(stdout.strip().splitlines()[-1]), system)


def child_dicognito(inp: Path, out: Path) -> dict[str, int]:
    import warnings

    import pydicom
    from dicognito.anonymizer import Anonymizer

    warnings.simplefilter("ignore")
    out.mkdir(parents=True)
    anonymizer = Anonymizer()
    counts = {"written": 0, "not_dicom": 0, "failed": 0}
    for i, name in enumerate(sorted(os.listdir(inp))):
        if name.startswith("."):
            continue
        try:
            ds = pydicom.dcmread(inp / name, force=False)
        except pydicom.errors.InvalidDicomError:
            counts["not_dicom"] += 1
            continue
        except Exception:  # noqa: BLE001 - a benchmark counts what the tool cannot read
            counts["failed"] += 1
            continue
        try:
            anonymizer.anonymize(ds)
            ds.save_as(out / f"{i}.dcm")
            counts["written"] += 1
        except Exception:  # noqa: BLE001 - dicognito's CLI would stop the whole run here
            counts["failed"] += 1
    return counts


def child_copy(inp: Path, out: Path) -> dict[str, int]:
    out.mkdir(parents=True)
    n = 0
    for name in sorted(os.listdir(inp)):
        if not name.startswith("."):
            (out / name).write_bytes((inp / name).read_bytes())
            n += 1
    return {"copied": n}


def _manifest_rows(out: Path) -> list[dict[str, object]]:
    rows = []
    with (out / "dicom-deid-manifest.jsonl").open() as fh:
        for line in fh:
            row = json.loads(line)
            if row.get("type") == "file":
                row.pop("seconds", None)
                row.pop("encoder", None)  # which writer (issue 16): the bytes are compared, not the route
                rows.append(row)
    return sorted(rows, key=lambda r: int(str(r["ordinal"])))


def compare_outputs(a: Path, b: Path) -> str:
    """Same key, same inputs: the two runs must write the same files, byte for byte, and the same
    manifest rows (timings aside); raises SystemExit naming the first difference."""
    files_a = sorted(p.relative_to(a) for p in a.rglob("*.dcm"))
    files_b = sorted(p.relative_to(b) for p in b.rglob("*.dcm"))
    if files_a != files_b:
        raise SystemExit(f"bench: {a} and {b} hold different files ({len(files_a)} vs {len(files_b)})")
    for rel in files_a:
        if (a / rel).read_bytes() != (b / rel).read_bytes():
            raise SystemExit(f"bench: {rel} differs between {a} and {b}")
    if _manifest_rows(a) != _manifest_rows(b):
        raise SystemExit(f"bench: the manifests of {a} and {b} differ")
    return f"{len(files_a)} files byte-identical, manifest rows identical"


def profile_dicom_deid(inp: Path, out: Path, work: Path, top: int) -> None:
    """dicom-deid's CLI in this process under cProfile (imports excluded: already imported)."""
    os.environ["DICOM_DEID_HOME"] = str(work / "home")
    from dicom_deid.cli import main as cli_main

    for path in (out, out.with_name(out.name + ".quarantine")):
        shutil.rmtree(path, ignore_errors=True)
    prof = cProfile.Profile()
    prof.enable()
    cli_main(["run", str(inp), str(out), "--pixels", "off", "--workers", "1", "--quiet"])
    prof.disable()
    dump = work / f"profile-{inp.name}.prof"
    prof.dump_stats(dump)
    for key in ("tottime", "cumulative"):
        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).strip_dirs().sort_stats(key).print_stats(top)
        lines = buf.getvalue().splitlines()
        start = next((i for i, line in enumerate(lines) if line.lstrip().startswith("ncalls")), 0)
        print(f"\n  cProfile, dicom-deid in process, top {top} by {key} ({dump}):")
        print("\n".join("  " + line for line in lines[start:] if line.strip()))


def bench_corpus(name: str, args: argparse.Namespace, work: Path, cpu: int, tools: list[str]) -> None:
    inp = work / f"in-{name}"
    files = build_corpus(name, inp, args.public, args.seed, args.files)
    mb = sum(f.stat().st_size for f in files) / 1e6
    print(f"\ncorpus {name}: {len(files)} files, {mb:.1f} MB ({inp}); one core (#{cpu}), "
          f"median of {args.repeat} after a warm-up")
    results: dict[str, list[Timing]] = {t: [] for t in tools}
    for round_ in range(args.repeat + 1):
        order = tools[round_ % len(tools):] + tools[:round_ % len(tools)]  # rotate who goes first
        for tool in order:
            timing = run_tool(tool, inp, work / f"out-{tool}", work, args.baseline)
            if round_:
                results[tool].append(timing)
    med = {t: statistics.median(x.cpu for x in v) for t, v in results.items()}
    print(f"  {'tool':11s} {'CPU s':>7s} {'sys s':>6s} {'ms/file':>8s} {'files/s':>8s} {'MB/s':>7s} {'wall s':>7s}  outcomes")
    for tool, secs in med.items():
        wall = statistics.median(x.wall for x in results[tool])
        system = statistics.median(x.system for x in results[tool])
        counts = ", ".join(f"{k} {v}" for k, v in sorted(results[tool][-1].counts.items()))
        print(f"  {tool:11s} {secs:7.2f} {system:6.2f} {1000 * secs / len(files):8.2f} {len(files) / secs:8.1f} "
              f"{mb / secs:7.1f} {wall:7.2f}  {counts}")
    if "dicom-deid" in results:
        last = results["dicom-deid"][-1].counts
        written = last.get("bytes path", 0) + last.get("pydicom path", 0)
        print(f"  byte path (bytepath.py): {last.get('bytes path', 0)} of {written} written files, the rest "
              "by the pydicom path (manifest encoder)")
    if "baseline" in med and "dicom-deid" in med:
        print(f"  ratio (CPU) dicom-deid / baseline ({args.baseline}): {med['baseline'] / med['dicom-deid']:.2f}x faster")
    if "dicognito" in med and "dicom-deid" in med:
        print(f"  ratio (CPU) dicom-deid / dicognito: {med['dicognito'] / med['dicom-deid']:.2f}x faster")
    if "copy" in med and "dicom-deid" in med:
        print(f"  ratio (CPU) dicom-deid / plain copy: {med['dicom-deid'] / med['copy']:.1f}x the copy's CPU time")
    if "baseline" in results and "dicom-deid" in results:
        print(f"  outputs, dicom-deid vs baseline: {compare_outputs(work / 'out-dicom-deid', work / 'out-baseline')}")
    if args.profile:
        profile_dicom_deid(inp, work / "out-profile", work, args.profile)


def _instructions(argv: list[str], env: dict[str, str]) -> int:
    """Instructions ``argv`` executes (valgrind's callgrind, its children not followed): a count that
    does not depend on what else the machine runs, unlike CPU seconds on a shared one."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", *argv]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=env["DICOM_DEID_HOME"], check=False)
        if proc.returncode not in (0, 3):
            raise SystemExit(f"bench: {argv[:4]} under valgrind failed ({proc.returncode}): {proc.stderr[-2000:]}")
        for line in out.read_text().splitlines():
            if line.startswith(("summary:", "totals:")):
                return int(line.split()[1])
    raise SystemExit("bench: callgrind wrote no instruction count")


def bench_instructions(name: str, args: argparse.Namespace, work: Path, tools: list[str]) -> None:
    """``--instructions N``: each tool over the corpus's first N files and over its first file,
    under callgrind; the difference over N - 1 is the instructions per file, without the start."""
    files = build_corpus(name, work / f"in-{name}", args.public, args.seed, args.files)[:args.instructions]
    subsets = {}
    for count in (1, len(files)):
        folder = work / f"instructions-{name}-{count}"
        if not folder.exists():
            folder.mkdir(parents=True)
            for f in files[:count]:
                shutil.copyfile(f, folder / f.name)
        subsets[count] = folder
    print(f"\ncorpus {name}: instructions per file over its first {len(files)} files (callgrind; one-file run "
          "subtracted: the start is not counted)")
    per_file: dict[str, float] = {}
    for tool in tools:
        counts = {}
        for count, folder in subsets.items():
            out = work / f"out-ir-{tool}"
            for path in (out, out.with_name(out.name + ".quarantine")):
                shutil.rmtree(path, ignore_errors=True)
            env = _child_env(work, args.baseline if tool == "baseline" and args.baseline else ROOT)
            if tool in ("dicom-deid", "baseline"):
                argv = [sys.executable, "-m", "dicom_deid", "run", str(folder), str(out), "--pixels", "off",
                        "--workers", "1", "--quiet"]
            else:
                argv = [sys.executable, __file__, f"--child-{tool}", str(folder), str(out)]
            if count == 1:  # a warm-up first: bytecode compiled and cached (the prefix holds every module's)
                timed(argv, env)
                for path in (out, out.with_name(out.name + ".quarantine")):
                    shutil.rmtree(path, ignore_errors=True)
            counts[count] = _instructions(argv, env)
        per_file[tool] = (counts[len(files)] - counts[1]) / max(len(files) - 1, 1)
        print(f"  {tool:11s} {per_file[tool] / 1e6:8.2f} M instructions/file  (start {counts[1] / 1e9:.2f} G)")
    for other in ("baseline", "dicognito", "copy"):
        if other in per_file and "dicom-deid" in per_file:
            print(f"  ratio (instructions/file) {other} / dicom-deid: {per_file[other] / per_file['dicom-deid']:.2f}")


def bench_startup(work: Path, cpu: int, repeat: int, baseline: Path | None) -> None:
    from pydicom.data import get_testdata_file

    one = Path(str(get_testdata_file("CT_small.dcm")))
    out = work / "out-startup"
    cases = {
        "python": [sys.executable, "-c", "pass"],
        "import pydicom": [sys.executable, "-c", "import pydicom.dataset"],
        "import dicom_deid": [sys.executable, "-c", "import dicom_deid"],
        "one-file run": [sys.executable, "-m", "dicom_deid", "run", str(one), str(out), "--pixels", "off",
                         "--workers", "1", "--quiet"],
    }
    runs = [(name, argv, ROOT) for name, argv in cases.items()]
    if baseline is not None:
        runs += [(f"{name} (baseline)", argv, baseline) for name, argv in cases.items() if "dicom_deid" in " ".join(argv)]
    runs.sort(key=lambda r: list(cases).index(r[0].split(" (")[0]))
    cpus: dict[str, list[float]] = {name: [] for name, _, _ in runs}
    walls: dict[str, list[float]] = {name: [] for name, _, _ in runs}
    for i in range(repeat + 1):  # interleaved, the first round a warm-up
        for name, argv, source in runs:
            shutil.rmtree(out, ignore_errors=True)
            shutil.rmtree(out.with_name(out.name + ".quarantine"), ignore_errors=True)
            secs, wall, _, _ = timed(argv, _child_env(work, source))
            if i:
                cpus[name].append(secs)
                walls[name].append(wall)
    print(f"\nstartup: median CPU (wall) seconds of {repeat} children after a warm-up, one core (#{cpu})")
    for name, samples in cpus.items():
        print(f"  {name:29s} {statistics.median(samples):6.3f} s CPU ({statistics.median(walls[name]):6.3f} s wall)")


def main() -> int:
    children: dict[str, Callable[[Path, Path], dict[str, int]]] = {
        "--child-dicognito": child_dicognito, "--child-copy": child_copy}
    if len(sys.argv) == 4 and sys.argv[1] in children:
        print(json.dumps(children[sys.argv[1]](Path(sys.argv[2]), Path(sys.argv[3]))))
        return 0
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--corpus", nargs="+", default=["mixed", "small"],
                    choices=[*CORPORA, "generated"])
    ap.add_argument("--files", type=int, default=2000, help="with --corpus generated: how many")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0, help="sample seed (corpora are built once per --work)")
    ap.add_argument("--public", type=Path, default=PUBLIC, help="public DICOM folder (see its README.md)")
    ap.add_argument("--work", type=Path, default=None, help="work folder (kept; corpora are reused)")
    ap.add_argument("--profile", type=int, default=0, metavar="N",
                    help="also print a cProfile summary of dicom-deid (top N functions)")
    ap.add_argument("--startup", type=int, default=0, metavar="N",
                    help="time the start of a run instead (median of N children)")
    ap.add_argument("--baseline", type=Path, default=None, metavar="DIR",
                    help="also time the dicom-deid of another source tree (e.g. `git archive main`), as 'baseline'")
    ap.add_argument("--instructions", type=int, default=0, metavar="N",
                    help="count instructions instead (valgrind callgrind) over the first N files of each corpus: "
                         "independent of the machine's load")
    ap.add_argument("--tools", nargs="+", default=["dicom-deid", "dicognito", "copy"],
                    choices=["dicom-deid", "dicognito", "copy"])
    args = ap.parse_args()
    tools = list(args.tools)
    if args.baseline is not None:
        tools.insert(1, "baseline")
    if "dicognito" in tools:
        try:
            import dicognito  # noqa: F401
        except ImportError:
            tools.remove("dicognito")
            print("dicognito not installed: pip install -e '.[bench]' to compare")
    cpu = max(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 0
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {cpu})  # the children inherit it: each tool gets the same one core
    work = args.work or Path(tempfile.mkdtemp(prefix="deid-bench-"))
    (work / "home").mkdir(parents=True, exist_ok=True)
    print(f"bench_metadata: python {sys.version.split()[0]}, work folder {work}")
    if args.startup:
        bench_startup(work, cpu, args.startup, args.baseline)
        return 0
    for name in args.corpus:
        if args.instructions:
            bench_instructions(name, args, work, tools)
        else:
            bench_corpus(name, args, work, cpu, tools)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
