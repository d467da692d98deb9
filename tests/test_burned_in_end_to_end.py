"""Issue 3 through the whole pipeline: burned-in PHI in a secondary capture and an ultrasound is
blacked out in the output, the rest of the image is bit-identical, and the manifest records boxes."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest

from dicom_deid.cli import main
from dicom_deid.manifest import MANIFEST_NAME, read_manifest
from tests.pixel_fixtures import load_generator


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    gen = load_generator()
    rng = np.random.default_rng(3)
    made = [gen.make_case(i, kind, syntax, modality, rng, items=3, sizes=(14, 30))
            for i, (kind, syntax, modality) in enumerate(gen.CASE_KINDS[:4])]
    inp = tmp_path_factory.mktemp("burned") / "in"
    inp.mkdir()
    for i, case in enumerate(made):
        case.dataset.PatientName = "QUIXBERRY^HORTENSE"
        case.dataset.save_as(inp / f"IM{i}", enforce_file_format=True)
    return inp, made


def test_burned_in_text_is_blacked_out_and_recorded(cases, tmp_path):
    inp, made = cases
    out = tmp_path / "out"
    assert main(["run", str(inp), str(out), "--pixels", "auto", "--quiet", "--workers", "1"]) == 0
    rows = {r["ordinal"]: r for r in read_manifest(out / MANIFEST_NAME) if r["type"] == "file"}
    assert len(rows) == len(made)
    checked = 0
    for i, case in enumerate(made):
        row = rows[i]
        assert row["pixels"]["redacted"] is True and row["pixels"]["boxes"], case.name
        assert set(row["pixels"]["boxes"][0]) == {"x", "y", "w", "h", "frames", "source"}
        res = pydicom.dcmread(out / row["output"])
        assert res.BurnedInAnnotation == "NO"
        src = case.dataset
        a = src.pixel_array.reshape(case.text_mask.shape + ((-1,) if src.SamplesPerPixel > 1 else ()))
        b = res.pixel_array.reshape(a.shape)
        changed = np.any(a != b, axis=-1) if a.ndim == 4 else (a != b)
        # every planted glyph pixel was changed ...
        glyph = case.text_mask
        assert (changed & glyph).sum() >= 0.99 * glyph.sum(), case.name
        # ... and nothing outside the redaction boxes changed
        inside = np.zeros(changed.shape, bool)
        for box in row["pixels"]["boxes"]:
            inside[:, box["y"]:box["y"] + box["h"], box["x"]:box["x"] + box["w"]] = True
        assert not (changed & ~inside).any(), case.name
        checked += 1
    assert checked == len(made) == 4
    manifest = (out / MANIFEST_NAME).read_text()
    planted = [p.text for case in made for p in case.planted]
    assert planted and [t for t in planted if t in manifest] == []  # boxes, never the text read
