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
"$work/fresh/bin/python" -m pip check
cd "$work"
mkdir -p in
"$work/fresh/bin/python" - <<'PY'
import shutil
from pydicom.data import get_testdata_file
for name in ("CT_small.dcm", "US1_J2KR.dcm", "SC_rgb_rle.dcm"):
    shutil.copy(get_testdata_file(name), "in/" + name)
PY
export DICOM_DEID_HOME="$work/home"
"$work/fresh/bin/dicom-deid" profiles
"$work/fresh/bin/dicom-deid" run in out --profile research --pixels all --quiet
"$work/fresh/bin/dicom-deid" verify out --against in --ocr off
"$work/fresh/bin/python" -c "import dicom_deid, sys; print('check_install: OK, dicom_deid', dicom_deid.__version__, 'from', dicom_deid.__file__)"
