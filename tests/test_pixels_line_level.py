"""A confirmed line is followed where its background changes along it (issue 9).

A label drawn in one grey over a real CT slice runs from the dark lung into the soft tissue
beside it: brighter than its background at one end, darker at the other (tune seed 10604 case039:
a grey name over the brain read "DUBOIS^DM" and left "ITRI" over a bright structure, where the
name is only a little brighter).  The line's strokes were followed only in the polarity and at
the contrast of the part the detector boxed, so the line was cut where its background turned.
The base is pydicom's ``CT_small.dcm``; the label is planted with Pillow and measured against its
own glyphs; readings are scripted where the step under test takes one.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pydicom
from pydicom.data import get_testdata_file
from test_pixels_hard_cases import MONO
from test_pixels_miss_classes import text_mask

from dicom_deid.pixels.confirm import Proposal, Verdict, extend_line, judge
from dicom_deid.pixels.detect import TextSearch
from dicom_deid.pixels.fit import confirm_growth
from dicom_deid.pixels.ocr import TextBox
from dicom_deid.pixels.recognize import Reading

LEVEL = 150  # the label's grey: far above the lung (about 10), a little below the tissue (165-200)
AT = (10, 112)  # the label starts over the lung; the tissue begins about 90 px to the right


def _ct_slice() -> np.ndarray:
    """CT_small (128 x 128) windowed to 8 bits and enlarged three times."""
    values = pydicom.dcmread(get_testdata_file("CT_small.dcm")).pixel_array.astype(np.float32)
    low, high = np.percentile(values, (1, 99))
    image = np.clip((values - low) / (high - low) * 255, 0, 255).astype(np.uint8)
    return np.kron(image, np.ones((3, 3), np.uint8))


def _label(text: str) -> tuple[np.ndarray, np.ndarray]:
    image = _ct_slice()
    mask = text_mask(image.shape, text, AT, 20, MONO)
    image[mask] = LEVEL
    return image, mask


def _boxed_start(mask: np.ndarray, right: int) -> TextBox:
    """The detector's box of the line's glyphs left of ``right`` (the part over the lung)."""
    ys, xs = np.nonzero(mask & (np.arange(mask.shape[1]) < right))
    return TextBox(int(xs.min()), int(ys.min()), int(xs.max()) + 1 - int(xs.min()), int(ys.max() - ys.min()) + 1)


class _Scripted:
    """A recognizer that reads ``text`` in every box."""

    def __init__(self, text: str) -> None:
        self.text = text

    def read_boxes(self, image: np.ndarray, boxes: Sequence[TextBox]) -> list[Reading]:
        return [Reading(self.text, (0.99,) * len(self.text)) for _ in boxes]


def _covered(box: TextBox, mask: np.ndarray) -> float:
    ys, xs = np.nonzero(mask)
    return float(((xs >= box.x) & (xs < box.x1) & (ys >= box.y) & (ys < box.y1)).mean())


def test_background_under_the_label_changes_as_the_line_goes_on() -> None:
    """The label is brighter than the lung and a little darker than the tissue: the line the
    detector boxed over the lung is followed over the tissue to the label's end."""
    image, mask = _label("MRN 5370275")
    xs = np.nonzero(mask)[1]
    assert xs.max() > 135  # half the label lies over the tissue
    assert np.median(image[AT[1] - 6 : AT[1] - 2, 120 : xs.max()]) > LEVEL + 10  # and is darker than it there
    box = _boxed_start(mask, 85)
    judged = judge(image, Proposal(box, 0), Reading("MRN537", (0.99,) * 6))
    assert judged.verdict is Verdict.CONFIRMED
    search = confirm_growth(TextSearch((judged,), (image,)), _Scripted("70275"))
    assert _covered(search.judged[0].box, mask) == 1.0
    assert search.judged[0].box.x1 <= xs.max() + 1 + judged.glyph_height  # and stops where it ends


def test_line_that_ends_over_the_lung_is_not_followed_into_the_tissue() -> None:
    """The same label cut short ("MRN 53", over the lung): the tissue beyond, at the label's grey
    here and there, is not taken for more of the line."""
    image, mask = _label("MRN 53")
    xs = np.nonzero(mask)[1]
    line = _boxed_start(mask, 100)
    assert line.x1 == xs.max() + 1  # the whole label is boxed
    grown = extend_line(image, line, line.height, (True, True))
    assert grown.x1 <= xs.max() + 1 + line.height // 2
