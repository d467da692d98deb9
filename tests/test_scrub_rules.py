"""scrub: each resolved action applied to each kind of value, at its boundaries.

Expected values are worked out here from the rule each test names (HIPAA Safe Harbor's age
aggregation, PS3.5 value representations, the per-patient whole-day shift), never taken from
the code under test.
"""

from __future__ import annotations

import datetime as dt

import pytest
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence
from pydicom.valuerep import IS, DSdecimal, DSfloat, PersonName

from dicom_deid.keys import SecretKey
from dicom_deid.links import LinkKind
from dicom_deid.plan import ElementAction, Plan, plan_actions
from dicom_deid.profiles import ActionCode, DateMethod, Option, Profile, load_profile, load_standard
from dicom_deid.remap import Remapper
from dicom_deid.scrub import ScrubContext, apply_plan, finish_file_meta

STD = load_standard()
REMAP = Remapper(SecretKey.from_bytes(b"\x05" * 32))
OFFSET = -400  # days; chosen by the test, as the pipeline would pass the patient's offset
SAFE_HARBOR = load_profile("safe-harbor")
RESEARCH = load_profile("research")
UID_ROOT = "2.25."


def _scrub(ds: Dataset, profile: Profile, plan: Plan | None = None) -> tuple[Dataset, ScrubContext]:
    plan = plan if plan is not None else plan_actions(ds, profile, STD)
    ctx = ScrubContext(profile=profile, standard=STD, remapper=REMAP, patient_key="patient-1",
                       date_offset_days=OFFSET, source=ds)
    return apply_plan(ds, plan, ctx), ctx


def _forced(ds: Dataset, code: ActionCode, value: str | None = None) -> Plan:
    """A plan giving every top-level element of ``ds`` the same action."""
    return Plan({(int(t),): ElementAction((int(t),), code, "test", value) for t in ds.keys()}, "")  # noqa: SIM118


# --- ages: HIPAA Safe Harbor (45 CFR 164.514(b)(2)(i)(C)): ages over 89 aggregated ---------------

_UNIT_DAYS = {"D": 1, "W": 7, "M": 365.25 / 12, "Y": 365.25}


def _safe_harbor_age(value: str) -> str:
    """Ages over 89 years are aggregated into one category, written as 90 years (PS3.5 AS)."""
    years = int(value[:3]) * _UNIT_DAYS[value[3]] / 365.25
    return "090Y" if years > 89 else value


AGES = ["000D", "001D", "999D", "001W", "999W", "001M", "999M", "000Y", "001Y", "045Y", "088Y", "089Y",
        "090Y", "091Y", "092Y", "093Y", "094Y", "095Y", "096Y", "099Y", "100Y", "101Y", "110Y", "119Y",
        "120Y", "999Y"]


@pytest.mark.parametrize("age", AGES)
def test_safe_harbor_age_boundary(age: str) -> None:
    ds = Dataset()
    ds.PatientAge = age
    out, _ = _scrub(ds, SAFE_HARBOR)
    assert out.PatientAge == _safe_harbor_age(age)


def test_safe_harbor_ages_cover_both_sides_of_the_cap() -> None:
    changed = [a for a in AGES if _safe_harbor_age(a) != a]
    assert changed[0] == "091Y" and len(changed) == 13  # precondition: 091Y..999Y aggregated


@pytest.mark.parametrize("age", ["091Y", "095Y", "120Y"])
def test_age_kept_without_a_cap(age: str) -> None:
    """Research keeps patient characteristics and sets no cap: the age is kept as is."""
    ds = Dataset()
    ds.PatientAge = age
    out, _ = _scrub(ds, RESEARCH)
    assert out.PatientAge == age


@pytest.mark.parametrize(("age", "expected"), [("95Y", "090Y"), ("95", "090Y"), ("095y", "090Y"),
                                               ("89", "89"), ("45Y", "45Y"), ("ABC", ""), ("9O5Y", "")])
def test_safe_harbor_age_not_in_as_form(age: str, expected: str) -> None:
    """A non-conformant age (no zero padding, no unit, lower case) is read as years and still
    capped; one that cannot be read at all is emptied, never kept (fail closed)."""
    ds = Dataset()
    ds.add(DataElement(0x00101010, "AS", age))
    out, _ = _scrub(ds, SAFE_HARBOR)
    assert out.PatientAge == expected


def test_age_cap_applies_to_a_cleaned_age_too() -> None:
    ds = Dataset()
    ds.PatientAge = "097Y"
    out, _ = _scrub(ds, SAFE_HARBOR, _forced(ds, ActionCode.C))
    assert out.PatientAge == "090Y"


# --- dates: every spelling, under a whole-day shift and under year-only ------------------------

def _shift(yyyymmdd: str) -> str:
    d = dt.date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:8]))
    return (d + dt.timedelta(days=OFFSET)).strftime("%Y%m%d")


