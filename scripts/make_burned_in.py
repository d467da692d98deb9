"""Render synthetic PHI text into real pydicom test images, with the truth of where it is.

Usage::

    python scripts/make_burned_in.py --count 120 --seed 7 --out bench_out/burned_in

writes ``case_NNN.dcm`` plus ``truth.json`` (label rectangles, frames, text).  The same
functions are imported by ``scripts/bench_redaction.py`` and ``tests/pixel_fixtures.py``
(which keeps the masks in memory instead of files).

What varies: fonts (DejaVu Sans/Serif/Mono/Condensed/Bold/Oblique, Pillow's Aileron and its
aliased bitmap font), sizes 8-40 px, grey levels and colours (including faint text at
20-30 % of the range from its local background), boxed or bare labels, anti-aliased or aliased, rotation (0, ±12°,
90°), corners and mid-image, and the image: CT/MR/NM 16-bit signed and unsigned, 12-bit,
8-bit grey, MONOCHROME1, RGB ultrasound, PALETTE COLOR, multi-frame cine with static and
per-frame text; stored natively or as RLE, JPEG-LS, JPEG 2000 lossless or JPEG baseline.
"""

from __future__ import annotations

import argparse
import copy
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pydicom.data
from PIL import Image, ImageDraw, ImageFont
from pydicom.dataset import Dataset
from pydicom.encaps import encapsulate
from pydicom.pixels import apply_color_lut
from pydicom.uid import (
    ExplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGLSLossless,
    RLELossless,
    generate_uid,
)

TEST_FILES = Path(pydicom.data.__file__).parent / "test_files"
FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
FONT_FILES = (
    "DejaVuSans.ttf",
    "DejaVuSerif.ttf",
    "DejaVuSansMono.ttf",
    "DejaVuSansCondensed.ttf",
    "DejaVuSans-Bold.ttf",
    "DejaVuSans-Oblique.ttf",
    "DejaVuSansMono-Bold.ttf",
)
SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"

FIRST = ("JANE", "JOHN", "MARIA", "WEI", "AHMED", "OLGA", "PEDRO", "FATIMA", "KENJI", "ANNA")
LAST = ("DOE", "SMITH", "NGUYEN", "GARCIA", "MULLER", "OKAFOR", "ROSSI", "TANAKA", "KOWALSKI")
SITES = ("ST MARY HOSPITAL", "CITY MEDICAL CTR", "NORTHSIDE CLINIC", "RIVERVIEW IMAGING")


#: Text already burned into the real base images (x, y, width, height), annotated by eye
#: on the rendered images.  It is real PHI-free device text; scoring does not count its
#: redaction as over-redaction, and planted labels are placed away from it.
EXISTING_TEXT: dict[str, tuple[tuple[int, int, int, int], ...]] = {
    "us_rgb": ((10, 20, 170, 90), (270, 18, 100, 40), (490, 20, 150, 90), (0, 130, 45, 20),
               (0, 210, 45, 25), (595, 130, 45, 20), (595, 210, 45, 25), (240, 355, 130, 25),
               (390, 450, 250, 30), (60, 440, 200, 20)),
    "palette": ((0, 0, 800, 55), (0, 60, 110, 200), (120, 80, 200, 25), (775, 80, 25, 250),
                (440, 280, 70, 30), (305, 58, 30, 25)),
    "cine_rgb": ((0, 0, 90, 60), (570, 20, 70, 180), (560, 390, 50, 30), (70, 450, 500, 30),
                 (365, 30, 25, 20)),
}  # fmt: skip
EXISTING_TEXT["us_grey8"] = EXISTING_TEXT["us_rgb"]
EXISTING_TEXT["cine_grey"] = EXISTING_TEXT["cine_rgb"]


@dataclass
class Planted:
    text: str
    box: tuple[int, int, int, int]  # label rectangle x, y, width, height (text + its box)
    frames: tuple[int, ...] | None  # None: on every frame
    angle: float
    size: int


@dataclass
class Case:
    name: str
    dataset: Dataset
    planted: list[Planted]
    text_mask: np.ndarray  # (F, R, C) bool: pixels carrying glyph ink
    label_mask: np.ndarray  # (F, R, C) bool: label rectangles (text + box)
    meta: dict[str, Any] = field(default_factory=dict)


