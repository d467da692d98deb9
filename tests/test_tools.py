"""The suite's system tools: a missing one fails under CI and is never a quiet skip there."""

from __future__ import annotations

import pytest

from tests.conftest import TOOLS, require_tool


@pytest.mark.parametrize("name", sorted(TOOLS))
def test_missing_tool_fails_under_ci(name: str, tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing there
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=rf"^CI: {TOOLS[name][0]} missing: Debian package"):
        require_tool(name)


def test_missing_tool_is_a_skip_naming_its_package_elsewhere(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match=r"apt-get install dicom3tools"):
        require_tool("dciodvfy")


@pytest.mark.parametrize("name", ["dciodvfy", "chromium", "tesseract"])
def test_tools_of_make_test_are_installed(name: str) -> None:
    """`make test` installs dciodvfy, Chromium and Tesseract itself (Makefile system-deps)."""
    assert require_tool(name).startswith("/")
