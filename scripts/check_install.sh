#!/usr/bin/env bash
# Install dicom-deid from a freshly built wheel into a fresh virtual environment, from the package
# registry, exactly as the README's "Install" says, and de-identify one of pydicom's test files with
# burned-in text redaction on.  No Makefile involved.  Usage: scripts/check_install.sh [WORKDIR]
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="${1:-$(mktemp -d)}"
python="${PYTHON:-python3}"
echo "check_install: building the wheel in $work"
"$python" -m venv "$work/build-env"
"$work/build-env/bin/python" -m pip install --quiet --upgrade pip build
"$work/build-env/bin/python" -m build --wheel --outdir "$work/dist" "$repo" >/dev/null
wheel="$(ls "$work"/dist/dicom_deid-*.whl)"
echo "check_install: fresh venv, pip install '$(basename "$wheel")[ocr,codecs]' + the DBNet model"
"$python" -m venv "$work/fresh"
"$work/fresh/bin/python" -m pip install --quiet --upgrade pip
"$work/fresh/bin/python" -m pip install --quiet "${wheel}[ocr,codecs]"
"$work/fresh/bin/python" -m pip install --quiet --no-deps 'rapidocr-onnxruntime==1.4.4'
# pip check would list rapidocr-onnxruntime's own dependencies (GUI OpenCV...), left out on purpose:
# check that every dependency dicom-deid declares (core, ocr, codecs) is installed instead
"$work/fresh/bin/python" - <<'PY'
import importlib.metadata as md, re, sys
missing = []
for req in md.requires("dicom-deid"):
    name, _, marker = req.partition(";")
    if marker and not any(f'extra == "{e}"' in marker for e in ("ocr", "codecs")):
        continue
    dist = re.match(r"[A-Za-z0-9._-]+", name.strip()).group(0)
    try:
        md.version(dist)
    except md.PackageNotFoundError:
        missing.append(dist)
sys.exit(f"check_install: declared but not installed: {missing}" if missing else 0)
PY
cd "$work"
mkdir -p in
"$work/fresh/bin/python" - <<'PY'
import shutil
from pydicom.data import get_testdata_file
for name in ("CT_small.dcm", "SC_rgb_rle.dcm", "JPEG2000.dcm"):
    shutil.copy(get_testdata_file(name), "in/" + name)
PY
export DICOM_DEID_HOME="$work/home"
"$work/fresh/bin/dicom-deid" profiles
"$work/fresh/bin/dicom-deid" run in out --profile research --pixels all --quiet
"$work/fresh/bin/dicom-deid" verify out --against in --ocr off
"$work/fresh/bin/python" -c "import dicom_deid, sys; print('check_install: OK, dicom_deid', dicom_deid.__version__, 'from', dicom_deid.__file__)"
