"""The manifest line of a file is encoded once (issue 16): ``encode_fields`` when the input is
handled, its ``seconds`` added when it is recorded.  The line must be the one the manifest has
always written: ``json.dumps({"type": "file", **fields}, sort_keys=True)`` of the fields that are
not None, {} or [] (the oracle below is that formula, written out here)."""

from __future__ import annotations

import json
from dataclasses import fields, replace
from pathlib import Path

import pytest

from dicom_deid.boundary import process_input
from dicom_deid.deidentify import Engine
from dicom_deid.keys import SecretKey
from dicom_deid.manifest import ManifestRecord, ManifestWriter, encode_fields, encode_row
from dicom_deid.profiles import load_profile
from dicom_deid.walk import InputBytes
from tests.fuzz_corpus import TEST_FILES


def _oracle(record: ManifestRecord) -> bytes:
    row = {"type": "file"}
    row.update({f.name: getattr(record, f.name) for f in fields(record)
                if getattr(record, f.name) not in (None, {}, [])})
    return (json.dumps(row, sort_keys=True) + "\n").encode("utf-8")


RECORDS = [
    ManifestRecord(0, "tok", "skipped_not_dicom"),
    ManifestRecord(7, "tok\u00e9", "written", 1234, output="a/b/c.dcm", sop_class_uid="1.2.3", modality="MR",
                   actions={"K": 3, "X": 2}, changes={"X": ["(0009,0010)", "PatientName"], "Z": ["StudyID"]},
                   pixels={"boxes": [[1, 2, 3, 4]], "size": 2, "seconds": 1.5}, document="kept",
                   stream_metadata=["APP1", "COM x2"], encoder="bytes", seconds=0.012345),
    ManifestRecord(3, "t", "quarantined", reason="unreadable", modality="\udcff", seconds=0.0),
    ManifestRecord(4, "t", "written", seconds=float("nan")),
]


@pytest.mark.parametrize("record", RECORDS, ids=range(len(RECORDS)))
def test_the_line_is_the_manifest_line(record: ManifestRecord) -> None:
    assert encode_row(record) == _oracle(record)
    row = encode_fields(replace(record, seconds=99.0))  # encoded before its seconds were known
    assert row.line(record.seconds) == _oracle(record)


def test_the_seconds_are_in_the_line() -> None:
    """A line encoded before the timing shows the seconds given when it is written (a line that
    kept the placeholder, or lost the field, fails here)."""
    row = encode_fields(RECORDS[1])
    assert json.loads(row.line(2.5))["seconds"] == 2.5
    assert json.loads(row.line(0.25)) == {**json.loads(_oracle(RECORDS[1])), "seconds": 0.25}


def test_a_field_the_manifest_cannot_hold_fails_when_encoded() -> None:
    with pytest.raises(TypeError, match="not JSON serializable"):
        encode_fields(replace(RECORDS[1], pixels={"boxes": {1, 2}}))


def test_a_handled_input_is_recorded_with_its_one_encoding(tmp_path: Path) -> None:
    """The per-file boundary hands its encoded line on, and the writer writes it with the seconds."""
    engine = Engine(load_profile("basic"), SecretKey(bytes(range(32))))
    data = (TEST_FILES / "CT_small.dcm").read_bytes()
    result = process_input(InputBytes(0, "CT_small.dcm", "CT_small.dcm", data), engine=engine,
                           output=tmp_path / "out", quarantine_dir=tmp_path / "q")
    assert result.record.outcome == "written" and result.row is not None and result.record.seconds > 0
    writer = ManifestWriter(tmp_path / "m.jsonl", {"run": 1})
    writer.add(result.record, result.row)
    writer.close({"files": 1})
    lines = (tmp_path / "m.jsonl").read_bytes().splitlines(keepends=True)
    assert len(lines) == 3 and lines[1] == _oracle(result.record)
    assert json.loads(lines[1])["changes"]["X"]  # the CT's removed elements are listed


def test_the_changes_list_every_path_not_kept_in_plan_order() -> None:
    """``Plan.changed_paths`` (the manifest's ``changes``) against a plain loop over the plan, on
    a dataset with sequences (nested paths) and every code the basic profile gives it."""
    from dicom_deid.plan import ElementAction, Plan, format_path, plan_actions
    from dicom_deid.profiles import ActionCode, load_standard
    from dicom_deid.read import parse_instance

    checked = 0
    for name in ("CT_small.dcm", "rtplan.dcm", "MR_small.dcm"):
        ds = parse_instance((TEST_FILES / name).read_bytes(), where=name).dataset
        plan = plan_actions(ds, load_profile("basic"), load_standard())
        expected: dict[str, list[str]] = {}
        for action in plan:
            if action.code is not ActionCode.K:
                expected.setdefault(action.code.value, []).append(format_path(action.path))
        got = plan.changed_paths()
        assert got == expected  # each code's paths in plan order (the manifest sorts the codes)
        checked += sum(map(len, got.values()))
    assert checked > 100
    odd = Plan({(0x00100010,): ElementAction((0x00100010,), ActionCode.X_Z, "unresolved")}, "1.2")
    with pytest.raises(ValueError, match="unresolved action code"):
        odd.changed_paths()
