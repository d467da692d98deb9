"""Typed node events: live counters and audit are observers of these.  No behaviour here.

Events never carry element values: details are AE titles, addresses, status codes, reasons.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Activity(enum.Enum):
    LISTENING = "listening"
    ASSOCIATION_REJECTED = "association_rejected"  # unknown calling AE title or source address
    RECEIVED = "received"  # on disk in the spool; the sender was told "success"
    REFUSED_FULL = "refused_full"  # queue full: the sender was told "out of resources" and keeps it
    DEIDENTIFIED = "deidentified"
    QUARANTINED = "quarantined"  # never forwarded; original kept in the quarantine folder
    FORWARDED = "forwarded"
    DELIVERY_DEFERRED = "delivery_deferred"  # destination down or busy: retried with back-off
    UNDELIVERABLE = "undeliverable"  # refused for good by the destination: kept in the spool's failed/
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class Counters:
    received: int = 0
    deidentified: int = 0
    quarantined: int = 0
    forwarded: int = 0
    undeliverable: int = 0
    refused_full: int = 0
    rejected_associations: int = 0
    retries: int = 0
    queued_deid: int = 0  # received, waiting for de-identification
    queued_delivery: int = 0  # de-identified, waiting for delivery

    @property
    def idle(self) -> bool:
        return self.queued_deid == 0 and self.queued_delivery == 0


@dataclass(frozen=True, slots=True)
class NodeEvent:
    activity: Activity
    counters: Counters
    detail: str | None = None  # operator-facing, no element values


__all__ = ["Activity", "Counters", "NodeEvent"]
