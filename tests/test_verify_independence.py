"""verify is an independent oracle: it shares decoders with the pipeline, never its decisions.

Reads the import statements of every module of ``dicom_deid/verify`` (the source, not the
import graph) and checks them against the rule: nothing from plan, scrub, deidentify, clean or
the pixel stage's risk assessment; from ``pixels`` only the decoder and the renderer.
"""

from __future__ import annotations

import ast

from tests.conftest import REPO

FORBIDDEN = {"dicom_deid.plan", "dicom_deid.scrub", "dicom_deid.deidentify", "dicom_deid.clean",
             "dicom_deid.pixels.risk", "dicom_deid.pixels.stage", "dicom_deid.pixels.detect",
             "dicom_deid.pixels.views", "dicom_deid.pixels.near", "dicom_deid.pixels.clinical",
             "dicom_deid.pixels.redact", "dicom_deid.pixels.regions", "dicom_deid.pixels.ocr"}
PIXELS_ALLOWED = {"dicom_deid.pixels.decode", "dicom_deid.pixels.display"}


def _imports(path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
            out.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return out


def test_verify_imports_no_decision_of_the_pipeline():
    modules = sorted((REPO / "dicom_deid" / "verify").glob("*.py"))
    assert len(modules) >= 10  # precondition: the package was found
    seen = {m.name: _imports(m) for m in modules}
    bad = {name: sorted(i for i in imports if i in FORBIDDEN or i == "dicom_deid.pixels"
                        or (i.startswith("dicom_deid.pixels.") and i not in PIXELS_ALLOWED
                            and not any(i.startswith(a + ".") for a in PIXELS_ALLOWED)))
           for name, imports in seen.items()}
    assert {k: v for k, v in bad.items() if v} == {}
    assert any(PIXELS_ALLOWED & imports for imports in seen.values())  # the decoders are used
