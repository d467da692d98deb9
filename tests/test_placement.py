"""Where a run may read and write: nothing is written into INPUT, OUTPUT is never read back as
input, keys and re-identification tables never land inside a de-identified OUTPUT, and every
entry of INPUT (a socket or a link to nothing too) has its manifest row."""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

import pytest
from pydicom.data import get_testdata_file

from dicom_deid.cli import main
from dicom_deid.manifest import MANIFEST_NAME, read_manifest


@pytest.fixture
def inp(tmp_path) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("CT_small.dcm", "MR_small.dcm"):
        shutil.copy(get_testdata_file(name), folder / name)
    return folder


def _run(*args: str) -> int:
    return main(["run", *args, "--pixels", "off", "--quiet", "--workers", "1"])


def _file_rows(out: Path) -> list[dict]:
    return [r for r in read_manifest(out / MANIFEST_NAME) if r["type"] == "file"]


def _listing(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


def test_a_mapping_file_inside_input_is_refused(inp, tmp_path, capsys):
    before = _listing(inp)
    assert _run(str(inp), str(tmp_path / "out"), "--mapping", str(inp / "run.ddmap")) == 2
    assert "mapping file must not be inside the input folder" in capsys.readouterr().err
    assert _listing(inp) == before


def test_a_key_folder_inside_input_is_refused_before_anything_is_written_there(inp, tmp_path, capsys):
    keys = inp / "keys"
    assert main(["keys", "secret", "--out", str(keys / "secret.key")]) == 0
    before = _listing(inp)
    assert _run(str(inp), str(tmp_path / "out"), "--key-file", str(keys / "secret.key")) == 2
    assert "key folder" in capsys.readouterr().err
    assert _listing(inp) == before  # no custodian pair, no mapping file in the input


@pytest.mark.parametrize("dry_run", [False, True])
def test_a_new_default_key_inside_input_is_refused_before_it_is_created(inp, tmp_path, monkeypatch, capsys, dry_run):
    monkeypatch.setenv("DICOM_DEID_HOME", str(inp / "home"))  # no key there yet: the run would create one
    before = _listing(inp)
    assert _run(str(inp), str(tmp_path / "out"), *(["--dry-run"] if dry_run else [])) == 2
    assert "key folder" in capsys.readouterr().err
    assert _listing(inp) == before  # no secret key, no custodian pair, no mapping in the input


def test_output_linked_from_input_is_not_read_back(inp, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (inp / "outlink").symlink_to(out, target_is_directory=True)
    assert _run(str(inp), str(out)) == 0
    assert len(_file_rows(out)) == 2 and len(list(out.rglob("*.dcm"))) == 2
    assert _run(str(inp), str(out), "--force") == 0
    rows = _file_rows(out)
    assert len(rows) == 4 and len(list(out.rglob("*.dcm"))) == 2  # the same two inputs, twice


def test_entries_that_are_not_files_have_rows_and_are_never_opened(inp, tmp_path):
    (inp / "dangling").symlink_to(tmp_path / "nowhere")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(str(inp / "sock"))
        out = tmp_path / "out"
        assert _run(str(inp), str(out)) == 0
    finally:
        sock.close()
    rows = _file_rows(out)
    assert len(rows) == 4
    assert sorted(r["outcome"] for r in rows) == ["skipped_not_dicom", "skipped_not_dicom", "written", "written"]


def test_keys_and_reidentification_tables_are_refused_inside_an_output(inp, tmp_path, capsys):
    out = tmp_path / "out"
    assert _run(str(inp), str(out)) == 0
    capsys.readouterr()
    assert main(["keys", "secret", "--out", str(out / "secret.key")]) == 2
    assert main(["keys", "custodian", "--out", str(out / "custodian")]) == 2
    assert main(["mapping", "export", str(tmp_path / "any.ddmap"), "--private-key", str(tmp_path / "c.key"),
                 "--csv", str(out / "sub" / "links.csv")]) == 2
    err = capsys.readouterr().err
    assert err.count("inside the de-identified output folder") == 3
    assert not (out / "secret.key").exists() and not (out / "custodian").exists()
    assert not (out / "sub").exists()


def test_a_recipient_inside_the_output_is_refused(inp, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["keys", "custodian", "--out", str(out / "cust")]) == 0  # before any run: not yet an output
    assert _run(str(inp), str(out), "--recipient", str(out / "cust" / "custodian.pub")) == 2
    assert "custodian's key folder must not be inside the output folder" in capsys.readouterr().err
    assert not list(out.rglob("*.dcm"))


def test_an_output_folder_holding_other_files_is_refused(inp, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "patients.csv").write_text("MRN,name\n123,Doe\n")
    assert _run(str(inp), str(out)) == 2
    assert "holds files that no dicom-deid run wrote" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["patients.csv"]
    assert _run(str(inp), str(tmp_path / "fresh")) == 0 and _run(str(inp), str(tmp_path / "fresh")) == 0  # resume


@pytest.mark.parametrize("existed", [False, True])
def test_a_refused_run_leaves_no_empty_output_folder_it_made(inp, tmp_path, capsys, existed):
    out = tmp_path / "out"
    if existed:
        out.mkdir()  # the user's own (empty) folder stays
    key = tmp_path / "open.key"
    key.write_bytes(b"k" * 32)
    key.chmod(0o644)  # readable by others: refused after OUTPUT is made, when the key is loaded
    assert _run(str(inp), str(out), "--key-file", str(key)) == 1
    assert "readable by others" in capsys.readouterr().err
    assert out.is_dir() is existed
    if existed:
        assert list(out.iterdir()) == []
