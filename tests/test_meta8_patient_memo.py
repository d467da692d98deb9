"""The run's memo of per-patient pseudonyms (``remap.UidMemo.patient_id`` / ``patient_name`` /
``date_offset_days``): the remapper's answers, each patient derived once while remembered, a
bounded memory, and the engine's de-identification using it."""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Iterator

import pytest
from pydicom import dcmread
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset

from dicom_deid.deidentify import Engine, PixelMode, deidentify
from dicom_deid.keys import SecretKey
from dicom_deid.profiles import load_profile
from dicom_deid.remap import Remapper, UidMemo, patient_key

KEY = SecretKey(bytes(range(32)))
PATIENTS = [patient_key(f"PID{i:04d}", "ISSUER") for i in range(30)] + [patient_key("", "", "DOE^JANE", "19700101")]


@pytest.fixture
def derivations(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter[str]]:
    """Counts every per-patient derivation of the remapper, by kind."""
    counted: Counter[str] = Counter()
    pid, offset = Remapper.patient_id, Remapper.date_offset_days

    def counting_pid(self: Remapper, key: str) -> str:
        counted["patient_id"] += 1
        return pid(self, key)

    def counting_offset(self: Remapper, key: str) -> int:
        counted["offset"] += 1
        return offset(self, key)

    monkeypatch.setattr(Remapper, "patient_id", counting_pid)
    monkeypatch.setattr(Remapper, "date_offset_days", counting_offset)
    yield counted


def test_memo_answers_as_the_remapper(derivations: Counter[str]) -> None:
    remapper = Remapper(KEY)
    memo = UidMemo(remapper)
    answers = [(memo.patient_id(key), memo.patient_name(key), memo.date_offset_days(key)) for key in PATIENTS * 3]
    assert derivations == Counter({"patient_id": len(PATIENTS), "offset": len(PATIENTS)})  # once per patient
    for key, answer in zip(PATIENTS * 3, answers, strict=True):
        assert answer == (remapper.patient_id(key), remapper.patient_name(key), remapper.date_offset_days(key))
    other = UidMemo(Remapper(SecretKey(bytes(32))))
    assert other.patient_id(PATIENTS[0]) != memo.patient_id(PATIENTS[0])  # keyed


def test_memo_is_bounded(derivations: Counter[str]) -> None:
    memo = UidMemo(Remapper(KEY), limit=8)
    for key in PATIENTS:
        memo.date_offset_days(key)
        assert len(memo._patients) <= 8
    assert memo.date_offset_days(PATIENTS[0]) == Remapper(KEY).date_offset_days(PATIENTS[0])


def _source() -> Dataset:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return dcmread(str(get_testdata_file("CT_small.dcm")))


def test_the_engine_uses_the_memo_and_answers_as_without_it(derivations: Counter[str]) -> None:
    engine = Engine(load_profile("basic"), KEY, PixelMode.OFF)
    first = deidentify(_source(), engine)
    once = Counter(derivations)
    assert once["patient_id"] >= 1 and once["offset"] == 1
    second = deidentify(_source(), engine)
    assert derivations == once  # the second file of the patient derives nothing again
    fresh = deidentify(_source(), Engine(load_profile("basic"), KEY, PixelMode.OFF))
    for result in (first, second):
        assert result.patient == fresh.patient == Remapper(KEY).patient_id(patient_key(str(_source().PatientID)))
        assert str(result.dataset.PatientName) == str(fresh.dataset.PatientName)
        assert result.links == fresh.links


def test_a_planted_memo_answer_is_what_the_output_says() -> None:
    engine = Engine(load_profile("basic"), KEY, PixelMode.OFF)
    key = patient_key(str(_source().PatientID))
    engine.uid_memo._patients[key] = ("DDPLANTED", -400)
    result = deidentify(_source(), engine)
    assert result.patient == "DDPLANTED" and str(result.dataset.PatientName) == "ANON^DDPLANTED"
