"""Command line for keys and sealed mappings: ``keys secret|custodian``, ``mapping verify|show|lookup|export``.

Moved out of ``custodian.py`` (which keeps the key cryptography) so that the CLI layer sits on
top of ``custodian`` and ``seal`` and neither imports the other's caller.  ``cli.build_parser``
calls :func:`register_subcommands`; errors are ``DeidError`` subclasses mapped to exit codes by
``cli.main``.  Plaintext links are printed only by ``mapping show/lookup/export``, which are for
the custodian.

Trust: a mapping file names the pipeline key that signed it.  Without ``--trust``, every command
checks that the file is intact and complete under the key it names, and prints that key's
fingerprint as *not pinned* (anyone with a pipeline key could have made a file that verifies).
``--trust PATH/signing.pub`` pins the signer: a file signed by any other key is refused.
"""

from __future__ import annotations

import argparse
import json
import os
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

from dicom_deid import seal  # its reader is imported on first use (seal.__getattr__)
from dicom_deid.custodian import (
    DEFAULT_CUSTODIAN_NAME,
    SignerPublicKey,
    generate_custodian_keys,
    load_custodian_private_key,
    load_signer_public_key,
)
from dicom_deid.errors import ConfigError, SealError
from dicom_deid.keys import create_secret_key
from dicom_deid.manifest import run_output_holding

if TYPE_CHECKING:
    from dicom_deid.seal import MappingView

EXIT_OK, EXIT_ERROR = 0, 1


def _passphrase(var: str | None) -> bytes | None:
    if var is None:
        return None
    value = os.environ.get(var)
    if not value:
        raise ConfigError(f"--passphrase-env {var}: environment variable is not set or empty")
    return value.encode("utf-8")


def _pinned(args: argparse.Namespace) -> list[SignerPublicKey] | None:
    """The --trust keys (the signer is pinned to them), or None: not pinned."""
    return [load_signer_public_key(Path(p)) for p in args.trust] or None


def _trust_line(signers: list[str], pinned: list[SignerPublicKey] | None) -> str:
    shown = ", ".join(sorted(set(signers))) or "(no part)"
    if pinned is None:
        return (f"signed by pipeline key {shown}: NOT pinned (integrity and completeness checked under the key the "
                "file names; pass --trust PATH/signing.pub to require that pipeline's key)")
    return f"signed by pipeline key {shown}: pinned (--trust)"


def _not_in_output(path: Path, what: str) -> None:
    output = run_output_holding(path)
    if output is not None:
        raise ConfigError(f"{what} would be inside the de-identified output folder {output}; write it elsewhere "
                          "(it must never travel with the de-identified data)", path=path)


def cmd_keys_secret(args: argparse.Namespace) -> int:
    _not_in_output(Path(args.out), "the secret key")
    key = create_secret_key(args.out)
    print(f"secret key: {args.out}  (mode 0600, key id {key.key_id}); run with --key-file {args.out}")
    return EXIT_OK


def cmd_keys_custodian(args: argparse.Namespace) -> int:
    _not_in_output(Path(args.out), "the custodian key pair")
    paths = generate_custodian_keys(Path(args.out), name=args.name, passphrase=_passphrase(args.passphrase_env))
    print(f"public key:  {paths.public}  (give this to the pipeline: --recipient)")
    print(f"private key: {paths.private}  (mode 0600; keep it off the pipeline machine)")
    print(f"fingerprint: {paths.fingerprint}")
    return EXIT_OK


def cmd_mapping_verify(args: argparse.Namespace) -> int:
    pinned = _pinned(args)
    failed = []
    for name in args.files:
        report = seal.verify_mapping(Path(name), trusted_signers=pinned)
        if report.ok:
            print(f"{report.path}: OK: run {report.run_id}, {len(report.parts)} part(s), "
                  f"{sum(p.segments for p in report.parts)} segments, {report.links} links, complete; "
                  + _trust_line([p.signer for p in report.parts], pinned))
        else:
            print(report.describe())
            failed.append(report)
    if failed:
        first = failed[0]
        raise SealError(
            f"{first.problems[0]}" + (f" (and {len(failed) - 1} more file(s) failed)" if len(failed) > 1 else ""),
            path=first.path,
        )
    return EXIT_OK


def _open(args: argparse.Namespace) -> MappingView:
    private = load_custodian_private_key(Path(args.private_key), _passphrase(args.passphrase_env))
    return seal.open_mapping([Path(p) for p in args.files], private, trusted_signers=_pinned(args),
                        allow_incomplete=args.allow_incomplete)


