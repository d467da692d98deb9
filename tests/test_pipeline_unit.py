"""pipeline, boundary, deidentify, workers, config and events called directly (not only through the CLI):
the per-file boundary, the per-instance seam, the serial and pool backends, the run's events."""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path

import pydicom
import pytest
from pydicom.dataset import Dataset

from dicom_deid.boundary import FileResult, crashed_input, process_input
from dicom_deid.config import RunConfig
from dicom_deid.deidentify import IMPLEMENTATION_CLASS_UID, Engine, check_document, deidentify
from dicom_deid.errors import ConfigError, EncapsulatedDocumentError
from dicom_deid.events import FileDone, RunFinished, RunStarted
from dicom_deid.keys import SecretKey
from dicom_deid.links import Link, LinkKind
from dicom_deid.manifest import MANIFEST_NAME, Outcome, read_manifest
from dicom_deid.pipeline import run
from dicom_deid.pixels.stage import PixelMode
from dicom_deid.plan import plan_actions
from dicom_deid.profiles import DocumentPolicy, load_profile, load_standard
from dicom_deid.record import DiscardLinks, dedupe_links
from dicom_deid.remap import Remapper, patient_key
from dicom_deid.walk import InputRef, load_input
from dicom_deid.workers import Task, map_pool, map_serial
from tests.conftest import TEST_FILES

KEY = SecretKey.from_bytes(b"\x07" * 32)


def _engine(profile: str = "basic") -> Engine:
    return Engine(load_profile(profile), KEY)


def _process(ref: InputRef, root: Path, engine: Engine, tmp_path: Path, dry_run: bool = False) -> FileResult:
    return process_input(load_input(ref, root), engine=engine, output=tmp_path / "out", quarantine_dir=tmp_path / "q",
                         dry_run=dry_run)


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    root = tmp_path / "in"
    root.mkdir()
    shutil.copy(TEST_FILES / "CT_small.dcm", root / "a.dcm")
    shutil.copy(TEST_FILES / "MR_small.dcm", root / "b.dcm")
    (root / "notes.txt").write_text("not dicom")
    (root / "cut.dcm").write_bytes((TEST_FILES / "MR_small.dcm").read_bytes()[:-3000])
    return root


# --- deidentify: the per-instance seam ---------------------------------------------------------

def test_deidentify_marks_remaps_and_never_touches_the_source() -> None:
    source = pydicom.dcmread(TEST_FILES / "CT_small.dcm")
    before = [(e.tag, repr(e.value)) for e in source]
    result = deidentify(source, _engine("research"))
    out = result.dataset
    assert [(e.tag, repr(e.value)) for e in source] == before
    assert out.PatientIdentityRemoved == "YES"
    assert out.LongitudinalTemporalInformationModified == "MODIFIED"  # research: modified dates
    assert out.DeidentificationMethod.startswith("dicom-deid ") and "profile research" in out.DeidentificationMethod
    codes = [item.CodeValue for item in out.DeidentificationMethodCodeSequence]
    assert codes[0] == "113100" and "113107" in codes  # Basic Profile; Retain Longitudinal Modified Dates
    pk = patient_key(str(source.PatientID))
    assert result.patient == Remapper(KEY).patient_id(pk) == out.PatientID
    assert result.sop_uid == out.SOPInstanceUID == Remapper(KEY).uid(source.SOPInstanceUID)
    assert out.file_meta.MediaStorageSOPInstanceUID == out.SOPInstanceUID
    assert out.file_meta.ImplementationClassUID == IMPLEMENTATION_CLASS_UID
    kinds = {lk.kind for lk in result.links}
    assert {LinkKind.PATIENT_ID, LinkKind.PATIENT_NAME, LinkKind.STUDY_UID, LinkKind.SOP_INSTANCE_UID,
            LinkKind.DATE_OFFSET} <= kinds
    assert all(lk.patient == result.patient for lk in result.links)


@pytest.mark.parametrize(("profile", "marking"), [("basic", "REMOVED"), ("research", "MODIFIED")])
def test_longitudinal_marking_follows_the_profile(profile: str, marking: str) -> None:
    out = deidentify(pydicom.dcmread(TEST_FILES / "MR_small.dcm"), _engine(profile)).dataset
    assert out.LongitudinalTemporalInformationModified == marking


def test_full_dates_marking() -> None:
    engine = Engine(load_profile("basic", extra_options=["retain-long-full-dates"]), KEY)
    source = pydicom.dcmread(TEST_FILES / "MR_small.dcm")
    out = deidentify(source, engine).dataset
    assert out.LongitudinalTemporalInformationModified == "UNMODIFIED"
    assert out.StudyDate == source.StudyDate


def _document(policy: str) -> tuple[Dataset, object]:
    ds = Dataset()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.104.1"
    ds.MIMETypeOfEncapsulatedDocument = "application/pdf"
    ds.EncapsulatedDocument = b"%PDF-1.4 Jane Doe"
    profile = load_profile("basic", documents=policy)
    return ds, plan_actions(ds, profile, load_standard())


