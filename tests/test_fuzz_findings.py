"""Regressions found by the fuzz campaign's verify pass (tests/test_fuzz.py), each pinned alone."""

from __future__ import annotations

from pathlib import Path

import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian

from dicom_deid.plan import plan_actions
from dicom_deid.profiles import ActionCode, load_profile, load_standard
from dicom_deid.verify.identifying import collect_identifying

CT = "1.2.840.10008.5.1.4.1.1.2"


def _dataset(**values: object) -> Dataset:
    ds = Dataset()
    ds.SOPClassUID, ds.SOPInstanceUID = CT, "1.2.3.4.5"
    for keyword, value in values.items():
        setattr(ds, keyword, value)
    return ds


@pytest.mark.parametrize(("value", "expected"), [
    ("1.2.840.10008.5.1.4.1.1.4", ActionCode.K),  # a class UID: kept
    (["1.2.840.10008.5.1.4.1.1.4", "1.2.840.10008.5.1.4.1.1.2"], ActionCode.K),  # multi-valued: kept
    ("1.2.840.100{8.5.1.4.1.1.9", ActionCode.U),  # a byte flip made it text: never kept verbatim
    ("SMITH^JOHN", ActionCode.U),  # a misused class-UID attribute holding a name
    (["1.2.840.10008.5.1.4.1.1.4", "JOHN"], ActionCode.U),  # one bad value is enough
], ids=["class-uid", "multi-valued", "byte-flip", "name", "one-bad-of-two"])
def test_a_class_uid_attribute_is_kept_only_when_it_holds_uid_characters(value: object, expected: ActionCode) -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom warns about the invalid UI values planted here
        ds = _dataset(ReferencedSOPClassUID=value)
        plan = plan_actions(ds, load_profile("basic"), load_standard())
    tag = int(pydicom.tag.Tag("ReferencedSOPClassUID"))
    assert plan.actions[(tag,)].code is expected


def _write(path: Path, ds: Dataset) -> None:
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID, ds.file_meta.MediaStorageSOPInstanceUID = CT, ds.SOPInstanceUID
    ds.save_as(path, enforce_file_format=True)


def test_verify_takes_a_corrupted_id_up_to_its_first_control_character(tmp_path: Path) -> None:
    """A length lie makes an ID swallow the next elements' bytes; those bytes (numbers, VRs) are no
    identifier, and searching them found 'leaks' in every file of the same scanner."""
    (tmp_path / "in").mkdir()
    _write(tmp_path / "in" / "a.dcm", _dataset(PatientID="MRN7731905\x00\x07\x00DS*\x001.0000",
                                               AccessionNumber="ACC55501234"))
    found = collect_identifying(tmp_path / "in", load_profile("basic"), load_standard())
    needles = {n.original for group in found.values.first.values() for n in group}
    assert "MRN7731905" in needles  # the value proper is still searched
    assert "ACC55501234" in needles  # an uncorrupted value is untouched
    assert not any("DS" in n or "1.0000" in n for n in needles), needles


def test_verify_never_takes_a_registered_dicom_uid_for_an_original_uid(tmp_path: Path) -> None:
    """A mutated SOP Instance UID equal to a SOP Class UID: the class UID appears in every output
    (and in the manifest) on purpose."""
    (tmp_path / "in").mkdir()
    ds = _dataset()
    block = ds.private_block(0x0009, "FUZZ", create=True)  # private UIDs: removed, so every one is a needle
    block.add_new(0x01, "UI", "1.2.840.10008.5.1.4.1.1.7")
    block.add_new(0x02, "UI", "1.2.99.7.7.1")
    _write(tmp_path / "in" / "a.dcm", ds)
    found = collect_identifying(tmp_path / "in", load_profile("basic"), load_standard())
    assert "1.2.99.7.7.1" in found.values.uids  # an instance UID of the input is a needle
    assert "1.2.840.10008.5.1.4.1.1.7" not in found.values.uids
