"""Sealed mapping file: round trip, tamper evidence, crash behaviour, combining parts.

The planted links carry recognisable originals (``ORIG-...``) and pseudonyms
(``PSEUDO-...``); expected values always come from the planted table, never
from seal.py.  Record boundaries are found with the small independent parser
below, written from the format described in the dicom_deid.seal package docstring
(MAGIC, then kind byte + u32 big-endian body length + body).
"""

from __future__ import annotations

import logging
import os
import stat
import struct
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dicom_deid.custodian import (
    CustodianPrivateKey,
    RecipientKey,
    SigningKey,
    generate_custodian_keys,
    load_custodian_private_key,
    load_or_create_signing_key,
    load_recipient_key,
)
from dicom_deid.errors import ConfigError, KeyMaterialError, SealError
from dicom_deid.links import Link, LinkKind
from dicom_deid.seal import (
    MappingWriter,
    check_mapping_location,
    combine_parts,
    open_mapping,
    prepare_run_mapping,
    verify_mapping,
)

MAGIC_LEN = 8
SECRET_MARKER = "RUNINFO-SECRET-42"
RUN_INFO: dict[str, object] = {
    "profile": "basic",
    "options": ["retain_safe_private"],
    "secret_marker": SECRET_MARKER,
}


# --------------------------------------------------------------------------- planted data


def planted_links(
    patients: int = 3, studies: int = 2, series: int = 2, instances: int = 2
) -> list[Link]:
    """Links as the pipeline would emit them: every original is 'ORIG-*', every replacement 'PSEUDO-*'."""
    out: list[Link] = []
    for p in range(patients):
        pid = f"PSEUDO-PAT-{p}"
        out += [
            Link(LinkKind.PATIENT_ID, f"ORIG-MRN-{p}", pid, pid),
            Link(LinkKind.PATIENT_NAME, f"ORIG-Müller^Jörg {p}", f"PSEUDO-NAME-{p}", pid),
            Link(LinkKind.PATIENT_BIRTH_DATE, f"ORIG-1950010{p}", f"PSEUDO-1949121{p}", pid),
            Link(LinkKind.DATE_OFFSET, f"ORIG-OFFSET-{p}", f"PSEUDO--{100 + p}", pid),
        ]
        for s in range(studies):
            study = f"PSEUDO-2.25.{p}{s}"
            out += [
                Link(LinkKind.STUDY_UID, f"ORIG-1.2.840.{p}.{s}", study, pid, study),
                Link(
                    LinkKind.ACCESSION_NUMBER,
                    f"ORIG-ACC-{p}-{s}",
                    f"PSEUDO-ACC-{p}-{s}",
                    pid,
                    study,
                ),
            ]
            for r in range(series):
                ser = f"PSEUDO-2.25.{p}{s}{r}"
                out.append(
                    Link(LinkKind.SERIES_UID, f"ORIG-1.2.840.{p}.{s}.{r}", ser, pid, study, ser)
                )
                for i in range(instances):
                    out += [
                        Link(
                            LinkKind.SOP_INSTANCE_UID,
                            f"ORIG-1.2.840.{p}.{s}.{r}.{i}",
                            f"PSEUDO-2.25.{p}{s}{r}{i}",
                            pid,
                            study,
                            ser,
                        ),
                        Link(
                            LinkKind.SOURCE_PATH,
                            f"ORIG-/data/Doe John/{p}/{s}/{r}/IM{i}",
                            f"PSEUDO-{p}/{s}/{r}/{i}.dcm",
                            pid,
                            study,
                            ser,
                        ),
                    ]
    return out


@dataclass
class Keys:
    recipient: RecipientKey
    private: CustodianPrivateKey
    signer: SigningKey
    other_private: CustodianPrivateKey
    other_signer: SigningKey


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    d = tmp_path_factory.mktemp("keys")
    pair = generate_custodian_keys(d / "custodian")
    other = generate_custodian_keys(d / "other")
    return Keys(
        load_recipient_key(pair.public),
        load_custodian_private_key(pair.private),
        load_or_create_signing_key(d / "pipeline"),
        load_custodian_private_key(other.private),
        load_or_create_signing_key(d / "foreign-pipeline"),
    )


