"""The custodian's verbs: ``keys custodian`` and ``mapping verify|show|lookup|export``, through ``cli.main``.

Exit codes as cli.py maps them: 0 ok, 1 key / seal errors (and lookup without a
match), 2 usage errors (ConfigError).
"""

from __future__ import annotations

import csv
import stat
from pathlib import Path

import pytest

from dicom_deid.cli import main
from dicom_deid.custodian import (
    generate_custodian_keys,
    load_or_create_signing_key,
    load_recipient_key,
)
from dicom_deid.links import Link, LinkKind
from dicom_deid.seal import MappingWriter

# (kind, original, replacement, patient, study, series): planted, so expected values are known here
PLANTED_A = [
    (LinkKind.PATIENT_ID, "ORIG-MRN-1001", "PSEUDO-P1", "PSEUDO-P1", "", ""),
    (LinkKind.PATIENT_NAME, "ORIG-DOE^JANE", "PSEUDO-NAME-1", "PSEUDO-P1", "", ""),
    (LinkKind.PATIENT_BIRTH_DATE, "ORIG-19700101", "PSEUDO-19691120", "PSEUDO-P1", "", ""),
    (LinkKind.STUDY_UID, "ORIG-1.2.3.4", "PSEUDO-2.25.11", "PSEUDO-P1", "PSEUDO-2.25.11", ""),
    (
        LinkKind.SERIES_UID,
        "ORIG-1.2.3.4.5",
        "PSEUDO-2.25.12",
        "PSEUDO-P1",
        "PSEUDO-2.25.11",
        "PSEUDO-2.25.12",
    ),
    (
        LinkKind.SOP_INSTANCE_UID,
        "ORIG-1.2.3.4.5.6",
        "PSEUDO-2.25.13",
        "PSEUDO-P1",
        "PSEUDO-2.25.11",
        "PSEUDO-2.25.12",
    ),
]
PLANTED_B = [
    (LinkKind.PATIENT_ID, "ORIG-MRN-2002", "PSEUDO-P2", "PSEUDO-P2", "", ""),
    (LinkKind.ACCESSION_NUMBER, "ORIG-ACC-77", "PSEUDO-ACC-1", "PSEUDO-P2", "PSEUDO-2.25.21", ""),
    (
        LinkKind.SOURCE_PATH,
        "ORIG-/data/Smith John/IM1",
        "PSEUDO-a/b/1.dcm",
        "PSEUDO-P2",
        "PSEUDO-2.25.21",
        "PSEUDO-2.25.22",
    ),
]
RUN_INFO = {"profile": "basic", "options": ["clean_descriptors"]}


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The pipeline's key folder; its signing.pub is trusted by default."""
    monkeypatch.setenv("DICOM_DEID_HOME", str(tmp_path / "home"))
    load_or_create_signing_key(tmp_path / "home")
    return tmp_path / "home"


def seal(
    path: Path,
    pub: Path,
    key_dir: Path,
    planted: list[tuple[LinkKind, str, str, str, str, str]],
    run_id: str,
    *,
    close: bool = True,
) -> Path:
    writer = MappingWriter.create(
        path,
        load_recipient_key(pub),
        load_or_create_signing_key(key_dir),
        run_id,
        RUN_INFO,
        segment_links=2,
    )
    writer.add(Link(*row) for row in planted)
    writer.close() if close else writer.abort()
    return path


