"""Glyph rows that no network pass boxes are read by the recognizer (issue 9, tune seed 10831 case022).

On tune seed 10831 (case022) a faint 14 px dot-font name over MR anatomy was left readable: the
detection network gave probability 0.000 over it in every view tried, while the recognition network
read the crop as "MEEKT,EUFNN", and its glyph row held only the top 5 px of its glyphs.  The
detector now hands the rows its crops left unboxed to a ``rowread.RowReader``, which reads a box
several row thicknesses high around each, and proposes the text's own rows (its grey level) along
as far as that level runs, where the reading confirms it.

The images are pydicom-data's CT head (693_UNCR) as a viewer windows it, with a name drawn in
Pillow's bitmap font enlarged 2x (blocks, like a scanner's dot font) at one grey level 35 off the
tissue.  The network's map is replaced by zeros: the network sees nothing, as on 10831 case022.
"""

from __future__ import annotations

import copy

import numpy as np
import pydicom
import pytest
from PIL import Image, ImageDraw, ImageFont
from pixel_fixtures import image_dataset, stored_frames
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid
from test_pixels_hard_cases import label_area
from test_pixels_miss_classes import text_mask

from dicom_deid.pixels import PixelMode, PixelPolicy, PixelStage, stage
from dicom_deid.pixels.glyphs import GlyphRow, glyph_rows
from dicom_deid.pixels.ocr import DbnetDetector, ScanPass, TextBox
from dicom_deid.pixels.recognize import CrnnRecognizer
from dicom_deid.pixels.rowread import RowReader, clear_of
from tests.pixel_fixtures import ink_covered

MR_IMAGE = "1.2.840.10008.5.1.4.1.1.4"
NAME = "MBEKI, ELENA"
SANS = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


@pytest.fixture(scope="module")
def recognizer() -> CrnnRecognizer:
    return CrnnRecognizer()


def _head(name: str = "693_UNCR.dcm") -> np.ndarray:
    """A pydicom-data image (the CT head) windowed to its 1st-99.5th percentiles, 8-bit."""
    data = pydicom.dcmread(get_testdata_file(name)).pixel_array.astype(np.float32)
    low, high = np.percentile(data, (1.0, 99.5))
    return np.clip((data - low) / (high - low) * 255.0, 0, 255).astype(np.uint8)


def _dot_font(text: str) -> np.ndarray:
    """``text``'s glyphs in Pillow's bitmap font, each pixel a 2 x 2 block (as a dot font is drawn)."""
    face = ImageFont.load_default_imagefont()
    left, top, right, bottom = ImageDraw.Draw(Image.new("L", (1, 1))).textbbox((0, 0), text, font=face)
    layer = Image.new("L", (right - left + 2, bottom - top + 2), 0)
    ImageDraw.Draw(layer).text((1 - left, 1 - top), text, fill=255, font=face)
    glyphs = np.asarray(layer) > 110
    glyphs = glyphs[glyphs.any(axis=1)][:, glyphs.any(axis=0)]
    return np.kron(glyphs, np.ones((2, 2), bool))


def _faint_name(at: tuple[int, int] = (182, 308)) -> tuple[np.ndarray, np.ndarray]:
    """The head with ``NAME`` at ``at`` (x, y), 35 grey levels off the tissue under it; (image, glyph mask)."""
    image = _head()
    glyphs = _dot_font(NAME)
    mask = np.zeros(image.shape, bool)
    x, y = at
    mask[y : y + glyphs.shape[0], x : x + glyphs.shape[1]] = glyphs
    local = float(image[label_area(mask, 2)].mean())
    image[mask] = round(local - 35 if local > 128 else local + 35)
    return image, mask


def _blind(detector: DbnetDetector, monkeypatch: pytest.MonkeyPatch) -> DbnetDetector:
    """``detector`` whose network sees no text anywhere."""

    def nothing(prepared: np.ndarray, scan: ScanPass, *, pad: int | None = None) -> np.ndarray:
        return np.zeros((32, 32), np.float32)

    monkeypatch.setattr(detector, "network_map", nothing)
    return detector


def test_a_faint_name_no_pass_boxes_is_proposed_where_its_rows_read(
    recognizer: CrnnRecognizer, monkeypatch: pytest.MonkeyPatch
) -> None:
    image, mask = _faint_name()
    assert _blind(DbnetDetector(), monkeypatch).detect(image) == []  # the premise: no pass, no crop boxes it
    boxes = _blind(DbnetDetector(row_reader=RowReader(recognizer)), monkeypatch).detect(image)
    assert ink_covered(boxes, mask) >= 0.98
    assert all(label_area(mask, 8)[b.y : b.y1, b.x : b.x1].all() for b in boxes)  # and nothing else


