"""A second burned-in text generator, written apart from ``make_burned_in.py``: real public bases.

Usage::

    python scripts/synth_burned_in.py ../public_dicom --seed 1001 --count 60 --out bench_out/synth

writes one folder per case (a series: one or more instances) plus ``truth.json``.  The benchmark
(``scripts/bench_burned_in.py``) imports :func:`make_cases` and keeps the glyph masks in memory.

It shares no code with ``make_burned_in.py`` or with ``dicom_deid``: pixels are decoded with
pydicom alone, and the text is drawn with Pillow.  What varies, per planted label:

* fonts: Liberation Sans/Serif/Mono/Narrow, URW Nimbus Roman/Sans/Mono, C059, P052, Bookman,
  Gothic (regular, bold, italic), Noto Sans Mono, Pillow's bitmap font, and a 5×7 dot-matrix
  font scaled by whole pixels (the look of scanner overlays); anti-aliased or not;
* size 7-40 px; white, grey, coloured, faint (10-25 % of the local range), inverse video
  (dark text on a light box) and boxed labels; upright, turned 90°/270°, tilted 3-20°;
  placed in corners, touching an edge, or over anatomy;

and per image: real public bases without text (CT head and spine, MR shoulder and brain
series, CR chest, enhanced perfusion CT, PET/CT fusion, photographs, colour Doppler) stored as
ORIGINAL CT/MR, secondary capture, XA multi-frame, enhanced MR multi-frame with per-frame
functional groups, US, or VL photograph; MONOCHROME1/2 at 8-16 bits (signed and unsigned, with
wide windows and text drawn at window-relative values), RGB, YBR_FULL, PALETTE COLOR; native,
RLE, JPEG-LS or JPEG 2000 lossless.  Multi-frame text is static, per frame, or on a few frames
only (one frame of many included).  Some cases are series of several instances that all carry
the scanner's text, as exports of ORIGINAL images with burned-in text do.
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from PIL import Image, ImageDraw, ImageFont
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    UID,
    ExplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGLSLossless,
    RLELossless,
    generate_uid,
)

FONTS = [
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSerif-Regular.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSerif-Italic.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationMono-Regular.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationMono-Bold.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSansNarrow-Regular.ttf",
    "/usr/share/fonts/opentype/urw-base35/NimbusRoman-Regular.otf",
    "/usr/share/fonts/opentype/urw-base35/NimbusSans-Regular.otf",
    "/usr/share/fonts/opentype/urw-base35/NimbusMonoPS-Regular.otf",
    "/usr/share/fonts/opentype/urw-base35/NimbusMonoPS-Bold.otf",
    "/usr/share/fonts/opentype/urw-base35/C059-Roman.otf",
    "/usr/share/fonts/opentype/urw-base35/P052-Bold.otf",
    "/usr/share/fonts/opentype/urw-base35/URWBookman-Light.otf",
    "/usr/share/fonts/opentype/urw-base35/URWGothic-Book.otf",
    "/usr/share/fonts/opentype/urw-base35/NimbusSansNarrow-Bold.otf",
    "/usr/share/fonts/truetype/noto/NotoSansMono-Regular.ttf",
]
BITMAP_5X7 = "bitmap-5x7"
PILLOW_BITMAP = "pillow-bitmap"

#: Classic 5×7 dot-matrix glyphs, one byte per column, bit 0 = top row.
_GLYPHS = {
    "0": (0x3E, 0x51, 0x49, 0x45, 0x3E), "1": (0x00, 0x42, 0x7F, 0x40, 0x00),
    "2": (0x42, 0x61, 0x51, 0x49, 0x46), "3": (0x21, 0x41, 0x45, 0x4B, 0x31),
    "4": (0x18, 0x14, 0x12, 0x7F, 0x10), "5": (0x27, 0x45, 0x45, 0x45, 0x39),
    "6": (0x3C, 0x4A, 0x49, 0x49, 0x30), "7": (0x01, 0x71, 0x09, 0x05, 0x03),
    "8": (0x36, 0x49, 0x49, 0x49, 0x36), "9": (0x06, 0x49, 0x49, 0x29, 0x1E),
    "A": (0x7E, 0x11, 0x11, 0x11, 0x7E), "B": (0x7F, 0x49, 0x49, 0x49, 0x36),
    "C": (0x3E, 0x41, 0x41, 0x41, 0x22), "D": (0x7F, 0x41, 0x41, 0x22, 0x1C),
    "E": (0x7F, 0x49, 0x49, 0x49, 0x41), "F": (0x7F, 0x09, 0x09, 0x01, 0x01),
    "G": (0x3E, 0x41, 0x41, 0x51, 0x32), "H": (0x7F, 0x08, 0x08, 0x08, 0x7F),
    "I": (0x00, 0x41, 0x7F, 0x41, 0x00), "J": (0x20, 0x40, 0x41, 0x3F, 0x01),
    "K": (0x7F, 0x08, 0x14, 0x22, 0x41), "L": (0x7F, 0x40, 0x40, 0x40, 0x40),
    "M": (0x7F, 0x02, 0x04, 0x02, 0x7F), "N": (0x7F, 0x04, 0x08, 0x10, 0x7F),
    "O": (0x3E, 0x41, 0x41, 0x41, 0x3E), "P": (0x7F, 0x09, 0x09, 0x09, 0x06),
    "Q": (0x3E, 0x41, 0x51, 0x21, 0x5E), "R": (0x7F, 0x09, 0x19, 0x29, 0x46),
    "S": (0x46, 0x49, 0x49, 0x49, 0x31), "T": (0x01, 0x01, 0x7F, 0x01, 0x01),
    "U": (0x3F, 0x40, 0x40, 0x40, 0x3F), "V": (0x1F, 0x20, 0x40, 0x20, 0x1F),
    "W": (0x7F, 0x20, 0x18, 0x20, 0x7F), "X": (0x63, 0x14, 0x08, 0x14, 0x63),
    "Y": (0x03, 0x04, 0x78, 0x04, 0x03), "Z": (0x61, 0x51, 0x49, 0x45, 0x43),
    ":": (0x00, 0x36, 0x36, 0x00, 0x00), ".": (0x00, 0x60, 0x60, 0x00, 0x00),
    "-": (0x08, 0x08, 0x08, 0x08, 0x08), "/": (0x20, 0x10, 0x08, 0x04, 0x02),
    ",": (0x00, 0x50, 0x30, 0x00, 0x00), "^": (0x04, 0x02, 0x01, 0x02, 0x04),
    "#": (0x14, 0x7F, 0x14, 0x7F, 0x14), " ": (0x00, 0x00, 0x00, 0x00, 0x00),
}  # fmt: skip

GIVEN = ("OLIVIA", "HUGO", "PRIYA", "MATEO", "INGRID", "KWAME", "LENA", "ARJUN", "SOFIA", "TOMASZ",
         "YUKI", "ELENA", "DMITRI", "AMARA", "BJORN", "CHLOE")  # fmt: skip
FAMILY = ("HALVORSEN", "OYELARAN", "VILLANUEVA", "KRISHNAN", "DUBOIS", "NAKAMURA", "PETROVIC",
          "ABERNATHY", "LINDQVIST", "MBEKI", "FITZGERALD", "CARVALHO", "WOJCIK", "ESPOSITO")  # fmt: skip
PLACES = ("MERCY GENERAL", "LAKESHORE RADIOLOGY", "ST ANSELM MEDICAL", "VALLEY IMAGING CTR",
          "HARBORVIEW CLINIC", "UNIV HOSPITAL EAST")  # fmt: skip

CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2"
MR_IMAGE = "1.2.840.10008.5.1.4.1.1.4"
ENHANCED_MR = "1.2.840.10008.5.1.4.1.1.4.1"
SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"
XA_IMAGE = "1.2.840.10008.5.1.4.1.1.12.1"
US_IMAGE = "1.2.840.10008.5.1.4.1.1.6.1"
VL_PHOTO = "1.2.840.10008.5.1.4.1.1.77.1.4"
CR_IMAGE = "1.2.840.10008.5.1.4.1.1.1"


@dataclass
class Plant:
    text: str
    kind: str  # "phi"
    box: tuple[int, int, int, int]  # x, y, w, h of the glyphs (and of the label box if boxed)
    frames: tuple[int, ...] | None  # None: every frame
    angle: float
    style: str  # font / colour / placement description (no effect on scoring)


@dataclass
class Instance:
    dataset: Dataset
    plants: list[Plant]
    ink: np.ndarray  # (F, R, C) bool: glyph pixels
    label: np.ndarray  # (F, R, C) bool: planted label areas (glyphs, their boxes)


@dataclass
class Case:
    name: str
    instances: list[Instance]
    meta: dict[str, Any] = field(default_factory=dict)


# --- bases ------------------------------------------------------------------------------------

#: (name, path under the public folder, kind); every base was looked at: none carries text.
BASES = (
    ("ct-head", "pypi-pydicom-data/693_UNCR.dcm", "ct"),
    ("ct-spine", "pypi-pydicom-data/bad_sequence.dcm", "ct"),
    ("ct-perfusion", "pypi-pydicom-data/eCT_Supplemental.dcm", "ct"),
    ("mr-shoulder", "pypi-pydicom-data/MR2_UNCR.dcm", "mr"),
    ("mr-brain-series", "neurolabusc+dcm_qa_uih/In/DTI_132225/t1_gre_fsp_3d_sag__132750", "mr-series"),
    ("mr-ge-series", "neurolabusc+dcm_qa_ge/In/05_3D_Ax_T1_MP_RAGE_R22", "mr-series"),
    ("cr-chest", "pypi-pydicom-data/RG1_UNCI.dcm", "cr"),
    ("pet-fusion", "microsoft+presidio/presidio-image-redactor/tests/test_data/RGB_ORIGINAL.dcm", "rgb"),
    ("doppler", "pypi-pydicom-data/color-px.dcm", "rgb"),
    ("photo", "pypi-deid-data/dicom-cookies/image3.dcm", "photo"),
)  # fmt: skip


def _series_files(folder: Path) -> list[Path]:
    files = []
    for path in sorted(folder.iterdir()):
        try:
            ds = pydicom.dcmread(path, stop_before_pixels=True)
        except (pydicom.errors.InvalidDicomError, OSError):  # non-DICOM files in example folders
            continue
        files.append((int(ds.get("InstanceNumber", 0) or 0), path))
    return [p for _, p in sorted(files)]


def load_base(public: Path, name: str, rng: np.random.Generator, frames: int = 1) -> np.ndarray:
    """Base pixels as float32 (F, R, C) grey or (F, R, C, 3) RGB, scaled 0..1."""
    _, rel, kind = next(b for b in BASES if b[0] == name)
    path = public / rel
    if kind == "mr-series":
        files = _series_files(path)
        start = int(rng.integers(0, max(1, len(files) - frames)))
        arrs = [pydicom.dcmread(p).pixel_array.astype(np.float32) for p in files[start : start + frames]]
        arr = np.stack(arrs)
    else:
        ds = pydicom.dcmread(path)
        arr = ds.pixel_array.astype(np.float32)
        if kind in ("rgb", "photo"):
            if str(ds.PhotometricInterpretation).startswith("YBR"):
                from pydicom.pixels import convert_color_space

                arr = convert_color_space(ds.pixel_array, str(ds.PhotometricInterpretation), "RGB")
                arr = arr.astype(np.float32)
            if kind == "photo":
                arr = np.asarray(Image.fromarray(arr.astype(np.uint8)).resize((1024, 768)), np.float32)
            arr = arr[None]
        else:
            if arr.ndim == 2:
                arr = arr[None]
            if str(ds.PhotometricInterpretation) == "MONOCHROME1":
                arr = arr.max() - arr
    lo, hi = np.percentile(arr, 0.5), np.percentile(arr, 99.8)
    arr = np.clip((arr - lo) / max(1e-6, hi - lo), 0.0, 1.0)
    if arr.shape[0] < frames:  # a single-frame base made into a cine: slow drift and noise
        base = arr[0]
        out = []
        for i in range(frames):
            shifted = np.roll(base, (int(3 * math.sin(i / 4)), int(2 * math.cos(i / 5))), axis=(0, 1))
            out.append(np.clip(shifted + rng.normal(0, 0.02, base.shape), 0, 1))
        arr = np.stack(out).astype(np.float32)
    return arr[:frames].astype(np.float32)


# --- text -------------------------------------------------------------------------------------


def phi_text(rng: np.random.Generator) -> str:
    given, family = str(rng.choice(GIVEN)), str(rng.choice(FAMILY))
    y, m, d = int(rng.integers(1931, 2024)), int(rng.integers(1, 13)), int(rng.integers(1, 29))
    num = "".join(str(int(v)) for v in rng.integers(0, 10, size=int(rng.integers(6, 11))))
    options = [
        f"{family}, {given}", f"{family}^{given}", f"{given} {family}", f"PID {num}",
        f"MRN:{num}", f"ACC# {num[:8]}", f"DOB {d:02d}/{m:02d}/{y}", f"{y}{m:02d}{d:02d}",
        f"{d:02d}-{['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'][m - 1]}-{y}",
        f"{int(rng.integers(0, 24)):02d}:{int(rng.integers(0, 60)):02d}:{int(rng.integers(0, 60)):02d}",
        str(rng.choice(PLACES)), f"{family} {given[0]}", f"Exam {num[:6]}",
    ]  # fmt: skip
    return str(options[int(rng.integers(0, len(options)))])


def render_glyphs(text: str, font_name: str, size: int, antialias: bool) -> np.ndarray:
    """Alpha 0..1 of ``text`` (no rotation), tight around the ink."""
    if font_name == BITMAP_5X7:
        scale = max(1, round(size / 7))
        cols: list[np.ndarray] = []
        for ch in text.upper():
            pattern = _GLYPHS.get(ch, _GLYPHS[" "])
            glyph = np.array([[(c >> r) & 1 for c in pattern] for r in range(7)], np.float32)
            cols.append(np.pad(glyph, ((0, 0), (0, 1))))
        alpha = np.concatenate(cols, axis=1).repeat(scale, 0).repeat(scale, 1)
    else:
        if font_name == PILLOW_BITMAP:
            font: Any = ImageFont.load_default_imagefont()
        else:
            font = ImageFont.truetype(font_name, size)
        probe = ImageDraw.Draw(Image.new("L", (1, 1)))
        left, top, right, bottom = probe.textbbox((0, 0), text, font=font)
        canvas = Image.new("L", (right - left + 6, bottom - top + 6), 0)
        draw = ImageDraw.Draw(canvas)
        draw.fontmode = "L" if antialias else "1"
        draw.text((3 - left, 3 - top), text, fill=255, font=font)
        alpha = np.asarray(canvas, np.float32) / 255.0
    ys, xs = np.nonzero(alpha > 0.05)
    return alpha[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]


def rotate_alpha(alpha: np.ndarray, angle: float) -> np.ndarray:
    if angle in (90.0, 270.0):
        return np.ascontiguousarray(np.rot90(alpha, k=1 if angle == 90.0 else 3))
    if not angle:
        return alpha
    img = Image.fromarray((alpha * 255).astype(np.uint8)).rotate(angle, Image.BILINEAR, expand=True)
    out = np.asarray(img, np.float32) / 255.0
    ys, xs = np.nonzero(out > 0.05)
    return out[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]


COLOURS = {
    "yellow": (1.0, 0.95, 0.2), "green": (0.3, 1.0, 0.3), "cyan": (0.3, 0.95, 1.0),
    "red": (1.0, 0.25, 0.2), "orange": (1.0, 0.6, 0.1), "magenta": (1.0, 0.3, 0.9),
    "white": (1.0, 1.0, 1.0), "grey": (0.7, 0.7, 0.7),
}  # fmt: skip


@dataclass
class Style:
    font: str
    size: int
    antialias: bool
    angle: float
    tone: str  # bright, grey, faint, coloured:<name>, inverse, boxed, dark
    place: str  # corner, edge, anatomy, anywhere

    def describe(self) -> str:
        font = Path(self.font).stem if "/" in self.font else self.font
        return f"{font} {self.size}px {'aa' if self.antialias else 'aliased'} {self.angle:g}deg {self.tone} {self.place}"


def pick_style(rng: np.random.Generator, colour: bool) -> Style:
    r = float(rng.random())
    font = BITMAP_5X7 if r < 0.12 else PILLOW_BITMAP if r < 0.17 else str(rng.choice(FONTS))
    size = round(math.exp(rng.uniform(math.log(7), math.log(40))))
    if font == PILLOW_BITMAP:
        size = 11
    elif font == BITMAP_5X7:
        size = int(rng.choice([7, 7, 14, 14, 21, 28]))
    a = float(rng.random())
    angle = 0.0 if a < 0.7 else float(rng.choice([90.0, 270.0])) if a < 0.85 else float(
        rng.choice([-1, 1]) * rng.uniform(3, 20))
    tones = ["bright", "bright", "grey", "faint", "inverse", "boxed", "dark"]
    if colour:
        tones += [f"coloured:{c}" for c in ("yellow", "green", "cyan", "red", "orange", "magenta")]
    tone = str(rng.choice(tones))
    place = str(rng.choice(["corner", "corner", "edge", "anatomy", "anywhere"]))
    return Style(font, size, bool(rng.random() < 0.8), angle, tone, place)


def place_label(rng: np.random.Generator, shape: tuple[int, int], h: int, w: int, place: str,
                taken: np.ndarray) -> tuple[int, int] | None:
    rows, cols = shape
    if h + 2 > rows or w + 2 > cols:
        return None
    for _ in range(60):
        if place == "corner":
            y = int(rng.choice([int(rng.integers(0, max(1, rows // 10))), rows - h - int(rng.integers(0, max(1, rows // 10)))]))
            x = int(rng.choice([int(rng.integers(0, max(1, cols // 10))), cols - w - int(rng.integers(0, max(1, cols // 10)))]))
        elif place == "edge":  # touching the image border
            side = int(rng.integers(0, 4))
            y = 0 if side == 0 else rows - h if side == 1 else int(rng.integers(0, rows - h))
            x = 0 if side == 2 else cols - w if side == 3 else int(rng.integers(0, cols - w))
        elif place == "anatomy":
            y = int(rng.integers(rows // 4, max(rows // 4 + 1, 3 * rows // 4 - h)))
            x = int(rng.integers(cols // 5, max(cols // 5 + 1, 4 * cols // 5 - w)))
        else:
            y, x = int(rng.integers(0, rows - h)), int(rng.integers(0, cols - w))
        y, x = max(0, min(rows - h, y)), max(0, min(cols - w, x))
        if not taken[max(0, y - 4) : y + h + 4, max(0, x - 4) : x + w + 4].any():
            return y, x
    return None


@dataclass
class LabelPlan:
    alpha: np.ndarray
    y: int
    x: int
    pad: int
    colour: Any
    fill: float | None  # label box value (inverse video / boxed), None: no box

    @property
    def box(self) -> tuple[int, int, int, int]:
        if self.pad:
            return (self.x, self.y, self.alpha.shape[1] + 2 * self.pad, self.alpha.shape[0] + 2 * self.pad)
        ys, xs = np.nonzero(self.alpha > 0.35)
        return (self.x + int(xs.min()), self.y + int(ys.min()), int(xs.max() - xs.min() + 1),
                int(ys.max() - ys.min() + 1))


def plan_label(image: np.ndarray, rng: np.random.Generator, text: str, style: Style,
               taken: np.ndarray, at: tuple[int, int] | None = None) -> LabelPlan | None:
    """Where and how ``text`` goes on ``image`` (R, C) or (R, C, 3) float 0..1."""
    alpha = rotate_alpha(render_glyphs(text, style.font, style.size, style.antialias), style.angle)
    pad = max(2, style.size // 4) if style.tone in ("inverse", "boxed") else 0
    h, w = alpha.shape[0] + 2 * pad, alpha.shape[1] + 2 * pad
    spot = at if at is not None else place_label(rng, image.shape[:2], h, w, style.place, taken)
    if spot is None or spot[0] + h > image.shape[0] or spot[1] + w > image.shape[1]:
        return None
    y, x = spot
    local = float(np.mean(image[y : y + h, x : x + w]))
    colour: Any
    fill: float | None = None
    if style.tone == "bright":
        colour = 1.0
    elif style.tone == "grey":
        colour = float(rng.uniform(0.55, 0.85))
    elif style.tone == "dark":
        colour = 0.0
    elif style.tone == "faint":  # 10-25 % of the range away from the local background
        delta = float(rng.uniform(0.10, 0.25))
        colour = local + delta if local < 0.6 else local - delta
    elif style.tone.startswith("coloured:"):
        colour = np.array(COLOURS[style.tone.split(":", 1)[1]], np.float32)
    elif style.tone == "inverse":  # light box, dark text
        fill, colour = float(rng.uniform(0.75, 1.0)), float(rng.uniform(0.0, 0.15))
    else:  # boxed: dark box, bright text
        fill, colour = float(rng.uniform(0.0, 0.12)), 1.0
    if fill is None and not isinstance(colour, np.ndarray) and style.tone != "faint" and abs(colour - local) < 0.3:
        colour = 1.0 if local < 0.5 else 0.0  # never plant invisible text: keep a visible contrast
    taken[y : y + h, x : x + w] = True
    return LabelPlan(alpha, y, x, pad, colour, fill)


def apply_label(image: np.ndarray, plan: LabelPlan) -> tuple[np.ndarray, np.ndarray]:
    """Composite the label into ``image`` in place; (ink mask, label mask)."""
    h, w = plan.alpha.shape[0] + 2 * plan.pad, plan.alpha.shape[1] + 2 * plan.pad
    y, x, pad = plan.y, plan.x, plan.pad
    if plan.fill is not None:
        image[y : y + h, x : x + w] = plan.fill
    a = plan.alpha if image.ndim == 2 else plan.alpha[..., None]
    inner = image[y + pad : y + pad + plan.alpha.shape[0], x + pad : x + pad + plan.alpha.shape[1]]
    inner[...] = inner * (1 - a) + np.asarray(plan.colour, np.float32) * a
    ink = np.zeros(image.shape[:2], bool)
    ink[y + pad : y + pad + plan.alpha.shape[0], x + pad : x + pad + plan.alpha.shape[1]] = plan.alpha > 0.35
    label = np.zeros(image.shape[:2], bool)
    label[y : y + h, x : x + w] = True
    return ink, label


# --- encoding ---------------------------------------------------------------------------------


def _palette() -> tuple[np.ndarray, np.ndarray]:
    """A 256-entry palette: a grey ramp (0-199) and saturated colours (200-255)."""
    lut = np.zeros((256, 3), np.float32)
    lut[:200] = np.linspace(0, 1, 200)[:, None]
    hues = list(COLOURS.values())
    for i in range(200, 256):
        lut[i] = hues[(i - 200) % len(hues)]
    return lut, (lut * 65535).round().astype(np.uint16)


def to_stored(frames: np.ndarray, photometric: str, bits: int, signed: bool
              ) -> tuple[np.ndarray, dict[str, Any]]:
    """float 0..1 frames → stored values for ``photometric`` (and header attributes)."""
    attrs: dict[str, Any] = {}
    if photometric in ("MONOCHROME1", "MONOCHROME2"):
        grey = frames if frames.ndim == 3 else frames @ np.array([0.299, 0.587, 0.114], np.float32)
        if photometric == "MONOCHROME1":
            grey = 1.0 - grey
        top = (1 << bits) - 1
        if signed:
            lo = -(1 << (bits - 1))
            values = np.round(lo + grey * top).astype(np.int16 if bits > 8 else np.int8)
        else:
            values = np.round(grey * top).astype(np.uint16 if bits > 8 else np.uint8)
        return values, attrs
    rgb = frames if frames.ndim == 4 else np.repeat(frames[..., None], 3, axis=-1)
    if photometric == "RGB":
        return np.round(rgb * 255).astype(np.uint8), attrs
    if photometric == "YBR_FULL":
        r, g, b = (rgb[..., i] * 255 for i in range(3))
        y = 0.299 * r + 0.587 * g + 0.114 * b
        cb = -0.168736 * r - 0.331264 * g + 0.5 * b + 128
        cr = 0.5 * r - 0.418688 * g - 0.081312 * b + 128
        return np.clip(np.round(np.stack([y, cb, cr], -1)), 0, 255).astype(np.uint8), attrs
    # PALETTE COLOR: nearest palette entry
    lut, lut16 = _palette()
    flat = rgb.reshape(-1, 3)
    index = np.empty(len(flat), np.uint8)
    for start in range(0, len(flat), 65536):
        chunk = flat[start : start + 65536]
        d = ((chunk[:, None, :] - lut[None]) ** 2).sum(-1)
        index[start : start + 65536] = d.argmin(1)
    attrs["palette"] = lut16
    return index.reshape(rgb.shape[:-1]), attrs


def build_dataset(stored: np.ndarray, photometric: str, bits: int, signed: bool, sop_class: str,
                  modality: str, series: tuple[str, str], number: int, syntax: UID,
                  attrs: dict[str, Any], enhanced: bool = False) -> Dataset:
    frames = stored.shape[0]
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = sop_class
    ds.StudyInstanceUID, ds.SeriesInstanceUID = series
    ds.Modality = modality
    ds.PatientName, ds.PatientID = "SYNTH^CASE", "SYNTH0001"
    ds.StudyDate, ds.SeriesNumber, ds.InstanceNumber = "20240102", 1, number
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"] if modality in ("CT", "MR") else ["DERIVED", "SECONDARY"]
    ds.Rows, ds.Columns = stored.shape[1], stored.shape[2]
    samples = 3 if stored.ndim == 4 else 1
    ds.SamplesPerPixel = samples
    ds.PhotometricInterpretation = photometric
    if samples == 3:
        ds.PlanarConfiguration = 0
    ds.BitsAllocated = 8 if stored.dtype.itemsize == 1 else 16
    ds.BitsStored, ds.HighBit = bits, bits - 1
    ds.PixelRepresentation = 1 if signed else 0
    if frames > 1:
        ds.NumberOfFrames = frames
    if photometric.startswith("MONO") and bits > 8:
        top = (1 << bits) - 1
        ds.RescaleIntercept, ds.RescaleSlope = (-1024 if modality == "CT" else 0), 1
        ds.WindowCenter, ds.WindowWidth = int(top * 0.3), int(top * 0.25)  # anatomy window
    if "palette" in attrs:
        lut = attrs["palette"]
        for i, colour in enumerate(("Red", "Green", "Blue")):
            setattr(ds, f"{colour}PaletteColorLookupTableDescriptor", [256, 0, 16])
            ds[f"{colour}PaletteColorLookupTableData"] = pydicom.DataElement(
                {0: 0x00281201, 1: 0x00281202, 2: 0x00281203}[i], "OW", lut[:, i].astype("<u2").tobytes())
    if enhanced:
        ds.ImageType = ["ORIGINAL", "PRIMARY", "M_SE", "NONE"]
        shared = Dataset()
        measures = Dataset()
        measures.PixelSpacing, measures.SliceThickness = [1.0, 1.0], 1.0
        shared.PixelMeasuresSequence = [measures]
        ds.SharedFunctionalGroupsSequence = [shared]
        per_frame = []
        for i in range(frames):
            item = Dataset()
            content = Dataset()
            content.DimensionIndexValues = [i + 1]
            item.FrameContentSequence = [content]
            position = Dataset()
            position.ImagePositionPatient = [0.0, 0.0, float(i)]
            item.PlanePositionSequence = [position]
            voi = Dataset()  # per-frame windows that differ frame to frame
            voi.WindowCenter, voi.WindowWidth = 200 + 20 * i, 400 + 15 * i
            item.FrameVOILUTSequence = [voi]
            per_frame.append(item)
        ds.PerFrameFunctionalGroupsSequence = per_frame
    data = np.ascontiguousarray(stored)
    ds.PixelData = data.tobytes()
    if syntax != ExplicitVRLittleEndian:
        ds.compress(syntax, data if frames > 1 else data[0], generate_instance_uid=False)
    return ds


# --- cases ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Layout:
    base: str
    photometric: str
    bits: int
    signed: bool
    sop_class: str
    modality: str
    frames: int = 1
    instances: int = 1
    temporal: str = "static"  # static, per-frame, some-frames, one-frame
    enhanced: bool = False


LAYOUTS = (
    Layout("ct-head", "MONOCHROME2", 16, True, CT_IMAGE, "CT"),
    Layout("ct-spine", "MONOCHROME2", 12, False, CT_IMAGE, "CT"),
    Layout("ct-head", "MONOCHROME1", 12, False, CT_IMAGE, "CT"),
    Layout("ct-perfusion", "MONOCHROME2", 16, False, CT_IMAGE, "CT", instances=4),
    Layout("mr-shoulder", "MONOCHROME2", 12, False, MR_IMAGE, "MR"),
    Layout("mr-brain-series", "MONOCHROME2", 16, True, MR_IMAGE, "MR", instances=5),
    Layout("mr-ge-series", "MONOCHROME2", 16, False, ENHANCED_MR, "MR", frames=20, enhanced=True,
           temporal="per-frame"),
    Layout("mr-brain-series", "MONOCHROME2", 8, False, XA_IMAGE, "XA", frames=24, temporal="some-frames"),
    Layout("mr-ge-series", "MONOCHROME2", 8, False, XA_IMAGE, "XA", frames=60, temporal="one-frame"),
    Layout("cr-chest", "MONOCHROME1", 15, False, CR_IMAGE, "CR"),
    Layout("cr-chest", "MONOCHROME2", 12, False, SECONDARY_CAPTURE, "OT"),
    Layout("pet-fusion", "RGB", 8, False, SECONDARY_CAPTURE, "PT"),
    Layout("pet-fusion", "YBR_FULL", 8, False, SECONDARY_CAPTURE, "OT"),
    Layout("doppler", "PALETTE COLOR", 8, False, US_IMAGE, "US"),
    Layout("doppler", "RGB", 8, False, US_IMAGE, "US", frames=16, temporal="per-frame"),
    Layout("photo", "YBR_FULL", 8, False, VL_PHOTO, "XC"),
    Layout("mr-shoulder", "PALETTE COLOR", 8, False, SECONDARY_CAPTURE, "OT"),
)  # fmt: skip

_SYNTAXES = (ExplicitVRLittleEndian, ExplicitVRLittleEndian, RLELossless, JPEGLSLossless, JPEG2000Lossless)


def _syntax_for(rng: np.random.Generator, photometric: str, bits: int, signed: bool) -> UID:
    syntax = _SYNTAXES[int(rng.integers(0, len(_SYNTAXES)))]
    if photometric in ("YBR_FULL", "PALETTE COLOR") and syntax in (JPEGLSLossless, JPEG2000Lossless):
        return RLELossless
    if signed and syntax == JPEGLSLossless:
        return RLELossless
    return syntax


def make_case(public: Path, index: int, rng: np.random.Generator) -> Case:
    layout = LAYOUTS[index % len(LAYOUTS)]
    colour = layout.photometric in ("RGB", "YBR_FULL", "PALETTE COLOR")
    per_instance = max(layout.frames, 1)
    base = load_base(public, layout.base, rng, frames=per_instance * layout.instances)
    if layout.instances > 1 and base.shape[0] < per_instance * layout.instances:
        base = np.concatenate([base] * layout.instances)[: per_instance * layout.instances]
    if colour and base.ndim == 3:
        base = np.repeat(base[..., None], 3, axis=-1)
    if layout.photometric in ("MONOCHROME1", "MONOCHROME2") and layout.bits > 8 and rng.random() < 0.5:
        # wide window: anatomy squeezed into the low half of the range by a few bright outliers
        base = base * float(rng.uniform(0.3, 0.6))
        spots = rng.integers(0, base.shape[1], size=(6, 2))
        for y, x in spots:
            base[:, y : y + 3, x : x + 3] = 1.0
    series = (generate_uid(), generate_uid())
    syntax = _syntax_for(rng, layout.photometric, layout.bits, layout.signed)
    # the scanner's text: the same labels on every instance of the series (per-instance counter)
    shared_styles = [pick_style(rng, colour) for _ in range(int(rng.integers(1, 5)))]
    shared_texts = [phi_text(rng) for _ in shared_styles]
    instances = []
    for number in range(layout.instances):
        frames = base[number * per_instance : (number + 1) * per_instance].copy()
        count, rows, cols = frames.shape[:3]
        ink = np.zeros((count, rows, cols), bool)
        label = np.zeros((count, rows, cols), bool)
        plants: list[Plant] = []
        taken = np.zeros((rows, cols), bool)
        local_rng = np.random.default_rng(int(rng.integers(0, 2**31)))
        for text, style in zip(shared_texts, shared_styles, strict=True):
            which = _frames_for(layout.temporal, count, local_rng)
            clock = layout.temporal == "per-frame" and count > 1 and style is shared_styles[0]
            first = f"{10:02d}:{0:02d}:{0:02d}" if clock else text
            plan = plan_label(frames[which[0]], local_rng, first, style, taken)
            if plan is None:
                continue
            for f in which:
                label_text = f"{10 + f // 60:02d}:{f % 60:02d}:{(7 * f) % 60:02d}" if clock else text
                frame_plan = plan
                if clock:  # a clock that changes on every frame, drawn at one place
                    frame_plan = plan_label(frames[f], local_rng, label_text, style,
                                            np.zeros((rows, cols), bool), at=(plan.y, plan.x)) or plan
                m, lab = apply_label(frames[f], frame_plan)
                ink[f] |= m
                label[f] |= lab
                if clock:
                    plants.append(Plant(label_text, "phi", frame_plan.box, (f,), style.angle, style.describe()))
            if not clock:
                frame_list = None if len(which) == count else tuple(which)
                plants.append(Plant(text, "phi", plan.box, frame_list, style.angle, style.describe()))
        stored, attrs = to_stored(frames, layout.photometric, layout.bits, layout.signed)
        ds = build_dataset(stored, layout.photometric, layout.bits, layout.signed, layout.sop_class,
                           layout.modality, series, number + 1, syntax, attrs, layout.enhanced)
        instances.append(Instance(ds, plants, ink, label))
    meta = {"layout": layout.__dict__, "syntax": syntax.name, "series_instances": layout.instances}
    return Case(f"case{index:03d}-{layout.modality.lower()}-{layout.base}", instances, meta)


def _frames_for(temporal: str, count: int, rng: np.random.Generator) -> list[int]:
    if count == 1 or temporal in ("static", "per-frame"):
        return list(range(count))
    if temporal == "one-frame":
        return [int(rng.integers(0, count))]
    start = int(rng.integers(0, count // 2))
    return list(range(start, min(count, start + int(rng.integers(3, count // 2 + 2)))))


def make_cases(public: Path, count: int, seed: int) -> list[Case]:
    """``count`` cases for ``seed``; the layout cycles, everything else is drawn from the seed."""
    rng = np.random.default_rng(seed)
    offset = int(rng.integers(0, len(LAYOUTS)))
    return [make_case(public, offset + i, np.random.default_rng([seed, i])) for i in range(count)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("public", type=Path, help="folder of public DICOM (e.g. ../public_dicom beside the checkout)")
    parser.add_argument("--seed", type=int, default=1001)
    parser.add_argument("--count", type=int, default=34)
    parser.add_argument("--out", type=Path, default=Path("bench_out/synth"))
    args = parser.parse_args(argv)
    truth = []
    for case in make_cases(args.public, args.count, args.seed):
        folder = args.out / case.name
        folder.mkdir(parents=True, exist_ok=True)
        for i, inst in enumerate(case.instances):
            inst.dataset.save_as(folder / f"IM{i:04d}.dcm", enforce_file_format=True)
            truth.append({"file": f"{case.name}/IM{i:04d}.dcm", "meta": case.meta,
                          "plants": [p.__dict__ for p in inst.plants]})
    (args.out / "truth.json").write_text(json.dumps(truth, indent=1, default=str))
    print(f"{len(truth)} instances in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
