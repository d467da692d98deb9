"""Small glyphs that touch make one wide mark; a name of them is still a glyph row (issue 9).

Tune seed 10870 case026: a 7 px serif name ("SOFIA NAKAMURA", Liberation Serif, anti-aliased) in
the top right corner of a CR chest was never boxed and stayed readable.  Its serifs touch, so the
top-hat marks were one 20 px mark for "SOFIA" and one 41 px mark for "NAKAMURA", 5 px across: wider
than any glyph (``glyphs.GLYPH_WIDTH``), so no glyph row was found there and nothing searched it.  An
8 px dark monospace name on the same radiograph made marks 19-23 px long the same way.  Such a mark
is now kept where its profile along its length reads as letters side by side (``glyphs._letters``).

The images are pydicom-data's CR chest (RG1_UNCI) as the stage displays it, with the name drawn
anti-aliased by Pillow (as a scanner's overlay is) and checked with Tesseract, which reads it before
and must not read it after.
"""

from __future__ import annotations

import copy
import re

import cv2
import numpy as np
import pydicom
import pytest
from PIL import Image, ImageDraw, ImageFont
from pixel_fixtures import stored_frames
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid
from test_pixels_hard_cases import image_dataset, label_area

from dicom_deid.pixels import PixelMode, PixelPolicy, PixelStage, glyphs
from dicom_deid.pixels.decode import decode_pixels
from dicom_deid.pixels.glyphs import GLYPH_WIDTH, _glyph_marks, glyph_rows
from dicom_deid.pixels.views import search_images

NAME = "SOFIA NAKAMURA"
SERIF = "/usr/share/fonts/truetype/liberation/LiberationSerif-Regular.ttf"
MONO = "/usr/share/fonts/truetype/liberation/LiberationMono-Regular.ttf"
CR_IMAGE = "1.2.840.10008.5.1.4.1.1.1"
#: (font, size, top left, grey level of the ink): the 7 px serif name of 10870 case026 in the top right
#: corner, and an 8 px dark monospace name on bright ground of the same radiograph.
CASES = {
    "serif-7px-bright-corner": (SERIF, 7, (1760, 13), 255.0),
    "mono-8px-dark": (MONO, 8, (1300, 1900), 0.0),
}


def _chest() -> np.ndarray:
    """The CR chest (MONOCHROME1, 15 bits) as the stage displays it, 8-bit."""
    return search_images(decode_pixels(pydicom.dcmread(get_testdata_file("RG1_UNCI.dcm"))))[0]


def _alpha(text: str, font: str, size: int) -> np.ndarray:
    """Anti-aliased coverage 0..1 of ``text`` in ``font`` at ``size`` px."""
    face = ImageFont.truetype(font, size)
    left, top, right, bottom = ImageDraw.Draw(Image.new("L", (1, 1))).textbbox((0, 0), text, font=face)
    layer = Image.new("L", (right - left + 4, bottom - top + 4), 0)
    ImageDraw.Draw(layer).text((2 - left, 2 - top), text, fill=255, font=face)
    return np.asarray(layer, np.float32) / 255.0


def _named(case: str) -> tuple[np.ndarray, np.ndarray]:
    """The chest with ``NAME`` drawn as ``CASES[case]`` says; (8-bit image, glyph mask)."""
    font, size, (x, y), ink = CASES[case]
    alpha = _alpha(NAME, font, size)
    image = _chest().astype(np.float32)
    window = image[y : y + alpha.shape[0], x : x + alpha.shape[1]]
    window[...] = window * (1 - alpha) + ink * alpha
    mask = np.zeros(image.shape, bool)
    mask[y : y + alpha.shape[0], x : x + alpha.shape[1]] = alpha > 0.35
    return np.round(image).astype(np.uint8), mask


def _tesseract_reads(image: np.ndarray, mask: np.ndarray) -> str:
    """What Tesseract reads (one line) around the glyphs of ``mask`` in ``image``, much as the burned-in
    benchmark reads a label: the glyphs' side dark (turned so where they were brighter than around
    them), enlarged to about 36 px, framed; letters and digits only."""
    import tesserocr

    from dicom_deid.tesseract import find_tessdata

    ys, xs = np.nonzero(mask)
    y0, x0 = max(0, ys.min() - 4), max(0, xs.min() - 4)
    crop = image[y0 : ys.max() + 5, x0 : xs.max() + 5]
    ink = mask[y0 : ys.max() + 5, x0 : xs.max() + 5]
    if float(crop[ink].mean()) > float(crop[~ink].mean()):  # the ink's side, dark on light
        crop = 255 - crop
    crop = cv2.normalize(crop, None, 0, 255, cv2.NORM_MINMAX)  # stretched to its own range
    factor = max(1.0, min(6.0, 36.0 / crop.shape[0]))
    crop = cv2.resize(np.ascontiguousarray(crop), None, fx=factor, fy=factor, interpolation=cv2.INTER_CUBIC)
    crop = cv2.copyMakeBorder(crop, 12, 12, 12, 12, cv2.BORDER_REPLICATE)
    with tesserocr.PyTessBaseAPI(path=find_tessdata(), lang="eng", psm=tesserocr.PSM.SINGLE_LINE) as api:
        api.SetImage(Image.fromarray(crop))
        return re.sub(r"[^A-Z0-9]", "", api.GetUTF8Text().upper())


