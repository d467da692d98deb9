"""The run's memo of keyed UIDs (remap.UidMemo, issue 16): the same answers as the remapper,
each UID derived once while remembered, a bounded memory, and the engine's scrub using it."""

from __future__ import annotations

import pickle
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
from dicom_deid.remap import Remapper, UidMemo

KEY = SecretKey(bytes(range(32)))
UIDS = [f"1.2.826.0.1.3680043.9.7433.{i}" for i in range(40)]


@pytest.fixture
def derivations(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter[str]]:
    """Counts every ``Remapper.uid`` derivation by its original."""
    counted: Counter[str] = Counter()
    derive = Remapper.uid

    def counting(self: Remapper, original: str) -> str:
        counted[original] += 1
        return derive(self, original)

    monkeypatch.setattr(Remapper, "uid", counting)
    yield counted


def test_memo_answers_as_the_remapper() -> None:
    remapper = Remapper(KEY)
    memo = UidMemo(remapper)
    for uid in UIDS * 2:  # the second round: the remembered answers
        assert memo.uid(uid) == remapper.uid(uid)
    assert UidMemo(Remapper(SecretKey(bytes(32)))).uid("1.2.3") != memo.uid("1.2.3")  # keyed


def test_memo_derives_each_uid_once(derivations: Counter[str]) -> None:
    memo = UidMemo(Remapper(KEY))
    for _ in range(3):
        for uid in UIDS:
            memo.uid(uid)
    assert derivations == Counter(UIDS)


def test_memo_is_bounded(derivations: Counter[str]) -> None:
    memo = UidMemo(Remapper(KEY), limit=8)
    for uid in UIDS:
        memo.uid(uid)
        assert len(memo) <= 8
    answer = memo.uid(UIDS[-1])
    assert derivations[UIDS[-1]] == 1  # still remembered after the memo started again
    assert derivations[UIDS[0]] == 1 and memo.uid(UIDS[0]) == Remapper(KEY).uid(UIDS[0])  # forgotten: derived again
    assert derivations[UIDS[0]] == 3  # the memo's second derivation, and the check's own
    assert answer == Remapper(KEY).uid(UIDS[-1])


def _source() -> Dataset:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return dcmread(str(get_testdata_file("CT_small.dcm")))


def test_the_engine_scrub_uses_the_memo(derivations: Counter[str]) -> None:
    engine = Engine(load_profile("basic"), KEY, PixelMode.OFF)
    source = _source()
    first = deidentify(source, engine)
    once = sum(derivations.values())
    assert once > 0 and len(engine.uid_memo) > 0
    second = deidentify(source, engine)
    assert sum(derivations.values()) == once  # the second file of the series derives nothing again
    assert second.study_uid == first.study_uid == Remapper(KEY).uid(str(source.StudyInstanceUID))
    assert second.sop_uid == first.sop_uid and second.links == first.links


def test_a_pickled_engine_starts_with_its_own_empty_memo() -> None:
    engine = Engine(load_profile("basic"), KEY, PixelMode.OFF)
    deidentify(_source(), engine)
    copy = pickle.loads(pickle.dumps(engine))
    assert len(engine.uid_memo) > 0 and len(copy.uid_memo) == 0 and copy.uid_memo is not engine.uid_memo
