"""dciodvfy messages for conformance tests, normalised as ``scripts/bench_conformance.py`` does
(quoted values and UIDs replaced: they change by design), so tests and the benchmark compare
outputs with inputs the same way, message by message."""

from __future__ import annotations

import importlib.util
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType

from tests.conftest import REPO, require_tool


def bench_module() -> ModuleType:
    name = "bench_conformance"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / "bench_conformance.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def dciodvfy_errors(path: Path) -> Counter[str]:
    require_tool("dciodvfy")  # Debian dicom3tools, installed by `make setup`: a failure under CI
    errors: Counter[str] = bench_module()._dciodvfy(path)
    return errors
