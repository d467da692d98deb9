"""(f) DICOM conformance errors (dciodvfy) of an output that its paired input did not have."""

from __future__ import annotations

import re
from pathlib import Path

from dicom_deid.verify.checker import _Checker
from dicom_deid.verify.result import Category, Severity
from dicom_deid.walk import InputRef, read_bytes

_VALUE_IN_MESSAGE = re.compile(r"(?i)(values?\s*=?\s*)<[^>]*>")


def _dciodvfy_errors(path: Path) -> set[str]:
    import subprocess

    proc = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, errors="replace",
                          timeout=120, check=False)
    lines = (proc.stdout + proc.stderr).splitlines()
    return {_VALUE_IN_MESSAGE.sub(r"\1<…>", ln.strip()) for ln in lines if ln.strip().startswith("Error")}


def _materialise(ref: InputRef, tmp: Path) -> Path:
    if ref.member is None:
        return ref.path
    target = tmp / f"{ref.ordinal:08d}.dcm"
    target.write_bytes(read_bytes(ref))
    return target


def check_conformance(checker: _Checker, pairs: list[tuple[str, InputRef, InputRef | None]]) -> None:
    """(f): dciodvfy errors of each output not present in its paired input."""
    import tempfile
    from concurrent.futures import ThreadPoolExecutor

    with tempfile.TemporaryDirectory(prefix="dicom-deid-verify-") as tmp_name, ThreadPoolExecutor(4) as pool:
        tmp = Path(tmp_name)

        def one(pair: tuple[str, InputRef, InputRef | None]) -> tuple[str, set[str], set[str] | None]:
            shown, out_ref, in_ref = pair
            before = _dciodvfy_errors(_materialise(in_ref, tmp)) if in_ref is not None else None
            return shown, _dciodvfy_errors(_materialise(out_ref, tmp)), before

        for shown, after, before in pool.map(one, pairs):
            for msg in sorted(after - (before or set())):
                checker.add(Category.CONFORMANCE, shown, "file", msg[:300] + " (new in the output: a removed or "
                            "emptied attribute the IOD requires?)",
                            severity=Severity.ERROR if before is not None else Severity.WARNING)
