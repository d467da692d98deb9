"""Tests of the synthetic corpus generator (scripts/make_sample_data.py via tests/planted.py).

The pipeline's PHI tests rely on this corpus, so here it must be shown to hold what it claims:
every planted value is really in the files, references resolve, bad inputs are bad."""

from __future__ import annotations

import re
import zipfile
from collections import defaultdict
from pathlib import Path

import pydicom
import pytest
from planted import (
    BUNDLED_DIR,
    PHI_PRIVATE_CREATOR,
    TEMPLATE_FILES,
    UID_ROOT,
    Corpus,
    PlantedItem,
    find_leaks,
    generate_bench,
    generate_corpus,
    iter_datasets,
    main,
    make_bad_inputs,
    values_at,
)
from pydicom import Dataset, dcmread
from pydicom.errors import InvalidDicomError
from pydicom.fileset import FileSet
from pydicom.uid import (
    PYDICOM_IMPLEMENTATION_UID,
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ImplicitVRLittleEndian,
    RLELossless,
)

_UID_PATTERN = re.compile(r"^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    return generate_corpus(tmp_path_factory.mktemp("corpus") / "in", seed=0, bad_inputs=True)


@pytest.fixture(scope="module")
def datasets(corpus: Corpus) -> dict[str, Dataset]:
    return dict(iter_datasets(corpus))


def _all_files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _missing(
    corpus: Corpus,
    items: tuple[PlantedItem, ...],
    by_patient: dict[str, list[Dataset]],
    names: list[str],
) -> tuple[list[PlantedItem], int]:
    """Items not found at their location in any dataset of their patient (or in any name)."""
    missing: list[PlantedItem] = []
    checked = 0
    for item in items:
        if item.keyword_or_location == "path":
            found = any(item.value in name for name in names)
        else:
            candidates = by_patient[corpus.patients[item.patient]]
            loc = item.keyword_or_location
            found = any(item.value in v for ds in candidates for v in values_at(ds, loc))
        if not found:
            missing.append(item)
        checked += 1
    return missing, checked


def test_same_seed_gives_identical_bytes(tmp_path: Path) -> None:
    first = generate_corpus(tmp_path / "a", seed=7, bad_inputs=True)
    second = generate_corpus(tmp_path / "b", seed=7, bad_inputs=True)
    files_a, files_b = _all_files(first.root), _all_files(second.root)
    assert (
        len(files_a) == len(first.dicom_files) + len(first.bad_files) + 4
    )  # + zip, 2 non-DICOM, DICOMDIR
    assert files_a == files_b
    assert first.planted == second.planted
    assert first.original_uids == second.original_uids


def test_different_seed_gives_different_phi(tmp_path: Path) -> None:
    a = generate_corpus(tmp_path / "a", seed=1, patients=1)
    b = generate_corpus(tmp_path / "b", seed=2, patients=1)
    assert a.phi_strings() != b.phi_strings()
    assert a.original_uids.isdisjoint(b.original_uids)


def test_every_dicom_file_is_readable_with_pixels(corpus: Corpus) -> None:
    checked = 0
    for path in corpus.dicom_files:
        ds = dcmread(path)
        assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID, path
        if "PixelData" in ds:
            frames = int(ds.get("NumberOfFrames", 1))
            assert ds.pixel_array.size == frames * ds.Rows * ds.Columns * ds.SamplesPerPixel
        checked += 1
    assert checked == len(corpus.dicom_files) == 32
    assert corpus.dicomdir not in corpus.dicom_files


def test_corpus_has_every_promised_kind_of_instance(datasets: dict[str, Dataset]) -> None:
    modalities = {ds.Modality for ds in datasets.values()}
    syntaxes = {ds.file_meta.TransferSyntaxUID for ds in datasets.values()}
    assert modalities == {"CT", "MR", "US", "OT", "SR", "RTDOSE"}
    assert {RLELossless, ExplicitVRBigEndian, DeflatedExplicitVRLittleEndian} <= syntaxes
    assert ImplicitVRLittleEndian in syntaxes
    assert any(int(ds.get("NumberOfFrames", 1)) > 1 for ds in datasets.values())
    assert any(ds.SamplesPerPixel == 3 for ds in datasets.values() if "SamplesPerPixel" in ds)
    assert any(ds.get("ContentSequence") for ds in datasets.values() if ds.Modality == "SR")
    assert any(ds.private_creators(0x0029) == [PHI_PRIVATE_CREATOR] for ds in datasets.values())
    names = [Path(n).name for n in datasets]
    assert any(n.endswith(".dcm") for n in names) and any("." not in n for n in names)


def test_every_planted_item_is_at_its_location(
    corpus: Corpus, datasets: dict[str, Dataset]
) -> None:
    by_patient: dict[str, list[Dataset]] = defaultdict(list)
    for ds in datasets.values():
        by_patient[str(ds.PatientID)].append(ds)
    by_patient[corpus.patients["BAD"]].append(dcmread(corpus.bad_files["no_preamble"], force=True))
    names = [p.relative_to(corpus.root).as_posix() for p in corpus.root.rglob("*")]
    for zpath in corpus.zip_files:
        names.extend(zipfile.ZipFile(zpath).namelist())
    missing, checked = _missing(corpus, corpus.planted + corpus.safe_private, by_patient, names)
    assert missing == []
    assert checked == len(corpus.planted) + len(corpus.safe_private)
    assert len(corpus.safe_private) == 4  # one per patient incl. BAD, in the CT slices
    categories = {item.category for item in corpus.planted}
    assert categories == {
        "name", "id", "date", "time", "address", "phone", "email", "institution", "device",
        "uid", "private", "free_text", "path",
    }  # fmt: skip


def test_phi_strings_hold_name_components_and_can_leave_out_times(corpus: Corpus) -> None:
    strings = corpus.phi_strings()
    names = [i for i in corpus.planted if i.keyword_or_location == "PatientName"]
    assert len(names) == 4
    for item in names:
        surname, given = item.value.split("^")
        assert {item.value, surname, given} <= strings
    times = {i.value for i in corpus.planted if i.category == "time"}
    assert times and times <= strings
    without_times = corpus.phi_strings(categories=frozenset({"name", "id"}))
    assert times.isdisjoint(without_times)
    assert all(len(s) >= 4 for s in strings)
    assert "2.4531" not in strings  # the safe private value is not PHI


def test_planted_strings_do_not_occur_in_the_bundled_sources(corpus: Corpus) -> None:
    """A raw byte scan of an output must not find PHI by chance in re-used pixel data."""
    needles = corpus.phi_strings() | corpus.original_uids
    sources = [BUNDLED_DIR / name for name in TEMPLATE_FILES.values()]
    assert find_leaks(sources, needles) == []
    assert len(sources) == 8 and len(needles) > 300


def test_find_leaks_finds_planted_bytes(corpus: Corpus) -> None:
    """Precondition for the leak scans of other tests: the input itself leaks everything."""
    name = next(i.value for i in corpus.planted if i.keyword_or_location == "PatientName")
    leaks = find_leaks(corpus.dicom_files, [name])
    assert {path for path, _ in leaks} == {
        p for p in corpus.dicom_files if name.encode() in p.read_bytes()
    }
    assert len(leaks) >= 6


def test_original_uids_are_exactly_the_instance_uids_written(
    corpus: Corpus, datasets: dict[str, Dataset]
) -> None:
    """Every UID in the input that is not a registered (SOP class, syntax...) UID is listed."""
    assert corpus.dicomdir is not None
    readable = [
        *datasets.values(),
        dcmread(corpus.bad_files["truncated"]),
        dcmread(corpus.bad_files["no_preamble"], force=True),
        dcmread(corpus.dicomdir),
    ]
    seen: set[str] = set()
    checked = 0
    for ds in readable:
        for elem in [*ds.file_meta, *ds.iterall()]:
            if elem.VR == "UI" and UID(elem.value).name == elem.value:  # not registered
                if elem.value != PYDICOM_IMPLEMENTATION_UID:
                    seen.add(elem.value)
                checked += 1
    assert checked > 300
    assert seen == corpus.original_uids
    for uid in corpus.original_uids:
        assert uid.startswith(UID_ROOT) and len(uid) <= 64 and _UID_PATTERN.match(uid), uid


def test_references_resolve_inside_the_corpus(datasets: dict[str, Dataset]) -> None:
    instances = {ds.SOPInstanceUID for ds in datasets.values()}
    studies = {ds.StudyInstanceUID for ds in datasets.values()}
    series = {ds.SeriesInstanceUID for ds in datasets.values()}
    kinds: set[str] = set()
    checked = 0
    total = 0
    for ds in datasets.values():
        total += sum(1 for e in ds.iterall() if e.keyword == "ReferencedSOPInstanceUID")
        stack = [(ds, "")]
        while stack:
            item, parent = stack.pop()
            if "ReferencedSOPInstanceUID" in item:
                target = item.ReferencedSOPInstanceUID
                if parent == "ReferencedStudySequence":
                    assert target in studies
                elif parent == "ReferencedPatientSequence":
                    assert target.startswith(UID_ROOT)  # patient-level UID, not a file
                else:
                    assert target in instances, (parent, target)
                kinds.add(parent)
                checked += 1
            if parent == "ReferencedSeriesSequence":
                assert item.SeriesInstanceUID in series
            if parent == "CurrentRequestedProcedureEvidenceSequence":
                assert item.StudyInstanceUID in studies
            for elem in item:
                if elem.VR == "SQ":
                    stack.extend((sub, elem.keyword) for sub in elem.value)
    assert checked == total > 0
    assert kinds == {
        "ReferencedImageSequence", "SourceImageSequence", "ReferencedSOPSequence",
        "ReferencedStudySequence", "ReferencedPatientSequence",
    }  # fmt: skip
    dose = [ds for ds in datasets.values() if ds.Modality == "RTDOSE"]
    ct_frames = {ds.FrameOfReferenceUID for ds in datasets.values() if ds.Modality == "CT"}
    assert dose and all(ds.FrameOfReferenceUID in ct_frames for ds in dose)


def test_dicomdir_indexes_the_media_folder(corpus: Corpus) -> None:
    assert corpus.dicomdir is not None
    fs = FileSet(corpus.dicomdir)
    media = {Path(inst.path) for inst in fs}
    on_disk = {p for p in corpus.dicom_files if corpus.dicomdir.parent in p.parents}
    assert media == on_disk and len(media) == 13


def test_zip_holds_one_study(corpus: Corpus, datasets: dict[str, Dataset]) -> None:
    (zpath,) = corpus.zip_files
    members = {name: ds for name, ds in datasets.items() if name.startswith(f"{zpath.name}!")}
    assert len(members) == 2
    assert len({ds.StudyInstanceUID for ds in members.values()}) == 1
    on_disk = {ds.StudyInstanceUID for name, ds in datasets.items() if "!" not in name}
    assert on_disk.isdisjoint(ds.StudyInstanceUID for ds in members.values())


def test_non_dicom_files_are_not_dicom(corpus: Corpus) -> None:
    assert [p.name for p in corpus.non_dicom] == ["README.txt", "thumbnail.png"]
    assert corpus.non_dicom[1].read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    for path in corpus.non_dicom:
        with pytest.raises(InvalidDicomError, match="DICM"):
            dcmread(path)


def test_bad_inputs_are_what_they_claim(tmp_path: Path) -> None:
    bad = make_bad_inputs(tmp_path)
    assert sorted(bad) == ["empty", "garbage", "no_preamble", "truncated", "truncated_header"]
    assert bad["empty"].stat().st_size == 0
    for name in ("empty", "garbage", "no_preamble"):
        with pytest.raises(InvalidDicomError, match="DICM"):
            dcmread(bad[name])
    # pydicom reads truncated files without an error: the cut has to be detected by length
    short = dcmread(bad["truncated"])
    expected = short.Rows * short.Columns * short.BitsAllocated // 8
    assert 0 < len(short.PixelData) < expected
    head = dcmread(bad["truncated_header"])
    assert "PixelData" not in head and "PatientName" in head
    assert "SOPInstanceUID" in head and "StudyInstanceUID" not in head
    whole = dcmread(bad["no_preamble"], force=True)
    assert bad["no_preamble"].read_bytes()[:2] == b"\x08\x00"  # starts with group 0008
    assert "TransferSyntaxUID" not in whole.file_meta
    assert len(whole.PixelData) == whole.Rows * whole.Columns * whole.BitsAllocated // 8


def test_values_at_rejects_a_bad_location() -> None:
    with pytest.raises(ValueError, match="cannot parse location"):
        values_at(Dataset(), "PatientName..x")
    with pytest.raises(ValueError, match="unknown DICOM keyword 'PatientNam'"):
        values_at(Dataset(), "PatientNam")


def test_bench_mode_writes_the_requested_count(tmp_path: Path) -> None:
    bench = generate_bench(tmp_path / "bench", files=101, seed=3)
    written = [p for p in bench.root.rglob("IM*") if p.is_file()]
    assert len(bench.dicom_files) == len(written) == 101
    assert len(bench.patients) == 2
    assert len({dcmread(p).SOPInstanceUID for p in written}) == 101
    by_patient: dict[str, list[Dataset]] = defaultdict(list)
    for path in written:
        ds = dcmread(path)
        by_patient[str(ds.PatientID)].append(ds)
    names = [p.relative_to(bench.root).as_posix() for p in written]
    missing, checked = _missing(bench, bench.planted, by_patient, names)
    assert missing == []
    assert checked == len(bench.planted) == 90  # 45 per patient


def test_cli_writes_corpus_and_refuses_a_foreign_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert main([str(out), "--patients", "1", "--no-bad-inputs"]) == 0
    first = capsys.readouterr().out
    assert first.splitlines()[0] == f"wrote 13 DICOM files for 1 patient(s) under {out}"
    assert main([str(out), "--patients", "1"]) == 0  # replaces its own output
    assert (out / "UNSORTED" / "IM0000.dcm").exists()
    capsys.readouterr()
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("x")
    assert main([str(foreign)]) == 2
    assert capsys.readouterr().err == (
        f"make_sample_data.py: error: {foreign}: folder is not empty and was not written by "
        "this script; choose a new or empty folder\n"
    )
    assert (foreign / "keep.txt").read_text() == "x"


def test_patient_count_is_validated(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="patients must be between 1 and 48, got 0"):
        generate_corpus(tmp_path / "x", patients=0)


def test_pydicom_version_is_the_pinned_one() -> None:
    """Byte-identical output relies on pydicom's writer; the pin is in pyproject.toml."""
    assert pydicom.__version__ == "3.0.2"
