"""`serve` and `pull` at the edge: options, the TOML file, one-line errors, the README contract."""

from __future__ import annotations

import argparse

import pytest

from dicom_deid.cli import build_parser, main
from dicom_deid.errors import ConfigError
from dicom_deid.net.config import Peer, RetryPolicy
from dicom_deid.net.forward import Delivery, classify
from dicom_deid.net.spool import Spool
from tests.conftest import REPO
from tests.netharness import free_port


def _err_line(capsys) -> str:
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert lines, "nothing on stderr"
    return lines[-1]


BAD_OPTIONS = [
    ("no-allowed-ae", ["serve", "--forward", "ARCHIVE@127.0.0.1:104"],
     "no calling AE title is allowed: give --allow-ae TITLE"),
    ("no-destination", ["serve", "--allow-ae", "CT1"], "give exactly one destination: --out DIR or --forward"),
    ("peer-without-ae", ["serve", "--allow-ae", "CT1", "--forward", "127.0.0.1:104"], "must look like AE@host:port"),
    ("port-out-of-range", ["serve", "--allow-ae", "CT1", "--forward", "A@127.0.0.1:70000"], "out of range"),
    ("ae-with-backslash", ["serve", "--allow-ae", "CT\\1", "--out", "{tmp}/o"], "is not a DICOM AE title"),
    ("ae-too-long", ["serve", "--ae-title", "SEVENTEEN_CHARS_X", "--allow-ae", "CT1", "--out", "{tmp}/o"],
     "is not a DICOM AE title"),
    ("bad-address", ["serve", "--allow-ae", "CT1", "--allow-address", "10.0.0.300", "--out", "{tmp}/o"],
     "is not an IP address or network"),
    ("queue-zero", ["serve", "--allow-ae", "CT1", "--out", "{tmp}/o", "--max-queue", "0"],
     "--max-queue must be at least 1"),
    ("tls-half", ["serve", "--allow-ae", "CT1", "--out", "{tmp}/o", "--tls-cert", "{tmp}/c.pem"],
     "TLS needs both --tls-cert and --tls-key"),
    ("spool-in-output", ["serve", "--allow-ae", "CT1", "--out", "{tmp}/o", "--spool", "{tmp}/o/spool"],
     "spool must not be inside the output folder"),
    ("both-destinations", ["serve", "--allow-ae", "CT1", "--out", "{tmp}/o", "--forward", "A@127.0.0.1:1"],
     "not allowed with argument"),
    ("bad-pixels-in-file", ["serve", "--config", "{tmp}/pixels.toml", "--allow-ae", "CT1", "--out", "{tmp}/o"],
     "pixels must be auto, all or off"),
    ("unknown-key-in-file", ["serve", "--config", "{tmp}/unknown.toml", "--allow-ae", "CT1", "--out", "{tmp}/o"],
     "unknown key 'colour' in [node]; valid keys: ae_title, bind, port"),
    ("pull-without-source", ["pull", "--study", "1.2.3", "--out", "{tmp}/o"], "pull needs --from AE@HOST:PORT"),
    ("pull-without-studies", ["pull", "--from", "PACS@127.0.0.1:104", "--out", "{tmp}/o"],
     "pull needs --study UID... or --query"),
    ("pull-unknown-keyword", ["pull", "--from", "PACS@127.0.0.1:104", "--query", "PatientNmae=X", "--out",
                              "{tmp}/o"], "unknown attribute keyword 'PatientNmae'"),
    ("pull-query-sets-level", ["pull", "--from", "PACS@127.0.0.1:104", "--query", "QueryRetrieveLevel=IMAGE",
                               "--out", "{tmp}/o"], "QueryRetrieveLevel is set by pull itself"),
]


@pytest.mark.parametrize(("argv", "message"), [(a, m) for _, a, m in BAD_OPTIONS], ids=[i for i, _, _ in BAD_OPTIONS])
def test_bad_options_are_one_line_usage_errors(argv, message, tmp_path, capsys):
    (tmp_path / "pixels.toml").write_text('[deid]\npixels = "sometimes"\n')
    (tmp_path / "unknown.toml").write_text('[node]\ncolour = "blue"\n')
    rc = main([a.replace("{tmp}", str(tmp_path)) for a in argv])
    line = _err_line(capsys)
    assert rc == 2
    assert line.startswith("dicom-deid: error: ") and message in line, line
    assert not (tmp_path / "o").exists()  # refused before anything was created


def test_unreachable_pacs_is_a_one_line_error(tmp_path, capsys):
    port = free_port()  # nothing listens there
    rc = main(["pull", "--from", f"PACS@127.0.0.1:{port}", "--study", "1.2.3", "--out", str(tmp_path / "o"),
               "--pixels", "off", "--spool", str(tmp_path / "spool")])
    assert rc == 1
    assert _err_line(capsys) == (f"dicom-deid: error: PACS@127.0.0.1:{port} cannot be reached (check its address, "
                                 "AE titles and that it knows DEID)")


