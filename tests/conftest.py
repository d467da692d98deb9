from __future__ import annotations

import os
from pathlib import Path

import pydicom.data
import pytest

TEST_FILES = Path(pydicom.data.__file__).parent / "test_files"
REPO = Path(__file__).resolve().parent.parent


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