SHIFTED_DA = {
    "20200301": _shift("20200301"),
    "20200229": _shift("20200229"),  # a leap day
    "2020.03.01": _shift("20200301"),  # ACR-NEMA spelling
    " 20200301 ": _shift("20200301"),
    "20200301-20200310": f"{_shift('20200301')}-{_shift('20200310')}",  # a range (query style)
    "-20200310": f"-{_shift('20200310')}",
    "20200301-": f"{_shift('20200301')}-",
    "00010101": "",  # shifting leaves the calendar: emptied
    "2020-03-01": "",  # ISO 8601 is not a DA: emptied, never kept
    "20200230": "",  # no such day
    "20201301": "",  # no such month
    "2020": "",
    "202003": "",
    "01/03/2020": "",
    "March 1, 2020": "",
    "20200301-20200310-20200320": "",
    "UNKNOWN": "",
}


@pytest.mark.parametrize(("value", "expected"), SHIFTED_DA.items(), ids=list(SHIFTED_DA))
def test_date_shift_every_spelling(value: str, expected: str) -> None:
    ds = Dataset()
    ds.add(DataElement(0x00080020, "DA", value))
    out, _ = _scrub(ds, RESEARCH)  # Retain Longitudinal Modified Dates: StudyDate is C
    assert out.StudyDate == expected


SHIFTED_DT = {
    "20200301": _shift("20200301"),
    "20200301123000": _shift("20200301") + "123000",
    "20200301123000.123456": _shift("20200301") + "123000.123456",
    "20200301123000.123456+0100": _shift("20200301") + "123000.123456+0100",
    "20200301123000-0500": _shift("20200301") + "123000-0500",
    "2020": "",  # a year alone cannot be shifted by days: emptied
    "202003": "",
    "2020-03-01T12:30": "",
    "garbage": "",
}


@pytest.mark.parametrize(("value", "expected"), SHIFTED_DT.items(), ids=list(SHIFTED_DT))
def test_datetime_shift_every_spelling(value: str, expected: str) -> None:
    ds = Dataset()
    ds.add(DataElement(0x0008002A, "DT", value))
    out, _ = _scrub(ds, RESEARCH)
    assert out.AcquisitionDateTime == expected


YEAR_ONLY = {
    ("DA", "19620314"): "19620101",
    ("DA", "1962.03.14"): "19620101",
    ("DA", "19620314-19630601"): "19620101-19630101",
    ("DA", "-19630601"): "-19630101",
    ("DA", "19621314"): "",
    ("DA", "1962-03-14"): "",
    ("DA", "x"): "",
    ("DT", "19620314123000.5+0100"): "19620101",
    ("DT", "1962"): "19620101",
    ("DT", "x962"): "",
}


@pytest.mark.parametrize(("vr_value", "expected"), YEAR_ONLY.items(), ids=[f"{v}-{x}" for v, x in YEAR_ONLY])
def test_year_only_under_safe_harbor(vr_value: tuple[str, str], expected: str) -> None:
    vr, value = vr_value
    tag = 0x00080020 if vr == "DA" else 0x0008002A
    ds = Dataset()
    ds.add(DataElement(tag, vr, value))
    assert SAFE_HARBOR.date_method is DateMethod.YEAR  # precondition
    out, _ = _scrub(ds, SAFE_HARBOR)
    assert out[tag].value == expected


def test_empty_time_stays_empty_under_year_only() -> None:
    ds = Dataset()
    ds.StudyTime = ""
    out, _ = _scrub(ds, SAFE_HARBOR)
    assert out.StudyTime == ""


def test_other_identifier_pseudonym_and_its_link() -> None:
    """A pseudonym kind other than patient ID, name and accession (beyond_table.toml [pseudonyms])
    is a keyed other-ID, linked in the mapping."""
    from dataclasses import replace

    standard = replace(STD, pseudonyms={**STD.pseudonyms, 0x00101000: "other_id"})  # Other Patient IDs
    ds = Dataset()
    ds.add(DataElement(0x00101000, "LO", " OPID-7 "))
    ctx = ScrubContext(profile=RESEARCH, standard=standard, remapper=REMAP, patient_key="patient-1",
                       date_offset_days=OFFSET, source=ds)
    out = apply_plan(ds, _forced(ds, ActionCode.Z), ctx)
    assert out[0x00101000].value == REMAP.other_id("OPID-7")
    assert [(lk.kind, lk.original, lk.replacement) for lk in ctx.links] == [
        (LinkKind.OTHER_ID, "OPID-7", REMAP.other_id("OPID-7"))]


def test_times_of_day_under_year_only_are_midnight() -> None:
    """Safe Harbor keeps no element of a date but the year: a time of day goes to midnight
    (profiles/safe-harbor.toml), a whole-day shift keeps it (intervals within the day)."""
    ds = Dataset()
    ds.StudyTime = "123456.789"
    ds.add(DataElement(0x00080033, "TM", ["101010", "111111"]))  # Content Time, two values
    year_only, _ = _scrub(ds, SAFE_HARBOR)
    assert (year_only.StudyTime, list(year_only.ContentTime)) == ("000000", ["000000", "000000"])
    shifted, _ = _scrub(ds, RESEARCH)
    assert (shifted.StudyTime, list(shifted.ContentTime)) == ("123456.789", ["101010", "111111"])


def test_multi_valued_and_empty_dates() -> None:
    ds = Dataset()
    ds.add(DataElement(0x00080020, "DA", ["20200301", "not a date", "20200302"]))
    ds.add(DataElement(0x00080021, "DA", ""))  # Series Date, empty
    ds.add(DataElement(0x00080022, "DA", None))  # Acquisition Date, no value
    out, _ = _scrub(ds, RESEARCH)
    assert list(out.StudyDate) == [_shift("20200301"), "", _shift("20200302")]
    assert out.SeriesDate == "" and out.AcquisitionDate == ""


