"""Subject IDs from the team's table (issue 13): ``--subject-map FILE.csv`` end to end, bad tables,
unmapped patients, the profile's ``[subjects]``, and the map reaching workers, Dask and the node."""

from __future__ import annotations

import csv
import pickle
from pathlib import Path

import pydicom
import pytest

from dicom_deid.cli import main
from dicom_deid.manifest import MANIFEST_NAME, Outcome, read_manifest
from tests.small_export import make_export

PIDS = ["PID-1001", "PID-1002", "PID-1003"]
TABLE = """PatientID,SubjectID,PatientName,DateOffsetDays
PID-1001,SUBJ-001,SUBJ-001^Study,-120
PID-1002,SUBJ-002,SUBJ-002^Study,-45
PID-1003,SUBJ-003,SUBJ-003^Study,-300
"""
EXPECTED = {"PID-1001": ("SUBJ-001", "SUBJ-001^Study", -120), "PID-1002": ("SUBJ-002", "SUBJ-002^Study", -45),
            "PID-1003": ("SUBJ-003", "SUBJ-003^Study", -300)}


def _shifted(date: str, days: int) -> str:
    import datetime as dt

    return (dt.date(int(date[:4]), int(date[4:6]), int(date[6:])) + dt.timedelta(days=days)).strftime("%Y%m%d")


def _outputs(out: Path) -> dict[str, pydicom.Dataset]:
    return {p.relative_to(out).parts[0]: pydicom.dcmread(p) for p in out.rglob("*.dcm")}


@pytest.fixture
def export(tmp_path: Path):
    planted = make_export(tmp_path / "in", PIDS)
    table = tmp_path / "subjects.csv"
    table.write_text(TABLE)
    return planted, table


def test_three_patients_from_a_csv_verify_and_custodian(tmp_path, export, key_file, capsys):
    planted, table = export
    out, keys = tmp_path / "out", tmp_path / "custodian"
    assert main(["keys", "custodian", "--out", str(keys)]) == 0
    mapping = tmp_path / "runs" / "m.ddmap"
    rc = main(["run", str(tmp_path / "in"), str(out), "--profile", "research", "--subject-map", str(table),
               "--key-file", str(key_file), "--recipient", str(keys / "custodian.pub"), "--mapping", str(mapping),
               "--pixels", "off", "--quiet"])
    assert rc == 0
    outputs = _outputs(out)
    assert sorted(outputs) == ["SUBJ-001", "SUBJ-002", "SUBJ-003"]  # the subject IDs name the folders
    checked = 0
    for p in planted:
        subject, name, offset = EXPECTED[p.patient_id]
        ds = outputs[subject]
        assert (ds.PatientID, str(ds.PatientName)) == (subject, name)
        assert ds.StudyDate == _shifted(pydicom.dcmread(p.path).StudyDate, offset)  # the table's fixed offset
        checked += 1
    assert checked == 3
    run_row = next(r for r in read_manifest(out / MANIFEST_NAME) if r["type"] == "run")
    assert len(run_row["subject_map"]) == 16 and "PID-" not in str(run_row)

    capsys.readouterr()
    assert main(["verify", str(out), "--against", str(tmp_path / "in"), "--subject-map", str(table),
                 "--key-file", str(key_file), "--ocr", "off"]) == 0
    assert " 0 finding(s)" in capsys.readouterr().out
    # without the table, the subject IDs are values verify cannot account for: the findings
    assert main(["verify", str(out), "--against", str(tmp_path / "in"), "--ocr", "off"]) == 4
    assert "requires it empty (Z) or a keyed pseudonym" in capsys.readouterr().out

    links = tmp_path / "links.csv"
    assert main(["mapping", "export", str(mapping), "--private-key", str(keys / "custodian.key"),
                 "--csv", str(links)]) == 0
    with links.open(newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["kind"] == "patient_id"]
    assert sorted((r["original"], r["replacement"]) for r in rows) == [(pid, EXPECTED[pid][0]) for pid in PIDS]
    capsys.readouterr()
    assert main(["mapping", "lookup", str(mapping), "--private-key", str(keys / "custodian.key"), "SUBJ-002"]) == 0
    assert "SUBJ-002 <- PID-1002" in capsys.readouterr().out


