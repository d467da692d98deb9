"""Custodian and pipeline key pairs, and the custodian's CLI verbs.

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

The CLI verbs (``keys custodian``, ``mapping verify|show|lookup|export``) are
registered on the main parser by ``cli.py`` through :func:`register_subcommands`.
They print plaintext links only in ``mapping show/lookup/export`` output, which
is for the custodian.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from dicom_deid.errors import ConfigError, KeyMaterialError, SealError
from dicom_deid.keys import check_private_mode, default_key_dir, write_private_file

if TYPE_CHECKING:  # seal.py imports the key types below; the CLI imports seal lazily
    from dicom_deid.seal import MappingView

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


# --------------------------------------------------------------------------- CLI


def _passphrase(var: str | None) -> bytes | None:
    if var is None:
        return None
    value = os.environ.get(var)
    if not value:
        raise ConfigError(f"--passphrase-env {var}: environment variable is not set or empty")
    return value.encode("utf-8")


def _trusted(args: argparse.Namespace) -> list[SignerPublicKey]:
    """--trust keys, plus this machine's own pipeline key if it has one."""
    trusted = [load_signer_public_key(Path(p)) for p in args.trust]
    local = default_key_dir() / SIGNING_PUB_NAME
    if local.exists():
        trusted.append(load_signer_public_key(local))
    if not trusted:
        raise ConfigError(
            "no trusted pipeline signing key: pass --trust PATH/signing.pub "
            "(the signing.pub beside the pipeline's secret key)"
        )
    return trusted


def _cmd_keys_custodian(args: argparse.Namespace) -> int:
    paths = generate_custodian_keys(
        Path(args.out), name=args.name, passphrase=_passphrase(args.passphrase_env)
    )
    print(f"public key:  {paths.public}  (give this to the pipeline: --recipient)")
    print(f"private key: {paths.private}  (mode 0600; keep it off the pipeline machine)")
    print(f"fingerprint: {paths.fingerprint}")
    return 0


def _cmd_verify(args: argparse.Namespace) -> int:
    from dicom_deid import seal  # seal imports this module's key types

    trusted = _trusted(args)
    failed = []
    for name in args.files:
        report = seal.verify_mapping(Path(name), trusted_signers=trusted)
        print(report.describe())
        if not report.ok:
            failed.append(report)
    if failed:
        first = failed[0]
        raise SealError(
            f"{first.problems[0]}"
            + (f" (and {len(failed) - 1} more file(s) failed)" if len(failed) > 1 else ""),
            path=first.path,
        )
    return 0


def _open(args: argparse.Namespace) -> MappingView:
    from dicom_deid import seal

    private = load_custodian_private_key(Path(args.private_key), _passphrase(args.passphrase_env))
    return seal.open_mapping(
        [Path(p) for p in args.files],
        private,
        trusted_signers=_trusted(args),
        allow_incomplete=args.allow_incomplete,
    )


def _cmd_show(args: argparse.Namespace) -> int:
    view = _open(args)
    for run in view.runs:
        kinds: Counter[str] = Counter()
        patients: set[str] = set()
        studies: set[str] = set()
        for link in view.links(run):
            kinds[link.kind.value] += 1
            if link.patient:
                patients.add(link.patient)
            if link.study:
                studies.add(link.study)
        print(f"{run.path}: run {run.run_id}")
        print(
            f"  status:   {'complete' if run.complete else 'INCOMPLETE RUN (no trailer; finished segments only)'}"
        )
        print(f"  parts:    {', '.join(run.parts)}; {run.segments} segments; {run.links} links")
        print(f"  signers:  {', '.join(run.signers)}; custodian key {run.recipient}")
        print(f"  created:  {run.created}" + (f"; closed {run.closed}" if run.closed else ""))
        print(f"  patients: {len(patients)}; studies: {len(studies)}")
        for kind, count in sorted(kinds.items()):
            print(f"  {kind}: {count}")
        print(f"  run info: {json.dumps(run.run_info, sort_keys=True)}")
    return 0


