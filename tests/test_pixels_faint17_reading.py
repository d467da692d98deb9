"""A small box is read with ground above and below its glyphs (issue 9, tune seed 10839 case028).

On tune seed 10839 (case028) a faint 7 px time along the top edge of a PET fusion was boxed by the
detector 6 px high, tight on its 5 px glyphs, and the recognizer read "8-218" there (rejected, left
readable); with 2 px more above and below it read "23:2348" at 0.93-1.00.  Boxes less than
``recognize.SMALL_ACROSS`` px across their line are now read with ``READ_MARGIN`` of that more on
either side across the line (the box judged stays the detector's).
"""

from __future__ import annotations

import numpy as np
import pytest
from test_pixels_miss_classes import text_mask

from dicom_deid.pixels import recognize
from dicom_deid.pixels.confirm import Verdict, judge_reading
from dicom_deid.pixels.ocr import TextBox
from dicom_deid.pixels.recognize import CrnnRecognizer

SERIF = "/usr/share/fonts/truetype/liberation/LiberationSerif-Regular.ttf"


def _tight_label() -> tuple[np.ndarray, TextBox]:
    """A dim 7 px serif "PID 4471" on black, and a box as tight on it as the detector's (1 px along,
    none across)."""
    image = np.full((64, 128), 8, np.uint8)
    mask = text_mask(image.shape, "PID 4471", (20, 2), 7, SERIF)
    image[mask] = 70
    ys, xs = np.nonzero(mask)
    return image, TextBox(int(xs.min()) - 1, int(ys.min()), int(xs.max() - xs.min()) + 3, int(ys.max() - ys.min()) + 2)


def test_a_box_tight_on_7px_glyphs_reads_as_text() -> None:
    image, box = _tight_label()
    assert box.height < recognize.SMALL_ACROSS
    reading = CrnnRecognizer().read_boxes(image, [box])[0]
    assert judge_reading(reading, box) is Verdict.CONFIRMED
    assert "44" in reading.text  # the digits of "4471" among what it reads


def test_without_the_margin_the_same_box_reads_as_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """The premise: read as tight as it is boxed, the label is rejected."""
    image, box = _tight_label()
    monkeypatch.setattr(recognize, "SMALL_ACROSS", 0)
    assert judge_reading(CrnnRecognizer().read_boxes(image, [box])[0], box) is Verdict.REJECTED


def test_the_margin_is_across_the_line_only() -> None:
    """Along the line the crop is the box's (a reading of a line cut short, ``readout``, stays cut)."""
    image = np.arange(64 * 128, dtype=np.uint32).reshape(64, 128).astype(np.uint8)
    crop = recognize._crop(image, TextBox(20, 10, 40, 6))
    assert crop is not None and crop.shape[:2] == (10, 40)
    turned = recognize._crop(image, TextBox(20, 10, 6, 40))
    assert turned is not None and turned.shape[:2] == (40, 10)
    assert recognize._crop(image, TextBox(20, 10, 60, 20)).shape[:2] == (20, 60)  # type: ignore[union-attr]
