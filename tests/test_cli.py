"""CLI: exit codes and one-line errors naming the file and the cause; never a traceback."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from dicom_deid.cli import main
from tests.conftest import TEST_FILES


@pytest.fixture
def one_file(tmp_path):
    inp = tmp_path / "in"
    inp.mkdir()
    shutil.copy(TEST_FILES / "CT_small.dcm", inp / "IM1")
    return inp


def _err_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert "Traceback" not in err[0]
    return err[0]


def test_output_inside_input_is_refused(one_file, capsys):
    assert main(["run", str(one_file), str(one_file / "out"), "--quiet"]) == 2
    assert _err_line(capsys) == f"dicom-deid: error: {one_file / 'out'}: output folder is inside the input folder; choose a folder outside it"


def test_missing_input(tmp_path, capsys):
    assert main(["run", str(tmp_path / "nope"), str(tmp_path / "out"), "--quiet"]) == 2
    assert _err_line(capsys) == f"dicom-deid: error: {tmp_path / 'nope'}: input does not exist"


def test_missing_key_file(one_file, tmp_path, capsys):
    assert main(["run", str(one_file), str(tmp_path / "out"), "--key-file", str(tmp_path / "k"), "--quiet"]) == 1
    assert _err_line(capsys) == f"dicom-deid: error: {tmp_path / 'k'}: key file not found"


def test_world_readable_key_file_is_refused(one_file, tmp_path, capsys):
    key = tmp_path / "k"
    key.write_text("00" * 32)
    os.chmod(key, 0o644)
    assert main(["run", str(one_file), str(tmp_path / "out"), "--key-file", str(key), "--quiet"]) == 1
    assert "key file is readable by others (mode 644); run: chmod 600" in _err_line(capsys)


def test_garbage_key_file(one_file, tmp_path, capsys):
    key = tmp_path / "k"
    key.write_text("not hex at all")
    os.chmod(key, 0o600)
    assert main(["run", str(one_file), str(tmp_path / "out"), "--key-file", str(key), "--quiet"]) == 1
    assert _err_line(capsys) == (f"dicom-deid: error: {key}: key file is not a dicom-deid key (expected 64 hex "
                                 "digits; create one with 'dicom-deid keys secret --out PATH')")


def test_unknown_option_is_a_usage_error(one_file, tmp_path, capsys):
    assert main(["run", str(one_file), str(tmp_path / "out"), "--option", "keep-it-all", "--quiet"]) == 2
    assert _err_line(capsys).startswith("dicom-deid: error: unknown option 'keep-it-all'; choose from:")


def test_bad_flag_is_a_usage_error(capsys):
    assert main(["run", "--frobnicate"]) == 2
    assert _err_line(capsys).startswith("dicom-deid: error:")


def test_key_file_created_on_first_use_with_mode_0600(one_file, tmp_path, key_home, capsys):
    assert main(["run", str(one_file), str(tmp_path / "out"), "--quiet", "--pixels", "off"]) == 0
    key = key_home / "secret.key"
    assert key.exists() and (key.stat().st_mode & 0o777) == 0o600
    secret = key.read_text().strip()
    captured = capsys.readouterr()
    assert secret not in captured.out + captured.err
    for p in (tmp_path / "out").rglob("*"):
        if p.is_file():
            assert secret.encode() not in p.read_bytes()


def test_exit_code_3_when_something_is_quarantined(one_file, tmp_path, capsys):
    (one_file / "IM2").write_bytes((TEST_FILES / "CT_small.dcm").read_bytes()[:2000])
    assert main(["run", str(one_file), str(tmp_path / "out"), "--quiet", "--pixels", "off"]) == 3
    err = capsys.readouterr().err
    assert f"dicom-deid: quarantined: {one_file / 'IM2'}: truncated DICOM file" in err


def test_console_script_and_module_entry_point(one_file, tmp_path):
    res = subprocess.run([sys.executable, "-m", "dicom_deid", "profiles"], capture_output=True, text=True,
                         check=False)
    assert res.returncode == 0 and "safe-harbor" in res.stdout


def test_readme_shows_the_two_commands_first():
    from tests.conftest import REPO

    text = (REPO / "README.md").read_text()
    first_code = text.split("```")[1]
    assert "make demo" in first_code and "make test" in first_code


def test_run_report_and_verify_from_the_command_line(tmp_path, capsys):
    from tests.planted import generate_corpus

    corpus = generate_corpus(tmp_path / "in", seed=2, patients=2)
    out, report = tmp_path / "out", tmp_path / "review" / "report.html"
    assert main(["run", str(corpus.root), str(out), "--report", str(report), "--pixels", "off", "--quiet"]) == 0
    assert report.exists() and (report.stat().st_mode & 0o777) == 0o600  # input side: originals inside
    capsys.readouterr()
    assert main(["verify", str(out), "--against", str(corpus.root), "--ocr", "off"]) == 0
    assert "0 finding(s)" in capsys.readouterr().out
    # the untouched input is full of findings: exit 4
    assert main(["verify", str(corpus.root), "--ocr", "off"]) == 4


def test_input_side_report_inside_output_is_refused(one_file, tmp_path, capsys):
    out = tmp_path / "out"
    rc = main(["run", str(one_file), str(out), "--report", str(out / "r.html"), "--quiet"])
    assert rc == 2
    assert "cannot be written inside the output folder" in _err_line(capsys)
    assert not out.exists()


def test_dicomdir_file_as_input_walks_its_media_folder(tmp_path):
    from tests.planted import generate_corpus

    corpus = generate_corpus(tmp_path / "in", seed=4, patients=3)
    assert corpus.dicomdir is not None
    out = tmp_path / "out"
    assert main(["run", str(corpus.dicomdir), str(out), "--pixels", "off", "--quiet"]) == 0
    media_files = [p for p in corpus.dicomdir.parent.rglob("*") if p.is_file() and p.name != "DICOMDIR"]
    assert len(media_files) >= 3
    assert len(list(out.rglob("*.dcm"))) == len(media_files)


def test_symlinked_files_are_inputs_too(one_file, tmp_path):
    (one_file / "link").symlink_to(TEST_FILES / "MR_small.dcm")
    out = tmp_path / "out"
    assert main(["run", str(one_file), str(out), "--pixels", "off", "--quiet"]) == 0
    assert len(list(out.rglob("*.dcm"))) == 2


def test_unwritable_output_is_one_line_error(one_file, tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    (locked / "out").write_text("a file where the output folder should go")
    from dicom_deid.keys import create_secret_key

    create_secret_key(tmp_path / "k")
    rc = main(["run", str(one_file), str(locked / "out" / "sub"), "--key-file", str(tmp_path / "k"),
               "--quiet", "--pixels", "off"])
    assert rc == 1
    line = _err_line(capsys)
    assert line.startswith("dicom-deid: error: ") and "Not a directory" in line


def test_readme_documents_every_command_and_flag():
    """Drift check: each subcommand and each option of `run`, `verify` and `report` is in the README."""
    import argparse

    from dicom_deid.cli import build_parser
    from tests.conftest import REPO

    text = (REPO / "README.md").read_text()
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    checked = 0
    for name in ("run", "verify", "report", "profiles", "keys", "mapping"):
        assert f"dicom-deid {name}" in text, name
        checked += 1
    for name in ("run", "verify", "report"):
        for action in sub.choices[name]._actions:
            flags = [f for f in action.option_strings if f.startswith("--") and f != "--help"]
            if flags:
                assert any(f in text for f in flags), (name, flags)
                checked += 1
    assert checked > 30


def _with_vr(keyword: str, vr: bytes) -> bytes:
    """CT_small.dcm with the 2-byte VR of ``keyword`` replaced (issue 10's reproduction)."""
    import pydicom

    data = bytearray((TEST_FILES / "CT_small.dcm").read_bytes())
    elem = pydicom.dcmread(TEST_FILES / "CT_small.dcm")._dict[pydicom.datadict.tag_for_keyword(keyword)]
    at = elem.value_tell - 4  # explicit VR, short form: tag (4) VR (2) length (2) value
    assert data[at:at + 2] == elem.VR.encode()
    data[at:at + 2] = vr
    return bytes(data)


@pytest.mark.parametrize("workers", ["1", "2"])
def test_one_bad_value_representation_never_stops_the_run(tmp_path, capsys, workers):
    """Issue 10 item 1: each of these used to end the whole run (or leave an output without a row)."""
    inp = tmp_path / "in"
    inp.mkdir()
    cases = {"a_uid.dcm": ("SOPInstanceUID", b"XX"), "b_class.dcm": ("SOPClassUID", b"FD"),
             "c_modality.dcm": ("Modality", b"FD"), "d_name.dcm": ("PatientName", b"AT")}
    for name, (keyword, vr) in cases.items():
        (inp / name).write_bytes(_with_vr(keyword, vr))
    shutil.copy(TEST_FILES / "MR_small.dcm", inp / "z_valid.dcm")
    out = tmp_path / "out"
    assert main(["run", str(inp), str(out), "--workers", workers, "--pixels", "off", "--quiet"]) == 3
    err = capsys.readouterr().err
    assert "Traceback" not in err
    expected = {"a_uid.dcm": "SOPInstanceUID (0008,0018) cannot be decoded (NotImplementedError)",
                "b_class.dcm": "SOPClassUID (0008,0016) has value representation FD where the standard has UI",
                "c_modality.dcm": "Modality (0008,0060) has value representation FD where the standard has CS",
                "d_name.dcm": "PatientName (0010,0010) has value representation AT where the standard has PN"}
    for name, cause in expected.items():
        line = f"{inp / name}: corrupt DICOM file: {cause}"
        assert f"dicom-deid: quarantined: {line}\n" in err
    from dicom_deid.manifest import MANIFEST_NAME, read_manifest

    rows = read_manifest(out / MANIFEST_NAME)
    files = sorted((r["ordinal"], r["outcome"], r.get("reason")) for r in rows if r["type"] == "file")
    assert files == [(0, "quarantined", "unreadable"), (1, "quarantined", "unreadable"),
                     (2, "quarantined", "unreadable"), (3, "quarantined", "unreadable"), (4, "written", None)]
    assert rows[-1]["files"] == 5 and rows[-1]["interrupted"] is False
    (written,) = [r["output"] for r in rows if r.get("outcome") == "written"]
    assert [p.relative_to(out).as_posix() for p in out.rglob("*.dcm")] == [written]
