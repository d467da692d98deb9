"""Command line for the network node: ``dicom-deid serve`` and ``dicom-deid pull``.

``cli.build_parser`` calls :func:`register_subcommands`; errors are raised as ``DeidError``
subclasses and mapped to exit codes by ``cli.main``.  The engine is assembled exactly as for
``run`` (``cli.make_deidentifier``, a ``dicom_deid.Deidentifier``), so a study gets the same
output whichever way it arrives.
Exit codes: ``serve`` 0 after a clean stop (SIGTERM or Ctrl-C; a second one stops delivering at
once); ``pull`` 0 success, 1 retrieve failures or instances left undelivered, 3 some quarantined.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from dicom_deid.cli_engine import add_subject_flags, make_deidentifier
from dicom_deid.errors import ConfigError

if TYPE_CHECKING:
    from dicom_deid.net.config import EngineSettings, NodeConfig
    from dicom_deid.net.events import NodeEvent
    from dicom_deid.net.node import Node

EXIT_OK, EXIT_ERROR, EXIT_QUARANTINED = 0, 1, 3


def register_subcommands(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``serve`` and ``pull`` to the main parser's subcommands."""
    serve = subparsers.add_parser(
        "serve", help="DICOM node: receive (C-STORE), de-identify, forward (C-STORE) or write to a folder")
    _add_node_flags(serve, listening=True)
    serve.set_defaults(func=cmd_serve)

    pull = subparsers.add_parser(
        "pull", help="query a PACS (C-FIND), retrieve studies (C-GET or C-MOVE), de-identify them")
    pull.add_argument("--from", dest="source", metavar="AE@HOST:PORT", help="the PACS to pull from")
    pick = pull.add_mutually_exclusive_group()
    pick.add_argument("--study", action="append", nargs="+", metavar="UID", help="Study Instance UID(s)")
    pick.add_argument("--query", metavar="KEY=VALUE,...",
                      help='C-FIND keys, e.g. "PatientID=12345,StudyDate=20240101-20240131"')
    pull.add_argument("--retrieve", choices=("get", "move"),
                      help="C-GET on the query association (default), or C-MOVE to this node's own SCP "
                           "(the PACS must know --ae-title at --bind/--port)")
    _add_node_flags(pull, listening=False)
    pull.set_defaults(func=cmd_pull)


