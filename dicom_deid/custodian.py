"""Custodian and pipeline key pairs (the cryptography only; the CLI verbs are in ``cli_keys.py``).

Two key pairs take part in a sealed mapping file (see ``dicom_deid.seal``):

* the **custodian** (honest broker) pair, X25519.  ``keys custodian --out DIR``
  writes ``DIR/NAME.pub`` (given to the pipeline) and ``DIR/NAME.key`` (mode
  0600, PKCS#8 PEM, optionally passphrase-protected), which belongs off the
  pipeline machine.  Only the private key opens a mapping file.
* the **pipeline signing** pair, Ed25519, created on first use beside the
  run's secret key: ``<key dir>/signing.key`` (0600) and ``signing.pub``.  It
  signs every record of a mapping file; a custodian trusts it with ``--trust``.

Key material is never logged or printed; fingerprints (16 hex digits of the
SHA-256 of the raw public key) are safe to show.

``seal`` imports the key types from here; nothing here imports ``seal`` or the CLI.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from dicom_deid.errors import ConfigError, KeyMaterialError
from dicom_deid.keys import check_private_mode, write_private_file

CUSTODIAN_DIR_NAME = "custodian"
DEFAULT_CUSTODIAN_NAME = "custodian"
SIGNING_KEY_NAME = "signing.key"
SIGNING_PUB_NAME = "signing.pub"
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_RAW = (serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def fingerprint(raw_public: bytes) -> str:
    """Short, non-secret id of a public key: safe to log and to print."""
    return hashlib.sha256(b"dicom-deid key fingerprint\x00" + raw_public).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class RecipientKey:
    """A custodian's public key: what the pipeline seals to."""

    public: X25519PublicKey = field(repr=False)
    raw: bytes = field(repr=False)
    fingerprint: str

    @classmethod
    def from_public(cls, public: X25519PublicKey) -> RecipientKey:
        raw = public.public_bytes(*_RAW)
        return cls(public=public, raw=raw, fingerprint=fingerprint(raw))


@dataclass(frozen=True, slots=True)
class CustodianPrivateKey:
    """A custodian's private key: opens mapping files sealed to it.  Never printed."""

    private: X25519PrivateKey = field(repr=False)
    recipient: RecipientKey

    @property
    def fingerprint(self) -> str:
        return self.recipient.fingerprint

    def __repr__(self) -> str:
        return f"CustodianPrivateKey(<redacted>, fingerprint={self.fingerprint})"

    __str__ = __repr__


@dataclass(frozen=True, slots=True)
class SignerPublicKey:
    """A pipeline's Ed25519 public key, as trusted by a custodian."""

    public: Ed25519PublicKey = field(repr=False)
    raw: bytes = field(repr=False)
    fingerprint: str

    @classmethod
    def from_raw(cls, raw: bytes) -> SignerPublicKey:
        try:
            public = Ed25519PublicKey.from_public_bytes(raw)
        except ValueError:
            raise KeyMaterialError("signer public key is malformed") from None
        return cls(public=public, raw=raw, fingerprint=fingerprint(raw))

    def verify(self, signature: bytes, message: bytes) -> bool:
        try:
            self.public.verify(signature, message)
        except InvalidSignature:
            return False
        return True


@dataclass(frozen=True, slots=True)
class SigningKey:
    """The pipeline's Ed25519 signing key.  Never printed."""

    private: Ed25519PrivateKey = field(repr=False)
    public: SignerPublicKey

    @property
    def fingerprint(self) -> str:
        return self.public.fingerprint

    def sign(self, message: bytes) -> bytes:
        return self.private.sign(message)

    def __repr__(self) -> str:
        return f"SigningKey(<redacted>, fingerprint={self.fingerprint})"

    __str__ = __repr__

    @classmethod
    def generate(cls) -> SigningKey:
        private = Ed25519PrivateKey.generate()
        return cls(
            private=private,
            public=SignerPublicKey.from_raw(private.public_key().public_bytes(*_RAW)),
        )


@dataclass(frozen=True, slots=True)
class CustodianKeyPaths:
    public: Path
    private: Path
    fingerprint: str


def _write_public_file(path: Path, data: bytes) -> None:
    """Public keys are meant to be shared: same atomic no-clobber write, mode 0644."""
    write_private_file(path, data)
    os.chmod(path, 0o644)


def _read_pem(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise KeyMaterialError(f"{what} not found", path=path) from None
    except OSError as exc:
        raise KeyMaterialError(
            f"{what} cannot be read ({exc.__class__.__name__})", path=path
        ) from None


def generate_custodian_keys(
    out_dir: Path, *, name: str = DEFAULT_CUSTODIAN_NAME, passphrase: bytes | None = None
) -> CustodianKeyPaths:
    """Write ``out_dir/NAME.pub`` and ``out_dir/NAME.key`` (0600); refuse to overwrite either."""
    if not _NAME_RE.fullmatch(name):
        raise ConfigError(f"key name {name!r} must be letters, digits, '.', '_' or '-'")
    pub_path, key_path = out_dir / f"{name}.pub", out_dir / f"{name}.key"
    for existing in (pub_path, key_path):
        if existing.exists():
            raise KeyMaterialError("key file already exists; refusing to overwrite", path=existing)
    private = X25519PrivateKey.generate()
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase)
        if passphrase
        else serialization.NoEncryption()
    )
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )
    pub_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    write_private_file(key_path, pem)
    _write_public_file(pub_path, pub_pem)
    return CustodianKeyPaths(
        pub_path, key_path, RecipientKey.from_public(private.public_key()).fingerprint
    )