def _cmd_lookup(args: argparse.Namespace) -> int:
    view = _open(args)
    hits = view.lookup(args.value)
    for hit in hits:
        link = hit.link
        arrow = "->" if hit.matched == "original" else "<-"
        found = link.replacement if hit.matched == "original" else link.original
        print(
            f"{hit.run_id}\t{link.kind.value}\t{args.value} {arrow} {found}\t"
            f"patient={link.patient} study={link.study} series={link.series}"
        )
    if not hits:
        print(f"no match in {len(args.files)} mapping file(s)")
        return 1
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from dicom_deid import seal

    view = _open(args)
    rows = seal.export_csv(view, Path(args.csv))
    print(f"wrote {rows} rows to {args.csv} (mode 0600; contains identifiers: handle as PHI)")
    return 0


class _IntermixedMixin(argparse.ArgumentParser):
    """Lets options sit between positionals: ``lookup A.ddmap --private-key K B.ddmap VALUE``.

    Plain argparse consumes each positional once, so FILE... followed by VALUE
    breaks as soon as an option sits in between.  Mixed into the main parser's
    own class so its error handling (usage error -> ConfigError) still applies.
    """

    _inner = False

    def parse_known_args(  # type: ignore[override]
        self, args: list[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        if self._inner:
            return super().parse_known_args(args, namespace)
        self._inner = True
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._inner = False


def _add_open_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", nargs="+", metavar="FILE", help="sealed mapping file(s) (.ddmap)")
    p.add_argument(
        "--private-key", required=True, metavar="KEY", help="custodian private key (NAME.key)"
    )
    p.add_argument(
        "--passphrase-env", metavar="VAR", help="environment variable holding the key's passphrase"
    )
    p.add_argument(
        "--allow-incomplete",
        action="store_true",
        help="read the finished segments of an unfinished run",
    )


def _add_trust(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--trust",
        action="append",
        default=[],
        metavar="PUBKEY",
        help="also trust this pipeline signing.pub (repeatable; this machine's own is always trusted)",
    )


def add_keys_custodian_parser(keys_subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``custodian`` under an existing ``keys`` subcommand."""
    p = keys_subparsers.add_parser(
        "custodian", help="make a custodian key pair for sealed mapping files"
    )
    p.add_argument("--out", required=True, metavar="DIR", help="folder for NAME.pub and NAME.key")
    p.add_argument(
        "--name", default=DEFAULT_CUSTODIAN_NAME, help="file name stem (default: custodian)"
    )
    p.add_argument(
        "--passphrase-env",
        metavar="VAR",
        help="encrypt the private key with the passphrase in $VAR",
    )
    p.set_defaults(func=_cmd_keys_custodian)


def add_mapping_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``mapping {verify,show,lookup,export}``."""
    mapping = subparsers.add_parser("mapping", help="custodian tools for sealed mapping files")
    base: type[argparse.ArgumentParser] = getattr(
        subparsers, "_parser_class", argparse.ArgumentParser
    )
    intermixed = type("_IntermixedParser", (_IntermixedMixin, base), {})
    verbs = mapping.add_subparsers(
        dest="mapping_command", required=True, metavar="VERB", parser_class=intermixed
    )
    p = verbs.add_parser("verify", help="check signatures and completeness (no private key needed)")
    p.add_argument("files", nargs="+", metavar="FILE")
    _add_trust(p)
    p.set_defaults(func=_cmd_verify)
    p = verbs.add_parser("show", help="summary of each run")
    _add_open_options(p)
    _add_trust(p)
    p.set_defaults(func=_cmd_show)
    p = verbs.add_parser(
        "lookup", help="a pseudonym or new UID back to the original, or the reverse"
    )
    _add_open_options(p)
    p.add_argument("value", metavar="VALUE", help="original or replacement value to look up")
    _add_trust(p)
    p.set_defaults(func=_cmd_lookup)
    p = verbs.add_parser(
        "export", help="write every link as CSV for an authorised re-identification"
    )
    _add_open_options(p)
    p.add_argument("--csv", required=True, metavar="OUT", help="CSV file to create (mode 0600)")
    _add_trust(p)
    p.set_defaults(func=_cmd_export)


def register_subcommands(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``keys custodian`` and ``mapping ...`` to the main parser's subcommands."""
    keys = subparsers.add_parser("keys", help="key management")
    add_keys_custodian_parser(
        keys.add_subparsers(dest="keys_command", required=True, metavar="VERB")
    )
    add_mapping_parser(subparsers)


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
    "add_keys_custodian_parser",
    "add_mapping_parser",
    "fingerprint",
    "generate_custodian_keys",
    "load_custodian_private_key",
    "load_or_create_signing_key",
    "load_recipient_key",
    "load_signer_public_key",
    "register_subcommands",
]
