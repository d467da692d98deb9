"""The memo of UID decisions read from the value (``plan.UidDecisions``) never changes a plan.

A UID that the table leaves to its VR is kept when it names a class or scheme and remapped when
it names an instance (``_Planner._keeps_uid``): its decision reads the value, so the decision
cache never holds it.  The memo serves the kept ones by (key, UID text); these tests plan real
files with and without it and compare action for action, and pin that it is actually used and
that an instance UID under the same tag is still remapped.
"""

from __future__ import annotations

import warnings

from pydicom.datadict import tag_for_keyword
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset

from dicom_deid.errors import DeidError
from dicom_deid.plan import DecisionCache, ElementAction, UidDecisions, plan_actions
from dicom_deid.profiles import ActionCode, load_profile, load_standard
from dicom_deid.read import parse_instance
from tests.conftest import TEST_FILES

STORED = int(tag_for_keyword("StoredInstanceTransferSyntaxUID") or 0)  # UI, not in E.1-1
REFERENCED_CLASS = int(tag_for_keyword("ReferencedSOPClassUID") or 0)


def _instances() -> list[tuple[Dataset, Dataset]]:
    """Each readable test file twice, read alike: one copy per planning (a top-level UID read for
    its decision is decoded in place, so each planning gets a dataset of its own)."""
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for path in sorted(TEST_FILES.glob("*.dcm")):
            data = path.read_bytes()
            try:
                pair = (parse_instance(data, where=path.name, fast=True).dataset,
                        parse_instance(data, where=path.name, fast=True).dataset)
                plan_actions(pair[0], load_profile("basic"), load_standard())
            except DeidError:
                continue
            out.append(pair)
    return out


def test_the_uid_memo_gives_the_plans_of_no_memo() -> None:
    profile, standard = load_profile("basic"), load_standard()
    cache: DecisionCache = {}
    memo = UidDecisions()
    compared = 0
    for _ in range(2):  # the second pass is served from the warm memo
        for plain, memoised in _instances():
            expected = plan_actions(plain, profile, standard)
            got = plan_actions(memoised, profile, standard, cache=cache, uid_cache=memo)
            assert list(got.actions.items()) == list(expected.actions.items())
            meta_expected = plan_actions(plain.file_meta, profile, standard)
            meta_got = plan_actions(memoised.file_meta, profile, standard, cache=cache, uid_cache=memo)
            assert list(meta_got.actions.items()) == list(meta_expected.actions.items())
            # the same elements decoded (a decoded one is written as pydicom encodes it)
            assert ([type(e) for e in memoised._dict.values()] == [type(e) for e in plain._dict.values()])
            compared += 1
    assert compared > 100
    assert memo.kept and any(key[2] == REFERENCED_CLASS for key, _, _ in memo.kept)
    assert any(key[1] == () for key, _, _ in memo.kept)  # top-level ones (SOP Class UID, meta UIDs)


def _with_stored(value: str) -> Dataset:
    ds = Dataset()
    ds.SOPClassUID, ds.SOPInstanceUID = "1.2.840.10008.5.1.4.1.1.7", "2.25.1"
    ds[STORED] = RawDataElement(STORED, "UI", len(value), value.encode("ascii"), 0, False, True)
    return ds


def test_a_kept_uid_is_served_from_the_memo_and_an_instance_uid_is_not() -> None:
    standard, profile = load_standard(), load_profile("basic")
    cache: DecisionCache = {}
    memo = UidDecisions()
    codes = []
    for value in ("1.2.840.10008.1.2.1", "1.2.3.4", "1.2.840.10008.1.2.1", "2.25.7", "1.2.3.4"):
        ds = _with_stored(value)
        got = plan_actions(ds, profile, standard, cache=cache, uid_cache=memo).actions[(STORED,)]
        assert got == plan_actions(_with_stored(value), profile, standard).actions[(STORED,)]
        assert type(ds._dict[STORED]) is DataElement  # decoded as the decision decodes it, memo or not
        codes.append(got.code)
    assert codes == [ActionCode.K, ActionCode.U, ActionCode.K, ActionCode.U, ActionCode.U]
    key = ("1.2.840.10008.5.1.4.1.1.7", (), STORED, "UI")
    assert key in memo.keys
    assert {k for k in memo.kept if k[0] == key} == {(key, "1.2.840.10008.1.2.1", False)}  # never an instance UID


def test_a_planted_memo_entry_is_what_the_plan_answers() -> None:
    """The memo is consulted (a tampered kept decision shows in the plan): the comparison above
    would catch a memo that answers wrongly."""
    standard, profile = load_standard(), load_profile("basic")
    cache: DecisionCache = {}
    memo = UidDecisions()
    plan_actions(_with_stored("1.2.840.10008.1.2.1"), profile, standard, cache=cache, uid_cache=memo)
    key = ("1.2.840.10008.5.1.4.1.1.7", (), STORED, "UI")
    memo.kept[(key, "1.2.840.10008.1.2.1", False)] = ElementAction((STORED,), ActionCode.X, "tampered")
    got = plan_actions(_with_stored("1.2.840.10008.1.2.1"), profile, standard, cache=cache, uid_cache=memo)
    assert got.actions[(STORED,)].rule == "tampered"


def test_the_memo_stays_bounded() -> None:
    memo = UidDecisions()
    action = ElementAction((STORED,), ActionCode.K, "r")
    for i in range(10_000):
        memo.remember(("1.2", (), STORED + i, "UI"), "1.2.840.10008.1.2", False, action)
    assert len(memo.kept) <= 4096 and len(memo.keys) <= 4096
    assert memo.kept[(("1.2", (), STORED + 9_999, "UI"), "1.2.840.10008.1.2", False)] is action
