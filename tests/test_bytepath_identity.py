"""The byte path (bytepath.py) writes exactly what the pydicom path writes (issue 16).

Both paths run on every file of each corpus (the sample export, pydicom's test files,
pydicom-data, the fuzz seeds): same bytes, same plan, same links, same routing, same error for
a file either path refuses.  Each corpus must also send some of its files down the byte path,
or the comparison would prove nothing about it.
"""

from __future__ import annotations

import json
import warnings
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pydicom.dataelem import RawDataElement

from dicom_deid import bytepath
from dicom_deid.boundary import process_input
from dicom_deid.deidentify import Deidentified, Engine, deidentify
from dicom_deid.errors import DeidError
from dicom_deid.keys import SecretKey
from dicom_deid.manifest import Encoder, encode_row
from dicom_deid.profiles import Option, load_profile
from dicom_deid.read import parse_instance
from dicom_deid.walk import InputBytes
from dicom_deid.write import encode_dataset
from tests.fuzz_corpus import TEST_FILES, build_campaign, load_seeds
from tests.planted import generate_corpus

KEY = SecretKey(bytes(range(32)))


@dataclass
class Tally:
    compared: int = 0  # files both paths handled (or both refused alike)
    byte_path: int = 0  # ... of which the byte path copied at least one element
    copied: int = 0  # elements copied, all files
    dropped: int = 0  # private elements the byte path's reader left unread (Engine.drops_private), all files


