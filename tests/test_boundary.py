"""The per-file boundary takes bytes plus an opaque id (issue 13): no file, no path needed."""

from __future__ import annotations

import json

from dicom_deid.boundary import process_input
from dicom_deid.deidentify import Engine
from dicom_deid.errors import QuarantineReason
from dicom_deid.keys import SecretKey
from dicom_deid.links import LinkKind
from dicom_deid.manifest import Outcome
from dicom_deid.profiles import load_profile
from dicom_deid.walk import InputBytes
from tests.conftest import TEST_FILES

ENGINE = Engine(load_profile("basic"), SecretKey.from_bytes(bytes(range(32))))


def test_bytes_from_anywhere_are_written_under_their_opaque_id(tmp_path):
    data = (TEST_FILES / "CT_small.dcm").read_bytes()
    item = InputBytes(7, "association-3/instance-12", "STORESCU association 3, instance 12", data)
    result = process_input(item, engine=ENGINE, output=tmp_path / "out", quarantine_dir=tmp_path / "q")
    assert result.outcome is Outcome.WRITTEN and result.reason is None
    assert (tmp_path / "out" / str(result.record.output)).is_file()
    assert result.record.input_id == ENGINE.remapper.keyed_id("association-3/instance-12")
    source = [lk for lk in result.links if lk.kind is LinkKind.SOURCE_PATH]
    assert [(lk.original, lk.replacement) for lk in source] == [("association-3/instance-12", result.record.output)]


def test_bad_bytes_are_quarantined_whole_and_named_by_their_display(tmp_path):
    data = (TEST_FILES / "CT_small.dcm").read_bytes()[:3000]
    item = InputBytes(2, "association-3/instance-13", "STORESCU association 3, instance 13", data)
    result = process_input(item, engine=ENGINE, output=tmp_path / "out", quarantine_dir=tmp_path / "q")
    assert result.outcome is Outcome.QUARANTINED and result.reason is QuarantineReason.TRUNCATED
    assert result.message is not None and result.message.startswith("STORESCU association 3, instance 13: ")
    copies = [p for p in (tmp_path / "q").iterdir() if p.name != "reasons.jsonl"]
    assert [p.read_bytes() for p in copies] == [data]  # the bytes as received
    reasons = [json.loads(line) for line in (tmp_path / "q" / "reasons.jsonl").read_text().splitlines()]
    assert [r["reason"] for r in reasons] == ["truncated"]
    assert not (tmp_path / "out").exists()


def test_bytes_that_could_not_be_read_carry_their_error(tmp_path):
    from dicom_deid.errors import UnreadableDicomError

    item = InputBytes(0, "x", "spool/x", None, UnreadableDicomError("cannot read spool file (I/O error)",
                                                                   path="spool/x"))
    result = process_input(item, engine=ENGINE, output=tmp_path / "out", quarantine_dir=tmp_path / "q")
    assert result.outcome is Outcome.QUARANTINED and result.reason is QuarantineReason.UNREADABLE
    assert result.message == "spool/x: cannot read spool file (I/O error)"
