"""Reading sealed mappings: :func:`verify_mapping`, :func:`open_mapping`, :class:`MappingView`, CSV export."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zlib
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Literal

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from dicom_deid.custodian import CustodianPrivateKey, SignerPublicKey
from dicom_deid.errors import KeyMaterialError, SealError
from dicom_deid.links import Link, LinkKind
from dicom_deid.seal.files import _write_atomic
from dicom_deid.seal.format import (
    _DOMAIN,
    _HEADER,
    _REC,
    _SEGMENT,
    _SIG,
    _U32,
    _content_key,
    _nonce,
)
from dicom_deid.seal.scan import _open_mapping_file, _Part, _Scan, _scan, _Segment


@dataclass(frozen=True, slots=True)
class PartReport:
    part: str
    signer: str  # fingerprint
    recipient: str  # custodian key fingerprint
    segments: int
    links: int
    complete: bool
    created: str
    closed: str | None


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """Result of :func:`verify_mapping`: counts and fingerprints only, no link values."""

    path: Path
    ok: bool
    complete: bool
    run_id: str | None = None
    parts: tuple[PartReport, ...] = ()
    problems: tuple[str, ...] = ()
    signer_trusted: bool | None = None  # None: trust not checked

    @property
    def links(self) -> int:
        return sum(p.links for p in self.parts)

    def describe(self) -> str:
        if not self.ok:
            return f"{self.path}: FAILED: {self.problems[0]}"
        signers = ", ".join(sorted({p.signer for p in self.parts}))
        trust = {True: "trusted", False: "untrusted", None: "trust not checked"}[
            self.signer_trusted
        ]
        return (
            f"{self.path}: OK: run {self.run_id}, {len(self.parts)} part(s), "
            f"{sum(p.segments for p in self.parts)} segments, {self.links} links, complete; "
            f"signed by {signers} ({trust})"
        )


def _part_report(p: _Part) -> PartReport:
    return PartReport(
        p.name,
        p.signer.fingerprint,
        p.recipient,
        len(p.segments),
        p.links,
        p.trailer is not None,
        str(p.header.meta.get("created", "")),
        str(p.trailer.meta.get("closed")) if p.trailer else None,
    )


def _incomplete(scan: _Scan) -> str | None:
    part = scan.parts[-1]
    if part.trailer is not None:
        return None
    tail = f"; {scan.tail_bytes} bytes of an unfinished segment ignored" if scan.tail_bytes else ""
    return (
        f"incomplete run: part {part.name!r} has no trailer ({len(part.segments)} finished segments, "
        f"{part.links} links readable{tail}); the run did not finish or the file was truncated"
    )


def verify_mapping(
    path: Path, trusted_signers: Collection[SignerPublicKey] | None = None
) -> VerifyReport:
    """Check signatures, hash chains and completeness; no private key needed.

    ``trusted_signers=None`` checks integrity only (any signer whose signatures
    verify); the CLI always passes the trusted pipeline keys.  Never raises for
    a bad file: the problem is in ``problems`` and ``ok`` is false.
    """
    path = Path(path)
    try:
        scan = _scan(path, trusted_signers)
    except SealError as exc:
        return VerifyReport(path, ok=False, complete=False, problems=(exc.message,))
    parts = tuple(_part_report(p) for p in scan.parts)
    problem = _incomplete(scan)
    return VerifyReport(
        path,
        ok=problem is None,
        complete=problem is None,
        run_id=scan.parts[0].run_id,
        parts=parts,
        problems=(problem,) if problem else (),
        signer_trusted=None if trusted_signers is None else True,
    )


@dataclass(frozen=True, slots=True)
class RunSummary:
    """One mapping file as opened by the custodian."""

    path: Path
    run_id: str
    parts: tuple[str, ...]
    complete: bool
    segments: int
    links: int
    signers: tuple[str, ...]
    recipient: str
    created: str
    closed: str | None
    run_info: Mapping[str, Any] = field(repr=False)


@dataclass(frozen=True, slots=True)
class LookupHit:
    run_id: str
    link: Link
    matched: Literal["original", "replacement"]


@dataclass(slots=True)
class _OpenPart:
    part: _Part
    aead: AESGCM = field(repr=False)


class MappingView:
    """Decrypting reader over one or more verified mapping files; links are streamed per segment."""

    def __init__(self, runs: Sequence[tuple[RunSummary, list[_OpenPart]]]) -> None:
        self._runs = list(runs)
        self.runs: tuple[RunSummary, ...] = tuple(r for r, _ in runs)

    def __repr__(self) -> str:
        return f"MappingView({len(self.runs)} run(s))"

    def links(self, run: RunSummary | None = None) -> Iterator[Link]:
        """Every link, in write order; only ``run`` when given."""
        for _, link in self.entries(run):
            yield link

    def entries(self, only: RunSummary | None = None) -> Iterator[tuple[str, Link]]:
        """``(run_id, link)`` for every link, in write order; only run ``only`` when given."""
        for summary, parts in self._runs:
            if only is not None and summary is not only:
                continue
            with _open_mapping_file(summary.path) as f:
                for op in parts:
                    for seg in op.part.segments:
                        for link in _decrypt_segment(f, summary.path, op, seg):
                            yield summary.run_id, link

    def lookup(self, value: str) -> list[LookupHit]:
        """Links whose original or replacement equals ``value``, in every run."""
        hits = []
        for run_id, link in self.entries():
            if link.original == value:
                hits.append(LookupHit(run_id, link, "original"))
            elif link.replacement == value:
                hits.append(LookupHit(run_id, link, "replacement"))
        return hits


def _decrypt_segment(f: BinaryIO, path: Path, op: _OpenPart, seg: _Segment) -> list[Link]:
    f.seek(seg.offset)
    head = f.read(_REC.size)
    size = _REC.unpack(head)[1] if len(head) == _REC.size else 0
    body = f.read(size)
    where = f"part {op.part.name!r} segment {seg.seq}"
    if hashlib.sha256(head + body).hexdigest() != seg.digest:
        raise SealError(f"{where}: changed since it was verified", path=path)
    (meta_len,) = _U32.unpack_from(body)
    meta_b = body[_U32.size : _U32.size + meta_len]
    try:
        plain = op.aead.decrypt(
            _nonce(seg.seq), body[_U32.size + meta_len : -_SIG], _DOMAIN + _SEGMENT + meta_b
        )
        rows = json.loads(zlib.decompress(plain))
        links = [Link(LinkKind(r[0]), *r[1:6]) for r in rows]
    except InvalidTag:
        raise SealError(
            f"{where}: cannot be decrypted (wrong key or corrupted)", path=path
        ) from None
    except (ValueError, TypeError, IndexError, zlib.error):
        raise SealError(
            f"{where}: content malformed (written by a newer or broken version?)", path=path
        ) from None
    if len(links) != seg.links:
        raise SealError(f"{where}: link count does not match its signed header", path=path)
    return links


def _open_part_key(part: _Part, key: CustodianPrivateKey, path: Path) -> _OpenPart:
    if part.recipient != key.fingerprint:
        raise KeyMaterialError(
            f"wrong key: part {part.name!r} is sealed to custodian key {part.recipient}, "
            f"this private key is {key.fingerprint}",
            path=path,
        )
    try:
        shared = key.private.exchange(X25519PublicKey.from_public_bytes(part.ephemeral))
    except ValueError:
        raise SealError(f"part {part.name!r}: ephemeral key invalid", path=path) from None
    return _OpenPart(part, _content_key(shared, part.ephemeral, key.recipient.raw))


def open_mapping(
    paths: Sequence[Path],
    private_key: CustodianPrivateKey,
    *,
    trusted_signers: Collection[SignerPublicKey] | None = None,
    allow_incomplete: bool = False,
) -> MappingView:
    """Verify every file fully, then return a view that decrypts links segment by segment.

    Raises SealError on any tampering, on an incomplete run unless
    ``allow_incomplete``, and when the same part is given twice;
    KeyMaterialError for a wrong private key.
    """
    runs: list[tuple[RunSummary, list[_OpenPart]]] = []
    seen: set[str] = set()
    for path in map(Path, paths):
        scan = _scan(path, trusted_signers)
        problem = _incomplete(scan)
        if problem and not allow_incomplete:
            raise SealError(
                problem + "; pass --allow-incomplete to read the finished segments", path=path
            )
        opened = []
        for part in scan.parts:
            if part.header.digest in seen:
                raise SealError(
                    f"part {part.name!r} of run {part.run_id} given twice "
                    "(same file, or a part file and its combined file)",
                    path=path,
                )
            seen.add(part.header.digest)
            opened.append(_open_part_key(part, private_key, path))
        first = opened[0]
        meta_b = first.part.header.meta_bytes
        try:
            info = json.loads(
                first.aead.decrypt(_nonce(0), first.part.header.blob, _DOMAIN + _HEADER + meta_b)
            )
        except InvalidTag:
            raise SealError(
                "run info cannot be decrypted (wrong key or corrupted)", path=path
            ) from None
        reports = [_part_report(p) for p in scan.parts]
        runs.append(
            (
                RunSummary(
                    path,
                    scan.parts[0].run_id,
                    tuple(r.part for r in reports),
                    problem is None,
                    sum(r.segments for r in reports),
                    sum(r.links for r in reports),
                    tuple(sorted({r.signer for r in reports})),
                    reports[0].recipient,
                    reports[0].created,
                    max((r.closed for r in reports if r.closed), default=None),
                    info,
                ),
                opened,
            )
        )
    return MappingView(runs)


def export_csv(view: MappingView, out: Path) -> int:
    """Write every link as a CSV row (mode 0600, no overwrite); return the number of rows."""
    rows = 0

    def fill(raw: BinaryIO) -> None:
        nonlocal rows
        text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
        writer = csv.writer(text)
        writer.writerow(["run_id", "kind", "original", "replacement", "patient", "study", "series"])
        for run_id, link in view.entries():
            writer.writerow(
                [
                    run_id,
                    link.kind.value,
                    link.original,
                    link.replacement,
                    link.patient,
                    link.study,
                    link.series,
                ]
            )
            rows += 1
        text.flush()
        text.detach()

    _write_atomic(Path(out), fill)
    return rows
