"""TCP and TLS settings for the node's associations, in both directions.

pynetdicom leaves Nagle's algorithm on: a C-STORE then waits for the peer's delayed ACK (about
40 ms on Linux) at every request/response turn, which caps a loopback association near 17
instances/s.  :func:`no_delay`, bound to ``EVT_CONN_OPEN``, turns it off on each connection, as
DCMTK and Orthanc do by default.
"""

from __future__ import annotations

import logging
import socket
import ssl

from pynetdicom.events import Event

from dicom_deid.net.config import TlsClient, TlsServer

logger = logging.getLogger(__name__)


def no_delay(event: Event) -> None:
    """``EVT_CONN_OPEN`` handler: send each PDU at once (TCP_NODELAY)."""
    sock = getattr(event.assoc.dul.socket, "socket", None)
    if sock is not None:
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError as exc:  # not TCP (a test double) or already closed: only slower
            logger.debug("TCP_NODELAY not set: %s", exc.__class__.__name__)


def server_tls_context(tls: TlsServer) -> ssl.SSLContext:
    """The listener's TLS: our certificate; with ``client_ca``, peers must show one it signed."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(certfile=tls.cert, keyfile=tls.key)
    if tls.client_ca is not None:
        context.load_verify_locations(cafile=tls.client_ca)
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def client_tls_context(tls: TlsClient) -> ssl.SSLContext:
    """TLS towards a peer: trust its certificate if ``tls.ca`` signed it; our own certificate if given."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(tls.ca))
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if tls.cert is not None:
        context.load_cert_chain(certfile=tls.cert, keyfile=tls.key)
    return context


__all__ = ["client_tls_context", "no_delay", "server_tls_context"]
