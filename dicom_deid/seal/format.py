"""Record framing, magic, constants and the signing/encryption helpers of the ``.ddmap`` format.

The format itself is described in :mod:`dicom_deid.seal`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import struct
import zlib
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from dicom_deid.custodian import SigningKey
from dicom_deid.errors import ConfigError
from dicom_deid.links import Link

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


def _check_id(value: str, what: str) -> str:
    if not _ID_RE.fullmatch(value):
        raise ConfigError(f"{what} {value!r} must be 1-128 letters, digits, '.', '_' or '-'")
    return value
