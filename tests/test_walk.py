"""``walk.InputWalk``: a walk kept and replayed (``--pixels auto`` walks INPUT three times)."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest

from dicom_deid.walk import NOT_REGULAR, InputRef, InputWalk, walk_inputs


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """Nested folders, a zip export, a file named .zip that is none, a link to a file outside, a named pipe."""
    root = tmp_path / "in"
    for rel in ("a/1.dcm", "a/2.dcm", "b/c/3.dcm", "top.dcm"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(rel.encode())
    with zipfile.ZipFile(root / "b" / "export.zip", "w") as zf:
        zf.writestr("x/one.dcm", b"1")
        zf.writestr("x/two.dcm", b"2")
    (root / "b" / "broken.zip").write_bytes(b"PK\3\4 not a zip")
    outside = tmp_path / "outside.dcm"
    outside.write_bytes(b"o")
    (root / "a" / "link.dcm").symlink_to(outside)
    os.mkfifo(root / "a" / "pipe")
    return root


def _described(refs: list[InputRef]) -> list[tuple[int, str, str | None, int | None]]:
    return [(r.ordinal, str(r.path), r.member, r.member_index) for r in refs]


def test_a_replay_gives_the_walks_inputs_exactly(tree: Path) -> None:
    walked = list(walk_inputs(tree))
    kinds = {r.member_index for r in walked}
    assert len(walked) == 9 and {None, 0, 1, NOT_REGULAR} <= kinds  # files, zip members, a pipe
    walk = InputWalk(tree, replay=True)
    first, second, third = list(walk()), list(walk()), list(walk())
    assert _described(first) == _described(second) == _described(third) == _described(walked)
    assert [r.path for r in second] == [r.path for r in walked]  # equal Paths, not only equal text
    assert [type(r.path) for r in second] == [type(r.path) for r in walked]


def test_a_replay_does_not_walk_again(tree: Path) -> None:
    """The same inputs and ordinals on every walk of one run, even when INPUT changes meanwhile."""
    walk = InputWalk(tree, replay=True)
    before = _described(list(walk()))
    (tree / "a" / "0-new.dcm").write_bytes(b"new")  # sorts first: it would shift every ordinal
    (tree / "top.dcm").unlink()
    assert _described(list(walk())) == before
    assert _described(list(InputWalk(tree)())) != before  # a new walk sees the change


def test_without_replay_every_call_walks_again(tree: Path) -> None:
    walk = InputWalk(tree)
    count = len(list(walk()))
    (tree / "a" / "0-new.dcm").write_bytes(b"new")
    assert len(list(walk())) == count + 1


def test_a_walk_not_iterated_to_its_end_is_not_replayed(tree: Path) -> None:
    walk = InputWalk(tree, replay=True)
    partial = walk()
    assert next(partial).ordinal == 0  # stopped after one input
    (tree / "a" / "0-new.dcm").write_bytes(b"new")
    again = list(walk())
    assert len(again) == len(list(walk_inputs(tree))) == 10  # walked again, whole
    assert _described(list(walk())) == _described(again)  # and that complete walk is kept


def test_the_excluded_folders_stay_excluded_in_the_replay(tree: Path, tmp_path: Path) -> None:
    output = tmp_path / "out"
    (output / "sub").mkdir(parents=True)
    (output / "sub" / "written.dcm").write_bytes(b"w")
    (tree / "to-output").symlink_to(output, target_is_directory=True)
    walk = InputWalk(tree, exclude=(output,), replay=True)
    first, replayed = list(walk()), list(walk())
    assert _described(first) == _described(replayed) == _described(list(walk_inputs(tree, exclude=(output,))))
    assert not any("written" in str(r.path) for r in replayed) and len(replayed) == 9


def test_a_single_file_input_is_replayed(tree: Path) -> None:
    walk = InputWalk(tree / "top.dcm", replay=True)
    assert _described(list(walk())) == _described(list(walk())) == [(0, str(tree / "top.dcm"), None, None)]
