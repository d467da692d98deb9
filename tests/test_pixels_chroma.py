"""Saturated text of a colour photograph's own brightness (issue 9, tune seed 10404's leak).

On tune seed 10404 (case015) a 10 px green vertical label over a green-blue VL photograph was
never proposed: in the colour image the detector sees it hardly differs from the skin around it.
A colour photograph is now searched in its chroma view too (``display.chroma_view``: how far each
pixel's channels spread), in crops around marks far more coloured than their surroundings
(``display.vivid_marks``) that are not small round spots (``near.CHROMA_SPOT``), and the view's proposals there that overlap no proposal of the
photograph itself are judged like any other (``near.with_chroma_view``).

The end-to-end test plants its own orange label with Pillow on pydicom-data's photograph of a face
and measures against what it planted.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont
from pixel_fixtures import ConfirmAll, stored_frames
from pydicom.uid import generate_uid
from test_pixels_hard_cases import face_photo, image_dataset, label_area

from dicom_deid.pixels import PixelMode, PixelPolicy, PixelStage
from dicom_deid.pixels.detect import find_text
from dicom_deid.pixels.display import FLOW_CHROMA, chroma_view, vivid_marks
from dicom_deid.pixels.ocr import TextBox

VL_PHOTO = "1.2.840.10008.5.1.4.1.1.77.1.4"
MONO = "/usr/share/fonts/truetype/liberation/LiberationMono-Regular.ttf"
ORANGE = (255.0, 140.0, 0.0)


def _alpha_text(shape: tuple[int, int], text: str, at: tuple[int, int], size: int) -> np.ndarray:
    """Anti-aliased coverage (0..1) of ``text`` drawn at ``at`` (x, y)."""
    face = ImageFont.truetype(MONO, size)
    left, top, right, bottom = ImageDraw.Draw(Image.new("L", (1, 1))).textbbox((0, 0), text, font=face)
    layer = Image.new("L", (right - left + 2, bottom - top + 2), 0)
    ImageDraw.Draw(layer).text((1 - left, 1 - top), text, fill=255, font=face)
    alpha = np.asarray(layer, np.float64) / 255.0
    out = np.zeros(shape)
    x, y = at
    out[y : y + alpha.shape[0], x : x + alpha.shape[1]] = alpha
    return out


def test_orange_label_on_skin_is_found_in_the_chroma_view() -> None:
    """A 10 px orange label on the cheek of a face photograph (its brightness close to the skin's):
    without the chroma view it was never proposed and stayed whole; it is blacked out now, and
    nothing more than 12 px from it changes."""
    base = stored_frames(face_photo())[0].astype(np.float64)
    alpha = _alpha_text(base.shape[:2], "HALVORSEN AMARA", (350, 120), 10)
    pixels = (base * (1 - alpha[..., None]) + np.array(ORANGE) * alpha[..., None]).round().astype(np.uint8)
    mask = alpha > 0.45
    ds = image_dataset(pixels, modality="XC", sop_class=VL_PHOTO, series=(generate_uid(), generate_uid()),
                       image_type=("ORIGINAL", "PRIMARY"))
    outcome = PixelStage(PixelPolicy(PixelMode.ALL)).process(ds, target := copy.deepcopy(ds))
    before, after = stored_frames(ds)[0], stored_frames(target)[0]
    changed = (before != after).any(axis=-1)
    assert outcome.redacted
    assert (~changed & mask).sum() <= 0.02 * mask.sum()
    assert (changed & ~label_area(mask, 12)).sum() == 0


def _photo(share: float, marks: bool = False, spot: bool = False) -> np.ndarray:
    """A 100 x 100 RGB image whose first ``share`` of rows are skin-coloured, the rest grey; with
    ``marks``, a row of pure green strokes (8 px high) at x 20-70, y 72-80; with ``spot``, a round
    green spot (a 12 px disc) at x 14-26, y 70-82."""
    image = np.full((100, 100, 3), 128, np.uint8)
    image[: round(100 * share)] = (200, 140, 90)
    if marks:
        image[72:80, 20:70:4] = (0, 255, 0)
    if spot:
        yy, xx = np.mgrid[:100, :100]
        image[(yy - 76) ** 2 + (xx - 20) ** 2 <= 36] = (0, 255, 0)
    return image


def test_chroma_view_is_made_only_for_colour_photographs() -> None:
    """A grey image, a grey image under a colour overlay (half or less of it coloured) and a grey
    RGB image get no view; a photograph (most pixels coloured) gets each pixel's channel spread,
    and its vivid marks are the strokes far more coloured than the skin around them."""
    assert chroma_view(np.full((50, 60), 100, np.uint8)) is None
    assert chroma_view(_photo(0.5)) is None
    assert chroma_view(_photo(0.0)) is None
    view = chroma_view(_photo(0.9, marks=True))
    assert view is not None and view.shape == (100, 100)
    assert int(view[0, 0]) == 200 - 90 >= FLOW_CHROMA and int(view[95, 95]) == 0
    marks = vivid_marks(view)
    expected = np.zeros((100, 100), bool)
    expected[72:80, 20:70:4] = True
    assert np.array_equal(marks, expected)


class _ByView:
    """A stand-in detector: ``grey`` boxes on the chroma view (2-D), ``colour`` on the photograph."""

    def __init__(self, colour: Sequence[TextBox], grey: Sequence[TextBox]) -> None:
        self.colour, self.grey = list(colour), list(grey)
        self.views = 0

    def detect(self, image: np.ndarray) -> list[TextBox]:
        self.views += image.ndim == 2
        return list(self.grey if image.ndim == 2 else self.colour)


@pytest.mark.parametrize(("share", "marks", "spot"),
                         [(0.9, True, False), (0.3, True, False), (0.9, False, False), (0.9, False, True)],
                         ids=["photograph", "grey-with-overlay", "photograph-without-vivid-marks",
                              "photograph-with-a-vivid-spot"])
def test_chroma_proposals_add_only_what_the_photograph_does_not_show(share: float, marks: bool, spot: bool) -> None:
    """On a photograph with a line of vivid marks the view's box over them is judged, and its box
    over a line the colour image already boxed is not (it would widen that line's region); an image
    that is not a photograph, or a photograph whose only vivid marks are a round spot (or none), is
    not searched in the view at all."""
    known = TextBox(10, 10, 60, 12, 0.9)
    wider = TextBox(8, 8, 64, 40, 0.9)
    elsewhere = TextBox(18, 70, 54, 12, 0.9)
    detector = _ByView([known], [wider, elsewhere])
    search = find_text([_photo(share, marks, spot)], detector, ConfirmAll())
    found = share > 0.5 and marks
    boxes = sorted((j.box.x, j.box.y, j.box.width, j.box.height) for j in search.judged)
    regions = [(known.x, known.y, known.width, known.height)]
    if found:
        regions.append((elsewhere.x, elsewhere.y, elsewhere.width, elsewhere.height))
    assert len(search.judged) == len(regions)
    for (x, y, w, h), (rx, ry, rw, rh) in zip(boxes, sorted(regions), strict=True):
        assert x >= rx - 6 and y >= ry - 6 and x + w <= rx + rw + 6 and y + h <= ry + rh + 6
    assert detector.views == (1 if found else 0)
    assert len(search.images) == (2 if found else 1)
