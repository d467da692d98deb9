"""Copies of a tilted clock on the frames of a Doppler cine, joined into one region, are blacked
out along the line, not in the corners of its upright box (issue 9, over-redaction).

A clock tilted by 13 degrees, its digits changing on every frame of a 16-frame colour Doppler
cine, is proposed on several search images (frames, projections, the flow view), each copy
holding a part of the line or reading it unsurely; no copy was banded (``detect._tilted_bands``),
and ``fit.merge_lines`` joined them into their upright box: 10 % of every 120 x 256 frame
blacked out (tune seed 10806, case031).  The joined region is now banded where the text's strokes
in each copy's search image bunch along one tilt (``fit._band_joined``).

The base is pydicom-data's colour Doppler ``color-px.dcm`` (RGB, 120 x 256), made a cine by a
slow drift and noise; the clock is drawn in 5 x 7 dot-matrix digits and turned with Pillow.  The
copies are given as the search judged them there (the detector's boxes on a cine vary from run to
run of the generator); ``merge_lines`` runs on the real frames, measuring the tilt itself.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
from PIL import Image
from test_over10_texture_trim import _doppler

from dicom_deid.pixels.confirm import Judged, Verdict, pad_box
from dicom_deid.pixels.detect import TextSearch
from dicom_deid.pixels.fit import merge_lines
from dicom_deid.pixels.ocr import TextBox

FRAMES = 16
ANGLE = -12.8  # Pillow's sense: the line falls to the right
AT = (35, 18)  # (x, y) of the clock's upright box
#: The classic 5 x 7 dot-matrix digits (a scanner's clock), one byte per column, bit 0 the top row.
DOTS = {
    "0": (0x3E, 0x51, 0x49, 0x45, 0x3E), "1": (0x00, 0x42, 0x7F, 0x40, 0x00), "2": (0x42, 0x61, 0x51, 0x49, 0x46),
    "3": (0x21, 0x41, 0x45, 0x4B, 0x31), "4": (0x18, 0x14, 0x12, 0x7F, 0x10), "5": (0x27, 0x45, 0x45, 0x45, 0x39),
    "6": (0x3C, 0x4A, 0x49, 0x49, 0x30), "7": (0x01, 0x71, 0x09, 0x05, 0x03), "8": (0x36, 0x49, 0x49, 0x49, 0x36),
    "9": (0x06, 0x49, 0x49, 0x29, 0x1E), ":": (0x00, 0x36, 0x36, 0x00, 0x00),
}  # fmt: skip


def _clock(text: str) -> tuple[np.ndarray, np.ndarray]:
    """(alpha 0..1, band mask) of ``text`` in 28 px dot-matrix glyphs (dots 4 px square) turned by
    ``ANGLE``: the band is the text's own upright box turned with it."""
    columns = [np.pad(np.array([[(c >> r) & 1 for c in DOTS[ch]] for r in range(7)], np.float32), ((0, 0), (0, 1)))
               for ch in text]
    glyphs = np.pad(np.concatenate(columns, axis=1).repeat(4, 0).repeat(4, 1), 2)
    turned = Image.fromarray((glyphs * 255).astype(np.uint8)).rotate(ANGLE, Image.BILINEAR, expand=True)
    block = Image.new("L", (glyphs.shape[1], glyphs.shape[0]), 255).rotate(ANGLE, Image.BILINEAR, expand=True)
    return np.asarray(turned, np.float32) / 255.0, np.asarray(block) > 0


def _cine() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(frames, glyph masks, band masks) of the Doppler cine with a grey clock on every frame."""
    base = _doppler().astype(np.float32)
    noise = np.random.default_rng(10806)
    frames, glyphs, bands = [], [], []
    for i in range(FRAMES):
        shifted = np.roll(base, (int(3 * math.sin(i / 4)), int(2 * math.cos(i / 5))), axis=(0, 1))
        frame = np.clip(shifted + noise.normal(0, 5.0, base.shape), 0, 255)
        alpha, block = _clock(f"10:{i:02d}:{(7 * i) % 60:02d}")
        x, y = AT
        h, w = alpha.shape
        frame[y : y + h, x : x + w] = frame[y : y + h, x : x + w] * (1 - alpha[..., None]) + 200.0 * alpha[..., None]
        glyph = np.zeros(base.shape[:2], bool)
        glyph[y : y + h, x : x + w] = alpha > 0.35
        band = np.zeros(base.shape[:2], bool)
        band[y : y + h, x : x + w] = block
        frames.append(frame.round().astype(np.uint8))
        glyphs.append(glyph)
        bands.append(band)
    return np.stack(frames), np.stack(glyphs), np.stack(bands)


def _grown(mask: np.ndarray, by: int) -> np.ndarray:
    return np.asarray(cv2.dilate(mask.astype(np.uint8), np.ones((2 * by + 1, 2 * by + 1), np.uint8)) > 0)


def _bounds(mask: np.ndarray) -> TextBox:
    ys, xs = np.nonzero(mask)
    return TextBox(int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1), 0.9)


def _copies(glyphs: np.ndarray) -> tuple[Judged, Judged]:
    """The copies of the clock as the search judged them on tune seed 10806 case031: the whole line
    read unsurely on one frame (its box as high as the line's climb), and its right half confirmed
    on another, with glyphs a clock's height (the dot-matrix glyphs: 28 px, 33 px turned)."""
    line = _bounds(glyphs[5])
    whole = Judged(pad_box(line, line.height, 120, 256), Verdict.UNCERTAIN, 1, line.height, line=line)
    half = glyphs[9].copy()
    half[:, : line.x + line.width // 2] = False
    right = _bounds(half)
    glyph = 33
    part = Judged(pad_box(right, glyph, 120, 256), Verdict.CONFIRMED, 0, glyph, line=right)
    return whole, part


def _blacked(judged: Judged, shape: tuple[int, int]) -> np.ndarray:
    box, out = judged.box, np.zeros(shape, bool)
    strip = judged.strip()
    out[box.y : box.y1, box.x : box.x1] = True if strip is None else strip.mask(box.x, box.y, box.width, box.height)
    return out


def test_copies_of_a_tilted_clock_joined_are_blacked_out_along_its_line() -> None:
    """The joined region covers every glyph pixel of the clock on both frames; of its upright box,
    the corners outside the line's band (grown by a third of the text size: padding) stay as they
    were, all but a quarter of them (main: all of them blacked out)."""
    frames, glyphs, bands = _cine()
    whole, part = _copies(glyphs)
    merged = merge_lines(TextSearch((part, whole), (frames[9], frames[5]))).judged
    live = [j for j in merged if j.verdict is not Verdict.REJECTED]
    blacked = np.zeros(frames.shape[1:3], bool)
    for judged in live:
        blacked |= _blacked(judged, frames.shape[1:3])
    assert not (glyphs[5] & ~blacked).any() and not (glyphs[9] & ~blacked).any()
    upright = np.zeros(frames.shape[1:3], bool)
    line = _bounds(glyphs[5] | glyphs[9])
    upright[line.y : line.y1, line.x : line.x1] = True
    corners = upright & ~_grown(bands[5] | bands[9], 28 // 3)
    assert corners.sum() > 2000  # the premise: the tilted clock's upright box is largely corners
    assert (blacked & corners).sum() <= 0.25 * corners.sum()
