"""A line is thinned to a thinner copy of it confirmed on the same image (issue 9 over-redaction).

Tune seed 10832 case020, a 512 x 512 CT perfusion: a vertical 39 px label, dark over bright
anatomy, was confirmed in two detector boxes: one 31 px across, the other 68 px, for the dark
vessels beside the label taken as strokes.  68 px is more than ``LINE_RATIO`` times 31, so
``merge_lines`` never joined them, and the thick one blacked out the vessels: 8.6 % of the image.
A line that holds a copy confirmed on its own search image keeps that copy's extent across (and
along, where its ends beyond it read as no glyph), where the copy reads the line at least as well
and what the thinning takes off reads as no text (``thin.thinned_projections``).
"""

from __future__ import annotations

import numpy as np
import pytest
from test_pixels_miss_classes import text_mask

from dicom_deid.pixels.confirm import Judged, Verdict, pad_box
from dicom_deid.pixels.detect import TextSearch
from dicom_deid.pixels.fit import LINE_RATIO, merge_lines
from dicom_deid.pixels.ocr import TextBox
from dicom_deid.pixels.recognize import CrnnRecognizer
from dicom_deid.pixels.thin import thinned_projections

ROWS, COLUMNS = 320, 300
LABEL_AT = (110, 20)  # x, y of the vertical label (dark, over bright tissue)
SIZE = 28


@pytest.fixture(scope="module")
def recognizer() -> CrnnRecognizer:
    return CrnnRecognizer()


def _bounds(mask: np.ndarray) -> TextBox:
    ys, xs = np.nonzero(mask)
    return TextBox(int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1))


def _image(beside: str = "") -> tuple[np.ndarray, TextBox]:
    """Bright tissue, dark vessels left of a dark vertical label (or ``beside``, another label, there)."""
    import cv2

    image = np.full((ROWS, COLUMNS), 205, np.uint8)
    rng = np.random.default_rng(7)
    image = np.clip(image.astype(np.int16) + rng.normal(0, 6, image.shape).astype(np.int16), 0, 255).astype(np.uint8)
    if beside:
        image[text_mask((ROWS, COLUMNS), beside, (LABEL_AT[0] - 34, LABEL_AT[1] + 10), 22, turn=1)] = 25
    else:
        for start in (40, 120, 200):  # vessels: wandering dark curves 2-3 px thick
            points = [(int(LABEL_AT[0] - 30 + rng.integers(-6, 7)), start)]
            for _ in range(8):
                x, y = points[-1]
                points.append((int(np.clip(x + rng.integers(-7, 8), LABEL_AT[0] - 40, LABEL_AT[0] - 6)), y + 9))
            cv2.polylines(image, [np.array(points, np.int32)], False, 30, thickness=int(rng.integers(2, 4)))
    label = text_mask((ROWS, COLUMNS), "MRN:12939668", LABEL_AT, SIZE, turn=1)
    image[label] = 20
    return image, _bounds(label)


def _copy(line: TextBox) -> Judged:
    glyphs = min(line.width, line.height)
    return Judged(pad_box(line, glyphs, ROWS, COLUMNS, cut=(False, False)), Verdict.CONFIRMED, 0, glyphs, line)


def _copies(label: TextBox) -> tuple[Judged, Judged]:
    """The thick copy (the vessels and the label, a little longer) and the thin one (the label)."""
    thin = TextBox(label.x - 2, label.y - 2, label.width + 4, label.height + 4)
    thick = TextBox(LABEL_AT[0] - 44, label.y - 18, label.x1 + 2 - (LABEL_AT[0] - 44), label.height + 36)
    assert thick.width > LINE_RATIO * thin.width  # never joined by ``merge_lines`` as they are
    return _copy(thick), _copy(thin)


def test_the_thick_copy_is_thinned_to_the_thin_one(recognizer: CrnnRecognizer) -> None:
    image, label = _image()
    thick, thin = _copies(label)
    search = TextSearch((thick, thin), (image,))
    thinned = thinned_projections(search, [False], recognizer).judged[0]
    assert thinned.line is not None and thin.line is not None
    assert (thinned.line.x, thinned.line.x1) == (thin.line.x, thin.line.x1)
    assert (thinned.line.y, thinned.line.y1) == (thin.line.y, thin.line.y1)  # its ends beyond read nothing
    merged = merge_lines(thinned_projections(search, [False], recognizer)).judged
    union = np.zeros((ROWS, COLUMNS), bool)
    for region in merged:
        union[region.box.y : region.box.y1, region.box.x : region.box.x1] = True
    glyphs = np.zeros((ROWS, COLUMNS), bool)
    glyphs[label.y : label.y1, label.x : label.x1] = True
    assert union[glyphs].all()  # the label stays covered
    assert not union[:, : LABEL_AT[0] - 10].any()  # the vessels are not blacked out