def load_recipient_key(path: Path) -> RecipientKey:
    """Load a custodian public key (``NAME.pub``)."""
    data = _read_pem(path, "custodian public key")
    try:
        public = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm):
        if b"PRIVATE KEY" in data:
            raise KeyMaterialError(
                "this is a private key; give the pipeline the custodian's .pub file", path=path
            ) from None
        raise KeyMaterialError(
            "not a dicom-deid custodian key (expected a PEM public key)", path=path
        ) from None
    if not isinstance(public, X25519PublicKey):
        raise KeyMaterialError(
            f"not a dicom-deid custodian key (found {type(public).__name__.removeprefix('_')}, "
            "expected X25519; make one with 'dicom-deid keys custodian')",
            path=path,
        )
    return RecipientKey.from_public(public)


def load_custodian_private_key(path: Path, passphrase: bytes | None = None) -> CustodianPrivateKey:
    """Load a custodian private key (``NAME.key``), checking it is not readable by others."""
    data = _read_pem(path, "custodian private key")
    check_private_mode(path)
    try:
        private = serialization.load_pem_private_key(data, password=passphrase)
    except TypeError:
        if passphrase is None:
            raise KeyMaterialError(
                "passphrase required: this private key is passphrase-protected; "
                "pass --passphrase-env VAR naming an environment variable that holds it",
                path=path,
            ) from None
        raise KeyMaterialError(
            "this private key is not passphrase-protected; drop --passphrase-env", path=path
        ) from None
    except (ValueError, UnsupportedAlgorithm):
        if passphrase is not None and b"ENCRYPTED" in data:
            raise KeyMaterialError("wrong passphrase for this private key", path=path) from None
        raise KeyMaterialError(
            "not a dicom-deid custodian key (expected a PEM private key)", path=path
        ) from None
    if not isinstance(private, X25519PrivateKey):
        raise KeyMaterialError(
            "not a dicom-deid custodian key (expected X25519; make one with 'dicom-deid keys custodian')",
            path=path,
        )
    return CustodianPrivateKey(
        private=private, recipient=RecipientKey.from_public(private.public_key())
    )


def load_signer_public_key(path: Path) -> SignerPublicKey:
    """Load a pipeline's ``signing.pub`` (for ``--trust``)."""
    data = _read_pem(path, "pipeline signing public key")
    try:
        public = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm):
        raise KeyMaterialError(
            "not a dicom-deid signing key (expected a PEM public key)", path=path
        ) from None
    if not isinstance(public, Ed25519PublicKey):
        raise KeyMaterialError(
            "not a dicom-deid signing key (expected Ed25519: the signing.pub beside the pipeline's secret key)",
            path=path,
        )
    return SignerPublicKey.from_raw(public.public_bytes(*_RAW))


def _load_signing_key(path: Path) -> SigningKey:
    data = _read_pem(path, "pipeline signing key")
    check_private_mode(path)
    try:
        private = serialization.load_pem_private_key(data, password=None)
    except (TypeError, ValueError, UnsupportedAlgorithm):
        raise KeyMaterialError(
            "not a dicom-deid signing key (expected an unencrypted PEM key)", path=path
        ) from None
    if not isinstance(private, Ed25519PrivateKey):
        raise KeyMaterialError("not a dicom-deid signing key (expected Ed25519)", path=path)
    return SigningKey(
        private=private, public=SignerPublicKey.from_raw(private.public_key().public_bytes(*_RAW))
    )


def _signing_pub_pem(key: SigningKey) -> bytes:
    return key.public.public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def load_or_create_signing_key(key_dir: Path) -> SigningKey:
    """The pipeline's signing key, ``key_dir/signing.key`` (0600), created on first use.

    ``signing.pub`` is (re)written beside it for custodians to ``--trust``.
    """
    key_path, pub_path = key_dir / SIGNING_KEY_NAME, key_dir / SIGNING_PUB_NAME
    if not key_path.exists():
        fresh = SigningKey.generate()
        pem = fresh.private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        try:
            write_private_file(key_path, pem)
        except KeyMaterialError:
            if not key_path.exists():  # a real failure, not a concurrent first run
                raise
    key = _load_signing_key(key_path)
    if pub_path.exists():
        if load_signer_public_key(pub_path).raw != key.public.raw:
            raise KeyMaterialError(
                f"does not match {SIGNING_KEY_NAME} beside it; remove it to have it rewritten",
                path=pub_path,
            )
    else:
        try:
            _write_public_file(pub_path, _signing_pub_pem(key))
        except KeyMaterialError:
            if not pub_path.exists():
                raise
    return key


__all__ = [
    "CUSTODIAN_DIR_NAME",
    "DEFAULT_CUSTODIAN_NAME",
    "SIGNING_KEY_NAME",
    "SIGNING_PUB_NAME",
    "CustodianKeyPaths",
    "CustodianPrivateKey",
    "RecipientKey",
    "SignerPublicKey",
    "SigningKey",
    "fingerprint",
    "generate_custodian_keys",
    "load_custodian_private_key",
    "load_or_create_signing_key",
    "load_recipient_key",
    "load_signer_public_key",
]
