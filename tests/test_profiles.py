"""The rule tables come from the standard's CSVs, and regenerate byte for byte."""

from __future__ import annotations

import csv
import hashlib
import re
import subprocess
import sys

import pytest

from dicom_deid.errors import ConfigError, ProfileError
from dicom_deid.profiles import (
    ActionCode,
    Option,
    OverrideAction,
    load_profile,
    load_standard,
    parse_override,
)
from tests.conftest import REPO

SOURCE = REPO / "profiles" / "source"


def _rows() -> list[dict[str, str]]:
    with (SOURCE / "table_E.1-1.csv").open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_regenerating_profiles_gives_identical_bytes(tmp_path):
    out = tmp_path / "regen.json"
    subprocess.run([sys.executable, str(REPO / "scripts" / "generate_profiles.py"), "--out", str(out)],
                   check=True, capture_output=True)
    assert out.read_bytes() == (REPO / "profiles" / "ps315_2026c.json").read_bytes()


def _recorded_sha256() -> dict[str, str]:
    """The per-file SHA-256 table of profiles/source/PROVENANCE.md (recorded when copied)."""
    text = (SOURCE / "PROVENANCE.md").read_text(encoding="utf-8")
    return dict(re.findall(r"^\| `([^`]+)` \| `([0-9a-f]{64})` \|$", text, flags=re.MULTILINE))


def test_vendored_sources_are_the_recorded_extraction():
    """A clean clone checks its vendored tables against the SHA-256 recorded in PROVENANCE.md, and
    each against the upstream extraction in ../shared/ps315 wherever that folder is beside it."""
    recorded = _recorded_sha256()
    files = sorted(p.relative_to(SOURCE).as_posix() for p in SOURCE.rglob("*.csv"))
    assert sorted(recorded) == files  # every vendored table is recorded, and nothing else
    for name in files:
        assert hashlib.sha256((SOURCE / name).read_bytes()).hexdigest() == recorded[name], name
    shared = REPO.parent / "shared" / "ps315"
    upstream = [n for n in files if (shared / n).exists()]
    for name in upstream:
        assert (SOURCE / name).read_bytes() == (shared / name).read_bytes(), name
    assert len(files) == 10 and len(upstream) in (0, 8)  # the two beyond_* files are our own extraction


def test_generated_header_names_the_recorded_sources():
    """profiles/ps315_2026c.json records the same SHA-256 for each table it was generated from."""
    import json

    sources = json.loads((REPO / "profiles" / "ps315_2026c.json").read_text(encoding="utf-8"))["sources"]
    recorded = _recorded_sha256()
    assert sources == {name: recorded[name] for name in sources}
    assert len(sources) == 9


def test_every_single_tag_row_is_loaded_with_its_basic_and_option_codes():
    std = load_standard()
    checked = 0
    for row in _rows():
        if row["tag_kind"] != "single":
            continue
        rule = std.by_tag[int(row["tag_key"], 16)]
        assert rule.basic.value == row["basic_profile"], row["attribute_name"]
        for opt in Option:
            if row.get(opt.value):
                assert rule.options[opt].value == row[opt.value], (row["attribute_name"], opt)
        checked += 1
    assert checked == 652


def test_masks_and_private_row():
    std = load_standard()
    assert std.rule_for(0x60023000).basic is ActionCode.X  # Overlay Data in group 6002
    assert std.rule_for(0x60004000).options[Option.CLEAN_GRAPHICS] is ActionCode.C
    assert std.rule_for(0x50020010).basic is ActionCode.X  # curve data
    assert std.private_rule.options[Option.RETAIN_SAFE_PRIVATE] is ActionCode.C


