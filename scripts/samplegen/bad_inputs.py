"""Inputs a pipeline must skip or quarantine: empty, truncated, garbage, no preamble."""

from __future__ import annotations

import random
from datetime import date
from io import BytesIO
from pathlib import Path

from pydicom import dcmwrite
from pydicom.dataset import FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian

from samplegen.builders import _encode, _new_study, _Series
from samplegen.identities import UID_ROOT, _make_patients, _Patient
from samplegen.records import _Recorder
from samplegen.templates import TEMPLATE_FILES, _load_template

_BAD_LABEL = "BAD"


def _bad_patient() -> _Patient:
    (p,) = _make_patients(random.Random("bad-inputs"), 1, 0)
    return _Patient(
        **{
            **{f: getattr(p, f) for f in p.__dataclass_fields__},
            "label": _BAD_LABEL,
            "uid_base": f"{UID_ROOT}2.1",
        }
    )


def _make_bad_inputs(directory: Path, rec: _Recorder) -> dict[str, Path]:
    p = _bad_patient()
    rng = random.Random("bad-inputs-study")
    st = _new_study(rng, p, 1, date(2021, 6, 7), "CT ABDOMEN")
    series = _Series(st, 1, _load_template(TEMPLATE_FILES["CT"]), "AXIAL", count=2)
    first, second = series.build(rec, private=True)
    directory.mkdir(parents=True, exist_ok=True)
    full = _encode(first, ExplicitVRLittleEndian)
    pixel_at = full.index(b"\xe0\x7f\x10\x00")  # (7FE0,0010) element header
    name_end = full.index(p.name.encode()) + len(p.name)
    raw = BytesIO()
    second.file_meta = FileMetaDataset()
    dcmwrite(raw, second, implicit_vr=True, little_endian=True)  # no preamble, no file meta
    paths = {
        "empty": directory / "IM0000.dcm",
        "truncated": directory / "IM0001",  # cut inside Pixel Data
        "truncated_header": directory / "IM0002",  # cut inside an element header
        "garbage": directory / "IM0003.dcm",
        "no_preamble": directory / "IM0004",  # raw Implicit VR dataset, no preamble/file meta
    }
    paths["empty"].write_bytes(b"")
    paths["truncated"].write_bytes(full[: pixel_at + 12 + 1000])
    paths["truncated_header"].write_bytes(full[: name_end + 3])
    paths["garbage"].write_bytes(random.Random("garbage").randbytes(2048))
    paths["no_preamble"].write_bytes(raw.getvalue())
    return paths