# --- every code on every kind of value ---------------------------------------------------------

def _one_of_each() -> Dataset:
    ds = Dataset()
    ds.add(DataElement(0x00081030, "LO", "Study of Quixworth"))  # Study Description
    ds.add(DataElement(0x00101000, "LO", ["ID1", "ID2"]))  # Other Patient IDs (RETIRED), two values
    ds.add(DataElement(0x00080090, "PN", "Quixworth^Percival"))  # Referring Physician's Name
    ds.add(DataElement(0x00080020, "DA", "20200301"))
    ds.add(DataElement(0x00080030, "TM", "101010"))
    ds.add(DataElement(0x00081160, "IS", "7"))  # Referenced Frame Number
    ds.add(DataElement(0x00101020, "DS", "1.82"))  # Patient's Size
    ds.add(DataElement(0x00280010, "US", 512))  # Rows
    ds.add(DataElement(0x00181250, "SH", "coil"))  # Receive Coil Name
    ds.add(DataElement(0x00080054, "AE", "STORE_AE"))  # Retrieve AE Title
    ds.add(DataElement(0x00181030, "LO", ""))  # Protocol Name, empty
    ds.add(DataElement(0x00082111, "ST", "derived"))  # Derivation Description
    ds.add(DataElement(0x00189515, "UR", "http://h/x"))  # any UR
    ds.add(DataElement(0x00091010, "OB", b"\x01\x02"))
    ds.add(DataElement(0x00081140, "SQ", Sequence([Dataset()])))  # Referenced Image Sequence
    return ds


EMPTY = {"LO": "", "PN": "", "DA": "", "TM": "", "IS": "", "DS": "", "SH": "", "AE": "", "ST": "", "UR": "",
         "US": None, "OB": b""}


def test_z_empties_every_vr() -> None:
    ds = _one_of_each()
    out, _ = _scrub(ds, RESEARCH, _forced(ds, ActionCode.Z))
    checked = 0
    for elem in out:
        if elem.VR == "SQ":
            assert len(elem.value) == 0
        else:
            assert elem.value == EMPTY[elem.VR] and (elem.value is None) == (EMPTY[elem.VR] is None), elem.keyword
            assert isinstance(elem.value, bytes) == isinstance(EMPTY[elem.VR], bytes), elem.keyword
        checked += 1
    assert checked == len(ds)


DUMMY_FORM = {"LO": str, "PN": PersonName, "DA": str, "TM": str, "IS": (str, IS), "DS": (str, DSfloat, DSdecimal),
              "SH": str, "AE": str, "ST": str, "UR": str, "US": int, "OB": bytes}


def test_d_is_never_empty() -> None:
    """D: "replace with a non-zero length value that may be a dummy value and consistent with the VR"."""
    ds = _one_of_each()
    out, _ = _scrub(ds, RESEARCH, _forced(ds, ActionCode.D))
    checked = 0
    for elem in out:
        if elem.VR == "SQ":
            continue
        assert elem.value not in ("", None, b""), elem.keyword
        values = list(elem.value) if isinstance(elem.value, MultiValue) else [elem.value]
        assert all(str(v) and isinstance(v, DUMMY_FORM[elem.VR]) for v in values), elem.keyword
        checked += 1
    assert checked == len(ds) - 1
    assert out[0x00080020].value == "19000101" and out[0x00080030].value == "000000"
    assert (out[0x00280010].value, out[0x00091010].value, out[0x00081030].value) == (0, b"\x00\x00", "ANONYMIZED")
    assert str(out[0x00101020].value) == "0" and str(out[0x00081160].value) == "0"
    assert "Quixworth" not in str(out[0x00080090].value)


def test_k_keeps_the_bytes_read() -> None:
    ds = _one_of_each()
    out, _ = _scrub(ds, RESEARCH, _forced(ds, ActionCode.K))
    assert [(e.tag, e.value) for e in out] == [(e.tag, e.value) for e in ds]


def test_x_removes_everything() -> None:
    ds = _one_of_each()
    out, _ = _scrub(ds, RESEARCH, _forced(ds, ActionCode.X))
    assert len(out) == 0 and len(ds) == 15  # and the source is untouched


def test_c_cleans_each_value_of_a_multi_valued_text() -> None:
    ds = Dataset()
    ds.PatientName = "Quixworth^Percival"
    ds.add(DataElement(0x00081030, "LO", "Quixworth knee"))
    ds.add(DataElement(0x00204000, "LT", "seen 03/02/2019, call 555-123-4567"))  # Image Comments
    ds.add(DataElement(0x00181030, "LO", ["Percival left", "right", ""]))  # Protocol Name, multi-valued
    plan = Plan({(int(t),): ElementAction((int(t),), ActionCode.K if t == 0x00100010 else ActionCode.C, "t")
                 for t in ds.keys()}, "")  # noqa: SIM118
    out, _ = _scrub(ds, RESEARCH, plan)
    assert out.StudyDescription == "*** knee"
    assert out.ImageComments == "seen ***, call ***"
    assert list(out.ProtocolName) == ["*** left", "right", ""]


