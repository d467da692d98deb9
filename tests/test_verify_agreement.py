"""Agreement: for every profile and option, what ``run`` writes passes ``verify`` with no findings.

The input holds the generated sample export (``make demo`` data, bad inputs included), every
pydicom test file and the PyPI ``pydicom-data`` files up to 1.1 MB (overlays, colour, JPEG 2000,
JPEG-LS, RLE, multi-frame...).  Each configuration de-identifies it with the pixel stage off and
verifies with OCR off; notes (not identifying on their own) are allowed and counted, errors and
warnings are not.  The pixel stage and OCR agree on the sample export in
``tests/test_verify.py::test_own_output_has_no_findings``; public files with OCR are measured by
``scripts/bench_verify_precision.py``.
"""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path

import pydicom.data
import pytest

from dicom_deid.cli import main
from dicom_deid.profiles import Option, load_profile
from dicom_deid.verify import Severity, verify_output
from tests.planted import generate_corpus

PYDICOM_DATA_LIMIT = 1_100_000
# (profile, extra arguments): the named profiles, then every option the profiles do not hold
# (the override that keeps overlay planes is checked in tests/test_verify_overlays.py)
FACES_ONLY = "faces-only.toml"  # written beside the input: no options of its own

CONFIGS = [
    ("basic", ()),
    ("research", ()),
    ("safe-harbor", ()),
    ("basic", ("--option", "retain_uids", "--option", "retain_institution_identity", "--option",
               "retain_long_full_dates", "--option", "retain_safe_private")),
    # faces are found in the pixels (refused with --pixels off): a profile without Clean Pixel Data,
    # so its pixel stage looks for faces only (photographs) and flags head CT/MR for review
    (FACES_ONLY, ("--option", "clean_recognizable_visual_features")),
]


def _options(profile: str, extra: tuple[str, ...]) -> set[Option]:
    named = set() if profile == FACES_ONLY else set(load_profile(profile).options)
    return named | {Option.parse(v) for k, v in itertools.pairwise(extra) if k == "--option"}


def test_every_option_is_in_some_configuration():
    covered = set().union(*(_options(p, e) for p, e in CONFIGS))
    assert covered == set(Option)


@pytest.fixture(scope="module")
def agreement_input(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("agreement") / "in"
    generate_corpus(root / "export", seed=0, patients=3, bad_inputs=True)
    shutil.copytree(Path(pydicom.data.__file__).parent / "test_files", root / "pydicom")
    from pydicom.data import get_testdata_file

    overlay = get_testdata_file("MR-SIEMENS-DICOM-WithOverlays.dcm")
    assert overlay is not None, "PyPI pydicom-data is missing: pip install -e '.[test]'"
    store = Path(overlay).parent
    (root / "pydicom-data").mkdir()
    copied = 0
    for path in sorted(store.glob("*.dcm")):
        if path.stat().st_size <= PYDICOM_DATA_LIMIT:
            shutil.copy(path, root / "pydicom-data" / path.name)
            copied += 1
    assert copied > 40
    return root


@pytest.mark.parametrize(("profile", "extra"), CONFIGS, ids=lambda c: c if isinstance(c, str) else " ".join(c))
def test_run_output_passes_verify(agreement_input, tmp_path, key_file, profile, extra):
    out = tmp_path / "out"
    pixels = ["--pixels", "off"]
    if profile == FACES_ONLY:
        profile = str(tmp_path / FACES_ONLY)
        Path(profile).write_text('name = "faces-only"\ndescription = "no options of its own"\noptions = []\n')
        pixels = []
    rc = main(["run", str(agreement_input), str(out), "--profile", profile, *extra, *pixels,
               "--workers", "1", "--key-file", str(key_file), "--quiet"])
    assert rc == 3  # precondition: the broken inputs were quarantined, the rest written
    result = verify_output(out, against=agreement_input, ocr="off")
    assert [f.to_dict() for f in result.findings if f.severity is not Severity.NOTE] == []
    assert result.dicom_checked > 150  # precondition: export, pydicom and pydicom-data outputs checked
    assert {k for k, v in result.needles.items() if v} >= {"name", "id", "date", "address", "institution"}
