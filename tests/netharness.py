"""Test harness for the network node: a real Orthanc on loopback, a node in a subprocess, free ports.

Nothing sleeps: Orthanc is ready when it logs "Orthanc has started" (then its REST API answers);
a node subprocess is ready when it prints where it listens, and its progress is read from the
JSON lines ``--progress json`` writes on stderr.  Every wait has a generous bound so that a broken
build fails instead of hanging; the bounds are not timing assertions.
"""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import socket
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import needs_tool

HANG_GUARD = 120.0  # seconds: only a broken build waits this long
ORTHANC = shutil.which("Orthanc")
STORESCU = shutil.which("storescu")
needs_orthanc = needs_tool("orthanc")  # a skip without the tool; a failure under CI (tests/conftest.py)
needs_storescu = needs_tool("storescu")


def free_port() -> int:
    """A TCP port free on loopback now (chosen by the kernel)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Lines:
    """Reads a process stream on a thread (so the pipe never fills) and lets tests wait for lines."""

    def __init__(self, stream: Any) -> None:
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: Any) -> None:
        for line in stream:
            self.lines.append(line)
            self._queue.put(line)
        self._queue.put(None)

    def wait_for(self, predicate: Callable[[str], bool], what: str) -> str:
        while True:
            try:
                line = self._queue.get(timeout=HANG_GUARD)
            except queue.Empty:
                raise AssertionError(f"no line {what} within {HANG_GUARD:.0f} s") from None
            if line is None:
                raise AssertionError(f"stream ended before {what}:\n{''.join(self.lines[-30:])}")
            if predicate(line):
                return line

    def text(self) -> str:
        return "".join(self.lines)


@dataclass
class Orthanc:
    """A real Orthanc (Debian package) with its own configuration and storage under ``root``."""

    root: Path
    modalities: dict[str, dict[str, Any]] = field(default_factory=dict)
    aet: str = "ORTHANC"
    http_port: int = field(default_factory=free_port)
    dicom_port: int = field(default_factory=free_port)
    process: subprocess.Popen[str] | None = None
    log: _Lines | None = None

    @property
    def peer(self) -> str:
        return f"{self.aet}@127.0.0.1:{self.dicom_port}"

    def start(self) -> Orthanc:
        assert ORTHANC is not None
        self.root.mkdir(parents=True, exist_ok=True)
        config = {
            "Name": "dicom-deid-test", "StorageDirectory": str(self.root / "db"),
            "IndexDirectory": str(self.root / "db"), "HttpPort": self.http_port, "DicomPort": self.dicom_port,
            "DicomAet": self.aet, "RemoteAccessAllowed": False, "AuthenticationEnabled": False,
            "Plugins": [], "LuaScripts": [], "StableAge": 1, "DicomCheckCalledAet": True,
            "DicomAlwaysAllowEcho": True, "DicomAlwaysAllowStore": False, "DicomCheckModalityHost": True,
            "DicomModalities": self.modalities, "UnknownSopClassAccepted": True, "OverwriteInstances": False,
            "HttpServerEnabled": True, "WebDavEnabled": False, "OrthancExplorerEnabled": False,
            "StorageCompression": False, "DicomScpTimeout": 30, "DicomAssociationCloseDelay": 0,
        }
        path = self.root / "orthanc.json"
        path.write_text(json.dumps(config, indent=1))
        # TCP_NODELAY=1: DCMTK (Orthanc's DICOM stack) otherwise waits for delayed ACKs at every C-STORE
        self.process = subprocess.Popen([ORTHANC, str(path)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        text=True, cwd=self.root, env={**os.environ, "TCP_NODELAY": "1"})
        self.log = _Lines(self.process.stdout)
        self.log.wait_for(lambda line: "Orthanc has started" in line, "'Orthanc has started'")
        assert self.get("/system")["DicomPort"] == self.dicom_port
        return self

    def stop(self, *, graceful: bool = True) -> None:
        """Stop Orthanc (SIGTERM; ``graceful=False``: SIGKILL, for tear-down, which needs no clean index)."""
        if self.process is not None and self.process.poll() is None:
            if graceful:
                self.process.terminate()
            else:
                self.process.kill()
            self.process.wait(timeout=HANG_GUARD)
        self.process = None

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}{path}", timeout=HANG_GUARD) as rsp:
            return json.loads(rsp.read())

    def get_bytes(self, path: str) -> bytes:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}{path}", timeout=HANG_GUARD) as rsp:
            return bytes(rsp.read())

    def upload(self, data: bytes) -> str:
        req = urllib.request.Request(f"http://127.0.0.1:{self.http_port}/instances", data=data, method="POST",
                                     headers={"Content-Type": "application/dicom"})
        with urllib.request.urlopen(req, timeout=HANG_GUARD) as rsp:
            return str(json.loads(rsp.read())["ID"])

    def instance_files(self) -> dict[str, bytes]:
        """Orthanc instance id -> the DICOM file it stores."""
        return {i: self.get_bytes(f"/instances/{i}/file") for i in self.get("/instances")}


def modality(aet: str, port: int, **allow: bool) -> dict[str, Any]:
    """An Orthanc DicomModalities entry on loopback."""
    entry: dict[str, Any] = {"AET": aet, "Host": "127.0.0.1", "Port": port, "AllowEcho": True,
                             "AllowFind": False, "AllowGet": False, "AllowMove": False, "AllowStore": False}
    entry.update({f"Allow{k.capitalize()}": v for k, v in allow.items()})
    return entry


@pytest.fixture
def orthancs(tmp_path: Path) -> Any:
    """``make(name, modalities) -> Orthanc`` (not started); every one made is killed at tear-down."""
    made: list[Orthanc] = []

    def make(name: str = "orthanc", modalities: dict[str, dict[str, Any]] | None = None) -> Orthanc:
        orthanc = Orthanc(tmp_path / name, modalities or {})
        made.append(orthanc)
        return orthanc

    yield make
    for orthanc in made:
        orthanc.stop(graceful=False)


@pytest.fixture
def node_processes() -> Any:
    """``start(args) -> NodeProcess``; every one still running is killed at tear-down."""
    started: list[NodeProcess] = []

    def start(args: Iterable[str]) -> NodeProcess:
        node = NodeProcess(args)
        started.append(node)
        return node

    yield start
    for node in started:
        if node.process.poll() is None:
            node.kill()


class NodeProcess:
    """``python -m dicom_deid serve ... --progress json`` in a subprocess."""

    def __init__(self, args: Iterable[str], env: dict[str, str] | None = None) -> None:
        self.argv = [sys.executable, "-m", "dicom_deid", *args]
        self.process = subprocess.Popen(self.argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                        env={**os.environ, **(env or {})})
        self.out = _Lines(self.process.stdout)
        self.err = _Lines(self.process.stderr)
        line = self.out.wait_for(lambda s: "listening as" in s, "'listening as'")
        match = re.search(r" on ([0-9.]+):(\d+)", line)
        assert match is not None, line
        self.port = int(match.group(2))

    def wait_counters(self, predicate: Callable[[dict[str, Any]], bool], what: str) -> dict[str, Any]:
        def check(line: str) -> bool:
            return line.startswith("{") and predicate(json.loads(line))

        return dict(json.loads(self.err.wait_for(check, what)))

    def terminate(self) -> int:
        self.process.terminate()
        return self.process.wait(timeout=HANG_GUARD)

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(timeout=HANG_GUARD)

    def finish_output(self) -> tuple[str, str]:
        """All stdout and stderr, once the process has ended."""
        self.out._thread.join(HANG_GUARD)
        self.err._thread.join(HANG_GUARD)
        return self.out.text(), self.err.text()


__all__ = ["HANG_GUARD", "NodeProcess", "Orthanc", "free_port", "modality", "needs_orthanc", "needs_storescu",
           "node_processes", "orthancs"]