BAD_TABLES = [
    ("duplicate-patient", "PatientID,SubjectID\nA1,S1\nA2,S2\nA1,S3\n", "line 4: duplicate PatientID (first on line 2)"),
    ("duplicate-subject", "PatientID,SubjectID\nA1,S1\nA2,S1\n",
     "line 3: duplicate SubjectID (first on line 2): two patients would become one"),
    ("empty-subject", "PatientID,SubjectID\nA1,S1\nA2,  \n", "line 3: empty SubjectID"),
    ("empty-patient", "PatientID,SubjectID\n,S1\n", "line 2: empty PatientID"),
    ("empty-optional-cell", "PatientID,SubjectID,PatientName\nA1,S1,N1\nA2,S2,\n",
     "line 3: empty PatientName (leave the column out, or fill it for every row)"),
    ("missing-cell", "PatientID,SubjectID,DateOffsetDays\nA1,S1\n", "line 2: empty DateOffsetDays"),
    ("subject-is-a-patient-id", "PatientID,SubjectID\nA1,S1\nS1,S2\n",
     "line 2: SubjectID equals the PatientID on line 3: a subject ID must never be a patient's real ID"),
    ("subject-not-a-folder-name", "PatientID,SubjectID\nA1,../up\n",
     "line 2: SubjectID must be 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit"),
    ("offset-zero", "PatientID,SubjectID,DateOffsetDays\nA1,S1,0\n", "line 2: DateOffsetDays 0 keeps the real dates"),
    ("offset-not-a-number", "PatientID,SubjectID,DateOffsetDays\nA1,S1,-3.5\n",
     "line 2: DateOffsetDays must be a whole number of days"),
    ("no-header", "A1,S1\nA2,S2\n", "line 1: the first row must name the columns, PatientID, SubjectID required"),
    ("unknown-column", "PatientID,SubjectID,Site\nA1,S1,X\n", "(unknown column 'Site')"),
    ("too-many-cells", "PatientID,SubjectID\nA1,S1,extra\n", "line 2: 3 cells, but the header names 2 columns"),
    ("no-rows", "PatientID,SubjectID\n\n", "subject map lists no patient"),
]