def test_documents_policy() -> None:
    ds, plan = _document("quarantine")
    with pytest.raises(EncapsulatedDocumentError, match=r"encapsulated document \(application/pdf\): its body"):
        check_document(ds, plan, DocumentPolicy.QUARANTINE)  # type: ignore[arg-type]
    with pytest.raises(EncapsulatedDocumentError, match=r"dropped \(--documents drop\)") as info:
        check_document(ds, plan, DocumentPolicy.DROP)  # type: ignore[arg-type]
    assert info.value.drop
    ds, plan = _document("keep")
    assert check_document(ds, plan, DocumentPolicy.KEEP) is True  # type: ignore[arg-type]
    image = pydicom.dcmread(TEST_FILES / "CT_small.dcm")
    assert check_document(image, plan_actions(image, load_profile("basic"), load_standard()),
                          DocumentPolicy.QUARANTINE) is False


# --- pipeline: the per-file boundary -----------------------------------------------------------

def test_process_input_outcomes(inputs: Path, tmp_path: Path) -> None:
    engine = _engine()
    out, q = tmp_path / "out", tmp_path / "q"
    results = {p.name: _process(InputRef(i, p), inputs, engine, tmp_path) for i, p in enumerate(sorted(inputs.iterdir()))}
    assert {k: r.record.outcome for k, r in results.items()} == {
        "a.dcm": "written", "b.dcm": "written", "cut.dcm": "quarantined", "notes.txt": "skipped_not_dicom"}
    written = results["a.dcm"].record
    assert (out / str(written.output)).is_file() and written.actions and written.changes
    assert written.input_id == engine.remapper.keyed_id("a.dcm")  # inputs by keyed token, never by name
    assert results["cut.dcm"].record.reason == "truncated" and "cut.dcm" in str(results["cut.dcm"].message)
    assert len(list(q.glob("*.bin"))) == 1
    assert [lk.kind for lk in results["cut.dcm"].links] == [LinkKind.SOURCE_PATH]


def test_process_input_dry_run_writes_nothing(inputs: Path, tmp_path: Path) -> None:
    res = _process(InputRef(0, inputs / "a.dcm"), inputs, _engine(), tmp_path, dry_run=True)
    assert res.record.outcome == Outcome.PLANNED.value
    assert not (tmp_path / "out").exists() and not (tmp_path / "q").exists()
    assert ("PatientName", "Z") in {(p, c) for p, c, _r in res.plan_rows}
    cut = _process(InputRef(1, inputs / "cut.dcm"), inputs, _engine(), tmp_path, dry_run=True)
    assert cut.record.outcome == "quarantined" and not (tmp_path / "q").exists()


