"""Each PS3.15 option keeps exactly what it promises (and the basic profile does not)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pydicom
import pytest

from dicom_deid.cli import main
from tests.planted import generate_corpus


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return generate_corpus(tmp_path_factory.mktemp("opt") / "in", seed=3, patients=2)


@pytest.fixture(scope="module")
def originals(corpus):
    """SOPInstanceUID -> original dataset (header only)."""
    import io

    from dicom_deid.walk import read_bytes, walk_inputs

    out = {}
    for ref in walk_inputs(corpus.root):
        try:
            ds = pydicom.dcmread(io.BytesIO(read_bytes(ref)), stop_before_pixels=True)
        except pydicom.errors.InvalidDicomError:
            continue
        if "SOPInstanceUID" in ds:
            out[str(ds.SOPInstanceUID)] = ds
    return out


def _deid(corpus, key_file, tmp_path, *args) -> list[pydicom.Dataset]:
    out = tmp_path / "out"
    rc = main(["run", str(corpus.root), str(out), "--key-file", str(key_file), "--pixels", "off", "--quiet", *args])
    assert rc == 0
    return [pydicom.dcmread(p, stop_before_pixels=True) for p in sorted(out.rglob("*.dcm"))]


def _pairs(outs, originals, key_file):
    """Pair outputs with inputs through the keyed UID (same derivation the custodian would do)."""
    from dicom_deid.keys import load_secret_key
    from dicom_deid.remap import Remapper

    r = Remapper(load_secret_key(key_file))
    new_to_old = {r.uid(uid): uid for uid in originals}
    pairs = [(o, originals[new_to_old.get(str(o.SOPInstanceUID), str(o.SOPInstanceUID))]) for o in outs]
    assert len(pairs) == len(originals)
    return pairs


KEPT = {
    "retain-patient-characteristics": ["PatientSex", "PatientAge", "PatientWeight", "PatientSize"],
    "retain-device-identity": ["DeviceSerialNumber", "StationName"],
    "retain-institution-identity": ["InstitutionName", "InstitutionAddress"],
    "retain-long-full-dates": ["StudyDate", "SeriesDate", "ContentDate", "AcquisitionDateTime", "StudyTime"],
}


@pytest.mark.parametrize("option", sorted(KEPT), ids=str)
def test_retain_option_keeps_its_attributes_and_basic_removes_them(option, corpus, key_file, originals, tmp_path):
    kept = _pairs(_deid(corpus, key_file, tmp_path / "opt", "--option", option), originals, key_file)
    basic = _pairs(_deid(corpus, key_file, tmp_path / "basic"), originals, key_file)
    checked = 0
    for (out, src), (bout, _) in zip(kept, basic, strict=True):
        for kw in KEPT[option]:
            if src.get(kw) not in (None, ""):
                assert out.get(kw) == src.get(kw), kw
                assert bout.get(kw) in (None, "") or bout.get(kw) != src.get(kw), kw
                checked += 1
    assert checked >= len(KEPT[option])


def test_retain_uids_keeps_every_uid(corpus, key_file, originals, tmp_path):
    outs = _deid(corpus, key_file, tmp_path, "--option", "retain-uids")
    assert {str(o.SOPInstanceUID) for o in outs} == set(originals)
    assert all(o.StudyInstanceUID == originals[str(o.SOPInstanceUID)].StudyInstanceUID for o in outs)


def test_modified_dates_shift_all_studies_of_a_patient_by_one_offset(corpus, originals, tmp_path):
    """One offset per patient, negative, for all of a patient's studies; and per patient, not one
    for the whole run.  Two patients' keyed offsets can coincide for one key (a chance near 1 in
    the offset range), so fresh keys are tried until one shows two offsets: a single global
    offset never does."""
    from dicom_deid.keys import create_secret_key

    distinct = []
    for attempt in range(4):
        key_file = tmp_path / f"key{attempt}" / "secret.key"
        key_file.parent.mkdir()
        create_secret_key(key_file)
        outs = _pairs(_deid(corpus, key_file, tmp_path / f"run{attempt}", "--option", "retain-long-modified-dates"),
                      originals, key_file)
        offsets: dict[str, set[int]] = {}
        for out, src in outs:
            if src.get("StudyDate"):
                d0 = dt.datetime.strptime(src.StudyDate, "%Y%m%d")
                d1 = dt.datetime.strptime(out.StudyDate, "%Y%m%d")
                offsets.setdefault(str(src.PatientID), set()).add((d1 - d0).days)
            assert out.LongitudinalTemporalInformationModified == "MODIFIED"
            assert any(i.CodeValue == "113107" for i in out.DeidentificationMethodCodeSequence)
        assert len(offsets) == 2
        assert all(len(v) == 1 and next(iter(v)) < 0 for v in offsets.values())
        distinct.append(len({next(iter(v)) for v in offsets.values()}))
        if distinct[-1] == 2:
            break
    assert distinct[-1] == 2, distinct  # per patient, not global


def test_retain_safe_private_keeps_only_table_e3_10_attributes(corpus, key_file, tmp_path):
    outs = _deid(corpus, key_file, tmp_path, "--option", "retain-safe-private")
    safe_values = {i.value for i in corpus.safe_private}
    assert safe_values
    found = set()
    for o in outs:
        for elem in o:
            if elem.tag.is_private:
                if elem.tag.is_private_creator:
                    assert elem.value == "Philips PET Private Group"
                else:
                    found.add(str(elem.value))
    assert found and found <= {str(v) for v in safe_values} | {str(float(v)) for v in safe_values}


def test_clean_descriptors_keeps_descriptions_without_patient_values(corpus, key_file, tmp_path):
    outs = _deid(corpus, key_file, tmp_path, "--option", "clean-descriptors")
    phi = [s.upper() for s in corpus.phi_strings()]
    descs = [str(o.StudyDescription) for o in outs if o.get("StudyDescription")]
    assert len(descs) == len(outs)  # kept (cleaned), not removed
    assert any("CT" in d or "MR" in d or "CHEST" in d for d in descs)
    assert [d for d in descs if any(p in d.upper() for p in phi)] == []


def test_safe_harbor_caps_ages_and_keeps_years_only(tmp_path, key_file):
    from pydicom.data import get_testdata_file

    src = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    src.PatientAge = "095Y"
    src.StudyDate = "20190814"
    inp = tmp_path / "in"
    inp.mkdir()
    src.save_as(inp / "a.dcm")
    out = tmp_path / "out"
    assert main(["run", str(inp), str(out), "--profile", "safe-harbor", "--key-file", str(key_file),
                 "--pixels", "off", "--quiet"]) == 0
    (res,) = [pydicom.dcmread(p) for p in out.rglob("*.dcm")]
    assert res.PatientAge == "090Y"
    assert res.StudyDate == "20190101"


def test_override_replace_and_keep_from_cli(corpus, key_file, tmp_path):
    outs = _deid(corpus, key_file, tmp_path, "--override", "StudyDescription=replace:RESEARCH STUDY",
                 "--override", "PatientSex=keep")
    assert {o.StudyDescription for o in outs} == {"RESEARCH STUDY"}
    assert all(o.get("PatientSex") in ("M", "F", "O") for o in outs)


def test_research_profile_is_a_composition_of_options(corpus, key_file, tmp_path):
    outs = _deid(corpus, key_file, tmp_path, "--profile", "research")
    codes = {i.CodeValue for i in outs[0].DeidentificationMethodCodeSequence}
    # 113100 basic, 113107 modified dates, 113108 patient characteristics, 113109 device identity,
    # 113111 safe private, 113105 descriptors, 113104 structured content, 113103 graphics
    assert {"113100", "113107", "113108", "113109", "113111", "113105", "113104", "113103"} <= codes
    _ = Path


def _sr_texts(outs) -> list[str]:
    from tests.phi_scan import iter_values

    return [v for o in outs for where, v in iter_values(o) if where.endswith("TextValue")]


def test_clean_structured_content_keeps_sr_text_without_identifying_values(corpus, key_file, tmp_path):
    basic = _sr_texts(_deid(corpus, key_file, tmp_path / "basic"))
    cleaned = _sr_texts(_deid(corpus, key_file, tmp_path / "csc", "--option", "clean-structured-content"))
    assert basic and set(basic) == {"ANONYMIZED"}  # basic: Content Sequence D, text dummied
    assert len(cleaned) == len(basic)
    assert any(len(t) > 20 and t != "ANONYMIZED" for t in cleaned)  # the clinical text is kept...
    phi = [s.upper() for s in corpus.phi_strings()]
    assert [t for t in cleaned if any(p in t.upper() for p in phi)] == []  # ...without PHI


def test_clean_graphics_never_keeps_overlay_bitmaps_unexamined(key_file, tmp_path):
    from pydicom.data import get_testdata_file

    src = pydicom.dcmread(get_testdata_file("examples_overlay.dcm"))
    overlay = [e.tag for e in src if e.tag.group & 0xFF00 == 0x6000 and e.tag.element == 0x3000]
    assert overlay  # precondition: (60xx,3000) Overlay Data present
    inp = tmp_path / "in"
    inp.mkdir()
    src.save_as(inp / "a.dcm")
    out = tmp_path / "out"
    assert main(["run", str(inp), str(out), "--option", "clean-graphics", "--key-file", str(key_file),
                 "--pixels", "off", "--quiet"]) == 0
    (res,) = [pydicom.dcmread(p) for p in out.rglob("*.dcm")]
    assert [t for t in overlay if t in res] == [] and res.Rows == src.Rows
