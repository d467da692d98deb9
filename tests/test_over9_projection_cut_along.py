"""A projection's line is cut along to the extent of its frame copies where what lies beyond reads
as no glyph (issue 9).

Tune seed 10878 case014, a 16-frame colour Doppler of 256 x 120 with a red clock changing on every
frame: the minimum projection showed blue flow that stayed on every frame before the clock's steady
"10:".  The detector boxed both, the box read "10:0", and the line ran from x = 101 over the flow to
the clock, 28 px thick for 19 px glyphs.  Two frames confirmed the clock from its first glyph on
(x = 150).  Too short along the frame copies (44 px shared of 94) to be thinned to them, and kept
apart by ``merge_lines`` (their union was larger than the copies), the projection's box blacked out
the flow on every frame: 9.8 % of the frame over-redacted.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from test_pixels_miss_classes import text_mask

from dicom_deid.pixels.confirm import Judged, Verdict, pad_box
from dicom_deid.pixels.detect import TextSearch
from dicom_deid.pixels.fit import merge_lines
from dicom_deid.pixels.ocr import TextBox
from dicom_deid.pixels.recognize import CrnnRecognizer
from dicom_deid.pixels.redact import Strip
from dicom_deid.pixels.thin import thinned_projections

ROWS, COLUMNS = 120, 256
DERIVED = [True, True, True, True, False, False]  # four projections, then two frames
PROJECTION = TextBox(101, 20, 94, 28)  # the flow and the clock's start, on the minimum projection
FLOW = (slice(18, 48), slice(103, 140))  # rows, columns of the blue flow before the clock
CLOCK_AT = (154, 29)  # the red clock's first glyph (x, y)
GLYPHS = 19  # the clock's glyph height
FRAMES = (TextBox(150, 29, 106, 19), TextBox(150, 30, 99, 18))  # the clock confirmed on two frames


def _region(line: TextBox, image: int, glyphs: int) -> Judged:
    return Judged(pad_box(line, glyphs, ROWS, COLUMNS, cut=(False, False)), Verdict.CONFIRMED, image, glyphs, line)


def _search(*frames: TextBox, before: str = "") -> TextSearch:
    """The projection (image 0) shows blue flow (or ``before``, in white) before a red "10:09";
    the frames' own pixels play no part."""
    images = [np.full((ROWS, COLUMNS, 3), 20, np.uint8) for _ in range(6)]
    if before:
        images[0][text_mask((ROWS, COLUMNS), before, (FLOW[1].start, CLOCK_AT[1]), 20)] = 230
    else:
        images[0][FLOW] = (30, 40, 210)
    images[0][text_mask((ROWS, COLUMNS), "10:09", CLOCK_AT, 26)] = (230, 40, 40)
    regions = [_region(PROJECTION, 0, PROJECTION.height)]
    regions += [_region(line, 4 + n, line.height) for n, line in enumerate(frames)]
    return TextSearch(tuple(regions), tuple(images))


@pytest.fixture(scope="module")
def recognizer() -> CrnnRecognizer:
    return CrnnRecognizer()


def test_the_scene_is_as_described() -> None:
    """The clock's glyphs are 19 px high and start after the frame copies' start, the flow before it."""
    clock = text_mask((ROWS, COLUMNS), "10:09", CLOCK_AT, 26)
    rows, cols = np.flatnonzero(clock.any(axis=1)), np.flatnonzero(clock.any(axis=0))
    assert rows[-1] - rows[0] + 1 == GLYPHS
    assert cols[0] >= FRAMES[0].x and FLOW[1].stop < FRAMES[0].x


def test_the_projection_line_is_cut_to_where_the_frame_copies_start(recognizer: CrnnRecognizer) -> None:
    cut = thinned_projections(_search(*FRAMES), DERIVED, recognizer).judged[0]
    assert cut.line is not None
    assert cut.line.x == FRAMES[0].x  # the flow before the clock is off the line
    assert cut.line.x1 == PROJECTION.x1  # the end the frames reach farther is left
    assert cut.box.x >= FRAMES[0].x - 3  # padded by a share of the glyphs (3 px of 19), not over the flow
    assert abs(cut.glyph_height - GLYPHS) <= 1  # measured on the clock, not on the flow's rows (28)
    # and thinned across to the frame copy, as its glyphs are now known to be 19 px high
    assert cut.line.height < PROJECTION.height


def test_the_boxes_then_black_out_none_of_the_flow(recognizer: CrnnRecognizer) -> None:
    merged = merge_lines(thinned_projections(_search(*FRAMES), DERIVED, recognizer))
    for judged in merged.judged:
        assert judged.box.x >= FLOW[1].stop
    before = merge_lines(_search(*FRAMES))  # without the cut, the projection's box covers the flow
    assert min(j.box.x for j in before.judged) < FLOW[1].start


def test_one_frame_copy_does_not_cut_the_line(recognizer: CrnnRecognizer) -> None:
    """A detector's box on one frame may hold a part of the line: two frame copies must agree."""
    search = _search(FRAMES[0])
    assert thinned_projections(search, DERIVED, recognizer) == search


def test_text_beyond_the_frame_copies_is_kept(recognizer: CrnnRecognizer) -> None:
    """What the projection's line holds beyond the frame copies reads as text: it stays."""
    cut = thinned_projections(_search(*FRAMES, before="ACC"), DERIVED, recognizer).judged[0]
    assert cut.line is not None and cut.line.x == PROJECTION.x


def test_copies_unlike_in_thickness_do_not_cut_the_line(recognizer: CrnnRecognizer) -> None:
    """Level copies of parts of a tilted line are as thick as each part's climb (40 and 25 px for a
    label tilted by 14 degrees): they do not tell where the line ends, and a part cut off it reads
    poorly, level.  Copies more than 1.25 times apart in thickness (here 26 and 19 px) cut nothing."""
    search = _search(FRAMES[0], TextBox(150, 22, 99, 26))
    assert thinned_projections(search, DERIVED, recognizer) == search


def test_a_banded_frame_copy_does_not_cut_the_line(recognizer: CrnnRecognizer) -> None:
    """A frame copy blacked out in a band along a tilted line: the line is tilted, not cut."""
    search = _search(*FRAMES)
    banded = search.judged[2]
    tilted = dataclasses.replace(banded, band=(banded.box, Strip(10.0, 40.0, 12.0)))
    search = dataclasses.replace(search, judged=(*search.judged[:2], tilted))
    assert tilted.strip() is not None
    assert thinned_projections(search, DERIVED, recognizer) == search
