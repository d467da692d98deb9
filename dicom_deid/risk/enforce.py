"""Enforce k-anonymity: choose the generalisation with the smallest information loss.

Pure planning over the patient records (no I/O; rewrite.py applies the plan to the files).

1. Global recoding: every combination of hierarchy levels (risk/hierarchy.py) of the
   quasi-identifiers that have one is a node of the lattice; a node generalises that attribute for
   every patient.
2. Local suppression, the last resort: in a node, each patient still in a class smaller than K has
   its rarest suppressible value emptied, one attribute per round, until no class is below K (an
   emptied date empties every date of the patient's files: rewrite.py).
   Patients left with every suppressible value empty but still in a small class are joined by fully
   emptying donors from the largest classes (a class above K gives one patient, a class of exactly K
   joins whole).
3. Information loss of a node: the mean over all patient x quasi-identifier cells of 0 (unchanged),
   level / (height + 1) of its hierarchy (generalised: a month costs 1/3, a year 2/3) or 1 (emptied).  The node with the smallest loss
   wins (then the fewest emptied cells: generalisation before suppression; then the lowest levels,
   then lexicographic), so a release that is already K-anonymous is left unchanged (loss 0).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from dicom_deid.risk.catalogue import QiKind, QuasiIdentifier
from dicom_deid.risk.errors import RiskError
from dicom_deid.risk.hierarchy import LEVEL_NAMES, generalise, height, level_cost
from dicom_deid.risk.metrics import class_sizes
from dicom_deid.risk.records import SET_JOIN


@dataclass(frozen=True)
class Generalisation:
    """What `run --k-anonymity` changes: recorded in the manifest, applied by rewrite.py."""

    k: int
    quasi: tuple[str, ...]
    levels: Mapping[str, int]  # keyword -> level, for quasi-identifiers with a hierarchy
    rare_models: frozenset[str] = frozenset()  # device models emptied (held by fewer than K patients)
    suppressed: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # patient -> keywords emptied
    information_loss: float = 0.0
    k_before: int = 0
    k_after: int = 0
    patients: int = 0
    kinds: Mapping[str, str] = field(default_factory=dict)  # keyword -> QiKind value

    @property
    def changed(self) -> bool:
        return any(self.levels.values()) or bool(self.suppressed)

    def level_names(self) -> dict[str, str]:
        return {kw: LEVEL_NAMES[QiKind(self.kinds[kw])][lv] for kw, lv in self.levels.items()}

    def to_row(self) -> dict[str, Any]:
        """The manifest row (output side: pseudonyms, keywords and device model names only)."""
        return {"k": self.k, "quasi": list(self.quasi), "levels": dict(self.levels),
                "level_names": self.level_names(), "kinds": dict(self.kinds),
                "rare_models": sorted(self.rare_models),
                "suppressed": {p: list(kws) for p, kws in sorted(self.suppressed.items())},
                "suppressed_cells": sum(len(v) for v in self.suppressed.values()),
                "information_loss": round(self.information_loss, 6), "k_before": self.k_before,
                "k_after": self.k_after, "patients": self.patients}

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Generalisation:
        return cls(int(row["k"]), tuple(row["quasi"]), dict(row["levels"]), frozenset(row.get("rare_models", ())),
                   {p: tuple(v) for p, v in row.get("suppressed", {}).items()}, float(row["information_loss"]),
                   int(row.get("k_before", 0)), int(row.get("k_after", 0)), int(row.get("patients", 0)),
                   dict(row.get("kinds", {})))


def rare_models(column: pd.Series, k: int) -> frozenset[str]:
    """Device models that fewer than ``k`` patients have."""
    counts: dict[str, int] = {}
    for value in column:
        for model in value.split(SET_JOIN) if value else ():
            counts[model] = counts.get(model, 0) + 1
    return frozenset(m for m, c in counts.items() if c < k)


def _without(value: str, drop: frozenset[str]) -> str:
    if not value:
        return value
    return SET_JOIN.join(m for m in value.split(SET_JOIN) if m not in drop)


def _level_column(frame: pd.DataFrame, qi: QuasiIdentifier, level: int, k: int) -> pd.Series:
    col = frame[qi.keyword]
    if level == 0:
        return col
    if qi.kind is QiKind.DEVICE_MODEL:
        drop = rare_models(col, k)
        return col.map(lambda v: _without(v, drop))
    return col.map(lambda v: generalise(qi.kind, v, level))


def _suppress(table: pd.DataFrame, quasi: Sequence[QuasiIdentifier],
              k: int) -> tuple[pd.DataFrame, np.ndarray[Any, Any]] | None:
    """Greedy local suppression; returns the table and a boolean mask of emptied cells, or None."""
    cols = [q.keyword for q in quasi]
    supp = [q.keyword for q in quasi if q.suppressible]
    fixed = [q.keyword for q in quasi if not q.suppressible]
    t = table.copy()
    emptied = np.zeros(t.shape, dtype=bool)
    col_index = {c: i for i, c in enumerate(cols)}
    for _ in range(len(supp)):
        small = (class_sizes(t, cols) < k).to_numpy()
        if not small.any():
            return t, emptied
        freq = np.column_stack([np.where(t[c].to_numpy() == "", np.inf,
                                         t[c].map(t[c].value_counts()).to_numpy(dtype=float)) for c in supp])
        rows = np.flatnonzero(small & np.isfinite(freq).any(axis=1))
        if rows.size == 0:
            break
        pick = np.argmin(freq[rows], axis=1)
        for j, c in enumerate(supp):
            chosen = rows[pick == j]
            if chosen.size:
                t.iloc[chosen, col_index[c]] = ""
                emptied[chosen, col_index[c]] = True
    # donors: patients still in small classes have every suppressible value empty
    while True:
        sizes = class_sizes(t, cols)
        small = sizes < k
        if not small.any():
            return t, emptied
        if not supp:
            return None
        victim = t.index[small.to_numpy()][0]
        key = tuple(t.loc[victim, fixed]) if fixed else ()
        same = (t[fixed].apply(tuple, axis=1) == key) if fixed else pd.Series(True, index=t.index)
        members = same & (t[supp] == "").all(axis=1)
        if not (members & small).any():
            return None
        donors = same & ~members
        if not donors.any():
            return None
        donor_sizes = sizes[donors]
        biggest = int(donor_sizes.max())
        first = donor_sizes.index[donor_sizes.to_numpy() == biggest][0]
        if biggest > k:
            take = [first]
        else:  # a class of exactly K (or less) joins whole
            row = t.loc[first, cols]
            take = list(t.index[(t[cols] == row.to_numpy()).all(axis=1).to_numpy()])
        for patient in take:
            i = t.index.get_loc(patient)
            for c in supp:
                if t.iat[i, col_index[c]] != "":
                    t.iat[i, col_index[c]] = ""
                    emptied[i, col_index[c]] = True


def plan_k_anonymity(frame: pd.DataFrame, quasi: Sequence[QuasiIdentifier], k: int) -> Generalisation:
    """The generalisation of least information loss that makes ``frame`` ``k``-anonymous on ``quasi``."""
    if k < 1:
        raise RiskError(f"--k-anonymity must be at least 1, got {k}")
    n = len(frame)
    cols = [q.keyword for q in quasi]
    if not cols:
        raise RiskError("--k-anonymity needs at least one quasi-identifier present in the output")
    if n < k:
        raise RiskError(f"{n} patient(s) cannot be {k}-anonymous: K must be at most the number of patients")
    base = frame[cols]
    k_before = int(class_sizes(base, cols).min())
    kinds = {q.keyword: q.kind.value for q in quasi}
    hier = [q for q in quasi if height(q.kind) > 0]
    levels_cache: dict[tuple[str, int], pd.Series] = {}
    changed_cache: dict[tuple[str, int], np.ndarray[Any, Any]] = {}
    for q in hier:
        for lv in range(height(q.kind) + 1):
            col = _level_column(base, q, lv, k)
            levels_cache[(q.keyword, lv)] = col
            changed_cache[(q.keyword, lv)] = (col != base[q.keyword]).to_numpy()
    cells = n * len(cols)

    def gen_loss(node: tuple[int, ...]) -> float:
        return float(sum(changed_cache[(q.keyword, lv)].sum() * level_cost(q.kind, lv) for q, lv in zip(hier, node,
                                                                                               strict=True)) / cells)

    nodes = sorted(itertools.product(*(range(height(q.kind) + 1) for q in hier)),
                   key=lambda nd: (gen_loss(nd), sum(nd), nd))
    best: tuple[float, int, int, tuple[int, ...], pd.DataFrame, np.ndarray[Any, Any]] | None = None
    for node in nodes:
        g = gen_loss(node)
        if best is not None and g > best[0]:
            break  # sorted by generalisation loss, a lower bound of the total
        table = base.copy()
        for q, lv in zip(hier, node, strict=True):
            table[q.keyword] = levels_cache[(q.keyword, lv)]
        result = _suppress(table, quasi, k)
        if result is None:
            continue
        final, emptied = result
        # an emptied cell costs 1 in place of its generalisation cost
        supp_loss = 0.0
        for j, c in enumerate(cols):
            mask = emptied[:, j] & (base[c].to_numpy() != "")
            if not mask.any():
                continue
            hq = next((h for h in hier if h.keyword == c), None)
            if hq is not None:
                lv = node[hier.index(hq)]
                gen_part = level_cost(hq.kind, lv)
                supp_loss += float((mask & changed_cache[(c, lv)]).sum()) * (1 - gen_part)
                supp_loss += float((mask & ~changed_cache[(c, lv)]).sum())
            else:
                supp_loss += float(mask.sum())
        total = g + supp_loss / cells
        # equal loss: generalise rather than empty (fewer emptied cells), then the lower levels
        candidate = (round(total, 12), int(emptied.sum()), sum(node), node, final, emptied)
        if best is None or candidate[:4] < best[:4]:
            best = candidate
    if best is None:
        fixed = [q.keyword for q in quasi if not q.suppressible]
        raise RiskError(f"{k}-anonymity cannot be reached: patients differ on {', '.join(fixed) or 'attributes'} "
                        "that are never emptied; leave them out of --quasi or lower K")
    total, _, _, node, final, emptied = best
    levels = {q.keyword: lv for q, lv in zip(hier, node, strict=True)}
    models: frozenset[str] = frozenset()
    for q in hier:
        if q.kind is QiKind.DEVICE_MODEL and levels[q.keyword]:
            models |= rare_models(base[q.keyword], k)
    suppressed: dict[str, tuple[str, ...]] = {}
    for i, patient in enumerate(final.index):
        kws = tuple(c for j, c in enumerate(cols) if emptied[i, j] and base.iat[i, j] != "")
        if kws:
            suppressed[str(patient)] = kws
    return Generalisation(k=k, quasi=tuple(cols), levels=levels, rare_models=models, suppressed=suppressed,
                          information_loss=float(total), k_before=k_before,
                          k_after=int(class_sizes(final, cols).min()), patients=n, kinds=kinds)


__all__ = ["Generalisation", "RiskError", "plan_k_anonymity", "rare_models"]
