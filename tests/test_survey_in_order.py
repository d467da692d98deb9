"""The ``auto`` survey trusts a header's tag order (``scan_head(..., in_order=True)``).

It stops at the first element of a group after the last one it wants, instead of locating every
element up to the pixels (a GE header keeps about a third of its elements, private group 0043,
after group 0028).  In a header in ascending tag order, as the standard requires, that reads
what pydicom reads; pydicom is the oracle on its own test files.  A header out of order may
give the survey another value than pydicom's: the survey is then wrong about that instance,
and the second phase, which decides from the whole header, still searches it in full.
"""

from __future__ import annotations

from io import BytesIO
from pathlib import Path

import pydicom
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from dicom_deid.config import RunConfig
from dicom_deid.deidentify import Engine
from dicom_deid.keys import load_secret_key
from dicom_deid.manifest import MANIFEST_NAME, read_manifest
from dicom_deid.pipeline import run
from dicom_deid.pixels import PixelMode
from dicom_deid.pixels.phases import SURVEY_TAGS
from dicom_deid.profiles import load_profile
from dicom_deid.read_head import scan_head
from dicom_deid.walk import walk_inputs
from tests.pixel_fixtures import ct_slice_with_text
from tests.test_read_head import _elements, _file, _pydicom

#: (0029,0010) LO and (0029,1010) LO: a private group after the last group the survey wants.
PRIVATE = b"\x29\x00\x10\x00LO\x08\x00VENDOR  " + b"\x29\x00\x10\x10LO\x04\x00ABCD"


def _late(data: bytes, element: bytes) -> bytes:
    """``data`` with the private group and then ``element`` (out of order) just before the pixels."""
    out = bytearray(data)
    pixels = out.index(b"\xe0\x7f\x10\x00")
    out[pixels:pixels] = PRIVATE + element
    return bytes(out)


def test_the_in_order_scan_stops_at_the_first_group_after_the_wanted_ones() -> None:
    late = b"\x20\x00\x13\x00IS\x02\x009 "  # Instance Number again, after group 0029: out of order
    data = _late(_file(ExplicitVRLittleEndian), late)
    assert _pydicom(data).InstanceNumber == 9  # pydicom keeps the last one
    whole = scan_head(data, SURVEY_TAGS)
    assert whole is not None and whole.dataset().InstanceNumber == 9
    in_order = scan_head(data, SURVEY_TAGS, in_order=True)
    assert in_order is not None and in_order.dataset().InstanceNumber == 7  # stopped before it
    # nothing after the first element of group 0029 is needed: the bytes may end there
    cut = data[: data.index(PRIVATE) + 12]
    assert scan_head(cut, SURVEY_TAGS) is None
    stopped = scan_head(cut, SURVEY_TAGS, in_order=True)
    assert stopped is not None and _elements(stopped.dataset()) == _elements(_pydicom(data[: data.index(PRIVATE)]))


def test_an_instance_the_survey_misreads_is_still_searched_in_full(tmp_path: Path, key_file: Path) -> None:
    """A slice whose header names one series early and, out of order after a private group, another:
    the survey counts it in the first series (whose samples are clear), pydicom in the second,
    which no sample represents: the second phase searches it, and its text is blacked out."""
    root = tmp_path / "in"
    root.mkdir()
    study, first, second = generate_uid(), generate_uid(), generate_uid()
    for number in range(1, 9):
        if number == 2:
            continue
        ds, _ = ct_slice_with_text((study, first), number, None)
        ds.save_as(root / f"{number}.dcm", enforce_file_format=True)
    ds, mask = ct_slice_with_text((study, first), 2, "QUIXBERRY 4711")
    out = BytesIO()
    ds.save_as(out, enforce_file_format=True)
    uid = second.encode() + b"\0" * (len(second) % 2)
    late = b"\x20\x00\x0e\x00UI" + len(uid).to_bytes(2, "little") + uid
    (root / "2.dcm").write_bytes(_late(out.getvalue(), late))
    assert pydicom.dcmread(root / "2.dcm").SeriesInstanceUID == second

    engine = Engine(load_profile("basic"), load_secret_key(key_file), PixelMode.AUTO)
    run(RunConfig(input=root, output=tmp_path / "out"), engine)

    names = {ref.ordinal: ref.path.name for ref in walk_inputs(root)}
    rows = {names[r["ordinal"]]: r for r in read_manifest(tmp_path / "out" / MANIFEST_NAME) if r["type"] == "file"}
    assert rows["2.dcm"]["outcome"] == "written"
    assert rows["2.dcm"]["pixels"]["examination"] == "full"
    assert rows["2.dcm"]["pixels"]["redacted"]
    assert sum(r["pixels"]["examination"] == "sampled-series-clear" for r in rows.values()) >= 3  # the rest sampled
    (written,) = [p for p in (tmp_path / "out").rglob("*.dcm") if pydicom.dcmread(p).InstanceNumber == 2]
    pixels = pydicom.dcmread(written).pixel_array
    assert (pixels[mask] < 4095).all()  # every stroke of the text changed


def test_a_sample_the_survey_misreads_sends_the_survey_to_the_pixels(tmp_path: Path, key_file: Path) -> None:
    """The middle slice of nine (the survey's middle sample) names another series out of order.
    Read in order, it would stand in for the series' middle sample, and slices 4 and 6, the true
    middle of the other eight, carry text that the first and last slices do not show: the
    samples' headers are scanned again to the pixels, the survey is made again that way, slice 6
    is sampled, and the series is searched in full."""
    root = tmp_path / "in"
    root.mkdir()
    study, first, second = generate_uid(), generate_uid(), generate_uid()
    masks = {}
    for number in range(1, 10):
        text = "QUIXBERRY 4711" if number in (4, 6) else None
        ds, masks[number] = ct_slice_with_text((study, first), number, text)
        out = BytesIO()
        ds.save_as(out, enforce_file_format=True)
        data = out.getvalue()
        if number == 5:
            uid = second.encode() + b"\0" * (len(second) % 2)
            data = _late(data, b"\x20\x00\x0e\x00UI" + len(uid).to_bytes(2, "little") + uid)
        (root / f"{number}.dcm").write_bytes(data)

    engine = Engine(load_profile("basic"), load_secret_key(key_file), PixelMode.AUTO)
    run(RunConfig(input=root, output=tmp_path / "out"), engine)

    names = {ref.ordinal: ref.path.name for ref in walk_inputs(root)}
    rows = {names[r["ordinal"]]: r for r in read_manifest(tmp_path / "out" / MANIFEST_NAME) if r["type"] == "file"}
    assert {name: row["pixels"]["examination"] for name, row in rows.items()} == {f"{n}.dcm": "full" for n in range(1, 10)}
    assert rows["4.dcm"]["pixels"]["redacted"] and rows["6.dcm"]["pixels"]["redacted"]
    for path in (tmp_path / "out").rglob("*.dcm"):
        ds = pydicom.dcmread(path)
        if ds.InstanceNumber in (4, 6):
            assert (ds.pixel_array[masks[int(ds.InstanceNumber)]] < 4095).all()
