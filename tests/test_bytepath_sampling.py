"""``--pixels auto``: instances the pixel stage leaves as they are take the byte path (issue 9).

``PixelStage.leaves_pixels`` (the byte path's question, asked before the copies are chosen) and
the early return of ``PixelStage.process`` are one function (``passes_through``): an instance of
a series sampled and found clear is written from its input bytes, byte for byte what the
pydicom path writes; an instance the stage may change (text, region rules, a face photograph)
stays on the pydicom path and is redacted.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.pixels import apply_color_lut
from pydicom.uid import generate_uid

from dicom_deid.boundary import process_input
from dicom_deid.config import RunConfig
from dicom_deid.deidentify import Engine, deidentify
from dicom_deid.keys import SecretKey
from dicom_deid.manifest import MANIFEST_NAME, Encoder, read_manifest
from dicom_deid.pipeline import run
from dicom_deid.pixels import Examination, PixelMode, PixelPolicy, PixelStage, SeriesVerdicts
from dicom_deid.pixels.sampling import look_of, series_key
from dicom_deid.profiles import Option, load_profile
from dicom_deid.read import parse_instance
from dicom_deid.walk import InputBytes, walk_inputs
from dicom_deid.write import encode_dataset
from tests.conftest import TEST_FILES
from tests.pixel_fixtures import FixedFinder, ct_slice_with_text

KEY = SecretKey(bytes(range(32)))
CLEAN_PIXEL_DATA_CODE = "113101"  # CID 7050


def _slice(series: tuple[str, str], number: int, text: str | None) -> Dataset:
    """A 256 x 256 ORIGINAL CT slice with text burned in or not, and kept elements to copy."""
    ds = ct_slice_with_text(series, number, text)[0]
    ds.Manufacturer, ds.StudyDescription = "ACME", "HEAD ROUTINE"
    return ds


def _pydicom_path(data: bytes, engine: Engine) -> bytes:
    """What the pydicom path writes for ``data`` (read by dcmread, no input bytes offered)."""
    ds = parse_instance(data, where="input").dataset
    result = deidentify(ds, engine)
    assert result.copies is None
    return encode_dataset(result.dataset, result.dataset.file_meta)


def _clear(*datasets: Dataset) -> SeriesVerdicts:
    """Verdicts that find the series and look of each dataset clear (as the samples would)."""
    looks: dict[str, set[tuple[str, ...]]] = {}
    for ds in datasets:
        looks.setdefault(str(series_key(ds)), set()).add(look_of(ds))
    return SeriesVerdicts({k: frozenset(v) for k, v in looks.items()})


def _bytes(ds: Dataset) -> bytes:
    from io import BytesIO

    buffer = BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


# --- a whole run: samples first, then the rest ------------------------------------------


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Series T: text on every slice.  Series C: five clear slices (samples 1, 3, 5)."""
    root = tmp_path_factory.mktemp("bytepath-auto") / "in"
    for name, text in (("T", "QUIXBERRY 4711"), ("C", None)):
        series = (generate_uid(), generate_uid())
        (root / name).mkdir(parents=True)
        for number in range(1, 6):
            _slice(series, number, text).save_as(root / name / f"{number}.dcm", enforce_file_format=True)
    return root


