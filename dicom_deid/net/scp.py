"""Receiving: a pynetdicom acceptor for C-ECHO and C-STORE that hands each instance to the node.

Security at the door, before any dataset is read:

* the source address is checked when the TCP connection is accepted (``allowed_networks``);
  a refused host gets the connection closed, no DICOM answer;
* the calling AE title must be one of ``allowed_ae`` (A-ASSOCIATE-RJ "calling AE title not
  recognised" otherwise) and the called AE title must be ours;
* optional TLS (``ssl.SSLContext`` on the listening socket), with client certificates when a
  client CA is configured;
* at most ``max_associations`` at once (A-ASSOCIATE-RJ "local limit exceeded" beyond).

The C-STORE handler never decodes the dataset: the bytes as received go to the spool
(``Node.accept``), whose answer is the C-STORE status.
"""

from __future__ import annotations

import ipaddress
import logging
import ssl
import threading
import time
from collections.abc import Callable
from socket import socket
from typing import Any

from pydicom.uid import (
    HTJ2K,
    JPEG2000,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    HTJ2KLossless,
    HTJ2KLosslessRPCL,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEGLossless,
    JPEGLosslessSV1,
    JPEGLSLossless,
    JPEGLSNearLossless,
    RLELossless,
)
from pynetdicom import AE, AllStoragePresentationContexts, evt
from pynetdicom.events import Event
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]
from pynetdicom.transport import ThreadedAssociationServer

from dicom_deid.net.config import IPNetwork, NodeConfig
from dicom_deid.net.transport import no_delay, server_tls_context

logger = logging.getLogger(__name__)

#: Transfer syntaxes accepted for every storage SOP class: what the pipeline reads and writes back.
#: Video (MPEG, HEVC), JPIP references and SMPTE streams are refused at negotiation: the sender
#: keeps them, nothing is lost, and nothing is accepted that could not be cleaned.
ACCEPTED_TRANSFER_SYNTAXES: tuple[str, ...] = (
    ExplicitVRLittleEndian, ImplicitVRLittleEndian, DeflatedExplicitVRLittleEndian, ExplicitVRBigEndian,
    JPEGBaseline8Bit, JPEGExtended12Bit, JPEGLossless, JPEGLosslessSV1, JPEGLSLossless, JPEGLSNearLossless,
    JPEG2000Lossless, JPEG2000, HTJ2KLossless, HTJ2KLosslessRPCL, HTJ2K, RLELossless,
)

#: C-STORE status codes the node answers with (PS3.4 B.2.3)
STATUS_SUCCESS = 0x0000
STATUS_OUT_OF_RESOURCES = 0xA700

StoreCallback = Callable[[str, bytes], int]  # (calling AE title, file bytes) -> C-STORE status
RejectCallback = Callable[[str], None]  # operator-facing detail (AE title, address; no values)


def quiet_pynetdicom() -> None:
    """pynetdicom's standard handlers log every DIMSE message and the identifiers of queries and
    retrieves (original UIDs, patient IDs): turn them off, and send stored files without
    decoding them (``send_c_store`` with a path streams the bytes as written).

    These are pynetdicom's process-wide settings; the node needs them in whatever process runs it.
    """
    from pynetdicom import _config

    _config.LOG_HANDLER_LEVEL = "none"
    _config.LOG_REQUEST_IDENTIFIERS = False
    _config.LOG_RESPONSE_IDENTIFIERS = False
    _config.STORE_SEND_CHUNKED_DATASET = True


class _CheckedServer(ThreadedAssociationServer):
    """pynetdicom's threaded server that refuses connections from addresses not allowed."""

    allowed_networks: tuple[IPNetwork, ...] = ()
    on_refused: RejectCallback | None = None

    def verify_request(self, request: Any, client_address: Any) -> bool:
        if not self.allowed_networks:
            return True
        host = client_address[0] if isinstance(client_address, tuple) else str(client_address)
        try:
            address = ipaddress.ip_address(host.split("%", 1)[0])
        except ValueError:
            address = None
        if address is not None and isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        allowed = address is not None and any(address in net for net in self.allowed_networks)
        if not allowed and self.on_refused is not None:
            self.on_refused(f"connection from {host} refused: address not allowed")
        return allowed

    def get_request(self) -> tuple[socket, tuple[str, int]]:
        try:
            return super().get_request()
        except ssl.SSLError as exc:  # a plain or untrusted client on a TLS port: drop it, keep serving
            logger.warning("TLS handshake failed: %s", exc.reason or exc.__class__.__name__)
            raise OSError("TLS handshake failed") from None


