"""The plan's decision cache (shared by all instances of a run) never changes a plan.

Each of pydicom's bundled files is planned alone, without a cache, and again with one cache
shared across all the files (twice, so the second pass is served from it): the plans must be the
same, action for action, for a profile that removes every private element (whose decisions are
then cached) and one that keeps the safe ones (whose decisions depend on the creator: not cached).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from pydicom.datadict import keyword_for_tag, tag_for_keyword
from pydicom.dataset import Dataset

from dicom_deid.errors import DeidError
from dicom_deid.plan import (
    DecisionCache,
    ElementAction,
    TagPath,
    _Planner,
    element_vr,
    plan_actions,
)
from dicom_deid.profiles import ActionCode, Option, Profile, Standard, load_profile, load_standard
from dicom_deid.read import parse_instance
from tests.conftest import TEST_FILES
from tests.planted import generate_corpus


def _datasets() -> list[Dataset]:
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for path in sorted(TEST_FILES.glob("*.dcm")):
            try:  # as the pipeline reads them; the files it refuses are other tests' subject
                ds = parse_instance(path.read_bytes(), where=path.name).dataset
                plan_actions(ds, load_profile("basic"), load_standard())
            except DeidError:
                continue
            out.append(ds)
    return out


@pytest.mark.parametrize("profile_name", ["basic", "research"])
def test_a_shared_cache_gives_the_plans_of_no_cache(profile_name):
    profile, standard = load_profile(profile_name), load_standard()
    datasets = _datasets()
    uncached = [plan_actions(ds, profile, standard).actions for ds in datasets]
    cache: DecisionCache = {}
    for _ in range(2):
        cached = [plan_actions(ds, profile, standard, cache=cache).actions for ds in datasets]
        assert cached == uncached
    privates = sum(1 for actions in uncached for path in actions if path[-1] >> 16 & 1)
    assert len(datasets) > 60 and privates > 100  # many files, many private elements were planned
    assert (Option.RETAIN_SAFE_PRIVATE in profile.options) == (profile_name == "research")
    private_keys = sum(1 for key in cache if key[2] >> 16 & 1)
    assert (private_keys > 0) == (profile_name == "basic")  # cached only where the creator is not read


# -- the fast planner against a reference planner (issue 16) -----------------------------------
#
# ``_Planner.walk`` memoises decisions across instances, reuses cached top-level actions and
# reads each element's VR straight from the raw element.  The reference below is the planner
# with none of that: for every element, at every level, pydicom's own VR lookup (element_vr)
# and a fresh ``decide``.  Every action (path, code, rule, value) must be the same, on every file
# of three corpora, with one cache shared across all of them (warm for the later files).


def _reference_plan(ds: Dataset, profile: Profile, standard: Standard) -> dict[TagPath, ElementAction]:
    planner = _Planner(profile, standard, str(ds.get("SOPClassUID", "") or ""), root=ds)

    def walk(item: Dataset, prefix: TagPath, seq_path: tuple[str, ...], cleaning: bool) -> None:
        creators: dict[tuple[int, int], str] = {}
        for tag in item.keys() if planner.retain_safe_private else ():
            if tag.group & 1 and 0x10 <= tag.element <= 0xFF:
                value = item[tag].value
                creators[(tag.group, tag.element)] = value if isinstance(value, str) else ""
        for tag in item.keys():  # noqa: SIM118 - iterating a Dataset yields elements
            path = (*prefix, int(tag))
            vr = element_vr(item, tag)
            action = planner.decide(item, int(tag), vr, path, seq_path, creators)
            if cleaning and action.code is ActionCode.D and vr in ("LO", "LT", "SH", "ST", "UT"):
                action = ElementAction(path, ActionCode.C, f"{action.rule}; in a cleaned sequence")
            planner.actions[path] = action
            if vr == "SQ" and action.code not in (ActionCode.X, ActionCode.Z):
                keyword = keyword_for_tag(tag) or f"{int(tag):08X}"
                for i, child in enumerate(item[tag].value or ()):
                    walk(child, (*path, i), (*seq_path, keyword), cleaning or action.code is ActionCode.C)

    walk(ds, (), (), False)
    return planner.actions


def _parsed(paths: list[Path]) -> list[Dataset]:
    """Every file of ``paths`` the pipeline reads and plans (both paths' readers; file meta too)."""
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for path in paths:
            data = path.read_bytes()
            for fast in (False, True):
                try:
                    ds = parse_instance(data, where=path.name, fast=fast).dataset
                    plan_actions(ds, load_profile("basic"), load_standard())
                except DeidError:
                    continue
                out += [ds, ds.file_meta]
    return out


@pytest.fixture(scope="module")
def corpora(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Dataset]]:
    from pydicom.data import get_testdata_file

    overlay = get_testdata_file("MR-SIEMENS-DICOM-WithOverlays.dcm")
    assert overlay is not None, "PyPI pydicom-data is missing: pip install -e '.[test]'"
    export = tmp_path_factory.mktemp("plan") / "export"
    generate_corpus(export, seed=0, patients=3, bad_inputs=True)
    return {
        "pydicom test files": _parsed(sorted(p for p in TEST_FILES.rglob("*") if p.is_file())),
        "pydicom-data": _parsed([p for p in sorted(Path(overlay).parent.glob("*.dcm"))
                                 if p.stat().st_size <= 1_100_000]),
        "sample export": _parsed(sorted(p for p in export.rglob("*") if p.is_file())),
    }


