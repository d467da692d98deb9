"""Forwarding: de-identified instances from the spool's outbox to the destination with C-STORE.

One thread, one association at a time, reused while work is queued and released when the
queue is empty.  Each instance is sent as the bytes written (no re-encoding) on a presentation
context with its own transfer syntax.  Delivery is at least once: an instance leaves the spool
only after the destination answered success (or a warning: stored), so a crash between the
answer and the removal re-sends it; the destination keeps one copy per SOP Instance UID.

Failures are sorted by what a retry could change (PS3.4 B.2.3, PS3.7 C):

* no association, no answer, "out of resources" (A7xx) or "resource limitation" (0213):
  the destination is down or busy; the instance stays at the head of the queue and the
  forwarder waits ``RetryPolicy.delay(n)`` (exponential back-off) before trying again;
* any other failure status, or a SOP class / transfer syntax the destination refuses:
  retrying cannot help; the instance is set aside in the spool's ``failed/`` with the reason.
"""

from __future__ import annotations

import enum
import logging
import ssl
import threading
from collections import deque
from collections.abc import Callable
from pathlib import Path

from pydicom.errors import InvalidDicomError
from pydicom.filereader import read_file_meta_info
from pynetdicom import AE, build_context, evt
from pynetdicom.association import Association

from dicom_deid.net.config import Peer, RetryPolicy, TlsClient
from dicom_deid.net.events import Activity
from dicom_deid.net.spool import Spool
from dicom_deid.net.transport import client_tls_context, no_delay

logger = logging.getLogger(__name__)

_MAX_CONTEXTS = 128  # PS3.8: presentation context IDs are odd numbers 1-255
_IDLE_RELEASE = 2.0  # seconds an idle association stays open for the next instance
_TRANSIENT = frozenset({0x0213})  # resource limitation
Notify = Callable[[Activity, str | None], None]


class Delivery(enum.Enum):
    DELIVERED = "delivered"
    RETRY = "retry"  # destination down or busy
    REFUSED = "refused"  # refused for good


def classify(status: int | None) -> Delivery:
    """C-STORE response status -> what to do with the instance (``None``: no response at all)."""
    if status is None:
        return Delivery.RETRY
    if status == 0x0000 or status in (0x0001, 0x0107, 0x0116) or 0xB000 <= status <= 0xBFFF:
        return Delivery.DELIVERED  # success, or warning: stored
    if 0xA700 <= status <= 0xA7FF or status in _TRANSIENT:
        return Delivery.RETRY
    return Delivery.REFUSED


