"""Metrics: equivalence classes, k, l, t and ARX's prosecutor / journalist / marketer risks.

Pure functions over the patient records (no I/O).  k-anonymity, l-diversity and t-closeness come
from pycanon; class sizes from a pandas group-by.  The three attacker models follow ARX
(``RiskModelSampleSummary``, after El Emam, *Guide to the De-Identification of Personal Health
Information*): with class sizes f_j in the release (n records, J classes), F_j in the population
and a threshold tau on one record's risk,

* prosecutor (the attacker knows the target is in the release):
  highest risk 1/min f_j; records at risk = sum of f_j with 1/f_j > tau over n; success rate J/n;
* journalist (the attacker knows only that the target is in the population):
  highest 1/min F_j; records at risk = sum of f_j with 1/F_j > tau over n;
  success rate max(J / sum F_j, sum(f_j/F_j) / n);
* marketer (re-identify as many as possible): success rate sum(f_j/F_j) / n.

Without a population table the release is its own population (ARX's default), so the journalist
equals the prosecutor and the marketer's rate is J/n.  tau is 1/K: a record is at risk when its
class is smaller than K.
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd


@dataclass(frozen=True, slots=True)
class AttackerRisk:
    """One ARX risk summary (proportions in [0, 1])."""

    highest_risk: float
    records_at_risk: float
    success_rate: float


@dataclass(frozen=True, slots=True)
class SmallClass:
    """An equivalence class below K: its patients (pseudonyms) and the attribute that makes it small."""

    size: int
    values: tuple[tuple[str, str], ...]  # (quasi-identifier, value as the output holds it)
    patients: tuple[str, ...]
    rarest: str  # the quasi-identifier whose value fewest patients of the release share
    rarest_count: int


@dataclass(frozen=True)
class RiskAssessment:
    patients: int
    quasi: tuple[str, ...]
    sensitive: tuple[str, ...]
    k_target: int
    k: int  # smallest equivalence class
    classes: int
    histogram: tuple[tuple[int, int], ...]  # (class size, number of classes), ascending
    small_classes: tuple[SmallClass, ...]
    prosecutor: AttackerRisk
    journalist: AttackerRisk
    marketer: float
    l_diversity: int | None = None
    t_closeness: float | None = None
    population_given: bool = False
    rarest_attributes: tuple[tuple[str, int], ...] = ()  # attribute -> small classes it makes small
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def patients_below_k(self) -> int:
        return sum(c.size for c in self.small_classes)

    @property
    def ok(self) -> bool:
        return self.k >= self.k_target

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["patients_below_k"] = self.patients_below_k
        out["histogram"] = [{"size": s, "classes": c} for s, c in self.histogram]
        out["small_classes"] = [{"size": c.size, "values": dict(c.values), "patients": list(c.patients),
                                 "rarest": c.rarest, "rarest_count": c.rarest_count} for c in self.small_classes]
        out["rarest_attributes"] = dict(self.rarest_attributes)
        return out


#: above this many classes l and t come from :func:`l_t_grouped`: pycanon's l-diversity and
#: t-closeness filter the whole table once per class and per value (minutes at 50,000 classes)
PYCANON_MAX_CLASSES = 500


def l_t_grouped(data: pd.DataFrame, quasi: Sequence[str], sensitive: str) -> tuple[int, float]:
    """Distinct l-diversity and t-closeness (equal distance) of one categorical sensitive attribute,
    by one group-by: the same definitions as pycanon's ``l_diversity`` and ``aux_t_closeness_str``.

    With p the release's distribution and q a class's, the class's EMD under equal distance is
    (1/2) sum_v |q_v - p_v| = (1/2) (1 + sum over the class's values of (|q_v - p_v| - p_v)).
    """
    key = data.groupby(list(quasi), sort=False, dropna=False).ngroup().rename("_class")
    counts = pd.concat([key, data[sensitive]], axis=1).groupby(["_class", sensitive], sort=False).size()
    distinct = counts.groupby(level=0).size()
    q = counts / counts.groupby(level=0).transform("sum")
    p = data[sensitive].value_counts(normalize=True)
    p_v = p.reindex(counts.index.get_level_values(1)).to_numpy()
    terms = pd.Series(abs(q.to_numpy() - p_v) - p_v, index=counts.index)
    per_class = 0.5 * (1 + terms.groupby(level=0).sum())
    return int(distinct.min()), float(per_class.max())


def records_frame(records: Sequence[Mapping[str, str]], columns: Sequence[str]) -> pd.DataFrame:
    """The records as a DataFrame of strings ("" for absent), index = patient pseudonym."""
    frame = pd.DataFrame.from_records(list(records), columns=["patient", *columns])
    frame = frame.set_index("patient").fillna("").astype(str)
    return frame


def class_sizes(frame: pd.DataFrame, quasi: Sequence[str]) -> pd.Series:
    """Per-record size of its equivalence class (aligned with ``frame``)."""
    if not quasi:
        return pd.Series(len(frame), index=frame.index, dtype="int64")
    return frame.groupby(list(quasi), sort=False, dropna=False)[next(iter(quasi))].transform("size").astype("int64")


def _arx_risks(f: Sequence[int], big_f: Sequence[int], k_target: int) -> tuple[AttackerRisk, AttackerRisk, float]:
    n = sum(f)
    tau = 1.0 / k_target
    classes = len(f)
    prosecutor = AttackerRisk(1.0 / min(f), sum(x for x in f if 1.0 / x > tau) / n, classes / n)
    ratio = sum(x / y for x, y in zip(f, big_f, strict=True)) / n
    journalist = AttackerRisk(1.0 / min(big_f), sum(x for x, y in zip(f, big_f, strict=True) if 1.0 / y > tau) / n,
                              max(classes / sum(big_f), ratio))
    return prosecutor, journalist, ratio


def assess(frame: pd.DataFrame, quasi: Sequence[str], *, k_target: int = 5, sensitive: Sequence[str] = (),
           population: Mapping[tuple[str, ...], int] | None = None,
           notes: Sequence[str] = ()) -> RiskAssessment:
    """Risk of re-identification of the records in ``frame`` on the quasi-identifiers ``quasi``.

    ``population`` maps a class (its quasi-identifier values, in ``quasi`` order) to its size in the
    population the release was drawn from (journalist and marketer models); None: the release.
    """
    from dicom_deid.risk.errors import load_pycanon

    anonymity = load_pycanon()
    quasi = list(quasi)
    n = len(frame)
    if k_target < 1:
        from dicom_deid.errors import ConfigError

        raise ConfigError(f"--k must be at least 1, got {k_target}")
    if n == 0:
        zero = AttackerRisk(0.0, 0.0, 0.0)
        return RiskAssessment(0, tuple(quasi), tuple(sensitive), k_target, 0, 0, (), (), zero, zero, 0.0,
                              notes=(*notes, "no patient records: nothing to assess"))
    data = frame.reset_index()
    with warnings.catch_warnings():  # pycanon groups by a list: pandas' deprecation notes on its keys
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        return _assess(anonymity, frame, data, quasi, k_target, sensitive, population, notes)


def _assess(anonymity: Any, frame: pd.DataFrame, data: pd.DataFrame, quasi: list[str], k_target: int,
            sensitive: Sequence[str], population: Mapping[tuple[str, ...], int] | None,
            notes: Sequence[str]) -> RiskAssessment:
    n = len(frame)
    if quasi:
        k = int(anonymity.k_anonymity(data, quasi))
        groups = data.groupby(quasi, sort=True, dropna=False)
        keyed = [(key if isinstance(key, tuple) else (key,), idx) for key, idx in groups.indices.items()]
    else:
        k = n
        keyed = [((), list(range(n)))]
    sizes = [len(idx) for _, idx in keyed]
    if population is None:
        big = sizes
    else:
        big = [max(population.get(tuple(str(v) for v in key), 0), size) for (key, _), size in zip(keyed, sizes,
                                                                                                strict=True)]
    prosecutor, journalist, marketer = _arx_risks(sizes, big, k_target)
    hist = Counter(sizes)

    counts = {q: data[q].value_counts().to_dict() for q in quasi}
    small: list[SmallClass] = []
    rarest_tally: Counter[str] = Counter()
    patients = data["patient"].tolist()
    for key, idx in keyed:
        if len(idx) >= k_target:
            continue
        values = tuple(zip(quasi, (str(v) for v in key), strict=True))
        rarest, rarest_n = min(((q, int(counts[q][v])) for q, v in values), key=lambda t: t[1]) if values else ("", n)
        rarest_tally[rarest] += 1
        small.append(SmallClass(len(idx), values, tuple(sorted(patients[i] for i in idx)), rarest, rarest_n))
    small.sort(key=lambda c: (c.size, c.patients))

    l_div = t_close = None
    sens = [s for s in sensitive if s in data.columns]
    if sens and quasi and len(sizes) <= PYCANON_MAX_CLASSES:
        l_div = int(anonymity.l_diversity(data, quasi, sens))
        t_close = float(anonymity.t_closeness(data, quasi, sens))
    elif sens and quasi:  # pycanon filters the whole table once per class: too slow here
        pairs = [l_t_grouped(data, quasi, s) for s in sens]
        l_div, t_close = min(p[0] for p in pairs), max(p[1] for p in pairs)
    elif sens:  # one class: the whole release
        l_div = int(min(data[s].nunique() for s in sens))
        t_close = 0.0
    return RiskAssessment(
        patients=n, quasi=tuple(quasi), sensitive=tuple(sens), k_target=k_target, k=k, classes=len(sizes),
        histogram=tuple(sorted(hist.items())), small_classes=tuple(small), prosecutor=prosecutor,
        journalist=journalist, marketer=marketer, l_diversity=l_div, t_closeness=t_close,
        population_given=population is not None,
        rarest_attributes=tuple(sorted(rarest_tally.items(), key=lambda kv: (-kv[1], kv[0]))),
        notes=tuple(notes),
    )


__all__ = ["AttackerRisk", "RiskAssessment", "SmallClass", "assess", "class_sizes", "records_frame"]
