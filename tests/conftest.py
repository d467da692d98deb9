from __future__ import annotations

import os
import shutil
from pathlib import Path

import pydicom.data
import pytest

TEST_FILES = Path(pydicom.data.__file__).parent / "test_files"
REPO = Path(__file__).resolve().parent.parent

# System tools the suite needs, each with the Debian package `make setup` installs it from
# (Makefile: system-deps).  A test that needs one asks through ``require_tool`` or the
# ``needs_tool`` mark: under CI (the environment variable CI set) a missing tool fails the test,
# elsewhere it is skipped with the command that installs it; a test never switches its own checks off.
TOOLS = {
    "dciodvfy": ("dciodvfy", "dicom3tools"),
    "chromium": ("chromium", "chromium"),
    "tesseract": ("tesseract", "tesseract-ocr"),
    "orthanc": ("Orthanc", "orthanc"),
    "storescu": ("storescu", "dcmtk"),
}


def require_tool(name: str) -> str:
    """The path of system tool ``name`` (a key of ``TOOLS``); a failure under CI, a skip elsewhere."""
    command, package = TOOLS[name]
    found = shutil.which(command) or (shutil.which("chromium-browser") if name == "chromium" else None)
    if found:
        return found
    message = f"{command} missing: Debian package {package!r}, installed by `make setup` (apt-get install {package})"
    if os.environ.get("CI"):
        pytest.fail(f"CI: {message}", pytrace=False)
    pytest.skip(message)


def needs_tool(name: str) -> pytest.MarkDecorator:
    """Mark a test (or a module, with ``pytestmark``) as needing system tool ``name``."""
    assert name in TOOLS, name
    return pytest.mark.needs_tool(name)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "needs_tool(name): the test runs a system tool (see tests/conftest.py)")


def pytest_runtest_setup(item: pytest.Item) -> None:
    for mark in item.iter_markers("needs_tool"):
        require_tool(mark.args[0])


@pytest.fixture(scope="session")
def dciodvfy() -> str:
    return require_tool("dciodvfy")


@pytest.fixture(scope="session")
def chromium() -> str:
    return require_tool("chromium")


@pytest.fixture(autouse=True)
def _isolated_key_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Keys, custodian pairs and mappings of a test live in its own folder, never in ~/.config."""
    home = tmp_path_factory.mktemp("deid-home")
    os.chmod(home, 0o700)
    monkeypatch.setenv("DICOM_DEID_HOME", str(home))
    return home


@pytest.fixture(scope="module")
def key_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A secret key shared by the runs of one test module (same key: comparable pseudonyms)."""
    from dicom_deid.keys import create_secret_key

    path = tmp_path_factory.mktemp("keys") / "secret.key"
    create_secret_key(path)
    return path


@pytest.fixture
def key_home() -> Path:
    return Path(os.environ["DICOM_DEID_HOME"])