def write_mapping(
    path: Path,
    keys: Keys,
    links: list[Link],
    *,
    run_id: str = "run-1",
    part: str = "main",
    segment_links: int = 7,
    signer: SigningKey | None = None,
) -> Path:
    with MappingWriter.create(
        path,
        keys.recipient,
        signer or keys.signer,
        run_id,
        RUN_INFO,
        part=part,
        segment_links=segment_links,
    ) as writer:
        writer.add(links)
    return path


def read_all(paths: list[Path], keys: Keys, **kw: object) -> list[Link]:
    view = open_mapping(paths, keys.private, trusted_signers=[keys.signer.public], **kw)  # type: ignore[arg-type]
    return list(view.links())


def records(data: bytes) -> list[tuple[bytes, int, int]]:
    """(kind, start, end) of every record: the test's own parser of the documented layout."""
    out, pos = [], MAGIC_LEN
    while pos < len(data):
        kind, size = data[pos : pos + 1], struct.unpack(">I", data[pos + 1 : pos + 5])[0]
        out.append((kind, pos, pos + 5 + size))
        pos += 5 + size
    assert pos == len(data)
    return out


def rebuild(data: bytes, order: list[int]) -> bytes:
    recs = records(data)
    return data[:MAGIC_LEN] + b"".join(data[recs[i][1] : recs[i][2]] for i in order)


# --------------------------------------------------------------------------- round trip