def _add_node_flags(p: argparse.ArgumentParser, *, listening: bool) -> None:
    p.add_argument("--config", type=Path, metavar="FILE.toml", help="node settings (flags win over the file)")
    p.add_argument("--ae-title", help="this node's AE title (default DEID)")
    p.add_argument("--bind", metavar="ADDRESS", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="port to listen on (default 11112; 0: any free port)")
    if listening:
        p.add_argument("--allow-ae", action="append", metavar="TITLE",
                       help="calling AE title allowed to send (repeatable; required)")
        p.add_argument("--allow-address", action="append", metavar="IP[/BITS]",
                       help="source address or network allowed to connect (repeatable; default: any)")
        p.add_argument("--tls-cert", type=Path, metavar="PEM", help="listen with TLS: certificate chain")
        p.add_argument("--tls-key", type=Path, metavar="PEM", help="listen with TLS: private key")
        p.add_argument("--tls-client-ca", type=Path, metavar="PEM",
                       help="with TLS: require client certificates signed by this CA")
        p.add_argument("--max-associations", type=int, metavar="N", help="associations at once (default 8)")
    dest = p.add_mutually_exclusive_group()
    dest.add_argument("--out", type=Path, metavar="DIR", help="write de-identified instances to this folder")
    dest.add_argument("--forward", metavar="AE@HOST:PORT", help="forward de-identified instances (C-STORE)")
    p.add_argument("--forward-tls-ca", type=Path, metavar="PEM",
                   help="forward over TLS, trusting the destination's certificate if this CA signed it")
    p.add_argument("--spool", type=Path, metavar="DIR",
                   help="persistent queue (default: $DICOM_DEID_HOME/spool/<AE title>; holds originals, 0700)")
    p.add_argument("--quarantine", type=Path, metavar="DIR",
                   help="quarantine folder (default: OUT.quarantine, or SPOOL/quarantine with --forward)")
    p.add_argument("--max-queue", type=int, metavar="N",
                   help="instances held before C-STORE answers 'out of resources' (default 10000)")
    p.add_argument("--workers", type=int, metavar="N", help="de-identification threads (default 1)")
    p.add_argument("--retry-initial", type=float, metavar="SECONDS",
                   help="first delay before retrying a destination that is down (default 1, doubling)")
    p.add_argument("--retry-max", type=float, metavar="SECONDS", help="longest delay between retries (default 60)")
    p.add_argument("--drain-timeout", type=float, metavar="SECONDS",
                   help="on SIGTERM, how long to keep delivering before persisting the rest (default 30)")
    # the engine: as for `run`
    p.add_argument("--profile", help="profile name (basic, research, safe-harbor) or .toml path (default basic)")
    p.add_argument("--option", action="append", default=[], metavar="NAME", help="add a PS3.15 option (repeatable)")
    p.add_argument("--override", action="append", default=[], metavar="TAG=ACTION",
                   help="per-tag override: TAG=keep|remove|empty|replace:VALUE (repeatable)")
    p.add_argument("--key-file", type=Path, help="secret key file (default: as for run)")
    p.add_argument("--pixels", choices=("auto", "all", "off"), help="burned-in text redaction (default: profile)")
    p.add_argument("--recipient", type=Path, help="custodian public key (.pub) to seal the mapping to")
    p.add_argument("--mapping", type=Path, help="sealed mapping file of this session (never inside OUT)")
    add_subject_flags(p)
    p.add_argument("--progress", nargs="?", const="bar", choices=("bar", "json", "none"), default="none",
                   help="live counters on stderr: a status line (bar, the default with bare --progress), "
                        "JSON lines, or none")


# ---- configuration: flags over the TOML file over the defaults -------------------------------------

def _pick(flag: Any, section: dict[str, Any], key: str, default: Any = None) -> Any:
    return flag if flag is not None else section.get(key, default)


