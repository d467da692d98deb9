"""Node configuration: peers, limits, TLS and the engine choices, from flags and a small TOML file.

Built once at the edge (``cli_net``), validated, frozen, then passed down.  A TOML file is
strict: an unknown section or key is an error that lists the valid ones, never ignored.
Relative paths in the file are relative to the file's folder.  Flags given on the command
line win over the file; the file wins over the defaults written here (and only here).
"""

from __future__ import annotations

import enum
import ipaddress
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dicom_deid.errors import ConfigError

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

DEFAULT_AE_TITLE = "DEID"
DEFAULT_BIND = "127.0.0.1"  # loopback unless the operator opens it up
DEFAULT_PORT = 11112
DEFAULT_MAX_ASSOCIATIONS = 8
DEFAULT_MAX_QUEUE = 10_000  # instances held (received + awaiting delivery) before C-STORE says "out of resources"
DEFAULT_WORKERS = 1
DEFAULT_RETRY_INITIAL = 1.0  # seconds before the first retry of a destination that is down
DEFAULT_RETRY_MAX = 60.0  # back-off ceiling
DEFAULT_DRAIN_TIMEOUT = 30.0  # seconds SIGTERM waits for deliveries before persisting what is left

_AE_CHARS = re.compile(r"[\x20-\x5b\x5d-\x7e]{1,16}")  # PS3.5 AE: no backslash, no control characters


class Retrieve(enum.Enum):
    """How ``pull`` retrieves: C-GET on the query association, or C-MOVE to its own SCP."""

    GET = "get"
    MOVE = "move"


def check_ae_title(title: str, what: str = "AE title") -> str:
    """A valid AE title (1-16 characters, no backslash or control characters), stripped."""
    stripped = title.strip()
    if not stripped or not _AE_CHARS.fullmatch(title):
        raise ConfigError(f"{what} {title!r} is not a DICOM AE title (1-16 characters, no backslash)")
    return stripped


@dataclass(frozen=True, slots=True)
class Peer:
    """A remote application entity: ``AE@host:port``."""

    ae_title: str
    host: str
    port: int

    @classmethod
    def parse(cls, text: str, what: str = "peer") -> Peer:
        ae, sep, address = text.rpartition("@")
        host, colon, port_text = address.rpartition(":")
        if not sep or not colon or not host:
            raise ConfigError(f"{what} {text!r} must look like AE@host:port, e.g. ORTHANC@127.0.0.1:4242")
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]  # [::1]
        return cls(check_ae_title(ae, f"{what} AE title"), host, _port(port_text, what))

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.ae_title}@{host}:{self.port}"


