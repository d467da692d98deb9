"""The six mutations of issue 17's table, applied one at a time with dciodvfy and every system tool
hidden; each must be killed by the tests named beside it (printed: the first failing test).
The working tree is restored after each.  `python scripts/mutation_listed.py`."""
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CASES = [
    ("age cap > cap -> > cap + 5", "dicom_deid/scrub.py", "and int(m.group(1)) > cap:", "and int(m.group(1)) > cap + 5:",
     ["tests/test_scrub_rules.py::test_safe_harbor_age_boundary", "tests/test_readme_promises.py::test_safe_harbor_ages_over_89_become_090y"]),
    ("name parts under 4 letters not removed", "dicom_deid/clean.py", "if len(piece) >= 2 and not piece.isdigit():", "if len(piece) >= 4 and not piece.isdigit():",
     ["tests/test_clean_rules.py::test_short_name_parts_are_removed_as_words"]),
    ("unparseable dates kept", "dicom_deid/scrub.py", 'out.append(new if new is not None else "")', "out.append(new if new is not None else text)",
     ["tests/test_scrub_rules.py::test_date_shift_every_spelling", "tests/test_scrub_rules.py::test_year_only_under_safe_harbor"]),
    ("UID hash 16 -> 20 bytes", "dicom_deid/remap.py", 'original.strip().rstrip("\\x00"))[:16]', 'original.strip().rstrip("\\x00"))[:20]',
     ["tests/test_remap_rules.py::test_uid_valid_and_within_44_characters_for_any_input", "tests/test_remap_rules.py::test_the_44_character_bound_is_reached_and_held",
      "tests/test_readme_promises.py::test_uids_are_2_25_and_at_most_44_characters"]),
    ("resume ignores the key id", "dicom_deid/pipeline.py", 'row.get("options"), row.get("key_id"), row.get("subject_map"))',
     'row.get("options"), key_id, row.get("subject_map"))',
     ["tests/test_pipeline_resume.py::test_resume_is_refused_for_each_changed_setting", "tests/test_pipeline_resume.py::test_completed_inputs_refuses_any_other_setting"]),
    ("Z/D always Z (dciodvfy hidden)", "dicom_deid/plan.py", "return ActionCode.D if required else ActionCode.Z\n", "return ActionCode.Z\n",
     ["tests/test_plan_rules.py::test_resolve_follows_table_e11a", "tests/test_plan_rules.py::test_every_row_under_basic_in_every_iod_type"]),
]
env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:/nonexistent"}  # no dciodvfy, no system tools
env.pop("CI", None)
survived = []
for title, path, old, new, tests in CASES:
    f = REPO / path
    src = f.read_text()
    assert src.count(old) == 1, (title, src.count(old))
    f.write_text(src.replace(old, new))
    try:
        for t in tests:
            p = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-x", t], cwd=REPO, env=env,
                               capture_output=True, text=True, check=False)
            last = p.stdout.strip().splitlines()[-1]
            failed = [l.split(" ")[1] for l in p.stdout.splitlines() if l.startswith("FAILED")]
            if p.returncode == 0:
                survived.append((title, t))
            print(f"{title:40s} | {t.split('::')[0].split('/')[1]}::{t.split('::')[1]} | rc={p.returncode} | {last} | {failed[:1]}")
    finally:
        f.write_text(src)
print(f"{len(CASES)} mutations: {len(survived)} test(s) let one survive: {survived}")
sys.exit(1 if survived else 0)