def _run(data: bytes, engine: Engine, byte_path: bool) -> tuple[str, object]:
    """('ok', (output bytes, decisions, copies)) or ('error', (type, message))."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            instance = parse_instance(data, where="input", fast=byte_path,
                                      drop_private=byte_path and engine.drops_private)  # as the boundary reads
            result: Deidentified = deidentify(instance.dataset, engine, data=data if byte_path else None,
                                              dropped=instance.dropped)
            copies = (result.copies.spliced or None) if result.copies is not None else None
            out = encode_dataset(result.dataset, result.dataset.file_meta, copies)
    except DeidError as exc:
        return "error", (type(exc).__name__, str(exc))
    except Exception as exc:  # noqa: BLE001 - as the per-file boundary: a corrupt element pydicom fails on
        return "error", (type(exc).__name__, str(exc))
    decisions = (
        [(a.path, a.code, a.rule, a.value) for a in result.plan], result.links, result.patient, result.study_uid,
        result.series_uid, result.sop_uid, result.document, result.stream_metadata,
    )
    return "ok", (out, decisions, len(copies or ()), len(instance.dropped))


def compare(files: Iterable[Path], engine: Engine) -> Tally:
    """Both paths on every file (zip members included); fails on the first difference."""
    tally = Tally()
    for path, data in _inputs(files):
        old = _run(data, engine, byte_path=False)
        new = _run(data, engine, byte_path=True)
        assert new[0] == old[0], f"{path.name}: {old[0]} on the pydicom path, {new[0]} on the byte path"
        if old[0] == "ok":
            old_out, old_decisions, none, not_dropped = old[1]  # type: ignore[misc]
            new_out, new_decisions, copied, dropped = new[1]  # type: ignore[misc]
            assert none == not_dropped == 0
            assert new_decisions == old_decisions, f"{path.name}: decisions differ"
            assert new_out == old_out, f"{path.name}: output bytes differ ({copied} elements copied)"
            tally.byte_path += copied > 0
            tally.copied += copied
            tally.dropped += dropped
        else:
            assert new[1] == old[1], f"{path.name}: different errors"
        tally.compared += 1
    return tally


class _Member:
    def __init__(self, name: str) -> None:
        self.name = name


def _inputs(files: Iterable[Path]) -> Iterator[tuple[_Member | Path, bytes]]:
    for path in files:
        if path.suffix == ".zip":
            try:
                with zipfile.ZipFile(path) as archive:
                    members = [(m, archive.read(m)) for m in archive.namelist() if not m.endswith("/")]
            except (zipfile.BadZipFile, OSError, EOFError):
                continue  # a broken archive (fuzz): the walk reports it, no DICOM to compare
            for member, data in members:
                yield _Member(f"{path.name}:{member}"), data
        else:
            yield path, path.read_bytes()


def _dicom_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and not p.name.endswith((".txt", ".md")))


def _count(files: Iterable[Path]) -> int:
    return sum(1 for _ in _inputs(files))


def _engine(profile: str) -> Engine:
    return Engine(load_profile(profile), KEY)


@pytest.fixture(scope="module")
def sample_export(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    root = tmp_path_factory.mktemp("bytepath") / "export"
    generate_corpus(root, seed=0, patients=3, bad_inputs=True)
    return _dicom_files(root)


@pytest.mark.parametrize("profile", ["basic", "research"])
def test_sample_export(sample_export: list[Path], profile: str) -> None:
    engine = _engine(profile)
    tally = compare(sample_export, engine)
    assert tally.compared == _count(sample_export) >= 40
    assert tally.byte_path >= 20, tally
    # basic removes every private element: the byte path's reader leaves them unread; research keeps
    # the safe ones (retain-safe-private), so it reads them all
    assert (tally.dropped >= 40) if profile == "basic" else (tally.dropped == 0), tally


@pytest.mark.parametrize("profile", ["research", "basic"])
def test_pydicom_test_files(profile: str) -> None:
    files = _dicom_files(TEST_FILES)
    tally = compare(files, _engine(profile))
    assert tally.compared == len(files) >= 150
    assert tally.byte_path >= 100, tally
    assert (tally.dropped >= 1000) if profile == "basic" else (tally.dropped == 0), tally


def test_pydicom_data() -> None:
    from pydicom.data import get_testdata_file

    overlay = get_testdata_file("MR-SIEMENS-DICOM-WithOverlays.dcm")
    assert overlay is not None, "PyPI pydicom-data is missing: pip install -e '.[test]'"
    files = [p for p in sorted(Path(overlay).parent.glob("*.dcm")) if p.stat().st_size <= 1_100_000]
    tally = compare(files, _engine("basic"))
    assert tally.compared == len(files) >= 40
    assert tally.byte_path >= 30, tally
    assert tally.dropped >= 200, tally


def _auto_engine(profile: str, files: Iterable[Path]) -> tuple[Engine, int]:
    """``--pixels auto`` after the samples, with every series and look of ``files`` found clear
    (the instances the pixel stage leaves as they are), and how many images that covers."""
    from dicom_deid.pixels import PixelMode, SeriesVerdicts
    from dicom_deid.pixels.sampling import look_of, series_key

    looks: dict[str, set[tuple[str, ...]]] = {}
    for _, data in _inputs(files):
        try:
            ds = parse_instance(data, where="input").dataset
        except DeidError:
            continue
        key = series_key(ds)
        if key is not None and "PixelData" in ds:
            looks.setdefault(key, set()).add(look_of(ds))
    verdicts = SeriesVerdicts({k: frozenset(v) for k, v in looks.items()})
    return Engine(load_profile(profile), KEY, PixelMode.AUTO, pixel_series=verdicts), sum(map(len, looks.values()))


@pytest.mark.filterwarnings("ignore")
def test_sampled_clear_instances_under_auto(sample_export: list[Path]) -> None:
    """Under ``--pixels auto`` the instances of series found clear take the byte path and write
    what the pydicom path writes (the method code sequence claims Clean Pixel Data either way);
    the others (no series: searched in full; region rules; undecodable) stay on the pydicom path.
    Both read paths are compared too: the byte path's reader serves pixel runs as well."""
    from pydicom.data import get_testdata_file

    overlay = get_testdata_file("MR-SIEMENS-DICOM-WithOverlays.dcm")
    assert overlay is not None
    data_files = [p for p in sorted(Path(overlay).parent.glob("*.dcm")) if p.stat().st_size <= 1_100_000]
    test_files = _dicom_files(TEST_FILES)
    for files, profile, at_least in ((sample_export, "basic", 25), (data_files, "basic", 35),
                                     (test_files, "research", 110)):
        engine, looks = _auto_engine(profile, files)
        assert engine.pixels_active and looks >= 10
        tally = compare(files, engine)
        assert tally.compared == _count(files)
        assert tally.byte_path >= at_least, tally


def test_fuzz_seeds_and_mutants(tmp_path: Path) -> None:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    loaded = load_seeds()
    for i, seed in enumerate(loaded):
        (seeds / f"{i:02d}.dcm").write_bytes(seed.data)
    tally = compare(_dicom_files(seeds), _engine("basic"))
    assert tally.compared == len(loaded) >= 10
    assert tally.byte_path >= 5, tally
    campaign = build_campaign(tmp_path / "mutants", seed=1601, count=400, deep=0)
    mutants = _dicom_files(campaign.root)
    tally = compare(mutants, _engine("basic"))
    assert tally.compared == _count(mutants) >= 300
    assert tally.byte_path >= 40, tally
    assert tally.dropped >= 1000, tally  # private elements of damaged files left unread: the same outcome