def _port(text: str | int, what: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise ConfigError(f"{what} port {text!r} is not a number") from None
    if not 0 <= port <= 65535:
        raise ConfigError(f"{what} port {port} is out of range (0-65535)")
    return port


@dataclass(frozen=True, slots=True)
class TlsServer:
    """TLS for the listener: certificate and key; with ``client_ca`` peers must show a certificate it signed."""

    cert: Path
    key: Path
    client_ca: Path | None = None


@dataclass(frozen=True, slots=True)
class TlsClient:
    """TLS towards the destination: the CA that signed its certificate, optionally our own certificate."""

    ca: Path
    cert: Path | None = None
    key: Path | None = None


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential back-off for deliveries: ``initial`` doubling up to ``maximum`` seconds."""

    initial: float = DEFAULT_RETRY_INITIAL
    maximum: float = DEFAULT_RETRY_MAX

    def delay(self, failures: int) -> float:
        """Seconds to wait after ``failures`` consecutive failures (>= 1)."""
        return float(min(self.maximum, self.initial * 2 ** max(0, min(failures - 1, 30))))


@dataclass(frozen=True)
class NodeConfig:
    """Everything the node does besides de-identification itself (that is the Engine's)."""

    spool: Path
    ae_title: str = DEFAULT_AE_TITLE
    bind: str = DEFAULT_BIND
    port: int = DEFAULT_PORT
    allowed_ae: tuple[str, ...] = ()
    allowed_networks: tuple[IPNetwork, ...] = ()  # empty: any source address (AE titles still checked)
    output: Path | None = None  # --out: de-identified instances are written here ...
    forward: Peer | None = None  # ... or forwarded here with C-STORE
    quarantine: Path | None = None
    tls: TlsServer | None = None
    forward_tls: TlsClient | None = None
    max_associations: int = DEFAULT_MAX_ASSOCIATIONS
    max_queue: int = DEFAULT_MAX_QUEUE
    workers: int = DEFAULT_WORKERS
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    drain_timeout: float = DEFAULT_DRAIN_TIMEOUT

    @property
    def quarantine_dir(self) -> Path:
        if self.quarantine is not None:
            return self.quarantine
        if self.output is not None:
            return self.output.with_name(self.output.name + ".quarantine")  # as `run` does
        return self.spool / "quarantine"

    def validate(self, *, listening: bool = True) -> None:
        check_ae_title(self.ae_title, "--ae-title")
        if (self.output is None) == (self.forward is None):
            raise ConfigError("give exactly one destination: --out DIR or --forward AE@host:port")
        if listening and not self.allowed_ae:
            raise ConfigError("no calling AE title is allowed: give --allow-ae TITLE (repeatable) or "
                              "allowed_ae in the config file")
        for value, what in ((self.max_associations, "--max-associations"), (self.max_queue, "--max-queue"),
                            (self.workers, "--workers")):
            if value < 1:
                raise ConfigError(f"{what} must be at least 1, got {value}")
        if self.retry.initial <= 0 or self.retry.maximum < self.retry.initial:
            raise ConfigError("retry delays must be positive, with retry_max >= retry_initial")
        if self.drain_timeout < 0:
            raise ConfigError(f"--drain-timeout must not be negative, got {self.drain_timeout}")
        spool, q = self.spool.resolve(), self.quarantine_dir.resolve()
        if self.output is not None:
            out = self.output.resolve()
            if out.exists() and not out.is_dir():
                raise ConfigError("output exists and is not a folder", path=self.output)
            for inside, what in ((spool, "spool"), (q, "quarantine folder")):
                if inside.is_relative_to(out):
                    raise ConfigError(f"{what} must not be inside the output folder (it holds originals)",
                                      path=inside)
            if out.is_relative_to(spool):
                raise ConfigError("output folder must not be inside the spool", path=self.output)
        for path in (self.tls.cert, self.tls.key, self.tls.client_ca) if self.tls else ():
            if path is not None and not path.is_file():
                raise ConfigError("TLS file not found", path=path)
        for path in (self.forward_tls.ca, self.forward_tls.cert, self.forward_tls.key) if self.forward_tls else ():
            if path is not None and not path.is_file():
                raise ConfigError("TLS file not found", path=path)


@dataclass(frozen=True, slots=True)
class EngineSettings:
    """The engine's choices, with the names and meaning of ``dicom-deid run``'s flags; the node
    builds its engine from them through ``dicom_deid.Deidentifier`` exactly as ``run`` does."""

    profile: str = "basic"
    options: tuple[str, ...] = ()
    overrides: tuple[str, ...] = ()
    key_file: Path | None = None
    pixels: str | None = None  # None: the profile's
    recipient: Path | None = None
    mapping: Path | None = None
    subject_map: Path | None = None  # --subject-map FILE.csv (None: the profile's [subjects], if any)
    unmapped: str | None = None  # --unmapped error|keyed (None: the map's own, else error)

    def __post_init__(self) -> None:
        if self.pixels not in (None, "auto", "all", "off"):
            raise ConfigError(f"pixels must be auto, all or off, got {self.pixels!r}")
        if self.unmapped not in (None, "error", "keyed"):
            raise ConfigError(f"unmapped must be error or keyed, got {self.unmapped!r}")


def parse_networks(values: list[str] | tuple[str, ...]) -> tuple[IPNetwork, ...]:
    """``127.0.0.1``, ``10.0.0.0/8``, ``::1`` -> networks; a bad one is a ConfigError."""
    out = []
    for value in values:
        try:
            out.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError:
            raise ConfigError(f"allowed address {value!r} is not an IP address or network (e.g. 10.1.0.0/16)") \
                from None
    return tuple(out)


# ---- the TOML file: one schema, checked strictly ------------------------------------------------

#: section -> key -> expected type (``Path`` values are resolved against the file's folder)
SCHEMA: Mapping[str, Mapping[str, type]] = {
    "node": {"ae_title": str, "bind": str, "port": int, "allowed_ae": list, "allowed_addresses": list,
             "spool": Path, "out": Path, "quarantine": Path, "max_associations": int, "max_queue": int,
             "workers": int, "drain_timeout": float},
    "forward": {"destination": str, "retry_initial": float, "retry_max": float, "tls_ca": Path,
                "tls_cert": Path, "tls_key": Path},
    "tls": {"cert": Path, "key": Path, "client_ca": Path},
    "deid": {"profile": str, "options": list, "overrides": list, "key_file": Path, "pixels": str,
             "recipient": Path, "mapping": Path, "subject_map": Path, "unmapped": str},
    "pull": {"source": str, "retrieve": str},
}


def load_config_file(path: Path) -> dict[str, dict[str, Any]]:
    """Read and check a node TOML file: ``{section: {key: value}}`` with paths made absolute."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read config file ({exc.strerror or exc})", path=path) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"not a valid TOML file ({exc})", path=path) from None
    out: dict[str, dict[str, Any]] = {}
    for section, body in raw.items():
        keys = SCHEMA.get(section)
        if keys is None or not isinstance(body, dict):
            raise ConfigError(f"unknown section [{section}]; valid sections: {', '.join(SCHEMA)}", path=path)
        checked: dict[str, Any] = {}
        for key, value in body.items():
            kind = keys.get(key)
            if kind is None:
                raise ConfigError(f"unknown key {key!r} in [{section}]; valid keys: {', '.join(keys)}", path=path)
            checked[key] = _typed(value, kind, f"[{section}] {key}", path)
        out[section] = checked
    return out


def _typed(value: Any, kind: type, where: str, path: Path) -> Any:
    if kind is Path:
        if not isinstance(value, str) or not value:
            raise ConfigError(f"{where} must be a path (a string)", path=path)
        p = Path(value).expanduser()
        return p if p.is_absolute() else (path.parent / p)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind is list:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{where} must be a list of strings", path=path)
        return [str(v) for v in value]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ConfigError(f"{where} must be {'a number' if kind in (int, float) else 'a string'}", path=path)
    return value


__all__ = [
    "DEFAULT_AE_TITLE", "DEFAULT_BIND", "DEFAULT_DRAIN_TIMEOUT", "DEFAULT_MAX_ASSOCIATIONS", "DEFAULT_MAX_QUEUE",
    "DEFAULT_PORT", "DEFAULT_RETRY_INITIAL", "DEFAULT_RETRY_MAX", "DEFAULT_WORKERS", "SCHEMA", "EngineSettings",
    "IPNetwork",
    "NodeConfig", "Peer", "Retrieve", "RetryPolicy", "TlsClient", "TlsServer", "check_ae_title",
    "load_config_file", "parse_networks",
]
