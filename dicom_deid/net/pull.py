"""Pulling from a PACS: C-FIND the studies, retrieve them (C-GET, or C-MOVE to our own SCP),
and hand every instance to the node, as if it had been sent to ``serve``.

Query values (patient IDs, dates) are PHI: they go to the PACS and nowhere else, never to logs.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataset import Dataset
from pydicom.uid import (
    JPEG2000,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
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
from pynetdicom import AE, StoragePresentationContexts, build_context, build_role, evt
from pynetdicom.association import Association
from pynetdicom.events import Event
from pynetdicom.presentation import PresentationContext
from pynetdicom.sop_class import (  # type: ignore[attr-defined]
    StudyRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelGet,
    StudyRootQueryRetrieveInformationModelMove,
)

from dicom_deid.errors import ConfigError, DeidError
from dicom_deid.net.config import Peer, Retrieve
from dicom_deid.net.node import Node
from dicom_deid.net.transport import no_delay

logger = logging.getLogger(__name__)

#: Transfer syntaxes proposed per SOP class for C-GET, most useful first: when a study has many
#: SOP classes, the tail is dropped to stay within 128 presentation contexts.
_GET_SYNTAXES: tuple[str, ...] = (
    ExplicitVRLittleEndian, ImplicitVRLittleEndian, RLELossless, JPEG2000Lossless, JPEGLosslessSV1,
    JPEGLSLossless, JPEGBaseline8Bit, DeflatedExplicitVRLittleEndian, JPEG2000, JPEGExtended12Bit,
    JPEGLSNearLossless, JPEGLossless, ExplicitVRBigEndian,
)
_PENDING = frozenset({0xFF00, 0xFF01})


class PullError(DeidError):
    """The PACS could not be queried or refused the retrieve."""


@dataclass(frozen=True, slots=True)
class Retrieved:
    """The final C-GET / C-MOVE response of one study: sub-operation counts from the PACS."""

    completed: int
    failed: int
    warning: int
    status: int


def parse_query(text: str) -> tuple[tuple[str, str], ...]:
    """``"PatientID=123,StudyDate=20240101-20240131"`` -> ((keyword, value), ...), keywords checked."""
    pairs = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        keyword, sep, value = part.partition("=")
        keyword = keyword.strip()
        if not sep or not keyword:
            raise ConfigError(f"--query item {keyword or part[:20]!r}... must look like KEYWORD=VALUE")
        if tag_for_keyword(keyword) is None:
            raise ConfigError(f"--query: unknown attribute keyword {keyword!r} (use DICOM keywords, e.g. "
                              "PatientID, StudyDate, AccessionNumber, ModalitiesInStudy)")
        if keyword in ("QueryRetrieveLevel", "StudyInstanceUID"):
            raise ConfigError(f"--query: {keyword} is set by pull itself (use --study UID for studies)")
        pairs.append((keyword, value.strip()))
    if not pairs:
        raise ConfigError("--query is empty: give KEYWORD=VALUE pairs separated by commas")
    return tuple(pairs)


class Puller:
    """Query/retrieve against one PACS on behalf of ``node`` (started; listening for C-MOVE)."""

    def __init__(self, source: Peer, node: Node, *, tls: ssl.SSLContext | None = None) -> None:
        self.source = source
        self.node = node
        self._tls = tls
        self._ae = AE(ae_title=node.config.ae_title)
        self._ae.acse_timeout = 30
        self._ae.dimse_timeout = 120
        self._ae.network_timeout = 120
        self._ae.connection_timeout = 10

    def close(self) -> None:
        self._ae.shutdown()

    def _associate(self, contexts: list[PresentationContext], *, ext_neg: list[Any] | None = None,
                   handlers: list[Any] | None = None) -> Association:
        tls_args = (self._tls, self.source.host) if self._tls is not None else None
        assoc = self._ae.associate(self.source.host, self.source.port, contexts=contexts,
                                   ae_title=self.source.ae_title, ext_neg=ext_neg,
                                   evt_handlers=[(evt.EVT_CONN_OPEN, no_delay), *(handlers or [])],
                                   tls_args=tls_args)
        if not assoc.is_established:
            why = "rejected the association" if assoc.is_rejected else "cannot be reached"
            raise PullError(f"{self.source} {why} (check its address, AE titles and that it knows "
                            f"{self.node.config.ae_title})")
        return assoc

    def find_studies(self, query: Iterable[tuple[str, str]]) -> list[str]:
        """Study Instance UIDs matching ``query`` (C-FIND, Study Root, STUDY level)."""
        ident = _identifier("STUDY", query)
        ident.StudyInstanceUID = ""
        return sorted({str(r.StudyInstanceUID) for r in self._find(ident) if r.get("StudyInstanceUID")})

    def sop_classes(self, study_uid: str) -> list[str]:
        """SOP classes in a study (SOPClassesInStudy, or the IMAGE-level SOPClassUID of each instance)."""
        ident = _identifier("STUDY", [("StudyInstanceUID", study_uid)])
        ident.SOPClassesInStudy = ""
        found = {str(v) for r in self._find(ident) for v in _values(r.get("SOPClassesInStudy"))}
        if not found:
            ident = _identifier("IMAGE", [("StudyInstanceUID", study_uid)])
            ident.SeriesInstanceUID = ident.SOPInstanceUID = ident.SOPClassUID = ""
            found = {str(r.SOPClassUID) for r in self._find(ident) if r.get("SOPClassUID")}
        return sorted(found)

    def _find(self, ident: Dataset) -> Iterator[Dataset]:
        assoc = self._associate([build_context(StudyRootQueryRetrieveInformationModelFind)])
        try:
            for status, identifier in assoc.send_c_find(ident, StudyRootQueryRetrieveInformationModelFind):
                code = int(status.Status) if status is not None and "Status" in status else None
                if code in _PENDING and identifier is not None:
                    yield identifier
                elif code != 0x0000:
                    raise PullError(f"{self.source} answered the query with "
                                    f"{'no response' if code is None else f'status 0x{code:04X}'}")
        finally:
            assoc.release()

    def retrieve(self, study_uid: str, how: Retrieve) -> Retrieved:
        ident = _identifier("STUDY", [("StudyInstanceUID", study_uid)])
        if how is Retrieve.GET:
            return self._get(study_uid, ident)
        return self._move(ident)

    def _get(self, study_uid: str, ident: Dataset) -> Retrieved:
        classes = self.sop_classes(study_uid) or [str(c.abstract_syntax) for c in StoragePresentationContexts]
        per_class = max(1, min(len(_GET_SYNTAXES), 127 // max(1, len(classes))))
        classes = classes[:127]
        contexts = [build_context(StudyRootQueryRetrieveInformationModelGet)]
        contexts += [build_context(uid, ts) for uid in classes for ts in _GET_SYNTAXES[:per_class]][:127]
        roles = [build_role(uid, scp_role=True) for uid in classes]
        assoc = self._associate(contexts, ext_neg=roles, handlers=[(evt.EVT_C_STORE, self._store)])
        try:
            return _final(self.source, assoc.send_c_get(ident, StudyRootQueryRetrieveInformationModelGet))
        finally:
            assoc.release()

    def _move(self, ident: Dataset) -> Retrieved:
        assoc = self._associate([build_context(StudyRootQueryRetrieveInformationModelMove)])
        try:
            return _final(self.source, assoc.send_c_move(ident, self.node.config.ae_title,
                                                         StudyRootQueryRetrieveInformationModelMove))
        finally:
            assoc.release()

    def _store(self, event: Event) -> int:
        return self.node.accept(self.source.ae_title, event.encoded_dataset(include_meta=True))


def _identifier(level: str, keys: Iterable[tuple[str, str]]) -> Dataset:
    ident = Dataset()
    ident.QueryRetrieveLevel = level
    for keyword, value in keys:
        vr = dictionary_VR(keyword)
        if vr == "SQ":
            raise ConfigError(f"--query: {keyword} is a sequence; query on plain attributes")
        setattr(ident, keyword, value)
    return ident


def _values(value: object) -> list[str]:
    """A multi-valued element's values (pydicom gives a str for one value, a MultiValue for more)."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]  # type: ignore[attr-defined]


def _final(source: Peer, responses: Iterator[tuple[Dataset, Dataset | None]]) -> Retrieved:
    last: Dataset | None = None
    for status, _identifier_ in responses:
        if status is None or "Status" not in status:
            raise PullError(f"{source} stopped answering the retrieve (no response)")
        last = status
    if last is None:
        raise PullError(f"{source} sent no response to the retrieve")
    code = int(last.Status)
    counts = [int(last.get(k, 0) or 0) for k in ("NumberOfCompletedSuboperations",
                                                  "NumberOfFailedSuboperations",
                                                  "NumberOfWarningSuboperations")]
    if code not in (0x0000, 0xB000) and not any(counts):
        raise PullError(f"{source} refused the retrieve (status 0x{code:04X})")
    return Retrieved(counts[0], counts[1], counts[2], code)


__all__ = ["PullError", "Puller", "Retrieved", "parse_query"]
