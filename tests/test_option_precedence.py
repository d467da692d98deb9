"""Where two selected options disagree: the one that retains more wins, except that a date or time
Retain Longitudinal Temporal Information with Modified Dates changes (C) is changed even when
Retain Device Identity would keep it (K): a true calibration date next to shifted study dates gives
the shift away (review finding under the research profile).  Expected codes are read from the
vendored Table E.1-1, not from the code under test."""

from __future__ import annotations

import csv
from datetime import date

import pydicom
from pydicom.data import get_testdata_file
from pydicom.tag import Tag

from dicom_deid.api import Deidentifier
from dicom_deid.keys import SecretKey
from dicom_deid.profiles import ActionCode, Option, load_standard
from tests.conftest import REPO

KEY = SecretKey.from_bytes(bytes(range(32)))
BOTH = frozenset({Option.RETAIN_DEVICE_IDENTITY, Option.RETAIN_LONG_MODIFIED_DATES})


def _rows() -> list[dict[str, str]]:
    with open(REPO / "profiles" / "source" / "table_E.1-1.csv", encoding="utf-8") as fh:
        return [r for r in csv.DictReader(fh) if r["tag_kind"] == "single"]


def test_modified_dates_win_over_device_identity_on_every_row_where_they_disagree():
    std = load_standard()
    disputed = [r for r in _rows()
                if r["retain_long_modified_dates"] == "C" and r["retain_device_identity"] == "K"]
    assert len(disputed) >= 10  # calibration, installation, manufacture dates and times
    for row in disputed:
        tag = int(row["tag_key"], 16)
        assert std.by_tag[tag].action_for(BOTH)[0] is ActionCode.C, row["keyword"]


def test_without_modified_dates_device_identity_keeps_those_dates():
    std = load_standard()
    rows = [r for r in _rows() if r["retain_long_modified_dates"] == "C" and r["retain_device_identity"] == "K"]
    assert rows
    for row in rows:
        rule = std.by_tag[int(row["tag_key"], 16)]
        assert rule.action_for(frozenset({Option.RETAIN_DEVICE_IDENTITY}))[0] is ActionCode.K, row["keyword"]


def test_research_shifts_a_calibration_date_by_the_patients_offset():
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    ds.StudyDate, ds.DateOfLastCalibration = "20230101", "20200101"
    out = Deidentifier(profile="research", key=KEY, pixels="off").dataset(ds).dataset
    assert out.LongitudinalTemporalInformationModified == "MODIFIED"

    def day(value: str) -> date:
        return date(int(value[:4]), int(value[4:6]), int(value[6:8]))

    study_shift = day(out.StudyDate) - day("20230101")
    assert study_shift.days != 0
    assert day(out.DateOfLastCalibration) - day("20200101") == study_shift
    assert Tag("DateOfLastCalibration") in out
