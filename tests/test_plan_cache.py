"""The plan's decision cache (shared by all instances of a run) never changes a plan.

Each of pydicom's bundled files is planned alone, without a cache, and again with one cache
shared across all the files (twice, so the second pass is served from it): the plans must be the
same, action for action, for a profile that removes every private element (whose decisions are
then cached) and one that keeps the safe ones (whose decisions depend on the creator: not cached).
"""

from __future__ import annotations

import warnings

import pytest
from pydicom.dataset import Dataset

from dicom_deid.errors import DeidError
from dicom_deid.plan import DecisionCache, plan_actions
from dicom_deid.profiles import Option, load_profile, load_standard
from dicom_deid.read import parse_instance
from tests.conftest import TEST_FILES


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
