"""Sealed mapping file: every original-to-pseudonym link, encrypted to the custodian and signed.

This is the only module that sees plaintext links.  It never logs them and
never writes inside the output folder.  The pipeline holds only the custodian's
*public* key, so the pipeline machine, the output folder and anyone holding a
copy of the file learn nothing without the custodian's private key.

File format, version 1 (``.ddmap``)::

    file      = MAGIC record*
    record    = kind (1 byte) | body length (u32 BE) | body
    body      = meta length (u32 BE) | meta (UTF-8 JSON) | blob | Ed25519 signature (64 bytes)
    signature over DOMAIN | kind | meta length | meta | SHA-256(blob)

    one part:  MAGIC H S* T        no T: "incomplete run" (crash), finished segments readable
    combined:  MAGIC I (H S* T)+   I lists each part's header and trailer digest

* ``H`` part header. meta: run_id, part, created, recipient (custodian key
  fingerprint), ephemeral X25519 public key, signer Ed25519 public key.  blob:
  the run info (profile, options) sealed with nonce 0.
* ``S`` segment. meta: run_id, part, seq (1, 2, ...), links, header (digest of
  the H record), prev (digest of the part's previous record): a signed hash
  chain, so removal, insertion, duplication and reordering break it.  blob:
  AES-256-GCM(zlib(JSON links)), nonce = seq, associated data = kind + meta.
* ``T`` trailer. meta: segment and link counts, digest of the last record.
* ``I`` index, written by :func:`combine_parts` (no decryption) and signed by
  the combining pipeline key: the exact list of parts, so dropping a part is
  detected too.

The content key of each part is HKDF-SHA256 over X25519(fresh ephemeral key,
custodian key); record digests are SHA-256 of the whole record bytes.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import os
import re
import secrets
import struct
import zlib
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO, Literal, Self

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from dicom_deid.custodian import (
    CUSTODIAN_DIR_NAME,
    DEFAULT_CUSTODIAN_NAME,
    CustodianPrivateKey,
    RecipientKey,
    SignerPublicKey,
    SigningKey,
    generate_custodian_keys,
    load_or_create_signing_key,
    load_recipient_key,
)
from dicom_deid.errors import ConfigError, KeyMaterialError, SealError
from dicom_deid.links import Link, LinkKind

MAGIC = b"DDMAP\x00\x01\n"
FORMAT_VERSION = 1
MAPPING_SUFFIX = ".ddmap"
DEFAULT_SEGMENT_LINKS = 1000
_DOMAIN = b"dicom-deid mapping v1\x00"
_INDEX, _HEADER, _SEGMENT, _TRAILER = b"I", b"H", b"S", b"T"
_REC = struct.Struct(">cI")
_U32 = struct.Struct(">I")
_SIG = 64
_MAX_BODY = 64 << 20  # a corrupt length must not make us allocate gigabytes
_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _nonce(seq: int) -> bytes:
    return bytes(4) + seq.to_bytes(8, "big")


def _content_key(shared: bytes, ephemeral: bytes, recipient: bytes) -> AESGCM:
    hkdf = HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=None,
        info=_DOMAIN + b"content key\x00" + ephemeral + recipient,
    )
    return AESGCM(hkdf.derive(shared))


def _signed_message(kind: bytes, meta: bytes, blob_digest: bytes) -> bytes:
    return _DOMAIN + kind + _U32.pack(len(meta)) + meta + blob_digest


def _meta_bytes(meta: Mapping[str, Any]) -> bytes:
    return json.dumps(meta, sort_keys=True, separators=(",", ":")).encode("utf-8")


def _encode_record(kind: bytes, meta_b: bytes, blob: bytes, signer: SigningKey) -> bytes:
    sig = signer.sign(_signed_message(kind, meta_b, hashlib.sha256(blob).digest()))
    body = _U32.pack(len(meta_b)) + meta_b + blob + sig
    return _REC.pack(kind, len(body)) + body


def _encode_links(links: Sequence[Link]) -> bytes:
    rows = [[k.kind.value, k.original, k.replacement, k.patient, k.study, k.series] for k in links]
    return zlib.compress(json.dumps(rows, separators=(",", ":")).encode("ascii"), 1)


def _inside(path: Path, folder: Path) -> bool:
    target, out = Path(path).resolve(), Path(folder).resolve()
    return target == out or out in target.parents


def check_mapping_location(path: Path, output_dir: Path) -> None:
    """Refuse a mapping file inside (or equal to) the output folder."""
    if _inside(path, output_dir):
        raise ConfigError(
            f"mapping file {path} is inside the output folder {output_dir}; write it elsewhere "
            "(the mapping must never travel with the de-identified data)"
        )


def _check_id(value: str, what: str) -> str:
    if not _ID_RE.fullmatch(value):
        raise ConfigError(f"{what} {value!r} must be 1-128 letters, digits, '.', '_' or '-'")
    return value


def _create_exclusive(path: Path) -> BinaryIO:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise ConfigError(
            "file already exists; refusing to overwrite (choose another path)", path=path
        ) from None
    os.fchmod(fd, 0o600)  # whatever the umask
    return os.fdopen(fd, "wb")


def _write_atomic(
    out: Path, fill: Callable[[BinaryIO], None], check: Callable[[Path], object] | None = None
) -> None:
    """Create ``out`` (0600) complete or not at all: temp file, fsync, hard link (never clobbers)."""
    if out.exists():
        raise ConfigError(
            "file already exists; refusing to overwrite (choose another path)", path=out
        )
    tmp = out.with_name(f".{out.name}.{secrets.token_hex(4)}.tmp")
    try:
        with _create_exclusive(tmp) as f:
            fill(f)
            f.flush()
            os.fsync(f.fileno())
        if check is not None:
            check(tmp)
        try:
            os.link(tmp, out)
        except FileExistsError:
            raise ConfigError(
                "file already exists; refusing to overwrite (choose another path)", path=out
            ) from None
        _fsync_dir(out.parent)
    finally:
        tmp.unlink(missing_ok=True)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class MappingWriter:
    """Streams links into a sealed part file.  One writer per part; not thread-safe.

    Use :meth:`create` as a context manager.  Links are buffered and sealed in
    segments of ``segment_links``; each segment is signed, appended and fsynced,
    so memory stays flat and a crash loses at most the unsealed buffer.
    :meth:`close` writes the "run complete" trailer; leaving the ``with`` block
    through an exception seals the buffer but writes no trailer, so readers
    report an incomplete run.
    """

    def __init__(
        self,
        *,
        _file: BinaryIO,
        path: Path,
        header: bytes,
        aead: AESGCM,
        signer: SigningKey,
        run_id: str,
        part: str,
        recipient_fingerprint: str,
        segment_links: int,
    ) -> None:
        self.path = path
        self.run_id = run_id
        self.part = part
        self.recipient_fingerprint = recipient_fingerprint
        self.segments_written = 0
        self.links_written = 0
        self._file: BinaryIO | None = _file
        self._aead = aead
        self._signer = signer
        self._segment_links = segment_links
        self._header_digest = hashlib.sha256(header).hexdigest()
        self._last = self._header_digest
        self._buffer: list[Link] = []

    @classmethod
    def create(
        cls,
        path: Path,
        recipient: RecipientKey,
        signer: SigningKey,
        run_id: str,
        run_info: Mapping[str, object],
        *,
        part: str = "main",
        segment_links: int = DEFAULT_SEGMENT_LINKS,
        output_dir: Path | None = None,
    ) -> MappingWriter:
        """Create ``path`` (mode 0600, never overwritten) and write the signed part header."""
        _check_id(run_id, "run id")
        _check_id(part, "part name")
        if segment_links < 1:
            raise ConfigError("segment_links must be at least 1")
        if output_dir is not None:
            check_mapping_location(path, output_dir)
        ephemeral = X25519PrivateKey.generate()
        eph_raw = ephemeral.public_key().public_bytes_raw()
        aead = _content_key(ephemeral.exchange(recipient.public), eph_raw, recipient.raw)
        del ephemeral
        meta = {
            "format": "dicom-deid mapping",
            "version": FORMAT_VERSION,
            "run_id": run_id,
            "part": part,
            "created": _now(),
            "recipient": recipient.fingerprint,
            "ephemeral": _b64(eph_raw),
            "signer": _b64(signer.public.raw),
            "cipher": "X25519-HKDF-SHA256/AES-256-GCM/Ed25519",
        }
        meta_b = _meta_bytes(meta)
        info = json.dumps(dict(run_info), sort_keys=True, default=str).encode("utf-8")
        blob = aead.encrypt(_nonce(0), info, _DOMAIN + _HEADER + meta_b)
        header = _encode_record(_HEADER, meta_b, blob, signer)
        f = _create_exclusive(Path(path))
        try:
            f.write(MAGIC + header)
            f.flush()
            os.fsync(f.fileno())
            _fsync_dir(Path(path).parent)
        except BaseException:
            f.close()
            raise
        return cls(
            _file=f,
            path=Path(path),
            header=header,
            aead=aead,
            signer=signer,
            run_id=run_id,
            part=part,
            recipient_fingerprint=recipient.fingerprint,
            segment_links=segment_links,
        )

    def add(self, links: Iterable[Link]) -> None:
        """Buffer links; seal a segment each time ``segment_links`` are buffered."""
        if self._file is None:
            raise SealError("mapping writer is closed", path=self.path)
        for link in links:
            self._buffer.append(link)
            if len(self._buffer) >= self._segment_links:
                self._seal_segment()

    def flush(self) -> None:
        """Seal whatever is buffered now (e.g. on a timer), even a short segment."""
        if self._file is not None and self._buffer:
            self._seal_segment()

    def _write(self, record: bytes) -> None:
        assert self._file is not None
        try:
            self._file.write(record)
            self._file.flush()
            os.fsync(self._file.fileno())
        except OSError as exc:  # disk full, I/O error: stop here, never append after a torn record
            self._file.close()
            self._file = None
            raise SealError(
                f"cannot write the mapping file ({exc.__class__.__name__}: {exc.strerror}); "
                f"it holds {self.segments_written} finished segments and will read as an "
                "incomplete run",
                path=self.path,
            ) from None
        self._last = hashlib.sha256(record).hexdigest()

    def _seal_segment(self) -> None:
        links, self._buffer = self._buffer, []
        seq = self.segments_written + 1
        meta = {
            "run_id": self.run_id,
            "part": self.part,
            "seq": seq,
            "links": len(links),
            "header": self._header_digest,
            "prev": self._last,
        }
        meta_b = _meta_bytes(meta)
        blob = self._aead.encrypt(_nonce(seq), _encode_links(links), _DOMAIN + _SEGMENT + meta_b)
        self._write(_encode_record(_SEGMENT, meta_b, blob, self._signer))
        self.segments_written = seq
        self.links_written += len(links)

    def close(self) -> None:
        """Seal the buffer and write the signed trailer: the run is complete."""
        if self._file is None:
            return
        try:
            self.flush()
            if self._file is None:  # a failed write closed it
                return
            meta = {
                "run_id": self.run_id,
                "part": self.part,
                "header": self._header_digest,
                "segments": self.segments_written,
                "links": self.links_written,
                "last": self._last,
                "closed": _now(),
            }
            self._write(_encode_record(_TRAILER, _meta_bytes(meta), b"", self._signer))
        finally:
            if self._file is not None:
                self._file.close()
                self._file = None

    def abort(self) -> None:
        """Seal the buffer but write no trailer: readers will report an incomplete run."""
        if self._file is None:
            return
        try:
            self.flush()
        finally:
            if self._file is not None:
                self._file.close()
                self._file = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


# --------------------------------------------------------------------------- reading


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


# --------------------------------------------------------------------------- combine, export, run setup


def combine_parts(
    parts: Sequence[Path],
    out: Path,
    *,
    signer: SigningKey,
    trusted_signers: Collection[SignerPublicKey] | None = None,
    output_dir: Path | None = None,
) -> None:
    """Join complete part files of one run into ``out`` without decrypting anything.

    The parts' records are copied byte for byte (their signatures and chains
    survive) behind an index record, signed by ``signer``, that lists every
    part's header and trailer digest.  ``out`` is created 0600 atomically.
    """
    if not parts:
        raise ConfigError("no part files to combine")
    out = Path(out)
    if output_dir is not None:
        check_mapping_location(out, output_dir)
    scans = [_scan(Path(p), trusted_signers) for p in parts]
    for scan in scans:
        problem = _incomplete(scan)
        if problem:
            raise SealError(problem, path=scan.path)
        if scan.index is not None:
            raise SealError(
                "already a combined file; combine the original part files", path=scan.path
            )
    run_ids = {s.parts[0].run_id for s in scans}
    recipients = {s.parts[0].recipient for s in scans}
    names = [s.parts[0].name for s in scans]
    if len(run_ids) != 1 or len(recipients) != 1:
        raise SealError(
            "part files belong to different runs or custodian keys; combine one run at a time"
        )
    if len(set(names)) != len(names):
        raise SealError("two part files have the same part name (a part given twice?)")
    meta = {
        "run_id": run_ids.pop(),
        "recipient": recipients.pop(),
        "signer": _b64(signer.public.raw),
        "created": _now(),
        "parts": [
            {
                "part": s.parts[0].name,
                "header": s.parts[0].header.digest,
                "trailer": s.parts[0].trailer.digest if s.parts[0].trailer else None,
            }
            for s in scans
        ],
    }

    def fill(dst: BinaryIO) -> None:
        dst.write(MAGIC + _encode_record(_INDEX, _meta_bytes(meta), b"", signer))
        for scan in scans:
            with open(scan.path, "rb") as src:
                src.seek(len(MAGIC))
                while chunk := src.read(1 << 20):
                    dst.write(chunk)

    # a part that changed while being copied fails here, not at the custodian's
    _write_atomic(out, fill, check=lambda tmp: _scan(tmp, None))


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


def default_mapping_path(key_dir: Path, run_id: str) -> Path:
    return Path(key_dir) / "mappings" / f"{_check_id(run_id, 'run id')}{MAPPING_SUFFIX}"


def prepare_run_mapping(
    *,
    recipient: Path | None,
    mapping: Path | None,
    output_dir: Path,
    key_dir: Path,
    run_id: str,
    run_info: Mapping[str, object],
    warn: Callable[[str], None],
) -> MappingWriter:
    """Open the run's mapping writer, as ``dicom-deid run`` needs it.

    Without ``recipient`` a local custodian pair is created once under
    ``key_dir/custodian/`` and ``warn`` is called once per run while its private
    key is still on this machine.  Without ``mapping`` the file goes to
    ``key_dir/mappings/<run_id>.ddmap``.  Neither may lie inside ``output_dir``.
    """
    key_dir = Path(key_dir)
    if _inside(key_dir, output_dir):
        raise ConfigError(
            f"key folder {key_dir} is inside the output folder {output_dir}; "
            "keys must never travel with the de-identified data"
        )
    if recipient is None:
        local = key_dir / CUSTODIAN_DIR_NAME
        pub, key = local / f"{DEFAULT_CUSTODIAN_NAME}.pub", local / f"{DEFAULT_CUSTODIAN_NAME}.key"
        if not pub.exists():
            try:
                generate_custodian_keys(local, name=DEFAULT_CUSTODIAN_NAME)
            except KeyMaterialError:
                if not pub.exists():  # not a concurrent first run: a real failure
                    raise
        if key.exists():
            warn(
                f"no --recipient: the mapping is sealed to a local custodian key; move {key} off this "
                "machine (whoever holds it can re-identify the data) and keep "
                f"{pub} for --recipient"
            )
        recipient = pub
    target = Path(mapping) if mapping is not None else default_mapping_path(key_dir, run_id)
    check_mapping_location(target, output_dir)
    return MappingWriter.create(
        target,
        load_recipient_key(Path(recipient)),
        load_or_create_signing_key(key_dir),
        run_id,
        run_info,
    )


__all__ = [
    "DEFAULT_SEGMENT_LINKS",
    "FORMAT_VERSION",
    "MAGIC",
    "MAPPING_SUFFIX",
    "LookupHit",
    "MappingView",
    "MappingWriter",
    "PartReport",
    "RunSummary",
    "SealError",
    "VerifyReport",
    "check_mapping_location",
    "combine_parts",
    "default_mapping_path",
    "export_csv",
    "open_mapping",
    "prepare_run_mapping",
    "verify_mapping",
]
