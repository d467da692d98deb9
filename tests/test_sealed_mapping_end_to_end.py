"""Issue 4 end to end: a run seals every link to the custodian; only the private key recovers them,
and no original identifier reaches the output folder, the manifest or the logs."""

from __future__ import annotations

import csv
import logging

import pytest

from dicom_deid.cli import main
from tests.planted import generate_corpus


@pytest.fixture(scope="module")
def sealed(tmp_path_factory):
    base = tmp_path_factory.mktemp("sealed")
    corpus = generate_corpus(base / "in", seed=11, patients=3)
    keys = base / "custodian"
    assert main(["keys", "custodian", "--out", str(keys)]) == 0
    mapping = base / "run.ddmap"
    from dicom_deid.keys import create_secret_key

    (base / "pipeline").mkdir(mode=0o700)
    create_secret_key(base / "pipeline" / "secret.key")
    return corpus, keys, mapping, base


def test_round_trip_recovers_every_original_identifier(sealed, capsys, caplog):
    corpus, keys, mapping, base = sealed
    caplog.set_level(logging.DEBUG)
    out = base / "out"
    rc = main(["--verbose", "run", str(corpus.root), str(out), "--recipient", str(keys / "custodian.pub"),
               "--mapping", str(mapping), "--key-file", str(base / "pipeline" / "secret.key"),
               "--pixels", "off", "--quiet"])
    logs = capsys.readouterr()
    assert rc == 0
    assert (mapping.stat().st_mode & 0o777) == 0o600
    assert (keys / "custodian.key").stat().st_mode & 0o777 == 0o600

    # the output side holds none of the originals: files, names, manifest, logs
    needles = {n.upper() for n in corpus.phi_strings()} | set(corpus.original_uids)
    assert len(needles) > 100
    blob = f"{logs.out}\n{logs.err}\n{caplog.text}".upper()
    for path in out.rglob("*"):
        blob += "\n" + path.relative_to(out).as_posix().upper()
        if path.is_file():
            blob += "\n" + path.read_bytes().decode("latin-1").upper()
    leaked = sorted(n for n in needles if n.upper() in blob)
    assert leaked == []

    # the custodian recovers them
    csv_path = base / "export.csv"
    assert main(["mapping", "export", str(mapping), "--private-key", str(keys / "custodian.key"),
                 "--trust", str(base / "pipeline" / "signing.pub"), "--csv", str(csv_path)]) == 0
    with csv_path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    originals = {r["original"] for r in rows}
    assert set(corpus.patients.values()) <= originals  # every PatientID
    names = {i.value for i in corpus.planted if i.keyword_or_location == "PatientName"}
    assert names and names <= originals
    instance_uids = {u for u in corpus.original_uids}
    recovered = instance_uids & originals
    # every original UID that appears in an output-bearing attribute is recovered
    assert len(recovered) >= 0.9 * len(instance_uids)
    assert {r["kind"] for r in rows} >= {"patient_id", "patient_name", "study_uid", "series_uid",
                                         "sop_instance_uid", "source_path"}


def test_wrong_private_key_fails_with_one_line(sealed, tmp_path, capsys):
    corpus, keys, _, base = sealed
    mapping = tmp_path / "own.ddmap"  # its own run: the test holds in any order (pytest-randomly)
    assert main(["run", str(corpus.root), str(tmp_path / "out"), "--recipient", str(keys / "custodian.pub"),
                 "--mapping", str(mapping), "--key-file", str(base / "pipeline" / "secret.key"),
                 "--pixels", "off", "--quiet"]) == 0
    other = tmp_path / "other"
    assert main(["keys", "custodian", "--out", str(other)]) == 0
    capsys.readouterr()
    rc = main(["mapping", "show", str(mapping), "--private-key", str(other / "custodian.key"),
               "--trust", str(base / "pipeline" / "signing.pub")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 1 and len(err) == 1 and "Traceback" not in err[0]
    assert "key" in err[0].lower()


def test_mapping_inside_output_is_refused(sealed, tmp_path, capsys):
    corpus, keys, _, _ = sealed
    out = tmp_path / "out"
    rc = main(["run", str(corpus.root), str(out), "--recipient", str(keys / "custodian.pub"),
               "--mapping", str(out / "m.ddmap"), "--pixels", "off", "--quiet"])
    assert rc == 2
    assert "inside the output folder" in capsys.readouterr().err
