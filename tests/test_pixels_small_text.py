"""Small text the detector's whole-image passes miss is searched again on an enlarged crop (issue 9).

On tune seed 10104 an 8 px dark label over a bright, saturated organ of a CT perfusion slice was
never proposed (peak text probability 0.000 in its box on the whole image enlarged 2x) and stayed
readable in the output; on a crop of it enlarged 4x the same network scores 1.000.  The detector
now looks for rows of glyph-sized marks (``glyphs.glyph_rows``) that no pass boxed and searches
each on such a crop (``DbnetDetector._detect_small``).  These tests plant their own text with
Pillow and run the real network.
"""

from __future__ import annotations

import numpy as np
from test_pixels_miss_classes import text_mask

from dicom_deid.pixels.glyphs import glyph_rows
from dicom_deid.pixels.ocr import PROJECTION_ROWS, SCREEN_PASS, SMALL_ROWS, DbnetDetector
from tests.pixel_fixtures import ink_covered

BOLD = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
LABEL = "VILLANUEVA A"


def _bright_organ(seed: int = 3) -> np.ndarray:
    """A 256 x 256 bright field with grain: an organ shown saturated by a narrow window."""
    rng = np.random.default_rng(seed)
    return np.clip(235 + rng.normal(0, 5, (256, 256)), 0, 255).astype(np.uint8)


def _labelled(size: int, at: tuple[int, int] = (60, 120)) -> tuple[np.ndarray, np.ndarray]:
    image = _bright_organ()
    mask = text_mask(image.shape, LABEL, at, size, BOLD)
    image[mask] = 70
    return image, mask


def test_glyph_rows_lie_on_a_small_label_and_not_on_grain() -> None:
    image, mask = _labelled(8)
    ys, xs = np.nonzero(mask)
    rows = glyph_rows(image)
    on_label = [r for r in rows if r.x <= xs.min() + 4 and r.x + r.width >= xs.max() - 4
                and r.y <= ys.max() and ys.min() <= r.y + r.height]
    assert on_label and not on_label[0].vertical and on_label[0].glyphs >= 5
    assert glyph_rows(_bright_organ()) == []  # grain alone is no row of glyphs


def test_glyph_rows_read_down_a_vertical_label() -> None:
    image = _bright_organ()
    mask = text_mask(image.shape, LABEL, (120, 40), 8, BOLD, turn=1)
    image[mask] = 70
    ys, xs = np.nonzero(mask)
    rows = [r for r in glyph_rows(image) if r.vertical and r.x <= xs.max() and xs.min() <= r.x + r.width]
    assert rows and rows[0].y <= ys.min() + 4 and rows[0].y + rows[0].height >= ys.max() - 4


def test_a_row_no_pass_boxed_is_searched_on_an_enlarged_crop() -> None:
    """With no whole-image pass at all, the small-text step alone boxes the label's ink; with the
    step switched off nothing is found."""
    image, mask = _labelled(8)
    found = DbnetDetector(passes=(), small_rows=12).detect(image)
    assert ink_covered(found, mask) >= 0.9
    assert DbnetDetector(passes=(), small_rows=0).detect(image) == []


def test_flow_views_are_not_searched_for_small_rows() -> None:
    """The variant for colour-flow views (``without_enhance``) leaves small rows to the colour image
    the view was made from."""
    image, _mask = _labelled(8)
    assert DbnetDetector(passes=(), small_rows=12).without_enhance().detect(image) == []


class _Counting:
    """The detector's real network session, counting its runs."""

    def __init__(self, session: object) -> None:
        self.session, self.runs = session, 0

    def run(self, blob: np.ndarray) -> np.ndarray:
        self.runs += 1
        return self.session.run(blob)  # type: ignore[attr-defined,no-any-return]