def test_port_in_use_is_a_one_line_error(tmp_path, capsys):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        rc = main(["serve", "--port", str(port), "--allow-ae", "CT1", "--out", str(tmp_path / "o"), "--pixels",
                   "off", "--spool", str(tmp_path / "spool")])
    assert rc == 2
    assert _err_line(capsys) == (f"dicom-deid: error: cannot listen on 127.0.0.1:{port} (Address already in use); "
                                 "choose another --port or --bind")
    Spool(tmp_path / "spool").close()  # the failed start let go of its spool


def test_config_file_values_flags_win_and_paths_are_relative_to_the_file(tmp_path):
    from dicom_deid.cli_net import _engine_settings, _node_config

    folder = tmp_path / "site"
    folder.mkdir()
    config = folder / "node.toml"
    config.write_text("""
[node]
ae_title = "DEIDNODE"
port = 11113
allowed_ae = ["CT1", "MR2"]
allowed_addresses = ["10.1.0.0/16"]
spool = "spool"
max_queue = 50
[forward]
destination = "ARCHIVE@10.1.2.3:104"
retry_initial = 2
retry_max = 30
[deid]
profile = "research"
pixels = "off"
options = ["retain-uids"]
""")
    args = build_parser().parse_args(["serve", "--config", str(config), "--port", "2000"])
    node, files = _node_config(args, listening=True)
    assert (node.ae_title, node.port, node.allowed_ae, node.max_queue) == ("DEIDNODE", 2000, ("CT1", "MR2"), 50)
    assert [str(n) for n in node.allowed_networks] == ["10.1.0.0/16"]
    assert node.spool == folder / "spool" and node.output is None
    assert node.forward == Peer("ARCHIVE", "10.1.2.3", 104)
    assert node.retry == RetryPolicy(2.0, 30.0)
    settings = _engine_settings(args, files)
    assert (settings.profile, settings.pixels, settings.options) == ("research", "off", ("retain-uids",))
    # --out on the command line replaces the file's destination
    args = build_parser().parse_args(["serve", "--config", str(config), "--out", str(tmp_path / "o")])
    node, _ = _node_config(args, listening=True)
    assert node.forward is None and node.output == tmp_path / "o"


RETRY_DELAYS = [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (7, 60.0), (500, 60.0)]


@pytest.mark.parametrize(("failures", "delay"), RETRY_DELAYS, ids=[f"failures={f}" for f, _ in RETRY_DELAYS])
def test_retry_backs_off_exponentially_to_a_ceiling(failures, delay):
    assert RetryPolicy(initial=1.0, maximum=60.0).delay(failures) == delay


# PS3.4 Annex B.2.3 (Storage) and PS3.7 Annex C: what the forwarder does with each answer
STATUSES = [
    (0x0000, Delivery.DELIVERED, "success"),
    (0xB000, Delivery.DELIVERED, "warning-coercion"),
    (0xB007, Delivery.DELIVERED, "warning-does-not-match"),
    (0xA700, Delivery.RETRY, "out-of-resources"),
    (0xA7FF, Delivery.RETRY, "out-of-resources-range"),
    (0x0213, Delivery.RETRY, "resource-limitation"),
    (None, Delivery.RETRY, "no-response"),
    (0xA900, Delivery.REFUSED, "does-not-match-sop-class"),
    (0xC000, Delivery.REFUSED, "cannot-understand"),
    (0x0122, Delivery.REFUSED, "sop-class-not-supported"),
    (0x0124, Delivery.REFUSED, "not-authorised"),
]


@pytest.mark.parametrize(("status", "expected"), [(s, e) for s, e, _ in STATUSES], ids=[i for _, _, i in STATUSES])
def test_store_status_decides_delivered_retry_or_set_aside(status, expected):
    assert classify(status) is expected


def test_one_node_per_spool(tmp_path):
    first = Spool(tmp_path / "spool")
    try:
        with pytest.raises(ConfigError, match="spool is in use by another dicom-deid node"):
            Spool(tmp_path / "spool")
    finally:
        first.close()
    Spool(tmp_path / "spool").close()  # free again once the first is closed
    assert (tmp_path / "spool").stat().st_mode & 0o077 == 0  # holds originals: owner only


def test_readme_documents_serve_and_pull_and_every_flag():
    text = (REPO / "README.md").read_text()
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    checked = 0
    for name in ("serve", "pull"):
        assert f"dicom-deid {name}" in text, name
        for action in sub.choices[name]._actions:
            flags = [f for f in action.option_strings if f.startswith("--") and f != "--help"]
            if flags:
                assert any(f in text for f in flags), (name, flags)
                checked += 1
    assert checked > 40
