"""``verify_output``: walks the output, pairs it with the input through the manifest and runs
every check."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

from pydicom.dataset import Dataset

from dicom_deid.errors import ConfigError, DeidError
from dicom_deid.keys import SecretKey
from dicom_deid.manifest import MANIFEST_NAME, Outcome, read_manifest
from dicom_deid.profiles import Profile, load_standard
from dicom_deid.subjects import SubjectMap
from dicom_deid.verify.checker import _Checker
from dicom_deid.verify.conformance import check_conformance
from dicom_deid.verify.elements import PIXEL_DATA, read_parsed
from dicom_deid.verify.identifying import collect_identifying
from dicom_deid.verify.ocr import Image, _WordReader, check_pixels, choose_images
from dicom_deid.verify.own import own_values
from dicom_deid.verify.result import Category, OcrMode, Severity, VerifyResult
from dicom_deid.verify.rules import resolve_profile
from dicom_deid.walk import InputRef, read_bytes, walk_inputs

_MAX_NOTES = 20


_ACCOUNTED = frozenset(o.value for o in (Outcome.WRITTEN, Outcome.ALREADY_DONE, Outcome.SKIPPED_NOT_DICOM,
                                         Outcome.SKIPPED_DICOMDIR))


def verify_output(output: Path, *, against: Path | None = None, profile: Profile | None = None,
                  ocr: str | OcrMode = "auto", dciodvfy: bool = False, show_values: bool = False,
                  key: SecretKey | None = None, subject_map: SubjectMap | None = None) -> VerifyResult:
    """Check every file under ``output``; ``against`` is the input the output was made from.

    ``key`` (the run's secret key, with ``against`` only) lets verify recompute the exact
    pseudonyms of the input's patients instead of accepting their form.  ``subject_map`` (the
    run's ``--subject-map``) makes its subject IDs and names the profile's replacement values, as
    keyed pseudonyms are (the table is data: verify learns values, not decisions).  pydicom's warnings about
    invalid values quote the values: they are silenced here.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _verify(Path(output), against=against, profile=profile, ocr=ocr, dciodvfy=dciodvfy,
                       show_values=show_values, key=key, subject_map=subject_map)


def _verify(output: Path, *, against: Path | None, profile: Profile | None, ocr: str | OcrMode,
            dciodvfy: bool, show_values: bool, key: SecretKey | None,
            subject_map: SubjectMap | None = None) -> VerifyResult:
    import shutil

    output = Path(output)
    if not output.is_dir():
        raise ConfigError("not a folder: give the output folder of a dicom-deid run", path=output)
    if against is not None and not Path(against).exists():
        raise ConfigError("--against: no such file or folder", path=against)
    if show_values and against is None:
        raise ConfigError("--show-values needs --against INPUT (it prints original values: input side only)")
    if key is not None and against is None:
        raise ConfigError("--key-file needs --against INPUT (the pseudonyms are recomputed from the input)")
    try:
        mode = OcrMode(ocr.value if isinstance(ocr, OcrMode) else str(ocr).lower())
    except ValueError:
        raise ConfigError(f"--ocr must be auto, all or off, not {ocr!r}") from None
    std = load_standard()
    profile, notes = resolve_profile(output, profile)
    manifest = output / MANIFEST_NAME
    rows = [r for r in read_manifest(manifest) if r.get("type") == "file"] if manifest.is_file() else []
    ordinal_of = {str(r["output"]): int(r["ordinal"]) for r in rows if r.get("output")}
    found, file_patients, input_refs = None, None, {}
    if against is not None:
        found = collect_identifying(Path(against), profile, std)
        notes += found.problems[:_MAX_NOTES]
        if len(found.problems) > _MAX_NOTES:
            notes.append(f"... and {len(found.problems) - _MAX_NOTES} more input(s) not read in full")
        paired = bool(ordinal_of) and all(found.sop_class_of.get(o) == r.get("sop_class_uid")
                                          for r in rows if r.get("output") for o in [int(r["ordinal"])])
        if paired:
            file_patients = {rel: frozenset({found.patient_of[o]}) for rel, o in ordinal_of.items()}
            input_refs = {ref.ordinal: ref for ref in walk_inputs(Path(against)) if ref.ordinal in ordinal_of.values()}
        else:
            notes.append("outputs could not be paired with inputs through the manifest: dates, times and name "
                         "variants are searched in every output")
    own = own_values(profile, key, found.identities if found else (), found.accessions if found else (),
                     subjects=subject_map.replacement_values if subject_map is not None else frozenset())
    checker = _Checker(std, profile, found, own, file_patients, show_values,
                       ordinal_of if file_patients is not None else None)
    if manifest.is_file():
        checker.unwritten = sum(1 for r in rows if r.get("outcome") not in _ACCOUNTED)
    reader: _WordReader | None = None
    if mode is not OcrMode.OFF:
        try:
            reader = _WordReader()
        except DeidError as exc:
            notes.append(f"OCR unavailable: {exc}")
            checker.add(Category.PIXEL_TEXT, ".", "pixels", f"OCR unavailable, pixel text not checked: {exc}",
                        severity=Severity.ERROR if mode is OcrMode.ALL else Severity.WARNING)
    files = dicom = 0
    pairs: list[tuple[str, InputRef, InputRef | None]] = []
    images: list[Image] = []
    chosen: list[Image] = []
    try:
        for ref in walk_inputs(output):
            rel = ref.relative_to(output)
            data = read_bytes(ref)
            parsed = None if rel == MANIFEST_NAME else read_parsed(data)
            files += 1
            checker.check_file(rel, data, parsed)
            ds = parsed.dataset if parsed is not None else None
            if ds is None:
                continue
            dicom += 1
            shown = checker.mask(rel)
            if parsed is not None and parsed.dropped:
                checker.add(Category.CONFORMANCE, shown, "file", f"{parsed.dropped} element(s) cannot be parsed "
                            f"({parsed.error}): their values were checked as raw bytes only; rewrite the file",
                            severity=Severity.WARNING)
            if reader is not None:
                _image(checker, images, shown, rel, ref, ds)
            if dciodvfy and str(ds.get("SOPClassUID", "") or ""):
                pairs.append((shown, ref, input_refs.get(ordinal_of.get(rel, -1))))
        if reader is not None:
            chosen = choose_images(images, mode)
            check_pixels(checker, chosen, reader, threads=min(4, os.cpu_count() or 1))
            reader = None
    finally:
        if reader is not None:
            reader.close()
    checker.finish()
    if files - dicom > (1 if ordinal_of or manifest.is_file() else 0):
        notes.append(f"{files - dicom} file(s) are not DICOM: scanned as raw bytes and by path only")
    if mode is OcrMode.AUTO and images:
        series = len({im.series for im in images})
        notes.append(f"OCR read {len(chosen)} of {len(images)} images: the first and last of each of the "
                     f"{series} series with pixel data (--ocr all reads every image)")
    if dciodvfy:
        if shutil.which("dciodvfy") is None:
            notes.append("dciodvfy not installed (Debian package dicom3tools): conformance not checked")
        else:
            check_conformance(checker, pairs)
    return VerifyResult(
        output=str(output), findings=tuple(checker.findings), files_checked=files, dicom_checked=dicom,
        profile=profile.name, against=against is not None, ocr=mode.value, images_ocr=len(chosen),
        needles=dict(sorted(found.kinds.items())) if found is not None else {}, notes=tuple(notes),
        show_values=show_values,
    )


_FLOAT_PIXELS = ("FloatPixelData", "DoubleFloatPixelData")


def _image(checker: _Checker, images: list[Image], shown: str, rel: str, ref: InputRef, ds: Dataset) -> None:
    """Record an output with pixel data for OCR; float pixel data is reported, not skipped silently."""
    if PIXEL_DATA not in ds:
        if any(k in ds for k in _FLOAT_PIXELS):
            checker.add(Category.PIXEL_TEXT, shown, "pixels", "not checked by OCR: float pixel data cannot be "
                        "rendered as an image; look at it, or withhold it", severity=Severity.WARNING)
        return
    series = str(ds.get("SeriesInstanceUID", "") or "") or rel.rsplit("/", 1)[0]
    try:
        number = int(ds.get("InstanceNumber", 0) or 0)
    except (TypeError, ValueError):
        number = 0
    images.append(Image(shown, rel, ref, series, number))