def test_c_fits_the_vr_length() -> None:
    """Cleaning never yields a value longer than its VR allows (SH: 16)."""
    ds = Dataset()
    ds.PatientName = "Li^Wei"
    ds.add(DataElement(0x00181250, "SH", "Li Li Li Li Li Li"))  # 17 characters before cleaning
    plan = Plan({(0x00100010,): ElementAction((0x00100010,), ActionCode.K, "t"),
                 (0x00181250,): ElementAction((0x00181250,), ActionCode.C, "t")}, "")
    out, _ = _scrub(ds, RESEARCH, plan)
    assert out.ReceiveCoilName == "*** *** *** *** "[:16]


def test_u_remaps_every_value_and_links_each_once() -> None:
    ds = Dataset()
    ds.StudyInstanceUID = "1.2.3.4"
    ds.add(DataElement(0x00081155, "UI", ["1.2.3.5", "1.2.3.6\x00", "", "1.2.3.5"]))
    ds.add(DataElement(0x00200052, "UI", ""))  # Frame of Reference UID, empty
    out, ctx = _scrub(ds, RESEARCH, _forced(ds, ActionCode.U))
    assert out.StudyInstanceUID == REMAP.uid("1.2.3.4")
    assert list(out.ReferencedSOPInstanceUID) == [REMAP.uid("1.2.3.5"), REMAP.uid("1.2.3.6"), REMAP.uid("1.2.3.5")]
    assert out.FrameOfReferenceUID == ""
    assert all(str(v).startswith(UID_ROOT) for v in [out.StudyInstanceUID, *out.ReferencedSOPInstanceUID])
    kinds = sorted((lk.kind.value, lk.original, lk.replacement) for lk in ctx.links)
    assert kinds == [("other_uid", "1.2.3.5", REMAP.uid("1.2.3.5")), ("other_uid", "1.2.3.6", REMAP.uid("1.2.3.6")),
                     ("study_uid", "1.2.3.4", REMAP.uid("1.2.3.4"))]


def test_d_on_a_uid_is_a_keyed_uid() -> None:
    ds = Dataset()
    ds.add(DataElement(0x00080018, "UI", "1.2.3.9"))
    ds.add(DataElement(0x00200052, "UI", ""))
    out, _ = _scrub(ds, RESEARCH, _forced(ds, ActionCode.D))
    assert out.SOPInstanceUID == REMAP.uid("1.2.3.9")
    assert out.FrameOfReferenceUID == REMAP.uid("dummy:00200052")  # never empty


def test_pseudonyms_where_z_or_d_resolve() -> None:
    ds = Dataset()
    ds.PatientID = "MRN123"
    ds.PatientName = "Quixworth^Percival"
    ds.AccessionNumber = "ACC9"
    out, ctx = _scrub(ds, RESEARCH, _forced(ds, ActionCode.Z))
    assert out.PatientID == REMAP.patient_id("patient-1")
    assert out.PatientName == f"ANON^{REMAP.patient_id('patient-1')}"
    assert out.AccessionNumber == REMAP.accession_number("ACC9")
    assert [(lk.kind, lk.original, lk.replacement) for lk in ctx.links] == [
        (LinkKind.ACCESSION_NUMBER, "ACC9", REMAP.accession_number("ACC9"))]
    ds.AccessionNumber = ""
    out, ctx = _scrub(ds, RESEARCH, _forced(ds, ActionCode.Z))
    assert out.AccessionNumber == "" and ctx.links == []  # nothing to link


def test_override_value_is_fitted_to_the_vr() -> None:
    ds = Dataset()
    ds.add(DataElement(0x00181250, "SH", "coil"))
    out, _ = _scrub(ds, RESEARCH, _forced(ds, ActionCode.D, value="A" * 40))
    assert out.ReceiveCoilName == "A" * 16


def test_sequence_emptied_by_z_and_by_an_empty_override_and_walked_otherwise() -> None:
    item = Dataset()
    item.ReferencedSOPInstanceUID = "1.2.3.7"
    ds = Dataset()
    ds.ReferencedImageSequence = Sequence([item])
    path = (0x00081140,)
    for action, n in ((ElementAction(path, ActionCode.Z, "t"), 0), (ElementAction(path, ActionCode.D, "t", ""), 0)):
        out, _ = _scrub(ds, RESEARCH, Plan({path: action}, ""))
        assert len(out.ReferencedImageSequence) == n
    walked = Plan({path: ElementAction(path, ActionCode.U, "t"),
                   (0x00081140, 0, 0x00081155): ElementAction((0x00081140, 0, 0x00081155), ActionCode.U, "t")}, "")
    out, ctx = _scrub(ds, RESEARCH, walked)
    assert out.ReferencedImageSequence[0].ReferencedSOPInstanceUID == REMAP.uid("1.2.3.7")
    assert [lk.kind for lk in ctx.links] == [LinkKind.OTHER_UID]  # a reference, not this instance's UID
    replaced = Plan({**walked.actions, path: ElementAction(path, ActionCode.D, "override replace", "X")}, "")
    out, _ = _scrub(ds, RESEARCH, replaced)
    assert len(out.ReferencedImageSequence) == 1  # a replace override on a sequence walks its items


