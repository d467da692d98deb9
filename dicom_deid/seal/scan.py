"""Scanning a mapping file: parse records, check signatures, hash chains, counts and the index.

No private key is needed here; decrypting is :mod:`dicom_deid.seal.reader`'s job.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from dicom_deid.custodian import SignerPublicKey
from dicom_deid.errors import KeyMaterialError, SealError
from dicom_deid.seal.format import (
    _HEADER,
    _INDEX,
    _MAX_BODY,
    _REC,
    _SEGMENT,
    _SIG,
    _TRAILER,
    _U32,
    FORMAT_VERSION,
    MAGIC,
    _signed_message,
)


@dataclass(slots=True)
class _Record:
    kind: bytes
    offset: int
    meta: dict[str, Any]
    meta_bytes: bytes
    blob: bytes
    signature: bytes
    digest: str  # SHA-256 of the whole record


@dataclass(slots=True)
class _Segment:
    offset: int
    seq: int
    links: int
    digest: str


@dataclass(slots=True)
class _Part:
    name: str
    run_id: str
    header: _Record
    signer: SignerPublicKey
    recipient: str
    ephemeral: bytes
    segments: list[_Segment] = field(default_factory=list)
    links: int = 0
    trailer: _Record | None = None


@dataclass(slots=True)
class _Scan:
    path: Path
    parts: list[_Part]
    index: _Record | None
    tail_bytes: int  # bytes of an unfinished last record (crash mid-write)


def _get(rec: _Record, name: str, typ: type, path: Path) -> Any:
    value = rec.meta.get(name)
    if not isinstance(value, typ) or isinstance(value, bool):
        raise SealError(
            f"record at byte {rec.offset}: field {name!r} missing or malformed", path=path
        )
    return value


def _read_records(f: BinaryIO, path: Path) -> Iterator[_Record | int]:
    """Yield records; a final ``int`` is the size of an unfinished record at the end."""
    offset = len(MAGIC)
    while True:
        head = f.read(_REC.size)
        if not head:
            return
        if len(head) < _REC.size:
            yield len(head)
            return
        kind, size = _REC.unpack(head)
        if kind not in (_INDEX, _HEADER, _SEGMENT, _TRAILER):
            raise SealError(
                f"record at byte {offset}: unknown record type (file corrupted)", path=path
            )
        if size > _MAX_BODY or size < _U32.size + _SIG:
            raise SealError(
                f"record at byte {offset}: impossible length (file corrupted)", path=path
            )
        body = f.read(size)
        if len(body) < size:
            yield _REC.size + len(body)
            return
        (meta_len,) = _U32.unpack_from(body)
        if meta_len > size - _U32.size - _SIG:
            raise SealError(
                f"record at byte {offset}: impossible length (file corrupted)", path=path
            )
        meta_b = body[_U32.size : _U32.size + meta_len]
        blob = body[_U32.size + meta_len : -_SIG]
        try:
            meta = json.loads(meta_b)
        except (ValueError, UnicodeDecodeError):
            meta = None
        if not isinstance(meta, dict):
            raise SealError(f"record at byte {offset}: corrupted record (file modified)", path=path)
        yield _Record(
            kind, offset, meta, meta_b, blob, body[-_SIG:], hashlib.sha256(head + body).hexdigest()
        )
        offset += _REC.size + size


def _check_sig(rec: _Record, signer: SignerPublicKey, path: Path, where: str) -> None:
    if not signer.verify(
        rec.signature, _signed_message(rec.kind, rec.meta_bytes, hashlib.sha256(rec.blob).digest())
    ):
        raise SealError(
            f"{where}: signature does not verify (file modified or corrupted)", path=path
        )


def _signer_of(
    rec: _Record, path: Path, trusted: Collection[SignerPublicKey] | None, where: str
) -> SignerPublicKey:
    try:
        signer = SignerPublicKey.from_raw(
            base64.b64decode(_get(rec, "signer", str, path), validate=True)
        )
    except (KeyMaterialError, ValueError):
        raise SealError(f"{where}: signer key malformed (file corrupted)", path=path) from None
    _check_sig(rec, signer, path, where)
    if trusted is not None and signer.raw not in {t.raw for t in trusted}:
        raise SealError(
            f"{where}: signed by an untrusted pipeline key (fingerprint {signer.fingerprint}); "
            "pass --trust PATH/signing.pub if you trust that pipeline",
            path=path,
        )
    return signer


def _open_mapping_file(path: Path) -> BinaryIO:
    try:
        return open(path, "rb")
    except FileNotFoundError:
        raise SealError("mapping file not found", path=path) from None
    except OSError as exc:
        raise SealError(
            f"mapping file cannot be read ({exc.__class__.__name__})", path=path
        ) from None


def _scan(path: Path, trusted: Collection[SignerPublicKey] | None) -> _Scan:
    """Check signatures, chains and counts of every record; keep only what decrypting needs."""
    with _open_mapping_file(path) as f:
        if f.read(len(MAGIC)) != MAGIC:
            raise SealError(
                "not a dicom-deid mapping file (bad magic) or truncated before its header",
                path=path,
            )
        scan = _Scan(path, [], None, 0)
        part: _Part | None = None
        for rec in _read_records(f, path):
            if isinstance(rec, int):
                scan.tail_bytes = rec
                break
            if part is not None and part.trailer is None:
                _part_record(part, rec, path)
                continue
            if rec.kind == _INDEX and scan.index is None and not scan.parts:
                _signer_of(rec, path, trusted, "index")
                scan.index = rec
            elif rec.kind == _HEADER and (not scan.parts or scan.index is not None):
                part = _open_part(rec, path, trusted)
                scan.parts.append(part)
            elif rec.kind == _HEADER:
                raise SealError(
                    "several parts without a signed index: combine part files with "
                    "combine_parts, do not concatenate them",
                    path=path,
                )
            else:
                raise SealError(
                    f"record at byte {rec.offset}: unexpected {rec.kind.decode()} record "
                    "(records removed, duplicated or reordered)",
                    path=path,
                )
    if not scan.parts:
        raise SealError("no part header: file truncated or not a mapping file", path=path)
    if scan.index is not None:
        _check_index(scan, path)
    elif scan.parts[0].trailer is not None and scan.tail_bytes:
        raise SealError("data after the run trailer (file modified)", path=path)
    return scan


def _open_part(rec: _Record, path: Path, trusted: Collection[SignerPublicKey] | None) -> _Part:
    where = f"part header at byte {rec.offset}"
    signer = _signer_of(rec, path, trusted, where)
    if rec.meta.get("format") != "dicom-deid mapping" or rec.meta.get("version") != FORMAT_VERSION:
        raise SealError(f"{where}: unsupported mapping format or version", path=path)
    try:
        ephemeral = base64.b64decode(_get(rec, "ephemeral", str, path), validate=True)
    except ValueError:
        raise SealError(f"{where}: ephemeral key malformed", path=path) from None
    return _Part(
        _get(rec, "part", str, path),
        _get(rec, "run_id", str, path),
        rec,
        signer,
        _get(rec, "recipient", str, path),
        ephemeral,
    )


def _part_record(part: _Part, rec: _Record, path: Path) -> None:
    n = len(part.segments) + 1
    where = (
        f"part {part.name!r} segment {n} (byte {rec.offset})"
        if rec.kind == _SEGMENT
        else f"part {part.name!r} trailer (byte {rec.offset})"
    )
    if rec.kind not in (_SEGMENT, _TRAILER):
        raise SealError(
            f"part {part.name!r}: unexpected record at byte {rec.offset} before its trailer "
            "(records removed or inserted)",
            path=path,
        )
    _check_sig(rec, part.signer, path, where)
    last = part.segments[-1].digest if part.segments else part.header.digest
    if (_get(rec, "run_id", str, path), _get(rec, "part", str, path)) != (
        part.run_id,
        part.name,
    ) or _get(rec, "header", str, path) != part.header.digest:
        raise SealError(
            f"{where}: belongs to another run or part (segments moved between files)", path=path
        )
    if rec.kind == _SEGMENT:
        seq, links = _get(rec, "seq", int, path), _get(rec, "links", int, path)
        if links < 0:
            raise SealError(f"{where}: negative link count", path=path)
        if seq != n or _get(rec, "prev", str, path) != last:
            raise SealError(
                f"{where}: segment chain broken (expected segment {n}, found {seq}): "
                "segments removed, duplicated or reordered",
                path=path,
            )
        part.segments.append(_Segment(rec.offset, seq, links, rec.digest))
        part.links += links
        return
    if (
        _get(rec, "segments", int, path),
        _get(rec, "links", int, path),
        _get(rec, "last", str, path),
    ) != (len(part.segments), part.links, last):
        raise SealError(
            f"{where}: counts do not match the segments present "
            "(segments removed or file truncated)",
            path=path,
        )
    part.trailer = rec


def _check_index(scan: _Scan, path: Path) -> None:
    assert scan.index is not None
    listed = scan.index.meta.get("parts")
    found = [
        {
            "part": p.name,
            "header": p.header.digest,
            "trailer": p.trailer.digest if p.trailer else None,
        }
        for p in scan.parts
    ]
    if listed != found or scan.tail_bytes:
        raise SealError(
            "combined file does not match its signed index of parts "
            "(parts removed, added, reordered, truncated or modified)",
            path=path,
        )
    if any(p.run_id != _get(scan.index, "run_id", str, path) for p in scan.parts):
        raise SealError("combined file holds parts of another run", path=path)


# --------------------------------------------------------------------------- public reading API
