"""A faint label on flat black is searched as a flat row (issue 9, tune seed 10887 case028).

On tune seed 10887 (case028) an 8 px grey name 16 levels over the black edge of a PET fusion was
never proposed, and Tesseract read it in the output.  The image has little grain (its median
top-hat response is 0), so the grain level of faint rows is ``glyphs.GLYPH_LEVEL`` (16) itself,
and the name's anti-aliased strokes, responding 8-16, made no row there.  Marks are now also taken
at ``glyphs.FLAT_LEVEL`` on such images; rows of them that stand on clear ground are searched like
faint rows (on a crop stretched to their own grey levels).  Texture as faint as the label makes such
marks too, but its rows stand on ground as busy as themselves and are not kept.

The images are built here: a black field above a textured "body" (blurred noise, 60-255), with a
name drawn by Pillow, anti-aliased, 14 levels over the black; coverage is measured against the
drawn glyphs.
"""

from __future__ import annotations

import copy

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont
from pixel_fixtures import image_dataset, stored_frames
from pydicom.uid import generate_uid
from test_pixels_hard_cases import label_area

from dicom_deid.pixels import PixelMode, PixelPolicy, PixelStage, glyphs
from dicom_deid.pixels.glyphs import glyph_rows
from dicom_deid.pixels.ocr import DbnetDetector
from dicom_deid.pixels.recognize import CrnnRecognizer
from tests.pixel_fixtures import ink_covered

SANS = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
PET = "1.2.840.10008.5.1.4.1.1.128"
NAME = "LENA KRISHNAN"
AT = (200, 14)


def _body(seed: int = 3) -> np.ndarray:
    """384 x 384 float: black, with an elliptical body of blurred noise (60-255) in its lower part."""
    rng = np.random.default_rng(seed)
    noise = cv2.GaussianBlur(rng.normal(0, 1, (384, 384)).astype(np.float32), (0, 0), 3)
    noise = (noise - noise.min()) / (noise.max() - noise.min())
    yy, xx = np.mgrid[:384, :384]
    inside = ((yy - 240) / 130.0) ** 2 + ((xx - 192) / 170.0) ** 2 < 1
    image = np.zeros((384, 384), np.float32)
    image[inside] = 60 + 195 * noise[inside]  # 60-255: the display image is the image itself
    return image


def _eight_bit(image: np.ndarray) -> np.ndarray:
    return np.clip(image + 0.5, 0, 255).astype(np.uint8)


def _faint_name(level: float = 14.0, size: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """The body with ``NAME`` at ``AT``, anti-aliased, ``level`` grey levels over the black; (image,
    glyph mask: the pixels at least 43 % ink)."""
    layer = Image.new("L", (384, 384), 0)
    ImageDraw.Draw(layer).text(AT, NAME, fill=255, font=ImageFont.truetype(SANS, size))
    alpha = np.asarray(layer, np.float32) / 255.0
    image = _body() * (1 - alpha) + level * alpha
    return _eight_bit(image), alpha > 0.43


def _faint_texture(amplitude: float) -> np.ndarray:
    """The body with a band of fine texture about as faint as the name over the black above it."""
    rng = np.random.default_rng(5)
    fine = cv2.GaussianBlur(rng.normal(0, 1, (384, 384)).astype(np.float32), (0, 0), 1.0)
    texture = np.clip(fine / fine.std() * amplitude + amplitude, 0, 3 * amplitude)
    image = _body()
    image[4:70, 20:360] = texture[4:70, 20:360]
    return _eight_bit(image)


def _on(rows: list[glyphs.GlyphRow], mask: np.ndarray) -> list[glyphs.GlyphRow]:
    ys, xs = np.nonzero(mask)
    return [r for r in rows if r.x <= xs.max() and xs.min() <= r.x + r.width
            and r.y <= ys.max() and ys.min() <= r.y + r.height]


def _flat_rows(image: np.ndarray, monkeypatch: pytest.MonkeyPatch) -> list[glyphs.GlyphRow]:
    """The rows ``glyph_rows`` gives for ``image`` that it does not give without flat rows."""
    rows = glyph_rows(image)
    with monkeypatch.context() as patch:
        patch.setattr(glyphs, "FLAT_ROWS", 0)
        without = glyph_rows(image)
    return [r for r in rows if r not in without]


@pytest.fixture(scope="module")
def detector() -> DbnetDetector:
    return DbnetDetector()


@pytest.mark.parametrize("level", [12.0, 14.0])
def test_a_faint_name_on_flat_black_is_a_flat_row_and_boxed(detector: DbnetDetector, level: float,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    image, mask = _faint_name(level)
    flat = _on(_flat_rows(image, monkeypatch), mask)
    assert flat and all(r.faint and r.clear for r in flat)
    assert not _on(glyph_rows(image, faint_rows=0), mask)  # the premise: no row of the first levels
    assert ink_covered(detector.detect(image), mask) >= 0.98


def test_no_flat_rows_without_faint_rows() -> None:
    """The projections' detector (``faint_rows=0``) takes no flat rows either."""
    image, _mask = _faint_name()
    assert not [r for r in glyph_rows(image, faint_rows=0) if r.faint]


def test_no_flat_rows_on_an_image_of_grain(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where the image's own grain sets the faint level above ``GLYPH_LEVEL``, flat marks are its grain."""
    image, _mask = _faint_name()
    grainy = _eight_bit(image.astype(np.float32) + np.random.default_rng(1).normal(0, 12, image.shape))
    assert _flat_rows(grainy, monkeypatch) == []


@pytest.mark.parametrize("amplitude", [4.0, 6.0])
def test_faint_texture_on_black_is_not_a_flat_row_nor_boxed(detector: DbnetDetector, amplitude: float,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    image = _faint_texture(amplitude)
    band = np.zeros(image.shape, bool)
    band[4:70, 20:360] = True
    assert not _on(_flat_rows(image, monkeypatch), band)
    assert detector.detect(image) == []
    # the premise: the texture makes rows of flat marks, which only their busy ground keeps out
    monkeypatch.setattr(glyphs, "CLEAR_GROUND", 10.0)
    assert _on(_flat_rows(image, monkeypatch), band)


def test_the_stage_blacks_out_the_faint_name_and_nothing_else() -> None:
    image, mask = _faint_name()
    ds = image_dataset(image, modality="PT", sop_class=PET, series=(generate_uid(), generate_uid()), bits=8)
    stage = PixelStage(PixelPolicy(PixelMode.ALL), detector=DbnetDetector(), recognizer=CrnnRecognizer())
    outcome = stage.process(ds, target := copy.deepcopy(ds))
    assert outcome.redacted, outcome.note
    after = stored_frames(target)[0, ..., 0]
    assert int(((after == image) & mask & (image > 0)).sum()) == 0
    outside = ~label_area(mask, 8)
    assert np.array_equal(after[outside], image[outside])


def test_the_stage_leaves_faint_texture_on_black_as_it_is() -> None:
    image = _faint_texture(6.0)
    ds = image_dataset(image, modality="PT", sop_class=PET, series=(generate_uid(), generate_uid()), bits=8)
    stage = PixelStage(PixelPolicy(PixelMode.ALL), detector=DbnetDetector(), recognizer=CrnnRecognizer())
    outcome = stage.process(ds, target := copy.deepcopy(ds))
    assert not outcome.redacted, outcome.note
    assert np.array_equal(stored_frames(target)[0, ..., 0], image)