def test_an_instance_uid_inside_a_sequence_is_a_reference() -> None:
    """The Study/Series/SOP Instance UID of an item names another instance: linked as OTHER_UID,
    never as this instance's own."""
    item = Dataset()
    item.SeriesInstanceUID = "1.2.3.8"
    ds = Dataset()
    ds.SeriesInstanceUID = "1.2.3.9"
    ds.ReferencedSeriesSequence = Sequence([item])
    seq, inner = (0x00081115,), (0x00081115, 0, 0x0020000E)
    plan = Plan({(0x0020000E,): ElementAction((0x0020000E,), ActionCode.U, "t"),
                 seq: ElementAction(seq, ActionCode.K, "t"), inner: ElementAction(inner, ActionCode.U, "t")}, "")
    _out, ctx = _scrub(ds, RESEARCH, plan)
    assert sorted((lk.kind.value, lk.original) for lk in ctx.links) == [("other_uid", "1.2.3.8"),
                                                                        ("series_uid", "1.2.3.9")]


def test_source_is_never_modified() -> None:
    ds = _one_of_each()
    before = [(e.tag, e.VR, repr(e.value)) for e in ds]
    for code in (ActionCode.Z, ActionCode.D, ActionCode.C, ActionCode.X):
        _scrub(ds, SAFE_HARBOR, _forced(ds, code))
    assert [(e.tag, e.VR, repr(e.value)) for e in ds] == before


def test_finish_file_meta() -> None:
    meta, out = Dataset(), Dataset()
    out.SOPInstanceUID, out.SOPClassUID = "2.25.1", "1.2.840.10008.5.1.4.1.1.2"
    finish_file_meta(meta, out, "2.25.99", "DICOMDEID_0.1")
    assert (meta.MediaStorageSOPInstanceUID, meta.MediaStorageSOPClassUID, meta.ImplementationClassUID,
            meta.ImplementationVersionName, meta.FileMetaInformationVersion) == (
        "2.25.1", "1.2.840.10008.5.1.4.1.1.2", "2.25.99", "DICOMDEID_0.1", b"\x00\x01")
    meta.FileMetaInformationVersion = b"\x00\x02"
    finish_file_meta(meta, out, "2.25.99", "X")
    assert meta.FileMetaInformationVersion == b"\x00\x02"  # an existing version is kept


def test_research_profile_has_the_options_these_tests_assume() -> None:
    assert {Option.RETAIN_LONG_MODIFIED_DATES, Option.RETAIN_PATIENT_CHARACTERISTICS} <= RESEARCH.options
    assert RESEARCH.date_method is DateMethod.SHIFT and RESEARCH.age_cap_years is None
    assert SAFE_HARBOR.age_cap_years == 89


def test_c_on_a_uid_remaps_it_and_links_it_by_level() -> None:
    """Clean on a UID (a profile's C on a UI attribute) is the keyed replacement, never text cleaning."""
    item = Dataset()
    item.SOPInstanceUID = "1.2.3.11"
    ds = Dataset()
    ds.SOPInstanceUID = "1.2.3.10"
    ds.ReferencedInstanceSequence = Sequence([item])
    seq, inner = (0x0008114A,), (0x0008114A, 0, 0x00080018)
    plan = Plan({(0x00080018,): ElementAction((0x00080018,), ActionCode.C, "t"),
                 seq: ElementAction(seq, ActionCode.K, "t"), inner: ElementAction(inner, ActionCode.C, "t")}, "")
    out, ctx = _scrub(ds, RESEARCH, plan)
    assert out.SOPInstanceUID == REMAP.uid("1.2.3.10")
    assert out.ReferencedInstanceSequence[0].SOPInstanceUID == REMAP.uid("1.2.3.11")
    assert sorted((lk.kind.value, lk.original) for lk in ctx.links) == [("other_uid", "1.2.3.11"),
                                                                        ("sop_instance_uid", "1.2.3.10")]


def test_c_on_text_under_an_age_cap_is_text_cleaning() -> None:
    """The age cap applies to Patient's Age only: other cleaned text keeps what is not identifying."""
    ds = Dataset()
    ds.PatientName = "Quixworth^Percival"
    ds.add(DataElement(0x00081030, "LO", "Knee of Quixworth"))
    ds.add(DataElement(0x00181030, "LO", ""))
    plan = Plan({(0x00100010,): ElementAction((0x00100010,), ActionCode.K, "t"),
                 (0x00081030,): ElementAction((0x00081030,), ActionCode.C, "t"),
                 (0x00181030,): ElementAction((0x00181030,), ActionCode.C, "t")}, "")
    out, _ = _scrub(ds, SAFE_HARBOR, plan)
    assert (out.StudyDescription, out.ProtocolName) == ("Knee of ***", "")


# --- found by mutation testing (scripts/mutation.py scrub): each a behaviour no test pinned -------

def _mixed() -> Dataset:
    """A removed element and a sequence before kept ones, so nothing after them may be lost."""
    ds = Dataset()
    ds.add(DataElement(0x00080050, "SH", "ACC1"))  # Accession Number
    ds.add(DataElement(0x00081140, "SQ", Sequence([Dataset()])))  # Referenced Image Sequence
    ds.add(DataElement(0x00181030, "LO", "protocol"))  # Protocol Name
    ds.add(DataElement(0x00280010, "US", 512))  # Rows
    return ds


