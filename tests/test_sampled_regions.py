"""Region rules (device templates, ultrasound regions) apply to instances of a series sampled
clear too; an instance no rule can touch passes through without its image size decoded."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from pixel_fixtures import FixedFinder, read_test_file, stored_frames
from pydicom.dataset import Dataset

import dicom_deid.pixels.stage as stage_module
from dicom_deid.pixels import Examination, PixelMode, PixelPolicy, PixelStage, RedactionBox
from dicom_deid.pixels.sampling import SeriesVerdicts, look_of, series_key


def _sampled_clear(source: Dataset, regions_dir: Path | None = None) -> PixelStage:
    verdicts = SeriesVerdicts({str(series_key(source)): frozenset({look_of(source)})})
    policy = PixelPolicy(PixelMode.AUTO, series=verdicts)
    return PixelStage(policy, finder=FixedFinder([]), regions_dir=regions_dir)


@pytest.mark.parametrize(("rows", "applies"), [(128, True), (256, False)])
def test_a_device_template_applies_to_a_sampled_clear_instance_of_its_size(
    tmp_path: Path, rows: int, applies: bool
) -> None:
    (tmp_path / "site.toml").write_text(
        '[[template]]\nname = "acme"\nsource = "test"\nmanufacturer = "acme"\n'
        f"rows = {rows}\nrectangles = [[0, 0, 128, 10]]\n"
    )
    source = read_test_file("CT_small.dcm")  # 128 x 128
    source.Manufacturer = "ACME Medical"
    stage = _sampled_clear(source, tmp_path)
    assert (stage.decide(source).passing is None) is applies
    outcome = stage.process(source, target := copy.deepcopy(source))
    assert outcome.examination is Examination.SAMPLED_CLEAR and not outcome.examined
    if applies:
        assert outcome.boxes == (RedactionBox(0, 0, 128, 10, None, "template"),)
        assert (stored_frames(target)[:, :10] == stored_frames(source).min()).all()
    else:
        assert outcome.boxes == () and target.PixelData == source.PixelData


def test_ultrasound_regions_apply_to_a_sampled_clear_instance() -> None:
    source = read_test_file("CT_small.dcm")
    source.Modality = "US"
    region = Dataset()
    region.RegionLocationMinX0, region.RegionLocationMinY0 = 20, 30
    region.RegionLocationMaxX1, region.RegionLocationMaxY1 = 99, 109
    region.RegionDataType = 1
    source.SequenceOfUltrasoundRegions = [region]
    stage = _sampled_clear(source)
    assert stage.decide(source).passing is None
    outcome = stage.process(source, target := copy.deepcopy(source))
    assert outcome.examination is Examination.SAMPLED_CLEAR
    assert {b.source for b in outcome.boxes} == {"ultrasound-region"}
    assert target.PixelData != source.PixelData


def test_an_instance_no_rule_can_touch_passes_without_decoding_its_size(monkeypatch: pytest.MonkeyPatch) -> None:
    source = read_test_file("CT_small.dcm")
    stage = _sampled_clear(source)
    real = stage_module.keyword_value

    def no_size(ds: Dataset, keyword: str, default: object = None) -> object:
        assert keyword not in ("Rows", "Columns"), "the image size was decoded"
        return real(ds, keyword, default)

    monkeypatch.setattr(stage_module, "keyword_value", no_size)
    passing = stage.decide(source).passing
    assert passing is not None and passing.examination is Examination.SAMPLED_CLEAR
