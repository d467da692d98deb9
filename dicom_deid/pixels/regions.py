"""Known-region rules as attributed data files (``profiles/regions/*.toml``).

Two kinds of rule, both documented in ``profiles/regions/README.md``:

* ``[[template]]`` — fixed rectangles for a device (modality / manufacturer / model /
  dimensions / SOP class), the CTP approach;
* ``[[ultrasound]]`` — keep the data regions of Sequence of Ultrasound Regions
  (0018,6011) and black out the rest of the frame.

No vendor branch lives in code: everything device-specific is in the data files.
"""

from __future__ import annotations

import functools
import itertools
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydicom.dataset import Dataset

from dicom_deid.errors import ProfileError
from dicom_deid.pixels.redact import RedactionBox


@dataclass(frozen=True, slots=True)
class DeviceTemplate:
    name: str
    source: str
    rectangles: tuple[tuple[int, int, int, int], ...]
    modality: str | None = None
    manufacturer: str | None = None
    model: str | None = None
    rows: int | None = None
    columns: int | None = None
    sop_class: str | None = None

    def matches(self, ds: Dataset, rows: int, columns: int) -> bool:
        def contains(pattern: str | None, keyword: str) -> bool:
            if pattern is None:
                return True
            return pattern.casefold() in str(ds.get(keyword, "")).casefold()

        return (
            (self.modality is None or str(ds.get("Modality", "")).upper() == self.modality.upper())
            and contains(self.manufacturer, "Manufacturer")
            and contains(self.model, "ManufacturerModelName")
            and (self.rows is None or self.rows == rows)
            and (self.columns is None or self.columns == columns)
            and (self.sop_class is None or str(ds.get("SOPClassUID", "")) == self.sop_class)
        )


@dataclass(frozen=True, slots=True)
class UltrasoundRule:
    name: str
    source: str
    modalities: tuple[str, ...]
    keep_data_types: tuple[int, ...]
    min_region_fraction: float


@dataclass(frozen=True, slots=True)
class RegionRules:
    templates: tuple[DeviceTemplate, ...] = ()
    ultrasound: tuple[UltrasoundRule, ...] = ()


def default_rules_dir() -> Path:
    """``profiles/regions`` as installed (``dicom_deid/_profiles/regions``) or in a checkout."""
    package = Path(__file__).resolve().parents[1]
    for candidate in (package / "_profiles" / "regions", package.parent / "profiles" / "regions"):
        if candidate.is_dir():
            return candidate
    raise ProfileError("profiles/regions is missing from the installation")


@functools.lru_cache(maxsize=8)
def load_region_rules(directory: Path | None = None) -> RegionRules:
    """Read every ``*.toml`` under ``directory`` (default: the shipped rules)."""
    folder = directory or default_rules_dir()
    templates: list[DeviceTemplate] = []
    ultrasound: list[UltrasoundRule] = []
    for path in sorted(folder.glob("*.toml")):
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ProfileError(f"region rules cannot be read: {exc}", path=path) from exc
        for index, item in enumerate(data.get("template", [])):
            templates.append(_template(item, path, index))
        for index, item in enumerate(data.get("ultrasound", [])):
            ultrasound.append(_ultrasound(item, path, index))
    return RegionRules(tuple(templates), tuple(ultrasound))


def _template(item: dict[str, Any], path: Path, index: int) -> DeviceTemplate:
    try:
        rectangles = tuple((int(r[0]), int(r[1]), int(r[2]), int(r[3])) for r in item["rectangles"])
        if not rectangles or any(r[2] <= 0 or r[3] <= 0 for r in rectangles):
            raise ValueError("rectangles must be non-empty [x, y, width, height] lists")
        return DeviceTemplate(
            name=str(item["name"]),
            source=str(item.get("source", "")),
            rectangles=rectangles,
            modality=item.get("modality"),
            manufacturer=item.get("manufacturer"),
            model=item.get("model"),
            rows=int(item["rows"]) if "rows" in item else None,
            columns=int(item["columns"]) if "columns" in item else None,
            sop_class=item.get("sop_class"),
        )
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise ProfileError(f"template #{index + 1} is invalid: {exc}", path=path) from exc


