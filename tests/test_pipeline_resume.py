"""pipeline: resuming into an OUTPUT is refused for a changed key, profile or option, each on its own
(README "Scale and resume"), accepted for the same command, and --force redoes everything."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from dicom_deid.cli import main
from dicom_deid.errors import ConfigError
from dicom_deid.keys import create_secret_key
from dicom_deid.manifest import MANIFEST_NAME, read_manifest
from dicom_deid.pipeline import completed_inputs
from tests.conftest import TEST_FILES

FILES = ("MR_small.dcm", "CT_small.dcm", "JPEG2000.dcm")
REFUSED = ("dicom-deid: error: {out}: OUTPUT holds a run with another profile, options, key or subject map; resuming would "
           "mix them: choose a new OUTPUT, or --force to redo every input")


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("resume") / "in"
    root.mkdir()
    for name in FILES:
        shutil.copy(TEST_FILES / name, root / name)
    return root


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("resume-keys")
    create_secret_key(folder / "one.key")
    create_secret_key(folder / "two.key")
    return folder / "one.key", folder / "two.key"


def _run(inp: Path, out: Path, key: Path, *extra: str) -> int:
    return main(["run", str(inp), str(out), "--pixels", "off", "--workers", "1", "--quiet", "--key-file", str(key),
                 *extra])


def _outcomes(out: Path) -> list[list[str]]:
    """Outcomes per run, in order, from the manifest."""
    runs: list[list[str]] = []
    for row in read_manifest(out / MANIFEST_NAME):
        if row["type"] == "run":
            runs.append([])
        elif row["type"] == "file":
            runs[-1].append(row["outcome"])
    return runs


@pytest.fixture(scope="module")
def first(inputs: Path, keys: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished run: research profile plus one option, key one."""
    out = tmp_path_factory.mktemp("resume-out") / "out"
    assert _run(inputs, out, keys[0], "--profile", "research", "--option", "retain-institution-identity") == 0
    assert _outcomes(out) == [["written"] * len(FILES)]  # precondition
    return out


@pytest.mark.parametrize("change", ["key", "profile", "option removed", "option added"])
def test_resume_is_refused_for_each_changed_setting(change: str, first: Path, inputs: Path, keys, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    shutil.copytree(first, out)
    before = sorted(p.relative_to(out) for p in out.rglob("*"))
    args = {
        "key": (keys[1], "--profile", "research", "--option", "retain-institution-identity"),
        "profile": (keys[0], "--profile", "basic", "--option", "retain-institution-identity"),
        "option removed": (keys[0], "--profile", "research"),
        "option added": (keys[0], "--profile", "research", "--option", "retain-institution-identity",
                         "--option", "retain-uids"),
    }[change]
    capsys.readouterr()
    assert _run(inputs, out, *args) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == REFUSED.format(out=out)
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == before  # nothing written, manifest untouched


def test_same_command_resumes_and_force_redoes(first: Path, inputs: Path, keys, tmp_path: Path) -> None:
    out = tmp_path / "out"
    shutil.copytree(first, out)
    victim = min(out.rglob("*.dcm"))
    victim.unlink()  # an output lost since: redone on resume
    assert _run(inputs, out, keys[0], "--profile", "research", "--option", "retain-institution-identity") == 0
    assert sorted(_outcomes(out)[1]) == sorted(["already_done"] * (len(FILES) - 1) + ["written"])
    assert victim.exists()
    assert _run(inputs, out, keys[1], "--profile", "basic", "--force") == 0
    assert _outcomes(out)[2] == ["written"] * len(FILES)


def _manifest(path: Path, *runs: tuple[str, list[str], str]) -> Path:
    rows = []
    for i, (profile, options, key_id) in enumerate(runs):
        rows.append({"type": "run", "profile": profile, "options": options, "key_id": key_id})
        rows.append({"type": "file", "input_id": f"t{i}", "outcome": "written", "output": f"P/{i}.dcm"})
        rows.append({"type": "file", "input_id": f"q{i}", "outcome": "quarantined"})
        rows.append({"type": "summary"})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.mark.parametrize(("profile", "options", "key_id"), [
    ("basic", ["retain_uids"], "k2"), ("research", ["retain_uids"], "k1"), ("basic", [], "k1"),
    ("basic", ["retain_uids", "clean_descriptors"], "k1")], ids=["key", "profile", "fewer-options", "more-options"])
def test_completed_inputs_refuses_any_other_setting(tmp_path: Path, profile: str, options: list[str],
                                                    key_id: str) -> None:
    manifest = _manifest(tmp_path / "m.jsonl", ("basic", ["retain_uids"], "k1"))
    with pytest.raises(ConfigError, match="another profile, options, key or subject map; resuming would mix them"):
        completed_inputs(manifest, profile=profile, options=options, key_id=key_id)


def test_completed_inputs_lists_written_inputs_of_every_earlier_run(tmp_path: Path) -> None:
    same = ("basic", ["retain_uids"], "k1")
    manifest = _manifest(tmp_path / "m.jsonl", same, same)
    assert completed_inputs(manifest, profile="basic", options=["retain_uids"], key_id="k1") == {
        "t0": "P/0.dcm", "t1": "P/1.dcm"}
    assert completed_inputs(tmp_path / "none.jsonl", profile="basic", options=[], key_id="k1") == {}


def _settings_manifest(path: Path, subject_map: str | None, settings: str | None) -> Path:
    rows = [{"type": "run", "profile": "basic", "options": [], "key_id": "k1", "subject_map": subject_map,
             "settings": settings},
            {"type": "file", "input_id": "t0", "outcome": "written", "output": "P/0.dcm"}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + '{"type": "file", "input_id": "t1", "outc')
    return path  # its last line torn by a crash


def test_completed_inputs_compares_subject_map_and_settings_and_tolerates_a_torn_line(tmp_path: Path) -> None:
    manifest = _settings_manifest(tmp_path / "m.jsonl", "map-fp-1", "settings-1")
    same = {"profile": "basic", "options": [], "key_id": "k1"}
    assert completed_inputs(manifest, **same, subject_map="map-fp-1", settings="settings-1") == {"t0": "P/0.dcm"}
    assert completed_inputs(manifest, **same, subject_map="map-fp-1") == {"t0": "P/0.dcm"}  # settings unknown
    with pytest.raises(ConfigError, match="another profile, options, key or subject map; resuming would mix them"):
        completed_inputs(manifest, **same, subject_map="map-fp-2", settings="settings-1")
    with pytest.raises(ConfigError, match="OUTPUT holds a run with other settings") as info:
        completed_inputs(manifest, **same, subject_map="map-fp-1", settings="settings-2")
    assert str(info.value) == (
        f"{tmp_path}: OUTPUT holds a run with other settings (overrides, date method, --documents, --pixels or "
        "another dicom-deid rule edition); resuming would mix them: choose a new OUTPUT, or --force to redo every "
        "input")
