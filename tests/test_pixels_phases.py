"""``--pixels auto`` across files: samples first, the same outputs with one worker, a pool, or after
an interruption (real detector and recognizer on small images)."""

from __future__ import annotations

import hashlib
from io import BytesIO
from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid

from dicom_deid.config import RunConfig
from dicom_deid.deidentify import Engine
from dicom_deid.events import FileDone
from dicom_deid.keys import load_secret_key
from dicom_deid.manifest import MANIFEST_NAME, read_manifest
from dicom_deid.pipeline import run
from dicom_deid.pixels import PixelMode
from dicom_deid.profiles import load_profile
from dicom_deid.walk import walk_inputs
from tests.pixel_fixtures import ct_slice_with_text


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Series A: text on every slice.  Series B: no text.  Series C: text on slice 2 of 5 only,
    which the samples (slices 1, 3, 5) do not show.  Plus a structured report (no image)."""
    root = tmp_path_factory.mktemp("phases") / "in"
    for name, texts in (("A", ["QUIXBERRY 4711"] * 5), ("B", [None] * 5),
                        ("C", [None, "QUIXBERRY 4711", None, None, None])):
        series = (generate_uid(), generate_uid())
        for number, text in enumerate(texts, start=1):
            ds, _ = ct_slice_with_text(series, number, text)
            (root / name).mkdir(parents=True, exist_ok=True)
            ds.save_as(root / name / f"{6 - number}.dcm", enforce_file_format=True)  # names reverse the order
    report = pydicom.dcmread(get_testdata_file("reportsi.dcm"))
    report.save_as(root / "SR.dcm", enforce_file_format=True)
    return root


def _run(export: Path, out: Path, key_file: Path, *, workers: int = 1, stop_after: int | None = None) -> None:
    profile = load_profile("basic")
    key = load_secret_key(key_file)
    engine = Engine(profile, key, PixelMode.AUTO)
    config = RunConfig(input=export, output=out, workers=workers)
    seen = [0]

    def interrupt(event: object) -> None:
        if isinstance(event, FileDone):
            seen[0] += 1
            if stop_after is not None and seen[0] >= stop_after:
                raise KeyboardInterrupt

    summary = run(config, engine, on_event=interrupt)
    assert summary.interrupted is (stop_after is not None)


def _examinations(export: Path, out: Path) -> dict[str, str]:
    names = {ref.ordinal: ref.path.relative_to(export).as_posix() for ref in walk_inputs(export)}
    rows = [r for r in read_manifest(out / MANIFEST_NAME) if r["type"] == "file" and r["outcome"] == "written"]
    return {names[r["ordinal"]]: r["pixels"]["examination"] for r in rows}


def _digests(out: Path) -> dict[str, str]:
    return {p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(out.rglob("*.dcm"))}


@pytest.fixture(scope="module")
def serial(export: Path, key_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("serial") / "out"
    _run(export, out, key_file)
    return out


def test_samples_decide_each_series(export: Path, serial: Path) -> None:
    seen = _examinations(export, serial)
    assert len(seen) == 16
    # file n.dcm holds slice 6 - n: the samples are slices 1, 3, 5 = files 5, 3, 1
    assert {k: v for k, v in seen.items() if k.startswith("A/")} == {f"A/{n}.dcm": "full" for n in range(1, 6)}
    assert {k: v for k, v in seen.items() if k.startswith("B/")} == {
        "B/1.dcm": "full", "B/3.dcm": "full", "B/5.dcm": "full",
        "B/2.dcm": "sampled-series-clear", "B/4.dcm": "sampled-series-clear"}  # fmt: skip
    # the limit of sampling, stated: text on an unsampled slice of a series the samples found clear
    assert seen["C/4.dcm"] == "sampled-series-clear"
    assert seen["SR.dcm"] == "not-an-image"


def test_pool_and_resume_end_byte_identical(export: Path, serial: Path, key_file: Path, tmp_path: Path) -> None:
    pooled = tmp_path / "pool"
    _run(export, pooled, key_file, workers=2)
    resumed = tmp_path / "resumed"
    _run(export, resumed, key_file, stop_after=4)  # Ctrl-C after 4 files (some samples done)
    assert 0 < len(_digests(resumed)) < 16
    _run(export, resumed, key_file)  # the same command again finishes the rest
    expected = _digests(serial)
    assert len(expected) == 16
    assert _digests(pooled) == expected
    assert _digests(resumed) == expected
    assert _examinations(export, resumed) == _examinations(export, serial)


def _damaged_header() -> tuple[bytes, str]:
    """A real header with one byte changed so that pydicom's own reading of it raises (an unknown VR
    or a value of the wrong length), not one of the usual errors of an unreadable file."""
    import struct

    from pydicom.errors import BytesLengthException, InvalidDicomError

    original = Path(get_testdata_file("MR_small.dcm")).read_bytes()
    for offset in range(132, original.index(b"\xe0\x7f\x10\x00"), 5):
        damaged = bytearray(original)
        damaged[offset] = 0x5C
        try:
            pydicom.dcmread(BytesIO(bytes(damaged)), stop_before_pixels=True, force=True,
                            specific_tags=["Rows", "StudyInstanceUID"]).get("Rows")
        except (NotImplementedError, BytesLengthException) as exc:
            return bytes(damaged), type(exc).__name__
        except (InvalidDicomError, EOFError, ValueError, TypeError, KeyError, IndexError, AttributeError,
                OverflowError, struct.error):
            continue
    raise AssertionError("no damaged variant found")


@pytest.mark.filterwarnings("ignore")
def test_a_header_pydicom_cannot_parse_does_not_end_an_auto_run(export: Path, key_file: Path,
                                                                tmp_path: Path) -> None:
    """The survey runs outside the per-file boundary: a damaged header must leave its file to the
    boundary (searched in full or quarantined), never end the run with a traceback."""
    import shutil

    data, kind = _damaged_header()
    inputs = tmp_path / "in"
    shutil.copytree(export / "B", inputs / "B")
    (inputs / "damaged.dcm").write_bytes(data)
    out = tmp_path / "out"
    _run(inputs, out, key_file)
    rows = [r for r in read_manifest(out / MANIFEST_NAME) if r["type"] == "file"]
    assert len(rows) == 6, kind  # every input has its row
    examined = _examinations(inputs, out)
    assert examined["B/3.dcm"] == "full" and examined["B/2.dcm"] == "sampled-series-clear"  # sampling still works