# --- text -------------------------------------------------------------------------------


def phi_string(rng: np.random.Generator) -> str:
    kind = int(rng.integers(0, 9))
    first, last = str(rng.choice(FIRST)), str(rng.choice(LAST))
    y, m, d = int(rng.integers(1935, 2025)), int(rng.integers(1, 13)), int(rng.integers(1, 29))
    digits = "".join(str(int(v)) for v in rng.integers(0, 10, size=int(rng.integers(6, 10))))
    return [
        f"{last}^{first}",
        f"{last}, {first}",
        f"MRN {digits}",
        f"ID:{digits}",
        f"{y:04d}-{m:02d}-{d:02d}",
        f"{m:02d}/{d:02d}/{y:04d} {int(rng.integers(0, 24)):02d}:{int(rng.integers(0, 60)):02d}",
        f"DOB {d:02d}.{m:02d}.{y:04d}",
        str(rng.choice(SITES)),
        f"ACC {digits[:7]}",
    ][kind]


def load_font(rng: np.random.Generator, size: int) -> tuple[Any, str]:
    pick = int(rng.integers(0, len(FONT_FILES) + 2))
    if pick < len(FONT_FILES) and (FONT_DIR / FONT_FILES[pick]).exists():
        return ImageFont.truetype(str(FONT_DIR / FONT_FILES[pick]), size), FONT_FILES[pick]
    if pick == len(FONT_FILES) + 1 and size <= 12:
        return ImageFont.load_default_imagefont(), "pillow-bitmap"
    return ImageFont.load_default(size), "pillow-aileron"


def render_alpha(text: str, font: Any, angle: float, antialias: bool) -> np.ndarray:
    """Float alpha (0..1) of ``text`` on a tight canvas, rotated by ``angle`` degrees."""
    probe = ImageDraw.Draw(Image.new("L", (1, 1)))
    left, top, right, bottom = probe.textbbox((0, 0), text, font=font)
    canvas = Image.new("L", (right - left + 4, bottom - top + 4), 0)
    draw = ImageDraw.Draw(canvas)
    draw.fontmode = "L" if antialias else "1"
    draw.text((2 - left, 2 - top), text, fill=255, font=font)
    if angle:
        canvas = canvas.rotate(
            angle, resample=Image.BILINEAR if antialias else Image.NEAREST, expand=True
        )
    alpha = np.asarray(canvas, dtype=np.float32) / 255.0
    ys, xs = np.nonzero(alpha > 0.02)
    return alpha[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]


# --- base images ------------------------------------------------------------------------


def _upscale(arr: np.ndarray, factor: int) -> np.ndarray:
    return arr.repeat(factor, axis=-2 if arr.ndim == 2 else -3).repeat(
        factor, axis=-1 if arr.ndim == 2 else -2
    )


def base_image(kind: str) -> tuple[Dataset, np.ndarray, dict[str, Any]]:
    """(header template, stored frames F×R×C[×3], pixel facts) for a named base."""
    if kind in ("ct16", "ct12", "mono1"):
        ds = pydicom.dcmread(TEST_FILES / "CT_small.dcm")
        arr = _upscale(ds.pixel_array, 4)[None]
        if kind == "ct12":
            a = arr.astype(np.float64)
            arr = ((a - a.min()) / (a.max() - a.min()) * 4095).astype(np.uint16)
            return ds, arr, {"photometric": "MONOCHROME2", "bits": 12, "signed": False}
        if kind == "mono1":
            arr = (arr.max() + arr.min() - arr).astype(np.int16)
            return ds, arr, {"photometric": "MONOCHROME1", "bits": 16, "signed": True}
        return ds, arr.astype(np.int16), {"photometric": "MONOCHROME2", "bits": 16, "signed": True}
    if kind == "mr16":
        ds = pydicom.dcmread(TEST_FILES / "MR_small.dcm")
        arr = _upscale(ds.pixel_array, 8)[None].astype(np.int16)
        return ds, arr, {"photometric": "MONOCHROME2", "bits": 16, "signed": True}
    if kind == "nm16":
        ds = pydicom.dcmread(TEST_FILES / "JPEG2000.dcm")
        arr = ds.pixel_array.astype(np.uint16)[None]
        return ds, arr, {"photometric": "MONOCHROME2", "bits": 16, "signed": False}
    if kind in ("us_rgb", "us_grey8"):
        ds = pydicom.dcmread(TEST_FILES / "examples_jpeg2k.dcm")
        rgb = ds.pixel_array[None]
        if kind == "us_grey8":
            grey = (rgb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)).round()
            return (
                ds,
                grey.astype(np.uint8),
                {"photometric": "MONOCHROME2", "bits": 8, "signed": False},
            )
        return ds, rgb.astype(np.uint8), {"photometric": "RGB", "bits": 8, "signed": False}
    if kind == "palette":
        ds = pydicom.dcmread(TEST_FILES / "examples_palette.dcm")
        return (
            ds,
            ds.pixel_array[None],
            {"photometric": "PALETTE COLOR", "bits": 8, "signed": False},
        )
    if kind in ("cine_rgb", "cine_grey"):
        ds = pydicom.dcmread(TEST_FILES / "examples_ybr_color.dcm")
        rgb = _upscale(ds.pixel_array, 2)  # 30 × 480 × 640 × 3, already RGB
        if kind == "cine_grey":
            grey = (rgb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)).round()
            return (
                ds,
                grey.astype(np.uint8),
                {"photometric": "MONOCHROME2", "bits": 8, "signed": False},
            )
        return ds, rgb.astype(np.uint8), {"photometric": "RGB", "bits": 8, "signed": False}
    raise ValueError(kind)


