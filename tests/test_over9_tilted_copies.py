"""Over-redaction around a tilted line and its copies (issue 9; tune seed 10818 case013).

A 40 px date tilted by 15 degrees on a 256 x 120 Doppler frame was confirmed twice on the same
image: set level, blacked out in the band along it (``deskew.level_line``), and, in a second
detector box through its middle, as it lies, 26 px thick.  ``merge_lines`` never joined the two
(the band's box is 70 px high, more than ``LINE_RATIO`` times the level copy), so the level copy's
box blacked out the anatomy beside the band.  And the band itself reached half a glyph beyond
the strokes above and below: it was as high as the box the level line is read in, with its margin.
"""

from __future__ import annotations

import math

import numpy as np
from test_pixels_tilted import tilted_glyphs

from dicom_deid.pixels.confirm import MIN_PAD, PAD_SHARE, Judged, Verdict, pad_box
from dicom_deid.pixels.deskew import level_line
from dicom_deid.pixels.detect import TextSearch
from dicom_deid.pixels.fit import merge_lines
from dicom_deid.pixels.ocr import TextBox
from dicom_deid.pixels.redact import Strip

BOLD = "/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf"
MONO = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf"
ROWS, COLUMNS = 120, 256
AT = (30, 20)  # where the tilted date's ink box starts (x, y)


def _across(strip: Strip, mask: np.ndarray) -> np.ndarray:
    """Distance across the band's line (``Strip``'s terms) of each pixel of ``mask``."""
    turn = math.radians(strip.angle)
    ys, xs = np.nonzero(mask)
    return np.asarray(-math.sin(turn) * xs + math.cos(turn) * ys - strip.offset)


def _drawn(size: int, angle: float, text: str = "19781108", font: str = BOLD) -> tuple[np.ndarray, TextBox]:
    """A flat grey image with ``text`` drawn tilted by ``angle``, and the box around its ink."""
    glyph = tilted_glyphs(text, size, font, angle)
    h, w = glyph.shape
    image = np.full((h + 40, w + 40), 60, np.uint8)
    image[20 : 20 + h, 20 : 20 + w][glyph] = 230
    return image, TextBox(16, 16, w + 8, h + 8)


def test_band_of_a_tilted_date_is_as_high_as_its_strokes() -> None:
    """The band of a tilted date reaches at most a pixel beyond the half-height of its ink either
    way (before padding; it was 1.5 to 2.2 px more: the reading box's margin), and padded by the
    least padding a box gets (``MIN_PAD``) it holds every ink pixel."""
    for size, angle in ((40, 14.7), (28, -15.0), (32, 20.0)):
        image, box = _drawn(size, angle)
        level = level_line(image, box)
        assert level is not None
        across = _across(level.strip, image == 230)
        half_ink = (across.max() - across.min()) / 2.0
        assert level.strip.half <= half_ink + 1.0, (size, angle, level.strip.half, half_ink)
        assert np.all(np.abs(across) <= level.strip.half + MIN_PAD), (size, angle)


def _tilted_scene(crossing: str = "") -> tuple[np.ndarray, Judged, TextBox]:
    """An RGB frame with the 40 px date tilted by 15 degrees (and ``crossing`` drawn level across
    its middle), the date confirmed in its band as ``detect`` gives it, and a level box through
    its middle (26 px high, as the second detector box was)."""
    glyph = tilted_glyphs("19781108", 40, BOLD, 14.7)
    h, w = glyph.shape
    grey = np.full((ROWS, COLUMNS), 40, np.uint8)
    grey[AT[1] : AT[1] + h, AT[0] : AT[0] + w][glyph] = 230
    line = TextBox(AT[0] - 1, AT[1] - 1, w + 2, h + 2)
    found = level_line(np.repeat(grey[:, :, None], 3, axis=2),
                       TextBox(line.x - 4, line.y - 4, line.width + 8, line.height + 8))
    assert found is not None  # the band as the search found it before the crossing label was drawn
    if crossing:
        level = tilted_glyphs(crossing, 22, MONO, 0.0)
        lh, lw = level.shape
        y0 = AT[1] + h // 2 - lh // 2
        grey[y0 : y0 + lh, AT[0] : AT[0] + lw][level] = 230
    image = np.repeat(grey[:, :, None], 3, axis=2)
    glyphs = 30
    box = pad_box(line, glyphs, ROWS, COLUMNS, cut=(False, False))
    band = found.strip.grown(max(MIN_PAD, math.ceil(PAD_SHARE * glyphs)))
    banded = Judged(box, Verdict.CONFIRMED, 0, glyphs, line, band=(box, band))
    middle = TextBox(line.x + w // 10, line.y + h // 2 - 13, (8 * w) // 10, 26)
    return image, banded, middle


def _level(line: TextBox) -> Judged:
    return Judged(pad_box(line, line.height, ROWS, COLUMNS, cut=(False, False)), Verdict.CONFIRMED, 0, line.height, line)


def test_a_level_copy_held_by_the_band_joins_it() -> None:
    """The level copy of the tilted date goes: the date is blacked out in its band alone."""
    image, banded, middle = _tilted_scene()
    merged = merge_lines(TextSearch((banded, _level(middle)), (image,)))
    assert len(merged.judged) == 1
    assert merged.judged[0].strip() == banded.strip()


def test_a_level_line_across_the_band_is_kept() -> None:
    """A level label drawn across the tilted date, boxed in the same rows: its strokes lie mostly
    outside the band, so it is another line, and its box stays."""
    image, banded, middle = _tilted_scene(crossing="ACC 4417 JONES")
    box = banded.box
    crossing = TextBox(box.x + 2, middle.y, box.width - 4, middle.height)
    band = banded.strip()
    assert band is not None and band.mask(crossing.x + crossing.width // 2, crossing.y + crossing.height // 2, 1, 1)[0, 0]
    merged = merge_lines(TextSearch((banded, _level(crossing)), (image,)))
    assert len(merged.judged) == 2
