"""Nothing is lost: the node under faults, with a real Orthanc as the destination.

* the destination stops mid-study and comes back: every instance arrives exactly once;
* the node is SIGKILLed with instances queued and restarted: nothing is lost;
* an unknown calling AE title (or source address) is rejected;
* a corrupt instance is quarantined, never forwarded, while its association carries on;
* a full queue answers "out of resources" and keeps what it holds.

The sender is pynetdicom; the node runs in this process (synchronised on its counters) except
where the test is about the process itself (SIGKILL, SIGTERM).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pydicom
import pytest
from pynetdicom import AE, _config, build_context
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]

from dicom_deid.cli_net import open_node
from dicom_deid.manifest import MANIFEST_NAME, read_manifest
from dicom_deid.net.config import EngineSettings, NodeConfig, Peer, RetryPolicy, parse_networks
from dicom_deid.net.node import Node
from tests import netharness
from tests.netharness import (
    HANG_GUARD,
    free_port,
    modality,
    needs_orthanc,
)
from tests.planted import generate_corpus

orthancs = netharness.orthancs  # fixtures
node_processes = netharness.node_processes

_PYNETDICOM_SETTINGS = ("LOG_HANDLER_LEVEL", "LOG_REQUEST_IDENTIFIERS", "LOG_RESPONSE_IDENTIFIERS",
                        "STORE_SEND_CHUNKED_DATASET")


@pytest.fixture(autouse=True)
def _restore_pynetdicom_settings():
    """The node sets pynetdicom's process-wide settings when it starts: give them back after each test."""
    saved = {name: getattr(_config, name) for name in _PYNETDICOM_SETTINGS}
    _config.STORE_SEND_CHUNKED_DATASET = True  # the test modality sends files as their bytes (corrupt ones too)
    yield
    for name, value in saved.items():
        setattr(_config, name, value)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return generate_corpus(tmp_path_factory.mktemp("faults") / "in", seed=33, patients=1, bad_inputs=True)


@pytest.fixture(scope="module")
def files(corpus) -> list[Path]:
    return sorted(corpus.dicom_files)


@pytest.fixture
def nodes(tmp_path, key_file):
    """``make(**config) -> Node`` (started, listening on a free port); all stopped at tear-down."""
    made: list[Node] = []

    def make(*, forward: str | None = None, out: Path | None = None, spool_name: str = "spool", **fields) -> Node:
        fields.setdefault("allowed_ae", ("MODALITY",))
        config = NodeConfig(spool=tmp_path / spool_name, port=0, forward=Peer.parse(forward) if forward else None,
                            output=out, retry=RetryPolicy(0.05, 0.2), drain_timeout=5.0, **fields)
        config.validate()
        node = open_node(config, EngineSettings(key_file=key_file, pixels="off"), warn=lambda _: None)
        node.start()
        made.append(node)
        return node

    yield make
    for node in made:
        if not node.stopped:
            node.stop(drain_timeout=0)


def _send(port: int, paths: list[Path], calling: str = "MODALITY") -> list[int]:
    """One association from a modality; the C-STORE status of each file (its bytes sent as they are)."""
    metas = [pydicom.filereader.read_file_meta_info(p) for p in paths]
    pairs = sorted({(str(m.MediaStorageSOPClassUID), str(m.TransferSyntaxUID)) for m in metas})
    ae = AE(ae_title=calling)
    assoc = ae.associate("127.0.0.1", port, contexts=[build_context(s, t) for s, t in pairs], ae_title="DEID")
    assert assoc.is_established
    try:
        return [int(assoc.send_c_store(p).Status) for p in paths]
    finally:
        assoc.release()
        ae.shutdown()


def _wait(node: Node, predicate, what: str) -> None:
    assert node.wait_for(predicate, HANG_GUARD), f"{what}: {node.counters()}"


def _sop_uids(orthanc) -> list[str]:
    return [orthanc.get(f"/instances/{i}")["MainDicomTags"]["SOPInstanceUID"] for i in orthanc.get("/instances")]


def _deliveries(spool: Path) -> list[str]:
    return [json.loads(line)["file"] for line in (spool / "delivered.jsonl").read_text().splitlines()]