def test_elements_after_a_removed_one_and_after_a_sequence_are_kept() -> None:
    ds = _mixed()
    plan = _forced(ds, ActionCode.K)
    plan = Plan({**plan.actions, (0x00080050,): ElementAction((0x00080050,), ActionCode.X, "t")}, "")
    out, _ = _scrub(ds, RESEARCH, plan)
    assert [int(t) for t in out.keys()] == [0x00081140, 0x00181030, 0x00280010]  # noqa: SIM118
    assert (out.ProtocolName, out.Rows) == ("protocol", 512)


@pytest.mark.parametrize("code", [ActionCode.Z, ActionCode.D, ActionCode.C, ActionCode.U])
def test_every_written_element_carries_its_vr(code: ActionCode) -> None:
    """Replaced elements keep the source's VR (an explicit-VR output cannot be written without)."""
    ds = _one_of_each() if code is not ActionCode.U else Dataset()
    ds.add(DataElement(0x0020000D, "UI", "1.2.3.4"))  # Study Instance UID
    out, _ = _scrub(ds, SAFE_HARBOR, _forced(ds, code))
    assert [(int(e.tag), e.VR) for e in out] == [(int(e.tag), e.VR) for e in ds]


def test_override_and_capped_age_carry_their_vr() -> None:
    ds = Dataset()
    ds.add(DataElement(0x00101010, "AS", "095Y"))  # Patient's Age
    ds.add(DataElement(0x00181250, "SH", "coil"))
    plan = Plan({(0x00101010,): ElementAction((0x00101010,), ActionCode.K, "t"),
                 (0x00181250,): ElementAction((0x00181250,), ActionCode.D, "t", "X")}, "")
    out, _ = _scrub(ds, SAFE_HARBOR, plan)
    assert [(e.VR, e.value) for e in out] == [("AS", "090Y"), ("SH", "X")]


@pytest.mark.parametrize("name", ["CT_small.dcm", "MR_small_implicit.dcm", "MR_small_bigendian.dcm"])
def test_the_output_keeps_the_source_encoding_and_character_set(name: str) -> None:
    """(explicit, little, latin_1), (implicit, little, default), (explicit, big, default)."""
    import pydicom

    from tests.conftest import TEST_FILES

    ds = pydicom.dcmread(TEST_FILES / name)
    out, _ = _scrub(ds, RESEARCH)
    assert out.original_encoding == ds.original_encoding
    assert out.original_character_set == ds.original_character_set


def test_an_implicit_vr_source_gets_dictionary_vrs_when_the_output_is_explicit() -> None:
    """Read as implicit VR, kept raw elements have no VR; an explicit-VR output needs one each."""
    import pydicom

    from tests.conftest import TEST_FILES

    ds = pydicom.dcmread(TEST_FILES / "MR_small_implicit.dcm")
    raw_tags = [int(t) for t in ds.keys() if ds.get_item(t).VR is None]  # noqa: SIM118
    converted = pydicom.dcmread(TEST_FILES / "MR_small_implicit.dcm")
    expected = {t: (converted[t].VR, converted[t].value) for t in raw_tags}  # pydicom's own conversion
    assert len(raw_tags) > 10  # precondition: elements still raw, without a VR
    plan = _forced(ds, ActionCode.K)
    ctx = ScrubContext(profile=RESEARCH, standard=STD, remapper=REMAP, patient_key="p", date_offset_days=0, source=ds,
                       needs_vr=True)
    out = apply_plan(ds, plan, ctx)
    for tag in raw_tags:
        assert (out.get_item(tag).VR, out[tag].value) == expected[tag], hex(tag)
    # without the need, kept elements are the very raw elements read (their bytes written as read)
    ds = pydicom.dcmread(TEST_FILES / "MR_small_implicit.dcm")
    out, _ = _scrub(ds, RESEARCH, _forced(ds, ActionCode.K))
    assert all(out.get_item(t) is ds.get_item(t) for t in raw_tags)


def test_d_on_study_uids_links_them_by_level() -> None:
    item = Dataset()
    item.StudyInstanceUID = "1.2.3.8"
    ds = Dataset()
    ds.StudyInstanceUID = "1.2.3.9"
    ds.ReferencedStudySequence = Sequence([item])
    seq, inner = (0x00081110,), (0x00081110, 0, 0x0020000D)
    plan = Plan({(0x0020000D,): ElementAction((0x0020000D,), ActionCode.D, "t"),
                 seq: ElementAction(seq, ActionCode.K, "t"), inner: ElementAction(inner, ActionCode.D, "t")}, "")
    out, ctx = _scrub(ds, RESEARCH, plan)
    assert out.StudyInstanceUID == REMAP.uid("1.2.3.9")
    assert sorted((lk.kind.value, lk.original) for lk in ctx.links) == [("other_uid", "1.2.3.8"),
                                                                        ("study_uid", "1.2.3.9")]


def test_d_gives_pseudonyms_and_the_standard_dummy() -> None:
    ds = Dataset()
    ds.PatientID = "MRN123"
    ds.AccessionNumber = "ACC9"
    ds.TimezoneOffsetFromUTC = "-0500"
    out, _ = _scrub(ds, RESEARCH, _forced(ds, ActionCode.D))
    assert out.PatientID == REMAP.patient_id("patient-1")
    assert out.AccessionNumber == REMAP.accession_number("ACC9")
    assert out.TimezoneOffsetFromUTC == "+0000"  # beyond_table.toml [dummy], not the VR's "ANONYMIZED"


