"""Generate a synthetic PACS export full of planted, fake PHI.

Usage::

    python scripts/make_sample_data.py OUT_DIR [--patients N] [--seed S] [--no-bad-inputs]
    python scripts/make_sample_data.py OUT_DIR --bench-files 2000 [--seed S]

Every instance re-uses the pixel data and technical attributes of a file bundled with pydicom
(``pydicom/data/test_files``); identity, dates, UIDs and references are replaced by synthetic
values. Everything planted is recorded as a ``PlantedItem`` so that tests can check that none of
it survives de-identification (``tests/planted.py`` re-exports this module's API).

The output is a pure function of ``(seed, patients)`` or ``(seed, bench files)``: running twice
gives identical bytes. No network, no randomness outside ``random.Random(seed)``.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from pydicom import dcmwrite

# the helpers live in scripts/sample_data/; this script is run by path and loaded by path
# (tests/planted.py), so its own folder is put on sys.path
if str(Path(__file__).resolve().parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from samplegen.bad_inputs import _BAD_LABEL, _bad_patient, _make_bad_inputs
from samplegen.builders import (
    PHI_PRIVATE_CREATOR,
    SAFE_PRIVATE_CREATOR,
    _encode,
    _file_meta,
    _free_text_comment,
    _new_study,
    _plant_identity,
    _plant_private,
    _write,
)
from samplegen.export import (
    _build_patient,
    _png,
    _prepare,
    _write_media,
    _zip,
)
from samplegen.identities import UID_ROOT, _make_patients
from samplegen.records import PlantedItem, _Recorder
from samplegen.templates import (
    BUNDLED_DIR,
    TEMPLATE_FILES,
    _load_template,
    _templates,
)

__all__ = [
    "BUNDLED_DIR",
    "PHI_PRIVATE_CREATOR",
    "SAFE_PRIVATE_CREATOR",
    "TEMPLATE_FILES",
    "UID_ROOT",
    "Corpus",
    "PlantedItem",
    "generate_bench",
    "generate_corpus",
    "main",
    "make_bad_inputs",
]


@dataclass(frozen=True, slots=True)
class Corpus:
    root: Path
    planted: tuple[PlantedItem, ...]
    dicom_files: tuple[Path, ...]
    bad_files: dict[str, Path]
    non_dicom: tuple[Path, ...]
    zip_files: tuple[Path, ...]
    dicomdir: Path | None
    original_uids: frozenset[str]
    #: non-PHI values in safe private attributes (kept by the Retain Safe Private Option)
    safe_private: tuple[PlantedItem, ...]
    #: patient label ("P1", ...) -> original PatientID
    patients: dict[str, str]

    def phi_strings(
        self, min_len: int = 4, *, categories: frozenset[str] | None = None
    ) -> frozenset[str]:
        """Every planted string, in the raw forms written, that must not appear in an output.

        Person names, addresses and institutions are also split into their components
        ("QUIXBERRY^HORTENSE" gives "QUIXBERRY" and "HORTENSE"). ``categories`` restricts the
        items used (for example leave out ``"time"`` when an option retains times).
        """
        found: set[str] = set()
        for item in self.planted:
            if categories is not None and item.category not in categories:
                continue
            found.add(item.value)
            if item.category in {"name", "address", "institution", "private"}:
                found.update(p.strip() for p in re.split(r"[\^,_]", item.value))
                if item.category == "name":
                    found.update(re.split(r"[\^, ]+", item.value))
        return frozenset(s for s in found if len(s) >= min_len)


def generate_corpus(
    out_dir: Path, seed: int = 0, patients: int = 3, bad_inputs: bool = False
) -> Corpus:
    """Write the sample export under ``out_dir`` and return what was planted where.

    Patient P1 holds every kind of instance; P2 has one study in folders and one in a zip file;
    the last patient (when there are 3 or more) is written as DICOMDIR media."""
    out_dir = Path(out_dir)
    readme = _prepare(out_dir)
    rng = random.Random(seed)
    people = _make_patients(rng, patients, seed)
    tpl = _templates()
    rec = _Recorder()
    zip_files: list[Path] = []
    dicomdir: Path | None = None
    for i, p in enumerate(people):
        media = patients >= 3 and i == patients - 1
        folder_items, zipped = _build_patient(
            rng, p, tpl, rec, second_study=i % 3 != 1, zip_study=i == 1 % patients
        )
        if media:
            dicomdir = _write_media(out_dir / f"{p.folder}_CD", folder_items, p, rec)
        else:
            for rel, ds, ts in folder_items:
                _write(out_dir / rel, _encode(ds, ts), rec)
                rec.plant(p, "path", "path", rel.parts[0])
                rec.plant(p, "path", "path", rel.parts[1])
        if zipped:
            zpath = out_dir / f"{p.folder}_{zipped[0][1].StudyDate}.zip"
            _zip(zpath, zipped)
            zip_files.append(zpath)
            rec.plant(p, "path", "path", zpath.name)
            rec.plant(p, "path", "path", zipped[0][0].parts[1])  # member names
    non_dicom = [readme, out_dir / people[0].folder / "thumbnail.png"]
    non_dicom[1].parent.mkdir(parents=True, exist_ok=True)
    non_dicom[1].write_bytes(_png())
    patient_ids = {p.label: p.mrn for p in people}
    bad: dict[str, Path] = {}
    if bad_inputs:
        bad = _make_bad_inputs(out_dir / "UNSORTED", rec)
        patient_ids[_BAD_LABEL] = _bad_patient().mrn
    return Corpus(
        root=out_dir,
        planted=tuple(rec.planted),
        dicom_files=tuple(rec.files),
        bad_files=bad,
        non_dicom=tuple(non_dicom),
        zip_files=tuple(zip_files),
        dicomdir=dicomdir,
        original_uids=frozenset(rec.uids),
        safe_private=tuple(rec.safe),
        patients=patient_ids,
    )


def make_bad_inputs(directory: Path) -> dict[str, Path]:
    """Write inputs that a pipeline must skip or quarantine; returns name -> path.

    ``empty`` (0 bytes), ``truncated`` (Part 10 file cut inside Pixel Data), ``truncated_header``
    (cut inside an element header), ``garbage`` (random bytes named .dcm) and ``no_preamble``
    (a complete Implicit VR Little Endian dataset without preamble or file meta; readable only
    with ``force=True``). Their fake PHI belongs to patient ``"BAD"``."""
    return _make_bad_inputs(Path(directory), _Recorder())


# --------------------------------------------------------------------------- bench


def generate_bench(out_dir: Path, files: int, seed: int = 0) -> Corpus:
    """``files`` single-frame CT and MR instances for timing runs (~50 per patient, <= 40 patients).

    One template per source is reused: only identity and instance values change per file."""
    if files < 1:
        raise ValueError(f"bench files must be at least 1, got {files}")
    out_dir = Path(out_dir)
    readme = _prepare(out_dir)
    rng = random.Random(seed)
    people = _make_patients(rng, max(1, min(40, files // 50)), seed)
    tpl = {"CT": _load_template(TEMPLATE_FILES["CT"]), "MR": _load_template(TEMPLATE_FILES["MR"])}
    rec = _Recorder()
    per_patient = -(-files // len(people))
    written = 0
    for p in people:
        day = date(2019, 1, 1) + timedelta(days=rng.randrange(0, 5 * 365))
        st = _new_study(rng, p, 1, day, "CT MR SURVEY")
        rec.plant(p, "path", "path", p.folder)
        rec.plant(p, "path", "path", st.folder)
        n = min(per_patient, files - written)
        for number, key in ((1, "CT"), (2, "MR")):
            ds, ts = tpl[key]
            count = n // 2 + (n % 2 if number == 1 else 0)
            series_uid = f"{st.uid}.{number}"
            _plant_identity(ds, st, rec, series_desc=f"{key} SERIES")
            if number == 1:
                _plant_private(ds, p, rec)
                _free_text_comment(ds, p, rec)
            ds.SeriesInstanceUID, ds.SeriesNumber = series_uid, number
            ds.FrameOfReferenceUID = f"{st.uid}.0.{number}"
            rec.uids.update((series_uid, ds.FrameOfReferenceUID))
            x, y, z0 = (float(v) for v in ds.ImagePositionPatient)
            folder = out_dir / p.folder / st.folder / str(number)
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(1, count + 1):
                ds.SOPInstanceUID = f"{series_uid}.{i}"
                rec.uids.add(ds.SOPInstanceUID)
                ds.InstanceNumber = i
                ds.ImagePositionPatient = [x, y, round(z0 + 2.5 * i, 4)]
                path = folder / f"IM{i:04d}{'.dcm' if i % 2 else ''}"
                ds.file_meta = _file_meta(ds, ts)
                dcmwrite(path, ds, enforce_file_format=True)
                rec.files.append(path)
            ds.ImagePositionPatient = [x, y, z0]
            ds.pop("ImageComments", None)
            for tag in [elem.tag for elem in ds if elem.tag.is_private]:
                del ds[tag]
            written += count
    return Corpus(
        root=out_dir,
        planted=tuple(rec.planted),
        dicom_files=tuple(rec.files),
        bad_files={},
        non_dicom=(readme,),
        zip_files=(),
        dicomdir=None,
        original_uids=frozenset(rec.uids),
        safe_private=tuple(rec.safe),
        patients={p.label: p.mrn for p in people},
    )


# --------------------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="make_sample_data.py", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "out_dir", type=Path, help="folder to create (replaced if written by this script)"
    )
    parser.add_argument(
        "--patients", type=int, default=3, help="number of synthetic patients (default 3)"
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="random seed; same seed, same bytes (default 0)"
    )
    parser.add_argument(
        "--no-bad-inputs", action="store_true", help="leave out the empty/truncated/garbage files"
    )
    parser.add_argument(
        "--bench-files",
        "--files",
        type=int,
        metavar="N",
        help="bench mode: write N small CT/MR instances instead",
    )
    args = parser.parse_args(argv)
    try:
        if args.bench_files is not None:
            corpus = generate_bench(args.out_dir, args.bench_files, args.seed)
        else:
            corpus = generate_corpus(args.out_dir, args.seed, args.patients, not args.no_bad_inputs)
    except (FileExistsError, ValueError) as exc:
        print(f"make_sample_data.py: error: {exc}", file=sys.stderr)
        return 2
    people = sum(1 for label in corpus.patients if label != _BAD_LABEL)
    print(
        f"wrote {len(corpus.dicom_files)} DICOM files for {people} patient(s) under {corpus.root}"
    )
    for label, path in sorted(corpus.bad_files.items()):
        print(f"  bad input ({label}): {path.relative_to(corpus.root)}")
    for path in (
        *corpus.zip_files,
        *([corpus.dicomdir] if corpus.dicomdir else []),
        *corpus.non_dicom,
    ):
        print(f"  extra: {path.relative_to(corpus.root)}")
    print(f"planted {len(corpus.planted)} PHI items and {len(corpus.original_uids)} original UIDs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