def test_round_trip_recovers_every_planted_link(tmp_path: Path, keys: Keys) -> None:
    planted = planted_links()
    path = write_mapping(tmp_path / "run.ddmap", keys, planted)
    view = open_mapping([path], keys.private, trusted_signers=[keys.signer.public])
    got = list(view.links())
    assert got == planted
    assert len(got) == 3 * 4 + 3 * 2 * 2 + 3 * 2 * 2 * 1 + 3 * 2 * 2 * 2 * 2
    (run,) = view.runs
    assert (run.run_id, run.complete, run.links, run.segments) == (
        "run-1",
        True,
        len(planted),
        -(-len(planted) // 7),
    )
    assert run.run_info == RUN_INFO


def test_every_identifier_is_recovered_from_its_pseudonym(tmp_path: Path, keys: Keys) -> None:
    planted = planted_links(patients=2)
    path = write_mapping(tmp_path / "run.ddmap", keys, planted)
    view = open_mapping([path], keys.private, trusted_signers=[keys.signer.public])
    wanted = {
        LinkKind.PATIENT_ID,
        LinkKind.PATIENT_NAME,
        LinkKind.STUDY_UID,
        LinkKind.SERIES_UID,
        LinkKind.SOP_INSTANCE_UID,
    }
    checked = 0
    for link in planted:
        if link.kind in wanted:
            (hit,) = view.lookup(link.replacement)
            assert (hit.matched, hit.link.original) == ("replacement", link.original)
            (hit,) = view.lookup(link.original)
            assert (hit.matched, hit.link.replacement) == ("original", link.replacement)
            checked += 1
    assert checked == sum(1 for k in planted if k.kind in wanted) > 20


def test_sealed_file_contains_no_plaintext(tmp_path: Path, keys: Keys) -> None:
    planted = planted_links()
    data = write_mapping(tmp_path / "run.ddmap", keys, planted).read_bytes()
    values = {v for link in planted for v in (link.original, link.replacement)} | {SECRET_MARKER}
    for value in values:
        assert value.encode("utf-8") not in data, value
    assert b"ORIG-" not in data and b"PSEUDO" not in data and b"Doe John" not in data
    assert len(values) == 2 * len(planted) + 1


def test_writer_logs_nothing(tmp_path: Path, keys: Keys, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    path = write_mapping(tmp_path / "run.ddmap", keys, planted_links(patients=1))
    read_all([path], keys)
    assert not any("ORIG-" in r.getMessage() for r in caplog.records)


def test_file_modes(tmp_path: Path) -> None:
    pair = generate_custodian_keys(tmp_path / "custodian")
    signer = load_or_create_signing_key(tmp_path / "keys")
    path = tmp_path / "maps" / "run.ddmap"
    with MappingWriter.create(path, load_recipient_key(pair.public), signer, "r", {}) as w:
        w.add(planted_links(patients=1))
    modes = {
        p.relative_to(tmp_path).as_posix(): stat.S_IMODE(p.stat().st_mode)
        for p in (
            pair.private,
            pair.public,
            tmp_path / "keys/signing.key",
            tmp_path / "keys/signing.pub",
            path,
        )
    }
    assert modes == {
        "custodian/custodian.key": 0o600,
        "custodian/custodian.pub": 0o644,
        "keys/signing.key": 0o600,
        "keys/signing.pub": 0o644,
        "maps/run.ddmap": 0o600,
    }


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    texts=st.lists(
        st.tuples(st.sampled_from(list(LinkKind)), st.text(), st.text(), st.text()), max_size=30
    ),
    segment=st.integers(1, 8),
)
def test_round_trip_any_text(
    tmp_path: Path, keys: Keys, texts: list[tuple[LinkKind, str, str, str]], segment: int
) -> None:
    planted = [Link(k, a, b, c, c, c) for k, a, b, c in texts]
    path = tmp_path / f"h{os.urandom(6).hex()}.ddmap"
    write_mapping(path, keys, planted, segment_links=segment)
    assert read_all([path], keys) == planted


def test_refuses_to_overwrite(tmp_path: Path, keys: Keys) -> None:
    path = write_mapping(tmp_path / "run.ddmap", keys, [])
    with pytest.raises(ConfigError, match="already exists; refusing to overwrite"):
        write_mapping(path, keys, [])


@pytest.mark.parametrize("bad", ["", "../x", "run id", "a/b", "-lead"])
def test_run_id_must_be_a_plain_name(tmp_path: Path, keys: Keys, bad: str) -> None:
    with pytest.raises(ConfigError, match="run id"):
        write_mapping(tmp_path / "run.ddmap", keys, [], run_id=bad)


# --------------------------------------------------------------------------- keys and signers


def test_wrong_private_key(tmp_path: Path, keys: Keys) -> None:
    path = write_mapping(tmp_path / "run.ddmap", keys, planted_links(patients=1))
    with pytest.raises(KeyMaterialError, match="wrong key: part 'main' is sealed to custodian key"):
        open_mapping([path], keys.other_private, trusted_signers=[keys.signer.public])


def test_foreign_signer_rejected_unless_trusted(tmp_path: Path, keys: Keys) -> None:
    planted = planted_links(patients=1)
    path = write_mapping(tmp_path / "run.ddmap", keys, planted, signer=keys.other_signer)
    with pytest.raises(SealError, match="signed by an untrusted pipeline key"):
        open_mapping([path], keys.private, trusted_signers=[keys.signer.public])
    report = verify_mapping(path, [keys.signer.public])
    assert not report.ok and "untrusted" in report.problems[0]
    trusted = [keys.signer.public, keys.other_signer.public]
    assert list(open_mapping([path], keys.private, trusted_signers=trusted).links()) == planted


def test_resigned_segment_from_foreign_key_rejected(tmp_path: Path, keys: Keys) -> None:
    """Splicing a foreign-signed file's segment into a trusted file breaks the signature."""
    good = write_mapping(tmp_path / "good.ddmap", keys, planted_links(patients=1)).read_bytes()
    bad = write_mapping(
        tmp_path / "bad.ddmap", keys, planted_links(patients=1), signer=keys.other_signer
    ).read_bytes()
    g, b = records(good), records(bad)
    spliced = good[: g[1][1]] + bad[b[1][1] : b[1][2]] + good[g[1][2] :]
    (tmp_path / "spliced.ddmap").write_bytes(spliced)
    with pytest.raises(SealError, match="segment 1 .*signature does not verify"):
        read_all([tmp_path / "spliced.ddmap"], keys)


# --------------------------------------------------------------------------- tampering


@pytest.fixture
def small_file(tmp_path: Path, keys: Keys) -> tuple[Path, bytes]:
    path = write_mapping(
        tmp_path / "small.ddmap",
        keys,
        planted_links(patients=1, studies=1, series=1, instances=1)[:6],
        segment_links=2,
    )
    return path, path.read_bytes()


def test_every_flipped_bit_is_detected(
    tmp_path: Path, keys: Keys, small_file: tuple[Path, bytes]
) -> None:
    _, data = small_file
    target = tmp_path / "flipped.ddmap"
    checked = 0
    for offset in range(len(data)):
        for mask in (0x01, 0x80):
            target.write_bytes(data[:offset] + bytes([data[offset] ^ mask]) + data[offset + 1 :])
            with pytest.raises(SealError, match=r"\S"):
                read_all([target], keys)
            assert not verify_mapping(target, [keys.signer.public]).ok
            checked += 1
    assert checked == 2 * len(data) > 1000


def _locate(data: bytes, where: str) -> int:
    recs = records(data)
    kind_index = {"header": 0, "segment": 1, "trailer": len(recs) - 1}
    _kind, start, end = recs[kind_index[where.split()[0]]]
    part = where.split()[1]
    meta_len: int = struct.unpack(">I", data[start + 5 : start + 9])[0]
    return {
        "kind": start,
        "length": start + 2,
        "meta": start + 9 + meta_len // 2,
        "blob": start + 9 + meta_len + 3,
        "signature": end - 10,
    }[part]


FLIP_PLACES = [
    ("magic", "not a dicom-deid mapping file"),
    ("header kind", "signature does not verify|unknown record type"),
    ("header meta", "byte 8: .*(signature does not verify|corrupted record)"),
    ("header blob", "part header at byte 8: signature does not verify"),
    ("header signature", "part header at byte 8: signature does not verify"),
    ("segment length", "impossible length|incomplete run|corrupted record|unknown record type"),
    ("segment meta", "segment 1 .*(signature does not verify|corrupted record)|corrupted record"),
    ("segment blob", "part 'main' segment 1 .*signature does not verify"),
    ("segment signature", "part 'main' segment 1 .*signature does not verify"),
    ("trailer meta", "trailer .*signature does not verify|corrupted record"),
    ("trailer signature", "part 'main' trailer .*signature does not verify"),
    ("last byte", "signature does not verify"),
]


@pytest.mark.parametrize(("where", "message"), FLIP_PLACES, ids=[w for w, _ in FLIP_PLACES])
def test_flipped_byte_named_places(
    tmp_path: Path, keys: Keys, small_file: tuple[Path, bytes], where: str, message: str
) -> None:
    _, data = small_file
    offset = {"magic": 3, "last byte": len(data) - 1}.get(where) or _locate(data, where)
    target = tmp_path / "flipped.ddmap"
    target.write_bytes(data[:offset] + bytes([data[offset] ^ 0x04]) + data[offset + 1 :])
    with pytest.raises(SealError, match=message):
        read_all([target], keys)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        # records of small_file: 0 header, 1..3 segments, 4 trailer
        ([0, 2, 3, 4], "segment chain broken \\(expected segment 1, found 2\\)"),
        ([0, 1, 3, 4], "segment chain broken \\(expected segment 2, found 3\\)"),
        ([0, 1, 2, 4], "trailer .*counts do not match"),
        ([0, 1, 1, 2, 3, 4], "segment chain broken \\(expected segment 2, found 1\\)"),
        ([0, 1, 2, 3, 3, 4], "segment chain broken \\(expected segment 4, found 3\\)"),
        ([0, 2, 1, 3, 4], "segment chain broken \\(expected segment 1, found 2\\)"),
        ([0, 1, 3, 2, 4], "segment chain broken"),
        ([0, 1, 2, 3, 4, 4], "unexpected T record"),
        ([0, 1, 2, 3, 4, 0, 1, 2, 3, 4], "several parts without a signed index"),
        ([1, 2, 3, 4], "unexpected S record"),
        (
            [0, 1, 2, 3],
            "incomplete run: part 'main' has no trailer \\(3 finished segments, 6 links",
        ),
    ],
    ids=[
        "remove-first",
        "remove-middle",
        "remove-last",
        "duplicate-first",
        "duplicate-last",
        "swap-1-2",
        "swap-2-3",
        "duplicate-trailer",
        "concatenate-twice",
        "remove-header",
        "remove-trailer",
    ],
)
def test_removed_duplicated_reordered_records(
    tmp_path: Path, keys: Keys, small_file: tuple[Path, bytes], edit: list[int], message: str
) -> None:
    _, data = small_file
    assert [k for k, _, _ in records(data)] == [b"H", b"S", b"S", b"S", b"T"]
    target = tmp_path / "edited.ddmap"
    target.write_bytes(rebuild(data, edit))
    with pytest.raises(SealError, match=message):
        read_all([target], keys)
    assert not verify_mapping(target, [keys.signer.public]).ok


