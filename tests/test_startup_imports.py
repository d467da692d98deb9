"""A ``--pixels off`` run loads none of the pixel stage, nor any module only another verb or flag
uses (issue 16: startup).

The pixel stage pulls in numpy-heavy decoding, OpenCV and the ONNX text detector; a run that
examines no pixels must not pay for them.  A fresh interpreter runs the command on one file and
reports which of those modules ended up in ``sys.modules`` (not a timing: a list of names).
GDCM is not in the list: ``import pydicom`` itself loads it where it is installed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import TEST_FILES

HEAVY = ("onnxruntime", "cv2", "rapidocr_onnxruntime", "dicom_deid.pixels.stage", "dicom_deid.pixels.ocr",
         "dicom_deid.pixels.decode", "dicom_deid.pixels.detect", "dicom_deid.pixels.phases",
         "dicom_deid.pixels.views", "dicom_deid.pixels.near", "dicom_deid.pixels.clinical",
         # and what only other verbs or flags use: Dask (--dask), the network node, Tesseract, the
         # HTML report (--report, jinja2), verify, the risk tools
         "dask", "distributed", "pynetdicom", "dicom_deid.net", "pytesseract", "dicom_deid.tesseract", "jinja2",
         "dicom_deid.report_html", "dicom_deid.report", "dicom_deid.verify", "pandas", "matplotlib")

_SCRIPT = """
import json, sys
from dicom_deid.cli import main
code = main(sys.argv[1:])
before = sorted(m for m in {heavy!r} if m in sys.modules)
import dicom_deid.pixels
stage = dicom_deid.pixels.make_pixel_stage  # the package's names still load, on first use
print(json.dumps({{"code": code, "loaded": before, "mode": "dicom_deid.pixels.mode" in sys.modules,
                  "stage_after": "dicom_deid.pixels.stage" in sys.modules}}))
"""


def _run(tmp_path: Path, pixels: str) -> dict[str, object]:
    out = tmp_path / f"out-{pixels}"
    env = {"DICOM_DEID_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run(
        [sys.executable, "-c", _SCRIPT.format(heavy=HEAVY), "run", str(TEST_FILES / "CT_small.dcm"), str(out),
         "--pixels", pixels, "--workers", "1", "--quiet"],
        capture_output=True, text=True, env=env, cwd=Path(__file__).resolve().parent.parent, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result: dict[str, object] = json.loads(proc.stdout.strip().splitlines()[-1])
    assert (out / "dicom-deid-manifest.jsonl").is_file()
    return result


def test_a_pixels_off_run_imports_no_part_of_the_pixel_stage(tmp_path: Path) -> None:
    result = _run(tmp_path, "off")
    assert result["code"] == 0
    assert result["loaded"] == [], f"a --pixels off run imported {result['loaded']}"
    assert result["mode"] is True  # the light module with PixelMode was used
    assert result["stage_after"] is True  # and the lazy package names still work


def test_the_check_sees_a_run_that_loads_the_stage(tmp_path: Path) -> None:
    """The same check on a run that examines pixels lists the stage: it can fail."""
    result = _run(tmp_path, "all")
    assert "dicom_deid.pixels.stage" in result["loaded"]  # type: ignore[operator]
