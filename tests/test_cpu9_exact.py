"""Exact speedups of the pixel search (helper cpu9): each is checked against the per-item formula
it replaced, written out here.

- ``glyphs._rows`` counts the marks and the mean response of every joined component in one pass
  over the marked pixels (``_row_marks``), not one ``np.unique`` and one masked mean per component.
- ``DbnetDetector._detect_prepared`` skips the bitmap, dilation and component search of a map
  with nothing above the threshold (most crops around glyph rows): none is found there anyway.
"""

from __future__ import annotations

import cv2
import numpy as np
import pydicom
from pydicom.data import get_testdata_file
from test_pixels_miss_classes import MONO, text_mask

from dicom_deid.pixels.glyphs import (
    GLYPH_LEVEL,
    GLYPH_SPAN,
    ROW_GAP,
    ROW_GLYPHS,
    ROW_HEIGHT,
    ROW_LENGTH,
    GlyphRow,
    _glyph_marks,
    _rows,
)
from dicom_deid.pixels.ocr import DbnetDetector, ScanPass, TextBox


def _rows_one_by_one(marks: np.ndarray, response: np.ndarray, *, vertical: bool) -> list[GlyphRow]:
    """The rows as ``_rows`` found them before: each candidate component's marks counted with
    ``np.unique`` and its contrast the masked mean of its marks' response."""
    present = (marks > 0).astype(np.uint8)
    reach = (1, ROW_GAP + 1) if vertical else (ROW_GAP + 1, 1)
    joined = cv2.dilate(present, cv2.getStructuringElement(cv2.MORPH_RECT, reach))
    _count, labels, stats, _ = cv2.connectedComponentsWithStats(joined, connectivity=8)
    low, high = ROW_HEIGHT
    across = stats[:, cv2.CC_STAT_WIDTH] if vertical else stats[:, cv2.CC_STAT_HEIGHT]
    along = stats[:, cv2.CC_STAT_HEIGHT] if vertical else stats[:, cv2.CC_STAT_WIDTH]
    candidates = np.flatnonzero((low <= across) & (across <= high) & (along >= ROW_LENGTH * across))
    rows = []
    for label in candidates[candidates > 0]:
        x, y, w, h, _area = (int(v) for v in stats[label])
        inside = labels[y : y + h, x : x + w] == label
        window = marks[y : y + h, x : x + w][inside]
        glyphs = len(np.unique(window[window > 0]))
        if glyphs >= ROW_GLYPHS:
            contrast = float(response[y : y + h, x : x + w][inside][window > 0].mean())
            rows.append(GlyphRow(x, y, w, h, vertical, glyphs, contrast))
    return rows


def _labelled_ct() -> np.ndarray:
    """CT_small enlarged 4x (512 x 512) with labels of several sizes, level and vertical."""
    base = pydicom.dcmread(get_testdata_file("CT_small.dcm")).pixel_array.astype(np.float64)
    image = np.kron((base - base.min()) / np.ptp(base) * 200, np.ones((4, 4))).astype(np.uint8)
    for at, size, turn in (((40, 60), 9, 1), ((450, 80), 12, -1), ((200, 300), 10, 0), ((300, 30), 8, 1),
                           ((20, 470), 7, 0)):
        image[text_mask(image.shape, "DOB 04-11-1977", at, size, MONO, turn=turn)] = 250
    return image


def test_rows_equal_rows_found_component_by_component() -> None:
    """On a labelled CT slice and on grain (many components, most not rows), both polarities and
    directions: the same rows, in the same order, with the same glyph counts and contrasts; and
    the labelled slice has rows both ways."""
    rng = np.random.default_rng(9)
    grain = np.asarray(cv2.GaussianBlur(rng.integers(0, 256, (300, 400), dtype=np.uint8), (3, 3), 0), np.uint8)
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (GLYPH_SPAN, GLYPH_SPAN))
    seen = {True: 0, False: 0}
    for image in (_labelled_ct(), grain):
        for operation in (cv2.MORPH_TOPHAT, cv2.MORPH_BLACKHAT):
            response = np.asarray(cv2.morphologyEx(image, operation, kernel), np.uint8)
            for level in (GLYPH_LEVEL, 2 * GLYPH_LEVEL):
                marks = _glyph_marks(response >= level)
                for vertical in (False, True):
                    found = _rows(marks, response, vertical=vertical)
                    assert found == _rows_one_by_one(marks, response, vertical=vertical)
                    seen[vertical] += len(found)
    assert seen[True] >= 2 and seen[False] >= 2


def test_rows_of_an_image_without_marks() -> None:
    """No marks at all: no rows (the one-pass count has no marked pixel to work on)."""
    marks = np.zeros((64, 64), np.int32)
    response = np.zeros((64, 64), np.uint8)
    assert _rows(marks, response, vertical=False) == []
    assert _rows(marks, response, vertical=True) == []


def _boxes_of(prob: np.ndarray) -> tuple[list[TextBox], float, list[TextBox]]:
    """(boxes, peak) of ``_detect_prepared`` on a map (the network's map replaced by it), and the
    boxes ``_boxes`` finds in it; box threshold 0.2, so that a line just above the threshold counts."""
    detector = DbnetDetector(box_threshold=0.2)
    setattr(detector, "network_map", lambda prepared, scan, pad=None: prob)  # noqa: B010
    scan = ScanPass(min_side=None, factor=1.0, max_side=4096)
    boxes, peak = detector._detect_prepared(np.zeros(prob.shape, np.uint8), prob.shape, scan)
    return boxes, peak, detector._boxes(prob, prob.shape, scan)


def test_a_map_just_above_the_threshold_is_still_boxed() -> None:
    """A line whose probability is just above the threshold is boxed as ``_boxes`` boxes it; a map
    whose peak is the threshold itself has no box either way; the peak is the map's maximum."""
    threshold = np.float32(DbnetDetector().threshold)
    prob = np.zeros((64, 96), np.float32)
    prob[20:30, 10:80] = threshold + np.float32(0.01)
    boxes, peak, reference = _boxes_of(prob)
    assert boxes and boxes == reference and peak == float(threshold + np.float32(0.01))
    flat = np.full((64, 96), threshold, np.float32)
    boxes, peak, reference = _boxes_of(flat)
    assert boxes == reference == [] and peak == float(threshold)
