"""Vertical glyph rows are found in place, without transposing the image (an exact speedup).

``glyphs._rows`` used to find rows down the image by transposing the marks and the response
(two copies of a radiograph-sized array) and finding horizontal rows; it now joins marks with a
vertical kernel.  The reference here is that old way, written out with the horizontal search.
"""

from __future__ import annotations

import cv2
import numpy as np
import pydicom
from pydicom.data import get_testdata_file
from test_pixels_miss_classes import MONO, text_mask

from dicom_deid.pixels.glyphs import GLYPH_LEVEL, GLYPH_SPAN, GlyphRow, _glyph_marks, _rows


def _vertical_by_transposing(marks: np.ndarray, response: np.ndarray) -> list[tuple[object, ...]]:
    rows = _rows(np.ascontiguousarray(marks.T), np.ascontiguousarray(response.T), vertical=False)
    return sorted((r.y, r.x, r.height, r.width, True, r.glyphs, r.contrast) for r in rows)


def _as_tuples(rows: list[GlyphRow]) -> list[tuple[object, ...]]:
    return sorted((r.x, r.y, r.width, r.height, r.vertical, r.glyphs, r.contrast) for r in rows)


def test_vertical_rows_equal_rows_of_the_transposed_image() -> None:
    """A CT slice (CT_small, 512 x 512) with vertical and horizontal labels of several sizes:
    the vertical rows found in place equal those found on the transposed marks, and there are
    some."""
    base = pydicom.dcmread(get_testdata_file("CT_small.dcm")).pixel_array.astype(np.float64)
    image = np.kron((base - base.min()) / np.ptp(base) * 200, np.ones((4, 4))).astype(np.uint8)
    for at, size, turn in (((40, 60), 9, 1), ((450, 80), 12, -1), ((200, 300), 10, 0), ((300, 30), 8, 1)):
        image[text_mask(image.shape, "DOB 04-11-1977", at, size, MONO, turn=turn)] = 250
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (GLYPH_SPAN, GLYPH_SPAN))
    response = cv2.morphologyEx(image, cv2.MORPH_TOPHAT, kernel)
    marks = _glyph_marks(response >= GLYPH_LEVEL)
    found = _as_tuples(_rows(marks, response, vertical=True))
    assert len(found) >= 2
    assert found == _vertical_by_transposing(marks, response)
