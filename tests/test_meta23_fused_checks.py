"""Issue 16 (metadata speed), round 23: the VR check's memo read in read_explicit's own pass,
links put in context once, the method codes chosen once per run, a DataElement's VR read
without element_vr in the walk and the scrub, a record's seconds set without dataclasses.replace.

Each is compared with what the code it replaces answered: the VR check over every element
(the pydicom path's dcmread, ``fast=False``), the context of a link by its kind's level, the
codes of the run's own options, the plan of the same element under its own VR, replace's record."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import fields, replace
from io import BytesIO

import pytest
from pydicom import dcmread
from pydicom.data import get_testdata_file
from pydicom.datadict import dictionary_has_tag, dictionary_VR
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.tag import BaseTag
from pydicom.uid import DeflatedExplicitVRLittleEndian, ExplicitVRLittleEndian

from dicom_deid.deidentify import Engine, deidentify
from dicom_deid.errors import UnreadableDicomError
from dicom_deid.keys import SecretKey
from dicom_deid.links import LinkKind
from dicom_deid.manifest import Encoder, ManifestRecord, Outcome, with_seconds
from dicom_deid.plan import plan_actions
from dicom_deid.profiles import load_profile, load_standard
from dicom_deid.read import _VR_PASSES, _check_explicit_vrs, parse_instance
from dicom_deid.read_fast import VR_PASSED, read_explicit

KEY = SecretKey.from_bytes(b"\x23" * 32)
CT = str(get_testdata_file("CT_small.dcm"))
MULTI_FRAME_SOURCE = 0x00081167  # MultiFrameSourceSOPInstanceUID: UI, not in E.1-1 (its VR's rule)


@pytest.fixture
def fresh_passes() -> Iterator[set[int]]:
    """VR_PASSED and the check's (tag, VR) memo emptied for the test and restored after it (the
    process's memos)."""
    saved, saved_pairs = set(VR_PASSED), set(_VR_PASSES)
    VR_PASSED.clear()
    _VR_PASSES.clear()
    try:
        yield VR_PASSED
    finally:
        VR_PASSED.clear()
        VR_PASSED.update(saved)
        _VR_PASSES.clear()
        _VR_PASSES.update(saved_pairs)


def _ct_bytes(**replace: tuple[int, str, object]) -> bytes:
    """pydicom's CT_small.dcm written again in Explicit VR Little Endian, with elements set
    (keyword -> (tag, VR, value))."""
    ds = dcmread(CT)
    for tag, vr, value in replace.values():
        if tag in ds:
            del ds[tag]
        ds.add_new(tag, vr, value)
    buf = BytesIO()
    ds.save_as(buf, implicit_vr=False, little_endian=True)
    return buf.getvalue()


def _disallowed(ds: Dataset) -> list[BaseTag]:
    """The public elements of ``ds`` whose VR is not one of its attribute's (the dictionary's)."""
    out = []
    for key, elem in ds._dict.items():
        vr = elem[1] if type(elem) is RawDataElement else elem.VR
        if not key >> 16 & 1 and dictionary_has_tag(key) and vr not in dictionary_VR(key).split(" or "):
            out.append(key)
    return out


def test_read_explicit_lists_for_the_check_only_what_it_has_not_passed(fresh_passes: set[int]) -> None:
    data = _ct_bytes()
    first: list[BaseTag] = []
    ds = read_explicit(data, None, None, first)
    assert first == list(ds._dict)  # nothing passed yet: every element, in file order
    _check_explicit_vrs(ds, "ct.dcm", first)
    assert fresh_passes, "the check noted nothing it passed"
    second: list[BaseTag] = []
    ds = read_explicit(data, None, None, second)
    assert second == _disallowed(ds)  # now only the elements the dictionary does not allow as read


def test_pairs_passed_by_a_whole_check_are_noted_for_the_reader(fresh_passes: set[int]) -> None:
    """A (tag, VR) that a check over every element passed (a file dcmread read) is noted for
    read_explicit the first time the byte path's reader lists it: it is not listed again."""
    data = _ct_bytes()
    ds = read_explicit(data)
    _check_explicit_vrs(ds, "ct.dcm")  # every element: the (tag, VR) memo holds them
    fresh_passes.clear()  # ... and read_explicit's codes not (as after its bound, or another process's start)
    first: list[BaseTag] = []
    ds = read_explicit(data, None, None, first)
    assert first == list(ds._dict)
    _check_explicit_vrs(ds, "ct.dcm", first)
    second: list[BaseTag] = []
    ds = read_explicit(data, None, None, second)
    assert second == _disallowed(ds)


def test_fast_read_refuses_a_corrupt_vr_after_good_files(fresh_passes: set[int]) -> None:
    """A name under RepetitionTime's tag as LO is refused by the byte path's reader as by the
    pydicom path, after good files filled the memo (RepetitionTime as DS among them)."""
    good = _ct_bytes(rt=(0x00180080, "DS", "4.5"))
    bad = _ct_bytes(rt=(0x00180080, "LO", "JOHN DOE"))
    read_explicit(bad)  # the byte path's reader takes it: the check below is the fused one
    for _ in range(2):
        parse_instance(good, where="good.dcm", fast=True)
    assert 0x00180080 << 16 | int.from_bytes(b"DS", "little") in fresh_passes
    with pytest.raises(UnreadableDicomError) as slow:
        parse_instance(bad, where="bad.dcm", fast=False)
    with pytest.raises(UnreadableDicomError) as fast:
        parse_instance(bad, where="bad.dcm", fast=True)
    assert "RepetitionTime (0018,0080) has value representation LO" in str(fast.value)
    assert str(fast.value) == str(slow.value)


