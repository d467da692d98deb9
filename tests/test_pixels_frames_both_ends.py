"""Two labels shown on different frames of a run, joined into one line, keep both sets of frames
(issue 9, seed 10893 case024).

A projection of an XA run (the deviation from the median) showed a hospital name, drawn on
frames 3-6, and a patient name, drawn on frames 11-19 further along the same row, as one long
line.  ``frames.assign_frames`` reads a long line at one end only: the end that read on more
probe frames, the patient name.  The hospital name's frames were dropped, and its start was left
readable on frames 3-6.  The other end of a long line is now read on every frame too when it
reads on a probe frame where the chosen end does not, and the frames of either end keep the line.

The run is emri_small's slices (pydicom's test data, ``volume_frames``), the labels drawn with
Pillow and read by the recognizer the stage uses.
"""

from __future__ import annotations

import numpy as np
from pydicom.uid import generate_uid
from test_pixels_hard_cases import MONO, image_dataset
from test_pixels_miss_classes import XA, text_mask, volume_frames

from dicom_deid.pixels.decode import decode_pixels
from dicom_deid.pixels.frames import assign_frames
from dicom_deid.pixels.redact import RedactionBox
from dicom_deid.pixels.stage import PixelPolicy, PixelStage

HOSPITAL = range(3, 7)
PATIENT = range(11, 20)
LINE = RedactionBox(4, 200, 248, 22, None, "detector")  # both labels, as the projection joined them


def _run() -> np.ndarray:
    frames = volume_frames(24)
    high = frames.max()
    hospital = text_mask(frames.shape[1:], "UNIV HOSP", (6, 202), 16, MONO)
    patient = text_mask(frames.shape[1:], "KOWALSKI^ANNA", (120, 202), 16, MONO)
    for index in HOSPITAL:
        frames[index][hospital] = high
    for index in PATIENT:
        frames[index][patient] = high
    return frames


def test_long_line_keeps_the_frames_of_the_label_at_either_end() -> None:
    ds = image_dataset(_run(), modality="XA", sop_class=XA, series=(generate_uid(), generate_uid()),
                       image_type=("ORIGINAL", "PRIMARY", "SINGLE PLANE"))
    recognizer = PixelStage(PixelPolicy()).recognizer
    (box,) = assign_frames(decode_pixels(ds), [LINE], recognizer.read_crops)  # type: ignore[attr-defined]
    assert box.frames is not None
    assert set(HOSPITAL) <= set(box.frames)
    assert set(PATIENT) <= set(box.frames)
    assert not {0, 23} & set(box.frames)  # frames that show neither label are left alone
