"""`pip install .` without the Makefile: the wheel installs into a fresh virtual environment and works.

Offline and cheap: the wheel is built from a copy of the tracked files (nothing is written into the
checkout), installed with ``--no-index --no-deps`` into a fresh venv, and the venv reaches the
already-installed dependencies through a ``.pth`` line (their packages only: this checkout's own
editable install is not active there).  The installed ``dicom-deid`` then de-identifies a file with
burned-in text redaction on, from the wheel's own data (profiles, schema, regions), and
``pip check`` confirms every declared dependency is present.  ``scripts/check_install.sh`` does
the same from the package registry (minutes; run by hand).
"""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
import zipfile
from pathlib import Path

from tests.conftest import REPO, TEST_FILES


def _run(*args: str | Path, **kw: object) -> subprocess.CompletedProcess[str]:
    res = subprocess.run([str(a) for a in args], capture_output=True, text=True, check=False, **kw)  # type: ignore[call-overload]
    assert res.returncode == 0, f"{args}: {res.stdout[-1500:]}\n{res.stderr[-3000:]}"
    return res


def test_the_wheel_installs_into_a_fresh_venv_and_runs(tmp_path):
    src = tmp_path / "src"
    files = _run("git", "ls-files", cwd=REPO).stdout.split()
    for name in files:
        if (REPO / name).is_file():
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, src / name)
    _run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
         "-w", tmp_path / "dist", src)
    (wheel,) = (tmp_path / "dist").glob("dicom_deid-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in ("dicom_deid/__init__.py", "dicom_deid/api.py", "dicom_deid/py.typed",
                   "dicom_deid/_profiles/profile.schema.json", "dicom_deid/_profiles/ps315_2026c.json",
                   "dicom_deid/_profiles/research.toml", "dicom_deid/net/adapter.py", "dicom_deid/seal/combine.py"):
        assert needed in names, needed
    assert any(n.startswith("dicom_deid/_profiles/regions/") for n in names)

    fresh = tmp_path / "fresh"
    _run(sys.executable, "-m", "venv", "--without-pip", fresh)
    _run(sys.executable, "-m", "pip", "--python", fresh / "bin" / "python", "install", "--quiet", "--no-index",
         "--no-deps", wheel)
    fresh_site = Path(_run(fresh / "bin" / "python", "-c", "import sysconfig; print(sysconfig.get_path('purelib'))")
                      .stdout.strip())
    (fresh_site / "deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")

    inp = tmp_path / "in"
    inp.mkdir()
    shutil.copy(TEST_FILES / "SC_rgb_rle.dcm", inp / "IM1")  # secondary capture: the text detector runs
    env = {**os.environ, "DICOM_DEID_HOME": str(tmp_path / "home")}
    where = _run(fresh / "bin" / "python", "-c", "import dicom_deid; print(dicom_deid.__file__)", cwd=tmp_path).stdout
    assert where.startswith(str(fresh_site)), where  # the wheel's copy, not this checkout
    res = _run(fresh / "bin" / "dicom-deid", "run", inp, tmp_path / "out", "--pixels", "all", "--quiet",
               cwd=tmp_path, env=env)
    assert "written 1" in res.stdout
    row = next(line for line in (tmp_path / "out" / "dicom-deid-manifest.jsonl").read_text().splitlines()
               if '"type": "file"' in line)
    assert '"examined": true' in row  # the DBNet model was found and ran in the fresh environment
    # every dependency the wheel declares (core and the ocr extra) is importable there
    missing = _run(fresh / "bin" / "python", "-c", _CHECK_DEPENDENCIES, cwd=tmp_path).stdout.split()
    assert missing == ["checked"], missing


_CHECK_DEPENDENCIES = """
import importlib.metadata as md, re
checked, missing = 0, []
for req in md.requires("dicom-deid"):
    name, _, marker = req.partition(";")
    if marker and 'extra == "ocr"' not in marker:
        continue
    dist = re.match(r"[A-Za-z0-9._-]+", name.strip()).group(0)
    try:
        md.version(dist)
        checked += 1
    except md.PackageNotFoundError:
        missing.append(dist)
print(*missing, "checked" if checked >= 10 else f"only-{checked}-checked")
"""