def test_a_file_dcmread_reads_on_the_fast_path_is_checked_whole(fresh_passes: set[int]) -> None:
    """A syntax the byte path's reader does not take (deflate): dcmread reads it, and the VR
    check looks at every element, as before."""
    ds = dcmread(CT)
    ds.add_new(0x00180080, "LO", "JOHN DOE")
    ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    buf = BytesIO()
    ds.save_as(buf, implicit_vr=False, little_endian=True)
    data = buf.getvalue()
    for _ in range(2):
        parse_instance(_ct_bytes(), where="good.dcm", fast=True)
    with pytest.raises(UnreadableDicomError, match=r"RepetitionTime \(0018,0080\) has value representation LO"):
        parse_instance(data, where="deflated.dcm", fast=True)


def test_links_carry_the_context_of_their_own_level() -> None:
    engine = Engine(load_profile("basic"), KEY)
    result = deidentify(dcmread(CT), engine)
    patient_level = {LinkKind.PATIENT_ID, LinkKind.PATIENT_NAME, LinkKind.PATIENT_BIRTH_DATE, LinkKind.DATE_OFFSET}
    study_level = {LinkKind.STUDY_UID, LinkKind.ACCESSION_NUMBER}
    kinds = [lk.kind for lk in result.links]
    assert {LinkKind.PATIENT_ID, LinkKind.DATE_OFFSET, LinkKind.STUDY_UID, LinkKind.SERIES_UID,
            LinkKind.SOP_INSTANCE_UID} <= set(kinds)
    for kind in patient_level:
        assert kinds.count(kind) <= 1
    for lk in result.links:
        assert lk.patient == result.patient
        if lk.kind in patient_level:
            assert (lk.study, lk.series) == ("", "")
        elif lk.kind in study_level:
            assert (lk.study, lk.series) == (result.study_uid, "")
        else:
            assert (lk.study, lk.series) == (result.study_uid, result.series_uid)


def _method_codes(profile: str) -> list[str]:
    out = deidentify(dcmread(CT), Engine(load_profile(profile), KEY)).dataset
    return [str(item.CodeValue) for item in out.DeidentificationMethodCodeSequence]


def test_method_codes_are_each_runs_own() -> None:
    """The codes chosen once per run are those of that run's options: a second profile's run in
    the same process gets its own, the first's again after it."""
    cid = load_standard().cid7050
    basic, research, again = _method_codes("basic"), _method_codes("research"), _method_codes("basic")
    assert basic == again == [cid[None].value]  # the basic profile alone
    assert research[0] == cid[None].value and research[1:] == sorted(research[1:])
    assert "113107" in research  # Retain Longitudinal Temporal Information Modified Dates


def _plan_code(elem: DataElement | RawDataElement) -> str:
    ds = Dataset()
    ds._dict[BaseTag(MULTI_FRAME_SOURCE)] = elem
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    plan = plan_actions(ds, load_profile("basic"), load_standard())
    return str(plan.actions[(MULTI_FRAME_SOURCE,)].code.value)


def test_an_element_stored_as_un_is_planned_as_its_dictionary_vr() -> None:
    """A raw element under UN is planned under the dictionary's VR (UI: remapped by its VR's
    rule), as a DataElement under its own VR; planned as UN it would be kept."""
    uid = "1.2.3.4.5"
    own = _plan_code(DataElement(MULTI_FRAME_SOURCE, "UI", uid))
    assert own == "U"
    assert _plan_code(RawDataElement(BaseTag(MULTI_FRAME_SOURCE), "UN", 10, b"1.2.3.4.5\x00", 0, False,
                                     True)) == own


def test_an_element_stored_as_un_is_scrubbed_as_its_dictionary_vr() -> None:
    """The scrub, too, writes a raw UN element's replacement under the dictionary's VR (a
    DataElement is never UN for a known tag: pydicom gives it the dictionary's VR)."""
    source = dcmread(CT)
    source._dict[BaseTag(MULTI_FRAME_SOURCE)] = RawDataElement(BaseTag(MULTI_FRAME_SOURCE), "UN", 10,
                                                                b"1.2.3.4.5\x00", 0, False, True)
    out = deidentify(source, Engine(load_profile("basic"), KEY)).dataset
    elem = out[MULTI_FRAME_SOURCE]
    assert elem.VR == "UI" and str(elem.value).startswith("2.25.")


def test_with_seconds_is_dataclasses_replace() -> None:
    """Every field of a written file's record kept, the seconds set: what ``dataclasses.replace``
    returns (each field given a value unlike its default, so a field left out or shifted shows)."""
    record = ManifestRecord(7, "tok", Outcome.WRITTEN.value, 1234, "P/S/E/I.dcm", "why", "1.2.3", "MR",
                            {"K": 3, "X": 2}, {"X": ["PatientName"]}, {"boxes": []}, "kept", ["APP1"],
                            Encoder.BYTES.value, 9.5)
    assert [f.name for f in fields(ManifestRecord)][-1] == "seconds"
    assert with_seconds(record, 0.25) == replace(record, seconds=0.25)
    assert with_seconds(record, 0.25) != replace(record, seconds=0.5)