@pytest.mark.parametrize(("text", "message"), [(t, m) for _, t, m in BAD_TABLES], ids=[i for i, _, _ in BAD_TABLES])
def test_a_bad_table_is_refused_naming_the_line(tmp_path, text, message, capsys):
    make_export(tmp_path / "in", ["A1"])
    table = tmp_path / "subjects.csv"
    table.write_text(text)
    out = tmp_path / "out"
    assert main(["run", str(tmp_path / "in"), str(out), "--subject-map", str(table), "--pixels", "off",
                 "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"dicom-deid: error: {table}: ")
    assert message in err[0]
    assert "A1" not in err[0].replace(str(tmp_path), "")  # the table's values are never quoted
    assert not out.exists()  # refused before anything is written


def test_unmapped_patient_is_quarantined_unless_keyed(tmp_path, key_file, capsys):
    make_export(tmp_path / "in", ["PID-1001", "PID-9999"])
    table = tmp_path / "subjects.csv"
    table.write_text("PatientID,SubjectID\nPID-1001,SUBJ-001\n")
    base = ["--subject-map", str(table), "--key-file", str(key_file), "--pixels", "off", "--quiet"]
    assert main(["run", str(tmp_path / "in"), str(tmp_path / "a"), *base]) == 3
    err = capsys.readouterr().err
    assert f"dicom-deid: quarantined: {tmp_path / 'in' / 'IM0002'}: PatientID is not in the subject map" in err
    rows = [r for r in read_manifest(tmp_path / "a" / MANIFEST_NAME) if r["type"] == "file"]
    assert sorted((r["outcome"], r.get("reason")) for r in rows) == [("quarantined", "unmapped_patient"),
                                                                     ("written", None)]
    assert sorted(_outputs(tmp_path / "a")) == ["SUBJ-001"]
    assert main(["run", str(tmp_path / "in"), str(tmp_path / "b"), *base, "--unmapped", "keyed"]) == 0
    folders = set(_outputs(tmp_path / "b"))
    assert len(folders) == 2 and "SUBJ-001" in folders and all(f.startswith("DD") for f in folders - {"SUBJ-001"})


def test_unmapped_without_a_map_is_a_usage_error(tmp_path, capsys):
    make_export(tmp_path / "in", ["A1"])
    assert main(["run", str(tmp_path / "in"), str(tmp_path / "out"), "--unmapped", "keyed", "--pixels", "off"]) == 2
    assert "--unmapped needs a subject map" in capsys.readouterr().err


def test_a_profile_names_its_toml_table_and_the_flag_wins(tmp_path, key_file):
    make_export(tmp_path / "in", PIDS[:2])
    project = tmp_path / "project"
    project.mkdir()
    (project / "subjects.toml").write_text('[[subject]]\npatient_id = "PID-1001"\nsubject_id = "T-1"\n'
                                           '[[subject]]\npatient_id = "PID-1002"\nsubject_id = "T-2"\nname = "Two"\n')
    (project / "study.toml").write_text('base = "research"\n[subjects]\nmap = "subjects.toml"\n')
    out = tmp_path / "out"
    assert main(["run", str(tmp_path / "in"), str(out), "--profile", str(project / "study.toml"),
                 "--key-file", str(key_file), "--pixels", "off", "--quiet"]) == 0
    outputs = _outputs(out)
    assert sorted(outputs) == ["T-1", "T-2"] and str(outputs["T-2"].PatientName) == "Two"
    csv_table = tmp_path / "other.csv"
    csv_table.write_text("PatientID,SubjectID\nPID-1001,C-1\nPID-1002,C-2\n")
    assert main(["run", str(tmp_path / "in"), str(tmp_path / "out2"), "--profile", str(project / "study.toml"),
                 "--subject-map", str(csv_table), "--key-file", str(key_file), "--pixels", "off", "--quiet"]) == 0
    assert sorted(_outputs(tmp_path / "out2")) == ["C-1", "C-2"]


def test_a_bad_toml_table_names_the_entry(tmp_path):
    from dicom_deid.subjects import SubjectMapError, load_subject_map

    path = tmp_path / "s.toml"
    path.write_text('[[subject]]\npatient_id = "A"\nsubject_id = "S"\n[[subject]]\npatient_id = "B"\nsubjet_id = "T"\n')
    with pytest.raises(SubjectMapError, match=r"subject 2: unknown key 'subjet_id'; valid keys: patient_id, subject_id"):
        load_subject_map(path)


def test_resuming_with_another_table_is_refused(tmp_path, export, key_file, capsys):
    _, table = export
    base = ["--key-file", str(key_file), "--pixels", "off", "--quiet"]
    out = tmp_path / "out"
    assert main(["run", str(tmp_path / "in"), str(out), "--subject-map", str(table), *base]) == 0
    other = tmp_path / "other.csv"
    other.write_text(TABLE.replace("SUBJ-00", "OTHER-"))
    assert main(["run", str(tmp_path / "in"), str(out), "--subject-map", str(other), *base]) == 2
    assert "another profile, options, key or subject map" in capsys.readouterr().err


def test_the_engine_carries_the_table_to_pool_workers(tmp_path, export, key_file):
    from dicom_deid import Deidentifier

    _, table = export
    deid = Deidentifier("basic", key=key_file, subject_map=table, pixels="off")
    clone = pickle.loads(pickle.dumps(deid.engine))  # what a pool initializer or a Dask scatter receives
    assert clone == deid.engine and clone.subject_map == deid.engine.subject_map
    assert clone.remapper.key == deid.engine.key and clone.standard is deid.engine.standard  # derived again
    summary = deid.run(tmp_path / "in", tmp_path / "out", workers=2)
    assert summary.counts == {Outcome.WRITTEN: 3}
    assert sorted(_outputs(tmp_path / "out")) == ["SUBJ-001", "SUBJ-002", "SUBJ-003"]


def test_the_engine_carries_the_table_to_dask_workers(tmp_path, export, key_file):
    from distributed import LocalCluster

    from dicom_deid import Deidentifier

    _, table = export
    deid = Deidentifier("basic", key=key_file, subject_map=table, pixels="off")
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        summary = deid.run(tmp_path / "in", tmp_path / "out", dask=cluster.scheduler_address)
    assert summary.counts == {Outcome.WRITTEN: 3}
    assert sorted(_outputs(tmp_path / "out")) == ["SUBJ-001", "SUBJ-002", "SUBJ-003"]


def test_the_network_node_uses_the_table(tmp_path, export, key_file):
    from pynetdicom import AE, build_context

    from dicom_deid.cli_net import open_node
    from dicom_deid.net.config import EngineSettings, NodeConfig

    planted, table = export
    out = tmp_path / "node-out"
    config = NodeConfig(spool=tmp_path / "spool", port=0, output=out, allowed_ae=("MODALITY",), drain_timeout=5.0)
    config.validate()
    node = open_node(config, EngineSettings(key_file=key_file, pixels="off", subject_map=table), warn=lambda _: None)
    node.start()
    try:
        meta = pydicom.filereader.read_file_meta_info(planted[0].path)
        ae = AE(ae_title="MODALITY")
        assoc = ae.associate("127.0.0.1", node.address[1], ae_title="DEID",
                             contexts=[build_context(meta.MediaStorageSOPClassUID, meta.TransferSyntaxUID)])
        assert assoc.is_established
        try:
            statuses = [int(assoc.send_c_store(p.path).Status) for p in planted]
        finally:
            assoc.release()
            ae.shutdown()
        assert statuses == [0, 0, 0]
        node.wait_for(lambda c: c.queued_deid == 0 and c.deidentified == 3, None)
    finally:
        node.stop(drain_timeout=0)
    assert sorted(_outputs(out)) == ["SUBJ-001", "SUBJ-002", "SUBJ-003"]
