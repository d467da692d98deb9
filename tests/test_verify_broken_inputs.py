"""verify --against never crashes on inputs it cannot parse (issue 10, item 7): such an input is
a note, an output it cannot parse in full is a warning, and everything else is checked."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from pydicom.data import get_testdata_file

from dicom_deid.cli import main
from dicom_deid.verify import Category, Severity, verify_output
from dicom_deid.walk import walk_inputs


def _broken_inputs(folder: Path) -> dict[str, Path]:
    """A valid MR, and three inputs pydicom cannot parse in full."""
    folder.mkdir(parents=True)
    ct = Path(get_testdata_file("CT_small.dcm")).read_bytes()
    at = ct.find(b"\x08\x00\x70\x00LO")  # Manufacturer (0008,0070), explicit VR LO
    assert at > 0
    files = {
        "valid.dcm": Path(get_testdata_file("MR_small.dcm")).read_bytes(),
        "unknown_vr.dcm": ct[: at + 4] + b"XX" + ct[at + 6:],  # VR "XX": NotImplementedError in pydicom
        "bad_delimiter.dcm": ct + b"\xfe\xff\xdd\xe0NO\x00\x00",  # a sequence delimiter with a VR after the end
        "garbage_after.dcm": Path(get_testdata_file("MR_small.dcm")).read_bytes() + bytes(range(7, 250)),
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return {name: folder / name for name in files}


@pytest.fixture(scope="module")
def broken_run(tmp_path_factory, key_file) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("broken")
    _broken_inputs(base / "in")
    rc = main(["run", str(base / "in"), str(base / "out"), "--pixels", "off", "--workers", "1",
               "--key-file", str(key_file), "--quiet"])
    assert rc in (0, 3)  # what run makes of them is not this test's subject
    return base / "in", base / "out"


def test_unparseable_inputs_are_notes_and_the_rest_is_checked(broken_run):
    inp, out = broken_run
    result = verify_output(out, against=inp, ocr="off")
    ordinal = {ref.path.name: ref.ordinal for ref in walk_inputs(inp)}
    noted = {int(m.group(1)) for n in result.notes for m in [re.match(r"input #(\d+)\b.*cannot be parsed", n)] if m}
    assert noted == {ordinal["unknown_vr.dcm"], ordinal["bad_delimiter.dcm"]}
    assert result.dicom_checked >= 1  # precondition: the valid input's output was checked
    assert result.needles.get("name", 0) > 0  # and the readable inputs' values were searched


def test_cli_verify_against_broken_inputs_prints_no_traceback(broken_run, capsys):
    inp, out = broken_run
    rc = main(["verify", str(out), "--against", str(inp), "--ocr", "off", "--json"])
    captured = capsys.readouterr()
    assert rc in (0, 4)
    assert "Traceback" not in captured.err
    report = json.loads(captured.out)
    assert any("cannot be parsed" in n for n in report["notes"])


def test_an_output_that_cannot_be_parsed_in_full_is_a_warning(broken_run, tmp_path):
    inp, out = broken_run
    written = sorted(out.rglob("*.dcm"))
    assert written  # precondition
    damaged = tmp_path / "out"
    damaged.mkdir()
    data = written[0].read_bytes()
    at = data.find(b"\x08\x00\x60\x00CS")  # Modality (0008,0060)
    assert at > 0
    (damaged / "x.dcm").write_bytes(data[: at + 4] + b"XX" + data[at + 6:])
    result = verify_output(damaged, against=inp, ocr="off")
    warnings = [f for f in result.findings if f.severity is Severity.WARNING]
    assert [(f.category, f.where) for f in warnings] == [(Category.CONFORMANCE, "file")]
    assert "cannot be parsed" in warnings[0].detail