def test_a_changed_copy_is_caught(tmp_path: Path) -> None:
    """The comparison fails when the byte path writes anything else (a copied element altered)."""
    path = TEST_FILES / "CT_small.dcm"
    data = path.read_bytes()
    ds = parse_instance(data, where="input").dataset
    result = deidentify(ds, _engine("basic"), data=data)
    assert result.copies is not None and result.copies.ranges
    tag, chunk = next(iter(result.copies.ranges.items()))
    altered = {**result.copies.spliced, tag: chunk[:-1] + bytes([chunk[-1] ^ 1])}
    out = encode_dataset(result.dataset, result.dataset.file_meta, altered)
    assert out != _run(data, _engine("basic"), byte_path=False)[1][0]  # type: ignore[index]


def test_the_byte_path_leaves_decoded_and_changed_elements_to_pydicom() -> None:
    """Only raw kept public elements are copied: never one pydicom decoded, a changed one, a private one."""
    data = (TEST_FILES / "CT_small.dcm").read_bytes()
    ds = parse_instance(data, where="input").dataset
    engine = _engine("basic")
    result = deidentify(ds, engine, data=data)
    assert result.copies is not None
    kept = {a.path[0] for a in result.plan if len(a.path) == 1 and a.code.value == "K"}
    assert set(result.copies.ranges) <= kept
    assert not any(tag >> 16 & 1 for tag in result.copies.ranges)
    protected = bytepath.protected_tags(bytepath.identifying_keywords(engine.standard.identifying_values))
    assert not set(result.copies.ranges) & protected
    assert 0x00100010 in protected and 0x00080005 in protected  # PatientName, SpecificCharacterSet
    for tag, chunk in result.copies.ranges.items():
        assert chunk[:4] == tag.to_bytes(4, "little")[2:] + tag.to_bytes(4, "little")[:2] or \
            chunk[:4] == (tag >> 16).to_bytes(2, "little") + (tag & 0xFFFF).to_bytes(2, "little")
        assert isinstance(ds._dict[tag], RawDataElement)


def test_emptied_and_dummy_elements_are_spliced_as_constant_bytes() -> None:
    """Z and D of an element whose new value depends on its tag and VR alone are written as
    bytes built once: never a pseudonym (AccessionNumber), a UID, a protected or a private
    element; the bytes are what the pydicom path writes for that element, and the identity
    comparison catches one altered byte of them."""
    data = (TEST_FILES / "CT_small.dcm").read_bytes()
    engine = _engine("basic")
    result = deidentify(parse_instance(data, where="input").dataset, engine, data=data)
    assert result.copies is not None
    constants = result.copies.constants
    codes = {a.path[0]: a.code.value for a in result.plan if len(a.path) == 1}
    assert 0x00080020 in constants and 0x00100040 in constants  # StudyDate, PatientSex: Z
    assert {codes[tag] for tag in constants} <= {"Z", "D"}
    assert not set(constants) & set(engine.standard.pseudonyms)
    assert 0x00080050 not in constants and codes[0x00080050] == "Z"  # AccessionNumber: a pseudonym
    protected = bytepath.protected_tags(bytepath.identifying_keywords(engine.standard.identifying_values))
    assert not set(constants) & protected and not any(tag >> 16 & 1 for tag in constants)
    assert constants[0x00080020] == b"\x08\x00\x20\x00DA\x00\x00"  # (0008,0020) DA, no value
    assert not set(constants) & set(result.dataset._dict)  # left out of the scrub's dataset
    pydicom_out = _run(data, engine, byte_path=False)[1][0]  # type: ignore[index]
    assert encode_dataset(result.dataset, result.dataset.file_meta, result.copies.spliced) == pydicom_out
    tag, chunk = next(iter(constants.items()))
    altered = {**result.copies.spliced, tag: chunk[:-1] + bytes([chunk[-1] ^ 1])}
    assert encode_dataset(result.dataset, result.dataset.file_meta, altered) != pydicom_out


