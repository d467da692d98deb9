"""Which instances of a series ``--pixels auto`` examines first.  Pure: header facts in, choices out.

``auto`` saves work by sampling, never by modality alone.  Every series is searched on a
sample of its instances: the first, middle and last by Instance Number, plus the first instance
of every distinct *look* (SOP class, geometry and frames, photometric interpretation, bit depth,
Image Type, and for derived images the VOI window bucket) — a screen capture or dose sheet
filed in a CT series has its own look and is sampled on its own.  When text is found in any sampled instance, the whole series is searched;
when every sample is clear, the other instances of the series that share a sampled look are
recorded as "sampled series found clear".  Anything the survey did not see (no header read, an
unknown look, no series) is searched in full.

Burned In Annotation (0028,0301) is not part of any decision here: it is a hint, never a pass.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Protocol

from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset

from dicom_deid.read import keyword_value

Look = tuple[str, ...]


class Header(Protocol):
    """What the survey reads of a header: a pydicom ``Dataset``, or the survey's short read
    (``read_head.PlainHeader``: the same values, decoded from their bytes)."""

    def __contains__(self, keyword: str, /) -> bool: ...

    def get(self, keyword: str, default: Any = None, /) -> Any: ...


@dataclass(frozen=True, slots=True)
class ImageFacts:
    """What the header survey keeps of one input with pixel data."""

    ordinal: int
    series: str  # study and series instance UIDs
    number: int | None  # Instance Number
    look: Look


class DatasetHeader:
    """A pydicom dataset as a :class:`Header`: ``get`` is ``Dataset.get`` (``read.keyword_value``:
    the same value, decoded by tag, stored back in place of the raw element as ``get`` does)."""

    __slots__ = ("_ds",)

    def __init__(self, ds: Dataset) -> None:
        self._ds = ds

    def __contains__(self, keyword: str, /) -> bool:
        return keyword in self._ds

    def get(self, keyword: str, default: Any = None, /) -> Any:
        return keyword_value(self._ds, keyword, default)


def series_key(ds: Header) -> str | None:
    """``study|series`` from the header, or None when either UID is missing."""
    study = str(ds.get("StudyInstanceUID", "") or "").strip()
    series = str(ds.get("SeriesInstanceUID", "") or "").strip()
    return f"{study}|{series}" if study and series else None


def _window_bucket(ds: Header) -> str:
    """VOI window, coarsely: slice-by-slice auto-windowing stays in one bucket, a re-windowed
    secondary capture does not (half-octave width steps, quarter-width centre steps)."""
    center, width = ds.get("WindowCenter"), ds.get("WindowWidth")
    try:
        c = float(center[0] if isinstance(center, list | tuple) or _is_multi(center) else center)
        w = float(width[0] if isinstance(width, list | tuple) or _is_multi(width) else width)
    except (TypeError, ValueError, IndexError):
        return "-"
    if w <= 0:
        return "-"
    return f"{round(2 * math.log2(w))}:{round(4 * c / w)}"


def _is_multi(value: object) -> bool:
    from pydicom.multival import MultiValue

    return isinstance(value, MultiValue)


def look_of(ds: Header) -> Look:
    """The look of an instance: instances sharing it are sampled together.

    The VOI window counts for derived images only: an ORIGINAL image's window is the scanner's
    per-slice auto-window (it differs from slice to slice of one acquisition), while a derived
    image with its own window is a re-rendering, a screen capture, a different presentation."""
    types = [str(v).upper().strip() for v in (ds.get("ImageType") or [])]
    window = "-" if types[:1] == ["ORIGINAL"] else _window_bucket(ds)
    return (
        str(ds.get("SOPClassUID", "") or ""),
        f"{ds.get('Rows', '?')}x{ds.get('Columns', '?')}x{ds.get('NumberOfFrames', 1) or 1}",
        str(ds.get("PhotometricInterpretation", "") or ""),
        f"{ds.get('BitsStored', '?')}",
        window,
        "\\".join(types),
    )


def image_facts(ds: Header, ordinal: int) -> ImageFacts | None:
    """Facts of a header read without pixels; None when the instance carries no image."""
    if not any(k in ds for k in ("PixelData", "FloatPixelData", "DoubleFloatPixelData", "Rows")):
        return None
    key = series_key(ds)
    if key is None:
        return None  # no series: searched in full
    try:
        number: int | None = int(ds.get("InstanceNumber"))
    except (TypeError, ValueError, OverflowError):  # '1e310' is an IS pydicom reads as infinity
        number = None
    return ImageFacts(ordinal, key, number, look_of(ds))


def choose_samples(facts: Iterable[ImageFacts]) -> frozenset[int]:
    """Ordinals to search first: per series first, middle and last, and one per distinct look."""
    by_series: dict[str, list[ImageFacts]] = defaultdict(list)
    for fact in facts:
        by_series[fact.series].append(fact)
    chosen: set[int] = set()
    for members in by_series.values():
        members.sort(key=lambda f: (f.number is None, f.number or 0, f.ordinal))
        count = len(members)
        for index in {0, count // 2, count - 1}:
            chosen.add(members[index].ordinal)
        seen: set[Look] = set()
        for fact in members:
            if fact.look not in seen:
                seen.add(fact.look)
                chosen.add(fact.ordinal)
    return frozenset(chosen)


@dataclass(frozen=True)
class SeriesVerdicts:
    """After the samples: the series found clear, with the looks their samples covered.

    Picklable and compared by value (a worker rebuilds its engine when it changes).
    """

    clear: Mapping[str, frozenset[Look]] = field(default_factory=lambda: MappingProxyType({}))
    #: raw values -> verdict (``found_clear``): this object's own, never compared nor pickled
    _known: dict[tuple[object, ...], bool] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "clear", MappingProxyType(dict(self.clear)))

    def __reduce__(self) -> tuple[type[SeriesVerdicts], tuple[dict[str, frozenset[Look]]]]:
        return (SeriesVerdicts, (dict(self.clear),))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SeriesVerdicts) and dict(self.clear) == dict(other.clear)

    def __hash__(self) -> int:
        return hash(frozenset(self.clear.items()))

    def found_clear(self, ds: Dataset) -> bool:
        """True when ``ds``'s series was sampled, every sample was clear, and its look was sampled.

        The instances of a series share the bytes of most of what decides (``_raw_key``): the
        answer for the same bytes is remembered (this object's own, never pickled)."""
        raw = _raw_key(ds)
        known = self._known
        if raw is not None:
            verdict = known.get(raw)
            if verdict is not None:
                return verdict
        header = DatasetHeader(ds)
        key = series_key(header)
        looks = self.clear.get(key) if key is not None else None
        verdict = looks is not None and look_of(header) in looks
        if raw is not None:
            if len(known) >= _KNOWN_SIZE:
                known.clear()
            known[raw] = verdict
        return verdict


#: Every attribute :func:`series_key` and :func:`look_of` read, by tag.
_DECIDING = (0x0020000D, 0x0020000E, 0x00080016, 0x00280010, 0x00280011, 0x00280008, 0x00280004, 0x00280101,
             0x00281050, 0x00281051, 0x00080008)  # fmt: skip
_IMAGE_TYPE = 0x00080008
#: ... of an ORIGINAL image, whose look leaves its window out (the scanner's per-slice auto-window):
#: fewer of them, so that a key of these never equals one of all of ``_DECIDING``.
_DECIDING_ORIGINAL = (_IMAGE_TYPE,) + tuple(t for t in _DECIDING if t not in (0x00281050, 0x00281051, _IMAGE_TYPE))
#: VRs whose value pydicom decodes from its bytes alone (no character set, no other element; an
#: implicit VR, None, is the data dictionary's, one of these for every tag of ``_DECIDING``).
_BYTES_ALONE = frozenset({"UI", "US", "IS", "DS", "CS"})
_KNOWN_SIZE = 4096


def _raw_key(ds: Dataset) -> tuple[object, ...] | None:
    """What decides ``ds``'s verdict as bytes, or None: each deciding element as read (raw, of a
    VR decoded from its bytes alone, with its VR and byte order), or as decoded to a string;
    None where one is anything else.  Equal keys give equal :func:`series_key` and :func:`look_of`."""
    elements = ds._dict
    key: list[object] = []
    deciding = _DECIDING_ORIGINAL if _original(elements.get(_IMAGE_TYPE)) else _DECIDING  # type: ignore[call-overload]
    for tag in deciding:
        elem = elements.get(tag)  # type: ignore[call-overload]
        if elem is None:
            key.append(None)
        elif type(elem) is RawDataElement:
            if (elem[1] is not None and elem[1] not in _BYTES_ALONE) or type(elem[3]) is not bytes:
                return None
            key.append((elem[1], elem[5], elem[6], elem[3]))
        else:
            value = elem.value
            if not isinstance(value, str):
                return None
            key.append((elem.VR, value))
    return tuple(key)


def _original(elem: object) -> bool:
    """True when ``elem`` is an Image Type as read whose first value is ORIGINAL as
    :func:`look_of` reads it: several values (one value is a string, which the look reads
    letter by letter), the bytes before the first backslash ORIGINAL, in any case, between
    ASCII blanks (pydicom decodes CS byte for byte); anything else is not sure: False."""
    if type(elem) is not RawDataElement or elem[1] not in (None, "CS") or type(elem[3]) is not bytes:
        return False
    first, backslash, _ = elem[3].partition(b"\\")
    return bool(backslash) and first.strip().upper() == b"ORIGINAL"


def decide_series(
    facts: Iterable[ImageFacts], samples: frozenset[int], sample_found_text: Mapping[int, bool | None]
) -> SeriesVerdicts:
    """Series whose every sample was examined and found clear.

    ``sample_found_text[ordinal]`` is True (text), False (clear) or None (not examined: the
    file was quarantined or its result is unknown); a series with any True or None, or a
    sample missing from the mapping, is not clear.
    """
    looks: dict[str, set[Look]] = defaultdict(set)
    blocked: set[str] = set()
    for fact in facts:
        if fact.ordinal not in samples:
            continue
        verdict = sample_found_text.get(fact.ordinal)
        if verdict is None or verdict:
            blocked.add(fact.series)
        else:
            looks[fact.series].add(fact.look)
    return SeriesVerdicts({k: frozenset(v) for k, v in looks.items() if k not in blocked})


__all__ = [
    "DatasetHeader",
    "Header",
    "ImageFacts",
    "Look",
    "SeriesVerdicts",
    "choose_samples",
    "decide_series",
    "image_facts",
    "look_of",
    "series_key",
]
