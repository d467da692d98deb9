"""Mutation testing of the core, one module at a time, each against only the tests that matter.

    python scripts/mutation.py [MODULE ...] [--jobs N]     # default: every module below, in turn
    make mutation                                           # the same, all modules

For each module, a scratch folder ``.mutation/<name>/`` gets links to the source, tests, profiles
and scripts plus a ``pyproject.toml`` whose ``[tool.mutmut]`` mutates that module only and runs
only its tests; mutmut 3 then runs, per mutant, just the tests that call the mutated function.
Results stay in ``.mutation/<name>/mutants/`` (re-runs reuse them) and the summary is printed:
killed / survived / other per module, and the surviving mutant names, to be killed by a test or
listed with a one-line reason in ``tests/mutation_survivors.md``.  CPU-heavy: not part of
``make test``; run the modules one at a time on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
WORK = REPO / ".mutation"

# module -> the tests that pin its rules (kept cheap: mutmut runs each mutant's own callers only)
MODULES: dict[str, tuple[str, ...]] = {
    "plan": ("tests/test_plan_rules.py", "tests/test_plan_references.py"),
    "scrub": ("tests/test_scrub_rules.py", "tests/test_options.py"),
    "remap": ("tests/test_remap_rules.py", "tests/test_remap.py"),
    "clean": ("tests/test_clean_rules.py", "tests/test_clean_names.py", "tests/test_clean_and_beyond_table.py"),
    "pixels/redact": ("tests/test_pixels_redact.py",),
    "pipeline": ("tests/test_pipeline_resume.py", "tests/test_pipeline_unit.py"),
}


def _module_config(module: str, tests: tuple[str, ...], jobs: int) -> str:
    base = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    pytest_ini = base["tool"]["pytest"]["ini_options"]
    lines = [
        "[tool.pytest.ini_options]",
        f"testpaths = {json.dumps(pytest_ini.get('testpaths', ['tests']))}",
        "xfail_strict = true",
        "",
        "[tool.mutmut]",
        'source_paths = ["dicom_deid"]',
        f'only_mutate = ["dicom_deid/{module}.py"]',
        'also_copy = ["profiles", "scripts"]',
        f"pytest_add_cli_args_test_selection = {json.dumps(list(tests))}",
        # randomly would reorder and reseed: mutmut needs the same run every time
        'pytest_add_cli_args = ["-p", "no:randomly", "-p", "no:cacheprovider", "-x", "-q"]',
        "use_git_change_detection = false",
    ]
    return "\n".join(lines) + "\n"


def prepare(module: str, jobs: int) -> Path:
    work = WORK / module.replace("/", "-")
    work.mkdir(parents=True, exist_ok=True)
    for name in ("dicom_deid", "tests", "profiles", "scripts"):
        link = work / name
        if not link.exists():
            link.symlink_to(REPO / name, target_is_directory=True)
    (work / "pyproject.toml").write_text(_module_config(module, MODULES[module], jobs), encoding="utf-8")
    return work


_STATUS = re.compile(r"^\s*(?P<name>\S+): (?P<status>[a-z ]+?)\s*$")


def run(module: str, jobs: int) -> dict[str, list[str]]:
    work = prepare(module, jobs)
    mutmut = Path(sys.executable).with_name("mutmut")
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("CI", None)
    subprocess.run([str(mutmut), "run", "--max-children", str(jobs)], cwd=work, env=env, check=False)
    out = subprocess.run([str(mutmut), "results", "--all", "true"], cwd=work, env=env, capture_output=True,
                         text=True, check=False).stdout
    by_status: dict[str, list[str]] = {}
    for line in out.splitlines():
        m = _STATUS.match(line)
        if m:
            by_status.setdefault(m.group("status"), []).append(m.group("name"))
    return by_status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", choices=[[], *MODULES], default=[], metavar="MODULE")
    parser.add_argument("--jobs", type=int, default=max(1, (os.cpu_count() or 2) // 2))
    parser.add_argument("--clean", action="store_true", help="forget earlier results first")
    args = parser.parse_args(argv)
    if shutil.which("mutmut", path=str(Path(sys.executable).parent)) is None:
        print("mutmut missing: pip install -e '.[dev]'", file=sys.stderr)
        return 2
    summary = []
    for module in args.modules or list(MODULES):
        if args.clean:
            shutil.rmtree(WORK / module.replace("/", "-") / "mutants", ignore_errors=True)
        by_status = run(module, args.jobs)
        killed = len(by_status.get("killed", []))
        total = sum(len(v) for v in by_status.values())
        survived = by_status.get("survived", [])
        other = {k: len(v) for k, v in by_status.items() if k not in ("killed", "survived")}
        score = 100.0 * killed / total if total else 0.0
        summary.append(f"{module:14s} {killed:5d} killed / {total:5d} mutants = {score:5.1f}%  "
                       f"survived {len(survived)}  other {other}")
        for name in survived:
            print(f"survived: {name}")
    print("\nmutation score (killed / all mutants):")
    print("\n".join(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
