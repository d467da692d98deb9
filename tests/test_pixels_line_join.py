"""A line's first word boxed apart from the rest (issue 9, tune seed 10816 case022).

The detector may box the first word of a tilted label apart from the rest of the line, and thinner
than its glyphs: a faint mono "PID 9950367" tilted by 6 degrees, its first word over bright tissue
and the number over the black beside it, was proposed as a 13 px box over "PID" and a 25 px box
over the number.  The number confirms; "PID", read in a box that cuts its glyphs, does not, and was
left out.  ``detect._line_join`` reads the line once more with the piece beside it.

The label is drawn with Pillow on pydicom's own CT test image, and the detector's two boxes are
taken from the drawn ink (``FixedDetector``: the split itself is what the test is about); the
recognizer and the judgement are the real ones.  Coverage is measured against the drawn ink,
never against what the search reports.
"""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from PIL import Image, ImageDraw, ImageFont
from pixel_fixtures import FixedDetector
from pydicom.data import get_testdata_file

from dicom_deid.pixels.confirm import Verdict
from dicom_deid.pixels.detect import find_text
from dicom_deid.pixels.ocr import TextBox
from dicom_deid.pixels.recognize import CrnnRecognizer

MONO_BOLD = "/usr/share/fonts/opentype/urw-base35/NimbusMonoPS-Bold.otf"


def tilted_label(text: str, size: int, angle: float) -> np.ndarray:
    """Alpha 0..1 of ``text`` turned by ``angle`` degrees (negative: clockwise)."""
    face = ImageFont.truetype(MONO_BOLD, size)
    left, top, right, bottom = ImageDraw.Draw(Image.new("L", (1, 1))).textbbox((0, 0), text, font=face)
    layer = Image.new("L", (right - left + 4, bottom - top + 4), 0)
    ImageDraw.Draw(layer).text((2 - left, 2 - top), text, fill=255, font=face)
    return np.asarray(layer.rotate(angle, Image.BILINEAR, expand=True), np.float32) / 255


def ct_with_label(at: tuple[int, int], grey: float) -> tuple[np.ndarray, np.ndarray]:
    """pydicom's 693_J2KI CT head (8 bits, 1st to 99.5th percentile) with a grey "PID 9950367"
    tilted by 6 degrees at ``at`` (x, y); (image, ink mask)."""
    pixels = pydicom.dcmread(get_testdata_file("693_J2KI.dcm")).pixel_array.astype(np.float32)
    low, high = np.percentile(pixels, (1, 99.5))
    image = np.clip((pixels - low) / (high - low) * 255, 0, 255)
    alpha = tilted_label("PID 9950367", 22, -6)
    x, y = at
    h, w = alpha.shape
    image[y : y + h, x : x + w] = image[y : y + h, x : x + w] * (1 - alpha) + grey * alpha
    ink = np.zeros(image.shape, bool)
    ink[y : y + h, x : x + w] = alpha > 0.35
    return image.astype(np.uint8), ink


def split_boxes(ink: np.ndarray) -> tuple[TextBox, TextBox, np.ndarray]:
    """The detector's two boxes as the bench saw them: the middle two thirds of the first word's
    rows (a box that cuts its glyphs), and the rest of the line whole; and the first word's ink."""
    columns = np.flatnonzero(ink.any(axis=0))
    space = int(columns[int(np.argmax(np.diff(columns)))]) + 1  # the widest gap: after "PID"
    word = ink.copy()
    word[:, space:] = False
    wy, wx = np.nonzero(word)
    ry, rx = np.nonzero(ink & ~word)
    third = (int(wy.max()) - int(wy.min())) // 3
    first = TextBox(int(wx.min()), int(wy.min()) + third, int(wx.max() - wx.min()) + 1, 2 * third, 0.7)
    rest = TextBox(int(rx.min()), int(ry.min()), int(rx.max() - rx.min()) + 1, int(ry.max() - ry.min()) + 1, 0.9)
    return first, rest, word


def confirmed_mask(shape: tuple[int, ...], boxes: list[TextBox]) -> np.ndarray:
    out = np.zeros(shape[:2], bool)
    for b in boxes:
        out[b.y : b.y1, b.x : b.x1] = True
    return out


@pytest.fixture(scope="module")
def recognizer() -> CrnnRecognizer:
    return CrnnRecognizer(threads=1)


def test_first_word_boxed_apart_is_read_with_its_line(recognizer: CrnnRecognizer) -> None:
    image, ink = ct_with_label((340, 410), 180)  # "PID" over the grey head, the number over the black
    first, rest, word = split_boxes(ink)
    search = find_text([image], FixedDetector([first, rest]), recognizer)
    covered = confirmed_mask(image.shape, [j.box for j in search.judged if j.verdict is Verdict.CONFIRMED])
    assert (covered & word).sum() >= 0.98 * word.sum()  # the first word is blacked out ...
    assert (covered & ink).sum() >= 0.98 * ink.sum()  # ... with the whole line

