"""Small text drawn at an angle on a large image (issue 9, tune seed 10889 case026).

An 8 px bold narrow name tilted 19 degrees in the dark corner of a 1955 x 1841 CR was never
proposed: the screen pass searches so large an image at its own resolution, where 8 px glyphs are
too small for the network, and the glyph-row search that finds such small text made no row of it
(its glyphs, joined along the image's rows, make a band 24 px high, and its bold glyphs touch: one
mark per word).  Tilted rows (``glyphs.TILT_RANGE``) are now searched on a crop enlarged like
level ones (``ocr.TILTED_ROWS``).  Each test draws its own text with Pillow over a synthetic
texture and measures against what it drew; texture alone stays unboxed.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from dicom_deid.pixels import ocr
from dicom_deid.pixels.confirm import Verdict
from dicom_deid.pixels.detect import find_text
from dicom_deid.pixels.glyphs import GlyphRow, glyph_rows
from dicom_deid.pixels.ocr import DbnetDetector, TextBox
from dicom_deid.pixels.recognize import CrnnRecognizer
from dicom_deid.pixels.rowread import RowReader
from tests.pixel_fixtures import ink_covered

NARROW_BOLD = "/usr/share/fonts/opentype/urw-base35/NimbusSansNarrow-Bold.otf"
SIDE = 1800  # larger than the screen pass enlarges (``ocr.SCREEN_PASS``): searched at native size


def _texture(seed: int) -> np.ndarray:
    """A large radiograph-like image: a smooth dark-to-bright field with blotches, grain, and
    bright vessels at every angle (lines 2-6 px wide, some in rows of short pieces) away from the
    corner where the label goes, none of them text."""
    import cv2

    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:SIDE, 0:SIDE].astype(np.float32)
    field = 30.0 + 120.0 * np.exp(-(((xx - 900) / 600) ** 2 + ((yy - 800) / 650) ** 2))
    blotches = cv2.GaussianBlur(rng.normal(0, 1, (SIDE, SIDE)).astype(np.float32), (0, 0), 12)
    field += 25.0 * blotches / float(np.abs(blotches).max()) * (field - 20.0) / 130.0
    image = Image.fromarray(np.clip(field + rng.normal(0, 3, field.shape), 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(90):
        x, y = (int(v) for v in rng.integers(300, SIDE - 300, 2))
        length, angle = float(rng.uniform(30, 200)), float(rng.uniform(0, np.pi))
        end = (x + length * np.cos(angle), y + length * np.sin(angle))
        draw.line([(x, y), end], fill=int(rng.integers(150, 230)), width=int(rng.integers(2, 7)))
    return np.asarray(image, dtype=np.uint8).copy()


def _tilted_name(image: np.ndarray, at: tuple[int, int], angle: float = -19.0) -> np.ndarray:
    """Draw "ESPOSITO, HUGO" in 8 px bold narrow type, anti-aliased, turned ``angle`` degrees
    (counter-clockwise; negative: the line falls), grey 150 at ``at`` (x, y); its glyph mask."""
    face = ImageFont.truetype(NARROW_BOLD, 8)
    text = "ESPOSITO, HUGO"
    left, top, right, bottom = ImageDraw.Draw(Image.new("L", (1, 1))).textbbox((0, 0), text, font=face)
    layer = Image.new("L", (right - left + 6, bottom - top + 6), 0)
    ImageDraw.Draw(layer).text((3 - left, 3 - top), text, fill=255, font=face)
    alpha = np.asarray(layer.rotate(angle, Image.BILINEAR, expand=True), dtype=np.float32) / 255.0
    ys, xs = np.nonzero(alpha > 0.05)
    alpha = alpha[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    x, y = at
    region = image[y : y + alpha.shape[0], x : x + alpha.shape[1]].astype(np.float32)
    image[y : y + alpha.shape[0], x : x + alpha.shape[1]] = np.round(region * (1 - alpha) + 150.0 * alpha)
    mask = np.zeros(image.shape, bool)
    mask[y : y + alpha.shape[0], x : x + alpha.shape[1]] = alpha > 0.35
    return mask


def _on(rows: list[GlyphRow], mask: np.ndarray) -> list[GlyphRow]:
    return [r for r in rows if mask[r.y : r.y + r.height, r.x : r.x + r.width].any()]


@pytest.fixture(scope="module")
def labelled() -> tuple[np.ndarray, np.ndarray]:
    image = _texture(10889)
    mask = _tilted_name(image, (60, 1700))
    return image, mask


def test_a_tilted_small_line_makes_a_tilted_row_and_no_level_row(labelled: tuple[np.ndarray, np.ndarray]) -> None:
    image, mask = labelled
    tilted: list[GlyphRow] = []
    level = glyph_rows(image, tilted=tilted)
    assert _on(level, mask) == []  # the premise: no level row lies on it
    on = _on(tilted, mask)
    assert on and all(3 <= r.thick <= 16 and r.height > 16 for r in on)
    assert glyph_rows(image) == level  # asking for the tilted rows leaves the level ones as they were


def test_the_detector_boxes_a_tilted_small_line(labelled: tuple[np.ndarray, np.ndarray],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    image, mask = labelled
    assert ink_covered(DbnetDetector().detect(image), mask) >= 0.98
    monkeypatch.setattr(ocr, "TILTED_ROWS", 0)
    assert ink_covered(DbnetDetector().detect(image), mask) < 0.5  # what the detector did before


def test_the_tilted_line_is_confirmed_and_texture_alone_gains_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Through the whole search (detector, recognizer, judgement): the line is confirmed and
    covered; on the same texture without it, the tilted rows searched (which lie on vessels and
    blotches) add nothing to what the search judged text or uncertain, and no box reaches them."""
    recognizer = CrnnRecognizer()
    detector = DbnetDetector(row_reader=RowReader(recognizer))
    image = _texture(10889)
    tilted: list[GlyphRow] = []
    glyph_rows(image, tilted=tilted)
    searched = tilted[: ocr.TILTED_ROWS]
    assert len(searched) == ocr.TILTED_ROWS  # the premise: the texture makes tilted rows to search
    kept = find_text([image], detector, recognizer).boxes(Verdict.CONFIRMED, Verdict.UNCERTAIN)
    for row in searched:
        area = np.zeros(image.shape, bool)
        area[row.y : row.y + row.height, row.x : row.x + row.width] = True
        assert ink_covered([TextBox(b.x, b.y, b.width, b.height) for b in kept], area) == 0.0
    monkeypatch.setattr(ocr, "TILTED_ROWS", 0)
    before = find_text([image], DbnetDetector(row_reader=RowReader(recognizer)), recognizer)
    assert kept == before.boxes(Verdict.CONFIRMED, Verdict.UNCERTAIN)
    monkeypatch.undo()
    mask = _tilted_name(image, (60, 1700))
    confirmed = find_text([image], detector, recognizer).boxes(Verdict.CONFIRMED)
    assert ink_covered([TextBox(b.x, b.y, b.width, b.height) for b in confirmed], mask) >= 0.98
