"""Views searched near marks only: a colour-flow view near white clusters amid the colour, a
chroma view near vivid marks in a colour photograph (``detect.find_text`` adds their proposals).

Each view is searched only in crops around those areas (``search_near``), each pass at the scale it
has over the whole view, so the detector's cost stays with the images where such text may be.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, cast

import numpy as np

from dicom_deid.pixels.confirm import Proposal, union_box
from dicom_deid.pixels.display import (
    achromatic_view,
    chroma_view,
    colour_overlay,
    vivid_marks,
    white_over_colour,
)
from dicom_deid.pixels.labelling import components_with_stats
from dicom_deid.pixels.ocr import ScanPass, TextBox, TextDetector

if TYPE_CHECKING:
    import numpy.typing as npt


#: Colour-flow views (``display.achromatic_view``): at most ``FLOW_VIEWS`` frames of an instance
#: get one when it shows clusters of near-white pixels amid the colour (``display.white_over_colour``;
#: pixels within ``FLOW_JOIN`` px joined, a cluster of at least ``FLOW_WHITE`` pixels), and only the
#: view's proposals that reach within ``FLOW_MARGIN`` px of a cluster count: text elsewhere is found
#: in the colour image itself, and the detector's cost stays with images where white text over
#: colour may be.  The view is searched only in crops around those areas (``FLOW_CONTEXT`` px of
#: context on every side; while a line found there reaches the crop's edge, that side is grown by
#: ``FLOW_CONTEXT``, then twice, four times as much: up to ``FLOW_GROW`` times), each pass at the
#: scale it has over the whole view.
FLOW_VIEWS = 1
FLOW_JOIN = 12
FLOW_WHITE = 40
FLOW_MARGIN = 24
FLOW_CONTEXT = 48
FLOW_GROW = 3


def with_flow_views(
    images: Sequence[npt.NDArray[np.uint8]], derived: Sequence[bool], detector: TextDetector
) -> tuple[list[npt.NDArray[np.uint8]], list[bool], list[Proposal]]:
    """``images`` and ``derived`` with the colour-flow views of up to ``FLOW_VIEWS`` frames (not
    projections) that show white over colour appended, and the detector's proposals there.  The
    views are searched without local contrast equalisation (``without_enhance``) where the detector
    has it: near-white text over colour Doppler is found there, and neither in the colour image (its
    luminance is that of the yellow around it) nor in an equalised view (the speckle rises to the
    text's level)."""
    flat = getattr(detector, "without_enhance", None)
    searcher: TextDetector = flat() if callable(flat) else detector
    out, flags = list(images), [index < len(derived) and derived[index] for index in range(len(images))]
    proposals: list[Proposal] = []
    for index, image in enumerate(images):
        if flags[index] or len(out) - len(images) >= FLOW_VIEWS:
            continue
        coloured = colour_overlay(image)
        areas = [] if coloured is None else _white_clusters(white_over_colour(image, coloured))
        if coloured is None or not areas:
            continue
        view = achromatic_view(image, coloured)
        out.append(view)
        flags.append(False)
        for box in search_near(searcher, view, areas):
            if any(_overlaps(box, area) for area in areas):
                proposals.append(Proposal(box, len(out) - 1))
    return out, flags, proposals


#: Clusters of vivid marks in a chroma view less than ``CHROMA_SPOT`` px across and under
#: ``LINE_ASPECT`` times as long as high are coloured spots of the photograph, not lines of text,
#: and are not searched (a crop around each was searched by every pass: 22-39 % of a photograph).
CHROMA_SPOT = 160
LINE_ASPECT = 2.0


def with_chroma_view(
    images: Sequence[npt.NDArray[np.uint8]], derived: Sequence[bool], detector: TextDetector,
    proposals: Sequence[Proposal],
) -> tuple[list[npt.NDArray[np.uint8]], list[bool], list[Proposal]]:
    """``images`` and ``derived`` with the chroma view (``display.chroma_view``) of the first image
    appended when it is a colour photograph with marks more vivid than their surroundings
    (``display.vivid_marks``), and the detector's proposals in that view near those marks
    (``search_near``: crops, not the whole photograph) that overlap no proposal of the photograph
    itself: saturated text of the photograph's own brightness, which the colour image does not
    show the detector.  Text the colour image already shows keeps its boxes (in the chroma view a
    vertical label's box ran on 40 px over the orange skin beyond it)."""
    flags = [i < len(derived) and derived[i] for i in range(len(images))]
    if not images or flags[0]:
        return list(images), flags, []
    view = chroma_view(images[0])
    areas = [] if view is None else _white_clusters(vivid_marks(view), spot=CHROMA_SPOT)
    if view is None or not areas:
        return list(images), flags, []
    seen = [p.box for p in proposals if p.image == 0]
    index = len(images)
    more = [Proposal(box, index) for box in search_near(detector, view, areas)
            if any(_overlaps(box, area) for area in areas) and not any(_overlaps(box, b) for b in seen)]
    return [*images, view], [*flags, False], more


class PassDetector(Protocol):
    """A detector whose passes can be run one by one (``ocr.DbnetDetector``)."""

    passes: tuple[ScanPass, ...]
    screen_peak: float | None

    def detect(self, image: npt.NDArray[np.uint8]) -> list[TextBox]: ...

    def detect_pass(self, image: npt.NDArray[np.uint8], scan: ScanPass) -> tuple[list[TextBox], float]: ...


def search_near(detector: TextDetector, image: npt.NDArray[np.uint8], areas: Sequence[TextBox]) -> list[TextBox]:
    """The detector's boxes in ``image`` near ``areas`` (``FLOW_CONTEXT``), found in crops of
    ``image`` rather than in the whole of it: each of the detector's passes runs over each crop at the
    scale it has over the whole image (``crop_passes``), and a crop with a box near an area that
    reaches one of its edges inside the image is grown on that side (``FLOW_CONTEXT``, doubled each
    time) and searched again (up to ``FLOW_GROW`` times), so a line is not cut where the crop ends.
    A detector without single passes searches the whole image.  Boxes are in ``image``'s
    coordinates; boxes far from every area may be among them."""
    passes = getattr(detector, "passes", None)
    if passes is None or not callable(getattr(detector, "detect_pass", None)):
        return detector.detect(image)
    searcher = cast(PassDetector, detector)
    rows, columns = image.shape[:2]
    plan = crop_passes(tuple(passes), rows, columns)
    crops = merge_crops([_widen(area, FLOW_CONTEXT, rows, columns) for area in areas])
    found: list[TextBox] = []
    peak = 0.0
    screened: list[tuple[TextBox, list[TextBox]]] = []
    for crop in crops:  # the screen first, over every crop: nothing text-like there, nothing more
        boxes, crop_peak = _crop_pass(searcher, image, crop, plan[0])
        screened.append((crop, boxes))
        peak = max(peak, crop_peak)
    screen = getattr(searcher, "screen_peak", None)
    if screen is not None and peak < screen:
        return [box for _, boxes in screened for box in boxes]
    for crop, boxes in screened:
        for grown in range(FLOW_GROW + 1):
            boxes = boxes + [b for scan in plan[1:] for b in _crop_pass(searcher, image, crop, scan)[0]]
            near = [b for b in boxes if any(_overlaps(b, a) for a in areas)]
            wider = _grow_to(crop, near, FLOW_CONTEXT << grown, rows, columns)
            if wider == crop or grown == FLOW_GROW:
                break
            crop = wider
            boxes = _crop_pass(searcher, image, crop, plan[0])[0]
        found.extend(boxes)
    return found


@dataclass(frozen=True, slots=True)
class CropPass:
    """One pass of a detector as run on crops: the pass at a fixed scale, and the part of the
    image it covers (``None``: all of it; else strips, as ``x, y, width, height``)."""

    scan: ScanPass
    strips: tuple[TextBox, ...] | None = None


def crop_passes(passes: Sequence[ScanPass], rows: int, columns: int) -> list[CropPass]:
    """The passes a detector runs over a whole ``rows`` x ``columns`` image, each at the scale it has
    there (``ScanPass.size_for``; a tiled pass at its tiles' scale; an edge-band pass at its
    strips' scale, over its strips only), as fixed-scale passes for crops of that image.  A pass
    the detector skips there (a band pass on a small image; the same network input as an earlier
    pass) is left out; the first (the screen) is always kept."""
    plan: list[CropPass] = []
    done: set[tuple[bool, int, int]] = set()
    longer = max(rows, columns)
    for index, scan in enumerate(passes):
        if scan.band:
            if longer <= scan.larger_than or scan.factor is None:
                continue
            across = columns if scan.rotate90 else rows
            size = min(across, max(32, round(scan.band * across)))
            ratio = min(scan.factor, scan.max_side / max(longer, size))
            starts = sorted({0, across - size})
            strips = tuple(TextBox(start, 0, size, rows) if scan.rotate90 else TextBox(0, start, columns, size)
                           for start in starts)
            plan.append(CropPass(_fixed(scan, ratio), strips))
            continue
        if scan.tile and scan.factor is not None and longer * scan.factor > scan.max_side:
            plan.append(CropPass(_fixed(scan, max(1.0, min(scan.factor, scan.max_side / longer)))))
            continue
        network = scan.size_for(columns, rows) if scan.rotate90 else scan.size_for(rows, columns)
        if (scan.rotate90, *network) in done and index:
            continue
        done.add((scan.rotate90, *network))
        ratio = float(np.sqrt(network[0] * network[1] / (rows * columns)))
        plan.append(CropPass(_fixed(scan, ratio)))
    return plan


def _fixed(scan: ScanPass, ratio: float) -> ScanPass:
    """``scan`` resizing by ``ratio`` whatever the image's size (up to ``ocr``'s upscale limit)."""
    return ScanPass(min_side=None, factor=ratio, max_side=1 << 16, rotate90=scan.rotate90)


def _crop_pass(
    detector: PassDetector, image: npt.NDArray[np.uint8], crop: TextBox, step: CropPass
) -> tuple[list[TextBox], float]:
    """Boxes (in ``image``'s coordinates) and peak of one pass over ``crop`` of ``image`` (over its
    parts within the pass's strips, for an edge-band pass)."""
    parts = [crop] if step.strips is None else [p for p in (crop.intersection(s) for s in step.strips) if p]
    boxes: list[TextBox] = []
    peak = 0.0
    for part in parts:
        piece = np.ascontiguousarray(image[part.y : part.y1, part.x : part.x1])
        found, part_peak = detector.detect_pass(piece, step.scan)
        peak = max(peak, part_peak)
        boxes += [b.shifted(part.x, part.y) for b in found]
    return boxes, peak


def merge_crops(crops: Sequence[TextBox]) -> list[TextBox]:
    """``crops`` with every two that overlap replaced by their union, until none overlap."""
    merged = list(crops)
    joined = True
    while joined:
        joined = False
        for i in range(len(merged)):
            for j in range(i + 1, len(merged)):
                if _overlaps(merged[i], merged[j]):
                    merged[i] = union_box([merged[i], merged[j]])
                    del merged[j]
                    joined = True
                    break
            if joined:
                break
    return sorted(merged, key=lambda c: (c.y, c.x))


def _grow_to(crop: TextBox, boxes: Sequence[TextBox], by: int, rows: int, columns: int) -> TextBox:
    """``crop`` grown by ``by`` px on each side that a box of ``boxes`` reaches (within 2 px)
    where that side is not the image's edge; ``crop`` itself when none does."""
    left = crop.x > 0 and any(b.x <= crop.x + 2 for b in boxes)
    top = crop.y > 0 and any(b.y <= crop.y + 2 for b in boxes)
    right = crop.x1 < columns and any(b.x1 >= crop.x1 - 2 for b in boxes)
    bottom = crop.y1 < rows and any(b.y1 >= crop.y1 - 2 for b in boxes)
    x0, y0 = max(0, crop.x - by * left), max(0, crop.y - by * top)
    x1, y1 = min(columns, crop.x1 + by * right), min(rows, crop.y1 + by * bottom)
    return TextBox(x0, y0, x1 - x0, y1 - y0)


def _widen(box: TextBox, by: int, rows: int, columns: int) -> TextBox:
    x0, y0 = max(0, box.x - by), max(0, box.y - by)
    x1, y1 = min(columns, box.x1 + by), min(rows, box.y1 + by)
    return TextBox(x0, y0, x1 - x0, y1 - y0)


def _overlaps(a: TextBox, b: TextBox) -> bool:
    return a.x < b.x1 and b.x < a.x1 and a.y < b.y1 and b.y < a.y1


def _white_clusters(white: npt.NDArray[np.bool_], *, spot: int = 0) -> list[TextBox]:
    """Areas (widened by ``FLOW_MARGIN``) around clusters of at least ``FLOW_WHITE`` pixels of
    ``white``, except spots: clusters less than ``spot`` px across whose longer side is under
    ``LINE_ASPECT`` times their shorter one (a line of text is longer than it is high)."""
    if int(white.sum()) < FLOW_WHITE:
        return []
    from dicom_deid.pixels.ocr import _import_cv2

    cv2 = _import_cv2()
    joined = cv2.dilate(white.astype(np.uint8), np.ones((FLOW_JOIN, FLOW_JOIN), np.uint8))
    count, labels, stats = components_with_stats(joined)
    rows, columns = white.shape
    areas = []
    for label in range(1, count):
        x, y, w, h, _area = (int(v) for v in stats[label])
        if int(white[y : y + h, x : x + w][labels[y : y + h, x : x + w] == label].sum()) < FLOW_WHITE:
            continue
        if max(w, h) < spot and max(w, h) < LINE_ASPECT * min(w, h):
            continue
        areas.append(_widen(TextBox(x, y, w, h), FLOW_MARGIN, rows, columns))
    return areas
