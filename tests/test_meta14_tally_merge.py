"""``Plan.tally`` of a plan whose private elements the reader dropped: the removals' names are the
walk's and the dropped ones merged by top-level tag (``plan._tally_merged``), the same answer as
a plain loop over the plan, and the plain loop where the merge does not hold."""

from __future__ import annotations

from collections import Counter

from pydicom.dataset import Dataset

from dicom_deid.deidentify import Engine
from dicom_deid.keys import SecretKey
from dicom_deid.plan import Plan, format_path, plan_actions
from dicom_deid.profiles import ActionCode, load_profile, load_standard
from dicom_deid.read import parse_instance
from tests.fuzz_corpus import TEST_FILES


def _plain(plan: Plan) -> tuple[Counter[str], dict[str, list[str]]]:
    """counts and changes by a plain loop over the plan's actions, in plan order."""
    changes: dict[str, list[str]] = {}
    for action in plan.actions.values():
        if action.code is not ActionCode.K:
            changes.setdefault(action.code.value, []).append(format_path(action.path))
    return Counter(a.code.value for a in plan.actions.values()), changes


def test_merged_tally_is_the_plain_loops_where_dropped_and_read_removals_interleave() -> None:
    profile, standard = load_profile("basic"), load_standard()
    engine = Engine(profile, SecretKey(bytes(range(32))))
    interleaved = 0
    for name in ("CT_small.dcm", "MR_small.dcm", "rtplan.dcm", "JPEG2000.dcm"):
        instance = parse_instance((TEST_FILES / name).read_bytes(), where=name, fast=True,
                                  drop_private=engine.drops_private)
        plan = plan_actions(instance.dataset, profile, standard, dropped=instance.dropped)
        counts, changes = plan.tally()
        expected_counts, expected = _plain(plan)
        assert counts == expected_counts
        assert changes == expected and list(changes) == [c for c in "DZXCU" if c in expected]
        if plan.dropped is not None:  # the merge was taken: count dropped names between read removals
            read_removed = [a.path[0] for a in plan.walked or () if a.code is ActionCode.X]
            interleaved += sum(1 for tag in plan.dropped.tags
                               if read_removed and min(read_removed) < tag < max(read_removed))
    assert interleaved >= 10  # the merge was exercised where order matters


def test_a_walk_out_of_tag_order_is_tallied_by_the_plain_loop() -> None:
    """A dataset whose elements do not ascend (not read by read_fast.py): the plan holds the
    dropped elements where the walk put them, and ``tally`` lists them in that order."""
    profile, standard = load_profile("basic"), load_standard()
    ds = Dataset()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.2"  # (0008,0016) K
    ds.SeriesDate = "20200101"  # (0008,0021) X
    ds.Rows = 2  # (0028,0010) K
    # walked as Rows, SeriesDate, SOPClassUID: the dropped (0009,0010) goes before Rows, the
    # first element of a higher tag, so before SeriesDate (a merge by tag would put it after)
    ds._dict = {k: ds._dict[k] for k in sorted(ds._dict, key=lambda t: (t != 0x00280010, t != 0x00080021))}
    plan = plan_actions(ds, profile, standard, dropped=[(0x00090010, "LO")])
    assert plan.dropped is None  # the walk did not ascend: no merge
    _, changes = plan.tally()
    assert changes["X"] == _plain(plan)[1]["X"] == ["(0009,0010)", "SeriesDate"]
