"""Rewrite: apply a k-anonymity Generalisation to an output folder's headers, file by file.

A post-pass over OUTPUT, after the per-file pipeline finished (which it leaves untouched): each
file whose header changes is read whole, changed in memory, encoded by ``write.encode_dataset``
(unchanged elements, pixel data included, are copied as read) and replaced atomically by
``write.atomic_write_bytes``.  Outputs hold no PHI and no key is needed; UIDs, patient IDs and
paths do not change, so the manifest's output paths and the sealed mapping stay valid.  Every
change is idempotent: re-running an interrupted pass finishes it.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pydicom
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

from dicom_deid.risk.catalogue import QiKind, quasi_by_keyword
from dicom_deid.risk.enforce import Generalisation
from dicom_deid.risk.errors import RiskError
from dicom_deid.risk.hierarchy import age_string, generalise
from dicom_deid.risk.records import SUPPRESSED, _walk_files, age_years

logger = logging.getLogger(__name__)

_STRING_VRS = frozenset({"AE", "CS", "LO", "LT", "SH", "ST", "UC", "UT"})


@dataclass(frozen=True, slots=True)
class RewriteSummary:
    files: int
    rewritten: int


def _date_value(text: str, level: int) -> str:
    if "-" in text and len(text) > 8:  # a DA range A-B
        return "-".join(_date_value(p, level) if p else "" for p in text.split("-"))
    return generalise(QiKind.DATE, text.strip(), level) if text.strip() else text


def _multi(value: object, apply: Callable[[str], str]) -> object:
    if isinstance(value, pydicom.multival.MultiValue):
        return [apply(str(v)) for v in value]
    return apply(str(value)) if value not in (None, "") else value


def _set(ds: Dataset, keyword: str, value: object) -> bool:
    elem = ds[keyword]
    if str(elem.value if elem.value is not None else "") == str(value if value is not None else ""):
        return False
    ds[keyword] = DataElement(elem.tag, elem.VR, value)
    return True


def _empty(ds: Dataset, keyword: str) -> bool:
    if keyword not in ds or ds[keyword].value in (None, "", b""):
        return False
    vr = ds[keyword].VR
    value = SUPPRESSED if _type_of(ds, (), keyword) in ("1", "1C") and vr in _STRING_VRS else ""
    return _set(ds, keyword, value)


def _type_of(ds: Dataset, path: tuple[str, ...], keyword: str) -> str:
    from dicom_deid.profiles import load_standard

    return load_standard().type_of(str(ds.get("SOPClassUID", "")), path, keyword)


def _suppress_dates(ds: Dataset, top: Dataset, path: tuple[str, ...] = ()) -> bool:
    """A patient's dates emptied everywhere (else any other date would tell the study date);
    a date the IOD makes Type 1 keeps only its year, the rest are emptied."""
    changed = False
    for elem in ds:
        if elem.VR == "SQ":
            for item in elem.value or ():
                changed |= _suppress_dates(item, top, (*path, elem.keyword))
        elif elem.VR in ("DA", "DT") and elem.value not in (None, ""):
            if _type_of(top, path, elem.keyword) in ("1", "1C"):
                new = _multi(elem.value, functools.partial(_date_value, level=2))
            else:
                new = ""
            if new != elem.value:
                elem.value = new
                changed = True
    return changed


def apply_to_dataset(ds: Dataset, plan: Generalisation, patient: str) -> bool:
    """Change ``ds`` in place as ``plan`` says for ``patient``; True when anything changed."""
    changed = False
    for keyword, level in plan.levels.items():
        if not level:
            continue
        kind = QiKind(plan.kinds.get(keyword, quasi_by_keyword(keyword).kind.value))
        if kind is QiKind.DATE:
            for elem in list(ds.iterall()):
                if elem.VR in ("DA", "DT") and elem.value not in (None, ""):
                    new = _multi(elem.value, functools.partial(_date_value, level=level))
                    if new != elem.value:
                        elem.value = new
                        changed = True
        elif keyword in ds and ds[keyword].value not in (None, ""):
            if kind is QiKind.AGE:
                years = age_years(str(ds[keyword].value))
                if years is not None:
                    changed |= _set(ds, keyword, age_string(generalise(kind, str(years), level)))
            elif kind in (QiKind.HEIGHT, QiKind.WEIGHT):
                changed |= _set(ds, keyword, _multi(ds[keyword].value, functools.partial(generalise, kind,
                                                                                         level=level)))
            elif kind is QiKind.DEVICE_MODEL and str(ds[keyword].value).strip() in plan.rare_models:
                changed |= _empty(ds, keyword)
    for keyword in plan.suppressed.get(patient, ()):
        kind = QiKind(plan.kinds.get(keyword, quasi_by_keyword(keyword).kind.value))
        changed |= _suppress_dates(ds, ds) if kind is QiKind.DATE else _empty(ds, keyword)
    return changed


def _files(output: Path) -> Iterator[Path]:
    for path in _walk_files(output):
        if path.suffix == ".dcm":
            yield path


def apply_generalisation(output: Path, plan: Generalisation) -> RewriteSummary:
    """Rewrite every output file that ``plan`` changes (atomically, one at a time)."""
    from dicom_deid.write import atomic_write_bytes, encode_dataset

    files = rewritten = 0
    if not plan.changed:
        return RewriteSummary(0, 0)
    for path in _files(output):
        files += 1
        try:
            ds = pydicom.dcmread(path)
        except (InvalidDicomError, OSError, EOFError, ValueError) as exc:
            raise RiskError(f"cannot read an output file to generalise it ({exc.__class__.__name__})",
                            path=path) from None
        rel = path.relative_to(output).parts
        patient = str(ds.get("PatientID", "") or "").strip() or (rel[0] if len(rel) > 1 else "(no PatientID)")
        if apply_to_dataset(ds, plan, patient):
            atomic_write_bytes(path, encode_dataset(ds, ds.file_meta), mode=0o644)
            rewritten += 1
    logger.info("k-anonymity: %d of %d output files rewritten", rewritten, files)
    return RewriteSummary(files, rewritten)


__all__ = ["SUPPRESSED", "RewriteSummary", "apply_generalisation", "apply_to_dataset"]