@needs_orthanc
def test_destination_stopped_mid_study_and_restarted_every_instance_arrives_once(files, nodes, orthancs, tmp_path):
    orthanc = orthancs("pacs", {"deid": modality("DEID", 1, store=True)}).start()
    node = nodes(forward=orthanc.peer)
    half = len(files) // 2
    assert _send(node.address[1], files[:half]) == [0] * half
    _wait(node, lambda c: c.forwarded == half, "first half delivered")
    orthanc.stop(graceful=False)  # the research archive goes down mid-study (killed)
    assert _send(node.address[1], files[half:]) == [0] * (len(files) - half)  # still acknowledged: on disk
    _wait(node, lambda c: c.deidentified == len(files) and c.retries >= 2, "second half waiting, retried")
    assert len(node.spool.waiting()) == len(files) - half  # held in the outbox, not lost
    orthanc.start()  # back, same storage and ports
    _wait(node, lambda c: c.forwarded == len(files), "everything delivered")
    counters = node.stop()
    assert counters.idle and counters.undeliverable == 0
    uids = _sop_uids(orthanc)
    assert len(uids) == len(set(uids)) == len(files)
    delivered = _deliveries(tmp_path / "spool")
    assert len(delivered) == len(set(delivered)) == len(files)  # each sent (and acknowledged) exactly once


@needs_orthanc
def test_node_killed_with_instances_queued_loses_nothing(files, key_file, orthancs, node_processes, tmp_path):
    orthanc = orthancs("pacs", {"deid": modality("DEID", 1, store=True)})  # configured, not started yet
    args = ["serve", "--port", "0", "--allow-ae", "MODALITY", "--forward", orthanc.peer, "--key-file",
            str(key_file), "--pixels", "off", "--spool", str(tmp_path / "spool"), "--progress", "json",
            "--retry-initial", "0.05", "--retry-max", "0.2"]
    first = node_processes(args)
    assert _send(first.port, files) == [0] * len(files)  # acknowledged: each one fsynced in the spool
    first.kill()  # SIGKILL: no chance to clean up
    held = list((tmp_path / "spool" / "incoming").rglob("*.dcm")) + list(
        (tmp_path / "spool" / "outbox").rglob("*.dcm"))
    # each one is in the spool, as received or de-identified (both, when the kill fell in between)
    assert len(held) >= len(files)
    orthanc.start()
    second = node_processes(args)  # resumes from the spool
    # An instance held twice is de-identified twice to the same output; the second copy may be
    # delivered again (C-STORE of the same instance is idempotent), so wait until nothing is queued.
    second.wait_counters(lambda c: c["forwarded"] >= len(files) and c["queued_deid"] == 0
                         and c["queued_delivery"] == 0, "all delivered after the restart, nothing queued")
    assert second.terminate() == 0  # SIGTERM: clean stop, statistics printed
    stdout, _ = second.finish_output()
    forwarded = re.search(r"forwarded (\d+)", stdout)
    assert forwarded is not None and len(files) <= int(forwarded.group(1)) <= len(held)
    assert "left in the spool" not in stdout
    uids = _sop_uids(orthanc)
    assert len(uids) == len(set(uids)) == len(files)
    studies = {str(pydicom.dcmread(p, stop_before_pixels=True).StudyInstanceUID) for p in files}
    assert len(orthanc.get("/studies")) == len(studies)  # two node sessions, the same pseudonymous studies
    assert list((tmp_path / "spool").glob("*/**/*.dcm")) == []


def test_unknown_calling_ae_and_address_are_rejected(files, nodes, tmp_path):
    node = nodes(out=tmp_path / "out")
    ae = AE(ae_title="INTRUDER")
    assoc = ae.associate("127.0.0.1", node.address[1], contexts=[build_context(Verification)], ae_title="DEID")
    assert assoc.is_rejected and not assoc.is_established
    wrong_called = ae.associate("127.0.0.1", node.address[1], contexts=[build_context(Verification)],
                                ae_title="NOTDEID")
    assert wrong_called.is_rejected
    ae.ae_title = "MODALITY"
    echo = ae.associate("127.0.0.1", node.address[1], contexts=[build_context(Verification)], ae_title="DEID")
    assert echo.is_established and int(echo.send_c_echo().Status) == 0  # the allowed title gets in
    echo.release()
    ae.shutdown()
    counters = node.stop()
    assert counters.rejected_associations == 2 and counters.received == 0

    busy = nodes(out=tmp_path / "out1", spool_name="spool1", max_associations=1)
    ae = AE(ae_title="MODALITY")
    first = ae.associate("127.0.0.1", busy.address[1], contexts=[build_context(Verification)], ae_title="DEID")
    second = ae.associate("127.0.0.1", busy.address[1], contexts=[build_context(Verification)], ae_title="DEID")
    assert first.is_established and second.is_rejected  # bounded: one at a time
    first.release()
    ae.shutdown()
    assert busy.counters().rejected_associations == 1

    fenced = nodes(out=tmp_path / "out2", allowed_networks=parse_networks(["10.0.0.0/8"]))
    ae = AE(ae_title="MODALITY")
    assoc = ae.associate("127.0.0.1", fenced.address[1], contexts=[build_context(Verification)], ae_title="DEID")
    assert not assoc.is_established  # the connection is closed before any DICOM is read
    ae.shutdown()
    assert fenced.counters().rejected_associations == 1


