"""``Plan.tally`` (the manifest row's ``actions`` and ``changes`` in one pass) against plain
loops over the plan, and its memo of path names past its bound."""

from __future__ import annotations

from collections import Counter

from dicom_deid.deidentify import Engine
from dicom_deid.keys import SecretKey
from dicom_deid.plan import ElementAction, Plan, TagPath, format_path, plan_actions
from dicom_deid.profiles import ActionCode, load_profile, load_standard
from dicom_deid.read import parse_instance
from tests.fuzz_corpus import TEST_FILES


def test_tally_counts_every_code_and_lists_every_change_in_plan_order() -> None:
    profile, standard = load_profile("basic"), load_standard()
    engine = Engine(profile, SecretKey(bytes(range(32))))
    checked = 0
    for name in ("CT_small.dcm", "rtplan.dcm", "MR_small.dcm", "JPEG2000.dcm"):
        instance = parse_instance((TEST_FILES / name).read_bytes(), where=name, fast=True,
                                  drop_private=engine.drops_private)
        plan = plan_actions(instance.dataset, profile, standard, dropped=instance.dropped)
        counts, changes = plan.tally()
        assert counts == Counter(a.code.value for a in plan.actions.values())
        expected: dict[str, list[str]] = {}
        for action in plan.actions.values():
            if action.code is not ActionCode.K:
                expected.setdefault(action.code.value, []).append(format_path(action.path))
        assert changes == expected and list(changes) == [c for c in "DZXCU" if c in expected]
        checked += len(plan.actions)
    assert checked > 300


def test_a_plan_without_kept_elements_counts_no_k() -> None:
    plan = Plan({(0x00100010,): ElementAction((0x00100010,), ActionCode.Z, "r"),
                 (0x00100020,): ElementAction((0x00100020,), ActionCode.X, "r")}, "1.2")
    assert plan.tally() == ({"Z": 1, "X": 1}, {"Z": ["PatientName"], "X": ["PatientID"]})


def test_path_names_stay_right_past_the_memo_bound() -> None:
    """More distinct paths than the memo holds (it empties itself): each name is still its own."""
    actions: dict[TagPath, ElementAction] = {(0x00081115, i, 0x0020000E): ElementAction((0x00081115, i, 0x0020000E), ActionCode.U, "r")
               for i in range(70_000)}
    names = Plan(actions, "1.2").tally()[1]["U"]
    assert len(names) == 70_000
    assert names[0] == "ReferencedSeriesSequence[0].SeriesInstanceUID"
    assert names[-1] == "ReferencedSeriesSequence[69999].SeriesInstanceUID"
    again = Plan({(0x00100010,): ElementAction((0x00100010,), ActionCode.X, "r")}, "1.2").tally()[1]
    assert again == {"X": ["PatientName"]}
