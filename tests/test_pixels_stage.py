"""PixelStage decisions, pass-through, quarantine paths, policies and region rules."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
from pixel_fixtures import (
    FixedFinder,
    FixedReader,
    outside_mask,
    read_test_file,
    stored_frames,
)
from pydicom.dataset import Dataset
from pydicom.encaps import encapsulate

from dicom_deid import pixels
from dicom_deid.errors import OcrUnavailable, PixelError, UnsupportedPixelEncoding
from dicom_deid.pixels import (
    Examination,
    PixelMode,
    PixelOutcome,
    PixelPolicy,
    PixelStage,
    RedactionBox,
    make_pixel_stage,
)
from dicom_deid.pixels.clinical import is_clinical_annotation
from dicom_deid.pixels.ocr import DbnetDetector, TextBox
from dicom_deid.pixels.regions import complement, load_region_rules

BOX = TextBox(8, 8, 20, 10)


def stage(
    mode: PixelMode = PixelMode.AUTO, boxes: list[TextBox] | None = None, **kw: object
) -> PixelStage:
    finder = FixedFinder([BOX] if boxes is None else boxes)
    return PixelStage(PixelPolicy(mode=mode), finder=finder, **kw)  # type: ignore[arg-type]


def test_public_api_all_is_complete() -> None:
    public = {
        n
        for n in dir(pixels)
        if not n.startswith("_") and n[0].isupper() or n == "make_pixel_stage"
    }
    assert public <= set(pixels.__all__)
    assert set(pixels.__all__) == {
        "Examination", "PixelMode", "PixelOutcome", "PixelPolicy", "PixelStage", "RedactionBox",
        "SeriesVerdicts", "make_pixel_stage", "policy_for",
    }  # fmt: skip
    assert isinstance(make_pixel_stage(PixelPolicy()), PixelStage)
    assert PixelPolicy() == PixelPolicy(PixelMode.AUTO, False, 0, False, None, True)
    assert PixelPolicy(mode="all").mode is PixelMode.ALL  # type: ignore[arg-type]


# --- no class of image is skipped ------------------------------------------------------

CLASSES = {
    # (Modality, SOP Class UID, BurnedInAnnotation, ImageType): every one is searched in auto
    "US-BIA-NO": ("US", "1.2.840.10008.5.1.4.1.1.6.1", "NO", None),
    "SC-class": ("OT", "1.2.840.10008.5.1.4.1.1.7", None, None),
    "XA": ("XA", "1.2.840.10008.5.1.4.1.1.12.1", None, None),
    "CR-class": ("CR", "1.2.840.10008.5.1.4.1.1.1", None, None),
    "ES-photo": ("ES", "1.2.840.10008.5.1.4.1.1.77.1.1", None, None),
    "CT-original": ("CT", "1.2.840.10008.5.1.4.1.1.2", None, ["ORIGINAL", "PRIMARY", "AXIAL"]),
    "CT-BIA-NO": ("CT", "1.2.840.10008.5.1.4.1.1.2", "NO", ["ORIGINAL", "PRIMARY", "AXIAL"]),
    "CT-derived-secondary": ("CT", "1.2.840.10008.5.1.4.1.1.2", None, ["DERIVED", "SECONDARY"]),
    "MR-original": ("MR", "1.2.840.10008.5.1.4.1.1.4", None, ["ORIGINAL", "PRIMARY"]),
    "PT-original": ("PT", "1.2.840.10008.5.1.4.1.1.128", "NO", ["ORIGINAL", "PRIMARY"]),
    "NM-original": ("NM", "1.2.840.10008.5.1.4.1.1.20", None, ["ORIGINAL", "PRIMARY"]),
}  # fmt: skip


def _as_class(row: tuple) -> Dataset:
    modality, sop_class, burned_in, image_type = row
    source = read_test_file("CT_small.dcm")
    source.Modality, source.SOPClassUID = modality, sop_class
    for keyword, value in (("BurnedInAnnotation", burned_in), ("ImageType", image_type)):
        if value is None and keyword in source:
            delattr(source, keyword)
        elif value is not None:
            setattr(source, keyword, value)
    return source


@pytest.mark.parametrize("row", list(CLASSES.values()), ids=list(CLASSES))
def test_auto_mode_searches_every_class_of_image(row: tuple, monkeypatch: pytest.MonkeyPatch) -> None:
    source = _as_class(row)
    decoded: list[int] = []
    import dicom_deid.pixels.stage as stage_module

    real = stage_module.decode_pixels
    monkeypatch.setattr(stage_module, "decode_pixels", lambda ds: decoded.append(1) or real(ds))
    finder = FixedFinder([BOX])
    outcome = PixelStage(PixelPolicy(PixelMode.AUTO), finder=finder).process(source, copy.deepcopy(source))
    assert outcome.examined and outcome.examination is Examination.FULL
    assert decoded == [1] and finder.calls == 1
    assert outcome.redacted and outcome.text_found  # the (planted) text is redacted whatever the class


def test_sampled_clear_series_is_recorded_not_searched(monkeypatch: pytest.MonkeyPatch) -> None:
    from dicom_deid.pixels.sampling import SeriesVerdicts, look_of, series_key

    source = _as_class(CLASSES["CT-original"])
    key = series_key(source)
    assert key is not None
    verdicts = SeriesVerdicts({key: frozenset({look_of(source)})})
    finder = FixedFinder([BOX])
    policy = PixelPolicy(PixelMode.AUTO, series=verdicts)
    import dicom_deid.pixels.stage as stage_module

    with monkeypatch.context() as patch:
        patch.setattr(stage_module, "decode_pixels", lambda ds: pytest.fail("decoded"))
        outcome = PixelStage(policy, finder=finder).process(source, target := copy.deepcopy(source))
    assert outcome.examination is Examination.SAMPLED_CLEAR and not outcome.examined
    assert finder.calls == 0 and target.PixelData == source.PixelData
    assert outcome.summary()["examination"] == "sampled-series-clear"
    # the same verdicts never spare another look of the series, nor anything in --pixels all
    other = copy.deepcopy(source)
    other.ImageType = ["DERIVED", "SECONDARY", "SCREEN SAVE"]
    assert PixelStage(policy, finder=finder).process(other, copy.deepcopy(other)).examination is Examination.FULL
    all_policy = PixelPolicy(PixelMode.ALL, series=verdicts)
    assert PixelStage(all_policy, finder=finder).process(source, copy.deepcopy(source)).examined
    assert finder.calls == 2


def test_off_mode_never_decodes_and_keeps_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    import dicom_deid.pixels.stage as stage_module

    monkeypatch.setattr(stage_module, "decode_pixels", lambda ds: pytest.fail("decoded"))
    source = read_test_file("examples_ybr_color.dcm")
    target = copy.deepcopy(source)
    outcome = stage(PixelMode.OFF).process(source, target)
    assert outcome == PixelOutcome(
        False, False, (), str(source.file_meta.TransferSyntaxUID), "not examined: pixels off",
        Examination.OFF,
    )
    assert target.PixelData == source.PixelData


@pytest.mark.parametrize("name", ["MR_small_RLE.dcm", "examples_ybr_color.dcm", "CT_small.dcm"])
def test_nothing_found_keeps_original_encoded_bytes(name: str) -> None:
    source = read_test_file(name)
    if "SequenceOfUltrasoundRegions" in source:
        del source.SequenceOfUltrasoundRegions
    target = copy.deepcopy(source)
    before = bytes(target.PixelData)
    outcome = stage(PixelMode.ALL, boxes=[]).process(source, target)
    assert outcome.examined and not outcome.redacted and outcome.boxes == ()
    assert bytes(target.PixelData) == before
    assert target.file_meta.TransferSyntaxUID == source.file_meta.TransferSyntaxUID
    assert outcome.transfer_syntax_out == str(source.file_meta.TransferSyntaxUID)
    assert (
        "BurnedInAnnotation" not in target or target.BurnedInAnnotation == source.BurnedInAnnotation
    )


def test_burned_in_annotation_set_no_only_after_redaction() -> None:
    source = read_test_file("CT_small.dcm")
    source.Modality, source.BurnedInAnnotation = "OT", "YES"
    untouched = copy.deepcopy(source)
    stage(PixelMode.ALL, boxes=[]).process(source, untouched)
    assert untouched.BurnedInAnnotation == "YES"
    redacted = copy.deepcopy(source)
    outcome = stage(PixelMode.ALL).process(source, redacted)
    assert outcome.redacted and redacted.BurnedInAnnotation == "NO"
    assert source.BurnedInAnnotation == "YES"  # the source is never mutated


def test_margin_grows_detector_boxes() -> None:
    source = read_test_file("CT_small.dcm")
    outcome = PixelStage(
        PixelPolicy(PixelMode.ALL, margin=3), finder=FixedFinder([BOX])
    ).process(source, copy.deepcopy(source))
    assert outcome.boxes == (RedactionBox(5, 5, 26, 16, None, "detector"),)


# --- quarantine paths -------------------------------------------------------------------


def _with_syntax(name: str, uid: str) -> Dataset:
    ds = read_test_file(name)
    ds.file_meta.TransferSyntaxUID = uid
    return ds


def test_no_decoder_for_transfer_syntax_is_unsupported() -> None:
    source = _with_syntax("CT_small.dcm", "1.2.840.10008.1.2.4.100")  # MPEG2 video
    source.PixelData = encapsulate([b"\x00\x00\x01\xb3" + b"\x00" * 60])
    source.Modality = "US"
    with pytest.raises(UnsupportedPixelEncoding, match=r"MPEG2.*no pixel decoder exists"):
        stage().process(source, copy.deepcopy(source))


def test_missing_plugin_names_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    from pydicom.pixels.decoders.base import Decoder

    monkeypatch.setattr(Decoder, "is_available", property(lambda self: False))
    source = read_test_file("MR_small_jp2klossless.dcm")
    source.Modality = "US"
    with pytest.raises(
        UnsupportedPixelEncoding, match=r"JPEG 2000.*install 'dicom-deid\[codecs\]'.*openjpeg"
    ):
        stage().process(source, copy.deepcopy(source))


def test_sampled_clear_without_a_decoder_passes_through_with_a_note() -> None:
    """Issue 10 + 9: pixels that need no change (their series' samples were searched and found
    clear) pass through even when no decoder could read them; the same image as a sample, which
    must be searched, is an error (quarantined), never passed unexamined."""
    from dicom_deid.pixels.sampling import SeriesVerdicts, look_of, series_key

    source = _with_syntax("CT_small.dcm", "1.2.840.10008.1.2.4.100")
    with pytest.raises(UnsupportedPixelEncoding, match=r"no pixel decoder exists for transfer syntax 1\.2\.840"):
        stage().process(source, copy.deepcopy(source))
    verdicts = SeriesVerdicts({str(series_key(source)): frozenset({look_of(source)})})
    outcome = stage().with_series(verdicts).process(source, copy.deepcopy(source))
    assert not outcome.examined and not outcome.redacted and outcome.boxes == ()
    assert outcome.examination is Examination.SAMPLED_CLEAR
    assert outcome.note == "not searched: sampled series found clear; no decoder for 1.2.840.10008.1.2.4.100"


def test_corrupt_jpeg2000_stream_is_a_pixel_error() -> None:
    source = read_test_file("MR_small_jp2klossless.dcm")
    source.Modality = "US"
    source.PixelData = encapsulate([b"\xff\x4f\xff\x51" + bytes(range(256)) * 4])
    target = copy.deepcopy(source)
    with pytest.raises(
        PixelError, match=r"JPEG 2000 Image Compression \(Lossless Only\).*cannot be decoded"
    ):
        stage().process(source, target)
    assert target.PixelData == source.PixelData


def test_unsupported_photometric_is_unsupported() -> None:
    source = read_test_file("CT_small.dcm")
    source.Modality, source.PhotometricInterpretation = "OT", "ARGB"
    with pytest.raises(UnsupportedPixelEncoding, match="ARGB is not supported"):
        stage().process(source, copy.deepcopy(source))


def test_missing_model_is_ocr_unavailable(tmp_path: Path) -> None:
    detector = DbnetDetector(model_path=tmp_path / "missing.onnx")
    source = read_test_file("CT_small.dcm")
    source.Modality = "US"
    with pytest.raises(OcrUnavailable, match="text detection model cannot be loaded"):
        PixelStage(PixelPolicy(), detector=detector).process(source, copy.deepcopy(source))


# --- keep clinical annotations ----------------------------------------------------------

CLINICAL = {
    "L": ("L", True),
    "RT": ("RT", True),
    "scale-5cm": ("5 CM", True),
    "measure": ("D1 2.3CM", True),
    "name": ("DOE^JANE", False),
    "patient-id-digits": ("12345678", False),
    "date": ("03/04/2021", False),
    "time": ("12:31", False),
    "header-value": ("JANE", False),
    "unreadable": ("", False),
    "long": ("LEFT KIDNEY LOWER POLE", False),
}


@pytest.mark.parametrize("row", list(CLINICAL.values()), ids=list(CLINICAL))
def test_clinical_annotation_rule(row: tuple[str, bool]) -> None:
    text, clinical = row
    assert is_clinical_annotation(text, ["DOE^JANE", "A1234"]) is clinical


@pytest.mark.parametrize(
    ("reading", "redacted"), [("L", False), ("DOE", True)], ids=["laterality-kept", "name-redacted"]
)
def test_keep_clinical_policy(reading: str, redacted: bool) -> None:
    source = read_test_file("CT_small.dcm")
    source.Modality = "OT"
    reader = FixedReader(reading)
    policy = PixelPolicy(PixelMode.ALL, keep_clinical_annotations=True)
    outcome = PixelStage(policy, finder=FixedFinder([BOX]), reader=reader).process(
        source, copy.deepcopy(source), phi_values=["DOE^JANE"]
    )
    assert reader.calls >= 1
    assert outcome.redacted is redacted


# --- region rules -----------------------------------------------------------------------


def test_template_rectangles_apply_to_matching_device(tmp_path: Path) -> None:
    (tmp_path / "site.toml").write_text(
        '[[template]]\nname = "acme"\nsource = "test"\nmanufacturer = "acme"\nrows = 128\n'
        "rectangles = [[0, 0, 128, 10]]\n"
    )
    source = read_test_file("CT_small.dcm")
    source.Modality, source.Manufacturer = "OT", "ACME Medical"
    outcome = stage(PixelMode.ALL, boxes=[], regions_dir=tmp_path).process(
        source, target := copy.deepcopy(source)
    )
    assert outcome.boxes == (RedactionBox(0, 0, 128, 10, None, "template"),)
    after = stored_frames(target)
    assert (after[:, :10] == stored_frames(source).min()).all()
    source.Manufacturer = "Other"
    assert (
        stage(PixelMode.ALL, boxes=[], regions_dir=tmp_path)
        .process(source, copy.deepcopy(source))
        .boxes
        == ()
    )


def test_ultrasound_regions_keep_data_area_black_out_rest() -> None:
    source = read_test_file("CT_small.dcm")  # 128 x 128
    source.Modality = "US"
    region = Dataset()
    region.RegionLocationMinX0, region.RegionLocationMinY0 = 20, 30
    region.RegionLocationMaxX1, region.RegionLocationMaxY1 = 99, 109  # inclusive
    region.RegionDataType = 1
    source.SequenceOfUltrasoundRegions = [region]
    target = copy.deepcopy(source)
    outcome = stage(PixelMode.ALL, boxes=[]).process(source, target)
    assert {b.source for b in outcome.boxes} == {"ultrasound-region"}
    before, after = stored_frames(source), stored_frames(target)
    data = ~outside_mask((128, 128), [(20, 30, 80, 80)])
    assert np.array_equal(before[:, data], after[:, data])
    assert (after[:, ~data] == before.min()).all()
    covered = sum(b.area() for b in outcome.boxes)
    assert covered == 128 * 128 - 80 * 80  # the boxes tile the rest exactly once


def test_complement_tiles_frame() -> None:
    tiles = complement([(10, 10, 20, 20), (25, 5, 10, 10)], 50, 60)
    mask = np.zeros((50, 60), int)
    for x, y, w, h in tiles:
        mask[y : y + h, x : x + w] += 1
    kept = ~outside_mask((50, 60), [(10, 10, 20, 20), (25, 5, 10, 10)])
    assert (mask[kept] == 0).all() and (mask[~kept] == 1).all()


def test_shipped_region_rules_load() -> None:
    rules = load_region_rules()
    assert rules.ultrasound and rules.ultrasound[0].modalities == ("US",)
    assert rules.templates == ()


def test_stage_pickles_after_use_without_its_model() -> None:
    import pickle

    source = read_test_file("CT_small.dcm")
    source.Modality = "OT"
    used = make_pixel_stage(PixelPolicy(PixelMode.ALL))
    first = used.process(source, copy.deepcopy(source))
    clone = pickle.loads(pickle.dumps(used))
    assert clone.policy == used.policy
    assert clone.process(source, copy.deepcopy(source)) == first