@needs_orthanc
def test_corrupt_instance_is_quarantined_never_forwarded_and_the_association_carries_on(
        corpus, files, nodes, orthancs, tmp_path, caplog):
    caplog.set_level("DEBUG")
    orthanc = orthancs("pacs", {"deid": modality("DEID", 1, store=True)}).start()
    node = nodes(forward=orthanc.peer, workers=2)
    batch = [files[0], corpus.bad_files["truncated"], files[1]]
    assert _send(node.address[1], batch) == [0, 0, 0]  # in custody; the sender need not resend
    _wait(node, lambda c: c.forwarded == 2 and c.quarantined == 1, "two forwarded, one quarantined")
    node.stop()
    assert len(orthanc.get("/instances")) == 2
    quarantine = tmp_path / "spool" / "quarantine"
    reasons = [json.loads(line) for line in (quarantine / "reasons.jsonl").read_text().splitlines()]
    assert [r["reason"] for r in reasons] == ["truncated"]
    kept, sent = (quarantine / reasons[0]["file"]).read_bytes(), corpus.bad_files["truncated"].read_bytes()
    assert kept[-512:] == sent[-512:]  # the original bytes as received, kept input side
    rows = [r for r in read_manifest(tmp_path / "spool" / MANIFEST_NAME) if r["type"] == "file"]
    assert sorted(r["outcome"] for r in rows) == ["quarantined", "written", "written"]
    assert len(_deliveries(tmp_path / "spool")) == 2
    needles = corpus.phi_strings() | corpus.original_uids
    assert [n for n in needles if n in caplog.text] == []  # no original value in any log record


def test_full_queue_answers_out_of_resources_and_keeps_what_it_holds(files, nodes):
    node = nodes(forward=f"ARCHIVE@127.0.0.1:{free_port()}", max_queue=2)  # destination down
    assert _send(node.address[1], files[:3]) == [0, 0, 0xA700]
    _wait(node, lambda c: c.deidentified == 2, "two held")
    assert node.counters().refused_full == 1
    assert len(node.spool.waiting()) == 2


def _tls_files(folder: Path) -> tuple[Path, Path, Path]:
    """A throw-away CA and a certificate for 127.0.0.1 signed by it: (ca.pem, cert.pem, key.pem)."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(2).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(__import__("ipaddress").ip_address(
                "127.0.0.1"))]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    folder.mkdir(parents=True, exist_ok=True)
    paths = folder / "ca.pem", folder / "cert.pem", folder / "key.pem"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return paths


def test_tls_listener_and_tls_forwarding(files, nodes, tmp_path):
    import ssl

    from dicom_deid.net.config import TlsClient, TlsServer

    ca, cert, key = _tls_files(tmp_path / "tls")
    archive = nodes(out=tmp_path / "archive", spool_name="archive-spool", ae_title="ARCHIVE",
                    allowed_ae=("DEID",), tls=TlsServer(cert, key))
    front = nodes(forward=f"ARCHIVE@127.0.0.1:{archive.address[1]}", forward_tls=TlsClient(ca))
    # a plain connection to the TLS port gets nowhere
    ae = AE(ae_title="DEID")
    plain = ae.associate("127.0.0.1", archive.address[1], contexts=[build_context(Verification)],
                         ae_title="ARCHIVE")
    assert not plain.is_established
    context = ssl.create_default_context(cafile=str(ca))
    secure = ae.associate("127.0.0.1", archive.address[1], contexts=[build_context(Verification)],
                          ae_title="ARCHIVE", tls_args=(context, "127.0.0.1"))
    assert secure.is_established and int(secure.send_c_echo().Status) == 0
    secure.release()
    ae.shutdown()
    # de-identified by the front node, delivered over TLS, written by the archive node
    assert _send(front.address[1], files[:3]) == [0, 0, 0]
    _wait(front, lambda c: c.forwarded == 3, "delivered over TLS")
    _wait(archive, lambda c: c.deidentified == 3, "received over TLS")
    assert len(list((tmp_path / "archive").rglob("*.dcm"))) == 3
