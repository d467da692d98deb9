"""A line confirmed on a projection of a run is as thick as the frame copy it holds (issue 9).

Tune seed 10814 case048, a 16-frame colour Doppler of 256 x 120: the minimum projection showed a
12 px grey name under blue flow that stayed on every frame.  The detector boxed both, the box read
as the name, and the line was 31 px thick; the name was also confirmed on a frame, 14 px thick.
The two copies were more than ``LINE_RATIO`` apart in thickness, so both were blacked out, and
17 % of every frame went with them.  A projection mixes the frames: where its line holds a frame's
copy across its thickness, it keeps its own length and the frame copy's thickness, unless what
that takes off reads as text (a tilted label's box is thick for its glyphs too: tune seed 10813
case025 lost 30 % of a label tilted 16 degrees before that check).
"""

from __future__ import annotations

import numpy as np
import pytest
from test_pixels_miss_classes import text_mask

from dicom_deid.pixels.confirm import Judged, Verdict, pad_box
from dicom_deid.pixels.detect import TextSearch
from dicom_deid.pixels.fit import merge_lines
from dicom_deid.pixels.ocr import TextBox
from dicom_deid.pixels.recognize import CrnnRecognizer
from dicom_deid.pixels.thin import thinned_projections

ROWS, COLUMNS = 120, 256
PROJECTION = TextBox(31, 20, 149, 31)  # the name and the flow above it, on the minimum projection
FRAME = TextBox(31, 35, 121, 14)  # the name on a frame


def _region(line: TextBox, image: int) -> Judged:
    glyphs = min(line.width, line.height)
    return Judged(pad_box(line, glyphs, ROWS, COLUMNS, cut=(False, False)), Verdict.CONFIRMED, image, glyphs, line)


def _search(*regions: Judged, above: str = "") -> TextSearch:
    """Six dark images (four projections, two frames), ``above`` written on the first projection
    in the rows of ``PROJECTION`` above ``FRAME``."""
    images = [np.full((ROWS, COLUMNS, 3), 20, np.uint8) for _ in range(6)]
    if above:
        images[0][text_mask((ROWS, COLUMNS), above, (PROJECTION.x + 2, PROJECTION.y + 1), 11)] = 230
    return TextSearch(regions, tuple(images))


@pytest.fixture(scope="module")
def recognizer() -> CrnnRecognizer:
    return CrnnRecognizer()


DERIVED = [True, True, True, True, False, False]  # four projections, then frames


def test_projection_line_keeps_the_frame_copys_rows_and_its_own_length(recognizer: CrnnRecognizer) -> None:
    thinned = thinned_projections(_search(_region(PROJECTION, 0), _region(FRAME, 4)), DERIVED, recognizer)
    line = thinned.judged[0].line
    assert line is not None
    assert (line.y, line.y1) == (FRAME.y, FRAME.y1)
    assert (line.x, line.x1) == (PROJECTION.x, PROJECTION.x1)
    assert thinned.judged[0].box.y >= FRAME.y - 3 and thinned.judged[0].box.y1 <= FRAME.y1 + 3


def test_the_copies_are_then_one_box_no_taller_than_the_frame_copys(recognizer: CrnnRecognizer) -> None:
    merged = merge_lines(thinned_projections(_search(_region(PROJECTION, 0), _region(FRAME, 4)), DERIVED, recognizer))
    assert len(merged.judged) == 1
    box = merged.judged[0].box
    frame_box = _region(FRAME, 4).box
    assert box.y >= frame_box.y and box.y1 <= frame_box.y1
    assert box.x <= PROJECTION.x and box.x1 >= PROJECTION.x1


def test_lines_on_frames_only_are_left_as_they_are(recognizer: CrnnRecognizer) -> None:
    search = _search(_region(PROJECTION, 4), _region(FRAME, 5))
    assert thinned_projections(search, DERIVED, recognizer) == search


def test_a_frame_line_beside_the_projection_line_does_not_thin_it(recognizer: CrnnRecognizer) -> None:
    below = TextBox(31, 60, 121, 14)  # not across within the projection line
    short = TextBox(170, 35, 40, 14)  # along: 10 px shared, under half of the shorter
    for other in (below, short):
        search = _search(_region(PROJECTION, 0), _region(other, 4))
        assert thinned_projections(search, DERIVED, recognizer) == search


def test_a_frame_line_nearly_as_thick_as_the_projection_line_does_not_thin_it(recognizer: CrnnRecognizer) -> None:
    thick = TextBox(31, 22, 121, 26)  # 31 px is under THIN_RATIO (1.25) times 26 px: copies merge_lines joins
    search = _search(_region(PROJECTION, 0), _region(thick, 4))
    assert thinned_projections(search, DERIVED, recognizer) == search


def test_a_projection_line_whose_other_rows_read_as_text_is_left_as_it_is(recognizer: CrnnRecognizer) -> None:
    """Text in the projection line's rows above the frame copy: a second line the frame sampled did
    not show (or a tilted line's other glyphs) is not cut off."""
    search = _search(_region(PROJECTION, 0), _region(FRAME, 4), above="ACC 4417 JONES")
    assert thinned_projections(search, DERIVED, recognizer) == search
