"""Generalisation hierarchies: pure maps from a value to its value at a level.

Values are strings as the output holds them (records.py), and each generalised value is itself a
valid DICOM value of the attribute, so the same function rewrites the headers (rewrite.py) and the
records (enforce.py), and applying a level twice changes nothing.

* age (AS, in years):   0 exact; 1 five-year bands; 2 ten-year bands.  From level 1 on every age over
  89 becomes 90 (HIPAA's "90 or older").  A band is written as its lower bound (``065Y``).
* date (DA, DT):        0 day; 1 month (``YYYYMM01``); 2 year (``YYYY0101``).  A DT keeps its time.
* height (DS, metres):  0 exact; 1 0.1 m bands; 2 0.2 m bands, written as the lower bound.
* weight (DS, kg):      0 exact; 1 10 kg bands; 2 20 kg bands, written as the lower bound.
* device model (LO):    0 exact; 1 models used by fewer than K patients are emptied, leaving the
  Manufacturer as the only device information (generalised to the manufacturer).
"""

from __future__ import annotations

import math
from collections.abc import Callable

from dicom_deid.risk.catalogue import QiKind

AGE_TOP = 90

LEVEL_NAMES: dict[QiKind, tuple[str, ...]] = {
    QiKind.AGE: ("exact", "5-year bands, 90 and over as 90", "10-year bands, 90 and over as 90"),
    QiKind.DATE: ("day", "month", "year"),
    QiKind.HEIGHT: ("exact", "0.1 m bands", "0.2 m bands"),
    QiKind.WEIGHT: ("exact", "10 kg bands", "20 kg bands"),
    QiKind.DEVICE_MODEL: ("exact", "rare models generalised to the manufacturer"),
}


def height(kind: QiKind) -> int:
    """The highest level of a kind's hierarchy (0: none)."""
    return len(LEVEL_NAMES.get(kind, ("exact",))) - 1


def level_cost(kind: QiKind, level: int) -> float:
    """Information lost by one value generalised to ``level``: level / (height + 1).

    Emptying a value (suppression) costs 1, one step above the top of every hierarchy, so a
    year costs 2/3 of a date and an emptied date 1.
    """
    return level / (height(kind) + 1)


def _age(years: str, level: int) -> str:
    try:
        y = int(years)
    except ValueError:
        return years
    if level == 0:
        return years
    if y >= AGE_TOP:
        return str(AGE_TOP)
    width = 5 if level == 1 else 10
    return str(y // width * width)


def _date(text: str, level: int) -> str:
    if level == 0 or len(text) < 4 or not text[:4].isdigit():
        return text
    if level == 1:
        return text[:6] + "01" + text[8:] if len(text) >= 8 else text
    return text[:4] + "0101" + text[8:] if len(text) >= 8 else text[:4]


def _band(width_hundredths: int) -> Callable[[str], str]:
    def apply(text: str) -> str:
        try:
            value = float(text)
        except ValueError:
            return text
        if math.isnan(value) or math.isinf(value):
            return text
        hundredths = math.floor(round(value * 100, 6) / width_hundredths) * width_hundredths
        return f"{hundredths / 100:g}"

    return apply


_HEIGHT_BANDS = {1: _band(10), 2: _band(20)}
_WEIGHT_BANDS = {1: _band(1000), 2: _band(2000)}


def generalise(kind: QiKind, value: str, level: int) -> str:
    """``value`` (as a record holds it) at ``level`` of ``kind``'s hierarchy."""
    if level == 0 or not value:
        return value
    if kind is QiKind.AGE:
        return _age(value, level)
    if kind is QiKind.DATE:
        return _date(value, level)
    if kind is QiKind.HEIGHT:
        return _HEIGHT_BANDS[level](value)
    if kind is QiKind.WEIGHT:
        return _WEIGHT_BANDS[level](value)
    raise ValueError(f"{kind.value} has no level {level}")


def age_string(years: str) -> str:
    """A record's age in years as an Age String (``65`` -> ``065Y``)."""
    return f"{int(years):03d}Y"


__all__ = ["AGE_TOP", "LEVEL_NAMES", "age_string", "generalise", "height", "level_cost"]
