"""The frame a region was found on sets the text the other frames are compared with (issue 9).

Tune seed 10826 case025: a 38 px date on frame 28 of a 60-frame XA run, found and confirmed on that
frame alone (a novel frame).  Every frame was then read in the region: frame 28 read "27-AUG-", and
vertical stripes on frame 35 read "20001: 8885" with a higher score.  The best-scored reading was
taken for the region's text, frame 28's reading shared too few characters with it, and the date
was left on frame 28 (readable) while 31 frames without it were blacked out.  Now the reading of
the frame the search found the region on is the text, and that frame always keeps the region.

The run is emri_small's slices (``volume_frames``); the recognizer is a stand-in that reads by
what a crop holds, because the real one cannot be made to misread stripes on demand.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pydicom.uid import generate_uid
from test_pixels_hard_cases import MONO, image_dataset
from test_pixels_miss_classes import XA, text_mask, volume_frames

from dicom_deid.pixels.decode import decode_pixels
from dicom_deid.pixels.display import display_frame
from dicom_deid.pixels.frames import assign_frames
from dicom_deid.pixels.recognize import Reading
from dicom_deid.pixels.redact import RedactionBox

BOX = RedactionBox(8, 12, 236, 40, None, "detector")
LABEL, STRIPES = 28, 35


def _run() -> np.ndarray:
    frames = volume_frames(60)
    frames[LABEL][text_mask(frames.shape[1:], "27-AUG-2005", (BOX.x + 4, BOX.y + 6), 30, MONO)] = 4000
    for x in range(BOX.x, BOX.x1, 6):  # bright vertical stripes over half the region
        frames[STRIPES, BOX.y : BOX.y1, x : x + 3] = 4000
    return frames


def _reads_by_content(crops: Sequence[np.ndarray]) -> list[Reading]:
    """Stripes (over a third of the crop at full brightness) read as digits, surely; the date's
    glyphs (a few per cent) as its start, less surely; anything else as nothing."""
    out = []
    for crop in crops:
        bright = float((np.asarray(crop) >= 250).mean())
        if bright > 0.3:
            out.append(Reading("20001: 8885", (0.99,) * 11))
        elif bright > 0.02:
            out.append(Reading("27-AUG-", (0.9,) * 7))
        else:
            out.append(Reading("", ()))
    return out


def test_the_region_follows_the_text_of_the_frame_it_was_found_on() -> None:
    """Kept on the date's frame and its neighbours only: the stripes neither set the text nor take
    the region (before: frames 5-59, the stripes' frame among them)."""
    frames = _run()
    ds = image_dataset(frames, modality="XA", sop_class=XA, series=(generate_uid(), generate_uid()),
                       image_type=("ORIGINAL", "PRIMARY", "SINGLE PLANE"))
    decoded = decode_pixels(ds)
    found_on = np.ascontiguousarray(display_frame(decoded, decoded.frames[LABEL]))
    reads = _reads_by_content([np.asarray(display_frame(decoded, f))[BOX.y : BOX.y1, BOX.x : BOX.x1]
                               for f in decoded.frames])
    assert reads[STRIPES].score() > reads[LABEL].score()  # the premise: the stripes read best
    (box,) = assign_frames(decoded, [BOX], _reads_by_content, [found_on])
    assert box.frames is not None
    assert LABEL in box.frames
    assert set(box.frames) <= {LABEL - 1, LABEL, LABEL + 1}
