"""Issue 6: pool, Dask and single-process runs agree; interrupted runs resume to identical output;
a file that kills its worker is quarantined and the run carries on."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import signal
import zlib
from pathlib import Path

import pytest

from dicom_deid.cli import main
from tests.blocked_run import BlockedRun, add_bad_folder
from tests.planted import generate_bench, generate_corpus


def _dcm_digests(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*.dcm"))}


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    base = tmp_path_factory.mktemp("scale")
    corpus = generate_corpus(base / "in", seed=5, patients=2)
    from dicom_deid.keys import create_secret_key

    (base / "pipe").mkdir(mode=0o700)
    create_secret_key(base / "pipe" / "secret.key")
    assert main(["keys", "custodian", "--out", str(base / "cust")]) == 0
    return corpus, base


def _run_and_export(corpus, base, name, *extra) -> tuple[dict[str, str], set[tuple[str, ...]]]:
    out, mapping = base / f"out-{name}", base / f"{name}.ddmap"
    rc = main(["run", str(corpus.root), str(out), "--key-file", str(base / "pipe" / "secret.key"),
               "--recipient", str(base / "cust" / "custodian.pub"), "--mapping", str(mapping),
               "--pixels", "off", "--quiet", *extra])
    assert rc == 0
    csv_path = base / f"{name}.csv"
    assert main(["mapping", "export", str(mapping), "--private-key", str(base / "cust" / "custodian.key"),
                 "--trust", str(base / "pipe" / "signing.pub"), "--csv", str(csv_path)]) == 0
    with csv_path.open(newline="") as fh:
        links = {(r["kind"], r["original"], r["replacement"], r["patient"], r["study"], r["series"])
                 for r in csv.DictReader(fh)}
    return _dcm_digests(out), links


def test_serial_pool_and_dask_give_identical_outputs_and_mappings(setup):
    corpus, base = setup
    serial = _run_and_export(corpus, base, "serial", "--workers", "1")
    pool = _run_and_export(corpus, base, "pool", "--workers", "2")
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None, scheduler_port=0) as cluster:
        dask = _run_and_export(corpus, base, "dask", "--dask", cluster.scheduler_address)
    assert len(serial[0]) >= 20 and len(serial[1]) >= 50
    # on Dask each worker sealed its own part (no plaintext link crossed the network), combined at the end
    from dicom_deid.seal import verify_mapping

    report = verify_mapping(base / "dask.ddmap")
    assert report.ok and report.complete and len(report.parts) >= 2
    assert not (base / ".dask.ddmap.parts").exists()
    assert pool[0] == serial[0] and dask[0] == serial[0]
    assert pool[1] == serial[1] and dask[1] == serial[1]


def _manifest_lines(path: Path) -> list[dict[str, object]]:
    """Every line parses on its own: rows are appended whole, a torn line never stays."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_killed_run_resumes_to_byte_identical_output(tmp_path):
    """kill -9 mid-run (the run is blocked on its stderr, so it is certain to be mid-run), then resume."""
    inp = tmp_path / "in"
    generate_bench(inp, 200)
    bad = add_bad_folder(inp)  # walked after the first patient's 50 files
    from dicom_deid.keys import create_secret_key

    key = tmp_path / "secret.key"
    create_secret_key(key)
    common = ["--key-file", str(key), "--pixels", "off", "--workers", "1"]
    assert main(["run", str(inp), str(tmp_path / "clean"), "--quiet", *common]) == 3
    out = tmp_path / "resumed"
    with BlockedRun([str(inp), str(out), "--progress", "none", *common]) as blocked:
        blocked.proc.kill()
    partial = len(_dcm_digests(out))
    assert 0 < partial < 200  # really killed mid-way
    assert main(["run", str(inp), str(out), "--quiet", *common]) == 3
    assert _dcm_digests(out) == _dcm_digests(tmp_path / "clean")
    from dicom_deid.manifest import MANIFEST_NAME, last_run

    lines = _manifest_lines(out / MANIFEST_NAME)
    rows = [r for r in last_run(lines) if r["type"] == "file"]
    assert sorted(int(str(r["ordinal"])) for r in rows) == list(range(200 + len(bad) + 1))  # + README
    done = [r for r in rows if r["outcome"] == "already_done"]
    assert 0 < len(done) <= partial  # a row is written only once its links are sealed: some redone
    assert not [p for p in out.rglob(".*.part")]


def test_ctrl_c_stops_cleanly_with_a_summary(tmp_path):
    inp = tmp_path / "in"
    generate_bench(inp, 100)
    add_bad_folder(inp)
    env = {**os.environ}
    with BlockedRun([str(inp), str(tmp_path / "out"), "--progress", "json", "--pixels", "off", "--workers", "1"],
                    env=env) as blocked:
        blocked.proc.send_signal(signal.SIGINT)
        err = blocked.drain()
    assert blocked.proc.returncode == 1, err[-3000:]
    assert "interrupted; re-run the same command to finish" in err
    assert "Traceback" not in err
    from dicom_deid.manifest import MANIFEST_NAME

    lines = _manifest_lines(tmp_path / "out" / MANIFEST_NAME)
    summary = lines[-1]
    assert summary["type"] == "summary" and summary["interrupted"] is True
    rows = [r for r in lines if r["type"] == "file"]
    assert summary["files"] == len(rows) and 0 < len(rows) < 251
    written = {str(r["output"]) for r in rows if r["outcome"] == "written"}
    on_disk = {p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.dcm")}
    assert on_disk == written  # Ctrl-C in a single process: every finished file got its row


def _deflate_bomb(path: Path, inflated_bytes: int) -> None:
    """A deflated-syntax DICOM file that inflates to ``inflated_bytes`` of pixel data."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.filebase import DicomBytesIO
    from pydicom.filewriter import write_dataset, write_file_meta_info
    from pydicom.uid import DeflatedExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    head = DicomBytesIO()
    head.is_little_endian, head.is_implicit_VR = True, False
    head.write(b"\x00" * 128 + b"DICM")
    write_file_meta_info(head, meta, enforce_standard=True)
    ds = Dataset()
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.PatientName = "BOMB^POISON"
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    body = DicomBytesIO()
    body.is_little_endian, body.is_implicit_VR = True, False
    write_dataset(body, ds)
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunks = [comp.compress(body.getvalue()),
              comp.compress(b"\xe0\x7f\x10\x00OB\x00\x00" + inflated_bytes.to_bytes(4, "little"))]
    block = b"\x00" * (1 << 20)
    for _ in range(inflated_bytes >> 20):
        chunks.append(comp.compress(block))
    chunks.append(comp.flush())
    path.write_bytes(head.getvalue() + b"".join(chunks))


def test_file_that_kills_its_worker_is_quarantined_and_the_run_carries_on(tmp_path, capsys):
    inp = tmp_path / "in"
    generate_bench(inp, 6)
    bomb = inp / "zz_bomb.dcm"
    _deflate_bomb(bomb, 600 << 20)
    assert bomb.stat().st_size < 2 << 20
    out = tmp_path / "out"
    rc = main(["run", str(inp), str(out), "--pixels", "off", "--quiet", "--workers", "2",
               "--file-time-limit", "1"])
    assert rc == 3
    assert len(_dcm_digests(out)) == 6
    reasons = [json.loads(line) for line in (tmp_path / "out.quarantine" / "reasons.jsonl").read_text().splitlines()]
    assert [(r["source"], r["reason"]) for r in reasons] == [("zz_bomb.dcm", "worker_crashed")]
    assert "zz_bomb.dcm: worker process died" in capsys.readouterr().err
