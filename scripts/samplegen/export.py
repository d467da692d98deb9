"""The PACS export layout: one patient's studies as folder and zip instances, zip files, a PNG
thumbnail, DICOMDIR media and the output folder with its README."""

from __future__ import annotations

import random
import shutil
import struct
import zipfile
import zlib
from datetime import date, timedelta
from pathlib import Path

from pydicom import Dataset
from pydicom.fileset import FileSet
from pydicom.uid import UID, ExplicitVRLittleEndian

from samplegen.builders import (
    _encode,
    _file_meta,
    _free_text_comment,
    _link,
    _make_sr,
    _new_study,
    _Series,
)
from samplegen.identities import _Patient
from samplegen.records import _Recorder


def _build_patient(
    rng: random.Random,
    p: _Patient,
    tpl: dict[str, tuple[Dataset, UID]],
    rec: _Recorder,
    *,
    second_study: bool,
    zip_study: bool,
) -> tuple[list[tuple[Path, Dataset, str]], list[tuple[Path, Dataset, str]]]:
    """Build one patient's instances as (relative path, dataset, transfer syntax).

    Returns (folder instances, instances for the zip export)."""
    day1 = date(2019, 1, 1) + timedelta(days=rng.randrange(0, 5 * 365))
    st1 = _new_study(rng, p, 1, day1, "CT CHEST W CONTRAST")
    out: list[tuple[Path, Dataset, str]] = []

    def add(series: _Series, datasets: list[Dataset]) -> None:
        ts = series.template[1]
        out.extend((path, ds, ts) for path, ds in zip(series.paths(Path()), datasets, strict=True))

    ct = _Series(st1, 1, tpl["CT"], "AXIAL 5MM", count=3, frame_of_reference=f"{st1.uid}.0.1")
    slices = ct.build(rec, private=True)
    _free_text_comment(slices[0], p, rec)
    for ds in slices[1:]:
        _link(ds, "ReferencedImageSequence", slices[0])
    add(ct, slices)
    dose = _Series(st1, 2, tpl["RTDOSE"], "DOSE", frame_of_reference=ct.frame_of_reference)
    add(dose, dose.build(rec))
    sc = _Series(st1, 3, tpl["SC"], "KEY IMAGES", modality="OT", suffix=".dcm")
    (key_image,) = sc.build(rec)
    _link(key_image, "SourceImageSequence", slices[1])
    add(sc, [key_image])
    sr = _make_sr(st1, 4, [*slices, key_image], rec)
    out.append((Path(p.folder, st1.folder, "4", "IM0001"), sr, ExplicitVRLittleEndian))
    if second_study:
        day2 = day1 + timedelta(days=rng.randrange(30, 400))
        st2 = _new_study(rng, p, 2, day2, "MR BRAIN WO")
        st2.prior_uid = st1.uid
        mr = _Series(
            st2, 1, tpl["MR"], "AX T2", count=3, frame_of_reference=f"{st2.uid}.0.1", suffix=".dcm"
        )
        mr_slices = mr.build(rec)
        add(mr, mr_slices)
        rle = _Series(st2, 2, tpl["MR_RLE"], "AX T2 RLE", frame_of_reference=mr.frame_of_reference)
        rle_ds = rle.build(rec)
        _link(rle_ds[0], "ReferencedImageSequence", mr_slices[0])
        add(rle, rle_ds)
        for number, key, desc, modality in (
            (3, "MR_BE", "AX T2 BE", None),
            (4, "DFL", "SCREEN SAVE", "OT"),
            (5, "US", "US ABDOMEN", None),
        ):
            series = _Series(st2, number, tpl[key], desc, modality=modality, suffix=".dcm")
            add(series, series.build(rec))
    zipped: list[tuple[Path, Dataset, str]] = []
    if zip_study:
        st3 = _new_study(rng, p, 3, day1 - timedelta(days=rng.randrange(30, 700)), "CT HEAD WO")
        head = _Series(
            st3, 1, tpl["CT"], "AXIAL 2.5MM", count=2, frame_of_reference=f"{st3.uid}.0.1"
        )
        head_ds = head.build(rec, private=True)
        zipped.extend(
            (path, ds, tpl["CT"][1]) for path, ds in zip(head.paths(Path()), head_ds, strict=True)
        )
    return out, zipped


def _zip(path: Path, members: list[tuple[Path, Dataset, str]]) -> None:
    with zipfile.ZipFile(path, "w") as zf:
        for rel, ds, ts in members:
            info = zipfile.ZipInfo(rel.as_posix(), date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, _encode(ds, ts))


def _png(width: int = 32, height: int = 32) -> bytes:
    """A tiny grey gradient PNG (a non-DICOM thumbnail)."""
    rows = b"".join(b"\x00" + bytes((x * 8 + y) % 256 for x in range(width)) for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(rows, 9))
        + chunk(b"IEND", b"")
    )


_README = """Synthetic PACS export written by scripts/make_sample_data.py.
All names, IDs, dates, addresses and UIDs are fake. Do not use as real data.
"""


def _prepare(out_dir: Path) -> Path:
    """Create ``out_dir`` (replacing an earlier output of this script) and write its README."""
    readme = out_dir / "README.txt"
    if out_dir.exists() and any(out_dir.iterdir()):
        if not (readme.is_file() and readme.read_bytes() == _README.encode("ascii")):
            raise FileExistsError(
                f"{out_dir}: folder is not empty and was not written by this script; "
                "choose a new or empty folder"
            )
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    readme.write_bytes(_README.encode("ascii"))
    return readme


def _write_media(
    root: Path, items: list[tuple[Path, Dataset, str]], p: _Patient, rec: _Recorder
) -> Path:
    """One patient's studies as DICOMDIR media (PTxxxxxx/STxxxxxx/SExxxxxx/IMxxxxxx)."""
    fs = FileSet()
    fs.ID = "EXPORT1"
    fs.UID = UID(f"{p.uid_base}.8")
    rec.uids.add(fs.UID)
    for _rel, ds, ts in items:
        ds.file_meta = _file_meta(ds, ts)
        fs.add(ds)
    fs.write(root)
    rec.files.extend(Path(inst.path) for inst in fs)
    rec.plant(p, "path", "path", p.folder)
    return root / "DICOMDIR"