def test_segment_moved_from_another_run_rejected(
    tmp_path: Path, keys: Keys, small_file: tuple[Path, bytes]
) -> None:
    _, data = small_file
    other = write_mapping(
        tmp_path / "other.ddmap",
        keys,
        planted_links(patients=1)[:6],
        run_id="run-2",
        segment_links=2,
    ).read_bytes()
    r, o = records(data), records(other)
    target = tmp_path / "moved.ddmap"
    target.write_bytes(data[: r[2][1]] + other[o[2][1] : o[2][2]] + data[r[2][2] :])
    with pytest.raises(SealError, match="segment 2 .*belongs to another run or part"):
        read_all([target], keys)


def test_same_file_twice_rejected(keys: Keys, small_file: tuple[Path, bytes]) -> None:
    path, _ = small_file
    with pytest.raises(SealError, match="given twice"):
        read_all([path, path], keys)


# --------------------------------------------------------------------------- truncation and crashes


def test_truncation_at_every_length(
    tmp_path: Path, keys: Keys, small_file: tuple[Path, bytes]
) -> None:
    _, data = small_file
    recs = records(data)
    planted = planted_links(patients=1, studies=1, series=1, instances=1)[:6]
    target = tmp_path / "cut.ddmap"
    checked = 0
    for cut in range(len(data)):
        target.write_bytes(data[:cut])
        report = verify_mapping(target, [keys.signer.public])
        assert not report.ok and not report.complete
        if cut < recs[1][1]:  # not even the header survives
            with pytest.raises(SealError, match="bad magic|no part header"):
                read_all([target], keys, allow_incomplete=True)
        else:
            with pytest.raises(SealError, match="incomplete run: part 'main' has no trailer"):
                read_all([target], keys)
            finished = sum(1 for k, _, end in recs if k == b"S" and end <= cut)
            assert read_all([target], keys, allow_incomplete=True) == planted[: 2 * finished]
            assert "incomplete run" in report.problems[0]
        checked += 1
    assert checked == len(data)