def test_anatomy_whose_rows_read_as_nothing_is_not_proposed(
    recognizer: CrnnRecognizer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A textured MR (pydicom-data's shoulder, MR2_UNCR) without text: the rows of glyph-sized marks
    its muscle and fat make are read, and none is proposed."""
    image = _head("MR2_UNCR.dcm")
    assert len(glyph_rows(image)) > 100  # the rows are there, and the budget's are read
    assert _blind(DbnetDetector(row_reader=RowReader(recognizer)), monkeypatch).detect(image) == []


def test_a_row_along_the_tops_of_the_glyphs_proposes_the_whole_line(recognizer: CrnnRecognizer) -> None:
    """A 6 px row along the tops of the first four glyphs (as ``glyph_rows`` found on 10831 case022):
    the box proposed holds every glyph of the line, across and along, and is cut to the text's rows
    (not the 30 px box read around the row)."""
    image, mask = _faint_name()
    ys, xs = np.nonzero(mask)
    top, height = int(ys.min()), int(ys.max()) - int(ys.min()) + 1
    row = GlyphRow(int(xs.min()), top, 40, 6, False, 4, 35.0)
    boxes = RowReader(recognizer)(image, [row])
    assert len(boxes) == 1
    assert ink_covered(boxes, mask) >= 0.98
    assert boxes[0].height <= 1.5 * height  # the 30 px box read would be 1.9 times as high
    assert boxes[0].x1 <= int(xs.max()) + 1 + height  # along: no further than the text's level runs


def test_the_stage_blacks_out_a_name_the_network_does_not_see(
    recognizer: CrnnRecognizer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the whole stage (read again and judged like any proposal): every glyph pixel is changed,
    and nothing beyond the label's area."""
    image, mask = _faint_name()
    ds = image_dataset(image, modality="MR", sop_class=MR_IMAGE, series=(generate_uid(), generate_uid()), bits=8)
    detector = _blind(DbnetDetector(row_reader=RowReader(recognizer)), monkeypatch)
    outcome = PixelStage(PixelPolicy(PixelMode.ALL), detector=detector, recognizer=recognizer).process(
        ds, target := copy.deepcopy(ds))
    assert outcome.redacted
    after = stored_frames(target)[0, ..., 0]
    assert int(((after == image) & mask).sum()) == 0
    outside = ~label_area(mask, 8)
    assert np.array_equal(after[outside], image[outside])


def test_the_shared_detector_reads_rows_with_the_shared_recognizer() -> None:
    """The engine's detector (``stage._shared_detector``) has its row reader, and the variant that
    searches a run's projections has none (its rows mix every frame's anatomy)."""
    detector = stage._shared_detector(1)
    assert isinstance(detector.row_reader, RowReader)
    assert detector.row_reader.recognizer is stage._shared_recognizer(1)
    assert detector.without_edge_pad().row_reader is None


def test_a_row_under_a_label_already_proposed_does_not_read_that_label(recognizer: CrnnRecognizer) -> None:
    """A row of marks just under a label the detector proposed (tune seed 10840 case013: colour flow
    under a name on a small Doppler): the box read around it is cut short of the label's box, reads
    nothing, and nothing is proposed; read whole it held the label, confirmed, and was proposed over
    the label and the anatomy under it (8.9 % of that frame blacked out)."""
    image = _head()
    label = text_mask(image.shape, "ACC 20240105", (190, 280), 12, SANS)
    image[label] = 250
    ys, xs = np.nonzero(label)
    known = TextBox(int(xs.min()) - 2, int(ys.min()) - 2, int(xs.max() - xs.min()) + 5, int(ys.max() - ys.min()) + 5)
    row = GlyphRow(int(xs.min()) + 10, known.y1 + 2, 60, 6, False, 4, 30.0)  # anatomy under the label
    reader = RowReader(recognizer)
    assert reader(image, [row]) != []  # the premise: read whole, the box holds the label and confirms
    assert reader(image, [row], [known]) == []


def test_a_box_is_cut_across_short_of_known_boxes() -> None:
    box = TextBox(100, 40, 80, 30, 1.0, (120, 52, 40, 6))
    assert clear_of(box, [TextBox(90, 30, 60, 15)]) == TextBox(100, 45, 80, 25, 1.0, box.core)
    assert clear_of(box, [TextBox(150, 60, 60, 15)]) == TextBox(100, 40, 80, 20, 1.0, box.core)
    assert clear_of(box, [TextBox(140, 50, 10, 10)]) is None  # over the row itself
    assert clear_of(box, [TextBox(0, 0, 50, 200)]) == box  # beside it
