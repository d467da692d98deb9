"""The pixel stage never reads a private element: what it decides and writes is the same with
an instance's private elements or without them.  (A run whose plan removes every private
element may then leave them unread with a pixel stage too, ``Engine.drops_private``: in
``--pixels auto`` that is most of what a sampled-and-clear instance costs beyond ``off``.)"""

from __future__ import annotations

import copy

import pytest
from pixel_fixtures import FixedFinder, read_test_file
from pydicom.dataset import Dataset

from dicom_deid.pixels import Examination, PixelMode, PixelPolicy, PixelStage
from dicom_deid.pixels.ocr import TextBox
from dicom_deid.pixels.sampling import SeriesVerdicts, look_of, series_key


def _without_private(ds: Dataset) -> Dataset:
    out = copy.deepcopy(ds)
    out.remove_private_tags()
    return out


def _outcome(stage: PixelStage, source: Dataset) -> tuple[object, ...]:
    target = copy.deepcopy(source)
    decision = stage.decide(source)
    outcome = stage.process(source, target, decision=decision)
    return decision, outcome, target.PixelData, target.get("BurnedInAnnotation")


def _stages(source: Dataset) -> dict[str, PixelStage]:
    finder = FixedFinder([TextBox(8, 8, 20, 10)])
    clear = SeriesVerdicts({str(series_key(source)): frozenset({look_of(source)})})
    return {
        "all": PixelStage(PixelPolicy(PixelMode.ALL), finder=finder),
        "auto-sample": PixelStage(PixelPolicy(PixelMode.AUTO), finder=finder),
        "auto-clear": PixelStage(PixelPolicy(PixelMode.AUTO), finder=finder).with_series(clear),
        "faces": PixelStage(PixelPolicy(PixelMode.AUTO, faces=True), finder=finder),
    }


@pytest.mark.parametrize("modality", ["CT", "US", "ES"])
@pytest.mark.parametrize("kind", ["all", "auto-sample", "auto-clear", "faces"])
def test_the_pixel_stage_does_the_same_without_private_elements(kind: str, modality: str) -> None:
    source = read_test_file("CT_small.dcm")
    source.Modality = modality
    assert any(e.tag.is_private for e in source)
    stripped = _without_private(source)
    with_private = _outcome(_stages(source)[kind], source)
    assert with_private == _outcome(_stages(stripped)[kind], stripped)
    outcome = with_private[1]
    assert outcome.examination is (Examination.SAMPLED_CLEAR if kind == "auto-clear" else Examination.FULL)  # type: ignore[attr-defined]