@pytest.mark.parametrize(("code", "vr", "dummy", "taken"), [
    ("Z", "DA", None, True), ("Z", "PN", None, True), ("Z", "US", None, True), ("D", "DA", None, True),
    ("D", "CS", "NONE", True), ("D", "US", None, True),
    ("D", "LO", None, False),  # text in the dataset's character set: depends on it
    ("D", "DS", None, False),  # a decimal string: left to pydicom's writer
])
def test_constant_bytes_only_where_every_character_set_agrees(code: str, vr: str, dummy: str | None,
                                                              taken: bool) -> None:
    from pydicom.dataelem import DataElement
    from pydicom.filebase import DicomBytesIO
    from pydicom.filewriter import write_data_element

    from dicom_deid.profiles import ActionCode
    from dicom_deid.scrub import constant_value

    tag = 0x00081010  # StationName: any public tag
    chunk = bytepath._constant_bytes(ActionCode(code), tag, vr, dummy)
    assert (chunk is not None) is taken
    if chunk is not None:
        fp = DicomBytesIO()
        fp.is_little_endian, fp.is_implicit_VR = True, False
        value = constant_value(ActionCode(code), tag, vr, {tag: dummy} if dummy else {})
        write_data_element(fp, DataElement(tag, vr, value), ["iso8859"])
        assert chunk == fp.getvalue()


@pytest.mark.parametrize(("name", "reason"), [
    ("MR_small_implicit.dcm", "not explicit VR little endian"),
    ("MR_small_bigendian.dcm", "not explicit VR little endian"),
])
def test_other_encodings_fall_back(name: str, reason: str) -> None:
    data = (TEST_FILES / name).read_bytes()
    ds = parse_instance(data, where="input").dataset
    result = deidentify(ds, _engine("basic"), data=data)
    assert result.copies is None
    assert result.fallback == reason


def test_a_pixel_stage_falls_back() -> None:
    data = (TEST_FILES / "CT_small.dcm").read_bytes()
    ds = parse_instance(data, where="input").dataset
    plan = deidentify(ds, _engine("basic")).plan
    assert bytepath.fallback_reason(ds, data, plan, pixels_may_change=True) == "pixel stage"
    assert bytepath.fallback_reason(ds, data[:100], plan, pixels_may_change=False) == "no preamble"
    assert bytepath.fallback_reason(ds, data, plan, pixels_may_change=False) is None
    assert Option.CLEAN_PIXEL_DATA  # the option the pixel stage acts on exists


def test_the_manifest_counts_each_writer(tmp_path: Path) -> None:
    """The per-file boundary takes the byte path by itself and each written row says which writer
    wrote the file; a fallback writes the same file as the pydicom path would."""
    engine = _engine("basic")
    names = ["CT_small.dcm", "MR_small.dcm", "MR_small_implicit.dcm", "MR_small_bigendian.dcm"]
    encoders = []
    for i, name in enumerate(names):
        data = (TEST_FILES / name).read_bytes()
        item = InputBytes(i, name, name, data)
        out = tmp_path / f"out{i}"  # MR_small and its other encodings share their SOP Instance UID
        result = process_input(item, engine=engine, output=out, quarantine_dir=tmp_path / "q")
        assert result.record.outcome == "written", result.message
        assert result.record.output is not None
        written = (out / result.record.output).read_bytes()
        assert written == _run(data, engine, byte_path=False)[1][0]  # type: ignore[index]
        encoders.append(result.record.encoder)
        assert json.loads(encode_row(result.record))["encoder"] == result.record.encoder
    assert encoders == [Encoder.BYTES.value, Encoder.BYTES.value, Encoder.PYDICOM.value, Encoder.PYDICOM.value]


def test_a_dry_run_names_no_writer(tmp_path: Path) -> None:
    data = (TEST_FILES / "CT_small.dcm").read_bytes()
    result = process_input(InputBytes(0, "a", "a", data), engine=_engine("basic"), output=tmp_path / "out",
                           quarantine_dir=tmp_path / "q", dry_run=True)
    assert result.record.outcome == "planned"
    assert result.record.encoder is None
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("vr", "value"), [
    ("UI", "1.2.3"), ("UI", "1.2.34"), ("UI", ["1.2.3", "4.5"]), ("UI", ""), ("CS", "ANONYMIZED"), ("CS", "A"),
    ("CS", ["ORIGINAL", "PRIMARY", "M"]), ("DA", "20170101"), ("DA", None), ("TM", "101010.5"), ("LO", "ABC"),
    ("LO", "AB"), ("SH", ""), ("LT", "a\\b c"), ("UT", "x" * 70_001), ("US", 7), ("US", [1, 2, 3]), ("UL", 4096),
    ("OB", b"\x00\x01"), ("OB", b"\x01"), ("AS", "042Y"), ("PN", ""), ("DS", None), ("IS", ""),
    ("PN", "DOE^JOHN"), ("PN", "DOE^JO"), ("PN", "A^B=C^D"), ("PN", "X^Y^^^"),
])
def test_element_bytes_agree_with_pydicom(vr: str, value: object) -> None:
    """element_bytes.py encodes what it takes exactly as pydicom's writer does (the oracle)."""
    from pydicom.dataelem import DataElement
    from pydicom.filebase import DicomBytesIO
    from pydicom.filewriter import write_data_element

    from dicom_deid.element_bytes import encode_element

    elem = DataElement(0x00091001 if vr == "OB" else 0x00080016, vr, value)
    fp = DicomBytesIO()
    fp.is_little_endian, fp.is_implicit_VR = True, False
    write_data_element(fp, elem, ["iso8859"])
    assert encode_element(elem, True) == fp.getvalue()


