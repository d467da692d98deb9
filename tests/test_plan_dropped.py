"""Private elements the byte path's reader leaves unread (issue 16): ``plan_actions(...,
dropped=)`` gives the plan of the dataset that holds them, and only a run whose plan removes every
private element unread may drop any (``Engine.drops_private``)."""

from __future__ import annotations

import warnings

import pytest

from dicom_deid.deidentify import Engine, PixelMode, deidentify
from dicom_deid.errors import DeidError
from dicom_deid.keys import SecretKey
from dicom_deid.plan import DecisionCache, DroppedCache, plan_actions
from dicom_deid.profiles import Override, OverrideAction, load_profile, load_standard
from dicom_deid.read import parse_instance
from tests.fuzz_corpus import TEST_FILES

KEY = SecretKey(bytes(range(32)))


def _decisions(plan: object) -> list[tuple[object, ...]]:
    return [(a.path, a.code, a.rule, a.value) for a in plan]  # type: ignore[attr-defined]


def test_the_plan_with_dropped_elements_is_the_plan_of_the_whole_dataset() -> None:
    """On pydicom's test files, planned afresh and with a shared memo (as a run plans): the same
    actions in the same order, with the dropped elements in their places."""
    profile, standard = load_profile("basic"), load_standard()
    cache_whole: DecisionCache = {}
    cache_dropped: DecisionCache = {}
    memo: DroppedCache = {}
    files = compared = 0
    for path in sorted(TEST_FILES.glob("*.dcm")):
        data = path.read_bytes()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                whole = parse_instance(data, where=path.name, fast=True)
                lean = parse_instance(data, where=path.name, fast=True, drop_private=True)
        except DeidError:  # a file read.py refuses is refused either way (test_bytepath_identity)
            continue
        files += 1
        if not lean.dropped:
            continue
        assert not whole.dropped
        assert len(lean.dataset._dict) + len(lean.dropped) == len(whole.dataset._dict), path.name
        for cache in (None, cache_whole):
            expected = _decisions(plan_actions(whole.dataset, profile, standard, cache=cache))
            for mine, whole_memo in ((None, None), (cache_dropped, None), (cache_dropped, memo), (None, memo)):
                got = _decisions(plan_actions(lean.dataset, profile, standard, cache=mine, dropped=lean.dropped,
                                              dropped_cache=whole_memo))
                assert got == expected, path.name
        compared += 1
    assert files >= 40 and compared >= 6, (files, compared)
    assert len(memo) >= 3  # the whole-answer memo was filled (and then answered: the last round above)


def test_an_element_dropped_out_of_place_changes_the_plan() -> None:
    """The comparison above sees order: the same actions listed elsewhere are another plan."""
    data = (TEST_FILES / "CT_small.dcm").read_bytes()
    lean = parse_instance(data, where="CT_small.dcm", fast=True, drop_private=True)
    assert len(lean.dropped) >= 10
    profile, standard = load_profile("basic"), load_standard()
    right = _decisions(plan_actions(lean.dataset, profile, standard, dropped=lean.dropped))
    wrong = _decisions(plan_actions(lean.dataset, profile, standard, dropped=lean.dropped[::-1]))
    assert sorted(map(repr, right)) == sorted(map(repr, wrong)) and right != wrong


def test_the_whole_answer_memo_is_per_sop_class() -> None:
    """The same dropped elements in an instance of another SOP class are decided afresh (a memo
    keyed without the class would answer for it), and the memo never changes the answer."""
    data = (TEST_FILES / "CT_small.dcm").read_bytes()
    lean = parse_instance(data, where="CT_small.dcm", fast=True, drop_private=True)
    profile, standard = load_profile("basic"), load_standard()
    memo: DroppedCache = {}
    first = _decisions(plan_actions(lean.dataset, profile, standard, dropped=lean.dropped, dropped_cache=memo))
    assert list(memo) == [("1.2.840.10008.5.1.4.1.1.2", lean.dropped)]
    other = parse_instance(data, where="CT_small.dcm", fast=True, drop_private=True).dataset
    other.SOPClassUID = "1.2.840.10008.5.1.4.1.1.4"
    plan_actions(other, profile, standard, dropped=lean.dropped, dropped_cache=memo)
    assert len(memo) == 2
    again = _decisions(plan_actions(lean.dataset, profile, standard, dropped=lean.dropped, dropped_cache=memo))
    assert again == first and len(first) > len(lean.dropped)