def _node_config(args: argparse.Namespace, listening: bool,
                 extra_allowed: tuple[str, ...] = ()) -> tuple[NodeConfig, dict[str, dict[str, Any]]]:
    from dicom_deid.keys import default_key_dir
    from dicom_deid.net.config import (
        DEFAULT_AE_TITLE,
        DEFAULT_BIND,
        DEFAULT_DRAIN_TIMEOUT,
        DEFAULT_MAX_ASSOCIATIONS,
        DEFAULT_MAX_QUEUE,
        DEFAULT_PORT,
        DEFAULT_RETRY_INITIAL,
        DEFAULT_RETRY_MAX,
        DEFAULT_WORKERS,
        NodeConfig,
        Peer,
        RetryPolicy,
        TlsClient,
        TlsServer,
        check_ae_title,
        load_config_file,
        parse_networks,
    )
    from dicom_deid.net.spool import folder_name

    files = load_config_file(args.config) if args.config else {}
    node, fwd, tls, deid = (files.get(k, {}) for k in ("node", "forward", "tls", "deid"))
    ae_title = check_ae_title(_pick(args.ae_title, node, "ae_title", DEFAULT_AE_TITLE), "--ae-title")
    key_file = _pick(args.key_file, deid, "key_file")
    spool = _pick(args.spool, node, "spool") or (
        (key_file.parent if key_file else default_key_dir()) / "spool" / folder_name(ae_title))
    out = _pick(args.out, node, "out")
    destination = _pick(args.forward, fwd, "destination")
    if args.out is not None and destination is not None and args.forward is None:
        destination = None  # --out on the command line wins over a destination in the file
    if args.forward is not None and out is not None and args.out is None:
        out = None
    allowed_ae = tuple(check_ae_title(t, "--allow-ae") for t in
                       (getattr(args, "allow_ae", None) or node.get("allowed_ae", [])))
    tls_cert = _pick(getattr(args, "tls_cert", None), tls, "cert")
    tls_key = _pick(getattr(args, "tls_key", None), tls, "key")
    if (tls_cert is None) != (tls_key is None):
        raise ConfigError("TLS needs both --tls-cert and --tls-key")
    server_tls = TlsServer(tls_cert, tls_key, _pick(getattr(args, "tls_client_ca", None), tls, "client_ca")) \
        if tls_cert is not None else None
    forward_ca = _pick(args.forward_tls_ca, fwd, "tls_ca")
    forward_tls = TlsClient(forward_ca, fwd.get("tls_cert"), fwd.get("tls_key")) if forward_ca else None
    config = NodeConfig(
        spool=spool, ae_title=ae_title,
        bind=_pick(args.bind, node, "bind", DEFAULT_BIND),
        port=_pick(args.port, node, "port", DEFAULT_PORT),
        allowed_ae=allowed_ae + extra_allowed,
        allowed_networks=parse_networks(getattr(args, "allow_address", None) or node.get("allowed_addresses", [])),
        output=out, forward=Peer.parse(destination, "--forward") if destination else None,
        quarantine=_pick(args.quarantine, node, "quarantine"), tls=server_tls, forward_tls=forward_tls,
        max_associations=_pick(getattr(args, "max_associations", None), node, "max_associations",
                               DEFAULT_MAX_ASSOCIATIONS),
        max_queue=_pick(args.max_queue, node, "max_queue", DEFAULT_MAX_QUEUE),
        workers=_pick(args.workers, node, "workers", DEFAULT_WORKERS),
        retry=RetryPolicy(_pick(args.retry_initial, fwd, "retry_initial", DEFAULT_RETRY_INITIAL),
                          _pick(args.retry_max, fwd, "retry_max", DEFAULT_RETRY_MAX)),
        drain_timeout=_pick(args.drain_timeout, node, "drain_timeout", DEFAULT_DRAIN_TIMEOUT),
    )
    config.validate(listening=listening)
    return config, files


def _engine_settings(args: argparse.Namespace, files: dict[str, dict[str, Any]]) -> EngineSettings:
    """The engine's choices, flags over the file's [deid] section: the same names as `run`'s flags."""
    from dicom_deid.net.config import EngineSettings

    deid = files.get("deid", {})
    return EngineSettings(
        profile=_pick(args.profile, deid, "profile", "basic"),
        options=tuple(args.option or deid.get("options", [])),
        overrides=tuple(args.override or deid.get("overrides", [])),
        key_file=_pick(args.key_file, deid, "key_file"),
        pixels=_pick(args.pixels, deid, "pixels"),
        recipient=_pick(args.recipient, deid, "recipient"),
        mapping=_pick(args.mapping, deid, "mapping"),
        subject_map=_pick(args.subject_map, deid, "subject_map"),
        unmapped=_pick(args.unmapped, deid, "unmapped"),
    )