def test_two_values_stay_two() -> None:
    """Multi-valued UIDs, texts and dates of exactly two values keep both (VM is kept)."""
    ds = Dataset()
    ds.add(DataElement(0x00081155, "UI", ["1.2.3.1", "1.2.3.2"]))  # Referenced SOP Instance UID
    ds.add(DataElement(0x00081030, "LO", ["left", "right"]))
    ds.add(DataElement(0x00080020, "DA", ["20200301", "20200302"]))
    out, _ = _scrub(ds, RESEARCH, _forced(ds, ActionCode.C))
    assert list(out[0x00081155].value) == [REMAP.uid("1.2.3.1"), REMAP.uid("1.2.3.2")]
    assert list(out[0x00081030].value) == ["left", "right"]
    assert list(out[0x00080020].value) == [shift_date_str("20200301"), shift_date_str("20200302")]


def shift_date_str(value: str) -> str:
    return (dt.date(int(value[:4]), int(value[4:6]), int(value[6:])) + dt.timedelta(days=OFFSET)).strftime("%Y%m%d")


def test_a_corrupted_uid_is_remapped_whole() -> None:
    """Only spaces and NUL padding are stripped: a UID with other trailing characters keeps them in
    the keyed input, so it never collides with the UID it was corrupted from."""
    ds = Dataset()
    ds.add(DataElement(0x00081155, "UI", "1.2.3X"))
    out, _ = _scrub(ds, RESEARCH, _forced(ds, ActionCode.U))
    assert out[0x00081155].value == REMAP.uid("1.2.3X") != REMAP.uid("1.2.3")


def test_new_dataset_is_a_new_empty_dataset_of_its_own() -> None:
    """scrub.new_dataset builds what ``Dataset()`` builds, and each has its own dicts (its elements,
    private blocks, pixel options): filling one leaves the next one empty."""
    from pydicom.dataset import Dataset

    from dicom_deid.scrub import new_dataset

    first, second, plain = new_dataset(), new_dataset(), Dataset()
    assert type(first) is Dataset and vars(first) == vars(plain) and len(vars(first)) >= 10
    shared = [name for name, value in vars(first).items() if isinstance(value, dict) and value is vars(second)[name]]
    assert shared == []
    first.PatientName = "A^B"
    first._pixel_array_opts["use_pdh"] = True
    assert "PatientName" not in second and vars(second) == vars(Dataset())


_UID_BYTES = (b"1.2.840.10008.1.2.1\x00", b"1.2.3", b"1.2.3 ", b"1.2.3\x00 \x00", b"", b"\x00", b" ",
              b"1.2.3\\4.5.6\x00", b"1.2\\\\3", b"\\", b"1.2.3\\", b" 1.2.3", b"1.2\x003", b"1.2.\xe9",
              b"1.2.3\\4.5.6\\7.8 \x00")


@pytest.mark.parametrize("value", _UID_BYTES)
def test_uids_are_read_from_raw_bytes_as_pydicom_decodes_them(value: bytes) -> None:
    """scrub.uid_value gives the strings pydicom's decoded element holds (values.convert_UI):
    trailing nulls and spaces, backslashes, empty values, bytes outside ASCII."""
    import warnings

    from pydicom.dataelem import RawDataElement

    from dicom_deid.scrub import _values
    from dicom_deid.uid_bytes import uid_value

    def dataset() -> Dataset:
        ds = Dataset()
        ds._dict[0x00200052] = RawDataElement(0x00200052, "UI", len(value), value, 0, False, True)  # type: ignore[index]
        return ds

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        decoded = dataset()[0x00200052].value
    ds = dataset()
    fast = uid_value(ds, 0x00200052)
    assert [str(v) for v in _values(fast)] == [str(v) for v in _values(decoded)]
    assert type(ds._dict[0x00200052]) is RawDataElement  # type: ignore[index]  # nothing decoded


def test_uids_are_decoded_by_pydicom_when_it_raises_on_invalid_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    """With pydicom set to raise on an invalid value, uid_value leaves the decoding to pydicom,
    which raises as it would on the pydicom path."""
    from pydicom import config
    from pydicom.dataelem import RawDataElement

    from dicom_deid.uid_bytes import uid_value

    monkeypatch.setattr(config.settings, "_reading_validation_mode", config.RAISE)
    ds = Dataset()
    ds._dict[0x00200052] = RawDataElement(0x00200052, "UI", 4, b"1.a ", 0, False, True)  # type: ignore[index]
    with pytest.raises(ValueError, match="Invalid value for VR UI"):
        uid_value(ds, 0x00200052)


