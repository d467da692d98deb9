"""Issue 16 (metadata speed): the walk's paths without pathlib parsing, the seal package's
submodules imported on first use, and the VR check's raw elements read by index.

Each fast path is compared with the code it replaces (pathlib's own answer, the package's
eager imports, ``getattr(raw, "VR")``), never with values it computed itself."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.tag import BaseTag

from dicom_deid import seal
from dicom_deid.errors import UnreadableDicomError
from dicom_deid.read import _check_explicit_vrs
from dicom_deid.walk import InputRef, _iter_files, walk_inputs

ROOT = Path(__file__).resolve().parent.parent


def _pathlib_relative(path: Path, root: Path) -> str:
    """What ``InputRef.relative_to`` answered before (pathlib's relative_to, else the whole path)."""
    try:
        rel = path.relative_to(root).as_posix()
    except ValueError:
        rel = path.as_posix()
    return rel if rel != "." else path.name


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "in"
    for rel in ("a/1.dcm", "a/b/2.dcm", "top.dcm", "a b/spaced name.dcm", "x.y/z"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(b"x")
    return root


@pytest.mark.parametrize("spelling", ["{root}", "{root}/", "{root}/./", "{root}/../in", "{root}//"])
def test_walked_paths_and_names_are_pathlibs(tree: Path, spelling: str) -> None:
    """Every walked path equals ``Path(entry.path)`` and every name pathlib's relative path,
    whatever the spelling of the root the operator typed."""
    root = Path(spelling.format(root=tree))
    walked = [p for p, _ in _iter_files(root)]
    assert walked, "nothing walked"
    expected = sorted(Path(os.path.join(d, f)) for d, _, files in os.walk(root) for f in files)
    assert sorted(walked) == expected
    for path in walked:
        assert str(path) == str(Path(str(path)))  # normalised as a parsed Path is
        assert InputRef(0, path).relative_to(root) == _pathlib_relative(path, root)


def test_relative_name_outside_the_root_and_of_the_root_itself(tree: Path, tmp_path: Path) -> None:
    """Paths the string test does not take fall back to pathlib: the root itself (a single-file
    input), a sibling whose name starts with the root's, a path elsewhere, a relative root."""
    cases = [
        (tree / "top.dcm", tree / "top.dcm"),
        (tmp_path / "in2" / "f.dcm", tree),  # starts with "in" but is not under it
        (tmp_path / "elsewhere.dcm", tree),
        (Path("in/a/1.dcm"), Path("in")),
        (Path("a/1.dcm"), Path(".")),
        (Path("/in/a.dcm"), Path("/")),
    ]
    for path, root in cases:
        assert InputRef(0, path).relative_to(root) == _pathlib_relative(path, root), (path, root)
    zipped = InputRef(3, tree / "a" / "e.zip", "x/one.dcm", 0)
    assert zipped.relative_to(tree) == "a/e.zip!0:x/one.dcm"


def test_relative_names_from_a_relative_root(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tree.parent)
    for root in (Path("in"), Path("./in"), Path("in/a")):
        refs = list(walk_inputs(root))
        assert refs
        for ref in refs:
            assert ref.relative_to(root) == _pathlib_relative(ref.path, root)
    monkeypatch.chdir(tree)
    refs = list(walk_inputs(Path(".")))
    assert sorted(ref.relative_to(Path(".")) for ref in refs) == sorted(
        _pathlib_relative(ref.path, Path(".")) for ref in refs)
    assert "a/b/2.dcm" in {ref.relative_to(Path(".")) for ref in refs}


def test_seal_names_resolve_to_their_submodules() -> None:
    """Every name of ``seal.__all__`` is the object its submodule defines (as the eager imports
    gave), and an unknown name is an AttributeError."""
    from dicom_deid.seal import combine, format, reader, writer

    modules = (combine, format, reader, writer)
    for name in seal.__all__:
        value = getattr(seal, name)
        owners = [m for m in modules if getattr(m, name, None) is value]
        assert owners or name == "SealError", name
    with pytest.raises(AttributeError):
        _ = seal.no_such_name  # type: ignore[attr-defined]


def test_a_run_imports_neither_the_mapping_reader_nor_combine(tmp_path: Path) -> None:
    """A one-file run writes its sealed mapping without importing what reads, verifies or
    combines one (start-up, issue 16); the custodian's mapping tools still import them."""
    from pydicom.data import get_testdata_file

    one = str(get_testdata_file("CT_small.dcm"))
    code = (
        "import sys\n"
        "from dicom_deid.cli import main\n"
        f"rc = main(['run', {one!r}, {str(tmp_path / 'out')!r}, '--pixels', 'off', '--workers', '1', '--quiet'])\n"
        "assert rc == 0, rc\n"
        "print(sorted(m for m in sys.modules if m.startswith('dicom_deid.seal')))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DICOM_DEID_HOME": str(tmp_path / "home")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    loaded = out.stdout.strip().splitlines()[-1]
    assert "dicom_deid.seal.writer" in loaded  # the run did seal its mapping
    for absent in ("dicom_deid.seal.reader", "dicom_deid.seal.combine", "dicom_deid.seal.scan"):
        assert absent not in loaded
    mappings = list((tmp_path / "home" / "mappings").glob("*.ddmap"))
    assert len(mappings) == 1
    report = seal.verify_mapping(mappings[0])  # the reader, imported on use
    assert report.ok


def _raw(tag: int, vr: str, value: bytes) -> RawDataElement:
    return RawDataElement(BaseTag(tag), vr, len(value), value, 0, False, True)


@pytest.mark.parametrize("as_raw", [True, False])
def test_vr_check_reads_raw_and_decoded_elements_alike(as_raw: bool) -> None:
    """Text under a numeric VR is refused, a vendor's text-like VR passes, whether the element
    is still raw (read by index) or decoded (a DataElement: ``getattr``)."""
    ok, bad = Dataset(), Dataset()
    elements = {0x00081070: ("LO", b"OPERATOR"), 0x00100010: ("PN", b"DOE^JOHN")}
    for tag, (vr, value) in elements.items():
        ok._dict[BaseTag(tag)] = _raw(tag, vr, value)
    bad._dict[BaseTag(0x00080080)] = _raw(0x00080080, "LO", b"HOSPITAL")
    bad._dict[BaseTag(0x00180080)] = _raw(0x00180080, "LO", b"JOHN DOE")  # RepetitionTime is DS
    if not as_raw:
        for ds in (ok, bad):
            for key in list(ds._dict):
                ds[key]  # decoded in place: a DataElement
            assert all(type(e).__name__ == "DataElement" for e in ds._dict.values())
    _check_explicit_vrs(ok, "ok.dcm")
    with pytest.raises(UnreadableDicomError, match=r"RepetitionTime \(0018,0080\) has value representation LO"):
        _check_explicit_vrs(bad, "bad.dcm")