def open_node(config: NodeConfig, settings: EngineSettings, *, backend: str = "serve",
              on_event: Callable[[NodeEvent], None] | None = None,
              warn: Callable[[str], None] | None = None) -> Node:
    """Engine (a ``Deidentifier``, built as `run` builds it), spool, pipeline session and node, not yet started."""
    from dicom_deid.manifest import MANIFEST_NAME
    from dicom_deid.net.adapter import open_session
    from dicom_deid.net.node import Node
    from dicom_deid.net.spool import Spool

    say = warn or (lambda msg: print(f"dicom-deid: warning: {msg}", file=sys.stderr))
    if config.output is not None:
        config.output.mkdir(parents=True, exist_ok=True)
    deid = make_deidentifier(profile=settings.profile, options=settings.options, overrides=settings.overrides,
                             key_file=settings.key_file, pixels=settings.pixels, subject_map=settings.subject_map,
                             unmapped=settings.unmapped, say=say, warn=say)
    spool = Spool(config.spool)
    try:
        output = config.output if config.output is not None else spool.outbox
        manifest = (config.output if config.output is not None else spool.root) / MANIFEST_NAME
        session = open_session(
            deid.engine, input_root=spool.incoming, output=output, quarantine_dir=config.quarantine_dir,
            manifest=manifest, key_dir=deid.key_dir, recipient=settings.recipient, mapping=settings.mapping,
            run_id=uuid.uuid4().hex, backend=backend, workers=config.workers, warn=say,
            run_info=deid.run_info(backend=backend), warnings=deid.warnings)
    except BaseException:
        spool.close()
        raise
    return Node(config, session, spool, on_event=on_event)


def _quiet_pynetdicom_logs() -> None:
    """pynetdicom logs datasets and identifiers (PHI) at several levels: only our own log lines.
    Also the check that the 'net' extra is installed."""
    import logging

    try:
        import pynetdicom  # noqa: F401 - only whether it is there
    except ImportError:
        raise ConfigError("serve and pull need pynetdicom: pip install 'dicom-deid[net]'") from None
    logging.getLogger("pynetdicom").setLevel(logging.CRITICAL)


# ---- serve ---------------------------------------------------------------------------------------

def cmd_serve(args: argparse.Namespace) -> int:
    _quiet_pynetdicom_logs()
    config, files = _node_config(args, listening=True)
    progress = _Progress(args.progress)
    node = open_node(config, _engine_settings(args, files), backend="serve", on_event=progress)
    stop = threading.Event()

    def on_signal() -> None:
        if stop.is_set():
            node.hurry()  # a second signal: stop delivering, keep the rest in the spool
        stop.set()

    previous = _on_signals(on_signal)
    try:
        try:
            node.start()
        except OSError as exc:  # the port is taken, or the address is not ours
            node.stop(drain_timeout=0)
            raise ConfigError(f"cannot listen on {config.bind}:{config.port} ({exc.strerror or exc}); "
                              "choose another --port or --bind") from None
        host, port = node.address
        where = f"writing to {config.output}" if config.output else f"forwarding to {config.forward}"
        tls = " with TLS" if config.tls else ""
        print(f"dicom-deid serve: listening as {config.ae_title} on {host}:{port}{tls}, {where}; "
              f"spool {config.spool}; stop with SIGTERM or Ctrl-C", flush=True)
        stop.wait()
        print(f"dicom-deid serve: stopping: no new associations; delivering for up to {config.drain_timeout:g} s",
              file=sys.stderr, flush=True)
        counters = node.stop()
    finally:
        _restore_signals(previous)
        progress.close()
    print(f"dicom-deid serve: stopped: {_summary(counters)}", flush=True)
    _print_left(counters, config)
    return EXIT_OK


def _on_signals(handler: Any) -> dict[int, Any]:
    if threading.current_thread() is not threading.main_thread():
        return {}
    previous: dict[int, Any] = {}

    def on_signal(signum: int, frame: FrameType | None) -> None:
        handler()

    for sig in (signal.SIGTERM, signal.SIGINT):
        previous[sig] = signal.signal(sig, on_signal)
    return previous


def _restore_signals(previous: dict[int, Any]) -> None:
    for sig, handler in previous.items():
        signal.signal(sig, handler)


def _summary(c: Any) -> str:
    return (f"received {c.received}, de-identified {c.deidentified}, quarantined {c.quarantined}, "
            f"forwarded {c.forwarded}, undeliverable {c.undeliverable}, refused (queue full) {c.refused_full}, "
            f"rejected associations {c.rejected_associations}, delivery retries {c.retries}")


