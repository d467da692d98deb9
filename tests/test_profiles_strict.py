"""Configuration mistakes that used to pass silently (issue 13): one test per case."""

from __future__ import annotations

import importlib.resources
import json
import tomllib

import pytest

from dicom_deid.cli import main
from dicom_deid.errors import ProfileError
from dicom_deid.manifest import MANIFEST_NAME, read_manifest
from dicom_deid.profile_schema import schema_problem
from dicom_deid.profiles import Option, list_profiles, load_profile, profile_schema
from tests.small_export import make_export

OLD_README_EXAMPLE = '''name = "my-study"
options = ["retain_long_modified_dates", "clean_descriptors"]
[documents]
policy = "quarantine"
[overrides]
PatientAge = "keep"
"(0008,103E)" = { action = "replace", value = "SERIES" }
'''


def _err_lines(capsys) -> list[str]:
    return capsys.readouterr().err.strip().splitlines()


def test_a_profile_without_clean_pixel_data_warns_on_every_run_and_in_the_report(tmp_path, key_file, capsys):
    """The README's old example turned redaction off without a word."""
    make_export(tmp_path / "in", ["A1"])
    profile = tmp_path / "my-study.toml"
    profile.write_text(OLD_README_EXAMPLE)
    warning = ("dicom-deid: warning: profile 'my-study' does not select clean_pixel_data: burned-in text in pixel "
               "data is NOT redacted; add clean_pixel_data to its options (or base it on a named profile), or pass "
               "--pixels off to say this is intended")
    base = ["--profile", str(profile), "--key-file", str(key_file), "--quiet"]
    for attempt in ("first", "second"):  # every run, not once
        out = tmp_path / f"out-{attempt}"
        report = tmp_path / f"report-{attempt}.html"
        assert main(["run", str(tmp_path / "in"), str(out), *base, "--report", str(report)]) == 0
        assert warning in _err_lines(capsys)
        run_row = next(r for r in read_manifest(out / MANIFEST_NAME) if r["type"] == "run")
        assert run_row["warnings"] == [warning.removeprefix("dicom-deid: warning: ")]
        assert "does not select clean_pixel_data: burned-in text in pixel data is NOT redacted" in report.read_text()
    assert main(["run", str(tmp_path / "in"), str(tmp_path / "out-off"), *base, "--pixels", "off"]) == 0
    assert not any("warning: profile" in line for line in _err_lines(capsys))  # said explicitly: no warning
    run_row = next(r for r in read_manifest(tmp_path / "out-off" / MANIFEST_NAME) if r["type"] == "run")
    assert "warnings" not in run_row


def test_the_readme_example_now_keeps_redaction_on(tmp_path):
    from tests.conftest import REPO

    text = (REPO / "README.md").read_text()
    example = text.split("```toml\n", 1)[1].split("```", 1)[0]
    import tomllib

    assert Option.CLEAN_PIXEL_DATA.value not in tomllib.loads(example).get("options", [])  # inherited, not listed
    path = tmp_path / "my-study.toml"
    path.write_text(example)
    profile = load_profile(path)
    assert Option.CLEAN_PIXEL_DATA in profile.options and profile.base == "basic"
    assert {Option.RETAIN_LONG_MODIFIED_DATES, Option.CLEAN_DESCRIPTORS} <= profile.options


@pytest.mark.parametrize(("toml", "message"), [
    ('name = "x"\nbase2 = "research"\n', ("unknown key 'base2'; valid keys: ages, base, dates, description, documents, "
                                         "name, options, overrides, pixels, subjects")),
    ('[dates]\nmethd = "shift"\n', "[dates] unknown key 'methd'; valid keys: method"),
    ('[pixel]\nmode = "off"\n', "unknown key 'pixel'; valid keys: ages, base,"),
    ('options = ["clean_descriptrs"]\n', "unknown option 'clean_descriptrs'; choose from: retain_safe_private, "),
    ('[ages]\ncap_years = "89"\n', "ages.cap_years: '89' is not of type 'integer'"),
    ('[overrides]\nPatientAge = "kept"\n', "override 'PatientAge': give \"keep\", \"remove\", \"empty\" or"),
], ids=["unknown-key", "unknown-key-in-a-table", "misspelt-table", "unknown-option", "wrong-type", "bad-override"])
def test_an_unknown_key_or_option_is_an_error_listing_the_valid_ones(tmp_path, toml, message, capsys):
    path = tmp_path / "p.toml"
    path.write_text(toml)
    with pytest.raises(ProfileError, match="^" + str(path).replace(".", r"\.") + ": ") as info:
        load_profile(path)
    assert message in str(info.value)
    make_export(tmp_path / "in", ["A1"])
    assert main(["run", str(tmp_path / "in"), str(tmp_path / "out"), "--profile", str(path)]) == 1
    assert _err_lines(capsys) == [f"dicom-deid: error: {info.value}"]
    assert not (tmp_path / "out").exists()


def test_base_inherits_a_named_profile_or_is_rejected(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text('name = "child"\nbase = "safe-harbor"\noptions = ["retain_device_identity"]\n'
                    '[overrides]\nPatientAge = "keep"\n')
    child, parent = load_profile(path), load_profile("safe-harbor")
    assert child.name == "child" and child.options == parent.options | {Option.RETAIN_DEVICE_IDENTITY}
    assert (child.date_method, child.age_cap_years) == (parent.date_method, parent.age_cap_years)  # inherited
    assert set(child.overrides) == {0x00101010}
    path.write_text('base = "research2"\n')
    with pytest.raises(ProfileError, match=r"base 'research2' is not a named profile; choose from: basic, research, "
                                           "safe-harbor"):
        load_profile(path)


def test_explicit_pixels_auto_selects_clean_pixel_data(tmp_path, key_file):
    """`--pixels auto` with a profile that leaves the option out did nothing before: the flag does what it says."""
    from dicom_deid import Deidentifier, PixelMode

    path = tmp_path / "p.toml"
    path.write_text('options = ["clean_descriptors"]\n')
    deid = Deidentifier(profile=path, key=key_file, pixels="auto")
    assert deid.engine.pixels is PixelMode.AUTO and Option.CLEAN_PIXEL_DATA in deid.profile.options
    assert deid.warnings == ()


def test_the_schema_names_every_option_and_nothing_else():
    schema = profile_schema()
    names = schema["properties"]["options"]["items"]["enum"]
    assert sorted(names) == sorted(o.value for o in Option) and len(names) == len(Option)
    json.dumps(dict(schema))  # plain data


def _shipped_profiles() -> list[str]:
    names = list_profiles()
    assert {"basic", "research", "safe-harbor"} <= set(names)
    return names


@pytest.mark.parametrize("name", _shipped_profiles())
def test_every_shipped_profile_meets_the_schema(name):
    """Named profiles are not validated at run time (jsonschema's start-up cost): the suite does it."""
    text = importlib.resources.files("dicom_deid._profiles").joinpath(f"{name}.toml").read_text(encoding="utf-8")
    assert schema_problem(tomllib.loads(text)) is None


def test_a_profile_file_is_still_checked_against_the_schema(tmp_path):
    profile = tmp_path / "typo.toml"
    profile.write_text('base = "basic"\nname = "typo"\noptionz = ["retain_uids"]\n')
    with pytest.raises(ProfileError, match="unknown key 'optionz'; valid keys: "):
        load_profile(profile)