def test_crash_before_close_keeps_finished_segments(tmp_path: Path, keys: Keys) -> None:
    planted = planted_links()
    path = tmp_path / "crash.ddmap"
    writer = MappingWriter.create(
        path, keys.recipient, keys.signer, "run-1", RUN_INFO, segment_links=10
    )
    writer.add(
        planted[:25]
    )  # two segments sealed, five links still buffered; then the process "dies"
    view = open_mapping(
        [path], keys.private, trusted_signers=[keys.signer.public], allow_incomplete=True
    )
    assert (view.runs[0].complete, list(view.links())) == (False, planted[:20])
    writer.close()
    assert read_all([path], keys) == planted[:25]


def test_exception_in_with_block_leaves_incomplete_run(tmp_path: Path, keys: Keys) -> None:
    planted = planted_links(patients=1)
    path = tmp_path / "aborted.ddmap"
    with (
        pytest.raises(RuntimeError, match="worker died"),
        MappingWriter.create(
            path, keys.recipient, keys.signer, "run-1", RUN_INFO, segment_links=10
        ) as w,
    ):
        w.add(planted[:15])
        raise RuntimeError("worker died")
    with pytest.raises(SealError, match="incomplete run"):
        read_all([path], keys)
    assert read_all([path], keys, allow_incomplete=True) == planted[:15]


# --------------------------------------------------------------------------- parts


def _two_parts(tmp_path: Path, keys: Keys) -> tuple[list[Path], list[Link]]:
    planted = planted_links(patients=4)
    half = len(planted) // 2
    parts = [
        write_mapping(tmp_path / "w1.ddmap", keys, planted[:half], part="w1"),
        write_mapping(tmp_path / "w2.ddmap", keys, planted[half:], part="w2"),
    ]
    return parts, planted


