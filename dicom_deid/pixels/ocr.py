"""Text detection and reading on 8-bit display images.  Knows no DICOM.

Two kinds of engine live here:

* a *detector* finds where text may be (``TextDetector.detect`` → ``list[TextBox]``).  The
  default :class:`DbnetDetector` runs the DBNet text-detection network that the
  ``rapidocr-onnxruntime`` wheel ships (``ch_PP-OCRv4_det_infer.onnx``) through
  ``onnxruntime`` on the CPU.  Nothing is downloaded: the model file is located inside the
  installed wheel (``models.py``, which opens the sessions of both networks).  Its proposals are confirmed by the recognition network of the same wheel
  (``recognize.py``, ``confirm.py``) before anything is blacked out.
* a *reader* says what a region reads (``TextReader.read``).  :class:`TesseractReader`
  binds the Tesseract C API through ``tesserocr`` (one warm engine per process) and falls
  back to ``pytesseract`` (one ``tesseract`` process per call: measured 120 ms against 6 ms
per label on one core).

Tesseract is used for the keep-clinical-annotations policy and by ``verify``/benchmarks to look
for leaks; confirmation of detector proposals uses the recognition network (``recognize.py``).
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

import numpy as np

from dicom_deid.errors import OcrUnavailable
from dicom_deid.pixels.glyphs import FAINT_ROWS, GlyphRow, glyph_rows, grey_plane
from dicom_deid.pixels.labelling import components_with_stats
from dicom_deid.pixels.models import DETECTION, LazySession, find_model
from dicom_deid.pixels.order import percentiles
from dicom_deid.tesseract import find_tessdata, quiet_leptonica

if TYPE_CHECKING:
    import numpy.typing as npt

logger = logging.getLogger(__name__)
_T = TypeVar("_T")

#: Reads the glyph rows of an image that no pass boxed and proposes those that read as text
#: (``rowread.RowReader``): ``(image, rows, boxes already proposed) -> boxes``.
RowReading = Callable[["npt.NDArray[np.uint8]", Sequence[GlyphRow], Sequence["TextBox"]], list["TextBox"]]



@dataclass(frozen=True, slots=True)
class TextBox:
    """An axis-aligned text region in image pixel coordinates (x = column, y = row)."""

    x: int
    y: int
    width: int
    height: int
    score: float = 1.0
    core: tuple[int, int, int, int] | None = None  # detector kernel (x, y, w, h): surely text

    @property
    def x1(self) -> int:
        return self.x + self.width

    @property
    def y1(self) -> int:
        return self.y + self.height

    def shifted(self, dx: int, dy: int) -> TextBox:
        """The same box (and kernel) ``dx`` columns right and ``dy`` rows down: a box found in a
        part of an image (a tile, a strip, a crop) placed in the whole."""
        core = None if self.core is None else (self.core[0] + dx, self.core[1] + dy, *self.core[2:])
        return TextBox(self.x + dx, self.y + dy, self.width, self.height, self.score, core)

    def intersection(self, other: TextBox) -> TextBox | None:
        """The pixels both boxes hold (no score, no kernel), or None where they share none."""
        x0, y0 = max(self.x, other.x), max(self.y, other.y)
        x1, y1 = min(self.x1, other.x1), min(self.y1, other.y1)
        return TextBox(x0, y0, x1 - x0, y1 - y0) if x0 < x1 and y0 < y1 else None


class TextDetector(Protocol):
    """Finds text regions in an 8-bit image (H×W grey or H×W×3 RGB)."""

    def detect(self, image: npt.NDArray[np.uint8]) -> list[TextBox]: ...


class TextReader(Protocol):
    """Reads the text inside one region of an 8-bit image."""

    def read(self, image: npt.NDArray[np.uint8], box: TextBox | None = None) -> str: ...


def _import_cv2() -> Any:
    try:
        import cv2
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise OcrUnavailable(
            "OpenCV is missing: install 'dicom-deid[ocr]' (opencv-python-headless)"
        ) from exc
    return cv2


def find_dbnet_model() -> Path:
    """Path of the DBNet detection model inside the installed rapidocr-onnxruntime wheel.

    Raises :class:`OcrUnavailable` when the wheel is not installed.
    """
    return find_model(DETECTION, "detection")


def to_rgb8(image: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    if image.ndim == 2:
        return np.repeat(image[:, :, None], 3, axis=2)
    if image.ndim == 3 and image.shape[2] == 3:
        return image
    raise ValueError(f"expected H×W or H×W×3 image, got shape {image.shape}")


@dataclass(frozen=True, slots=True)
class ScanPass:
    """One network pass: resize so the shorter side is ``min_side`` (or by ``factor``),
    capped at ``max_side`` on the longer side, optionally on the image turned 90°.

    With ``tile``, an image too large for ``factor`` within ``max_side`` is not shrunk:
    it is cut into overlapping tiles searched at (at least) native resolution, so small
    text on large radiographs keeps its size.

    With ``band``, only the two strips of that share of the image along the edges that run
    across the pass's reading direction are searched, each on its own (the left and right
    strips of a turned pass: vertical labels along the sides), and only on images whose longer
    side exceeds ``larger_than`` (those the whole-image passes shrink).
    """

    min_side: int | None = 736
    factor: float | None = None
    max_side: int = 1280
    rotate90: bool = False
    tile: bool = False
    at_least_native: bool = False  # never shrink below the image's own size (up to max_side)
    band: float = 0.0
    larger_than: int = 0

    def size_for(self, height: int, width: int) -> tuple[int, int]:
        if self.factor is not None:
            ratio = self.factor
            if self.min_side is not None:  # small images: at least min_side on the short side
                ratio = max(ratio, self.min_side / min(height, width))
        else:
            assert self.min_side is not None
            ratio = self.min_side / min(height, width)
        if self.at_least_native:
            ratio = max(1.0, ratio)
        ratio = min(ratio, self.max_side / max(height, width), _MAX_UPSCALE)
        rh = max(32, round(height * ratio / 32) * 32)
        rw = max(32, round(width * ratio / 32) * 32)
        return rh, rw


_MAX_UPSCALE = 4.0

#: Default passes.  The first is the screen: the network on the image enlarged 2x (small
#: images to a 512 px short side, up to 4x; large ones cut into tiles searched at native
#: resolution or more), so that 7-10 px text is seen.  When its probability map holds nothing
#: text-like anywhere, the image has no text and the other passes are skipped.  Otherwise the
#: image is searched again at its own resolution (a second scale: lines the enlarged pass cuts
#: short, tilted lines) and turned 90° and enlarged 2x within 1280 px (vertical labels along
#: image edges: small, faint vertical lines are not seen at native size).  An image larger than
#: that (a radiograph) is shrunk by the turned pass, so the strips along its left and right edges,
#: where vertical labels stand, are searched turned once more, enlarged 1.5x.
SCREEN_PASS = ScanPass(min_side=512, factor=2.0, max_side=1600, tile=True)
EDGE_BAND_PASS = ScanPass(min_side=None, factor=1.5, max_side=4096, rotate90=True, band=0.1, larger_than=1280)
DEFAULT_PASSES = (
    SCREEN_PASS,
    ScanPass(min_side=512, max_side=1280, at_least_native=True),
    ScanPass(min_side=512, factor=2.0, max_side=1280, at_least_native=True, rotate90=True),
    EDGE_BAND_PASS,
)
#: Small text the passes missed: rows of glyph-sized marks (``glyphs.glyph_rows``) that no pass
#: boxed are searched again on a crop (``SMALL_ALONG`` row heights of the image on either end,
#: ``SMALL_ACROSS`` above and below, at least ``SMALL_MARGIN`` px: the network needs the context)
#: enlarged so that the row is about ``SMALL_LINE`` px across (2x to 4x), turned for rows that read
#: down the image; at most ``SMALL_ROWS`` rows per image, highest ``GlyphRow.rank`` first (and
#: ``CLEAR_ROWS`` more on clear ground), and the faint rows ``glyphs.glyph_rows`` adds (``FAINT_ROWS``;
#: stretched, ``faint_crop``, as rows of low contrast on clear ground may be: ``STRETCH_BELOW``).  A 6 px
#: dark label on a bright organ scored 0.000 on the whole image enlarged 2x and 1.000 on such a crop.
SMALL_PASS = ScanPass(min_side=None, factor=4.0, max_side=4096)
SMALL_TURNED = ScanPass(min_side=None, factor=4.0, max_side=4096, rotate90=True)
SMALL_ROWS = 8
#: Beyond ``SMALL_ROWS``, up to this many more rows that stand on clear ground (``GlyphRow.clear``):
#: a textured image makes hundreds of rows as strong as a grey label on its dark corner.
CLEAR_ROWS = 2
#: After them, up to this many tilted rows (``glyphs.TILT_RANGE``) that no box covers, highest rank
#: first: a small line drawn at an angle makes no level row.
TILTED_ROWS = 2
#: Projections of a multi-frame run (``without_edge_pad``) search only their ``PROJECTION_ROWS``
#: highest-ranked uncovered rows, and no faint or clear-ground rows beyond them: the frames searched
#: beside them show most small text, but not a label on a few frames that no sampled frame is one of
#: (an 8 px date on frames 1-5 of a 24-frame XA run, along its bottom edge, tune seed 10814 case024:
#: the max projection showed it as its second row, and nothing searched it).
PROJECTION_ROWS = 2
#: Rows on clear ground (``GlyphRow.clear``) of lower contrast (grey levels) are searched, like faint
#: rows, on a crop stretched to their own grey levels (``faint_crop``), not on the equalised image: a
#: grey 10 px line tilted over the black above a CT head (contrast 21, tune seed 10701 case019) and a
#: 7 px grey name on a black corner (contrast 29, 10702 case004) scored 0.00 on the equalised crop
#: and 1.00 stretched.  The stretched crop comes second, where the equalised one boxed nothing in
#: the row: where the ground under a label goes from black to bright tissue, the row's own levels
#: span the whole range and the stretch shows less than the equalisation.
STRETCH_BELOW = 32.0
#: Rows are enlarged so that they are about this many pixels across (2x to 4x).
SMALL_LINE = 32
SMALL_ALONG = 4.0
SMALL_ACROSS = 2.0
SMALL_MARGIN = 8
#: A row counts as boxed by a pass when boxes of its direction, at most ``SMALL_FIT`` times as
#: thick, cover this share of it.
SMALL_COVERED = 0.5
SMALL_FIT = 3.0
#: Peak text probability below which the screen pass calls an image free of text.
SCREEN_PEAK = 0.3
#: Network pixels of background added on every side of each pass's input (and cut from its
#: probability map): a line touching the image's edge is otherwise missed whole or in part
#: (the network sees no background beyond its glyphs).  A multiple of 16 keeps the input a
#: multiple of 32.
EDGE_PAD = 16
_TILE_OVERLAP = 96


#: Keys under which a detector keeps its variants (``DbnetDetector._variant``).
_VARIANTS = ("_plain", "_flat")


class DbnetDetector:
    """DBNet (PP-OCRv4 det) through onnxruntime; the session is created on first use.

    Each :class:`ScanPass` feeds the network one resized (and maybe rotated) copy of the
    image, its local contrast equalised (``enhance``) and framed by ``edge_pad`` network pixels of
    its own background (``pad_with_background``); the probability map (frame cut off) is
    thresholded, connected components are scored, grown by the DB "unclip" distance and returned
    as boxes in the input image's coordinates.
    """

    def __init__(
        self,
        *,
        threads: int = 1,
        passes: Sequence[ScanPass] = DEFAULT_PASSES,
        threshold: float = 0.25,
        box_threshold: float = 0.4,
        unclip_ratio: float = 1.5,
        end_growth: float = 0.3,
        screen_peak: float | None = SCREEN_PEAK,
        small_rows: int = SMALL_ROWS,
        small_beyond: bool = True,
        enhance: bool = True,
        edge_pad: int = EDGE_PAD,
        model_path: Path | None = None,
        row_reader: RowReading | None = None,
    ) -> None:
        if edge_pad < 0 or edge_pad % 16:
            raise ValueError("edge_pad must be a non-negative multiple of 16")
        self.threads = threads
        self.edge_pad = edge_pad
        self.enhance = enhance
        self.passes = tuple(passes)
        self.screen_peak = screen_peak
        self.small_rows = small_rows
        self.small_beyond = small_beyond  # faint rows and clear-ground rows beyond ``small_rows``
        self.end_growth = end_growth
        self.threshold = threshold
        self.box_threshold = box_threshold
        self.unclip_ratio = unclip_ratio
        self.row_reader = row_reader  # rows of the image's own search (``_detect_small``) no crop boxed
        self._network = LazySession(DETECTION, "detection", threads=threads, model_path=model_path)
        self._recent = ImageMemo[tuple[TextBox, ...]](_MEMO_IMAGES)
        self._prepared: ImageMemo[npt.NDArray[np.uint8]] = ImageMemo(_MEMO_PREPARED)

    def without_edge_pad(self) -> DbnetDetector:
        """The same network and passes without the frame of background (one per detector, with
        its own memory of images searched).  Multi-frame search images use it: framed, the
        projections of a run showed text-like edges and regions spread over frames without text.
        It searches rows of small glyphs (``SMALL_PASS``) only in its ``PROJECTION_ROWS`` highest
        ranked rows: projections mix the frames' anatomy into such rows, and the frames searched
        beside them show most small text itself (each crop around a row is framed, as always)."""
        return self._variant("_plain", edge_pad=0, small_rows=PROJECTION_ROWS, small_beyond=False, read_rows=False)

    def without_enhance(self) -> DbnetDetector:
        """The same network and passes without local contrast equalisation (one per detector, with
        its own memory of images searched), for views already made for the detector
        (``display.achromatic_view``): equalised, the speckle around white text over a colour-flow
        area rose to the text's level and the network saw none of it.  Small glyph rows
        (``SMALL_PASS``) are searched in the colour image itself, not again in its view."""
        return self._variant("_flat", enhance=False, small_rows=0)

    def _variant(
        self, key: str, *, edge_pad: int | None = None, enhance: bool | None = None, small_rows: int | None = None,
        small_beyond: bool | None = None, read_rows: bool = True,
    ) -> DbnetDetector:
        """This detector with other settings, made once and kept under ``key``: the same network,
        its own memory of images searched, none of this detector's own variants."""
        variant = self.__dict__.get(key)
        if variant is None:
            variant = copy.copy(self)
            for other in _VARIANTS:
                variant.__dict__.pop(other, None)
            if edge_pad is not None:
                variant.edge_pad = edge_pad
            if enhance is not None:
                variant.enhance = enhance
            if small_rows is not None:
                variant.small_rows = small_rows
            if small_beyond is not None:
                variant.small_beyond = small_beyond
            if not read_rows:
                variant.row_reader = None
            variant._recent = ImageMemo[tuple[TextBox, ...]](_MEMO_IMAGES)
            variant._prepared = ImageMemo(_MEMO_PREPARED)
            self.__dict__[key] = variant
        return variant

    def prepare(self, image: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
        """The image as the network sees it before resizing: local contrast equalised
        (``enhance``); a grey image (or a colour image whose channels are equal) stays grey: one
        plane equalised, not three copies."""
        if image.ndim == 3 and image.shape[2] == 1:
            image = image[:, :, 0]
        if image.ndim != 2:
            image = to_rgb8(image)
            if np.array_equal(image[:, :, 0], image[:, :, 1]) and np.array_equal(image[:, :, 0], image[:, :, 2]):
                image = image[:, :, 0]  # grey stored as colour (many ultrasound screens)
        return enhance_contrast(image) if self.enhance else np.ascontiguousarray(image)

    def probability_map(
        self, image: npt.NDArray[np.uint8], scan: ScanPass = DEFAULT_PASSES[0]
    ) -> npt.NDArray[np.float32]:
        """Text probability at network resolution for one pass (rotated if the pass is)."""
        return self.network_map(self.prepare(image), scan)

    def network_map(
        self, prepared: npt.NDArray[np.uint8], scan: ScanPass, *, pad: int | None = None
    ) -> npt.NDArray[np.float32]:
        """Text probability of one pass over an image already through :meth:`prepare`, framed by
        ``pad`` pixels of background (default: this detector's ``edge_pad``)."""
        cv2 = _import_cv2()
        if scan.rotate90:  # clockwise: np.rot90(prepared, k=-1), by OpenCV (a ninth of the time)
            prepared = np.asarray(cv2.rotate(np.ascontiguousarray(prepared), cv2.ROTATE_90_CLOCKWISE), dtype=np.uint8)
        rh, rw = scan.size_for(prepared.shape[0], prepared.shape[1])
        resized = cv2.resize(prepared, (rw, rh), interpolation=cv2.INTER_LINEAR)
        pad = self.edge_pad if pad is None else pad
        if pad:
            resized = pad_with_background(resized, pad)
        if resized.ndim == 2:  # grey: the network's three input channels are the same plane
            blob = np.empty((1, 3, *resized.shape), dtype=np.float32)
            plane = blob[0, 0]  # scaled in place (the same float32 operations), then copied twice
            np.divide(resized, np.float32(127.5), out=plane, dtype=np.float32)
            plane -= np.float32(1.0)
            blob[0, 1:] = plane
        else:  # channels first, scaled in place (the same float32 operations)
            blob = np.moveaxis(resized, -1, 0)[None].astype(np.float32, order="C")
            blob /= 127.5
            blob -= 1.0
        out = self._network.run(blob)
        return np.asarray(out[0, 0, pad : pad + rh, pad : pad + rw], dtype=np.float32)

    def detect(self, image: npt.NDArray[np.uint8]) -> list[TextBox]:
        """Boxes of every pass; nothing beyond the first pass when it sees no text at all.

        An image searched a moment ago (a multi-frame projection equal to its frames, a static
        frame sampled twice) is not searched again: its boxes are remembered by content."""
        key = image_key(image)
        known = self._recent.get(key)
        if known is not None:
            return list(known)
        boxes = self._search(image)
        self._recent.put(key, tuple(boxes))
        return boxes

    def _search(self, image: npt.NDArray[np.uint8]) -> list[TextBox]:
        boxes: list[TextBox] = []
        prepared: npt.NDArray[np.uint8] | None = None  # shared by the passes over the whole image
        done: set[tuple[bool, int, int]] = set()  # (turned, rows, columns) of the whole-image passes run
        height, width = image.shape[:2]
        for index, scan in enumerate(self.passes):
            too_large = scan.factor is not None and max(height, width) * scan.factor > scan.max_side
            if scan.band:
                if max(height, width) <= scan.larger_than:
                    continue
                if prepared is None:
                    prepared = self.prepare(image)
                found, peak = self._detect_bands(prepared, scan)
            elif scan.tile and too_large:
                found, peak = self._detect_tiles(image, scan)
            else:
                size = scan.size_for(width, height) if scan.rotate90 else scan.size_for(height, width)
                if (scan.rotate90, *size) in done:
                    continue  # the same network input as a pass already run (small images)
                done.add((scan.rotate90, *size))
                if prepared is None:
                    prepared = self.prepare(image)
                found, peak = self._detect_prepared(prepared, image.shape[:2], scan)
            boxes.extend(found)
            if index == 0 and self.screen_peak is not None and peak < self.screen_peak:
                break  # the screen saw nothing text-like anywhere
        if self.small_rows:
            if prepared is None:
                prepared = self.prepare(image)
            boxes += self._detect_small(image, prepared, boxes)
        return boxes

    def _detect_small(
        self, image: npt.NDArray[np.uint8], prepared: npt.NDArray[np.uint8], boxes: Sequence[TextBox]
    ) -> list[TextBox]:
        """Boxes found on 4x crops around the rows of glyph-sized marks of ``image`` that
        ``boxes`` leave uncovered (see ``SMALL_PASS``); only boxes that reach into their row.  After
        the budget's rows and the faint rows, up to ``CLEAR_ROWS`` more on clear ground, clearest first."""
        seen = list(boxes)
        found: list[TextBox] = []
        searched = 0
        clear: list[GlyphRow] = []  # rows beyond the budget on clear ground
        unboxed: list[GlyphRow] = []  # rows searched whose crops boxed nothing there
        tilted: list[GlyphRow] = []  # tilted rows (``TILTED_ROWS``), found with the level ones
        rows = glyph_rows(image, faint_rows=FAINT_ROWS, tilted=tilted) if self.small_beyond else glyph_rows(image, faint_rows=0)
        for row in rows:
            if searched >= self.small_rows and not row.faint:
                if not self.small_beyond:
                    break
                if row.clear:
                    clear.append(row)
                continue
            if _row_covered(row, seen) >= SMALL_COVERED:
                continue
            searched += not row.faint
            boxed = self._row_boxes(image, prepared, row)
            found += boxed
            unboxed += [] if boxed else [row]
            # its twin (top-hat / black-hat) is not searched again
            seen.append(TextBox(row.x, row.y, row.width, row.height))
        cleared = 0
        for row in sorted(clear, key=lambda r: r.ground_share):
            if cleared >= CLEAR_ROWS:
                break
            if _row_covered(row, seen) >= SMALL_COVERED:
                continue
            cleared += 1
            boxed = self._row_boxes(image, prepared, row)
            found += boxed
            unboxed += [] if boxed else [row]
            seen.append(TextBox(row.x, row.y, row.width, row.height))
        leaning = 0
        for row in tilted:
            if leaning >= TILTED_ROWS:
                break
            if _row_covered(row, seen) >= SMALL_COVERED:
                continue
            leaning += 1
            found += self._row_boxes(image, prepared, row)
            seen.append(TextBox(row.x, row.y, row.width, row.height))
        if self.row_reader is not None and unboxed:
            # what no network pass saw may still read as text (``rowread``): rows that no box of any
            # pass or crop covers are read
            boxes = [*boxes, *found]
            found += self.row_reader(image, [r for r in unboxed if _row_covered(r, boxes) < SMALL_COVERED], boxes)
        return found

    def _row_boxes(self, image: npt.NDArray[np.uint8], prepared: npt.NDArray[np.uint8], row: GlyphRow) -> list[TextBox]:
        """Boxes that reach into ``row``, found on a crop around it (see ``SMALL_PASS``): the equalised
        ``prepared`` image, or for a faint row the stretched ``faint_crop``; for a row of low contrast
        on clear ground (``STRETCH_BELOW``), the stretched crop too where the equalised one boxed nothing."""
        height, width = image.shape[:2]
        across = row.thick or min(row.width, row.height)
        along = max(SMALL_MARGIN, round((FAINT_ALONG if row.faint else SMALL_ALONG) * across))
        side = max(SMALL_MARGIN, round(SMALL_ACROSS * across))
        mx, my = (side, along) if row.vertical else (along, side)
        x0, y0 = max(0, row.x - mx), max(0, row.y - my)
        x1, y1 = min(width, row.x + row.width + mx), min(height, row.y + row.height + my)
        factor = min(SMALL_PASS.factor or 1.0, max(2.0, SMALL_LINE / across))
        scan = dataclasses.replace(SMALL_TURNED if row.vertical else SMALL_PASS, factor=factor)
        area = TextBox(row.x, row.y, row.width, row.height)
        if row.faint:
            crops: tuple[bool, ...] = (True,)
        elif row.clear and row.contrast < STRETCH_BELOW:
            crops = (False, True)
        else:
            crops = (False,)
        for stretched in crops:
            if stretched:
                crop = faint_crop(grey_plane(image), row, x0, y0, x1, y1)
            else:
                crop = np.ascontiguousarray(prepared[y0:y1, x0:x1])
            # framed whatever this detector's ``edge_pad``: a row along the image's edge has no
            # ground beyond it (unframed, the 8 px date of PROJECTION_ROWS was boxed 13 px of 66)
            found = self._detect_prepared(crop, crop.shape[:2], scan, pad=EDGE_PAD)[0]
            boxes = [b.shifted(x0, y0) for b in found]
            reach = [b for b in boxes if b.x < area.x1 and area.x < b.x1 and b.y < area.y1 and area.y < b.y1]
            if reach:
                return reach  # the equalised crop showed it: no stretched crop
        return []

    def peak(self, image: npt.NDArray[np.uint8]) -> float:
        """Highest text probability of the screen pass (0..1)."""
        return float(self.probability_map(image, self.passes[0]).max())

    def _detect_tiles(
        self, image: npt.NDArray[np.uint8], scan: ScanPass
    ) -> tuple[list[TextBox], float]:
        assert scan.factor is not None
        height, width = image.shape[:2]
        ratio = max(1.0, min(scan.factor, scan.max_side / max(height, width)))
        largest = int(scan.max_side / ratio)  # largest tile side in image pixels
        tile_pass = ScanPass(
            min_side=None, factor=ratio, max_side=scan.max_side, rotate90=scan.rotate90
        )
        boxes: list[TextBox] = []
        peak = 0.0
        rows, cols = _tiles(height, largest), _tiles(width, largest)
        for y0, th in rows:
            for x0, tw in cols:
                tile = image[y0 : y0 + th, x0 : x0 + tw]
                found, tile_peak = self.detect_pass(tile, tile_pass)
                peak = max(peak, tile_peak)
                boxes += [b.shifted(x0, y0) for b in found]
        return boxes, peak

    def _detect_bands(
        self, prepared: npt.NDArray[np.uint8], scan: ScanPass
    ) -> tuple[list[TextBox], float]:
        """Boxes of ``scan`` over the two edge strips of ``prepared`` (see :class:`ScanPass`)."""
        height, width = prepared.shape[:2]
        across = width if scan.rotate90 else height  # strips are columns of a turned pass
        size = min(across, max(32, round(scan.band * across)))
        whole = ScanPass(min_side=None, factor=scan.factor, max_side=scan.max_side, rotate90=scan.rotate90)
        boxes: list[TextBox] = []
        peak = 0.0
        for start in sorted({0, across - size}):
            strip = prepared[:, start : start + size] if scan.rotate90 else prepared[start : start + size]
            found, strip_peak = self._detect_prepared(np.ascontiguousarray(strip), strip.shape[:2], whole)
            peak = max(peak, strip_peak)
            dx, dy = (start, 0) if scan.rotate90 else (0, start)
            boxes += [b.shifted(dx, dy) for b in found]
        return boxes, peak

    def detect_pass(
        self, image: npt.NDArray[np.uint8], scan: ScanPass
    ) -> tuple[list[TextBox], float]:
        """Boxes of one pass and the pass's peak text probability.

        Passes run one by one over one image (a crop searched by each pass in turn:
        ``detect.search_near``) share its :meth:`prepare`: the latest one is remembered by content
        (local contrast equalisation of a 1536 x 2048 colour crop: about 50 ms)."""
        key = image_key(image)
        prepared = self._prepared.get(key)
        if prepared is None:
            prepared = self.prepare(image)
            self._prepared.put(key, prepared)
        return self._detect_prepared(prepared, image.shape[:2], scan)

    def _detect_prepared(
        self, prepared: npt.NDArray[np.uint8], shape: tuple[int, ...], scan: ScanPass, *, pad: int | None = None
    ) -> tuple[list[TextBox], float]:
        prob = self.network_map(prepared, scan, pad=pad)
        peak = float(prob.max()) if prob.size else 0.0
        if not peak > self.threshold:
            return [], peak  # nothing above the threshold: no component (most crops around glyph rows)
        return self._boxes(prob, shape, scan), peak

    def _boxes(
        self, prob: npt.NDArray[np.float32], shape: tuple[int, ...], scan: ScanPass
    ) -> list[TextBox]:
        cv2 = _import_cv2()
        height, width = int(shape[0]), int(shape[1])
        ph, pw = prob.shape
        bitmap = (prob > self.threshold).astype(np.uint8)
        bitmap = cv2.dilate(bitmap, np.ones((2, 2), np.uint8))
        count, labels, stats = text_components(bitmap)
        # the (possibly rotated) pass image is rot_h × rot_w
        rot_h, rot_w = (width, height) if scan.rotate90 else (height, width)
        sx, sy = rot_w / pw, rot_h / ph
        boxes: list[TextBox] = []
        for label in range(1, count):
            x, y, w, h, area = (int(v) for v in stats[label])
            if min(w, h) < 2:
                continue
            window = prob[y : y + h, x : x + w]
            score = float(window[labels[y : y + h, x : x + w] == label].mean())
            if score < self.box_threshold:
                continue
            # DB unclip: grow the shrunk text kernel by area * ratio / perimeter.
            distance = area * self.unclip_ratio / max(1.0, 2.0 * (w + h))
            x0 = max(0.0, (x - distance) * sx)
            y0 = max(0.0, (y - distance) * sy)
            x1 = min(float(rot_w), (x + w + distance) * sx)
            y1 = min(float(rot_h), (y + h + distance) * sy)
            # the kernel itself lies inside the text: a tightened box never cuts into it
            k0, l0, k1, l1 = x * sx, y * sy, (x + w) * sx, (y + h) * sy
            if scan.rotate90:
                if (x1 - x0) < 2.0 * (y1 - y0):
                    continue  # only lines that read along the turned image: vertical labels
                # clockwise rotation maps (r, c) -> (c, H-1-r); undo it for the box
                x0, y0, x1, y1 = y0, height - x1, y1, height - x0
                k0, l0, k1, l1 = l0, height - k1, l1, height - k0
            core = (int(k0), int(l0), max(1, int(np.ceil(k1 - k0))), max(1, int(np.ceil(l1 - l0))))
            # DB kernels are tight at the ends of a line (italics, last glyph touching a
            # bright edge): extend along the line by a share of its thickness.
            if x1 - x0 >= y1 - y0:
                grow = self.end_growth * (y1 - y0)
                x0, x1 = max(0.0, x0 - grow), min(float(width), x1 + grow)
            else:
                grow = self.end_growth * (x1 - x0)
                y0, y1 = max(0.0, y0 - grow), min(float(height), y1 + grow)
            bx0, by0 = int(np.floor(x0)), int(np.floor(y0))
            bx1, by1 = int(np.ceil(x1)), int(np.ceil(y1))
            boxes.append(TextBox(bx0, by0, bx1 - bx0, by1 - by0, score, core))
        return boxes


def text_components(bitmap: npt.NDArray[np.uint8]) -> tuple[int, npt.NDArray[np.int32], npt.NDArray[np.int32]]:
    """The 8-connected components of a thresholded probability map: their count (the background
    included), labels and stats, exactly as ``cv2.connectedComponentsWithStats(bitmap,
    connectivity=8)`` gives them (the same labels in the same order), by Grana's block-based
    algorithm (``labelling.components_with_stats``), which labels a detector's sparse maps in about
    40 % of the time of OpenCV's default (Spaghetti): 2.0 ms against 5.7 ms for a 1024 x 1024 map."""
    return components_with_stats(bitmap)


#: Percentiles of a faint row's own pixels that become black and white in its crop (``faint_crop``).
FAINT_STRETCH = (2.0, 98.0)
#: A faint row is often cut short (its faintest glyphs make no marks): its crop runs this many row
#: heights beyond either end (``SMALL_ALONG`` for other rows).
FAINT_ALONG = 6.0


def faint_crop(grey: npt.NDArray[np.uint8], row: GlyphRow, x0: int, y0: int, x1: int, y1: int) -> npt.NDArray[np.uint8]:
    """The crop ``x0:x1, y0:y1`` of a grey image around a faint glyph row, its grey levels
    stretched so that the row's own ``FAINT_STRETCH`` percentiles become 0 and 255 (no local
    equalisation): a grey label 40 levels off pale tissue beside black dots becomes plain text, where
    equalised over the whole image, or over the crop, it stayed below the tissue's grain
    (s10504 case020: a 6 px name scored 0.000 on either, 1.000 stretched)."""
    low, high = percentiles(grey[row.y : row.y + row.height, row.x : row.x + row.width], FAINT_STRETCH)
    scale = 255.0 / max(float(high - low), 1.0)
    crop = grey[y0:y1, x0:x1].astype(np.float32)
    return np.ascontiguousarray(np.clip((crop - float(low)) * scale, 0, 255).astype(np.uint8))


def _row_covered(row: GlyphRow, boxes: Sequence[TextBox]) -> float:
    """The share of ``row`` that ``boxes`` of its own direction and size cover: a box three times
    as thick as the row, or across it, is another proposal (a blob of anatomy beside a vertical
    label), and the row is still searched."""
    covered = np.zeros((row.height, row.width), dtype=bool)
    across = min(row.width, row.height)
    for b in boxes:
        thick = b.width if row.vertical else b.height
        along = b.height if row.vertical else b.width
        if thick > SMALL_FIT * across or along < thick:
            continue
        x0, y0 = max(b.x, row.x) - row.x, max(b.y, row.y) - row.y
        x1, y1 = min(b.x1, row.x + row.width) - row.x, min(b.y1, row.y + row.height) - row.y
        if x0 < x1 and y0 < y1:
            covered[y0:y1, x0:x1] = True
    return float(covered.mean())


#: Images whose findings a detector or recognizer remembers (by content; the latest ones).
_MEMO_IMAGES = 16
#: Images whose ``DbnetDetector.prepare`` a detector remembers for its single passes (``detect_pass``):
#: the latest one (the passes over one crop run one after another; a prepared photograph is 9 MB).
_MEMO_PREPARED = 1


def image_key(image: npt.NDArray[np.uint8]) -> bytes:
    """A digest of an image's shape and pixels: equal for equal images."""
    digest = hashlib.blake2b(repr((image.shape, image.dtype.str)).encode(), digest_size=16)
    digest.update(np.ascontiguousarray(image).data)
    return digest.digest()


class ImageMemo(Generic[_T]):
    """What was found on the latest ``size`` images, by :func:`image_key` (thread-safe)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[bytes, _T] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: bytes) -> _T | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: bytes, value: _T) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)


def enhance_contrast(image: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """Local contrast equalisation (CLAHE, per channel of an H×W×3 image, or of one H×W plane):
    faint text on anatomy stands out for the detector; the recognizer and the redaction see the
    image as it is."""
    cv2 = _import_cv2()
    clahe = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8))
    if image.ndim == 2:
        return np.asarray(clahe.apply(np.ascontiguousarray(image)), dtype=np.uint8)
    return np.asarray(cv2.merge([clahe.apply(plane) for plane in cv2.split(image)]), dtype=np.uint8)


def pad_with_background(image: npt.NDArray[np.uint8], pad: int) -> npt.NDArray[np.uint8]:
    """``image`` with ``pad`` pixels on every side, each side filled with the background along it:
    the median of the image's outermost ``pad`` rows (columns) across the edge, smoothed by a
    running median along it, so glyphs that touch the edge are not copied outwards, and a side
    that is dark in the corners and bright in the middle (a CT's round field of view) continues
    as it is.  The corners repeat the nearest pixel."""
    cv2 = _import_cv2()
    out = np.asarray(cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_REPLICATE), dtype=np.uint8)
    height, width = image.shape[:2]
    depth = min(pad, height, width)
    sides = (
        (image[:depth], 0, out[:pad, pad : pad + width]),
        (image[height - depth :], 0, out[pad + height :, pad : pad + width]),
        (image[:, :depth], 1, out[pad : pad + height, :pad]),
        (image[:, width - depth :], 1, out[pad : pad + height, pad + width :]),
    )
    for strip, axis, target in sides:
        profile = _running_median(np.median(strip, axis=axis), 2 * (depth // 2) + 1)
        target[...] = profile[None] if axis == 0 else profile[:, None]
    return out


def _running_median(profile: npt.NDArray[np.floating], window: int) -> npt.NDArray[np.uint8]:
    """``profile`` (along its first axis; a second axis of channels) through a running median of
    ``window`` values (odd), the ends repeated, cast to uint8.

    The cast comes first: it rounds down, and rounding down keeps the order of values, so the
    median of the cast values is the cast of the median.  The running median of uint8 values is
    OpenCV's median filter over a one-pixel-wide image (its border repeats the ends; across the
    width every row of the window holds the same value): a fraction of numpy's median of a
    sliding window."""
    values = np.asarray(profile, dtype=np.uint8)
    if window <= 1 or profile.shape[0] < window:
        return values
    column = np.ascontiguousarray(values.reshape(values.shape[0], 1, -1))
    smoothed = _import_cv2().medianBlur(column, window)
    return np.asarray(smoothed, dtype=np.uint8).reshape(values.shape)


def _tiles(length: int, largest: int) -> list[tuple[int, int]]:
    """(start, size) of as few tiles as cover ``length`` with ``_TILE_OVERLAP`` overlap, all the
    same size (balanced: no tile mostly overlapping another)."""
    if length <= largest:
        return [(0, length)]
    count = -(-(length - _TILE_OVERLAP) // (largest - _TILE_OVERLAP))
    size = -(-(length + (count - 1) * _TILE_OVERLAP) // count)
    step = size - _TILE_OVERLAP
    return [(min(i * step, length - size), size) for i in range(count)]


class TesseractReader:
    """Tesseract reading, warm engine per process (tesserocr) or pytesseract fallback.

    ``read`` takes the whole image and an optional box; the crop is enlarged so cap height
    is ~30 px (Tesseract's sweet spot) and given a white border.
    """

    def __init__(self, *, psm: int = 7, language: str = "eng") -> None:
        self.psm = psm
        self.language = language
        self._api: Any = None
        self._backend: str | None = None
        self._lock = threading.Lock()

    @property
    def backend(self) -> str:
        self._ensure()
        assert self._backend is not None
        return self._backend

    def _ensure(self) -> None:
        with self._lock:
            if self._backend is not None:
                return
            tessdata = find_tessdata()
            try:
                import tesserocr

                if tessdata is None:
                    raise OcrUnavailable("Tesseract language data (eng.traineddata) not found")
                self._api = tesserocr.PyTessBaseAPI(path=tessdata, lang=self.language, psm=self.psm)
                quiet_leptonica()
                self._backend = "tesserocr"
                return
            except ImportError:
                pass
            except RuntimeError as exc:
                logger.debug("tesserocr unusable (%s); trying pytesseract", exc)
            try:
                import pytesseract

                pytesseract.get_tesseract_version()
            except (ImportError, OSError, RuntimeError) as exc:
                raise OcrUnavailable(
                    "Tesseract is missing: install Debian 'tesseract-ocr' and "
                    "'dicom-deid[ocr]' (tesserocr or pytesseract)"
                ) from exc
            self._backend = "pytesseract"

    def prepare(
        self, image: npt.NDArray[np.uint8], box: TextBox | None = None
    ) -> npt.NDArray[np.uint8]:
        cv2 = _import_cv2()
        grey = grey_plane(image)
        if box is not None:
            grey = grey[box.y : box.y1, box.x : box.x1]
        if grey.size == 0:
            return np.full((8, 8), 255, np.uint8)
        height = grey.shape[0]
        factor = max(1.0, min(8.0, 40.0 / max(1, height)))
        if factor > 1.0:
            grey = cv2.resize(grey, None, fx=factor, fy=factor, interpolation=cv2.INTER_CUBIC)
        # dark text on light ground reads best; invert light-on-dark crops
        if float(np.median(grey)) < 128:
            grey = 255 - grey
        return np.asarray(cv2.copyMakeBorder(grey, 10, 10, 10, 10, cv2.BORDER_REPLICATE))

    def read(self, image: npt.NDArray[np.uint8], box: TextBox | None = None) -> str:
        self._ensure()
        crop = self.prepare(image, box)
        if self._backend == "tesserocr":
            from PIL import Image

            with self._lock:
                self._api.SetImage(Image.fromarray(crop))
                text = self._api.GetUTF8Text()
            return str(text).strip()
        import pytesseract

        return str(pytesseract.image_to_string(crop, config=f"--psm {self.psm}")).strip()