def _leaks(read: str) -> bool:
    """Whether ``read`` holds a run of four letters of ``NAME`` (the benchmark's readable leak)."""
    name = re.sub(r"[^A-Z0-9]", "", NAME)
    return any(name[i : i + 4] in read for i in range(len(name) - 3))


@pytest.mark.parametrize("case", sorted(CASES))
def test_touching_glyphs_make_wide_marks_and_still_a_glyph_row(case: str) -> None:
    image, mask = _named(case)
    grey = cv2.morphologyEx(image, cv2.MORPH_TOPHAT if CASES[case][3] > 128 else cv2.MORPH_BLACKHAT,
                            cv2.getStructuringElement(cv2.MORPH_RECT, (9, 9)))
    count, _labels, stats, _ = cv2.connectedComponentsWithStats((grey >= 16).astype(np.uint8) & label_area(mask, 1))
    assert max(int(w) for w in stats[1:count, cv2.CC_STAT_WIDTH]) > GLYPH_WIDTH + 2  # the premise: wide marks
    ys, xs = np.nonzero(mask)
    rows = [r for r in glyph_rows(image) if not r.vertical
            and r.x <= xs.min() + 4 and xs.max() - 4 <= r.x + r.width and r.y <= ys.max() and ys.min() <= r.y + r.height]
    assert rows and rows[0].glyphs >= 8  # one row along the whole name, a glyph per letter or so


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_name_of_touching_glyphs_on_a_radiograph_is_blacked_out(case: str) -> None:
    """The name is blacked out and Tesseract no longer reads it; outside it the stage changes what it
    changes on the chest without the name, and nothing more (the chest alone has a region the stage
    blacks out as unconfirmed on a high-risk image, with or without this change)."""
    image, mask = _named(case)
    assert _leaks(_tesseract_reads(image, mask))  # the premise: Tesseract reads the name
    after, before = _redacted(image)
    assert ((after == before) & mask).sum() <= 0.02 * mask.sum()
    assert not _leaks(_tesseract_reads((after // 16).astype(np.uint8), mask))
    plain_after, plain_before = _redacted(_chest())
    outside = ~label_area(mask, 6)
    assert np.array_equal((after != before) & outside, (plain_after != plain_before) & outside)


def _redacted(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(stored values after, before) the pixel stage (``--pixels all``) on a CR holding ``image``."""
    ds = image_dataset(image.astype(np.uint16) * 16, modality="CR", sop_class=CR_IMAGE,
                       series=(generate_uid(), generate_uid()), image_type=("ORIGINAL", "PRIMARY"))
    PixelStage(PixelPolicy(PixelMode.ALL)).process(ds, target := copy.deepcopy(ds))
    return stored_frames(target)[0, ..., 0], stored_frames(ds)[0, ..., 0]


def test_a_wide_mark_without_letters_is_no_glyph() -> None:
    """A bright bar 5 px across (a vessel, a bone edge) and a bar with a notch every 12 px are as
    long as the marks of a name, and their profiles read as no letters (one run, or too few for
    their length); a name's mark, cut at its letters, reads as many."""
    bar = np.zeros((20, 80), bool)
    bar[8:13, 10:51] = True
    assert not _glyph_marks(bar).any()
    notched = bar.copy()
    notched[8:12, 20:22] = notched[8:12, 32:34] = False  # three runs over 41 px: too few
    assert not _glyph_marks(notched).any()
    profile = np.array([5, 5, 3, 4, 5, 1, 4, 4, 4, 1, 5, 5, 3, 4, 2, 1, 4, 4, 4, 1, 5, 5, 3, 3, 5, 5, 4, 5, 1, 2,
                        4, 5, 5, 3, 5, 1, 1, 4, 4, 4, 1])  # "NAKAMURA" of 10870 case026, pixels per column
    assert glyphs._letters(profile, 5)
    assert not glyphs._letters(np.full(41, 5), 5) and not glyphs._letters(np.full(41, 2), 5)
