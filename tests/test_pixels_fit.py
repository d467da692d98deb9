"""A confirmed line grows beyond the detector's box only over what reads as text (``fit.py``).

On a real ultrasound (pydicom's ``examples_rgb_color.dcm``, a colour Doppler screen) each test
draws its own label and measures against what it drew: the glyph pixels must be blacked out,
and the anatomy beside the label must not be.  The real detector and recognizer run.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import pydicom
import pytest
from PIL import Image, ImageDraw, ImageFont
from pixel_fixtures import TEST_FILES

from dicom_deid.pixels import PixelMode, PixelPolicy, PixelStage
from dicom_deid.pixels.confirm import END_SHARE, MIN_PAD, PAD_SHARE, Proposal, Verdict, judge
from dicom_deid.pixels.detect import TextSearch
from dicom_deid.pixels.fit import confirm_growth, reading_crop, reads_as_glyphs
from dicom_deid.pixels.ocr import TextBox
from dicom_deid.pixels.recognize import CrnnRecognizer, Reading

MONO = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf"
SANS = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
US = "examples_rgb_color.dcm"  # 240 x 320 RGB colour Doppler, speckle and tissue layers


@pytest.fixture(scope="module")
def recognizer() -> CrnnRecognizer:
    return CrnnRecognizer()


def us_with_label(text: str, at: tuple[int, int], font: str, size: int) -> tuple[pydicom.Dataset, np.ndarray]:
    """The real US with ``text`` drawn in near-white at ``at`` (x, y); and the glyph mask."""
    ds = pydicom.dcmread(TEST_FILES / US)
    pixels = ds.pixel_array.copy()
    layer = Image.new("L", (pixels.shape[1], pixels.shape[0]), 0)
    ImageDraw.Draw(layer).text(at, text, fill=255, font=ImageFont.truetype(font, size))
    mask = np.asarray(layer) > 100
    pixels[mask] = 235
    ds.PixelData = pixels.tobytes()
    return ds, mask


def bounds(mask: np.ndarray) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(mask)
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def test_line_is_not_grown_over_the_speckle_beside_it(recognizer: CrnnRecognizer) -> None:
    """A clock over ultrasound speckle whose rows go on in bright tissue: the detector's box (the
    label and its margin) ends in the tissue, so the line was followed over 52 px of it and the
    box blacked out 61 px of anatomy beyond the last digit.  That growth reads no character: it
    is dropped, the label stays covered."""
    ds, mask = us_with_label("10:13:31", (10, 144), MONO, 14)
    image = ds.pixel_array
    x0, y0, x1, y1 = bounds(mask)
    margin = round(0.3 * (y1 - y0))  # the detector's box: the label and a margin
    proposal = TextBox(x0 - margin, y0 - margin, x1 - x0 + 2 * margin, y1 - y0 + 2 * margin, 0.9)
    reading = recognizer.read_boxes(image, [proposal])[0]
    judged = judge(image, Proposal(proposal, 0), reading)
    assert judged.verdict is Verdict.CONFIRMED
    assert judged.grown and judged.box.x1 > x1 + 3 * (y1 - y0)  # what the search proposes: grown over tissue
    fitted = confirm_growth(TextSearch((judged,), (image,)), recognizer).judged[0]
    box = fitted.box
    assert (box.x, box.y) <= (x0, y0) and box.y1 >= y1 and box.x1 >= x1  # every glyph covered
    assert box.x1 <= x1 + math.ceil(END_SHARE * judged.glyph_height) + 4  # and little beyond
    assert fitted.grown == ()


@pytest.mark.parametrize(("text", "font", "size"), [("09:12:27", MONO, 14), ("SMITH JOHN", SANS, 12)])
def test_growth_that_reads_is_kept(recognizer: CrnnRecognizer, text: str, font: str, size: int) -> None:
    """The detector proposed a line from its fourth glyph on ("12:27" of "09:12:27"): the line is
    followed to its start, and that part reads as characters, so it stays blacked out."""
    ds, mask = us_with_label(text, (40, 195), font, size)
    image = ds.pixel_array
    x0, y0, x1, y1 = bounds(mask)
    columns = np.flatnonzero(mask.any(axis=0))
    start = int(columns[np.flatnonzero(np.diff(columns) > 1)[2] + 1])  # the fourth glyph
    line = TextBox(start, y0, x1 - start, y1 - y0, 0.9)
    reading = recognizer.read_boxes(image, [line])[0]
    judged = judge(image, Proposal(line, 0), reading)
    assert judged.verdict is Verdict.CONFIRMED and judged.grown  # followed beyond the cut start
    fitted = confirm_growth(TextSearch((judged,), (image,)), recognizer).judged[0]
    assert fitted.box == judged.box and fitted.box.x <= x0 and fitted.box.x1 >= x1


def test_stage_keeps_the_anatomy_beside_a_clock() -> None:
    """Through the pixel stage (real detector and recognizer): the clock drawn over the speckle
    is blacked out, and in its rows nothing farther than a line height beyond it is changed
    (before, the box ran 52 px on over the tissue)."""
    ds, mask = us_with_label("10:13:31", (10, 144), MONO, 14)
    source, target = ds, copy.deepcopy(ds)
    outcome = PixelStage(PixelPolicy(mode=PixelMode.ALL)).process(source, target)
    assert outcome.redacted
    after = target.pixel_array
    before = source.pixel_array
    changed = (after != before).any(axis=-1)
    assert (after[mask] == 0).all()  # every glyph pixel black
    x0, y0, x1, y1 = bounds(mask)
    height = y1 - y0
    rows = slice(y0 - height, y1 + height)
    beside = changed[rows].copy()
    beside[:, max(0, x0 - height) : x1 + height] = False
    assert beside.sum() == 0, f"{int(beside.sum())} px of anatomy changed beside the clock"
    assert changed[rows, x1 + height :].size > 100 * height  # there was anatomy to lose


def test_reading_crop_reaches_away_from_the_line() -> None:
    """A short part is read with context beyond it (never into the line), across the line's
    padded rows; a part too narrow to hold a glyph is not read (kept)."""
    line = TextBox(100, 50, 60, 10)
    after = reading_crop(TextBox(160, 50, 8, 10), line, 10, 200, 300)
    before = reading_crop(TextBox(90, 50, 10, 10), line, 10, 200, 300)
    assert after is not None and before is not None
    assert after.x == 160 and after.width >= 1.5 * after.height and after.y <= 48 and after.y1 >= 62
    assert before.x1 == 100 and before.width >= 1.5 * before.height
    assert reading_crop(TextBox(160, 50, 5, 10), line, 10, 200, 300) is None


def test_reads_as_glyphs_needs_a_confident_letter_or_digit() -> None:
    assert reads_as_glyphs(Reading("7", (0.9,)))
    assert not reads_as_glyphs(Reading("7", (0.3,)))
    assert not reads_as_glyphs(Reading(":-", (0.99, 0.99)))
    assert not reads_as_glyphs(Reading("", ()))


def test_slanted_line_is_padded_by_its_glyphs(recognizer: CrnnRecognizer) -> None:
    """A clock drawn 10 degrees off the horizontal: its box is about twice as tall as its glyphs
    (13 px), and padding by the box's height (a quarter of it at each end) blacked out 1,750 px
    around 2,268 px of label.  The glyph strokes' height sets the padding: every glyph pixel is
    still inside the box."""
    ds = pydicom.dcmread(TEST_FILES / US)
    image = ds.pixel_array.copy()
    layer = Image.new("L", (200, 60), 0)
    ImageDraw.Draw(layer).text((10, 15), "10:13:31", fill=255, font=ImageFont.truetype(MONO, 18))
    drawn = np.asarray(layer.rotate(10, resample=Image.BILINEAR)) > 100
    mask = np.zeros(image.shape[:2], bool)
    mask[175:235, 30:230] = drawn
    image[mask] = 235
    x0, y0, x1, y1 = bounds(mask)
    proposal = TextBox(x0 - 4, y0 - 4, x1 - x0 + 8, y1 - y0 + 8, 0.9)
    judged = judge(image, Proposal(proposal, 0), recognizer.read_boxes(image, [proposal])[0])
    assert judged.verdict is Verdict.CONFIRMED
    box = judged.box
    assert (box.x, box.y) <= (x0, y0) and (box.x1, box.y1) >= (x1, y1)  # every glyph covered
    assert judged.glyph_height <= 0.6 * (y1 - y0)  # the glyphs, not the slanted box
    assert box.width * box.height - (x1 - x0) * (y1 - y0) <= 1000


def test_huge_glyphs_read_doubtfully_are_texture() -> None:
    """Ribs or lung fields read as a few letters ("CNSG" at 0.68-0.81, a real case on a chest
    radiograph) in a region whose line height is far beyond any label's (430 px on a 1,841 px
    image): rejected, not redacted as uncertain (it blacked out 13.7 % of the radiograph).  The
    same region read surely stays uncertain (redacted on high-risk images)."""
    base = pydicom.dcmread(TEST_FILES / "CT_small.dcm").pixel_array.astype(np.float64)
    image = np.kron((base - base.min()) * (255.0 / (base.max() - base.min())), np.ones((16, 16))).astype(np.uint8)
    region = TextBox(300, 100, 430, 704, 0.9)
    doubtful = Reading("CNSG", (0.81, 0.68, 0.68, 0.73), 90)
    assert judge(image, Proposal(region, 0), doubtful).verdict is Verdict.REJECTED
    sure = Reading("CNSG", (0.95, 0.9, 0.93, 0.97), 90)
    assert judge(image, Proposal(region, 0), sure).verdict is Verdict.UNCERTAIN


def test_followed_end_is_padded_like_the_rest(recognizer: CrnnRecognizer) -> None:
    """The detector's box ends inside the last digit: the line is followed to where its strokes
    stop, and that end is padded by the line's share all round, not by the longer padding of an
    end the line may go on beyond (it was looked at)."""
    ds, mask = us_with_label("10:13:31", (40, 195), MONO, 14)
    image = ds.pixel_array
    x0, y0, x1, y1 = bounds(mask)
    proposal = TextBox(x0 - 3, y0 - 3, (x1 - 4) - (x0 - 3), y1 - y0 + 6, 0.9)  # cuts the last "1"
    judged = judge(image, Proposal(proposal, 0), recognizer.read_boxes(image, [proposal])[0])
    assert judged.verdict is Verdict.CONFIRMED and judged.grown  # followed beyond the cut
    pad = max(MIN_PAD, math.ceil(PAD_SHARE * judged.glyph_height))
    assert x1 <= judged.box.x1 <= x1 + pad


def test_end_whose_growth_is_dropped_keeps_the_padding_of_a_cut_end() -> None:
    """The strokes went on beyond the line's end into what reads as nothing (a faint dot-matrix
    glyph cut in half beside anatomy): that end is padded as a cut end (40 % of the glyph height,
    which covered the rest of such a glyph on synthetic tuning seed 9742), the other as usual."""
    from dicom_deid.pixels.confirm import Judged
    from dicom_deid.pixels.fit import refit

    line = TextBox(100, 50, 60, 10)
    judged = Judged(TextBox(98, 48, 84, 14), Verdict.CONFIRMED, 0, 10, line, (TextBox(160, 50, 20, 10),), (False, False))
    fitted = refit(judged, {0}, np.zeros((200, 300), np.uint8))
    assert fitted.grown == () and fitted.cut == (False, True)
    assert (fitted.box.x, fitted.box.x1) == (98, 160 + math.ceil(END_SHARE * 10))
    assert (fitted.box.y, fitted.box.y1) == (48, 62)
