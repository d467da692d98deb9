"""Seeded mutants of real DICOM files for the fuzz campaign (``tests/test_fuzz.py``).

Seeds are pydicom's own test files across transfer syntaxes (explicit / implicit / big endian,
deflated, RLE, JPEG baseline / extended 12-bit / lossless, JPEG-LS, JPEG 2000), an SR, a
DICOMDIR and files with odd meta, each with PHI planted (``PLANTED``: every value carries both
``NEEDLES``, so one flipped byte cannot hide it).  Mutators work on bytes, at positions taken
from the seed's own element table, and are stacked one to three deep:

byte flips, truncations (anywhere and at element boundaries), VR swaps, length lies
(0xFFFFFFFE, 0xFFFFFFFF, odd, too long, zero), undefined lengths without delimiters, nesting
10,000 deep, duplicated and out-of-order elements, bogus transfer syntax UIDs, Pixel Data
length lies, NumberOfFrames lies, broken encapsulated fragments (offset table, item lengths,
missing delimiters, corrupted codestreams), junk and empty files, zip archives (mutants as
members, a truncated archive, a member with a bad CRC) and non-UTF-8 file names.

``build_campaign(root, seed, count)`` writes the tree and returns what it wrote, so a test can
count inputs without asking the code under test.
"""

from __future__ import annotations

import os
import random
import struct
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path

import pydicom
import pydicom.data
from pydicom.dataset import Dataset

TEST_FILES = Path(pydicom.data.__file__).parent / "test_files"

NEEDLES = (b"QXZPLANT", b"PLANTQXZ")
PLANTED = {
    "PatientName": "QXZPLANT^NAME^PLANTQXZ",
    "PatientID": "QXZPLANTPIDPLANTQXZ",
    "AccessionNumber": "QXZPLANTPLANTQXZ",  # SH: 16 characters
    "InstitutionName": "QXZPLANT INSTITUTE PLANTQXZ",
    "ReferringPhysicianName": "QXZPLANT^DOCTOR^PLANTQXZ",
    "StudyDescription": "QXZPLANT STUDY PLANTQXZ",
}

#: (file under pydicom's test files, what it stands for)
SEEDS = (
    ("CT_small.dcm", "explicit VR little endian"),
    ("MR_small_implicit.dcm", "implicit VR little endian"),
    ("MR_small_bigendian.dcm", "explicit VR big endian"),
    ("rtdose_expb.dcm", "big endian, 15 frames"),
    ("image_dfl.dcm", "deflated explicit VR little endian"),
    ("SC_rgb_rle_2frame.dcm", "RLE, 2 frames"),
    ("SC_rgb_small_odd_jpeg.dcm", "JPEG baseline"),
    ("JPEG-lossy.dcm", "JPEG extended 12-bit"),
    ("SC_rgb_jpeg_gdcm.dcm", "JPEG lossless"),
    ("JPEGLSNearLossless_08.dcm", "JPEG-LS near-lossless"),
    ("MR_small_jp2klossless.dcm", "JPEG 2000 lossless"),
    ("JPEG2000.dcm", "JPEG 2000"),
    ("test-SR.dcm", "structured report"),
    ("dicomdirtests/DICOMDIR", "DICOMDIR"),
    ("nested_priv_SQ.dcm", "nested private sequence, implicit"),
    ("no_meta_group_length.dcm", "meta without group length"),
    ("meta_missing_tsyntax.dcm", "meta without transfer syntax"),
)