def test_a_row_a_pass_boxed_is_not_searched_again() -> None:
    """A 12 px label the screen pass boxes costs no further network run: the small-text step
    searches only rows the passes left uncovered."""
    image, mask = _labelled(12)
    detector = DbnetDetector(passes=(SCREEN_PASS,), small_rows=12)
    counting = _Counting(detector._network)
    detector._network = counting  # type: ignore[assignment]
    found = detector.detect(image)
    assert ink_covered(found, mask) >= 0.9
    assert counting.runs == 1


def _runs(detector: DbnetDetector, image: np.ndarray) -> int:
    counting = _Counting(detector._network)
    detector._network = counting  # type: ignore[assignment]
    detector.detect(image)
    return counting.runs


def test_projections_search_only_their_highest_ranked_rows() -> None:
    """Projections of a run mix every frame's anatomy into rows of marks: the variant used for them
    (``without_edge_pad``) searches only its ``PROJECTION_ROWS`` highest-ranked rows, none of the
    faint or clear-ground rows beyond (``test_pixels_projection_rows``: why it searches any)."""
    image = _striated()
    assert len(glyph_rows(image)) > SMALL_ROWS  # the premise: more rows than any budget
    plain = DbnetDetector(passes=()).without_edge_pad()
    assert 1 <= _runs(plain, image) <= PROJECTION_ROWS
    assert _runs(DbnetDetector(passes=()), image) >= SMALL_ROWS  # a frame searches its whole budget


def _striated(seed: int = 8) -> np.ndarray:
    """A dark 256 x 256 field crossed by faint vertical striations (muscle fibres on MR): each a
    column of short dashes 25 grey levels above the field: rows of many faint glyph-sized marks."""
    rng = np.random.default_rng(seed)
    image = np.clip(30 + rng.normal(0, 2, (256, 256)), 0, 255).astype(np.uint8)
    for x in range(4, 200, 12):
        y = int(rng.integers(0, 8))
        while y < 250:
            length = int(rng.integers(3, 7))
            image[y : y + length, x : x + 4] += 25
            y += length + int(rng.integers(2, 4))
    return image


def test_a_label_is_searched_before_faint_striations() -> None:
    """Rows are searched in order of contrast times glyphs: a bright vertical label comes before
    the striations' rows, though more than ``SMALL_ROWS`` of them hold more marks."""
    image = _striated()
    mask = text_mask(image.shape, "DUBOIS", (230, 60), 8, BOLD, turn=1)
    image[mask] = 235
    _ys, xs = np.nonzero(mask)
    rows = glyph_rows(image)
    label = [r for r in rows if r.x <= xs.max() and xs.min() <= r.x + r.width]
    assert label and label[0].vertical
    assert sum(r.glyphs > label[0].glyphs for r in rows) > SMALL_ROWS  # the premise: many busier rows
    assert rows[0] == label[0]


def test_percentiles_from_the_histogram_are_numpys() -> None:
    from dicom_deid.pixels.glyphs import _percentiles

    rng = np.random.default_rng(21)
    for values in (rng.integers(0, 256, (37, 53)), rng.integers(0, 9, (4, 5)), np.full((3, 3), 7),
                   (rng.random((200, 300)) ** 4 * 255)):
        values = values.astype(np.uint8)
        for shares in ((50.0, 99.0), (0.0, 100.0), (12.5, 87.5)):
            assert np.allclose(_percentiles(values, shares), np.percentile(values, shares), rtol=0, atol=1e-9)


def test_percentiles_of_an_image_over_2_to_the_24_pixels_are_numpys() -> None:
    """Past 2**24 pixels a float32 histogram bin may round; those images are counted exactly."""
    from dicom_deid.pixels.glyphs import _percentiles

    values = np.zeros((4097, 4097), np.uint8)  # one bin holds more than 2**24 values
    values[:3, :5] = 200
    values[-1, -7:] = 255
    last = values.size - 1  # the order statistic between the zeros and the first 200: 100
    for shares in ((50.0, 99.0), (0.0, 100.0), (99.99999, 100.0), ((last - 22 + 0.5) / last * 100.0,)):
        assert np.allclose(_percentiles(values, shares), np.percentile(values, shares), rtol=0, atol=1e-9)
