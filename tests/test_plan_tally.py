"""``Plan.tally`` (picked code by code, in C) refuses a plan that holds a combined code: such an
action would otherwise be counted nowhere, neither as kept nor as changed."""

from __future__ import annotations

import pytest

from dicom_deid.plan import ElementAction, Plan
from dicom_deid.profiles import ActionCode


@pytest.mark.parametrize("code", [ActionCode.X_Z, ActionCode.Z_D, ActionCode.X_Z_U], ids=lambda c: c.value)
def test_a_plan_with_a_combined_code_is_refused(code: ActionCode) -> None:
    plan = Plan({(0x00100010,): ElementAction((0x00100010,), ActionCode.K, "r"),
                 (0x00100020,): ElementAction((0x00100020,), code, "r"),
                 (0x00100030,): ElementAction((0x00100030,), ActionCode.X, "r")}, "1.2")
    with pytest.raises(ValueError, match="unresolved action code"):
        plan.tally()


def test_each_code_lists_its_own_paths_in_plan_order() -> None:
    """Codes interleaved in the plan: each code's list holds its paths, and only its, in plan order."""
    tags = [0x00100010, 0x00100020, 0x00100030, 0x00100040, 0x00080050, 0x00081030, 0x0020000D]
    codes = [ActionCode.Z, ActionCode.K, ActionCode.X, ActionCode.Z, ActionCode.K, ActionCode.X, ActionCode.U]
    plan = Plan({(t,): ElementAction((t,), c, "r") for t, c in zip(tags, codes, strict=True)}, "1.2")
    counts, changes = plan.tally()
    assert counts == {"Z": 2, "X": 2, "U": 1, "K": 2}
    assert changes == {"Z": ["PatientName", "PatientSex"], "X": ["PatientBirthDate", "StudyDescription"],
                       "U": ["StudyInstanceUID"]}
