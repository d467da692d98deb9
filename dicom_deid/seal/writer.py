"""Writing sealed mapping parts: :class:`MappingWriter` and the run's mapping setup."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, Self

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from dicom_deid.custodian import (
    CUSTODIAN_DIR_NAME,
    DEFAULT_CUSTODIAN_NAME,
    RecipientKey,
    SignerPublicKey,
    SigningKey,
    generate_custodian_keys,
    load_or_create_signing_key,
    load_recipient_key,
)
from dicom_deid.errors import ConfigError, KeyMaterialError, SealError
from dicom_deid.links import Link
from dicom_deid.seal.files import _create_exclusive, _fsync_dir, _inside
from dicom_deid.seal.format import (
    _DOMAIN,
    _HEADER,
    _SEGMENT,
    _TRAILER,
    DEFAULT_SEGMENT_LINKS,
    FORMAT_VERSION,
    MAGIC,
    MAPPING_SUFFIX,
    _b64,
    _check_id,
    _content_key,
    _encode_links,
    _encode_record,
    _meta_bytes,
    _nonce,
    _now,
)


def check_mapping_location(path: Path, output_dir: Path) -> None:
    """Refuse a mapping file inside (or equal to) the output folder."""
    if _inside(path, output_dir):
        raise ConfigError(
            f"mapping file {path} is inside the output folder {output_dir}; write it elsewhere "
            "(the mapping must never travel with the de-identified data)"
        )


class _SealOnExit:
    """A ``with`` block closes (trailer written) on success and aborts (no trailer) on error."""

    def close(self) -> None:
        raise NotImplementedError

    def abort(self) -> None:
        raise NotImplementedError

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


class MappingWriter(_SealOnExit):
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
        self._recipient_raw = b""
        self._run_info: dict[str, object] = {}

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
        writer = cls(
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
        writer._recipient_raw, writer._run_info = recipient.raw, dict(run_info)
        return writer

    def part_spec(self) -> PartSpec:
        """What remote workers need to seal their own parts of this run, beside this file."""
        return PartSpec(
            parts_dir=parts_dir_for(self.path),
            recipient_raw=self._recipient_raw,
            signer_private_raw=self._signer.private.private_bytes_raw(),
            run_id=self.run_id,
            run_info=self._run_info,
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


class PendingMapping(_SealOnExit):
    """A run's mapping file that exists only once there is something to seal.

    Everything that can fail before a run starts (location, keys, an existing file) is checked
    when it is made; the file itself is created on the first link.  A run that seals nothing (a
    resume with every input already done, a run refused before it starts) leaves no file.
    """

    def __init__(self, path: Path, recipient: RecipientKey, signer: SigningKey, run_id: str,
                 run_info: Mapping[str, object]) -> None:
        _check_id(run_id, "run id")
        if Path(path).exists():
            raise ConfigError("file already exists; refusing to overwrite (choose another path)", path=path)
        self.path = Path(path)
        self.run_id = run_id
        self._recipient = recipient
        self._signer = signer
        self._run_info = dict(run_info)
        self._writer: MappingWriter | None = None

    @property
    def created(self) -> bool:
        return self._writer is not None

    @property
    def links_written(self) -> int:
        return self._writer.links_written if self._writer is not None else 0

    def materialize(self) -> MappingWriter:
        if self._writer is None:
            self._writer = MappingWriter.create(self.path, self._recipient, self._signer, self.run_id,
                                                self._run_info)
        return self._writer

    def part_spec(self) -> PartSpec:
        return PartSpec(parts_dir=parts_dir_for(self.path), recipient_raw=self._recipient.raw,
                        signer_private_raw=self._signer.private.private_bytes_raw(), run_id=self.run_id,
                        run_info=self._run_info)

    def add(self, links: Iterable[Link]) -> None:
        links = list(links)
        if links:
            self.materialize().add(links)

    def flush(self) -> None:
        if self._writer is not None:
            self._writer.flush()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()

    def abort(self) -> None:
        if self._writer is not None:
            self._writer.abort()


def parts_dir_for(path: Path) -> Path:
    """Where workers of a distributed run write their part files before they are combined."""
    return Path(path).parent / f".{Path(path).name}.parts"


@dataclass(frozen=True)
class PartSpec:
    """Picklable recipe for a worker's own part of a run's mapping: links are sealed where they
    are made, so no plaintext link crosses the cluster's network.  Holds the pipeline's signing
    key, like the secret key that workers already hold."""

    parts_dir: Path
    recipient_raw: bytes = field(repr=False)
    signer_private_raw: bytes = field(repr=False)
    run_id: str
    run_info: dict[str, object] = field(default_factory=dict)

    def open(self, part: str) -> MappingWriter:
        private = Ed25519PrivateKey.from_private_bytes(self.signer_private_raw)
        signer = SigningKey(private=private,
                            public=SignerPublicKey.from_raw(private.public_key().public_bytes_raw()))
        recipient = RecipientKey.from_public(X25519PublicKey.from_public_bytes(self.recipient_raw))
        self.parts_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        return MappingWriter.create(self.parts_dir / f"{part}{MAPPING_SUFFIX}", recipient, signer,
                                    self.run_id, self.run_info, part=part)


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
) -> PendingMapping:
    """Prepare the run's mapping, as ``dicom-deid run`` needs it (the file comes with the first link).

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
    target = Path(mapping) if mapping is not None else default_mapping_path(key_dir, run_id)
    check_mapping_location(target, output_dir)  # before a custodian pair is made for a refused run
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
    return PendingMapping(
        target,
        load_recipient_key(Path(recipient)),
        load_or_create_signing_key(key_dir),
        run_id,
        run_info,
    )
