"""A CLI run freezes what it loaded before its first file (the collector then skips it) and
gives it back after the run, so objects a caller made before are collected as before."""

from __future__ import annotations

import gc
import shutil
from pathlib import Path

import pytest

from dicom_deid.cli import main
from tests.fuzz_corpus import TEST_FILES


def test_a_run_freezes_while_it_runs_and_unfreezes_after(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    inp = tmp_path / "in"
    inp.mkdir()
    shutil.copyfile(TEST_FILES / "CT_small.dcm", inp / "a.dcm")
    monkeypatch.setenv("DICOM_DEID_HOME", str(tmp_path / "home"))
    from dicom_deid import boundary

    frozen_while_running: list[int] = []
    real = getattr(boundary, "deidentify")  # noqa: B009 - not in boundary's __all__

    def spy(*args: object, **kwargs: object) -> object:
        frozen_while_running.append(gc.get_freeze_count())
        return real(*args, **kwargs)

    monkeypatch.setattr(boundary, "deidentify", spy)
    gc.unfreeze()
    assert main(["run", str(inp), str(tmp_path / "out"), "--pixels", "off", "--workers", "1", "--quiet"]) == 0
    assert len(frozen_while_running) == 1 and frozen_while_running[0] > 1000  # the modules and tables
    assert gc.get_freeze_count() == 0  # given back
