"""Issue 10: a secret key file holds exactly 64 hex digits; ``keys secret --out`` makes one."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from dicom_deid.cli import main
from dicom_deid.errors import KeyMaterialError
from dicom_deid.keys import load_secret_key
from tests.conftest import TEST_FILES


@pytest.fixture
def one_input(tmp_path: Path) -> Path:
    inp = tmp_path / "in"
    inp.mkdir()
    shutil.copy(TEST_FILES / "CT_small.dcm", inp / "IM1")
    return inp


def _error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in err[0], err
    return err[0]


def test_keys_secret_creates_a_private_key_and_never_overwrites(tmp_path: Path, one_input: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    key = tmp_path / "keys" / "study.key"
    assert main(["keys", "secret", "--out", str(key)]) == 0
    out = capsys.readouterr().out
    text = key.read_text()
    assert (key.stat().st_mode & 0o777) == 0o600 and len(text.strip()) == 64 and text.endswith("\n")
    int(text, 16)
    assert text.strip() not in out and f"run with --key-file {key}" in out
    before = key.read_bytes()
    assert main(["keys", "secret", "--out", str(key)]) == 1
    assert _error_line(capsys) == f"dicom-deid: error: {key}: key file already exists; refusing to overwrite"
    assert key.read_bytes() == before
    assert main(["run", str(one_input), str(tmp_path / "out"), "--key-file", str(key), "--pixels", "off",
                 "--quiet"]) == 0


@pytest.mark.parametrize(("content", "digits"), [
    pytest.param("ab" * 31, 62, id="cut-to-62"),
    pytest.param("ab" * 31 + "a", 63, id="odd-63"),
    pytest.param("ab" * 32 + "cd", 66, id="padded-66"),
    pytest.param("ab" * 16, 32, id="old-16-byte-key"),
])
def test_a_key_file_of_the_wrong_length_is_refused(tmp_path: Path, one_input: Path, content: str, digits: int,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    key = tmp_path / "k"
    key.write_text(content + "\n")
    os.chmod(key, 0o600)
    out = tmp_path / "out"
    assert main(["run", str(one_input), str(out), "--key-file", str(key), "--pixels", "off", "--quiet"]) == 1
    assert _error_line(capsys) == (
        f"dicom-deid: error: {key}: key file holds {digits} hex digits, not 64: cut short or padded? It would "
        "derive other pseudonyms; restore the original key file")
    assert not list(out.rglob("*.dcm"))


def test_a_truncated_key_file_never_becomes_another_key(tmp_path: Path) -> None:
    """The issue's case: a key cut to 62 digits used to be accepted as a different key."""
    key = tmp_path / "k"
    assert main(["keys", "secret", "--out", str(key)]) == 0
    good = load_secret_key(key)
    key.write_text(key.read_text().strip()[:62] + "\n")
    with pytest.raises(KeyMaterialError, match="holds 62 hex digits, not 64"):
        load_secret_key(key)
    assert good.key_id and len(good.material) == 32


@pytest.mark.parametrize("content", ["", "not hex at all", "zz" * 32, "ab" * 16 + "\n" + "ab" * 16])
def test_a_key_file_that_is_not_hex_is_refused(tmp_path: Path, content: str) -> None:
    key = tmp_path / "k"
    key.write_text(content)
    os.chmod(key, 0o600)
    with pytest.raises(KeyMaterialError, match=r"not a dicom-deid key \(expected 64 hex digits"):
        load_secret_key(key)
