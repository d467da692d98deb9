"""The README is the contract: every example command (``sh`` blocks) and the Python example run, as
written, in README order, in one scratch folder; each must succeed.

The folder holds what the README's examples assume: a small export with planted PHI as ``IN/``
and ``export/`` (one CT per patient, PatientIDs from the README's subject table), and the files
the README shows (``subjects.csv``, ``my-study.toml``).  ``HOME`` is the folder's ``home/``, so
``~/runs`` and the default key folder ``~/.config/dicom-deid`` are the test's own.
"""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.small_export import make_export

#: Commands not run here, each with its reason (the README says the same under "Use").
EXCLUDED = {
    "make demo": "sets up this checkout (venv, Debian packages) and is the demo itself",
    "make test": "runs this suite",
    "make fuzz": "a 10-minute coverage-guided campaign (the fuzz extra)",
    "python scripts/fuzz_atheris.py": "coverage-guided campaigns of minutes to hours (the fuzz extra)",
    "pip install": "installs from the package registry; tests/test_install.py installs the wheel offline",
    "dicom-deid serve": "runs until stopped and forwards to an Orthanc; the network tests run it against one",
    "python -m pynetdicom storescu": "sends to a running node; the network tests send with storescu",
}


def _blocks(text: str, kind: str) -> list[str]:
    return re.findall(rf"```{kind}\n(.*?)```", text, flags=re.DOTALL)


def _commands(block: str) -> list[str]:
    """A block's commands: continuation lines joined, comments and blank lines left to bash."""
    joined = block.replace("\\\n", " ")
    return [line for line in joined.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def _excluded(command: str) -> str | None:
    return next((why for prefix, why in EXCLUDED.items() if command.strip().startswith(prefix)), None)


@pytest.fixture(scope="module")
def readme() -> str:
    return (REPO / "README.md").read_text()


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory, readme: str) -> Path:
    """The folder the README's examples start from (built once)."""
    root = tmp_path_factory.mktemp("readme")
    table = _blocks(readme, "csv")[0]
    (root / "subjects.csv").write_text(table)
    (root / "my-study.toml").write_text(_blocks(readme, "toml")[0])
    pids = [row["PatientID"] for row in csv.DictReader(io.StringIO(table))]
    make_export(root / "IN", pids)
    shutil.copytree(root / "IN", root / "export")
    (root / "home").mkdir(mode=0o700)
    return root


@pytest.fixture
def sandbox(pristine: Path, tmp_path: Path):
    """A copy of the starting folder per test: the examples hold in any order (pytest-randomly)."""
    root = tmp_path / "readme"
    shutil.copytree(pristine, root)
    env = {k: v for k, v in os.environ.items() if k != "DICOM_DEID_HOME"}
    env.update(HOME=str(root / "home"), PATH=f"{os.path.dirname(sys.executable)}{os.pathsep}{env.get('PATH', '')}")
    return root, env


def test_every_readme_shell_example_runs(readme, sandbox):
    root, env = sandbox
    ran, skipped = [], set()
    for block in _blocks(readme, "sh"):
        for command in _commands(block):
            why = _excluded(command)
            if why is not None:
                skipped.add(next(p for p in EXCLUDED if command.strip().startswith(p)))
                continue
            res = subprocess.run(["bash", "-c", command], cwd=root, env=env, capture_output=True, text=True,
                                 check=False)
            assert res.returncode == 0, f"README command failed ({res.returncode}): {command}\n{res.stderr[-2000:]}"
            assert "Traceback" not in res.stderr
            ran.append(command)
    assert skipped == set(EXCLUDED)  # every exclusion still names a README command
    assert len(ran) >= 10 and any(c.startswith("dicom-deid mapping lookup") for c in ran)
    # what the examples claim: the subject IDs name the output folders; lookup found the original back
    assert sorted(p.name for p in (root / "study-set").iterdir() if p.is_dir()) == ["SUBJ-001", "SUBJ-002",
                                                                                    "SUBJ-003"]
    assert (root / "links.csv").is_file() and "PID-1001" in (root / "links.csv").read_text()


def test_the_readme_python_example_runs(readme, sandbox):
    root, env = sandbox
    if not (root / "keys" / "secret.key").exists():  # the README's `keys secret` example makes it before
        subprocess.run(["dicom-deid", "keys", "secret", "--out", "keys/secret.key"], cwd=root, env=env, check=True,
                       capture_output=True)
    (example,) = _blocks(readme, "python")
    res = subprocess.run([sys.executable, "-c", example], cwd=root, env=env, capture_output=True, text=True,
                         check=False)
    assert res.returncode == 0, res.stderr[-3000:]
    lines = res.stdout.splitlines()
    assert lines[0] == "SUBJ-001"
    assert lines[2].startswith("3 0 ") and lines[2].endswith("library-set/dicom-deid-manifest.jsonl")
    assert (root / "one-file" / "IM0002.dcm").is_file()