def test_a_label_beside_the_line_keeps_the_thick_copy(recognizer: CrnnRecognizer) -> None:
    """What the thinning would take off holds another label: the thick copy stays as it is."""
    image, label = _image(beside="JONES ANN")
    thick, thin = _copies(label)
    search = TextSearch((thick, thin), (image,))
    assert thinned_projections(search, [False], recognizer).judged[0] == thick


def test_a_copy_cut_short_across_does_not_thin_the_line(recognizer: CrnnRecognizer) -> None:
    """A copy over the right 80 % of the glyphs' width (what it leaves reads as no text: "MDM.12020CCO",
    unsurely) cuts through their strokes: it thins nothing."""
    image, label = _image()
    whole = _copy(TextBox(label.x - 2, label.y - 2, label.width + 4, label.height + 4))
    cut = round(0.8 * label.width)
    short = _copy(TextBox(label.x1 - cut, label.y - 2, cut, label.height + 4))
    search = TextSearch((whole, short), (image,))
    assert thinned_projections(search, [False], recognizer).judged[0] == whole


@pytest.mark.parametrize(("text", "size"), [("Jaquy Pigg, Gypsy", 20), ("Smythe, Peggy J", 24)])
def test_a_copy_without_the_descenders_does_not_thin_the_line(recognizer: CrnnRecognizer, text: str,
                                                              size: int) -> None:
    """A copy whose box left out the descenders of a name: what the thinning would take off reads
    as no text ("Ja9ey1i99reyPey", unsurely), and few descenders cross the copy's edge; the line is
    only 1.25 to 1.4 times as thick as the copy (``SAME_RATIO``), and keeps them."""
    image = np.full((80, 300), 25, np.uint8)
    glyphs = text_mask(image.shape, text, (10, 20), size)
    image[glyphs] = 220
    line = _bounds(glyphs)
    upper = TextBox(line.x, line.y, line.width, line.height - round(0.22 * size))  # down to the baseline
    search = TextSearch((_copy(line), _copy(upper)), (image,))
    assert thinned_projections(search, [False], recognizer).judged[0] == search.judged[0]


@pytest.mark.parametrize("at", [(120, 60), (140, 120)])
def test_a_tilted_line_is_not_thinned_to_a_level_copy_of_its_low_end(recognizer: CrnnRecognizer,
                                                                     at: tuple[int, int]) -> None:
    """A faint magenta date tilted by 11-14 degrees over a colour Doppler's speckle, and a level copy
    of its right half in the rows of its last glyphs (tune seed 10838 case029: the date lost its start).
    Its glyphs there cross the copy's edge little, and what a thinning takes off reads as no text:
    the line keeps its box."""
    import pydicom
    from pixel_fixtures import TEST_FILES
    from test_pixels_tilted_band import tilted_label

    image = pydicom.dcmread(TEST_FILES / "examples_rgb_color.dcm").pixel_array.copy()
    rows, columns = image.shape[:2]
    glyphs, _band = tilted_label("06-JUN-2018", 12, "/usr/share/fonts/type1/urw-base35/URWBookman-Light.t1",
                                 -11.4 if at == (120, 60) else -14.0)
    mask = np.zeros((rows, columns), bool)
    mask[at[1] : at[1] + glyphs.shape[0], at[0] : at[0] + glyphs.shape[1]] = glyphs
    image[mask] = (200, 60, 200)
    line = _bounds(mask)
    end = np.nonzero(mask[:, line.x1 - line.width // 3 : line.x1].any(axis=1))[0]
    level = TextBox(line.x1 - line.width // 2, int(end.min()), line.width // 2, int(end.max() - end.min() + 1))

    def copy(box: TextBox) -> Judged:
        glyph = min(box.width, box.height)
        return Judged(pad_box(box, glyph, rows, columns, cut=(False, False)), Verdict.CONFIRMED, 0, glyph, box)

    search = TextSearch((copy(line), copy(level)), (image,))
    assert thinned_projections(search, [False], recognizer).judged[0] == search.judged[0]