@pytest.mark.filterwarnings("ignore:Invalid value")
@pytest.mark.parametrize(("vr", "value", "text_ok"), [
    ("LO", "Müller", True), ("LO", "ABC", False), ("PN", "DOE^JOHN", False), ("PN", "Müller^Hans", True),
    ("PN", ["DOE^JOHN", "ROE^JANE"], True), ("DS", "1.5", True),
    ("US or SS", 1, True), ("SH", "x" * 70_000, True), ("US", -1, True), ("FL", 1.5, True),
])
def test_element_bytes_leave_the_rest_to_pydicom(vr: str, value: object, text_ok: bool) -> None:
    from pydicom.dataelem import DataElement

    from dicom_deid.element_bytes import encode_element

    assert encode_element(DataElement(0x00080016, vr, value), text_ok) is None


def test_ascii_text_is_plain_only_in_single_byte_and_utf8_sets() -> None:
    from dicom_deid.element_bytes import ascii_text_ok

    assert ascii_text_ok(None) and ascii_text_ok("ISO_IR 100") and ascii_text_ok("ISO_IR 192")
    assert not ascii_text_ok(["", "ISO 2022 IR 87"])
    assert not ascii_text_ok("ISO 2022 IR 149")


@pytest.mark.filterwarnings("ignore")
def test_rebuilt_sequences_are_encoded_here_as_pydicom_writes_them() -> None:
    """Every top-level sequence the scrub rebuilds, on pydicom's test files: element_bytes.py
    encodes it (raw elements of new items decoded once per value and reused, the elements it does
    not encode itself written by pydicom's element writer alone) exactly as pydicom's writer
    writes the whole sequence; the second round is answered from the memo.  Some hold a name read
    from the file, a number string or a binary value, which element_bytes.py alone did not take."""
    from pydicom.dataelem import DataElement
    from pydicom.filebase import DicomBytesIO
    from pydicom.filewriter import write_data_element

    from dicom_deid import element_bytes

    engine = _engine("research")

    def sequences(data: bytes) -> tuple[object, list[DataElement]]:
        ds = parse_instance(data, where="input", fast=True).dataset
        out = deidentify(ds, engine, data=data).dataset
        found = [e for e in out._dict.values() if type(e) is DataElement and e.VR == "SQ"]
        return out.get("SpecificCharacterSet", None), found if out.original_encoding == (False, True) else []

    taken = plain = 0
    memo = element_bytes.EncodeMemo()
    for round_ in range(2):
        for path in _dicom_files(TEST_FILES):
            data = path.read_bytes()
            try:
                charset, found = sequences(data)
                if round_ == 0:  # before the change: without the sequence encodings, on a fresh copy
                    plain += sum(element_bytes.encode_element(e, element_bytes.ascii_text_ok(charset)) is not None
                                 for e in sequences(data)[1])
            except Exception:  # noqa: BLE001,S112 - files either path refuses are compared elsewhere
                continue
            for elem in found:
                ours = element_bytes.encode_element(elem, element_bytes.ascii_text_ok(charset),
                                                    element_bytes.item_encodings(charset), memo)
                fp = DicomBytesIO()
                fp.is_little_endian, fp.is_implicit_VR = True, False
                try:
                    write_data_element(fp, elem, charset)
                except Exception:  # noqa: BLE001 - pydicom cannot write it: neither may we
                    assert ours is None, f"{path.name}: {elem.tag} encoded where pydicom cannot"
                    continue
                assert ours is None or ours == fp.getvalue(), f"{path.name}: {elem.tag} encoded differently"
                taken += ours is not None
        if round_ == 0:
            assert memo.values, "no raw element of a new item was remembered"
    assert taken >= 2 * 150 and taken // 2 >= plain + 10, (taken, plain)