def _print_left(c: Any, config: Any) -> None:
    if c.queued_deid or c.queued_delivery:
        print(f"  left in the spool {config.spool}: {c.queued_deid} to de-identify, {c.queued_delivery} to "
              "deliver (the next start with this spool resumes them)")
    if c.quarantined:
        print(f"  quarantine: {config.quarantine_dir} (input side: holds originals)")
    if c.undeliverable:
        print(f"  refused by the destination: {config.spool / 'failed'} (reasons.jsonl)")


# ---- pull ----------------------------------------------------------------------------------------

def cmd_pull(args: argparse.Namespace) -> int:
    from dicom_deid.net.config import Peer, Retrieve
    from dicom_deid.net.pull import Puller, parse_query

    _quiet_pynetdicom_logs()
    files = {}
    if args.config:
        from dicom_deid.net.config import load_config_file

        files = load_config_file(args.config)
    section = files.get("pull", {})
    source_text = _pick(args.source, section, "source")
    if source_text is None:
        raise ConfigError("pull needs --from AE@HOST:PORT (the PACS to pull from)")
    source = Peer.parse(source_text, "--from")
    if not args.study and not args.query:
        raise ConfigError("pull needs --study UID... or --query KEY=VALUE,...")
    how = Retrieve(_pick(args.retrieve, section, "retrieve", "get"))
    query = parse_query(args.query) if args.query else ()
    listening = how is Retrieve.MOVE
    config, files = _node_config(args, listening=False, extra_allowed=(source.ae_title,) if listening else ())
    progress = _Progress(args.progress)
    node = open_node(config, _engine_settings(args, files), backend="pull", on_event=progress)
    completed = failed = 0
    studies: list[str] = []
    try:
        node.start(listen=listening)
        puller = Puller(source, node)
        try:
            studies = [uid for group in args.study for uid in group] if args.study else puller.find_studies(query)
            if not studies:
                print("dicom-deid pull: no study matches the query", file=sys.stderr)
            for uid in studies:
                result = puller.retrieve(uid, how)
                completed += result.completed
                failed += result.failed
        finally:
            puller.close()
            node.wait_for(lambda c: c.queued_deid == 0, None)  # every instance received is de-identified
            node.drain(config.drain_timeout)
            counters = node.stop(drain_timeout=0)
    finally:
        progress.close()
    print(f"dicom-deid pull: {len(studies)} studies, {completed} instances retrieved ({failed} failed): "
          f"{_summary(counters)}")
    _print_left(counters, config)
    if config.output is not None:
        print(f"  output:     {config.output}")
    if failed or counters.queued_delivery or counters.undeliverable:
        return EXIT_ERROR
    return EXIT_QUARANTINED if counters.quarantined else EXIT_OK


# ---- live counters -------------------------------------------------------------------------------

class _Progress:
    """Observer of node events: a status line, JSON lines for scripts and tests, or nothing."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.tty = sys.stderr.isatty()
        self._last = 0.0

    def __call__(self, event: Any) -> None:
        from dataclasses import asdict

        if self.mode == "json":
            row = {"event": event.activity.value, **asdict(event.counters)}
            if event.detail:
                row["detail"] = event.detail
            print(json.dumps(row), file=sys.stderr, flush=True)
        elif self.mode == "bar":
            now = time.monotonic()
            if now - self._last < (0.25 if self.tty else 5.0) and event.activity.value != "stopped":
                return
            self._last = now
            c = event.counters
            line = (f"received {c.received} | de-identified {c.deidentified} | quarantined {c.quarantined} | "
                    f"forwarded {c.forwarded} | queued {c.queued_deid}+{c.queued_delivery} | retries {c.retries}")
            print(("\r" + line) if self.tty else line, end="" if self.tty else "\n", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.mode == "bar" and self.tty:
            print(file=sys.stderr)


__all__ = ["cmd_pull", "cmd_serve", "open_node", "register_subcommands"]
