"""A flag the CLI accepts does what it says or is refused: combinations where a flag would be
silently ignored are refused with one line, before anything is written (review findings)."""

from __future__ import annotations

import json
import shutil

import pytest
from pydicom.data import get_testdata_file

from dicom_deid.cli import main


@pytest.fixture
def inp(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(get_testdata_file("CT_small.dcm"), folder / "a.dcm")
    return folder


@pytest.mark.parametrize("extra, says", [
    (["--dry-run", "--mapping", "m.ddmap"], "--mapping has no effect with --dry-run"),
    (["--dry-run", "--recipient", "nonexistent.pub"], "--recipient has no effect with --dry-run"),
    (["--dry-run", "--force"], "--force has no effect with --dry-run"),
    (["--dry-run", "--quarantine", "q"], "--quarantine has no effect with --dry-run"),
    (["--dask", "tcp://127.0.0.1:9", "--workers", "2"], "--workers has no effect with --dask"),
    (["--dask", "tcp://127.0.0.1:9", "--file-time-limit", "5"], "--file-time-limit has no effect with --dask"),
    (["--quiet", "--progress", "json"], "--quiet and --progress json contradict"),
    (["--progress", "bar"], "--progress bar needs a terminal"),  # pytest's stderr is not a terminal
], ids=["dry-mapping", "dry-recipient", "dry-force", "dry-quarantine", "dask-workers", "dask-limit",
        "quiet-json", "bar-no-tty"])
def test_an_ignored_flag_is_refused_before_anything_is_written(inp, tmp_path, capsys, extra, says):
    out = tmp_path / "out"
    assert main(["run", str(inp), str(out), "--pixels", "off", *extra]) == 2
    err = capsys.readouterr().err
    assert says in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_progress_json_prints_json_lines(inp, tmp_path, capsys):
    assert main(["run", str(inp), str(tmp_path / "out"), "--pixels", "off", "--progress", "json"]) == 0
    rows = [json.loads(ln) for ln in capsys.readouterr().err.splitlines() if ln.startswith("{")]
    assert rows and rows[-1]["done"] is True and rows[-1]["files"] == 1


def test_an_empty_input_folder_is_refused_before_output_or_keys_exist(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["run", str(tmp_path / "empty"), str(tmp_path / "out"), "--pixels", "off"]) == 2
    assert "no files found in the input folder" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_inputs_without_any_dicom_instance_do_not_exit_as_success(tmp_path, capsys):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "notes.txt").write_text("not an image")
    assert main(["run", str(tmp_path / "in"), str(tmp_path / "out"), "--pixels", "off", "--quiet"]) == 3
    assert "no DICOM instance among the inputs" in capsys.readouterr().err


@pytest.mark.parametrize("command", [["verify", "--ocr", "off"], ["risk"]])
def test_verify_and_risk_on_a_folder_without_dicom_are_usage_errors(tmp_path, capsys, command):
    (tmp_path / "empty").mkdir()
    assert main([command[0], str(tmp_path / "empty"), *command[1:]]) == 2
    assert "give the output folder of a run" in capsys.readouterr().err