def cmd_mapping_show(args: argparse.Namespace) -> int:
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
        print(f"  status:   {'complete' if run.complete else 'INCOMPLETE RUN (no trailer; finished segments only)'}")
        print(f"  parts:    {', '.join(run.parts)}; {run.segments} segments; {run.links} links")
        print(f"  signers:  {_trust_line(list(run.signers), _pinned(args))}; custodian key {run.recipient}")
        print(f"  created:  {run.created}" + (f"; closed {run.closed}" if run.closed else ""))
        print(f"  patients: {len(patients)}; studies: {len(studies)}")
        for kind, count in sorted(kinds.items()):
            print(f"  {kind}: {count}")
        print(f"  run info: {json.dumps(run.run_info, sort_keys=True)}")
    return EXIT_OK


def cmd_mapping_lookup(args: argparse.Namespace) -> int:
    view = _open(args)
    hits = view.lookup(args.value)
    for hit in hits:
        link = hit.link
        arrow = "->" if hit.matched == "original" else "<-"
        found = link.replacement if hit.matched == "original" else link.original
        print(f"{hit.run_id}\t{link.kind.value}\t{args.value} {arrow} {found}\t"
              f"patient={link.patient} study={link.study} series={link.series}")
    if not hits:
        print(f"no match in {len(args.files)} mapping file(s)")
        return EXIT_ERROR
    return EXIT_OK


def cmd_mapping_export(args: argparse.Namespace) -> int:
    pinned = _pinned(args)
    _not_in_output(Path(args.csv), "the re-identification table")
    view = _open(args)
    rows = seal.export_csv(view, Path(args.csv))
    signers = [s for run in view.runs for s in run.signers]
    print(f"wrote {rows} rows to {args.csv} (mode 0600; contains identifiers: handle as PHI)")
    print(f"trusted: {_trust_line(signers, pinned)}; sealed to custodian key "
          f"{', '.join(sorted({run.recipient for run in view.runs}))} (the --private-key given)")
    return EXIT_OK


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
    p.add_argument("--private-key", required=True, metavar="KEY", help="custodian private key (NAME.key)")
    p.add_argument("--passphrase-env", metavar="VAR", help="environment variable holding the key's passphrase")
    p.add_argument("--allow-incomplete", action="store_true",
                   help="read the finished segments of an unfinished run")


def _add_trust(p: argparse.ArgumentParser) -> None:
    p.add_argument("--trust", action="append", default=[], metavar="PUBKEY",
                   help="pin the signer: accept only files signed by this pipeline signing.pub (repeatable); "
                        "without it the signer's fingerprint is printed as not pinned")


def register_subcommands(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``keys secret|custodian`` and ``mapping verify|show|lookup|export`` to the main parser."""
    keys = subparsers.add_parser("keys", help="key management")
    key_verbs = keys.add_subparsers(dest="keys_command", required=True, metavar="VERB")
    p = key_verbs.add_parser("secret", help="create the secret key that derives every pseudonym (mode 0600)")
    p.add_argument("--out", required=True, type=Path, metavar="PATH",
                   help="key file to create (never overwritten); give it to run --key-file")
    p.set_defaults(func=cmd_keys_secret)
    p = key_verbs.add_parser("custodian", help="make a custodian key pair for sealed mapping files")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for NAME.pub and NAME.key")
    p.add_argument("--name", default=DEFAULT_CUSTODIAN_NAME, help="file name stem (default: custodian)")
    p.add_argument("--passphrase-env", metavar="VAR", help="encrypt the private key with the passphrase in $VAR")
    p.set_defaults(func=cmd_keys_custodian)

    mapping = subparsers.add_parser("mapping", help="custodian tools for sealed mapping files")
    base: type[argparse.ArgumentParser] = getattr(subparsers, "_parser_class", argparse.ArgumentParser)
    intermixed = type("_IntermixedParser", (_IntermixedMixin, base), {})
    verbs = mapping.add_subparsers(dest="mapping_command", required=True, metavar="VERB", parser_class=intermixed)
    p = verbs.add_parser("verify", help="check signatures and completeness (no private key needed)")
    p.add_argument("files", nargs="+", metavar="FILE")
    _add_trust(p)
    p.set_defaults(func=cmd_mapping_verify)
    p = verbs.add_parser("show", help="summary of each run")
    _add_open_options(p)
    _add_trust(p)
    p.set_defaults(func=cmd_mapping_show)
    p = verbs.add_parser("lookup", help="a pseudonym or new UID back to the original, or the reverse")
    _add_open_options(p)
    p.add_argument("value", metavar="VALUE", help="original or replacement value to look up")
    _add_trust(p)
    p.set_defaults(func=cmd_mapping_lookup)
    p = verbs.add_parser("export", help="write every link as CSV for an authorised re-identification")
    _add_open_options(p)
    p.add_argument("--csv", required=True, metavar="OUT", help="CSV file to create (mode 0600)")
    _add_trust(p)
    p.set_defaults(func=cmd_mapping_export)


__all__ = ["register_subcommands"]
