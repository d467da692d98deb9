"""``verify_output``: walks the output, pairs it with the input through the manifest and runs
every check."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

from dicom_deid.errors import ConfigError, DeidError
from dicom_deid.manifest import MANIFEST_NAME, read_manifest
from dicom_deid.profiles import Profile, load_standard
from dicom_deid.verify.checker import _Checker
from dicom_deid.verify.conformance import check_conformance
from dicom_deid.verify.elements import PIXEL_DATA, _read_lenient
from dicom_deid.verify.identifying import collect_identifying
from dicom_deid.verify.ocr import _at_risk, _WordReader, check_pixels
from dicom_deid.verify.result import Category, OcrMode, Severity, VerifyResult
from dicom_deid.verify.rules import resolve_profile
from dicom_deid.walk import InputRef, read_bytes, walk_inputs


def verify_output(output: Path, *, against: Path | None = None, profile: Profile | None = None,
                  ocr: str | OcrMode = "auto", dciodvfy: bool = False, show_values: bool = False) -> VerifyResult:
    """Check every file under ``output``; ``against`` is the input the output was made from.

    pydicom's warnings about invalid values quote the values: they are silenced here.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _verify(Path(output), against=against, profile=profile, ocr=ocr, dciodvfy=dciodvfy,
                       show_values=show_values)


def _verify(output: Path, *, against: Path | None, profile: Profile | None, ocr: str | OcrMode,
            dciodvfy: bool, show_values: bool) -> VerifyResult:
    import shutil

    output = Path(output)
    if not output.is_dir():
        raise ConfigError("not a folder: give the output folder of a dicom-deid run", path=output)
    if against is not None and not Path(against).exists():
        raise ConfigError("--against: no such file or folder", path=against)
    if show_values and against is None:
        raise ConfigError("--show-values needs --against INPUT (it prints original values: input side only)")
    try:
        mode = OcrMode(ocr.value if isinstance(ocr, OcrMode) else str(ocr).lower())
    except ValueError:
        raise ConfigError(f"--ocr must be auto, all or off, not {ocr!r}") from None
    std = load_standard()
    profile, notes = resolve_profile(output, profile)
    manifest = output / MANIFEST_NAME
    rows = [r for r in read_manifest(manifest) if r.get("type") == "file"] if manifest.is_file() else []
    ordinal_of = {str(r["output"]): int(r["ordinal"]) for r in rows if r.get("output")}
    index, file_patients, input_refs = None, None, {}
    if against is not None:
        index, by_ordinal, classes = collect_identifying(Path(against), profile, std)
        paired = bool(ordinal_of) and all(classes.get(o) == r.get("sop_class_uid")
                                          for r in rows if r.get("output") for o in [int(r["ordinal"])])
        if paired:
            file_patients = {rel: frozenset({by_ordinal[o]}) for rel, o in ordinal_of.items()}
            input_refs = {ref.ordinal: ref for ref in walk_inputs(Path(against)) if ref.ordinal in ordinal_of.values()}
        else:
            notes.append("outputs could not be paired with inputs through the manifest: dates and times are "
                         "searched in every output")
    checker = _Checker(std, profile, index, file_patients, show_values)
    reader: _WordReader | None = None
    if mode is not OcrMode.OFF:
        try:
            reader = _WordReader()
        except DeidError as exc:
            notes.append(f"OCR unavailable: {exc}")
            checker.add(Category.PIXEL_TEXT, ".", "pixels", f"OCR unavailable, pixel text not checked: {exc}",
                        severity=Severity.ERROR if mode is OcrMode.ALL else Severity.WARNING)
    files = dicom = images = 0
    pairs: list[tuple[str, InputRef, InputRef | None]] = []
    ocr_jobs: list[tuple[str, str, InputRef]] = []
    try:
        for ref in walk_inputs(output):
            rel = ref.relative_to(output)
            data = read_bytes(ref)
            ds = None if rel == MANIFEST_NAME else _read_lenient(data)
            files += 1
            checker.check_file(rel, data, ds)
            if ds is None:
                continue
            dicom += 1
            shown = checker.mask(rel)
            if reader is not None and PIXEL_DATA in ds and (mode is OcrMode.ALL or _at_risk(ds)):
                ocr_jobs.append((shown, rel, ref))
            if dciodvfy and str(ds.get("SOPClassUID", "") or ""):
                pairs.append((shown, ref, input_refs.get(ordinal_of.get(rel, -1))))
        if reader is not None:
            images = len(ocr_jobs)
            check_pixels(checker, ocr_jobs, reader, threads=min(4, os.cpu_count() or 1))
            reader = None
    finally:
        if reader is not None:
            reader.close()
    checker.finish()
    if files - dicom > (1 if ordinal_of or manifest.is_file() else 0):
        notes.append(f"{files - dicom} file(s) are not DICOM: scanned as raw bytes and by path only")
    if dciodvfy:
        if shutil.which("dciodvfy") is None:
            notes.append("dciodvfy not installed (Debian package dicom3tools): conformance not checked")
        else:
            check_conformance(checker, pairs)
    return VerifyResult(
        output=str(output), findings=tuple(checker.findings), files_checked=files, dicom_checked=dicom,
        profile=profile.name, against=against is not None, ocr=mode.value, images_ocr=images,
        needles=dict(sorted(index.kinds.items())) if index is not None else {}, notes=tuple(notes),
        show_values=show_values,
    )
