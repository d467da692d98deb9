"""A projection's line up to twice as thick as a frame copy it holds is thinned too (issue 9).

Tune seed 10821 case031, a 16-frame colour Doppler of 256 x 120 with a 40 px clock changing on
every frame: the minimum projection showed the clock's first digits under blue flow that stayed on
every frame, and the line found there was 49 px thick for 31 px glyphs; two frames confirmed the
clock 31 px thick.  At 1.6 times, under ``LINE_RATIO``, the projection's line was not thinned
(``thinned_projections``), and ``merge_lines`` kept the copies apart (their union was larger than
the copies), so the projection's box blacked out 17 rows of flow on every frame: 14 % of it.
"""

from __future__ import annotations

import dataclasses

import pytest
from test_pixels_projection_thickness import DERIVED, PROJECTION, _region, _search

from dicom_deid.pixels.confirm import Judged
from dicom_deid.pixels.fit import LINE_RATIO, merge_lines
from dicom_deid.pixels.ocr import TextBox
from dicom_deid.pixels.recognize import CrnnRecognizer
from dicom_deid.pixels.thin import GLYPHS_HELD, THIN_RATIO, thinned_projections

FRAME = TextBox(31, 30, 121, 19)  # 31 px is 1.6 times 19 px: between THIN_RATIO and LINE_RATIO


def _projection(glyphs: int = FRAME.height) -> Judged:
    """The projection's line, thicker than its glyphs (``glyphs`` px high: the frame copy's)."""
    return dataclasses.replace(_region(PROJECTION, 0), glyph_height=glyphs)


@pytest.fixture(scope="module")
def recognizer() -> CrnnRecognizer:
    return CrnnRecognizer()


def test_projection_line_under_line_ratio_is_thinned_to_the_frame_copy(recognizer: CrnnRecognizer) -> None:
    assert THIN_RATIO * FRAME.height < PROJECTION.height <= LINE_RATIO * FRAME.height
    thinned = thinned_projections(_search(_projection(), _region(FRAME, 4)), DERIVED, recognizer)
    line = thinned.judged[0].line
    assert line is not None
    assert (line.y, line.y1) == (FRAME.y, FRAME.y1)
    assert (line.x, line.x1) == (PROJECTION.x, PROJECTION.x1)


def test_the_copies_then_black_out_no_row_outside_the_frame_copys_box(recognizer: CrnnRecognizer) -> None:
    merged = merge_lines(thinned_projections(_search(_projection(), _region(FRAME, 4)), DERIVED, recognizer))
    frame_box = _region(FRAME, 4).box
    assert len(merged.judged) == 1
    assert merged.judged[0].box.y >= frame_box.y and merged.judged[0].box.y1 <= frame_box.y1


def test_rows_that_read_as_text_are_still_kept(recognizer: CrnnRecognizer) -> None:
    """A line written in the rows the thinning would take off (above the frame copy) keeps them."""
    frame = TextBox(31, 32, 121, 19)  # the projection's last 19 rows; the text above it, at 21-32
    search = _search(_projection(), _region(frame, 4))
    assert thinned_projections(search, DERIVED, recognizer) != search  # nothing written there: thinned
    search = _search(_projection(), _region(frame, 4), above="ACC 4417 JONES")
    assert thinned_projections(search, DERIVED, recognizer) == search


def test_a_frame_copy_thinner_than_the_projections_glyphs_does_not_thin_it(recognizer: CrnnRecognizer) -> None:
    """The projection's glyphs fill its line (31 px): a frame copy 19 px across is a copy cut short
    across (a 14 px vertical label's frame copy was 9 px across: tune seed 10817 case031)."""
    assert FRAME.height < GLYPHS_HELD * PROJECTION.height
    search = _search(_projection(PROJECTION.height), _region(FRAME, 4))
    assert thinned_projections(search, DERIVED, recognizer) == search
