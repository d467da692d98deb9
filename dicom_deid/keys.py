"""The run's secret key: loading, creating, and keeping it out of sight.

The key file holds 32 random bytes as 64 hex digits on one line (nothing else: a key cut
short or padded is refused, never silently used as another key).  It is created on first
use with mode 0600 in :func:`default_key_dir` (``$DICOM_DEID_HOME`` or
``~/.config/dicom-deid``) unless ``--key-file`` names one.  Every replacement
value (UIDs, pseudonyms, date offsets) is derived from it by ``remap.py``.
"""

from __future__ import annotations

import os
import secrets
import stat
from dataclasses import dataclass, field
from pathlib import Path

from dicom_deid.errors import KeyMaterialError

KEY_BYTES = 32
DEFAULT_KEY_NAME = "secret.key"


@dataclass(frozen=True, slots=True)
class SecretKey:
    """Key material for keyed derivation.  Never printed."""

    material: bytes = field(repr=False)
    key_id: str = ""  # short non-secret fingerprint, safe to log

    def __repr__(self) -> str:
        return "SecretKey(<redacted>)"

    __str__ = __repr__

    @classmethod
    def from_bytes(cls, material: bytes) -> SecretKey:
        if len(material) < 16:
            raise KeyMaterialError("secret key must be at least 16 bytes")
        import hashlib

        fp = hashlib.sha256(b"dicom-deid key-id\x00" + material).hexdigest()[:16]
        return cls(material=material, key_id=fp)


def default_key_dir() -> Path:
    env = os.environ.get("DICOM_DEID_HOME")
    if env:
        return Path(env)
    return Path.home() / ".config" / "dicom-deid"


def write_private_file(path: Path, data: bytes) -> None:
    """Create ``path`` with mode 0600 atomically; refuse to overwrite."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)  # fails if path exists: never clobber a key
    except FileExistsError:
        raise KeyMaterialError("key file already exists; refusing to overwrite", path=path)
    finally:
        tmp.unlink(missing_ok=True)


def check_private_mode(path: Path) -> None:
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyMaterialError(
            f"key file is readable by others (mode {stat.S_IMODE(mode):o}); run: chmod 600 {path}",
            path=path,
        )


KEY_HEX_DIGITS = 2 * KEY_BYTES
_HEX = frozenset("0123456789abcdefABCDEF")


def load_secret_key(path: Path) -> SecretKey:
    """Read a key file written by :func:`create_secret_key`: exactly 64 hex digits (a newline may follow)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise KeyMaterialError("key file not found", path=path) from None
    except OSError as exc:
        raise KeyMaterialError(f"key file cannot be read ({exc.strerror or exc.__class__.__name__})",
                               path=path) from None
    check_private_mode(path)
    text = raw.decode("ascii", "replace").strip()
    if not text or not set(text) <= _HEX:
        raise KeyMaterialError("key file is not a dicom-deid key (expected 64 hex digits; create one with "
                               "'dicom-deid keys secret --out PATH')", path=path)
    if len(text) != KEY_HEX_DIGITS:
        raise KeyMaterialError(f"key file holds {len(text)} hex digits, not {KEY_HEX_DIGITS}: cut short or "
                               "padded? It would derive other pseudonyms; restore the original key file",
                               path=path)
    return SecretKey.from_bytes(bytes.fromhex(text))


def create_secret_key(path: Path) -> SecretKey:
    material = secrets.token_bytes(KEY_BYTES)
    write_private_file(path, (material.hex() + "\n").encode("ascii"))
    return SecretKey.from_bytes(material)


def load_or_create_secret_key(path: Path | None) -> tuple[SecretKey, Path, bool]:
    """Return (key, path, created).  An explicit path must already exist."""
    if path is not None:
        return load_secret_key(path), path, False
    default = default_key_dir() / DEFAULT_KEY_NAME
    if default.exists():
        return load_secret_key(default), default, False
    return create_secret_key(default), default, True


__all__ = [
    "SecretKey",
    "check_private_mode",
    "create_secret_key",
    "default_key_dir",
    "load_or_create_secret_key",
    "load_secret_key",
    "write_private_file",
]