class Receiver:
    """The listening side of the node: one pynetdicom AE and its server thread."""

    def __init__(self, config: NodeConfig, on_store: StoreCallback, on_rejected: RejectCallback) -> None:
        self.config = config
        self._on_store = on_store
        self._on_rejected = on_rejected
        ae = AE(ae_title=config.ae_title)
        ae.require_calling_aet = list(config.allowed_ae)
        ae.require_called_aet = True
        ae.maximum_associations = config.max_associations
        ae.network_timeout = 60
        ae.acse_timeout = 30
        ae.dimse_timeout = 60
        ae.add_supported_context(Verification)
        for context in AllStoragePresentationContexts:
            assert context.abstract_syntax is not None
            ae.add_supported_context(context.abstract_syntax, list(ACCEPTED_TRANSFER_SYNTAXES))
        self.ae = ae
        self._server: _CheckedServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int]:
        assert self._server is not None, "receiver not started"
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def start(self) -> None:
        handlers: list[Any] = [(evt.EVT_C_STORE, self._handle_store), (evt.EVT_C_ECHO, _handle_echo),
                               (evt.EVT_REJECTED, self._handle_rejected), (evt.EVT_CONN_OPEN, no_delay)]
        tls = server_tls_context(self.config.tls) if self.config.tls else None
        server = self.ae.make_server((self.config.bind, self.config.port), ssl_context=tls,
                                     evt_handlers=handlers, server_class=_CheckedServer)
        assert isinstance(server, _CheckedServer)
        self.ae._servers.append(server)  # as AE.start_server does: AE.shutdown() stops it too
        server.allowed_networks = self.config.allowed_networks
        server.on_refused = self._on_rejected
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="dicom-deid-receiver", daemon=True)
        self._thread.start()

    def stop_listening(self) -> None:
        """Stop accepting associations (the running ones carry on)."""
        if self._server is not None:
            self._server.shutdown()
            if self._thread is not None:
                self._thread.join()

    def finish(self, timeout: float) -> int:
        """Wait up to ``timeout`` s for running associations to end, then abort the rest.

        An instance of an aborted association was never acknowledged: its sender still has it.
        Returns the number aborted.
        """
        aborted = 0
        deadline = time.monotonic() + timeout
        for assoc in list(self.ae.active_associations):
            assoc.join(max(0.0, deadline - time.monotonic()))
            if assoc.is_alive():
                assoc.abort()
                aborted += 1
        self.ae.shutdown()
        return aborted

    def _handle_store(self, event: Event) -> int:
        calling = str(event.assoc.requestor.ae_title).strip()
        return self._on_store(calling, event.encoded_dataset(include_meta=True))

    def _handle_rejected(self, event: Event) -> None:
        requestor = event.assoc.requestor
        calling = str(requestor.ae_title).strip()
        primitive = requestor.primitive
        called = str(primitive.called_ae_title).strip() if primitive is not None else "?"
        if calling not in self.config.allowed_ae:
            why = "calling AE title not allowed"
        elif called != self.config.ae_title:
            why = f"called AE title {called!r} is not {self.config.ae_title!r}"
        else:
            why = f"{self.config.max_associations} associations already open (--max-associations)"
        self._on_rejected(f"association from {calling!r} at {requestor.address} rejected: {why}")


def _handle_echo(event: Event) -> int:
    return STATUS_SUCCESS


__all__ = ["ACCEPTED_TRANSFER_SYNTAXES", "STATUS_OUT_OF_RESOURCES", "STATUS_SUCCESS", "Receiver",
           "quiet_pynetdicom"]
