"""The seconds of a clock that ticks keep their frames (issue 9).

``frames.assign_frames`` keeps a region on the frames whose reading shares at least half its
characters with the region's text.  On a 16-frame Doppler cine whose grey clock changes every
frame (the cine of ``test_pixels_joined_tilt_band``, after tune seed 10806 case031), the right half
of the clock, its seconds, was a region of its own: it read "145" on the frame the search found
it on, "49°" and "138°" on others, which share no digit with it, and was blacked out on 10 of
16 frames; half the clock stayed readable on frames 4-8.  Any digit now matches any other.
"""

from __future__ import annotations

import copy

from pixel_fixtures import image_dataset, stored_frames
from pydicom.uid import generate_uid
from test_pixels_joined_tilt_band import _cine

from dicom_deid.pixels import PixelMode, PixelPolicy, PixelStage
from dicom_deid.pixels.frames import _like_the_text
from dicom_deid.pixels.recognize import Reading


def _read(*texts: str | None) -> list[Reading | None]:
    return [None if t is None else Reading(t, (0.9,) * len(t)) for t in texts]


def test_a_ticking_value_is_like_the_text() -> None:
    assert _like_the_text(_read("145", "49°", None, "138°"), source=0) == [True, True, False, True]


def test_digits_beside_a_dates_letters_are_not_like_it() -> None:
    """Stripes read as digits on one frame (tune seed 10826 case025) stay unlike a date."""
    assert _like_the_text(_read("27-AUG-", "20001: 8885"), source=0) == [True, False]


def test_ticking_clock_is_covered_on_every_inner_frame() -> None:
    frames, glyphs, _bands = _cine()
    ds = image_dataset(frames, modality="US", sop_class="1.2.840.10008.5.1.4.1.1.6.1",
                       series=(generate_uid(), generate_uid()))
    PixelStage(PixelPolicy(PixelMode.AUTO)).process(ds, target := copy.deepcopy(ds))
    changed = (stored_frames(target).reshape(frames.shape) != frames).any(axis=-1)
    covered = [float((changed[f] & glyphs[f]).sum() / glyphs[f].sum()) for f in range(1, len(frames) - 1)]
    assert min(covered) >= 0.85, [round(c, 2) for c in covered]
