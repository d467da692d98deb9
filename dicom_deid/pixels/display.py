"""Turn decoded frames into 8-bit display images for text detection.  Pure; no DICOM I/O.

Detection works on what a person would see: MONOCHROME1 is inverted, YBR is converted to
RGB, palettes are applied, and high bit depths are scaled by the frame's full stored
range (burned-in text is drawn at or near the extremes, so a full-range window keeps it
visible whatever the VOI window of the anatomy is).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from dicom_deid.pixels.decode import DecodedPixels

if TYPE_CHECKING:
    import numpy.typing as npt


#: Integer frames spanning at most this many levels are scaled through a table of their levels
#: (``scale_to_uint8``); wider ones pixel by pixel.
LUT_LEVELS = 1 << 16
_EXACT = 1 << 24  # integers float32 holds exactly


def scale_to_uint8(
    frame: npt.NDArray[np.generic], lo: float | None = None, hi: float | None = None
) -> npt.NDArray[np.uint8]:
    """``frame`` mapped linearly from ``lo``..``hi`` (default: its own least and greatest value) to
    0..255, rounded half up and clipped.  An integer frame of at most ``LUT_LEVELS`` levels is
    mapped through a table of its levels made by the same float32 formula (``_scale``): the same
    result, a quarter of the time on a 3072 x 2614 radiograph."""
    if frame.dtype.kind in "iu" and frame.size:
        low, high = int(frame.min()), int(frame.max())
        if high - low < LUT_LEVELS and -_EXACT < low and high < _EXACT:
            levels = np.arange(low, high + 1, dtype=np.float32)
            table = _scale(levels, float(low) if lo is None else lo, float(high) if hi is None else hi)
            index: npt.NDArray[np.generic]
            if low < 0:
                index = frame.astype(np.int32) - low
            else:  # unsigned arithmetic stays in range: every value is at least ``low``
                index = frame - np.asarray(low, dtype=frame.dtype) if low else frame
            return np.asarray(table[index], dtype=np.uint8)
    return _scale(frame, lo, hi)


def _scale(frame: npt.NDArray[np.generic], lo: float | None, hi: float | None) -> npt.NDArray[np.uint8]:
    data = frame.astype(np.float32, copy=False)
    lo = float(data.min()) if lo is None else lo
    hi = float(data.max()) if hi is None else hi
    if hi <= lo:
        return np.zeros(frame.shape, dtype=np.uint8)
    out = (data - lo) * (255.0 / (hi - lo))
    result: npt.NDArray[np.uint8] = np.clip(out + 0.5, 0, 255).astype(np.uint8)
    return result


def display_frame(decoded: DecodedPixels, frame: npt.NDArray[np.generic]) -> npt.NDArray[np.uint8]:
    """One frame (rows × columns [× 3]) of ``decoded`` as a grey or RGB uint8 image."""
    facts = decoded.facts
    photometric = facts.photometric
    if photometric in ("MONOCHROME1", "MONOCHROME2"):
        image = scale_to_uint8(frame)
        return 255 - image if photometric == "MONOCHROME1" else image
    if photometric == "PALETTE COLOR":
        assert decoded.palette is not None
        index = frame.astype(np.int64) - decoded.palette_first
        np.clip(index, 0, len(decoded.palette) - 1, out=index)
        return decoded.palette[index]
    if facts.bits_stored > 8:
        rgb = scale_to_uint8(frame, 0.0, float((1 << facts.bits_stored) - 1))
    else:
        rgb = np.asarray(frame, dtype=np.uint8)
    if photometric == "YBR_FULL":
        return ybr_full_to_rgb(rgb)
    return rgb


def ybr_full_to_rgb(ybr: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """PS3.3 C.7.6.3.1.2 YBR_FULL → RGB for 8-bit data: each channel ``y + k·cb + k'·cr`` in float32,
    rounded half up and clipped to 0..255.  Computed plane by plane in place (the same float32
    operations in the same order: equal to the three-plane formula, for every input), then
    interleaved by OpenCV: a third of the time on a 1536 x 2048 photograph."""
    from dicom_deid.pixels.ocr import _import_cv2

    y, cb, cr = np.moveaxis(ybr, -1, 0).astype(np.float32)  # three contiguous planes
    cb -= 128.0
    cr -= 128.0
    r = np.multiply(cr, 1.402, dtype=np.float32)
    r += y
    g = np.multiply(cb, 0.344136, dtype=np.float32)
    np.subtract(y, g, out=g)
    cr *= np.float32(0.714136)
    g -= cr
    b = np.multiply(cb, 1.772, dtype=np.float32)
    b += y
    planes = []
    for plane in (r, g, b):
        plane += 0.5
        np.clip(plane, 0, 255, out=plane)
        planes.append(plane.astype(np.uint8))
    return np.asarray(_import_cv2().merge(planes), dtype=np.uint8)


def channel_extremes(image: npt.NDArray[np.uint8]) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.uint8]]:
    """The least and the greatest channel of each pixel of an RGB image (rows × columns × 3): the
    same as ``image.min(axis=2)`` and ``image.max(axis=2)``, a tenth of the time (numpy reduces a
    last axis of three slowly)."""
    r, g, b = image[..., 0], image[..., 1], image[..., 2]
    return np.minimum(np.minimum(r, g), b), np.maximum(np.maximum(r, g), b)


#: Colour-flow view (``achromatic_view``): a pixel is coloured when its channels spread by at least
#: ``FLOW_CHROMA`` levels; an image is a grey image under a colour overlay (colour Doppler, a
#: PET/CT fusion) when between ``FLOW_MIN_SHARE`` and ``FLOW_MAX_SHARE`` of its pixels are coloured
#: (more: a photograph or a colour map).  Coloured pixels are filled with the mean grey of the grey
#: pixels within ``FLOW_FILL`` px.
FLOW_CHROMA = 48
FLOW_MIN_SHARE = 0.002
FLOW_MAX_SHARE = 0.5
FLOW_FILL = 7


def colour_overlay(image: npt.NDArray[np.uint8]) -> npt.NDArray[np.bool_] | None:
    """The coloured pixels of an RGB image (rows × columns × 3) that is a grey image under a colour
    overlay (colour Doppler, a PET/CT fusion); ``None`` for any other image."""
    if image.ndim != 3 or image.shape[2] != 3:
        return None
    low, high = channel_extremes(image)
    coloured: npt.NDArray[np.bool_] = (high - low) >= FLOW_CHROMA
    share = float(coloured.mean())
    return coloured if FLOW_MIN_SHARE <= share <= FLOW_MAX_SHARE else None


def chroma_view(image: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8] | None:
    """How coloured each pixel of a colour photograph is (the spread of its channels), as a grey
    image; ``None`` for a grey image, a grey image under a colour overlay (``colour_overlay``) or any
    image of which at most ``FLOW_MAX_SHARE`` of the pixels are coloured.

    Text in a saturated colour over a photograph whose brightness is close to its own (green over
    green-blue skin or tissue) hardly shows in the detector's colour input; in this view it is the
    brightest thing there (a vertical green label on a 1024 x 768 photograph: no proposal in the
    colour image, boxed in this view)."""
    if image.ndim != 3 or image.shape[2] != 3:
        return None
    low, high = channel_extremes(image)
    spread = high - low
    if float(np.count_nonzero(spread >= FLOW_CHROMA)) <= FLOW_MAX_SHARE * spread.size:
        return None
    return np.ascontiguousarray(spread)


#: Marks more vivid than their surroundings in a chroma view (``vivid_marks``): their channel
#: spread exceeds the median spread of the ``VIVID_WINDOW`` px square around them by at least
#: ``VIVID_LEVEL`` levels (a 10 px green label over green-blue skin: 125 levels).
VIVID_LEVEL = 64
VIVID_WINDOW = 15


def vivid_marks(view: npt.NDArray[np.uint8]) -> npt.NDArray[np.bool_]:
    """Pixels of a chroma view (``chroma_view``) far more coloured than the photograph around them:
    the strokes of text in a saturated colour, where the detector should look in that view."""
    from dicom_deid.pixels.ocr import _import_cv2

    local = _import_cv2().medianBlur(np.ascontiguousarray(view), VIVID_WINDOW)
    marks: npt.NDArray[np.bool_] = (view.astype(np.int16) - local) >= VIVID_LEVEL
    return marks


def achromatic_view(image: npt.NDArray[np.uint8], coloured: npt.NDArray[np.bool_]) -> npt.NDArray[np.uint8]:
    """A grey view of an RGB image with its colour overlay (``coloured``: ``colour_overlay``) taken away.

    Near-white text drawn over a colour-flow area has almost the luminance of the yellow and
    orange around it, and every channel of the colour view varies across the flow's blobs: the
    detector sees texture there.  Here each coloured pixel becomes the brighter of its darkest
    channel (the white in a glyph's anti-aliased edge, about none in a saturated colour) and the
    grey of the tissue around it, and each grey pixel keeps its luminance: the text stands white
    over the grey image alone.  The grey around is that of the tissue, not of near-white pixels
    (``WHITE_LEVEL``): filled from the strokes of a white label beside it, a flow blob turned as white
    as the label and was taken for part of it.
    """
    low = channel_extremes(image)[0]
    weights = np.array([0.299, 0.587, 0.114], dtype=np.float32)
    grey = image.astype(np.float32) @ weights
    tissue = ~coloured & (grey < WHITE_LEVEL)  # not the text: a white label's strokes lit the flow beside it
    plain = tissue.astype(np.float32)
    total, count = _box_sum(grey * plain, FLOW_FILL), _box_sum(plain, FLOW_FILL)
    fallback = float(grey[tissue].mean()) if tissue.any() else 0.0
    fill = np.where(count > 0.5, total / np.maximum(count, 1.0), fallback)
    view = np.where(coloured, np.maximum(low.astype(np.float32), fill), grey)
    result: npt.NDArray[np.uint8] = np.clip(view + 0.5, 0, 255).astype(np.uint8)
    return result


#: White-on-colour evidence (``white_over_colour``): a pixel whose channels spread by less than
#: ``WHITE_CHROMA`` levels, of luminance at least ``WHITE_LEVEL``, with at least ``WHITE_AMID`` of
#: the 7 x 7 pixels around it coloured.
WHITE_CHROMA = 32
WHITE_LEVEL = 180
WHITE_AMID = 0.3


def white_over_colour(image: npt.NDArray[np.uint8], coloured: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
    """Near-white grey pixels amid the colour overlay (``coloured``) of an RGB image: the strokes of
    white text drawn over a colour-flow area; a clean flow has few (white tissue seldom lies inside it)."""
    low, high = channel_extremes(image)
    spread = high.astype(np.int16) - low
    weights = np.array([0.299, 0.587, 0.114], dtype=np.float32)
    bright = (image.astype(np.float32) @ weights) >= WHITE_LEVEL
    amid = _count_around(coloured, 3) >= WHITE_AMID * 49
    found: npt.NDArray[np.bool_] = (spread < WHITE_CHROMA) & bright & amid
    return found


def _count_around(mask: npt.NDArray[np.bool_], radius: int) -> npt.NDArray[np.float32]:
    """How many pixels of ``mask`` lie in the square of ``radius`` px around each pixel (clipped at
    the edges): ``_box_sum`` of the mask, exact (whole counts), by OpenCV's box filter (a tenth
    of the time on every colour ultrasound screen)."""
    from dicom_deid.pixels.ocr import _import_cv2

    cv2 = _import_cv2()
    side = 2 * radius + 1
    counts = cv2.boxFilter(mask.astype(np.float32), cv2.CV_32F, (side, side), normalize=False,
                           borderType=cv2.BORDER_CONSTANT)
    return np.asarray(counts, dtype=np.float32)


def _box_sum(values: npt.NDArray[np.float32], radius: int) -> npt.NDArray[np.float32]:
    """Sum of ``values`` over the square of ``radius`` px around each pixel (clipped at the edges)."""
    padded = np.zeros((values.shape[0] + 1, values.shape[1] + 1), dtype=np.float64)
    padded[1:, 1:] = values.cumsum(axis=0).cumsum(axis=1)
    rows, cols = values.shape
    y0 = np.clip(np.arange(rows) - radius, 0, rows)
    y1 = np.clip(np.arange(rows) + radius + 1, 0, rows)
    x0 = np.clip(np.arange(cols) - radius, 0, cols)
    x1 = np.clip(np.arange(cols) + radius + 1, 0, cols)
    out = padded[np.ix_(y1, x1)] - padded[np.ix_(y0, x1)] - padded[np.ix_(y1, x0)] + padded[np.ix_(y0, x0)]
    return out.astype(np.float32)