def test_an_unexpected_error_is_quarantined_as_internal(inputs: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from dicom_deid import boundary

    def broken(*_a: object, **_k: object) -> None:
        raise KeyError("boom")

    monkeypatch.setattr(boundary, "deidentify", broken)
    res = _process(InputRef(0, inputs / "a.dcm"), inputs, _engine(), tmp_path)
    assert (res.record.outcome, res.record.reason) == ("quarantined", "internal_error")
    assert res.message is not None and "internal error (KeyError at test_pipeline_unit.py:" in res.message
    assert not (tmp_path / "out").exists()


def test_crashed_input_record(inputs: Path, tmp_path: Path) -> None:
    res = crashed_input(load_input(InputRef(3, inputs / "a.dcm"), inputs), _engine(), tmp_path / "q")
    assert (res.record.outcome, res.record.reason) == ("quarantined", "worker_crashed")
    assert (tmp_path / "q" / f"00000003-{_engine().remapper.keyed_id('a.dcm')}.bin").is_file()


def test_dedupe_links_once_per_patient_study_and_series_level() -> None:
    seen: set[tuple[str, str]] = set()
    a = [Link(LinkKind.PATIENT_ID, "P", "DD1"), Link(LinkKind.SOP_INSTANCE_UID, "1", "2.25.1")]
    b = [Link(LinkKind.PATIENT_ID, "P", "DD1"), Link(LinkKind.SOP_INSTANCE_UID, "1", "2.25.1")]
    assert dedupe_links(a, seen) == a
    assert dedupe_links(b, seen) == [b[1]]  # instance links are never dropped


def test_run_emits_events_and_survives_a_failing_handler(inputs: Path, tmp_path: Path) -> None:
    events: list[object] = []

    def handler(event: object) -> None:
        events.append(event)
        raise RuntimeError("a progress bar that breaks")

    config = RunConfig(input=inputs, output=tmp_path / "out")
    summary = run(config, _engine(), mapping=DiscardLinks(), on_event=handler, run_id="r1")
    assert dict(summary.counts) == {Outcome.WRITTEN: 2, Outcome.QUARANTINED: 1, Outcome.SKIPPED_NOT_DICOM: 1}
    assert isinstance(events[0], RunStarted) and events[0].run_id == "r1" and not events[0].dry_run
    assert [type(e) for e in events[1:-1]] == [FileDone] * 4
    assert isinstance(events[-1], RunFinished) and events[-1].counts == {"written": 2, "quarantined": 1, "skipped_not_dicom": 1}
    rows = read_manifest(tmp_path / "out" / MANIFEST_NAME)
    assert [r["type"] for r in rows] == ["run", "file", "file", "file", "file", "summary"]
    assert rows[0]["key_id"] == KEY.key_id and rows[0]["profile"] == "basic"


def test_dry_run_sample_takes_the_first_folders(tmp_path: Path) -> None:
    root = tmp_path / "in"
    for study in ("s1", "s2", "s3"):
        (root / study).mkdir(parents=True)
        shutil.copy(TEST_FILES / "CT_small.dcm", root / study / "a.dcm")
        shutil.copy(TEST_FILES / "MR_small.dcm", root / study / "b.dcm")
    config = RunConfig(input=root, output=tmp_path / "out", dry_run=True, sample=2)
    events: list[object] = []
    summary = run(config, _engine(), on_event=events.append, run_id="dry-1")
    assert summary.files == 4 and dict(summary.counts) == {Outcome.PLANNED: 4}
    assert not (tmp_path / "out").exists()
    assert isinstance(events[0], RunStarted) and events[0].run_id == "dry-1" and events[0].dry_run
    assert isinstance(events[-1], RunFinished) and len(events) == 6


def test_run_creates_an_output_folder_inside_folders_that_do_not_exist_yet(inputs: Path, tmp_path: Path) -> None:
    out = tmp_path / "new" / "deeper" / "out"
    summary = run(RunConfig(input=inputs, output=out), _engine())
    assert dict(summary.counts)[Outcome.WRITTEN] == 2 and len(list(out.rglob("*.dcm"))) == 2


# --- config ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("change", "message"), [
    ({"output": "IN"}, "output folder must differ from the input"),
    ({"output": "IN/sub"}, "output folder is inside the input folder"),
    ({"quarantine": "OUT/q"}, "quarantine folder must not be inside the output folder"),
    ({"quarantine": "IN/q"}, "quarantine folder must not be inside the input folder"),
    ({"workers": 0}, "--workers must be at least 1, got 0"),
    ({"file_cpu_limit": 0.0}, "--file-time-limit must be positive"),
    ({"keep_free": -1}, "keep_free must be at least 0 bytes, got -1"),
    ({"sample": 2}, "--sample only applies with --dry-run"),
    ({"sample": 0, "dry_run": True}, "--sample must be at least 1, got 0"),
    ({"input": "MISSING"}, "input does not exist"),
])
def test_run_config_refuses(change: dict[str, object], message: str, tmp_path: Path) -> None:
    (tmp_path / "IN").mkdir()
    values: dict[str, object] = {"input": tmp_path / "IN", "output": tmp_path / "OUT"}
    for k, v in change.items():
        values[k] = tmp_path / v if isinstance(v, str) else v
    with pytest.raises(ConfigError, match=message):
        RunConfig(**values).validate()  # type: ignore[arg-type]


def test_run_config_defaults(tmp_path: Path) -> None:
    (tmp_path / "IN").mkdir()
    (tmp_path / "OUT").write_text("a file")
    config = RunConfig(input=tmp_path / "IN", output=tmp_path / "OUT")
    assert config.quarantine_dir == tmp_path / "OUT.quarantine"
    with pytest.raises(ConfigError, match="output exists and is not a folder"):
        config.validate()


# --- workers -------------------------------------------------------------------------------------

def test_the_engine_travels_as_its_description_and_derives_the_rest() -> None:
    engine = Engine(load_profile("research"), KEY, PixelMode.OFF)
    copy = pickle.loads(pickle.dumps(engine))
    assert copy == engine and copy.pixel_stage is None and copy.remapper == Remapper(KEY)
    assert copy.standard is load_standard() and copy.plan_cache == {}
    with pytest.raises(TypeError, match="Engine.pixels must be a PixelMode, not str"):
        Engine(load_profile("research"), KEY, "off")  # type: ignore[arg-type]


def test_serial_and_pool_backends_agree(inputs: Path, tmp_path: Path) -> None:
    refs = [InputRef(i, p) for i, p in enumerate(sorted(inputs.iterdir()))]
    engine = _engine()
    serial = list(map_serial(refs, Task(root=inputs, output=tmp_path / "o1", quarantine_dir=tmp_path / "q1"), engine))
    task = Task(root=inputs, output=tmp_path / "o2", quarantine_dir=tmp_path / "q2")
    pooled = list(map_pool(iter(refs), task, _engine(), 2,
                           on_crash=lambda ref: pytest.fail(f"worker crashed on {ref}")))
    key = sorted((r.record.ordinal, r.record.outcome, r.record.output) for r in serial)
    assert sorted((r.record.ordinal, r.record.outcome, r.record.output) for r in pooled) == key
    assert len(key) == 4
    for _o, outcome, rel in key:
        if outcome == "written":
            assert (tmp_path / "o1" / str(rel)).read_bytes() == (tmp_path / "o2" / str(rel)).read_bytes()