def _levels(arr: np.ndarray, facts: dict[str, Any]) -> tuple[float, float]:
    """Stored values rendering darkest and brightest (MONOCHROME1 is inverted)."""
    if facts["photometric"] in ("RGB", "PALETTE COLOR"):
        return 0.0, 255.0
    lo, hi = float(arr.min()), float(arr.max())
    return (hi, lo) if facts["photometric"] == "MONOCHROME1" else (lo, hi)


# --- planting ---------------------------------------------------------------------------


def _ink_value(
    rng: np.random.Generator, facts: dict[str, Any], dark: float, bright: float, level: float
) -> Any:
    if facts["photometric"] == "RGB":
        colours = ((255, 255, 255), (255, 255, 0), (0, 255, 0), (0, 255, 255), (255, 128, 0))
        colour = np.array(colours[int(rng.integers(0, len(colours)))], np.float32)
        luminance = float(colour @ np.array([0.299, 0.587, 0.114], np.float32)) / 255.0
        return (
            np.clip(colour * (level / max(luminance, 1e-3)), 0, 255) if level > 0.15 else colour * 0
        )
    return dark + (bright - dark) * level


def _brightness(
    region: np.ndarray, facts: dict[str, Any], dark: float, bright: float, lut: np.ndarray | None
) -> np.ndarray:
    """Display brightness 0..1 of stored values (luminance for colour, palette applied)."""
    if lut is not None:
        region = lut[region.astype(np.int64).clip(0, len(lut) - 1)].astype(np.float32)
    if region.ndim == 3:
        return (region.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)) / 255.0
    return (region.astype(np.float32) - dark) / (bright - dark)