@pytest.mark.parametrize(
    ("keyword", "options", "expected"),
    [
        ("StudyDate", set(), ActionCode.Z),
        ("StudyDate", {Option.RETAIN_LONG_FULL_DATES}, ActionCode.K),
        ("StudyDate", {Option.RETAIN_LONG_MODIFIED_DATES}, ActionCode.C),
        ("InstitutionName", {Option.RETAIN_INSTITUTION_IDENTITY}, ActionCode.K),
        ("StudyInstanceUID", set(), ActionCode.U),
        ("StudyInstanceUID", {Option.RETAIN_UIDS}, ActionCode.K),
        ("PatientSex", {Option.RETAIN_PATIENT_CHARACTERISTICS}, ActionCode.K),
        ("StudyDescription", {Option.CLEAN_DESCRIPTORS}, ActionCode.C),
        ("DeviceSerialNumber", {Option.RETAIN_DEVICE_IDENTITY}, ActionCode.K),
    ],
    ids=lambda v: str(v) if not isinstance(v, set) else "+".join(sorted(o.value for o in v)) or "basic",
)
def test_option_overrides_basic_action(keyword, options, expected):
    from pydicom.datadict import tag_for_keyword

    code, _ = load_standard().by_tag[tag_for_keyword(keyword)].action_for(frozenset(options))
    assert code is expected


def test_named_profiles_load_and_compose_with_cli_options():
    names = {"basic", "research", "safe-harbor"}
    for name in names:
        assert load_profile(name).name == name
    p = load_profile("basic", extra_options=["retain-uids"])
    assert Option.RETAIN_UIDS in p.options
    sh = load_profile("safe-harbor")
    assert sh.age_cap_years == 89 and sh.date_method.value == "year"


def test_conflicting_date_options_rejected():
    with pytest.raises(ConfigError, match="cannot both be selected"):
        load_profile("research", extra_options=["retain-long-full-dates"])


def test_unknown_profile_and_option_are_clear_errors(tmp_path):
    with pytest.raises(ConfigError, match="unknown profile 'nope'"):
        load_profile("nope")
    with pytest.raises(ConfigError, match="unknown option 'retain-everything'"):
        load_profile("basic", extra_options=["retain-everything"])
    bad = tmp_path / "bad.toml"
    bad.write_text("options = [\n")
    with pytest.raises(ProfileError, match="invalid TOML"):
        load_profile(bad)


def test_user_profile_file_with_overrides(tmp_path):
    f = tmp_path / "mine.toml"
    f.write_text('name = "mine"\noptions = ["retain_uids"]\n[overrides]\nPatientAge = "keep"\n'
                 '"(0008,103E)" = { action = "replace", value = "SERIES" }\n')
    p = load_profile(f)
    assert p.overrides[0x00101010].action is OverrideAction.KEEP
    assert p.overrides[0x0008103E].value == "SERIES"


def test_parse_override_forms():
    assert parse_override("PatientAge=keep")[0] == 0x00101010
    assert parse_override("(0010,0010)=replace:NOBODY")[1].value == "NOBODY"
    with pytest.raises(ConfigError, match="must look like"):
        parse_override("PatientAge")
    with pytest.raises(ConfigError, match="unknown attribute 'NotAKeyword'"):
        parse_override("NotAKeyword=keep")


def test_beyond_table_types_are_current(tmp_path):
    """The vendored PS3.3 types of beyond_table.toml's attributes match a fresh extraction (drift:
    an attribute added to beyond_table.toml without re-running the script fails here)."""
    subprocess.run([sys.executable, str(REPO / "scripts" / "extract_beyond_table_types.py"), "--out", str(tmp_path)],
                   check=True, capture_output=True)
    checked = 0
    for name in ("beyond_toplevel_types.csv", "beyond_nested_types.csv"):
        assert (tmp_path / name).read_bytes() == (SOURCE / "iod" / name).read_bytes(), name
        checked += 1
    assert checked == 2


def test_veterinary_condition_and_reference_sequences_come_from_the_data():
    std = load_standard()
    assert std.conditions["ResponsiblePerson"] == ("PatientSpeciesDescription", "PatientSpeciesCodeSequence")
    # the IOD types of a beyond-table attribute are loaded: Document Title is Type 2 in an encapsulated PDF
    assert std.type_of("1.2.840.10008.5.1.4.1.1.104.1", (), "DocumentTitle") == "2"