def test_sampled_clear_instances_are_written_from_their_bytes(export: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    engine = Engine(load_profile("basic"), KEY, PixelMode.AUTO)
    summary = run(RunConfig(input=export, output=out, workers=1), engine)
    assert summary.manifest is not None
    names = {ref.ordinal: ref.path.relative_to(export).as_posix() for ref in walk_inputs(export)}
    rows = {names[r["ordinal"]]: r for r in read_manifest(out / MANIFEST_NAME) if r["type"] == "file"}
    assert len(rows) == 10 and all(r["outcome"] == "written" for r in rows.values())
    ways = {name: (r["pixels"]["examination"], r["encoder"]) for name, r in rows.items()}
    clear = ("sampled-series-clear", Encoder.BYTES.value)
    assert ways == {
        **{f"T/{n}.dcm": ("full", Encoder.PYDICOM.value) for n in range(1, 6)},  # text found: all searched
        "C/1.dcm": ("full", "pydicom"), "C/3.dcm": ("full", "pydicom"), "C/5.dcm": ("full", "pydicom"),
        "C/2.dcm": clear, "C/4.dcm": clear,
    }  # fmt: skip
    assert all(rows[f"T/{n}.dcm"]["pixels"]["redacted"] for n in range(1, 6))
    # what the pydicom path writes for them under the second phase's verdicts, byte for byte
    second = Engine(load_profile("basic"), KEY, PixelMode.AUTO,
                    pixel_series=_clear(pydicom.dcmread(export / "C" / "2.dcm", stop_before_pixels=True)))
    for name in ("C/2.dcm", "C/4.dcm"):
        data = (export / name).read_bytes()
        written = (out / rows[name]["output"]).read_bytes()
        assert written == _pydicom_path(data, second), name
        ds = pydicom.dcmread(out / rows[name]["output"])
        codes = [item.CodeValue for item in ds.DeidentificationMethodCodeSequence]
        assert CLEAN_PIXEL_DATA_CODE in codes  # the stage ran: sampling counts as Clean Pixel Data
        assert ds.PixelData == pydicom.dcmread(export / name).PixelData


# --- one instance at a time: what may change stays on the pydicom path --------------------


def _ultrasound() -> Dataset:
    ds = _slice((generate_uid(), generate_uid()), 1, None)
    ds.Modality, ds.SOPClassUID = "US", "1.2.840.10008.5.1.4.1.1.6.1"
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    region = Dataset()
    region.RegionLocationMinX0, region.RegionLocationMinY0 = 40, 60
    region.RegionLocationMaxX1, region.RegionLocationMaxY1 = 199, 219
    region.RegionDataType = 1
    ds.SequenceOfUltrasoundRegions = [region]
    return ds


def _face() -> Dataset:
    """A colour photograph of a face (pydicom's OT-PAL-8-face as an XC image)."""
    src = pydicom.dcmread(get_testdata_file("OT-PAL-8-face.dcm"), force=True)
    src.file_meta = FileMetaDataset()
    src.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2"
    rgb = (apply_color_lut(src.pixel_array, src) // 257).astype(np.uint8)
    ds = _slice((generate_uid(), generate_uid()), 1, None)
    ds.SOPClassUID, ds.Modality, ds.ImageType = "1.2.840.10008.5.1.4.1.1.77.1.4", "XC", ["ORIGINAL", "PRIMARY"]
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.set_pixel_data(rgb, "RGB", 8, generate_instance_uid=False)
    return ds


@pytest.mark.parametrize(("case", "encoder", "boxes"), [
    ("clear CT", Encoder.BYTES, None),
    ("ultrasound regions", Encoder.PYDICOM, "region_boxes"),
    ("face photograph", Encoder.PYDICOM, "face_boxes"),
])
def test_what_the_stage_may_change_keeps_the_pydicom_path(case: str, encoder: Encoder, boxes: str | None,
                                                          tmp_path: Path) -> None:
    ds = {"clear CT": lambda: _slice((generate_uid(), generate_uid()), 2, None), "ultrasound regions": _ultrasound,
          "face photograph": _face}[case]()
    profile = load_profile("basic", extra_options=[Option.CLEAN_RECOGNIZABLE_VISUAL_FEATURES])
    engine = Engine(profile, KEY, PixelMode.AUTO, pixel_series=_clear(ds))  # its series found clear
    data = _bytes(ds)
    result = process_input(InputBytes(0, "x.dcm", "x.dcm", data), engine=engine, output=tmp_path / "out",
                           quarantine_dir=tmp_path / "q")
    record = result.record
    assert record.outcome == "written", result.message
    assert record.encoder == encoder.value
    assert record.pixels is not None and record.pixels["examination"] == Examination.SAMPLED_CLEAR.value
    assert record.output is not None
    written = (tmp_path / "out" / record.output).read_bytes()
    assert written == _pydicom_path(data, engine)
    if boxes is None:
        assert not record.pixels["redacted"]
        assert pydicom.dcmread(tmp_path / "out" / record.output).PixelData == ds.PixelData
    else:
        assert record.pixels["redacted"] and int(record.pixels[boxes]) >= 1  # type: ignore[call-overload]
        assert pydicom.dcmread(tmp_path / "out" / record.output).PixelData != ds.PixelData
    assert json.dumps(record.pixels)  # the manifest's entry as written


# --- the predicate is the early return --------------------------------------------------

def _cases() -> dict[str, tuple[Dataset, PixelPolicy, bool]]:
    """name -> (instance, policy, does the stage leave it as it is)."""
    clear_ct = _slice((generate_uid(), generate_uid()), 2, None)
    other_series = _slice((generate_uid(), generate_uid()), 2, None)
    ultrasound, face = _ultrasound(), _face()
    no_decoder = copy.deepcopy(clear_ct)
    no_decoder.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.4.100"  # MPEG2: no decoder
    report = pydicom.dcmread(get_testdata_file("reportsi.dcm"))
    verdicts = _clear(clear_ct, ultrasound, face, no_decoder)
    auto = PixelPolicy(PixelMode.AUTO, series=verdicts)
    return {
        "sampled clear": (clear_ct, auto, True),
        "sampled clear, no decoder": (no_decoder, auto, True),
        "series not found clear": (other_series, auto, False),
        "pixels all": (clear_ct, PixelPolicy(PixelMode.ALL, series=verdicts), False),
        "ultrasound regions": (ultrasound, auto, False),
        "face photograph": (face, PixelPolicy(PixelMode.AUTO, series=verdicts, faces=True), False),
        "face photograph, faces not asked": (face, auto, True),
        "text not asked": (other_series, PixelPolicy(PixelMode.ALL, text=False), True),
        "no pixel data": (report, auto, True),
        "pixels off": (other_series, PixelPolicy(PixelMode.OFF), True),
    }


@pytest.mark.parametrize("name", list(_cases()))
def test_leaves_pixels_is_the_early_return(name: str) -> None:
    """Where ``leaves_pixels`` says so, ``process`` returns early and changes nothing on the new
    dataset; where it does not, ``process`` decodes the pixels and (on these images) changes them."""
    source, policy, leaves = _cases()[name]
    stage = PixelStage(policy, finder=_text_finder())  # a search finds text: the stage redacts it
    assert stage.leaves_pixels(source) is leaves
    target = copy.deepcopy(source)
    outcome = stage.process(source, target)
    passing = stage.passes_through(source)
    assert (passing is not None) is leaves and stage.decide(source).passing == passing
    decided = copy.deepcopy(source)  # the byte path hands its decision over: the same outcome
    assert stage.process(source, decided, decision=stage.decide(source)) == outcome
    assert decided == target
    if passing is not None:
        assert outcome.examination is passing.examination and outcome.note.startswith(passing.note)
        assert not outcome.examined and not outcome.redacted and outcome.boxes == ()
        assert target == source and target.file_meta == source.file_meta  # nothing set, nothing changed
    else:
        assert outcome.redacted and target.PixelData != source.PixelData


def _text_finder() -> FixedFinder:
    from dicom_deid.pixels.ocr import TextBox

    return FixedFinder([TextBox(8, 8, 40, 12)])


def test_leaves_pixels_decodes_nothing_in_the_source() -> None:
    """The byte path copies only elements still as read: asking must not decode any."""
    data = (TEST_FILES / "CT_small.dcm").read_bytes()
    source = parse_instance(data, where="input").dataset
    stage = PixelStage(PixelPolicy(PixelMode.AUTO, series=_clear(pydicom.dcmread(TEST_FILES / "CT_small.dcm"))))
    raw = {int(t) for t, e in source._dict.items() if type(e) is RawDataElement}
    assert {0x00280010, 0x00280011, 0x00080008} <= raw  # Rows, Columns, Image Type: the look reads them
    assert stage.leaves_pixels(source)
    assert {int(t) for t, e in source._dict.items() if type(e) is RawDataElement} == raw