def _ultrasound(item: dict[str, Any], path: Path, index: int) -> UltrasoundRule:
    try:
        return UltrasoundRule(
            name=str(item["name"]),
            source=str(item.get("source", "")),
            modalities=tuple(str(m).upper() for m in item.get("modalities", ["US"])),
            keep_data_types=tuple(int(t) for t in item.get("keep_data_types", [])),
            min_region_fraction=float(item.get("min_region_fraction", 0.05)),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ProfileError(f"ultrasound rule #{index + 1} is invalid: {exc}", path=path) from exc


def may_apply(rules: RegionRules, ds: Dataset) -> bool:
    """False when no rule of ``rules`` can give ``ds`` a box (:func:`template_boxes` and
    :func:`ultrasound_boxes` are then empty), told without decoding its image size: no device
    template, and no Sequence of Ultrasound Regions."""
    return bool(rules.templates) or "SequenceOfUltrasoundRegions" in ds


def template_boxes(rules: RegionRules, ds: Dataset, rows: int, columns: int) -> list[RedactionBox]:
    boxes: list[RedactionBox] = []
    for template in rules.templates:
        if template.matches(ds, rows, columns):
            boxes.extend(
                RedactionBox(x, y, w, h, None, "template") for x, y, w, h in template.rectangles
            )
    return boxes


def ultrasound_boxes(
    rules: RegionRules, ds: Dataset, rows: int, columns: int
) -> list[RedactionBox]:
    """Boxes covering everything outside the kept ultrasound data regions."""
    modality = str(ds.get("Modality", "")).upper()
    regions = ds.get("SequenceOfUltrasoundRegions")
    if not regions:
        return []
    boxes: list[RedactionBox] = []
    for rule in rules.ultrasound:
        if modality not in rule.modalities:
            continue
        kept = _kept_regions(regions, rule, rows, columns)
        if kept:
            boxes.extend(
                RedactionBox(x, y, w, h, None, "ultrasound-region")
                for x, y, w, h in complement(kept, rows, columns)
            )
    return boxes


def _kept_regions(
    regions: Sequence[Dataset], rule: UltrasoundRule, rows: int, columns: int
) -> list[tuple[int, int, int, int]]:
    kept: list[tuple[int, int, int, int]] = []
    for item in regions:
        try:
            x0, y0 = int(item.RegionLocationMinX0), int(item.RegionLocationMinY0)
            x1, y1 = int(item.RegionLocationMaxX1), int(item.RegionLocationMaxY1)
        except (AttributeError, TypeError, ValueError):
            continue  # an incomplete item keeps nothing
        if rule.keep_data_types and int(item.get("RegionDataType", -1)) not in rule.keep_data_types:
            continue
        x0, y0 = max(0, x0), max(0, y0)
        x1, y1 = min(columns - 1, x1), min(rows - 1, y1)
        if x1 < x0 or y1 < y0:
            continue
        width, height = x1 - x0 + 1, y1 - y0 + 1  # Max X1/Y1 are inclusive
        if width * height < rule.min_region_fraction * rows * columns:
            continue
        kept.append((x0, y0, width, height))
    return kept


def complement(
    kept: Sequence[tuple[int, int, int, int]], rows: int, columns: int
) -> list[tuple[int, int, int, int]]:
    """Rectangles that tile the frame minus the union of ``kept``."""
    xs = sorted({0, columns, *(k[0] for k in kept), *(k[0] + k[2] for k in kept)})
    ys = sorted({0, rows, *(k[1] for k in kept), *(k[1] + k[3] for k in kept)})
    result: list[tuple[int, int, int, int]] = []
    for y0, y1 in itertools.pairwise(ys):
        run_start: int | None = None
        for x0, x1 in itertools.pairwise(xs):
            covered = any(
                k[0] <= x0 and x1 <= k[0] + k[2] and k[1] <= y0 and y1 <= k[1] + k[3] for k in kept
            )
            if not covered and run_start is None:
                run_start = x0
            if covered and run_start is not None:
                result.append((run_start, y0, x0 - run_start, y1 - y0))
                run_start = None
        if run_start is not None:
            result.append((run_start, y0, columns - run_start, y1 - y0))
    return result