def test_the_scrub_remaps_raw_uids_without_decoding_the_source() -> None:
    """A raw UI element remapped (U) is read from its bytes: the source keeps its raw element,
    and the replacement is the remapper's for the same UID string."""
    from pydicom.dataelem import RawDataElement

    ds = Dataset()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    ds.SOPInstanceUID = "1.2.3.4"
    value = b"1.2.826.0.1.3680043.2.1125.1\x00"
    ds._dict[0x00200052] = RawDataElement(0x00200052, "UI", len(value), value, 0, False, True)  # type: ignore[index]
    profile, standard = load_profile("basic"), load_standard()
    remapper = Remapper(SecretKey(b"k" * 32))
    plan = plan_actions(ds, profile, standard)
    assert plan.actions[(0x00200052,)].code is ActionCode.U  # FrameOfReferenceUID
    ctx = ScrubContext(profile=profile, standard=standard, remapper=remapper, patient_key="p",
                       date_offset_days=-400, source=ds)
    out = apply_plan(ds, plan, ctx)
    assert out.FrameOfReferenceUID == remapper.uid("1.2.826.0.1.3680043.2.1125.1")
    assert type(ds._dict[0x00200052]) is RawDataElement  # type: ignore[index]


@pytest.mark.parametrize("value", [b"1.2.840.10008.5.1.4.1.1.2\x00", b"1.2.826.0.1.3680043.2.1125.7 ",
                                   b"1.2.840.10008.5.1.4.1.1.2\\1.2.3", b""])
def test_class_uids_in_items_are_planned_without_decoding_them(value: bytes) -> None:
    """The plan reads a UID inside an item from its bytes (uid_bytes.py): the same actions as
    with the element decoded first, and the item's element stays raw."""
    import copy

    from pydicom.dataelem import RawDataElement

    def dataset(decoded: bool) -> Dataset:
        item = Dataset()
        item._dict[0x00081150] = RawDataElement(0x00081150, "UI", len(value), value, 0, False, True)  # type: ignore[index]
        item._dict[0x00081155] = RawDataElement(0x00081155, "UI", 8, b"1.2.3.4\x00", 0, False, True)  # type: ignore[index]
        if decoded:
            item[0x00081150]  # decoded, as pydicom decodes it on access
        ds = Dataset()
        ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.88.22"
        ds.SOPInstanceUID = "1.2.3.9"
        ds.ReferencedImageSequence = Sequence([item])
        return ds

    profile, standard = load_profile("basic"), load_standard()
    raw_ds = dataset(decoded=False)
    plan = plan_actions(raw_ds, profile, standard)
    expected = plan_actions(copy.deepcopy(dataset(decoded=True)), profile, standard)
    assert [(a.path, a.code, a.rule) for a in plan] == [(a.path, a.code, a.rule) for a in expected]
    assert (0x00081140, 0, 0x00081150) in plan.actions
    assert type(raw_ds.ReferencedImageSequence[0]._dict[0x00081150]) is RawDataElement  # type: ignore[index]


_NEW_VALUES = [("UI", "2.25.1234"), ("UI", " 1.2.3 "), ("UI", ""), ("UI", None), ("UI", "1.2\\3.4"),
               ("LO", "PSEUDO"), ("LO", ""), ("LO", None), ("SH", "A\\B"), ("CS", "ANONYMIZED"), ("AE", "ANONYMOUS"),
               ("AS", "000Y"), ("DA", "19000101"), ("DA", ""), ("TM", "000000"), ("DT", "19000101000000"),
               ("LT", "a\\b"), ("ST", "x" * 2000), ("UT", ""), ("UR", "ANONYMIZED"), ("UC", "x"),
               ("PN", "ANONYMOUS"), ("PN", ""), ("DS", "0"), ("IS", "0"), ("US", 0), ("US", None), ("OB", b"\x00\x00"),
               ("SH", "x" * 40), ("UI", "not a uid!")]


@pytest.mark.parametrize(("vr", "value"), _NEW_VALUES)
def test_new_element_builds_what_dataelement_builds(vr: str, value: object) -> None:
    """scrub.new_element gives the same object as ``DataElement(tag, vr, value)``: the same
    attributes in the same order, a value of the same type and contents (a UID as a UID, a split
    or converted value as pydicom converts it), for an int tag and a BaseTag alike."""
    import warnings

    from pydicom.tag import BaseTag

    from dicom_deid.scrub import new_element

    for tag in (0x00100020, BaseTag(0x00100020)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expected, got = DataElement(tag, vr, value), new_element(tag, vr, value)
        assert type(got) is DataElement
        assert list(vars(got)) == list(vars(expected))
        for name, want in vars(expected).items():
            have = vars(got)[name]
            assert type(have) is type(want), name
            assert have == want, name
        assert type(got.tag) is BaseTag


def test_new_element_of_a_uid_object_is_a_uid_of_its_string() -> None:
    """A UID value (finish_file_meta passes the dataset's) is stored as ``DataElement`` stores it."""
    from pydicom.uid import UID

    from dicom_deid.scrub import new_element

    value = UID("1.2.840.10008.5.1.4.1.1.2")
    got, expected = new_element(0x00020002, "UI", value), DataElement(0x00020002, "UI", value)
    assert type(got.value) is UID and got.value == expected.value and vars(got).keys() == vars(expected).keys()


def test_new_element_leaves_validation_to_pydicom_when_it_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    """With pydicom set to raise on an invalid value, new_element builds through pydicom, which
    raises as it would."""
    from pydicom import config

    from dicom_deid.scrub import new_element

    monkeypatch.setattr(config.settings, "_reading_validation_mode", config.RAISE)
    with pytest.raises(ValueError, match="Invalid value for VR UI"):
        new_element(0x00200052, "UI", "1.a")
