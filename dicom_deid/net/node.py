"""The node: receive -> spool -> de-identify -> deliver, with bounded queues and a clean stop.

::

    C-STORE (association threads) --accept--> spool/incoming --workers--> PipelineSession.process
        --> commit (outputs, mapping, manifest durable) --> original dropped
        --> --out DIR: done            --forward: outbox --> Forwarder --> destination

``accept`` answers the sender: success only once the instance is on disk in the spool;
"out of resources" (A700) when ``max_queue`` instances are held (received and not yet
delivered) or the spool cannot be written.  Counters change under one lock and every change
is a :class:`NodeEvent` for observers (live progress, tests).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from dicom_deid.errors import DeidError
from dicom_deid.manifest import Outcome
from dicom_deid.net.adapter import PipelineSession, Processed
from dicom_deid.net.config import NodeConfig
from dicom_deid.net.events import Activity, Counters, NodeEvent
from dicom_deid.net.forward import Forwarder
from dicom_deid.net.scp import STATUS_OUT_OF_RESOURCES, STATUS_SUCCESS, Receiver, quiet_pynetdicom
from dicom_deid.net.spool import Spool

logger = logging.getLogger(__name__)

_BATCH = 16  # instances de-identified between two commits (one fsync round, one sealed segment)


class Node:
    """One running node.  ``start`` then ``stop``; ``accept`` is the per-instance entry point."""

    def __init__(self, config: NodeConfig, session: PipelineSession, spool: Spool, *,
                 on_event: Callable[[NodeEvent], None] | None = None) -> None:
        self.config = config
        self.session = session
        self.spool = spool
        self._on_event = on_event
        self._cond = threading.Condition()
        self._emit_lock = threading.Lock()
        self._counters = Counters()
        self._held = 0  # instances received and not yet finished (de-identified to --out, or delivered)
        self._todo: deque[Path] = deque()
        self._stopping = False
        self._hurry = False
        self.stopped = False
        self._workers: list[threading.Thread] = []
        self.receiver: Receiver | None = None
        self.forwarder: Forwarder | None = None
        if config.forward is not None:
            self.forwarder = Forwarder(config.forward, calling_ae=config.ae_title, spool=spool,
                                       retry=config.retry, tls=config.forward_tls, notify=self._delivery)

    # ---- life cycle ------------------------------------------------------------------------------

    def start(self, *, listen: bool = True) -> None:
        """Pick up what a previous run left in the spool, start the stages, then listen."""
        quiet_pynetdicom()
        received = self.spool.received()
        waiting = self.spool.waiting()
        if waiting and self.forwarder is None:
            logger.warning("%d de-identified instance(s) in %s wait for a --forward destination", len(waiting),
                           self.spool.outbox)
            waiting = []
        with self._cond:
            self._todo.extend(received)
            self._held += len(received) + len(waiting)
            self._counters = replace(self._counters, queued_deid=len(received))
        if self.forwarder is not None:
            for path in waiting:
                if self.forwarder.put(path):
                    self._count(None, queued_delivery=+1)
            self.forwarder.start()
        if received or waiting:
            logger.info("resuming: %d received instance(s) to de-identify, %d to deliver", len(received),
                        len(waiting))
        for i in range(self.config.workers):
            thread = threading.Thread(target=self._work, name=f"dicom-deid-deid-{i}", daemon=True)
            thread.start()
            self._workers.append(thread)
        if listen:
            self.receiver = Receiver(self.config, self.accept, self._rejected)
            self.receiver.start()
            host, port = self.receiver.address
            tls = " (TLS)" if self.config.tls else ""
            self._count(Activity.LISTENING, detail=f"{self.config.ae_title} on {host}:{port}{tls}")

    @property
    def address(self) -> tuple[str, int]:
        assert self.receiver is not None, "node not listening"
        return self.receiver.address

    def stop(self, drain_timeout: float | None = None) -> Counters:
        """Stop accepting, let running associations finish, drain (bounded), persist the rest."""
        timeout = self.config.drain_timeout if drain_timeout is None else drain_timeout
        deadline = time.monotonic() + timeout
        if self.receiver is not None:
            self.receiver.stop_listening()
            aborted = self.receiver.finish(timeout)
            if aborted:
                logger.warning("%d association(s) still open at shutdown were aborted (their senders keep "
                               "the instances not acknowledged)", aborted)
        self.drain(max(0.0, deadline - time.monotonic()))
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        for thread in self._workers:
            thread.join()
        if self.forwarder is not None:
            self.forwarder.stop()
        self.session.close(complete=True)
        self.spool.close()
        self.stopped = True
        self._count(Activity.STOPPED)
        return self.counters()

    def drain(self, timeout: float | None) -> bool:
        """Wait until everything received is de-identified and delivered (True), giving up after
        ``timeout`` seconds or as soon as a delivery attempt fails (the destination is down)."""
        retries = self.counters().retries
        self.wait_for(lambda c: c.idle or c.retries > retries or self._hurry, timeout)
        return self.counters().idle

    def hurry(self) -> None:
        """Stop draining now (a second SIGTERM or Ctrl-C): what is left stays in the spool."""
        with self._cond:
            self._hurry = True
            self._cond.notify_all()

    # ---- receiving -------------------------------------------------------------------------------

    def accept(self, calling_ae: str, data: bytes) -> int:
        """Take custody of one instance: the C-STORE status to answer."""
        with self._cond:
            if self._held >= self.config.max_queue or self._stopping:
                full = True
            else:
                full = False
                self._held += 1
        if full:
            self._count(Activity.REFUSED_FULL, refused_full=+1)
            return STATUS_OUT_OF_RESOURCES
        try:
            path = self.spool.store(calling_ae, data)
        except OSError as exc:
            with self._cond:
                self._held -= 1
            logger.error("cannot write to the spool %s (%s): answering 'out of resources'", self.spool.root,
                         exc.strerror or exc.__class__.__name__)
            self._count(Activity.REFUSED_FULL, refused_full=+1)
            return STATUS_OUT_OF_RESOURCES
        with self._cond:
            self._todo.append(path)
            self._cond.notify_all()
        self._count(Activity.RECEIVED, received=+1, queued_deid=+1)
        return STATUS_SUCCESS

    def _rejected(self, detail: str) -> None:
        logger.warning("%s", detail)
        self._count(Activity.ASSOCIATION_REJECTED, detail=detail, rejected_associations=+1)

    # ---- de-identifying --------------------------------------------------------------------------

    def _take(self) -> list[Path]:
        with self._cond:
            while not self._todo and not self._stopping:
                self._cond.wait()
            if self._stopping:
                return []
            batch: list[Path] = []
            while self._todo and len(batch) < _BATCH:
                batch.append(self._todo.popleft())
            return batch

    def _work(self) -> None:
        while batch := self._take():
            try:
                results = [(path, self.session.process(path)) for path in batch]
                self.session.commit()
            except (OSError, DeidError) as exc:  # disk full or gone: keep the originals, try again later
                logger.error("cannot write de-identified output or quarantine durably (%s); retrying",
                             getattr(exc, "strerror", None) or exc.__class__.__name__)
                with self._cond:
                    self._todo.extendleft(reversed(batch))
                    self._cond.wait(self.config.retry.initial)
                continue
            for path, processed in results:
                self.spool.release(path)
                self._finish(processed)

    def _finish(self, processed: Processed) -> None:
        if processed.outcome is not Outcome.WRITTEN or processed.output is None:
            logger.warning("quarantined: %s", processed.message or processed.reason)
            self._release_slot()
            self._count(Activity.QUARANTINED, quarantined=+1, queued_deid=-1)
            return
        if self.forwarder is None:
            self._release_slot()
            self._count(Activity.DEIDENTIFIED, deidentified=+1, queued_deid=-1)
        elif self.forwarder.put(processed.output):
            self._count(Activity.DEIDENTIFIED, deidentified=+1, queued_deid=-1, queued_delivery=+1)
        else:  # the same instance is queued already: one delivery covers both
            self._release_slot()
            self._count(Activity.DEIDENTIFIED, deidentified=+1, queued_deid=-1)

    # ---- delivering ------------------------------------------------------------------------------

    def _delivery(self, activity: Activity, detail: str | None) -> None:
        if activity is Activity.FORWARDED:
            self._release_slot()
            self._count(activity, forwarded=+1, queued_delivery=-1)
        elif activity is Activity.UNDELIVERABLE:
            self._release_slot()
            self._count(activity, detail=detail, undeliverable=+1, queued_delivery=-1)
        else:
            self._count(activity, detail=detail, retries=+1)

    # ---- counters and events ---------------------------------------------------------------------

    def _release_slot(self) -> None:
        with self._cond:
            self._held -= 1

    def counters(self) -> Counters:
        with self._cond:
            return self._counters

    def wait_for(self, predicate: Callable[[Counters], bool], timeout: float | None) -> bool:
        """Block until ``predicate(counters)`` holds (True) or ``timeout`` seconds pass (False)."""
        with self._cond:
            return self._cond.wait_for(lambda: predicate(self._counters), timeout)

    def _count(self, activity: Activity | None, *, detail: str | None = None, **deltas: int) -> None:
        with self._cond:
            current = self._counters
            self._counters = replace(current, **{k: getattr(current, k) + v for k, v in deltas.items()})
            snapshot = self._counters
            self._cond.notify_all()
        if activity is not None and self._on_event is not None:
            with self._emit_lock:
                try:
                    self._on_event(NodeEvent(activity, snapshot, detail))
                except Exception:
                    logger.exception("event handler failed")


__all__ = ["Node"]
