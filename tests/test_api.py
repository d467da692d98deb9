"""The public Python API (``dicom_deid.__all__``): a Dataset in memory, a file, a folder."""

from __future__ import annotations

import copy
import warnings

import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

import dicom_deid
from dicom_deid import (
    ConfigError,
    Deidentifier,
    DeidError,
    DeidWarning,
    Outcome,
    PixelMode,
    QuarantineReason,
    SecretKey,
)
from tests.small_export import make_export

PUBLIC = {"ConfigError", "DeidError", "DeidWarning", "Deidentified", "Deidentifier", "Outcome", "PixelMode",
          "QuarantineReason", "RunSummary", "SecretKey", "SubjectMap", "Unmapped", "__version__", "load_subject_map"}
KEY = SecretKey.from_bytes(bytes(range(32)))


def test_all_lists_exactly_the_public_names():
    assert set(dicom_deid.__all__) == PUBLIC and len(dicom_deid.__all__) == len(PUBLIC)
    for name in dicom_deid.__all__:
        assert getattr(dicom_deid, name) is not None, name
    # nothing public besides: every attribute without a leading underscore is a subpackage/module or listed
    import types

    extra = {n for n, v in vars(dicom_deid).items()
             if not n.startswith("_") and not isinstance(v, types.ModuleType) and n not in PUBLIC
             and n != "annotations"}
    assert extra == set()


def _in_memory() -> Dataset:
    """A CT instance built in memory, no file meta, with planted PHI."""
    ds = Dataset()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    ds.SOPInstanceUID, ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid(), generate_uid()
    ds.PatientName, ds.PatientID, ds.PatientBirthDate = "Quixworth^Percival", "MRN-55501", "19520317"
    ds.InstitutionName, ds.ReferringPhysicianName = "St Elsewhere Hospital", "Fennimore^Odalys"
    ds.AccessionNumber, ds.StudyDate, ds.Modality = "ACC-99123", "20190104", "CT"
    ds.StudyDescription = "CT chest for Quixworth"
    return ds


def test_a_dataset_in_memory_with_the_public_api_only():
    ds = _in_memory()
    before = {e.keyword: e.value for e in ds}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # basic selects clean_pixel_data: no warning
        deid = Deidentifier(profile="basic", key=KEY, pixels="off")
    result = deid.dataset(ds)
    assert {e.keyword: e.value for e in ds} == before  # the caller's dataset is not modified
    out = result.dataset
    planted = ("Quixworth", "Percival", "MRN-55501", "19520317", "St Elsewhere", "Fennimore", "ACC-99123",
               "CT chest")
    text = "\n".join(str(e.value) for e in out.iterall()) + str(out.file_meta)
    assert [p for p in planted if p in text] == []
    assert out.PatientIdentityRemoved == "YES" and out.SOPInstanceUID != ds.SOPInstanceUID
    assert result.changes["PatientName"].value == "Z" and result.changes["InstitutionName"].value == "X"
    assert "Modality" not in result.changes  # kept attributes are not listed
    again = Deidentifier(profile="basic", key=KEY, pixels=PixelMode.OFF).dataset(ds).dataset
    assert (again.PatientID, again.SOPInstanceUID) == (out.PatientID, out.SOPInstanceUID)  # keyed: repeatable


def test_a_dataset_read_from_a_file_is_left_exactly_as_it_was():
    """The caller's original must never carry the de-identification marking (nor new file meta)."""
    ds = pydicom.dcmread(get_testdata_file("MR_small.dcm"))
    ds.PatientIdentityRemoved = "NO"
    before, meta_before, pixels_before = copy.deepcopy(ds), copy.deepcopy(ds.file_meta), ds.PixelData
    out = Deidentifier(profile="research", key=KEY, pixels="off").dataset(ds).dataset
    assert out.PatientIdentityRemoved == "YES" and out.LongitudinalTemporalInformationModified == "MODIFIED"
    assert ds.PatientIdentityRemoved == "NO" and "LongitudinalTemporalInformationModified" not in ds
    assert ds == before and ds.file_meta == meta_before and ds.PixelData == pixels_before


def test_a_dataset_without_an_instance_uid_is_refused():
    ds = _in_memory()
    del ds.SOPInstanceUID
    with pytest.raises(DeidError, match="dataset has no SOPInstanceUID: not a storable DICOM instance"):
        Deidentifier(key=KEY, pixels="off").dataset(ds)


def test_a_file_and_a_folder(tmp_path):
    planted = make_export(tmp_path / "in", ["PID-1", "PID-2", "PID-3"])
    deid = Deidentifier(profile="research", key=KEY, pixels="off")
    result = deid.file(planted[0].path, tmp_path / "one" / "x.dcm")
    written = pydicom.dcmread(tmp_path / "one" / "x.dcm")
    assert written.SOPInstanceUID == result.dataset.SOPInstanceUID and written.PatientID.startswith("DD")
    with pytest.raises(ConfigError, match="output file must differ from the input"):
        deid.file(planted[0].path, planted[0].path)
    (tmp_path / "junk").write_bytes(b"not dicom at all, just text" * 10)
    with pytest.raises(DeidError, match=rf"^{tmp_path / 'junk'}: "):
        deid.file(tmp_path / "junk", tmp_path / "junk.dcm")
    assert not (tmp_path / "junk.dcm").exists()

    with pytest.warns(DeidWarning, match="no --recipient: the mapping is sealed to a local custodian key"):
        summary = deid.run(tmp_path / "in", tmp_path / "out", workers=1)
    assert summary.counts == {Outcome.WRITTEN: 3} and summary.quarantined == 0
    assert summary.manifest == tmp_path / "out" / "dicom-deid-manifest.jsonl" and summary.manifest.is_file()
    assert summary.mapping is not None and summary.mapping.is_file() and summary.warnings == ()
    assert len(list((tmp_path / "out").rglob("*.dcm"))) == 3


def test_an_unmapped_patient_in_memory_raises_its_reason(tmp_path):
    table = tmp_path / "s.csv"
    table.write_text("PatientID,SubjectID\nSOMEONE-ELSE,S-1\n")
    deid = Deidentifier(key=KEY, pixels="off", subject_map=table)
    with pytest.raises(DeidError, match="PatientID is not in the subject map") as info:
        deid.dataset(_in_memory())
    assert info.value.reason is QuarantineReason.UNMAPPED_PATIENT


def test_a_profile_without_pixel_cleaning_warns_the_library_user(tmp_path):
    profile = tmp_path / "p.toml"
    profile.write_text('name = "mine"\noptions = ["clean_descriptors"]\n')
    with pytest.warns(DeidWarning, match="profile 'mine' does not select clean_pixel_data: burned-in text"):
        deid = Deidentifier(profile=profile, key=KEY)
    assert deid.engine.pixels is PixelMode.OFF and len(deid.warnings) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        said_off = Deidentifier(profile=profile, key=KEY, pixels="off")
    assert said_off.warnings == ()