def test_only_private_elements_the_plan_removes_may_be_dropped() -> None:
    data = (TEST_FILES / "CT_small.dcm").read_bytes()
    lean = parse_instance(data, where="CT_small.dcm", fast=True, drop_private=True)
    standard = load_standard()
    with pytest.raises(ValueError, match=r"\(0010,0010\) dropped unread: only private elements"):
        plan_actions(lean.dataset, load_profile("basic"), standard, dropped=[(0x00100010, "PN")])
    with pytest.raises(ValueError, match=r"dropped unread: only private elements"):
        plan_actions(lean.dataset, load_profile("research"), standard, dropped=lean.dropped)
    keep = load_profile("basic", overrides=[(lean.dropped[0][0], Override(OverrideAction.KEEP))])
    with pytest.raises(ValueError, match=r"dropped unread, but the plan does not remove it"):
        plan_actions(lean.dataset, keep, standard, dropped=lean.dropped)
    with pytest.raises(ValueError, match="this engine's plan may read or keep them"):
        deidentify(lean.dataset, Engine(load_profile("research"), KEY), data=data, dropped=lean.dropped)


def test_which_runs_drop_private_elements() -> None:
    assert Engine(load_profile("basic"), KEY).drops_private
    assert not Engine(load_profile("research"), KEY).drops_private  # retain-safe-private reads creators
    assert not Engine(load_profile("basic", extra_options=["retain_safe_private"]), KEY).drops_private
    kept = load_profile("basic", overrides=[(0x00091001, Override(OverrideAction.KEEP))])
    assert not Engine(kept, KEY).drops_private
    public = load_profile("basic", overrides=[(0x00081030, Override(OverrideAction.KEEP))])
    assert Engine(public, KEY).drops_private
    assert Engine(load_profile("basic"), KEY, PixelMode.ALL).drops_private  # the pixel stage reads no private element


@pytest.mark.parametrize(("keyword", "value"), [
    ("PatientIdentityRemoved", "YES"), ("DeidentificationMethod", "dicom-deid; profile basic"),
    ("LongitudinalTemporalInformationModified", "REMOVED"), ("CodeValue", "113100"),
    ("MediaStorageSOPInstanceUID", "1.2.3.4"), ("FileMetaInformationVersion", b"\x00\x01"),
])
def test_set_plain_sets_what_setattr_sets(keyword: str, value: object) -> None:
    """scrub.set_plain (the method attributes, the file meta ours sets) builds the element
    pydicom's ``__setattr__`` builds, and writes the same bytes; on an element already there it is
    pydicom's own way (the element keeps its VR)."""
    from pydicom.dataset import Dataset
    from pydicom.filebase import DicomBytesIO
    from pydicom.filewriter import write_dataset

    from dicom_deid.scrub import set_plain

    def encoded(ds: Dataset) -> bytes:
        buf = DicomBytesIO()
        buf.is_little_endian, buf.is_implicit_VR = True, False
        write_dataset(buf, ds)
        return buf.getvalue()

    from pydicom.datadict import dictionary_VR, tag_for_keyword
    from pydicom.dataelem import RawDataElement
    from pydicom.tag import BaseTag

    tag = BaseTag(tag_for_keyword(keyword) or 0)
    for before in (None, "UN", "raw", "decoded"):  # absent, decoded as UN, raw as read, decoded as read
        mine, theirs = Dataset(), Dataset()
        for ds in (mine, theirs):
            ds.set_original_encoding(False, True)
            if before == "UN":
                ds.add_new(keyword, before, b"OLD ")
            elif before is not None:
                ds._dict[tag] = RawDataElement(tag, dictionary_VR(tag), 4, b"OLD ", 0, False, True)
                if before == "decoded":
                    ds[tag]
        set_plain(mine, keyword, value)
        setattr(theirs, keyword, value)
        assert list(mine._dict) == list(theirs._dict)
        assert all(type(k) is type(j) for k, j in zip(mine._dict, theirs._dict, strict=True))
        a, b = mine[keyword], theirs[keyword]
        assert (a.tag, a.VR, a.value) == (b.tag, b.VR, b.value)
        assert encoded(mine) == encoded(theirs) and len(encoded(mine)) > 8


def test_set_plain_refuses_what_pydicom_sets_otherwise() -> None:
    from pydicom.dataset import Dataset

    from dicom_deid.scrub import set_plain

    for keyword in ("DeidentificationMethodCodeSequence", "PixelData"):
        with pytest.raises(ValueError, match="set_plain sets plain public elements only"):
            set_plain(Dataset(), keyword, [])
