"""Conformance of the generated sample export (issue 12), as `make demo` runs it: research profile,
burned-in text redacted.  Every output is paired with its input through the manifest and checked
with ``scripts/bench_conformance.py``'s own comparison: no dciodvfy message the input did not
have (message by message, not counts), no clinical attribute changed on an image that was not
redacted and, on a redacted one, only what PS3.3 asks (Burned In Annotation, lossy history),
and every reference whose target was exported resolves."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from tests.conformance import bench_module
from tests.planted import generate_corpus


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory):
    corpus = generate_corpus(tmp_path_factory.mktemp("conformance") / "in", seed=5, patients=2)
    bench = bench_module()
    args = argparse.Namespace(max_files=10_000, profile="research", pixels="auto", workers=1, documents=None)
    return bench.bench_set("sample", Path(corpus.root), args, bench._table_tags())


def test_no_output_gains_a_dciodvfy_error(result) -> None:
    assert result.written >= 20  # precondition: the export was written
    compared = result.written - result.unparsed
    assert compared >= 20
    new = {shown: problems for shown, problems in result.per_file if not problems[0].startswith("(not compared")}
    assert new == {}
    assert result.new_files == 0 and result.more == 0


def test_clinical_attributes_change_only_where_redaction_requires(result) -> None:
    assert result.redacted >= 1  # precondition: burned-in text was found and removed
    assert result.clinical_files == 0, dict(result.clinical_changes)


def test_every_exported_reference_resolves(result) -> None:
    assert result.refs_expected >= 10  # precondition: SR evidence, key images, source images
    assert result.refs_resolved == result.refs_expected
    assert result.refs_gone == 0