@pytest.mark.parametrize("profile_name", ["basic", "research"])
def test_the_fast_planner_gives_the_reference_plan(corpora: dict[str, list[Dataset]], profile_name: str) -> None:
    profile, standard = load_profile(profile_name), load_standard()
    cache: DecisionCache = {}
    compared = nested = 0
    for _ in range(2):  # the second pass is served from the warm cache
        for name, datasets in corpora.items():
            for i, ds in enumerate(datasets):
                fast = plan_actions(ds, profile, standard, cache=cache).actions
                reference = _reference_plan(ds, profile, standard)
                assert list(fast.items()) == list(reference.items()), f"{name} #{i}: plans differ"
                compared += 1
                nested += sum(1 for path in reference if len(path) > 1)
    sizes = {name: len(datasets) for name, datasets in corpora.items()}
    assert sizes["pydicom test files"] >= 250 and sizes["pydicom-data"] >= 60 and sizes["sample export"] >= 60, sizes
    assert compared == 2 * sum(sizes.values()) and nested > 1000


def test_the_reference_comparison_catches_a_changed_action() -> None:
    """A cache entry that differs from what ``decide`` says shows as a difference."""
    profile, standard = load_profile("basic"), load_standard()
    ds = parse_instance((TEST_FILES / "CT_small.dcm").read_bytes(), where="CT_small.dcm").dataset
    cache: DecisionCache = {}
    plan_actions(ds, profile, standard, cache=cache)
    memo = next(key for key in cache if key[1] == () and key[2] == 0x00081030)  # Study Description
    cache[memo] = ElementAction((0x00081030,), ActionCode.K, "tampered")
    assert plan_actions(ds, profile, standard, cache=cache).actions != _reference_plan(ds, profile, standard)


def test_a_uid_decided_by_its_value_is_never_served_from_the_cache() -> None:
    """A UID the table leaves to its VR is kept when it names a class (a standard prefix) and
    remapped when it names an instance: its decision reads the value, so the cache holds only the
    other UID decisions (an instance's own UIDs, references); the same tag in the next instance is
    decided again."""
    standard, profile = load_standard(), load_profile("basic")
    cache: DecisionCache = {}
    codes = []
    stored = int(tag_for_keyword("StoredInstanceTransferSyntaxUID") or 0)
    for value in ("1.2.840.10008.1.2.1", "1.2.3.4", "1.2.840.10008.1.2", "2.25.7"):
        ds = Dataset()
        ds.SOPClassUID, ds.SOPInstanceUID = "1.2.840.10008.5.1.4.1.1.7", "2.25.1"
        ds.StoredInstanceTransferSyntaxUID = value  # UI, not in E.1-1, not a class keyword
        cached = plan_actions(ds, profile, standard, cache=cache)
        assert cached.actions == plan_actions(ds, profile, standard).actions
        codes.append((cached.actions[(0x00080018,)].code, cached.actions[(stored,)].code))
    assert codes == [(ActionCode.U, ActionCode.K), (ActionCode.U, ActionCode.U)] * 2
    assert any(key[2] == 0x00080018 for key in cache), "an instance's own UID decision is cached"
    assert not any(key[2] == stored for key in cache)