class Forwarder:
    """Delivers queued outbox files to ``destination``; thread-safe ``put``."""

    def __init__(self, destination: Peer, *, calling_ae: str, spool: Spool, retry: RetryPolicy,
                 tls: TlsClient | None, notify: Notify) -> None:
        self.destination = destination
        self.spool = spool
        self.retry = retry
        self._notify = notify
        self._tls = client_tls_context(tls) if tls is not None else None
        self._ae = AE(ae_title=calling_ae)
        self._ae.acse_timeout = 30
        self._ae.dimse_timeout = 60
        self._ae.network_timeout = 60
        self._ae.connection_timeout = 10
        self._queue: deque[Path] = deque()
        self._queued: set[Path] = set()
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._why = ""
        self.failures = 0  # consecutive failures to deliver (0: the destination is taking instances)

    def __len__(self) -> int:
        with self._cond:
            return len(self._queue)

    def put(self, path: Path) -> bool:
        """Queue an outbox file; False if it is queued already (the same instance received twice)."""
        with self._cond:
            if path in self._queued:
                return False
            self._queue.append(path)
            self._queued.add(path)
            self._cond.notify_all()
            return True

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="dicom-deid-forwarder", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop after the instance in flight; what is queued stays in the outbox for the next start."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join()

    def _head(self) -> Path | None:
        with self._cond:
            while not self._queue and not self._stop.is_set():
                self._cond.wait()
            return None if self._stop.is_set() else self._queue[0]

    def _more_soon(self) -> bool:
        """Work queued now or within a moment (instances of a study arrive one after another)."""
        with self._cond:
            return self._cond.wait_for(lambda: bool(self._queue) or self._stop.is_set(), timeout=_IDLE_RELEASE)

    def _pop(self, path: Path) -> None:
        with self._cond:
            if self._queue and self._queue[0] == path:
                self._queue.popleft()
            self._queued.discard(path)

    def _run(self) -> None:
        assoc: Association | None = None
        accepted: set[tuple[str, str]] = set()
        try:
            while True:
                if assoc is not None and not self._more_soon():
                    assoc.release()  # idle: do not hold the destination's association slot
                    assoc = None
                if (path := self._head()) is None:
                    break
                if not path.exists():  # delivered already (the same instance was queued twice)
                    self._pop(path)
                    continue
                try:
                    meta = read_file_meta_info(path)
                    pair = (str(meta.MediaStorageSOPClassUID), str(meta.TransferSyntaxUID))
                except (OSError, InvalidDicomError, AttributeError) as exc:
                    self._refuse(path, f"unreadable outbox file ({exc.__class__.__name__})")
                    continue
                if assoc is None or not assoc.is_established or pair not in accepted:
                    if assoc is not None and assoc.is_established:
                        assoc.release()
                    assoc, accepted = self._associate(pair)
                    if assoc is None:
                        self._defer(self._why)
                        continue
                    if pair not in accepted:
                        self._refuse(path, "the destination does not accept this SOP class in this transfer "
                                           f"syntax ({pair[0]}, {pair[1]})")
                        continue
                outcome, detail = self._send(assoc, path)
                if outcome is Delivery.DELIVERED:
                    self.spool.journal_delivery(path, str(self.destination))
                    self.spool.release(path)
                    self._pop(path)
                    self.failures = 0
                    self._notify(Activity.FORWARDED, None)
                elif outcome is Delivery.REFUSED:
                    self._refuse(path, detail)
                else:
                    if not assoc.is_established:
                        assoc = None
                    self._defer(detail)
        finally:
            if assoc is not None and assoc.is_established:
                assoc.release()
            self._ae.shutdown()

    def _associate(self, first: tuple[str, str]) -> tuple[Association | None, set[tuple[str, str]]]:
        pairs = [first]
        with self._cond:
            upcoming = list(self._queue)[:256]
        for path in upcoming:  # propose the contexts of what comes next, so the association is reused
            if len(pairs) >= _MAX_CONTEXTS:
                break
            try:
                meta = read_file_meta_info(path)
                pair = (str(meta.MediaStorageSOPClassUID), str(meta.TransferSyntaxUID))
            except (OSError, InvalidDicomError, AttributeError):
                continue
            if pair not in pairs:
                pairs.append(pair)
        contexts = [build_context(sop, ts) for sop, ts in pairs]
        tls_args = (self._tls, self.destination.host) if self._tls is not None else None
        try:
            assoc = self._ae.associate(self.destination.host, self.destination.port, contexts=contexts,
                                       ae_title=self.destination.ae_title, tls_args=tls_args,
                                       evt_handlers=[(evt.EVT_CONN_OPEN, no_delay)])
        except (OSError, ssl.SSLError) as exc:
            self._why = f"no connection ({exc.__class__.__name__})"
            return None, set()
        if not assoc.is_established:
            self._why = "association rejected" if assoc.is_rejected else "no connection"
            return None, set()
        accepted = {(str(cx.abstract_syntax), str(cx.transfer_syntax[0])) for cx in assoc.accepted_contexts}
        return assoc, accepted

    def _send(self, assoc: Association, path: Path) -> tuple[Delivery, str]:
        try:
            response = assoc.send_c_store(path)
        except (ValueError, AttributeError) as exc:  # no matching context, missing meta
            return Delivery.REFUSED, f"cannot send ({exc.__class__.__name__})"
        except OSError as exc:
            return Delivery.RETRY, f"connection lost ({exc.__class__.__name__})"
        status = int(response.Status) if "Status" in response else None
        outcome = classify(status)
        detail = "no response" if status is None else f"status 0x{status:04X}"
        return outcome, detail

    def _defer(self, detail: str) -> None:
        self.failures += 1
        delay = self.retry.delay(self.failures)
        logger.warning("destination %s: %s; %d instance(s) wait, retry in %.1f s", self.destination, detail,
                       len(self), delay)
        self._notify(Activity.DELIVERY_DEFERRED, f"{self.destination}: {detail}; retry in {delay:.1f} s")
        self._stop.wait(delay)

    def _refuse(self, path: Path, reason: str) -> None:
        self.spool.set_aside(path, reason)
        self._pop(path)
        logger.error("destination %s refused an instance for good (%s); kept in %s", self.destination, reason,
                     self.spool.failed)
        self._notify(Activity.UNDELIVERABLE, reason)


__all__ = ["Delivery", "Forwarder", "classify"]