@pytest.fixture
def broker(tmp_path: Path, home: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    code, _, _ = run_cli(["keys", "custodian", "--out", str(tmp_path / "broker")], capsys)
    assert code == 0
    return tmp_path / "broker"


@pytest.fixture
def two_files(tmp_path: Path, home: Path, broker: Path) -> tuple[Path, Path]:
    pub = broker / "custodian.pub"
    return (
        seal(tmp_path / "maps" / "a.ddmap", pub, home, PLANTED_A, "run-a"),
        seal(tmp_path / "maps" / "b.ddmap", pub, home, PLANTED_B, "run-b"),
    )


def open_args(broker: Path) -> list[str]:
    return ["--private-key", str(broker / "custodian.key")]


# --------------------------------------------------------------------------- keys custodian


def test_keys_custodian_writes_pair(
    tmp_path: Path, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "broker"
    code, stdout, err = run_cli(
        ["keys", "custodian", "--out", str(out), "--name", "broker1"], capsys
    )
    assert (code, err) == (0, "")
    assert f"public key:  {out / 'broker1.pub'}" in stdout and "fingerprint: " in stdout
    assert {p.name: stat.S_IMODE(p.stat().st_mode) for p in out.iterdir()} == {
        "broker1.pub": 0o644,
        "broker1.key": 0o600,
    }
    assert "PRIVATE KEY" not in stdout
    code, _, err = run_cli(["keys", "custodian", "--out", str(out), "--name", "broker1"], capsys)
    assert (code, err) == (
        1,
        (
            f"dicom-deid: error: {out / 'broker1.pub'}: key file already exists; "
            "refusing to overwrite\n"
        ),
    )


def test_passphrase_protected_key(
    tmp_path: Path, home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BROKER_PASS", "correct horse battery staple")
    out = tmp_path / "broker"
    assert (
        run_cli(
            ["keys", "custodian", "--out", str(out), "--passphrase-env", "BROKER_PASS"], capsys
        )[0]
        == 0
    )
    assert (out / "custodian.key").read_text().startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----")
    path = seal(tmp_path / "a.ddmap", out / "custodian.pub", home, PLANTED_A, "run-a")
    base = ["mapping", "show", str(path), "--private-key", str(out / "custodian.key")]
    code, _, err = run_cli(base, capsys)
    assert code == 1 and "passphrase required" in err
    monkeypatch.setenv("WRONG_PASS", "nope")
    code, _, err = run_cli([*base, "--passphrase-env", "WRONG_PASS"], capsys)
    assert (code, err) == (
        1,
        f"dicom-deid: error: {out / 'custodian.key'}: wrong passphrase for this private key\n",
    )
    code, _, err = run_cli([*base, "--passphrase-env", "UNSET_VAR_XYZ"], capsys)
    assert (code, err) == (
        2,
        (
            "dicom-deid: error: --passphrase-env UNSET_VAR_XYZ: environment variable is not "
            "set or empty\n"
        ),
    )
    code, stdout, _ = run_cli([*base, "--passphrase-env", "BROKER_PASS"], capsys)
    assert code == 0 and "run run-a" in stdout


def test_private_key_readable_by_others_refused(
    two_files: tuple[Path, Path], broker: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (broker / "custodian.key").chmod(0o640)
    code, _, err = run_cli(["mapping", "show", str(two_files[0]), *open_args(broker)], capsys)
    assert code == 1 and "key file is readable by others (mode 640)" in err


# --------------------------------------------------------------------------- verify


def test_verify_ok(two_files: tuple[Path, Path], home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Without --trust: intact and complete, the signer's fingerprint shown as not pinned; --trust pins it."""
    from dicom_deid.custodian import load_signer_public_key

    fp = load_signer_public_key(home / "signing.pub").fingerprint
    code, stdout, err = run_cli(["mapping", "verify", *map(str, two_files)], capsys)
    assert (code, err) == (0, "")
    assert stdout.count(": OK: run ") == 2 and "6 links, complete" in stdout
    assert stdout.count(f"signed by pipeline key {fp}: NOT pinned") == 2
    assert "ORIG-" not in stdout and "PSEUDO-" not in stdout
    code, stdout, err = run_cli(["mapping", "verify", *map(str, two_files), "--trust", str(home / "signing.pub")],
                                capsys)
    assert (code, err) == (0, "")
    assert stdout.count(f"signed by pipeline key {fp}: pinned (--trust)") == 2


def test_verify_flipped_byte_exits_non_zero(
    two_files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    path = two_files[0]
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x10
    path.write_bytes(bytes(data))
    code, stdout, err = run_cli(["mapping", "verify", *map(str, two_files)], capsys)
    assert code == 1
    assert err.startswith(f"dicom-deid: error: {path}: ") and err.count("\n") == 1
    assert f"{path}: FAILED: " in stdout and f"{two_files[1]}: OK" in stdout
    assert "ORIG-" not in stdout + err


def test_verify_truncated_reports_incomplete(
    two_files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    path = two_files[0]
    path.write_bytes(path.read_bytes()[:-20])
    code, _, err = run_cli(["mapping", "verify", str(path)], capsys)
    assert code == 1 and err.count("\n") == 1
    assert err.startswith(
        f"dicom-deid: error: {path}: incomplete run: part 'main' has no trailer "
        "(3 finished segments, 6 links readable; "
    )
    assert err.endswith(
        "bytes of an unfinished segment ignored); the run did not finish or the file was "
        "truncated\n"
    )


def test_verify_foreign_signer_is_refused_once_pinned(
    tmp_path: Path, broker: Path, home: Path, two_files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    foreign_dir = tmp_path / "other-site"
    path = seal(
        tmp_path / "maps" / "f.ddmap", broker / "custodian.pub", foreign_dir, PLANTED_B, "run-f"
    )
    code, out, err = run_cli(["mapping", "verify", str(path)], capsys)  # intact: OK, but not pinned
    assert (code, err) == (0, "") and ": NOT pinned" in out
    code, _, err = run_cli(["mapping", "verify", str(path), "--trust", str(home / "signing.pub")], capsys)
    assert code == 1 and "signed by an untrusted pipeline key" in err
    code, out, err = run_cli(
        ["mapping", "verify", str(path), "--trust", str(foreign_dir / "signing.pub")], capsys
    )
    assert (code, err) == (0, "") and ": pinned (--trust)" in out


def test_verify_on_a_machine_without_any_key_needs_no_trust_anchor(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    two_files: tuple[Path, Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The README's `mapping verify FILE` on the custodian's machine: no key needed, nothing pinned."""
    monkeypatch.setenv("DICOM_DEID_HOME", str(tmp_path / "custodian-machine"))
    code, out, err = run_cli(["mapping", "verify", str(two_files[0])], capsys)
    assert (code, err) == (0, "")
    assert out.startswith(f"{two_files[0]}: OK: run ") and ": NOT pinned (" in out
    assert not (tmp_path / "custodian-machine").exists()  # verifying creates no key


# --------------------------------------------------------------------------- show, lookup, export


def test_show_summary(
    two_files: tuple[Path, Path], broker: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, stdout, _ = run_cli(["mapping", "show", *map(str, two_files), *open_args(broker)], capsys)
    assert code == 0
    assert "run run-a" in stdout and "run run-b" in stdout
    assert "status:   complete" in stdout and "patients: 1; studies: 1" in stdout
    assert '"profile": "basic"' in stdout and "study_uid: 1" in stdout


def test_show_incomplete(
    tmp_path: Path, home: Path, broker: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = seal(
        tmp_path / "crash.ddmap", broker / "custodian.pub", home, PLANTED_A, "run-c", close=False
    )
    code, _, err = run_cli(["mapping", "show", str(path), *open_args(broker)], capsys)
    assert code == 1 and "incomplete run" in err and "--allow-incomplete" in err
    code, stdout, _ = run_cli(
        ["mapping", "show", str(path), *open_args(broker), "--allow-incomplete"], capsys
    )
    assert code == 0 and "INCOMPLETE RUN" in stdout and "6 links" in stdout


def test_wrong_private_key(
    tmp_path: Path, two_files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    other = generate_custodian_keys(tmp_path / "other")
    code, _, err = run_cli(
        ["mapping", "show", str(two_files[0]), "--private-key", str(other.private)], capsys
    )
    assert code == 1 and err.startswith(f"dicom-deid: error: {two_files[0]}: wrong key: ")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("PSEUDO-P1", "run-a\tpatient_id\tPSEUDO-P1 <- ORIG-MRN-1001\t"),
        ("ORIG-MRN-2002", "run-b\tpatient_id\tORIG-MRN-2002 -> PSEUDO-P2\t"),
        ("PSEUDO-2.25.13", "run-a\tsop_instance_uid\tPSEUDO-2.25.13 <- ORIG-1.2.3.4.5.6\t"),
        ("ORIG-ACC-77", "run-b\taccession_number\tORIG-ACC-77 -> PSEUDO-ACC-1\t"),
        ("PSEUDO-a/b/1.dcm", "run-b\tsource_path\tPSEUDO-a/b/1.dcm <- ORIG-/data/Smith John/IM1\t"),
    ],
    ids=[
        "pseudonym-to-original",
        "original-to-pseudonym",
        "new-uid-to-original",
        "accession",
        "output-path",
    ],
)
def test_lookup_both_directions_across_files(
    two_files: tuple[Path, Path],
    broker: Path,
    value: str,
    expected: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, stdout, _ = run_cli(
        ["mapping", "lookup", str(two_files[0]), *open_args(broker), str(two_files[1]), value],
        capsys,
    )
    assert code == 0
    assert stdout.splitlines()[0].startswith(expected) and len(stdout.splitlines()) == 1


def test_lookup_no_match(
    two_files: tuple[Path, Path], broker: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, stdout, _ = run_cli(
        ["mapping", "lookup", *map(str, two_files), *open_args(broker), "NOBODY"], capsys
    )
    assert (code, stdout) == (1, "no match in 2 mapping file(s)\n")


def test_export_csv(
    tmp_path: Path, two_files: tuple[Path, Path], broker: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "request-17.csv"
    code, stdout, _ = run_cli(
        ["mapping", "export", *map(str, two_files), *open_args(broker), "--csv", str(out)], capsys
    )
    assert (code, stdout.splitlines()[0].split(" (")[0]) == (0, f"wrote 9 rows to {out}")
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    with out.open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["run_id", "kind", "original", "replacement", "patient", "study", "series"]
    expected = [["run-a", k.value, *rest] for k, *rest in PLANTED_A] + [
        ["run-b", k.value, *rest] for k, *rest in PLANTED_B
    ]
    assert rows[1:] == expected
    code, _, err = run_cli(
        ["mapping", "export", *map(str, two_files), *open_args(broker), "--csv", str(out)], capsys
    )
    assert (code, err) == (
        2,
        (
            f"dicom-deid: error: {out}: file already exists; refusing to overwrite "
            "(choose another path)\n"
        ),
    )


def test_export_says_what_it_trusts(
    tmp_path: Path, two_files: tuple[Path, Path], broker: Path, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from dicom_deid.custodian import load_recipient_key, load_signer_public_key

    signer = load_signer_public_key(home / "signing.pub").fingerprint
    custodian = load_recipient_key(broker / "custodian.pub").fingerprint
    code, stdout, _ = run_cli(["mapping", "export", str(two_files[0]), *open_args(broker), "--csv",
                               str(tmp_path / "a.csv")], capsys)
    assert code == 0
    assert stdout.splitlines()[1] == (
        f"trusted: signed by pipeline key {signer}: NOT pinned (integrity and completeness checked under the key "
        "the file names; pass --trust PATH/signing.pub to require that pipeline's key); sealed to custodian key "
        f"{custodian} (the --private-key given)")
    code, stdout, _ = run_cli(["mapping", "export", str(two_files[0]), *open_args(broker), "--csv",
                               str(tmp_path / "b.csv"), "--trust", str(home / "signing.pub")], capsys)
    assert code == 0 and stdout.splitlines()[1].startswith(f"trusted: signed by pipeline key {signer}: pinned (--trust)")


def test_lookup_without_value_is_a_usage_error(
    two_files: tuple[Path, Path], broker: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_cli(["mapping", "lookup", str(two_files[0]), *open_args(broker)], capsys)
    assert (code, err) == (2, "dicom-deid: error: the following arguments are required: VALUE\n")