def test_combine_two_parts(tmp_path: Path, keys: Keys) -> None:
    parts, planted = _two_parts(tmp_path, keys)
    out = tmp_path / "combined" / "run.ddmap"
    combine_parts(parts, out, signer=keys.signer)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    report = verify_mapping(out, [keys.signer.public])
    assert (report.ok, [p.part for p in report.parts], report.links) == (
        True,
        ["w1", "w2"],
        len(planted),
    )
    assert read_all([out], keys) == planted
    assert sorted(os.listdir(out.parent)) == ["run.ddmap"]  # no temp file left behind


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda n: [0] + list(range(1, n // 2 + 1)),
            "does not match its signed index",
        ),  # second part dropped
        (
            lambda n: [0] + list(range(n // 2 + 1, n)) + list(range(1, n // 2 + 1)),
            "does not match its signed index",
        ),
        (
            lambda n: list(range(1, n)),
            "unexpected H|several parts without a signed index",
        ),  # index removed
    ],
    ids=["part-removed", "parts-swapped", "index-removed"],
)
def test_combined_file_tampering(tmp_path: Path, keys: Keys, edit, message: str) -> None:  # type: ignore[no-untyped-def]
    parts, _ = _two_parts(tmp_path, keys)
    out = tmp_path / "run.ddmap"
    combine_parts(parts, out, signer=keys.signer)
    data = out.read_bytes()
    kinds = [k for k, _, _ in records(data)]
    assert kinds[0] == b"I" and kinds.count(b"H") == 2 and len(kinds) % 2 == 1
    target = tmp_path / "edited.ddmap"
    target.write_bytes(rebuild(data, edit(len(kinds))))
    with pytest.raises(SealError, match=message):
        read_all([target], keys)


def test_combine_refuses_bad_inputs(tmp_path: Path, keys: Keys) -> None:
    parts, _ = _two_parts(tmp_path, keys)
    with pytest.raises(SealError, match="same part name"):
        combine_parts([parts[0], parts[0]], tmp_path / "a.ddmap", signer=keys.signer)
    other = write_mapping(tmp_path / "other.ddmap", keys, [], run_id="run-2", part="w3")
    with pytest.raises(SealError, match="different runs"):
        combine_parts([parts[0], other], tmp_path / "b.ddmap", signer=keys.signer)
    unfinished = tmp_path / "w4.ddmap"
    MappingWriter.create(unfinished, keys.recipient, keys.signer, "run-1", {}, part="w4").abort()
    with pytest.raises(SealError, match="incomplete run"):
        combine_parts([parts[0], unfinished], tmp_path / "c.ddmap", signer=keys.signer)
    assert not any((tmp_path / n).exists() for n in ("a.ddmap", "b.ddmap", "c.ddmap"))


def test_several_runs_searched_together(tmp_path: Path, keys: Keys) -> None:
    a = write_mapping(tmp_path / "a.ddmap", keys, planted_links(patients=1), run_id="run-a")
    b = write_mapping(
        tmp_path / "b.ddmap",
        keys,
        [Link(LinkKind.PATIENT_ID, "ORIG-B", "PSEUDO-B", "PSEUDO-B")],
        run_id="run-b",
    )
    view = open_mapping([a, b], keys.private, trusted_signers=[keys.signer.public])
    assert [(h.run_id, h.link.original) for h in view.lookup("PSEUDO-B")] == [("run-b", "ORIG-B")]
    assert [(h.run_id, h.link.replacement) for h in view.lookup("ORIG-MRN-0")] == [
        ("run-a", "PSEUDO-PAT-0")
    ]


# --------------------------------------------------------------------------- locations and the run command


def test_mapping_inside_output_folder_refused(tmp_path: Path, keys: Keys) -> None:
    out = tmp_path / "out"
    out.mkdir()
    for inside in (
        out / "run.ddmap",
        out / "sub" / "run.ddmap",
        out / "sub" / ".." / "x.ddmap",
        out,
    ):
        with pytest.raises(ConfigError, match="inside the output folder"):
            check_mapping_location(inside, out)
    check_mapping_location(tmp_path / "out-sibling.ddmap", out)
    with pytest.raises(ConfigError, match="inside the output folder"):
        MappingWriter.create(out / "m.ddmap", keys.recipient, keys.signer, "r", {}, output_dir=out)
    assert list(out.iterdir()) == []


def test_mapping_inside_output_folder_refused_through_symlink(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (tmp_path / "alias").symlink_to(out)
    with pytest.raises(ConfigError, match="inside the output folder"):
        check_mapping_location(tmp_path / "alias" / "run.ddmap", out)


def test_a_mapping_refused_for_its_place_makes_no_custodian_pair(tmp_path: Path) -> None:
    key_dir, out = tmp_path / "home", tmp_path / "out"
    out.mkdir()
    warnings: list[str] = []
    with pytest.raises(ConfigError, match="inside the output folder"):
        prepare_run_mapping(recipient=None, mapping=out / "run.ddmap", output_dir=out, key_dir=key_dir,
                            run_id="run-1", run_info=RUN_INFO, warn=warnings.append)
    assert not key_dir.exists()  # no private key made (nor warned about) for a run that never starts
    assert warnings == []


def test_prepare_run_mapping_newcomer_flow(tmp_path: Path) -> None:
    key_dir, out = tmp_path / "home", tmp_path / "out"
    warnings: list[str] = []
    planted = planted_links(patients=1)
    for run_id in ("run-1", "run-2"):
        with prepare_run_mapping(
            recipient=None,
            mapping=None,
            output_dir=out,
            key_dir=key_dir,
            run_id=run_id,
            run_info=RUN_INFO,
            warn=warnings.append,
        ) as writer:
            writer.add(planted)
    assert len(warnings) == 2  # once per run, while the private key is still on this machine
    assert "move" in warnings[0] and "custodian.key off this machine" in warnings[0]
    assert sorted(p.relative_to(key_dir).as_posix() for p in key_dir.rglob("*") if p.is_file()) == [
        "custodian/custodian.key",
        "custodian/custodian.pub",
        "mappings/run-1.ddmap",
        "mappings/run-2.ddmap",
        "signing.key",
        "signing.pub",
    ]
    private = load_custodian_private_key(key_dir / "custodian" / "custodian.key")
    signer = load_or_create_signing_key(key_dir).public
    maps = [key_dir / "mappings" / "run-1.ddmap", key_dir / "mappings" / "run-2.ddmap"]
    assert list(open_mapping(maps, private, trusted_signers=[signer]).links()) == planted * 2
    (key_dir / "custodian" / "custodian.key").unlink()  # moved off the machine as told
    with prepare_run_mapping(
        recipient=None,
        mapping=None,
        output_dir=out,
        key_dir=key_dir,
        run_id="run-3",
        run_info={},
        warn=warnings.append,
    ):
        pass
    assert len(warnings) == 2


def test_prepare_run_mapping_with_recipient(tmp_path: Path) -> None:
    pair = generate_custodian_keys(tmp_path / "broker")
    warnings: list[str] = []
    target = tmp_path / "elsewhere" / "m.ddmap"
    with prepare_run_mapping(
        recipient=pair.public,
        mapping=target,
        output_dir=tmp_path / "out",
        key_dir=tmp_path / "home",
        run_id="r",
        run_info={},
        warn=warnings.append,
    ) as mapping:
        mapping.add(planted_links(patients=1))  # the file is created with the first link
    assert warnings == [] and not (tmp_path / "home" / "custodian").exists()
    assert verify_mapping(target).ok
    with pytest.raises(ConfigError, match="inside the output folder"):
        prepare_run_mapping(
            recipient=pair.public,
            mapping=tmp_path / "out" / "m.ddmap",
            output_dir=tmp_path / "out",
            key_dir=tmp_path / "home",
            run_id="r2",
            run_info={},
            warn=warnings.append,
        )
    with pytest.raises(ConfigError, match="key folder .* is inside the output folder"):
        prepare_run_mapping(
            recipient=pair.public,
            mapping=None,
            output_dir=tmp_path,
            key_dir=tmp_path / "home",
            run_id="r3",
            run_info={},
            warn=warnings.append,
        )


def test_large_run_streams(tmp_path: Path, keys: Keys) -> None:
    n = 60_000
    path = tmp_path / "big.ddmap"
    with MappingWriter.create(path, keys.recipient, keys.signer, "big", {}) as writer:
        for i in range(0, n, 12):  # one file's worth of links at a time, as the pipeline adds them
            writer.add(
                Link(LinkKind.SOP_INSTANCE_UID, f"ORIG-{j}", f"PSEUDO-{j}")
                for j in range(i, i + 12)
            )
        assert len(writer._buffer) < 1000  # never more than one segment in memory
    view = open_mapping([path], keys.private, trusted_signers=[keys.signer.public])
    assert view.runs[0].segments == 60 and sum(1 for _ in view.links()) == n
    assert [h.link.original for h in view.lookup("PSEUDO-59999")] == ["ORIG-59999"]


def test_write_failure_stops_the_writer(
    tmp_path: Path, keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    planted = planted_links(patients=1)
    path = tmp_path / "disk-full.ddmap"
    writer = MappingWriter.create(
        path, keys.recipient, keys.signer, "run-1", RUN_INFO, segment_links=5
    )
    writer.add(planted[:5])

    def full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(SealError, match="cannot write the mapping file .*1 finished segments"):
        writer.add(planted[5:10])
    monkeypatch.undo()
    with pytest.raises(SealError, match="mapping writer is closed"):
        writer.add(planted[10:])
    writer.close()  # nothing more to do, no trailer
    assert read_all([path], keys, allow_incomplete=True)[:5] == planted[:5]
    with pytest.raises(SealError, match="incomplete run"):
        read_all([path], keys)