def _place(
    rng: np.random.Generator,
    shape: tuple[int, int],
    size: tuple[int, int],
    taken: list[tuple[int, int, int, int]],
    where: str,
) -> tuple[int, int] | None:
    rows, columns = shape
    h, w = size
    if h + 8 > rows or w + 8 > columns:
        return None
    for _ in range(40):
        if where == "corner":
            corner = int(rng.integers(0, 4))
            x = 4 if corner in (0, 2) else columns - w - 4
            y = 4 if corner in (0, 1) else rows - h - 4
            x += int(rng.integers(0, 12)) * (1 if corner in (0, 2) else -1)
            y += int(rng.integers(0, max(1, rows // 4 - h))) * (1 if corner in (0, 1) else -1)
        else:
            x = int(rng.integers(4, columns - w - 4))
            y = int(rng.integers(4, rows - h - 4))
        x, y = min(max(0, x), columns - w), min(max(0, y), rows - h)
        rect = (x - 6, y - 6, w + 12, h + 12)
        if all(_apart(rect, t) for t in taken):
            taken.append(rect)
            return x, y
    return None


def _apart(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return a[0] + a[2] <= b[0] or b[0] + b[2] <= a[0] or a[1] + a[3] <= b[1] or b[1] + b[3] <= a[1]


def plant_text(
    frames: np.ndarray,
    facts: dict[str, Any],
    rng: np.random.Generator,
    *,
    items: int,
    per_frame: bool = False,
    palette_lut: np.ndarray | None = None,
    sizes: tuple[int, int] = (8, 40),
    existing: tuple[tuple[int, int, int, int], ...] = (),
) -> tuple[np.ndarray, list[Planted], np.ndarray, np.ndarray]:
    """Draw ``items`` labels (plus a per-frame timestamp/counter when ``per_frame``)."""
    count, rows, columns = frames.shape[:3]
    work = frames.astype(np.float32)
    text_mask = np.zeros((count, rows, columns), bool)
    label_mask = np.zeros((count, rows, columns), bool)
    dark, bright = _levels(frames, facts)
    taken: list[tuple[int, int, int, int]] = list(existing)
    planted: list[Planted] = []
    specs: list[tuple[str, tuple[int, ...] | None]] = [
        (phi_string(rng), None) for _ in range(items)
    ]
    if per_frame and count > 1:
        specs.append(("__clock__", None))
    for text, _ in specs:
        size = (
            int(rng.integers(sizes[0], sizes[1] + 1))
            if rng.random() < 0.6
            else int(rng.integers(sizes[0], 15))
        )
        font, _face = load_font(rng, size)
        roll = rng.random()
        angle = 0.0 if roll < 0.75 else (90.0 if roll < 0.85 else float(rng.choice([-12.0, 12.0])))
        clock = text == "__clock__"
        if clock:
            angle = 0.0
        antialias = rng.random() < 0.8
        boxed = rng.random() < 0.3
        faint = rng.random() < 0.2 and not boxed
        sample = "88:88:88.888 F 888/888" if clock else text
        alpha0 = render_alpha(sample, font, angle, antialias)
        pad = 3 if boxed else 0
        where = "corner" if rng.random() < 0.6 or clock else "mid"
        spot = _place(
            rng,
            (rows, columns),
            (alpha0.shape[0] + 2 * pad, alpha0.shape[1] + 2 * pad),
            taken,
            where,
        )
        if spot is None:
            continue
        x, y = spot
        h0, w0 = alpha0.shape
        under = _brightness(
            work[0, y + pad : y + pad + h0, x + pad : x + pad + w0],
            facts,
            dark,
            bright,
            palette_lut,
        )
        glyph = alpha0 >= 0.3
        bg = float(np.median(under[glyph])) if glyph.any() else 0.0
        if boxed:  # a backing box is drawn dark; the text on it is bright
            level = float(rng.uniform(0.85, 1.0))
        elif faint:  # visible but low contrast: 20-30 % of the range from the local background
            contrast = float(rng.uniform(0.2, 0.3))
            level = bg + contrast if bg + contrast <= 1.0 else bg - contrast
        else:
            level = float(rng.uniform(0.85, 1.0)) if bg < 0.6 else float(rng.uniform(0.0, 0.1))
        # a label must be legible: where the image under the glyphs is as bright as the ink,
        # devices draw a backing box, and so does the generator
        if not boxed and glyph.any() and float((np.abs(under[glyph] - level) < 0.12).mean()) > 0.05:
            boxed, faint, level = True, False, float(rng.uniform(0.85, 1.0))
            pad = 3
            if x + w0 + 2 * pad > columns or y + h0 + 2 * pad > rows:
                continue
        ink = _ink_value(rng, facts, dark, bright, level)
        box_level = dark
        if palette_lut is not None:
            grey = int(255 * level)
            ink = float(_nearest_palette(palette_lut, (grey, grey, grey)))
            box_level = float(_nearest_palette(palette_lut, (0, 0, 0)))
        ux1, uy1 = x, y
        alpha = alpha0
        for f in range(count):
            label = text
            if clock:
                label = f"{10 + f // 60 % 50:02d}:{f % 60:02d}:{(7 * f) % 60:02d}.{(37 * f) % 1000:03d} F {f + 1}/{count}"
                alpha = render_alpha(label, font, angle, antialias)
            h, w = alpha.shape
            if boxed:
                work[f, y : y + h + 2 * pad, x : x + w + 2 * pad] = box_level
            tx, ty = x + pad, y + pad
            region = work[f, ty : ty + h, tx : tx + w]
            a = alpha[..., None] if region.ndim == 3 else alpha
            if palette_lut is not None:
                a = (a >= 0.5).astype(np.float32)  # palette indices cannot be blended
            work[f, ty : ty + h, tx : tx + w] = region * (1 - a) + np.asarray(ink) * a
            text_mask[f, ty : ty + h, tx : tx + w] |= alpha >= 0.3
            label_mask[f, y : y + h + 2 * pad, x : x + w + 2 * pad] = True
            ux1, uy1 = max(ux1, x + w + 2 * pad), max(uy1, y + h + 2 * pad)
        planted.append(
            Planted(
                text=text if not clock else "clock",
                box=(x, y, ux1 - x, uy1 - y),
                frames=None,
                angle=angle,
                size=size,
            )
        )
    low, high = _range(facts)
    out = np.clip(np.rint(work), low, high).astype(frames.dtype)
    return out, planted, text_mask, label_mask


def _range(facts: dict[str, Any]) -> tuple[int, int]:
    bits = facts["bits"]
    return (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if facts["signed"] else (0, (1 << bits) - 1)


def _nearest_palette(lut: np.ndarray, colour: tuple[int, int, int]) -> int:
    return int(
        np.argmin(((lut.astype(np.float32) - np.array(colour, np.float32)) ** 2).sum(axis=1))
    )


# --- datasets ---------------------------------------------------------------------------


def build_dataset(
    template: Dataset, frames: np.ndarray, facts: dict[str, Any], syntax: str, modality: str
) -> Dataset:
    ds = copy.deepcopy(template)
    for keyword in ("PixelData", "NumberOfFrames", "FrameIncrementPointer", "PlanarConfiguration",
                    "WindowCenter", "WindowWidth", "SmallestImagePixelValue", "LargestImagePixelValue",
                    "LossyImageCompression", "LossyImageCompressionRatio", "LossyImageCompressionMethod"):  # fmt: skip
        if keyword in ds:
            delattr(ds, keyword)
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = SECONDARY_CAPTURE
    ds.file_meta.MediaStorageSOPClassUID = SECONDARY_CAPTURE
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.Modality = modality
    ds.BurnedInAnnotation = "YES"
    if "SequenceOfUltrasoundRegions" in ds:
        del ds.SequenceOfUltrasoundRegions  # detection is measured, not the region rule
    arr = frames if frames.shape[0] > 1 else frames[0]
    if facts["photometric"] == "PALETTE COLOR":
        ds.PixelData = arr.astype(np.uint8).tobytes()
        ds.Rows, ds.Columns = arr.shape[-2:]
        if frames.shape[0] > 1:
            ds.NumberOfFrames = frames.shape[0]
    else:
        dtype = {
            (8, False): np.uint8,
            (12, False): np.uint16,
            (16, False): np.uint16,
            (16, True): np.int16,
        }
        ds.set_pixel_data(
            arr.astype(dtype[(facts["bits"], facts["signed"])]),
            facts["photometric"],
            facts["bits"],
            generate_instance_uid=False,
        )
    if syntax == JPEGBaseline8Bit:
        _jpeg_baseline(ds, frames, facts)
    elif syntax != ExplicitVRLittleEndian:
        ds.compress(syntax, generate_instance_uid=False)
    return ds


def _jpeg_baseline(ds: Dataset, frames: np.ndarray, facts: dict[str, Any]) -> None:
    streams = []
    for frame in frames:
        image = Image.fromarray(frame.astype(np.uint8))
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=92, subsampling=1)  # 4:2:2
        streams.append(buffer.getvalue())
    ds.PixelData = encapsulate(streams)
    ds["PixelData"].VR = "OB"
    ds["PixelData"].is_undefined_length = True
    ds.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
    if facts["photometric"] == "RGB":
        ds.PhotometricInterpretation = "YBR_FULL_422"
    ds.LossyImageCompression = "01"
    ds.LossyImageCompressionMethod = "ISO_10918_1"


# --- cases ------------------------------------------------------------------------------

#: (base, transfer syntax, modality) cycled by ``make_cases``; single frame unless "cine".
CASE_KINDS: tuple[tuple[str, str, str], ...] = (
    ("us_rgb", ExplicitVRLittleEndian, "US"),
    ("ct16", ExplicitVRLittleEndian, "OT"),
    ("mono1", ExplicitVRLittleEndian, "CR"),
    ("us_grey8", JPEGBaseline8Bit, "US"),
    ("ct12", JPEGLSLossless, "OT"),
    ("mr16", RLELossless, "OT"),
    ("us_rgb", JPEGBaseline8Bit, "US"),
    ("nm16", JPEG2000Lossless, "OT"),
    ("palette", ExplicitVRLittleEndian, "US"),
    ("us_grey8", ExplicitVRLittleEndian, "US"),
    ("us_rgb", RLELossless, "US"),
    ("ct16", JPEG2000Lossless, "OT"),
)


def make_case(
    index: int,
    kind: str,
    syntax: str,
    modality: str,
    rng: np.random.Generator,
    *,
    frames: int = 1,
    items: int | None = None,
    sizes: tuple[int, int] = (8, 40),
) -> Case:
    template, base, facts = base_image(kind)
    if frames > 1:
        base = np.stack([base[i % base.shape[0]] for i in range(frames)])
    elif base.shape[0] > 1:
        base = base[:1]
    lut = None
    if facts["photometric"] == "PALETTE COLOR":
        from dicom_deid.pixels.decode import read_palette

        lut, _first = read_palette(template)
    n = items if items is not None else int(rng.integers(2, 6))
    stored, planted, text_mask, label_mask = plant_text(
        base,
        facts,
        rng,
        items=n,
        per_frame=frames > 1,
        palette_lut=lut,
        sizes=sizes,
        existing=EXISTING_TEXT.get(kind, ()),
    )
    ds = build_dataset(template, stored, facts, syntax, modality)
    name = f"case_{index:03d}_{kind}_{pydicom.uid.UID(syntax).keyword or 'ts'}" + (
        f"_{frames}f" if frames > 1 else ""
    )
    return Case(
        name,
        ds,
        planted,
        text_mask,
        label_mask,
        {"kind": kind, "syntax": str(syntax), "frames": frames},
    )


def black_mask(ds: Dataset, arr: np.ndarray) -> np.ndarray:
    """(F, R, C) True where the output renders black, by the issue's rule."""
    pi = str(ds.PhotometricInterpretation)
    if pi == "MONOCHROME2":
        return arr[..., 0] == arr.min()
    if pi == "MONOCHROME1":
        return arr[..., 0] == arr.max()
    if pi == "RGB":
        return (arr == 0).all(axis=-1)
    if pi.startswith("YBR_FULL"):
        half = 1 << (int(ds.BitsStored) - 1)
        return (arr[..., 0] == 0) & (np.abs(arr[..., 1:].astype(int) - half) <= 1).all(axis=-1)
    if pi == "PALETTE COLOR":
        lut = apply_color_lut(np.arange(256, dtype=np.uint8), ds).astype(np.float64)
        lum = lut @ np.array([0.299, 0.587, 0.114])
        darkest = np.nonzero(lum <= lum.min() + 1e-6)[0]
        return np.isin(arr[..., 0], darkest)
    raise ValueError(pi)


def make_cases(count: int, seed: int = 7) -> list[Case]:
    rng = np.random.default_rng(seed)
    cases = []
    for index in range(count):
        kind, syntax, modality = CASE_KINDS[index % len(CASE_KINDS)]
        cases.append(make_case(index, kind, syntax, modality, rng))
    return cases


def make_cine(frames: int = 100, seed: int = 11, kind: str = "cine_rgb") -> Case:
    rng = np.random.default_rng(seed)
    return make_case(900, kind, ExplicitVRLittleEndian, "US", rng, frames=frames, items=3)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=120)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=Path("bench_out/burned_in"))
    parser.add_argument("--cine-frames", type=int, default=100)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    truth = {}
    for case in [*make_cases(args.count, args.seed), make_cine(args.cine_frames)]:
        case.dataset.save_as(args.out / f"{case.name}.dcm", enforce_file_format=True)
        truth[case.name] = dict(
            case.meta,
            planted=[
                {"text": p.text, "box": p.box, "frames": p.frames, "angle": p.angle, "size": p.size}
                for p in case.planted
            ],
        )
    (args.out / "truth.json").write_text(json.dumps(truth, indent=1))
    print(f"wrote {len(truth)} cases to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
