"""No option is accepted and ignored: every ``dicom_deid.profiles.Option`` changes what a run makes.

Each option is compared with the same run without it, on a sample PACS export (the generator's
CT, MR, US, SC, SR, private blocks) plus three instances the export lacks: a presentation state
with a graphic annotation, a secondary capture with a name burned into the pixels, a head CT and
a photograph of a face.  The de-identification *markings* (method code sequence, method text,
longitudinal temporal flag) are left out of the comparison: an option that only adds its own
code to the markings has no effect.  The test is parametrized over the enum itself, so an option
added later without an effect fails here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

import numpy as np
import pydicom
import pytest
from PIL import Image, ImageDraw, ImageFont
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.pixels import apply_color_lut
from pydicom.uid import generate_uid

from dicom_deid.deidentify import Engine, deidentify
from dicom_deid.keys import load_secret_key
from dicom_deid.pixels import PixelMode
from dicom_deid.profiles import Option, Profile, load_profile
from tests.planted import generate_corpus, iter_datasets

MARKINGS = frozenset({"DeidentificationMethodCodeSequence", "DeidentificationMethod",
                      "LongitudinalTemporalInformationModified"})  # fmt: skip
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"


def _presentation_state(patient: Dataset) -> Dataset:
    """A grayscale softcopy presentation state whose text annotation names the patient."""
    ds = Dataset()
    ds.file_meta = pydicom.dataset.FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.1"
    ds.SOPClassUID, ds.SOPInstanceUID = "1.2.840.10008.5.1.4.1.1.11.1", generate_uid()
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.Modality, ds.PatientName, ds.PatientID = "PR", patient.PatientName, patient.PatientID
    text = Dataset()
    text.UnformattedTextValue = f"see {patient.PatientName} prior study"
    text.AnchorPointAnnotationUnits, text.AnchorPoint, text.AnchorPointVisibility = "PIXEL", [10.0, 10.0], "N"
    annotation = Dataset()
    annotation.GraphicLayer = "LAYER1"
    annotation.TextObjectSequence = [text]
    ds.GraphicAnnotationSequence = [annotation]
    return ds


def _burned_in() -> Dataset:
    """CT_small saved as a secondary capture with the patient's name drawn into the pixels."""
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    big = np.kron(ds.pixel_array.astype(np.int32) - int(ds.pixel_array.min()), np.ones((3, 3), np.int32))
    layer = Image.new("L", (big.shape[1], big.shape[0]), 0)
    ImageDraw.Draw(layer).text((10, 12), "QUIXBERRY HORTENSE", fill=255, font=ImageFont.truetype(FONT, 18))
    big[np.asarray(layer) > 110] = 4095
    ds.SOPClassUID, ds.Modality, ds.ImageType = "1.2.840.10008.5.1.4.1.1.7", "OT", ["DERIVED", "SECONDARY"]
    ds.set_pixel_data(big.astype(np.uint16), "MONOCHROME2", 12, generate_instance_uid=True)
    return ds


def _head_ct() -> Dataset:
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    ds.BodyPartExamined, ds.SOPInstanceUID = "HEAD", generate_uid()
    return ds


def _face() -> Dataset:
    src = pydicom.dcmread(get_testdata_file("OT-PAL-8-face.dcm"), force=True)
    src.file_meta = pydicom.dataset.FileMetaDataset()
    src.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2"
    rgb = (apply_color_lut(src.pixel_array, src) // 257).astype(np.uint8)
    ds = _head_ct()
    del ds.BodyPartExamined
    ds.SOPClassUID, ds.Modality, ds.SOPInstanceUID = "1.2.840.10008.5.1.4.1.1.77.1.4", "XC", generate_uid()
    ds.set_pixel_data(rgb, "RGB", 8, generate_instance_uid=False)
    return ds


@pytest.fixture(scope="module")
def instances(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, Dataset]]:
    corpus = generate_corpus(tmp_path_factory.mktemp("options") / "in", seed=5, patients=1)
    found = list(iter_datasets(corpus))
    assert len(found) >= 8  # precondition: the export's instances
    patient = found[0][1]
    return [*found, ("pr", _presentation_state(patient)), ("sc-burned-in", _burned_in()),
            ("head-ct", _head_ct()), ("face", _face())]


def _engine(profile: Profile, key_file) -> Engine:  # type: ignore[no-untyped-def]
    pixel_options = {Option.CLEAN_PIXEL_DATA, Option.CLEAN_RECOGNIZABLE_VISUAL_FEATURES}
    mode = PixelMode.AUTO if pixel_options & profile.options else PixelMode.OFF
    return Engine(profile, load_secret_key(key_file), mode)


def _content(ds: Dataset) -> list[tuple[int, object]]:
    """Every element outside the markings, sequences item by item."""
    return [
        (int(e.tag), [_content(item) for item in e.value] if e.VR == "SQ" else repr(e.value))
        for e in ds
        if e.keyword not in MARKINGS
    ]


def _outputs(profile: Profile, key_file, instances: Iterable[tuple[str, Dataset]]) -> dict[str, object]:  # type: ignore[no-untyped-def]
    engine = _engine(profile, key_file)
    out: dict[str, object] = {}
    for name, ds in instances:
        result = deidentify(ds, engine)
        summary = None if result.pixels is None else result.pixels.summary()
        review = None if summary is None else summary.get("review")
        out[name] = (_content(result.dataset), review)
    return out


@pytest.mark.parametrize("option", list(Option), ids=[o.value for o in Option])
def test_option_changes_the_output(option: Option, instances, key_file) -> None:  # type: ignore[no-untyped-def]
    base = dataclasses.replace(load_profile("basic"), options=frozenset())
    without = _outputs(base, key_file, instances)
    with_option = _outputs(dataclasses.replace(base, options=frozenset({option})), key_file, instances)
    assert with_option.keys() == without.keys() and len(without) >= 12
    changed = sorted(name for name in without if with_option[name] != without[name])
    assert changed, f"{option.value} is accepted but changes nothing"


def test_faces_option_with_pixels_off_is_refused(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import contextlib
    import io

    from dicom_deid.cli import main

    src = tmp_path / "in"
    src.mkdir()
    _face().save_as(src / "face.dcm", enforce_file_format=True)
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        rc = main(["run", str(src), str(tmp_path / "out"), "--pixels", "off", "--quiet",
                   "--option", "clean-recognizable-visual-features"])
    assert rc == 2
    assert err.getvalue().strip() == (
        "dicom-deid: error: --option clean-recognizable-visual-features needs the pixel stage (faces are "
        "found in the pixels): it cannot run with --pixels off")
    assert not (tmp_path / "out").exists()
