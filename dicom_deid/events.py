"""Typed run events: progress and audit are observers of these.  No behaviour here."""

from __future__ import annotations

from dataclasses import dataclass

from dicom_deid.errors import QuarantineReason
from dicom_deid.manifest import Outcome


@dataclass(frozen=True, slots=True)
class RunStarted:
    run_id: str
    profile: str
    options: tuple[str, ...]
    dry_run: bool


@dataclass(frozen=True, slots=True)
class FileDone:
    """One input accounted for (its manifest outcome and reason); no PHI."""

    ordinal: int
    outcome: Outcome
    size: int
    reason: QuarantineReason | None = None
    message: str | None = None  # input-side one-line message (may name the input path)


@dataclass(frozen=True, slots=True)
class RunFinished:
    run_id: str
    counts: dict[str, int]
    seconds: float
    interrupted: bool = False


Event = RunStarted | FileDone | RunFinished

__all__ = ["Event", "FileDone", "RunFinished", "RunStarted"]