_LONG_VRS = {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"}
_VRS = [b"XX", b"FD", b"SQ", b"UN", b"OB", b"UT", b"PN", b"US", b"AT", b"  ", b"\x00\x00", b"\xff\xfe", b"DA"]
_BOGUS_SYNTAXES = [
    "1.2.3.4", "", "1.2.840.10008.1.2.4.111", "1.2.840.10008.1.2.8.1", "1.2.840.10008.1.2.2",
    "1.2.840.10008.1.2", "1.2.840.10008.1.2.1.99", "1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.5",
    "1.2.840.113619.5.2", "9" * 64, "1.2.840.10008.1.2.1\x00\x00", "not a uid at all",
]
_FRAME_LIES = [b"0 ", b"-1", b"1000000 ", b"2147483647", b"abc ", b"1.5 ", b"", b"99"]


@dataclass(frozen=True, slots=True)
class Element:
    tag: int
    header: int  # offset of the element's first byte in the file
    value: int  # offset of its value
    length: int
    vr: bytes | None  # explicit VR as stored; None when implicit
    little: bool

    @property
    def length_at(self) -> int:
        """Offset and size of the length field."""
        return self.value - (4 if self.vr is None or self.vr in _LONG_VRS else 2)

    @property
    def length_size(self) -> int:
        return 4 if self.vr is None or self.vr in _LONG_VRS else 2

    @property
    def end(self) -> int:
        return self.value + (self.length if self.length != 0xFFFFFFFF else 0)


@dataclass
class Seed:
    name: str
    data: bytes
    meta: list[Element] = field(default_factory=list)
    body: list[Element] = field(default_factory=list)  # top-level elements after the meta
    deflated: bool = False

    def find(self, tag: int) -> Element | None:
        return next((e for e in self.meta + self.body if e.tag == tag), None)


def _planted(ds: Dataset) -> None:
    for keyword, value in PLANTED.items():
        setattr(ds, keyword, value)
    block = ds.private_block(0x0009, "QXZ FUZZ", create=True)
    block.add_new(0x01, "LO", PLANTED["PatientID"])
    item = Dataset()
    item.PatientID = PLANTED["PatientID"]
    ds.OtherPatientIDsSequence = [item]


def load_seeds() -> list[Seed]:
    seeds = []
    for name, _ in SEEDS:
        path = TEST_FILES / name
        ds = pydicom.dcmread(path, force=True)
        has_meta = "TransferSyntaxUID" in getattr(ds, "file_meta", Dataset())
        if has_meta and name != "dicomdirtests/DICOMDIR":
            _planted(ds)
            for meta_kw, kw in (("MediaStorageSOPClassUID", "SOPClassUID"),
                                ("MediaStorageSOPInstanceUID", "SOPInstanceUID")):
                if not ds.file_meta.get(meta_kw):
                    setattr(ds.file_meta, meta_kw, ds.get(kw) or "1.2.826.0.1.3680043.8.498.1")
            buf = BytesIO()
            ds.save_as(buf, enforce_file_format=True)
            data = buf.getvalue()
        elif name == "dicomdirtests/DICOMDIR":
            for record in ds.DirectoryRecordSequence:
                if record.get("DirectoryRecordType") == "PATIENT":
                    record.PatientName = PLANTED["PatientName"]
                    record.PatientID = PLANTED["PatientID"]
            buf = BytesIO()
            ds.save_as(buf, enforce_file_format=True)
            data = buf.getvalue()
        else:
            data = path.read_bytes()  # odd meta: kept as it is (nothing planted)
        seeds.append(_index(name, data))
    return seeds


def _index(name: str, data: bytes) -> Seed:
    ds = pydicom.dcmread(BytesIO(data), force=True)
    seed = Seed(name, data)
    syntax = str(getattr(ds, "file_meta", Dataset()).get("TransferSyntaxUID", ""))
    seed.deflated = syntax == "1.2.840.10008.1.2.1.99"
    for raw in getattr(ds, "file_meta", Dataset())._dict.values():
        elem = _element(raw, data, implicit=False, little=True)
        if elem is not None:
            seed.meta.append(elem)
    if not seed.deflated:
        implicit, little = ds.original_encoding
        for raw in ds._dict.values():
            elem = _element(raw, data, implicit=bool(implicit), little=bool(little))
            if elem is not None:
                seed.body.append(elem)
    seed.body.sort(key=lambda e: e.header)
    return seed


def _element(raw: object, data: bytes, *, implicit: bool, little: bool) -> Element | None:
    tell, length, tag = getattr(raw, "value_tell", None), getattr(raw, "length", None), getattr(raw, "tag", None)
    if tell is None or length is None or tag is None or tell < 12:
        return None
    if implicit:
        return Element(int(tag), tell - 8, tell, int(length), None, little)
    long_vr = bytes(data[tell - 8:tell - 6])
    if long_vr in _LONG_VRS and data[tell - 6:tell - 4] == b"\x00\x00":
        return Element(int(tag), tell - 12, tell, int(length), long_vr, little)
    return Element(int(tag), tell - 8, tell, int(length), bytes(data[tell - 4:tell - 2]), little)


# --------------------------------------------------------------------------- mutators

Mutator = Callable[[random.Random, Seed, bytearray], bytearray]


def _pack_len(elem: Element, value: int) -> bytes:
    fmt = ("<" if elem.little else ">") + ("I" if elem.length_size == 4 else "H")
    return struct.pack(fmt, value & (0xFFFFFFFF if elem.length_size == 4 else 0xFFFF))


def _pick(rng: random.Random, elems: list[Element]) -> Element | None:
    return rng.choice(elems) if elems else None


def flip_bytes(rng: random.Random, seed: Seed, data: bytearray) -> bytearray:
    for _ in range(rng.randint(1, 8)):
        pos = rng.randrange(len(data)) if rng.random() < 0.3 or len(data) <= 132 else rng.randrange(128, len(data))
        data[pos] ^= 1 << rng.randrange(8) if rng.random() < 0.5 else rng.randrange(1, 256)
    return data


def truncate(rng: random.Random, seed: Seed, data: bytearray) -> bytearray:
    elems = [e for e in seed.body + seed.meta if e.end <= len(data)]
    if elems and rng.random() < 0.6:
        elem = rng.choice(elems)
        cut = rng.choice([elem.header, elem.header + 2, elem.header + 5, elem.value,
                          elem.value + max(1, elem.length // 2)])
    else:
        cut = rng.randrange(1, max(2, len(data)))
    return data[:max(1, min(cut, len(data) - 1))]


def swap_vr(rng: random.Random, seed: Seed, data: bytearray) -> bytearray:
    elem = _pick(rng, [e for e in seed.body + seed.meta if e.vr is not None and e.end <= len(data)])
    if elem is None:
        return flip_bytes(rng, seed, data)
    data[elem.header + 4:elem.header + 6] = rng.choice(_VRS)
    return data


def lie_length(rng: random.Random, seed: Seed, data: bytearray) -> bytearray:
    elem = _pick(rng, [e for e in seed.body + seed.meta if e.end <= len(data)])
    if elem is None:
        return flip_bytes(rng, seed, data)
    value = rng.choice([0xFFFFFFFE, 0xFFFFFFFF, elem.length + 1, max(0, elem.length - 1), elem.length + 1000,
                        0, 0xFFFF, 3, elem.length * 7 + 1])
    data[elem.length_at:elem.length_at + elem.length_size] = _pack_len(elem, value)
    return data


def undefined_without_delimiter(rng: random.Random, seed: Seed, data: bytearray) -> bytearray:
    long_ones = [e for e in seed.body if e.length_size == 4 and e.end <= len(data)]
    if long_ones and rng.random() < 0.6:
        elem = rng.choice(long_ones)
        data[elem.length_at:elem.length_at + 4] = _pack_len(elem, 0xFFFFFFFF)
        return data
    little = seed.body[0].little if seed.body else True
    implicit = bool(seed.body) and seed.body[0].vr is None
    return data + _sq_header(0x7FE1, 0x1010, little, implicit) + _item_header(little) + b"\x10\x00\x10\x00"


def _sq_header(group: int, element: int, little: bool, implicit: bool) -> bytes:
    e = "<" if little else ">"
    if implicit:
        return struct.pack(f"{e}HHI", group, element, 0xFFFFFFFF)
    return struct.pack(f"{e}HH", group, element) + b"SQ\x00\x00" + struct.pack(f"{e}I", 0xFFFFFFFF)


def _item_header(little: bool, length: int = 0xFFFFFFFF) -> bytes:
    return struct.pack("<HHI" if little else ">HHI", 0xFFFE, 0xE000, length)


def nest_deep(rng: random.Random, seed: Seed, data: bytearray, depth: int = 10_000) -> bytearray:
    """Private sequences nested ``depth`` deep (undefined lengths; closed or not) before Pixel Data."""
    if not seed.body:
        return flip_bytes(rng, seed, data)
    little, implicit = seed.body[0].little, seed.body[0].vr is None
    opening = (_sq_header(0x0029, 0x1010, little, implicit) + _item_header(little)) * depth
    closing = b""
    if rng.random() < 0.5:
        item_end = struct.pack("<HHI" if little else ">HHI", 0xFFFE, 0xE00D, 0)
        seq_end = struct.pack("<HHI" if little else ">HHI", 0xFFFE, 0xE0DD, 0)
        closing = (item_end + seq_end) * depth
    creator = _short_element(0x0029, 0x0010, b"LO", b"QXZ DEEP", little, implicit)
    at = next((e.header for e in seed.body if e.tag > 0x00291010), len(data))
    return data[:at] + creator + opening + closing + data[at:]


def _short_element(group: int, element: int, vr: bytes, value: bytes, little: bool, implicit: bool) -> bytes:
    if len(value) % 2:
        value += b" "
    e = "<" if little else ">"
    if implicit:
        return struct.pack(f"{e}HHI", group, element, len(value)) + value
    return struct.pack(f"{e}HH", group, element) + vr + struct.pack(f"{e}H", len(value)) + value


def duplicate_element(rng: random.Random, seed: Seed, data: bytearray) -> bytearray:
    elem = _pick(rng, [e for e in seed.body if e.length != 0xFFFFFFFF and e.end <= len(data)])
    if elem is None:
        return flip_bytes(rng, seed, data)
    chunk = bytes(data[elem.header:elem.end])
    at = elem.end if rng.random() < 0.7 else rng.choice(seed.body).header
    return data[:at] + chunk + data[at:]


def reorder_elements(rng: random.Random, seed: Seed, data: bytearray) -> bytearray:
    body = [e for e in seed.body if e.length != 0xFFFFFFFF and e.end <= len(data)]
    if len(body) < 2:
        return flip_bytes(rng, seed, data)
    i = rng.randrange(len(body) - 1)
    a, b = body[i], body[i + 1]
    if a.end != b.header:
        return flip_bytes(rng, seed, data)
    return data[:a.header] + data[b.header:b.end] + data[a.header:a.end] + data[b.end:]


def bogus_syntax(rng: random.Random, seed: Seed, data: bytearray) -> bytearray:
    ts, group = seed.find(0x00020010), seed.find(0x00020000)
    if ts is None or ts.end > len(data):
        return flip_bytes(rng, seed, data)
    value = rng.choice(_BOGUS_SYNTAXES).encode("latin-1")
    if len(value) % 2:
        value += b"\x00"
    new = data[:ts.length_at] + _pack_len(ts, len(value)) + value + data[ts.end:]
    if group is not None and group.length == 4 and rng.random() < 0.8:  # keep the group length honest
        old = struct.unpack("<I", bytes(data[group.value:group.value + 4]))[0]
        new[group.value:group.value + 4] = struct.pack("<I", max(0, old + len(value) - ts.length))
    return new


def lie_pixel_length(rng: random.Random, seed: Seed, data: bytearray) -> bytearray:
    pixel = seed.find(0x7FE00010)
    if pixel is None or pixel.length == 0xFFFFFFFF:
        return lie_frames(rng, seed, data)
    value = rng.choice([pixel.length // 2, pixel.length + 2, pixel.length * 4, 1, 0xFFFFFFFE, pixel.length - 1])
    data[pixel.length_at:pixel.length_at + pixel.length_size] = _pack_len(pixel, value)
    return data


def lie_frames(rng: random.Random, seed: Seed, data: bytearray) -> bytearray:
    frames, rows = seed.find(0x00280008), seed.find(0x00280010)
    lie = rng.choice(_FRAME_LIES)
    if len(lie) % 2:
        lie += b" "
    if frames is not None and frames.end <= len(data):
        return data[:frames.length_at] + _pack_len(frames, len(lie)) + lie + data[frames.end:]
    if rows is None or not seed.body:
        return flip_bytes(rng, seed, data)
    little, implicit = seed.body[0].little, seed.body[0].vr is None
    return data[:rows.header] + _short_element(0x0028, 0x0008, b"IS", lie, little, implicit) + data[rows.header:]


def break_fragments(rng: random.Random, seed: Seed, data: bytearray) -> bytearray:
    pixel = seed.find(0x7FE00010)
    if pixel is None or pixel.length != 0xFFFFFFFF or pixel.value >= len(data):
        return lie_pixel_length(rng, seed, data)
    items = _items(data, pixel.value)
    if not items:
        return flip_bytes(rng, seed, data)
    kind = rng.randrange(7)
    if kind == 0:  # offset table with bogus offsets
        bot = bytes(_item_header(True, 8)) + struct.pack("<II", 0, rng.choice([1, 7, 0xFFFFFFF0, len(data)]))
        at, end = items[0]
        return data[:at] + bot + data[end:]
    if kind == 1:  # a fragment length lie
        at, _ = rng.choice(items)
        data[at + 4:at + 8] = struct.pack("<I", rng.choice([0xFFFFFFFE, 3, 0, 0x7FFFFFFF, 1 << 20]))
        return data
    if kind == 2:  # no sequence delimiter: the data just ends
        return data[:items[-1][1]]
    if kind == 3:  # a non-item element among the fragments
        at, _ = rng.choice(items)
        return data[:at] + b"\x10\x00\x10\x00\x04\x00\x00\x00JUNK" + data[at:]
    if kind == 4:  # corrupt the codestream inside a fragment
        at, end = items[-1] if len(items) > 1 else items[0]
        for _ in range(rng.randint(1, 16)):
            if end - at > 8:
                data[rng.randrange(at + 8, end)] ^= rng.randrange(1, 256)
        return data
    if kind == 5:  # fragments cut in half
        at, end = rng.choice(items)
        return data[:at + 8 + max(0, (end - at - 8) // 2)]
    at, _ = items[-1]  # an empty and an odd-length fragment
    return data[:at] + bytes(_item_header(True, 0)) + bytes(_item_header(True, 3)) + b"\xff\xd8\x00" + data[at:]


def _items(data: bytearray, start: int) -> list[tuple[int, int]]:
    """(start, end) of each item of an encapsulated Pixel Data value, offset table first."""
    out, pos = [], start
    while pos + 8 <= len(data):
        group, element, length = struct.unpack("<HHI", bytes(data[pos:pos + 8]))
        if (group, element) != (0xFFFE, 0xE000) or length == 0xFFFFFFFF:
            break
        out.append((pos, min(len(data), pos + 8 + length)))
        pos += 8 + length
    return out


def _unique_instance(seed: Seed, data: bytearray, n: int) -> bytearray:
    """Give mutant ``n`` its own SOP Instance UID (same length: every offset stays valid)."""
    for tag in (0x00020003, 0x00080018):
        elem = seed.find(tag)
        if elem is None or elem.length < 12 or elem.end > len(data):
            continue
        value = bytes(data[elem.value:elem.end]).rstrip(b"\x00 ")
        digits = f"9{n:06d}".encode()
        if len(value) > len(digits) + 2:
            data[elem.value + len(value) - len(digits):elem.value + len(value)] = digits
    return data


def junk(rng: random.Random, seed: Seed, data: bytearray) -> bytearray:
    kind = rng.randrange(4)
    if kind == 0:
        return bytearray()
    if kind == 1:
        return bytearray(rng.randbytes(rng.randrange(1, 4000)))
    if kind == 2:
        return bytearray(b"\x00" * 128 + b"DICM" + rng.randbytes(rng.randrange(0, 2000)))
    return bytearray(b"\x02\x00\x10\x00UI" + rng.randbytes(rng.randrange(4, 400)))


MUTATORS: dict[str, Mutator] = {
    "flip": flip_bytes, "truncate": truncate, "vr": swap_vr, "length": lie_length,
    "undefined": undefined_without_delimiter, "duplicate": duplicate_element, "reorder": reorder_elements,
    "syntax": bogus_syntax, "pixel_length": lie_pixel_length, "frames": lie_frames,
    "fragments": break_fragments,
}
PIXEL_MUTATORS = ("pixel_length", "frames", "fragments", "flip")


@dataclass
class Campaign:
    root: Path
    inputs: int  # files + zip members, counted from what was written
    mutants: int  # mutated DICOM inputs (zip members included)
    by_mutator: dict[str, int]
    seeds: list[str]


def build_campaign(root: Path, *, seed: int, count: int, deep: int = 8, pixel_only: bool = False) -> Campaign:
    """Write ``count`` mutants (plus ``deep`` 10,000-deep nestings, junk and zips) under ``root``."""
    rng = random.Random(seed)
    seeds = load_seeds()
    if pixel_only:
        seeds = [s for s in seeds if s.find(0x7FE00010) is not None]
    root.mkdir(parents=True, exist_ok=True)
    by: dict[str, int] = {}
    written = 0
    members: list[tuple[str, bytes]] = []
    names = list(PIXEL_MUTATORS if pixel_only else MUTATORS)
    for i in range(count):
        s = seeds[i % len(seeds)]
        data = _unique_instance(s, bytearray(s.data), i)
        chosen = [rng.choice(names) for _ in range(rng.choice((1, 1, 1, 2, 3)))]
        for name in chosen:
            data = MUTATORS[name](rng, s, data)
            by[name] = by.get(name, 0) + 1
        if not pixel_only and i % 25 == 24:  # a share of the mutants travel inside a zip export
            members.append((f"export/{i:05d}.dcm", bytes(data)))
            continue
        folder = root / f"s{i % len(seeds):02d}"
        folder.mkdir(exist_ok=True)
        (folder / f"m{i:05d}.dcm").write_bytes(bytes(data))
        written += 1
    for i in range(deep):
        s = seeds[i % 4]  # explicit, implicit, big endian
        (root / f"deep{i}.dcm").write_bytes(bytes(nest_deep(rng, s, bytearray(s.data))))
        written += 1
        by["nest10000"] = by.get("nest10000", 0) + 1
    extra = 0
    if not pixel_only:
        for i in range(12):
            (root / f"junk{i}").write_bytes(bytes(junk(rng, seeds[0], bytearray())))
            extra += 1
        for s in seeds:  # each seed once, unmutated
            (root / f"seed-{s.name.replace('/', '_')}").write_bytes(s.data)
            extra += 1
        (root / "s00" / os.fsdecode(b"\xff\xfe-latin1-\xe9.dcm")).write_bytes(seeds[0].data)  # not UTF-8
        extra += 1
        extra += _zips(root, members, rng, seeds[0].data)
    inputs = written + extra + len(members)
    return Campaign(root, inputs, count + deep, by, [s.name for s in seeds])


def _zips(root: Path, members: list[tuple[str, bytes]], rng: random.Random, good: bytes) -> int:
    """One export zip holding mutants, one truncated zip, one with a bad-CRC member; inputs added."""
    with zipfile.ZipFile(root / "export.zip", "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members:
            zf.writestr(name, data)
    buf = BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr("a.dcm", good)
        zf.writestr("b.dcm", good[:-7] + b"\x00" * 7)
    whole = buf.getvalue()
    (root / "truncated.zip").write_bytes(whole[: len(whole) // 2])
    crc = bytearray(whole)
    at = crc.find(good[200:240])
    crc[at + 10] ^= 0xFF  # stored member: its bytes change, its CRC does not
    (root / "badcrc.zip").write_bytes(bytes(crc))
    return 1 + 2  # truncated.zip is one input (not an archive any more); badcrc.zip has two members


def count_inputs(root: Path) -> int:
    """Inputs under ``root`` as the README defines them: every file, a zip export's members in its stead."""
    n = 0
    for path in root.rglob("*"):
        if not path.is_file():
            continue
        if path.suffix.lower() == ".zip" and zipfile.is_zipfile(path):
            try:
                with zipfile.ZipFile(path) as zf:
                    n += max(1, sum(1 for info in zf.infolist() if not info.is_dir()))
                continue
            except (zipfile.BadZipFile, OSError):
                pass
        n += 1
    return n


__all__ = ["NEEDLES", "PLANTED", "SEEDS", "Campaign", "build_campaign", "count_inputs", "load_seeds"]
