"""What a line grew by is kept only for glyphs of its own, not for another label it reaches (issue 9).

Tune seed 10831 case039, a 512 x 460 MR: the level copy of a label tilted by 18.6 degrees was
confirmed 48 px high at the line's low end and followed 192 px along its rows over anatomy.  Those
rows also held the top of a name confirmed below it; the part read "AKMA" there and was kept, and
the copy's box blacked out 4 % of the image.  The name is blacked out as itself: read with the
other confirmed lines filled in (``fit.without_other_lines``), the part reads nothing and is dropped.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_pixels_miss_classes import text_mask

from dicom_deid.pixels.confirm import Judged, Verdict, pad_box
from dicom_deid.pixels.detect import TextSearch
from dicom_deid.pixels.fit import confirm_growth, without_other_lines
from dicom_deid.pixels.ocr import TextBox
from dicom_deid.pixels.recognize import CrnnRecognizer

ROWS, COLUMNS = 300, 460
LINE = TextBox(220, 200, 150, 40)  # a large label, confirmed
GROWN = TextBox(20, 200, 200, 40)  # what it grew by along its rows (dark background, then the name)
NAME_AT = (24, 222)  # the name below, 16 px: its top lies in the grown part's rows


@pytest.fixture(scope="module")
def recognizer() -> CrnnRecognizer:
    return CrnnRecognizer()


def _image() -> tuple[np.ndarray, TextBox]:
    image = np.full((ROWS, COLUMNS), 12, np.uint8)
    image[text_mask((ROWS, COLUMNS), "MRN 9343", (LINE.x + 4, LINE.y + 4), 30)] = 230
    name = text_mask((ROWS, COLUMNS), "NAKAMURA, DMITRI", NAME_AT, 16)
    image[name] = 230
    ys, xs = np.nonzero(name)
    return image, TextBox(int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1))


def _search(image: np.ndarray, name: TextBox, *, with_name: bool = True) -> TextSearch:
    grown = Judged(pad_box(TextBox(GROWN.x, LINE.y, GROWN.width + LINE.width, LINE.height), LINE.height, ROWS, COLUMNS),
                   Verdict.CONFIRMED, 0, LINE.height, LINE, (GROWN,))
    label = Judged(pad_box(name, name.height, ROWS, COLUMNS), Verdict.CONFIRMED, 0, name.height, name)
    return TextSearch((grown, label) if with_name else (grown,), (image,))


def test_the_name_alone_makes_the_part_read_as_text(recognizer: CrnnRecognizer) -> None:
    """The setting holds: the part's crop reads the name where nothing fills it in."""
    image, name = _image()
    fitted = confirm_growth(_search(image, name, with_name=False), recognizer).judged[0]
    assert fitted.grown == (GROWN,)


def test_a_part_that_reads_only_another_confirmed_label_is_dropped(recognizer: CrnnRecognizer) -> None:
    image, name = _image()
    fitted = confirm_growth(_search(image, name), recognizer).judged[0]
    assert fitted.grown == ()
    assert fitted.box.x >= LINE.x - LINE.height  # the line's own end, padded as a cut end at most
    label = confirm_growth(_search(image, name), recognizer).judged[1]
    assert label.box.x <= name.x and label.box.x1 >= name.x1  # the name itself stays blacked out


def test_a_part_with_glyphs_of_its_own_is_kept(recognizer: CrnnRecognizer) -> None:
    """More of the line in the part's rows, beside the name: the part still reads as text."""
    image, name = _image()
    image[text_mask((ROWS, COLUMNS), "JONES", (100, LINE.y + 4), 30)] = 230
    fitted = confirm_growth(_search(image, name), recognizer).judged[0]
    assert fitted.grown == (GROWN,)


def test_only_the_other_lines_pixels_are_filled() -> None:
    image, name = _image()
    search = _search(image, name)
    crop = TextBox(GROWN.x, GROWN.y - 6, GROWN.width, GROWN.height + 12)
    filled = without_other_lines(image, crop, search.judged, 0)
    assert filled is not None
    inside = pad_box(name, name.height, ROWS, COLUMNS)
    rows = slice(inside.y - crop.y, min(crop.height, inside.y1 - crop.y))
    columns = slice(inside.x - crop.x, inside.x1 - crop.x)
    assert (filled[rows, columns] == 12).all()  # the name filled with the crop's median
    untouched = np.array(image[crop.y : crop.y1, crop.x : crop.x1], copy=True)
    untouched[rows, columns] = 12
    assert (filled == untouched).all()
    assert without_other_lines(image, crop, search.judged[:1], 0) is None


def test_a_line_stacked_below_touching_the_crop_by_its_padding_is_not_filled() -> None:
    """A line just below the part, whose padded box reaches a few rows into its crop: less than half of
    it lies across the crop, so the part's own glyphs (their descenders) are read as they are."""
    image, _name = _image()
    below = TextBox(GROWN.x, LINE.y1 + 3, 120, 16)  # its padding (3 px) reaches the crop's last rows
    image[text_mask((ROWS, COLUMNS), "ACC 55102", (below.x, below.y), 14)] = 230
    search = _search(image, below)
    crop = TextBox(GROWN.x, GROWN.y - 6, GROWN.width, GROWN.height + 12)
    assert pad_box(below, below.height, ROWS, COLUMNS).intersection(crop) is not None  # the premise
    assert without_other_lines(image, crop, search.judged, 0) is None
