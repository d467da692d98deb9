"""The house (issue 13): imports run one way, the seams carry no ``Any``, the engine is described once."""

from __future__ import annotations

import ast
import dataclasses
import pickle
import re
from pathlib import Path

import pytest

from tests.conftest import REPO

PACKAGE = REPO / "dicom_deid"
SEAMS = ("api", "boundary", "deidentify", "pipeline", "workers", "config", "subjects", "events", "cli_engine",
         "net.adapter")


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
        out[".".join(parts)] = path
    return out


def _import_graph() -> dict[str, set[str]]:
    """Every import of a module of the package, at any level (function bodies and TYPE_CHECKING too)."""
    modules = _modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules else node.module
                           for a in node.names]
            for target in targets:
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    graph[name].add(target)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_package_import_graph_has_no_cycle():
    graph = _import_graph()
    assert len(graph) > 60 and sum(len(v) for v in graph.values()) > 150  # the graph was really read
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_circles_named_by_the_issue_are_gone():
    graph = _import_graph()
    for a, b in (("dicom_deid.custodian", "dicom_deid.seal"), ("dicom_deid.pipeline", "dicom_deid.workers"),
                 ("dicom_deid.cli", "dicom_deid.cli_net")):
        assert not (b in graph[a] and a in graph[b]), (a, b)
    assert not any(t.startswith("dicom_deid.seal") for t in graph["dicom_deid.custodian"])


def _annotations(tree: ast.Module) -> list[tuple[str, str]]:
    """(where, annotation source) of every public function signature and public class field."""
    found = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
            found += _signature(node.name, node)
        elif isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
            for item in node.body:
                if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                    found.append((f"{node.name}.{item.target.id}", ast.unparse(item.annotation)))
                elif isinstance(item, ast.FunctionDef) and (not item.name.startswith("_") or item.name == "__init__"):
                    found += _signature(f"{node.name}.{item.name}", item)
    return found


def _signature(where: str, fn: ast.FunctionDef) -> list[tuple[str, str]]:
    args = fn.args.posonlyargs + fn.args.args + fn.args.kwonlyargs
    out = [(f"{where}({a.arg})", ast.unparse(a.annotation)) for a in args if a.annotation is not None]
    if fn.returns is not None:
        out.append((f"{where} ->", ast.unparse(fn.returns)))
    return out


def test_no_any_at_the_seams():
    checked, offending = 0, []
    for name in SEAMS:
        path = PACKAGE / (name.replace(".", "/") + ".py")
        for where, annotation in _annotations(ast.parse(path.read_text())):
            checked += 1
            if re.search(r"\bAny\b", annotation) or annotation in ("str", "object") and where.endswith(
                    ("(pixels)", "(outcome)", "(reason)", ".pixels", ".outcome", ".reason")):
                offending.append(f"{name}: {where}: {annotation}")
    assert checked > 120
    assert offending == []


def test_modes_and_outcomes_cross_as_their_enums():
    from dicom_deid import Deidentifier, Outcome, PixelMode, QuarantineReason
    from dicom_deid.boundary import FileResult
    from dicom_deid.deidentify import Engine
    from dicom_deid.events import FileDone

    hints = {f.name: f.type for f in dataclasses.fields(Engine)}
    assert hints["pixels"] == "PixelMode"
    assert {f.name: f.type for f in dataclasses.fields(FileDone)}["outcome"] == "Outcome"
    assert FileResult.outcome.fget.__annotations__["return"] == "Outcome"  # type: ignore[attr-defined]
    with pytest.raises(TypeError, match="Engine.pixels must be a PixelMode, not str"):
        Engine(Deidentifier(pixels="off").profile, Deidentifier(pixels="off").engine.key, "auto")  # type: ignore[arg-type]
    assert {m.value for m in PixelMode} == {"auto", "all", "off"} and Outcome.QUARANTINED and QuarantineReason.UNREADABLE


def test_the_engine_is_described_once_and_sent_as_is():
    from dicom_deid import Deidentifier, SecretKey
    from dicom_deid.deidentify import Engine

    deid = Deidentifier("research", key=SecretKey.from_bytes(bytes(32)), pixels="off")
    engine = deid.engine
    assert set(engine.__getstate__()) == {"profile", "key", "pixels", "subject_map", "pixel_series"}
    sent = pickle.loads(pickle.dumps(engine))
    assert type(sent) is Engine and sent == engine and sent.remapper.uid("1.2.3") == engine.remapper.uid("1.2.3")
    # no second description: no other class holds a profile and a key, and workers receive the Engine
    holders = []
    for name, path in _modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                fields = {i.target.id for i in node.body if isinstance(i, ast.AnnAssign) and isinstance(i.target, ast.Name)}
                if {"profile", "key"} <= fields:
                    holders.append(f"{name}.{node.name}")
    assert holders == ["dicom_deid.deidentify.Engine"]
    workers = (PACKAGE / "workers.py").read_text()
    assert "EngineSpec" not in workers and "initargs=(engine,)" in workers


def test_every_run_config_field_is_read():
    from dicom_deid.config import RunConfig

    fields = {f.name for f in dataclasses.fields(RunConfig)}
    assert not fields & {"profile", "key_file", "pixel_mode"}  # the engine's, not the run's
    readers = "".join((PACKAGE / f).read_text() for f in ("pipeline.py", "api.py", "config.py"))
    unread = sorted(f for f in fields if not re.search(rf"(config|self)\.{f}\b", readers))
    assert unread == []
