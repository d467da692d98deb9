"""Verify: an independent oracle over a de-identified output folder.

Re-reads every file under OUTPUT (zip members included) and reports

a. attributes present that the profile says must be removed (X) or emptied (Z);
b. identifying values of the input (``against``) found anywhere in the output: every element
   (private tags, sequences, file meta), a raw byte scan outside Pixel Data, and file paths;
c. residual text found by OCR in pixel data;
d. UID problems: original UIDs left unchanged, invalid syntax, duplicate SOP Instance UIDs,
   references to instances that are not in the output;
e. missing PatientIdentityRemoved = YES / DeidentificationMethodCodeSequence;
f. (``dciodvfy=True``) DICOM conformance errors that the matching input did not have.

It shares no code with the writer: it never imports ``plan``, ``scrub``, ``deidentify`` or
``remap``; the action table comes from ``profiles`` and the identifying values are extracted
here from the input files.  Findings never carry an original value unless ``show_values`` is
asked for (input side): they name its kind and a hint (first character and length).
"""

from __future__ import annotations

import enum
import json
import logging
import os
import re
import warnings
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from typing import Any

import pydicom
from pydicom.datadict import keyword_for_tag
from pydicom.dataset import Dataset

from dicom_deid.errors import ConfigError, DeidError
from dicom_deid.manifest import MANIFEST_NAME, read_manifest
from dicom_deid.profiles import (
    ActionCode,
    AttributeRule,
    Option,
    OverrideAction,
    Profile,
    Standard,
    list_profiles,
    load_profile,
    load_standard,
)
from dicom_deid.walk import InputRef, read_bytes, walk_inputs

logger = logging.getLogger(__name__)

PIXEL_DATA = 0x7FE00010
_DEFLATED = "1.2.840.10008.1.2.1.99"
_STORAGE_ROOT = "1.2.840.10008.5.1.4.1.1."
_UID_RE = re.compile(r"^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$")
_UID_TOKEN = re.compile(r"(?<![0-9.])[0-9]+(?:\.[0-9]+){2,}(?![0-9])")
_TOKEN = re.compile(r"[^\W_]+")  # letters and digits of any script; "_" separates
_NUMERIC_VRS = frozenset({"US", "SS", "UL", "SL", "FL", "FD", "AT", "SV", "UV", "OF", "OD", "OL", "OV"})
_BULK_VRS = frozenset({"OB", "OW", "UN"})
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_PHONE = re.compile(r"\(?\b\d{3}\)?[\s.-]?\d{3}[\s.-]\d{4}\b")
_NAME_STOP = frozenset({"anon", "anonymous", "anonymized", "unknown", "patient", "none", "test", "doctor",
                        "mrs", "phd", "iii", "jr", "sr", "dr", "md", "mr", "ms"})
_DUMMY_DATES = frozenset({"19000101", "00000000", "00010101"})
_ID_SUFFIXES = ("ID", "IDs", "Number", "Numbers", "Locator")
_DEVICE_KEYWORDS = frozenset({"StationName", "DeviceSerialNumber", "DeviceUID", "DetectorID",
                              "GantryID", "PlateID", "CassetteID", "SourceApplicationEntityTitle"})
_NOT_ID_KEYWORDS = frozenset({"SeriesNumber", "InstanceNumber", "AcquisitionNumber", "StudyInstanceUID",
                              "ImagesInAcquisition", "TemporalPositionIdentifier"})
_PSEUDONYM_FORMS = {"patient_id": re.compile(r"^DD[A-Z2-7]{12}$"),
                    "patient_name": re.compile(r"^ANON\^DD[A-Z2-7]{12}$"),
                    "accession_number": re.compile(r"^A[A-Z2-7]{13}$")}


class Category(enum.Enum):
    """What kind of problem a finding is (letters as in the verify documentation)."""

    PROFILE = "a"
    IDENTIFYING = "b"
    PIXEL_TEXT = "c"
    UID = "d"
    MARKING = "e"
    CONFORMANCE = "f"

    @property
    def title(self) -> str:
        return _TITLES[self]


_TITLES = {
    Category.PROFILE: "attribute the profile removes or empties is present",
    Category.IDENTIFYING: "identifying value of the input found in the output",
    Category.PIXEL_TEXT: "residual text in pixel data (OCR)",
    Category.UID: "UID problem",
    Category.MARKING: "de-identification marking missing",
    Category.CONFORMANCE: "new DICOM conformance error (dciodvfy)",
}


class Severity(enum.Enum):
    ERROR = "error"  # fails verify (exit 4)
    WARNING = "warning"  # reported, does not fail


class OcrMode(enum.Enum):
    AUTO = "auto"  # images whose modality / SOP class is at risk of burned-in text
    ALL = "all"
    OFF = "off"


@dataclass(frozen=True, slots=True)
class Finding:
    category: Category
    file: str  # output-relative path (identifying parts masked)
    where: str  # attribute path, "raw bytes", "path", "pixels frame N" or "file"
    detail: str  # never an original value unless show_values
    severity: Severity = Severity.ERROR
    value: str | None = None  # the original value: only with show_values (input side)

    def to_dict(self) -> dict[str, Any]:
        out = {"category": self.category.value, "severity": self.severity.value, "file": self.file,
               "where": self.where, "detail": self.detail}
        if self.value is not None:
            out["value"] = self.value
        return out


@dataclass(frozen=True)
class VerifyResult:
    output: str
    findings: tuple[Finding, ...]
    files_checked: int
    dicom_checked: int
    profile: str
    against: bool
    ocr: str
    images_ocr: int = 0
    needles: Mapping[str, int] = field(default_factory=dict)  # kind -> identifying values searched
    notes: tuple[str, ...] = ()
    show_values: bool = False

    @property
    def errors(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity is Severity.ERROR)

    @property
    def ok(self) -> bool:
        return not self.errors

    def counts(self) -> dict[str, int]:
        out = {c.value: 0 for c in Category}
        for f in self.errors:
            out[f.category.value] += 1
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok, "output": self.output, "profile": self.profile, "against": self.against,
            "ocr": self.ocr, "files_checked": self.files_checked, "dicom_checked": self.dicom_checked,
            "images_ocr": self.images_ocr, "identifying_values_searched": dict(self.needles),
            "counts": self.counts(), "warnings": sum(1 for f in self.findings if f.severity is Severity.WARNING),
            "notes": list(self.notes), "show_values": self.show_values,
            "findings": [f.to_dict() for f in self.findings],
        }

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=1, sort_keys=True)


# --------------------------------------------------------------------------- values


def hint(value: str) -> str:
    """A PHI-free hint of a value: first character and length (``Q…9``)."""
    value = value.strip()
    return f"{value[:1]}…{len(value)}" if value else "(empty)"


def _element_text(elem: Any) -> str | None:
    """Searchable text of an element (None for numbers, pixel data and sequences)."""
    if elem.VR == "SQ" or elem.tag == PIXEL_DATA or elem.VR in _NUMERIC_VRS:
        return None
    value = elem.value
    if value is None:
        return ""
    if isinstance(value, bytes):
        if elem.VR in _BULK_VRS and len(value) > 65536:
            return None
        return value.decode("latin-1")
    if isinstance(value, list | tuple) or type(value).__name__ == "MultiValue":
        return "\\".join(str(v) for v in value)
    return str(value)


def _path_name(elem: Any) -> str:
    tag = int(elem.tag)
    return keyword_for_tag(tag) or f"({tag >> 16:04X},{tag & 0xFFFF:04X})"


def _walk(ds: Dataset, prefix: str = "", seq: tuple[str, ...] = ()) -> Iterator[tuple[str, tuple[str, ...], Any, Dataset]]:
    """(path, sequence keywords, element, parent) for every element, depth first."""
    for elem in ds:
        name = _path_name(elem)
        yield prefix + name, seq, elem, ds
        if elem.VR == "SQ":
            for i, item in enumerate(elem.value or ()):
                yield from _walk(item, f"{prefix}{name}[{i}].", (*seq, name))


def _read_lenient(data: bytes) -> Dataset | None:
    if len(data) < 8:
        return None
    preamble = len(data) >= 132 and data[128:132] == b"DICM"
    if not preamble:
        group = int.from_bytes(data[:2], "little"), int.from_bytes(data[:2], "big")
        if not {0x0002, 0x0008} & set(group):
            return None
    try:
        ds = pydicom.dcmread(BytesIO(data), force=True)
        _ = list(ds.keys())
    except Exception:  # noqa: BLE001 - any unreadable file is scanned as raw bytes instead
        return None
    return ds


def _raw_regions(data: bytes, ds: Dataset | None) -> list[bytes]:
    """The bytes to raw-scan: the file without its Pixel Data value, deflated bodies inflated."""
    if ds is None:
        return [data]
    body, offset = data, 0
    meta = getattr(ds, "file_meta", None)
    if meta is not None and str(meta.get("TransferSyntaxUID", "")) == _DEFLATED:
        offset = 132 + 12 + int(meta.get("FileMetaInformationGroupLength", 0) or 0)
        try:
            body = zlib.decompress(data[offset:], -15)
        except zlib.error:
            return [data]
        regions = [data[:offset]]
    else:
        regions = []
    raw = ds.get_item(PIXEL_DATA)
    tell, length = getattr(raw, "value_tell", None), getattr(raw, "length", None)
    if tell is None or length is None:
        return [*regions, body]
    end = len(body) if length == 0xFFFFFFFF else tell + length
    return [*regions, body[:tell], body[end:]]


# --------------------------------------------------------------------------- profile rules


def _profile_code(std: Standard, profile: Profile, tag: int, vr: str, keyword: str, value: str,
                  creator: str | None) -> tuple[ActionCode, str] | None:
    """The profile's (possibly combined) code for one element; None when it is simply kept."""
    group, element = tag >> 16, tag & 0xFFFF
    override = profile.overrides.get(tag)
    if override is not None:
        code = {OverrideAction.REMOVE: ActionCode.X, OverrideAction.EMPTY: ActionCode.Z}.get(override.action)
        return (code, f"override {override.action.value}") if code else None
    if element == 0 and group > 2:
        return None  # group length: not identifying
    if group & 1:
        rule_id = f"{std.private_rule.rule_id} (private)"
        if Option.RETAIN_SAFE_PRIVATE not in profile.options:
            return ActionCode.X, rule_id
        if 0x10 <= element <= 0xFF:
            return None if std.has_safe_private_creator(group, value) else (ActionCode.X, rule_id)
        if element >= 0x1000 and creator and std.is_safe_private(group, creator, element & 0xFF):
            return None
        return ActionCode.X, f"{rule_id}, not in E.3.10-1"
    rule: AttributeRule | None = std.rule_for(tag)
    if rule is None:
        if not keyword:
            return ActionCode.X, "unknown public attribute"
        rule = std.vr_rules.get(vr)
        if rule is None:
            return None
    code, rule_id = rule.action_for(profile.options)
    if code in (ActionCode.U, ActionCode.X_Z_U) and vr == "UI" and std.keeps_uid(keyword, value):
        return None
    return None if code is ActionCode.K else (code, rule_id)


def _resolve(code: ActionCode, attr_type: str) -> ActionCode | None:
    """PS3.15 Table E.1-1a from the PS3.3 type; None where the check cannot be decided."""
    if not code.is_combined:
        return code
    required, present = attr_type in ("1", "1C"), attr_type in ("2", "2C")
    if required:
        return None  # D or U: any replacement is allowed
    if present:
        return None if code is ActionCode.X_D else ActionCode.Z
    return ActionCode.Z if code is ActionCode.Z_D else ActionCode.X


def resolve_profile(output: Path, profile: Profile | None) -> tuple[Profile, list[str]]:
    """The profile to check against: given, else the one the manifest header names."""
    notes: list[str] = []
    if profile is not None:
        return profile, notes
    manifest = output / MANIFEST_NAME
    header = next((r for r in read_manifest(manifest) if r.get("type") == "run"), None) if manifest.is_file() else None
    if header is None:
        notes.append("no manifest header: checked against the basic profile")
        return load_profile("basic"), notes
    name = str(header.get("profile", "basic"))
    options = frozenset(Option.parse(o) for o in header.get("options", []))
    if name in list_profiles():
        base = load_profile(name)
        return Profile(base.name, base.description, options, base.overrides, base.date_method,
                       base.age_cap_years, base.pixel_mode, base.source), notes
    notes.append(f"profile {name!r} from the manifest is not built in: its options are checked, its "
                 "per-tag overrides are not (pass --profile FILE.toml)")
    return Profile(name, "", options), notes


# --------------------------------------------------------------------------- identifying values


@dataclass(frozen=True, slots=True)
class _Needle:
    tokens: tuple[str, ...]
    kind: str  # name, id, date, time, address, phone, email, institution, device
    source: str  # keyword in the input it came from
    patient: int  # input patient number (1-based)
    scoped: bool  # dates and times: searched only in that patient's outputs when pairing is known
    original: str


class NeedleIndex:
    """Identifying values of the input, indexed by first token for a linear-time search."""

    def __init__(self) -> None:
        self.first: dict[str, list[_Needle]] = {}
        self.uids: dict[str, tuple[str, int]] = {}  # original UID -> (keyword, patient)
        self.seen: set[tuple[tuple[str, ...], str, int]] = set()
        self.kinds: dict[str, int] = {}
        self.sop_uids: set[str] = set()  # SOP Instance UIDs of the input
        self.references: list[str] = []  # referenced storage instances of the input

    @property
    def dangling(self) -> int:
        """References in the input to instances that are not in the input."""
        return sum(1 for uid in self.references if uid not in self.sop_uids)

    def add(self, text: str, kind: str, source: str, patient: int, *, scoped: bool = False) -> None:
        tokens = tuple(_TOKEN.findall(text.casefold()))
        if not tokens or (kind != "date" and len("".join(tokens)) < 4 and kind != "name"):
            return
        key = (tokens, kind, patient if scoped else 0)
        if key in self.seen:
            return
        self.seen.add(key)
        self.kinds[kind] = self.kinds.get(kind, 0) + 1
        self.first.setdefault(tokens[0], []).append(_Needle(tokens, kind, source, patient, scoped, text.strip()))

    def search(self, text: str, patients: frozenset[int] | None) -> list[_Needle]:
        """Needles whose tokens occur consecutively in ``text`` (any case, any punctuation)."""
        tokens = _TOKEN.findall(text.casefold())
        hits: dict[int, _Needle] = {}
        for i, tok in enumerate(tokens):
            cands = self.first.get(tok)
            if cands is None and len(tok) > 8 and tok.isdigit():
                cands = [n for n in self.first.get(tok[:8], ()) if n.kind == "date"]  # DT prefix
                if cands:
                    hits.update((id(n), n) for n in cands if _in_scope(n, patients))
                continue
            for n in cands or ():
                if tuple(tokens[i:i + len(n.tokens)]) == n.tokens and _in_scope(n, patients):
                    hits[id(n)] = n
        return list(hits.values())

    def search_uids(self, text: str) -> list[tuple[str, str]]:
        return [(m, self.uids[m][0]) for m in _UID_TOKEN.findall(text) if m in self.uids]


def _in_scope(needle: _Needle, patients: frozenset[int] | None) -> bool:
    return not needle.scoped or patients is None or needle.patient in patients


def _date_forms(da: str) -> list[str]:
    y, m, d = da[:4], da[4:6], da[6:8]
    if not (da.isdigit() and len(da) == 8 and 1 <= int(m) <= 12 and 1 <= int(d) <= 31) or da in _DUMMY_DATES:
        return []
    return [da, f"{y}-{m}-{d}", f"{y}/{m}/{d}", f"{m}/{d}/{y}", f"{d}/{m}/{y}", f"{d}.{m}.{y}", f"{y}.{m}.{d}"]


def _kind_of(keyword: str, vr: str) -> str | None:
    if vr == "PN":
        return "name"
    if vr in ("DA", "DT"):
        return "date"
    if vr == "TM":
        return "time"
    if keyword in _DEVICE_KEYWORDS:
        return "device"
    if "Institution" in keyword or "Organization" in keyword or keyword.startswith("IssuerOf"):
        return "institution"
    if "Address" in keyword:
        return "address"
    if "Telephone" in keyword or "Telecom" in keyword:
        return "phone"
    if keyword.endswith(_ID_SUFFIXES) and keyword not in _NOT_ID_KEYWORDS and vr in ("LO", "SH", "LT", "UC"):
        return "id"
    return None


def _add_value(index: NeedleIndex, kind: str, value: str, source: str, patient: int, code: ActionCode) -> None:
    for part in (p.strip() for p in value.split("\\") if p.strip()):
        if kind == "name":
            for tok in re.split(r"[\^=\s,.\-]+", part):
                if len(tok) >= 3 and tok.isalpha() and tok.lower() not in _NAME_STOP:
                    index.add(tok, "name", source, patient)
        elif kind == "date":
            for form in _date_forms(part[:8]):
                index.add(form, "date", source, patient, scoped=True)
        elif kind == "time":
            if code is not ActionCode.C and len(part.split(".")[0]) >= 6 and part.strip("0.:"):
                index.add(part, "time", source, patient, scoped=True)
        elif kind == "id":
            if len(part) >= 4 and (not part.isdigit() or len(part) >= 6):
                index.add(part, "id", source, patient)
        else:
            index.add(part, kind, source, patient)
            if kind in ("address", "institution"):
                for piece in part.split(","):
                    if len(piece.strip()) >= 4:
                        index.add(piece, kind, source, patient)
            if kind == "phone" and len(re.sub(r"\D", "", part)) >= 7:
                index.add(re.sub(r"\D", "", part), "phone", source, patient)


def collect_identifying(input_root: Path, profile: Profile, std: Standard) -> tuple[NeedleIndex, dict[int, int], dict[int, str]]:
    """Identifying values of every input, the input patient of each ordinal and its SOP class."""
    index = NeedleIndex()
    patients: dict[str, int] = {}
    by_ordinal: dict[int, int] = {}
    classes: dict[int, str] = {}
    for ref in walk_inputs(input_root):
        try:
            ds = _read_lenient(read_bytes(ref))
        except OSError:
            ds = None
        if ds is None:
            continue
        key = str(ds.get("PatientID", "") or "") or str(ds.get("PatientName", "") or "") or f"#{ref.ordinal}"
        patient = patients.setdefault(key, len(patients) + 1)
        by_ordinal[ref.ordinal] = patient
        classes[ref.ordinal] = str(ds.get("SOPClassUID", "") or "")
        meta = getattr(ds, "file_meta", None)
        for source in ([meta] if meta is not None else []) + [ds]:
            _collect_from(index, source, profile, std, patient)
    return index, by_ordinal, classes


def _collect_from(index: NeedleIndex, ds: Dataset, profile: Profile, std: Standard, patient: int) -> None:
    for _path, _seq, elem, parent in _walk(ds):
        if elem.VR == "SQ" or elem.tag == PIXEL_DATA:
            continue
        text = _element_text(elem)
        if not text:
            continue
        tag, keyword = int(elem.tag), elem.keyword or ""
        if keyword == "SOPInstanceUID" and parent is ds:
            index.sop_uids.add(text.strip().rstrip("\x00"))
        elif keyword == "ReferencedSOPInstanceUID":
            ref_class = str(parent.get("ReferencedSOPClassUID", "") or "")
            if not ref_class or ref_class.startswith(_STORAGE_ROOT):
                index.references.append(text.strip().rstrip("\x00"))
        found = _profile_code(std, profile, tag, elem.VR, keyword, text, _creator(parent, tag))
        if found is None:
            continue
        code = found[0]
        if elem.VR == "UI":
            for uid in text.split("\\"):
                if uid.strip():
                    index.uids.setdefault(uid.strip().rstrip("\x00"), (keyword or "UID", patient))
            continue
        kind = _kind_of(keyword, elem.VR)
        if kind is not None:
            _add_value(index, kind, text, keyword or _path_name(elem), patient, code)
        if elem.VR in ("LO", "LT", "ST", "UT", "SH", "UC", "UN", "OB") or tag >> 16 & 1:
            for email in _EMAIL.findall(text):
                index.add(email, "email", keyword or "text", patient)
            for phone in _PHONE.findall(text):
                _add_value(index, "phone", phone, keyword or "text", patient, code)


def _creator(ds: Dataset, tag: int) -> str | None:
    group, element = tag >> 16, tag & 0xFFFF
    if not group & 1 or element < 0x1000:
        return None
    elem = ds.get((group << 16) | (element >> 8))
    return str(elem.value) if elem is not None and elem.value is not None else None


# --------------------------------------------------------------------------- per-file checks


class _Checker:
    def __init__(self, std: Standard, profile: Profile, index: NeedleIndex | None,
                 file_patients: Mapping[str, frozenset[int]] | None, show_values: bool) -> None:
        self.std, self.profile, self.index = std, profile, index
        self.file_patients = file_patients
        self.show_values = show_values
        self.findings: list[Finding] = []
        self.sop_uids: dict[str, str] = {}
        self.refs: list[tuple[str, str, str]] = []
        self.basic_code = std.cid7050[None].value

    def add(self, category: Category, file: str, where: str, detail: str, *,
            severity: Severity = Severity.ERROR, value: str | None = None) -> None:
        self.findings.append(Finding(category, file, where, detail, severity,
                                     value if self.show_values else None))

    def mask(self, rel: str) -> str:
        """The output-relative path with any identifying component replaced by a hint."""
        if self.index is None:
            return rel
        parts = re.split(r"([/!])", rel)
        out = []
        for part in parts:
            hits = self.index.search(part, None) if part not in ("/", "!") else []
            out.append(f"[{hits[0].kind} {hint(part)}]" if hits else part)
        return "".join(out)

    def check_file(self, rel: str, data: bytes, ds: Dataset | None) -> None:
        shown = self.mask(rel)
        patients = self.file_patients.get(rel) if self.file_patients is not None else None
        seen: set[tuple[tuple[str, ...], str]] = set()
        self._identifying(shown, "path", rel, patients, seen)
        if ds is not None:
            sop_class = str(ds.get("SOPClassUID", "") or "")
            meta = getattr(ds, "file_meta", None)
            for source in ([meta] if meta is not None else []) + [ds]:
                self._dataset(shown, source, sop_class, patients, seen)
            if sop_class:
                self._marking(shown, ds)
                self._identity(shown, ds, meta)
        for region in _raw_regions(data, ds):
            self._identifying(shown, "raw bytes", region.decode("latin-1"), patients, seen, raw=True)

    def _identifying(self, shown: str, where: str, text: str, patients: frozenset[int] | None,
                     seen: set[tuple[tuple[str, ...], str]], *, raw: bool = False) -> None:
        if self.index is None or not text:
            return
        for n in self.index.search(text, patients):
            key = (n.tokens, n.kind)
            if raw and key in seen:
                continue
            seen.add(key)
            self.add(Category.IDENTIFYING, shown, where,
                     f"{n.kind} ({hint(n.original)}) from the input's {n.source}, input patient #{n.patient}",
                     value=n.original)
        for uid, keyword in self.index.search_uids(text):
            key = ((uid,), "uid")
            if key in seen:
                continue
            seen.add(key)
            self.add(Category.UID, shown, where, f"original {keyword} ({hint(uid)}) left unchanged", value=uid)

    def _dataset(self, shown: str, ds: Dataset, sop_class: str, patients: frozenset[int] | None,
                 seen: set[tuple[tuple[str, ...], str]]) -> None:
        pruned: list[str] = []
        for path, seq, elem, parent in _walk(ds):
            text = _element_text(elem)
            if not any(path.startswith(p) for p in pruned) and self._profile(shown, path, seq, elem, parent,
                                                                            text, sop_class):
                pruned.append(path + "[")
            if text and elem.VR == "UI":
                self._uids(shown, path, seq, elem, parent, text, seen)
            elif text:
                self._identifying(shown, path, text, patients, seen)

    def _profile(self, shown: str, path: str, seq: tuple[str, ...], elem: Any, parent: Dataset,
                 text: str | None, sop_class: str) -> bool:
        """(a): report an element the profile removes or empties; True to skip its items."""
        tag, keyword = int(elem.tag), elem.keyword or ""
        found = _profile_code(self.std, self.profile, tag, elem.VR, keyword, text or "", _creator(parent, tag))
        if found is None:
            return False
        code, rule = found
        if code.is_combined:
            attr_type = self.std.type_of(sop_class, seq, keyword)
            resolved, rule = _resolve(code, attr_type), f"{rule}, type {attr_type}"
        else:
            resolved = code
        if resolved is ActionCode.X:
            self.add(Category.PROFILE, shown, path, f"present; {rule} requires removal (X)", value=text)
            return True
        if resolved is not ActionCode.Z:
            return False
        if elem.VR == "SQ":
            if elem.value:
                self.add(Category.PROFILE, shown, path, f"has {len(elem.value)} item(s); {rule} requires an "
                         "empty sequence (Z)")
            return True
        value = (text or "").strip().strip("\x00")
        kind = self.std.pseudonyms.get(tag)
        if value and not (kind in _PSEUDONYM_FORMS and _PSEUDONYM_FORMS[kind].match(value)):
            self.add(Category.PROFILE, shown, path, f"holds a value ({hint(value)}); {rule} requires it empty "
                     "(Z) or a keyed pseudonym", value=value)
        return False

    def _uids(self, shown: str, path: str, seq: tuple[str, ...], elem: Any, parent: Dataset, text: str,
              seen: set[tuple[tuple[str, ...], str]]) -> None:
        keyword = elem.keyword or ""
        for uid in (u.strip().rstrip("\x00") for u in text.split("\\")):
            if not uid:
                continue
            if len(uid) > 64 or not _UID_RE.match(uid):
                self.add(Category.UID, shown, path, f"invalid UID syntax ({len(uid)} characters)")
            original = self.index.uids.get(uid) if self.index is not None else None
            if original is not None and not self.std.keeps_uid(keyword, uid) and ((uid,), "uid") not in seen:
                seen.add(((uid,), "uid"))
                self.add(Category.UID, shown, path, f"original {original[0]} ({hint(uid)}) of input patient "
                         f"#{original[1]} left unchanged", value=uid)
            if keyword == "ReferencedSOPInstanceUID":
                ref_class = str(parent.get("ReferencedSOPClassUID", "") or "")
                if not ref_class or ref_class.startswith(_STORAGE_ROOT):
                    self.refs.append((shown, path, uid))
            elif keyword == "SOPInstanceUID" and not seq:
                if uid in self.sop_uids:
                    self.add(Category.UID, shown, path, f"duplicate SOP Instance UID (also {self.sop_uids[uid]})")
                else:
                    self.sop_uids[uid] = shown

    def _identity(self, shown: str, ds: Dataset, meta: Dataset | None) -> None:
        stored = str(meta.get("MediaStorageSOPInstanceUID", "") or "") if meta is not None else ""
        if stored and stored != str(ds.get("SOPInstanceUID", "") or ""):
            self.add(Category.UID, shown, "MediaStorageSOPInstanceUID", "differs from SOPInstanceUID")

    def _marking(self, shown: str, ds: Dataset) -> None:
        if str(ds.get("PatientIdentityRemoved", "") or "").upper() != "YES":
            self.add(Category.MARKING, shown, "PatientIdentityRemoved", "missing or not YES (PS3.15 E.1.1)")
        codes = ds.get("DeidentificationMethodCodeSequence")
        if not codes:
            self.add(Category.MARKING, shown, "DeidentificationMethodCodeSequence", "missing or empty")
        elif not any(str(item.get("CodeValue", "")) == self.basic_code for item in codes):
            self.add(Category.MARKING, shown, "DeidentificationMethodCodeSequence",
                     f"does not list the Basic Profile code {self.basic_code} (CID 7050)")

    def finish(self) -> None:
        """Dangling references: errors, unless the input had as many (references to studies not exported)."""
        dangling = [(shown, path, uid) for shown, path, uid in self.refs if uid not in self.sop_uids]
        expected = self.index is not None and len(dangling) <= self.index.dangling
        for shown, path, uid in dangling:
            self.add(Category.UID, shown, path, f"references an instance not in the output ({uid[:16]}…)"
                     + ("; the input has as many dangling references" if expected else ""),
                     severity=Severity.WARNING if expected else Severity.ERROR)


# --------------------------------------------------------------------------- pixels (c)


class _WordReader:
    """Tesseract in sparse-text mode: (word, confidence) for an 8-bit image."""

    def __init__(self) -> None:
        from dicom_deid.errors import OcrUnavailable

        self._api: Any = None
        try:
            import tesserocr  # type: ignore[import-untyped]

            self._tesserocr = tesserocr
            self._api = tesserocr.PyTessBaseAPI(path=_tessdata(), psm=tesserocr.PSM.SPARSE_TEXT)
            return
        except (ImportError, RuntimeError):
            pass
        try:
            import pytesseract  # type: ignore[import-untyped]

            pytesseract.get_tesseract_version()
        except (ImportError, OSError, RuntimeError) as exc:
            raise OcrUnavailable("Tesseract is missing: install Debian 'tesseract-ocr' and tesserocr or "
                                 "pytesseract") from exc

    def words(self, image: Any) -> list[tuple[str, float]]:
        from PIL import Image

        pil = Image.fromarray(image)
        if max(pil.size) <= 1024:
            pil = pil.resize((pil.width * 2, pil.height * 2), Image.Resampling.BICUBIC)
        if self._api is not None:
            tesserocr = self._tesserocr
            self._api.SetImage(pil)
            self._api.Recognize()
            level = tesserocr.RIL.WORD
            words = []
            iterator = self._api.GetIterator()
            for r in tesserocr.iterate_level(iterator, level) if iterator is not None else ():
                try:
                    words.append((str(r.GetUTF8Text(level) or ""), float(r.Confidence(level))))
                except RuntimeError:  # "No text returned" for an empty word
                    continue
            return words
        import pytesseract

        data = pytesseract.image_to_data(pil, config="--psm 11", output_type=pytesseract.Output.DICT)
        return [(str(w), float(c)) for w, c in zip(data["text"], data["conf"], strict=True) if str(w).strip()]

    def close(self) -> None:
        if self._api is not None:
            self._api.End()


def _tessdata() -> str:
    """Tesseract's language folder: $TESSDATA_PREFIX or the Debian locations."""
    candidates = [os.environ.get("TESSDATA_PREFIX", ""), "/usr/share/tesseract-ocr/5/tessdata",
                  "/usr/share/tesseract-ocr/4.00/tessdata", "/usr/share/tessdata", "/usr/local/share/tessdata"]
    return next((c for c in candidates if c and (Path(c) / "eng.traineddata").is_file()), "./")


def _display_frames(ds: Dataset) -> list[tuple[int, Any]]:
    """First, middle and last frame as 8-bit display images."""
    import numpy as np

    try:
        from dicom_deid.pixels.decode import decode_pixels
        from dicom_deid.pixels.display import display_frame

        decoded = decode_pixels(ds)
        count = decoded.facts.frames
        picks = sorted({0, count // 2, count - 1})
        return [(i, display_frame(decoded, decoded.frames[i])) for i in picks]
    except ImportError:
        arr = np.asarray(ds.pixel_array)
        frames = arr if int(ds.get("NumberOfFrames", 1) or 1) > 1 else arr[None]
        out = []
        for i in sorted({0, len(frames) // 2, len(frames) - 1}):
            f = frames[i].astype(np.float32)
            lo, hi = float(f.min()), float(f.max())
            out.append((i, ((f - lo) * (255.0 / max(hi - lo, 1e-6))).astype(np.uint8)))
        return out


def _at_risk(ds: Dataset) -> bool:
    from dicom_deid.pixels.risk import RiskLevel, assess_risk

    return assess_risk(ds).level is not RiskLevel.LOW


_WORD = re.compile(r"[A-Za-z0-9]")


def _read_words(reader: _WordReader, ref: InputRef, min_confidence: float) -> list[tuple[int, list[tuple[str, float]]]] | str:
    """Confident words per frame of one image, or the name of the error that stopped decoding."""
    try:
        frames = _display_frames(pydicom.dcmread(BytesIO(read_bytes(ref)), force=True))
    except Exception as exc:  # noqa: BLE001 - an image that cannot be decoded is reported, not fatal
        return type(exc).__name__
    out = []
    for i, image in frames:
        words = [(w.strip(), c) for w, c in reader.words(image) if c >= min_confidence and len(_WORD.findall(w)) >= 3]
        out.append((i, words))
    return out


def check_pixels(checker: _Checker, jobs: list[tuple[str, str, InputRef]], first: _WordReader, *,
                 threads: int = 4, min_confidence: float = 75.0) -> None:
    """(c): words Tesseract reads with confidence in de-identified pixels (one engine per thread)."""
    import queue
    from concurrent.futures import ThreadPoolExecutor

    free: queue.SimpleQueue[_WordReader] = queue.SimpleQueue()
    free.put(first)
    readers = [first]

    def one(job: tuple[str, str, InputRef]) -> Any:
        try:
            reader = free.get_nowait()
        except queue.Empty:
            reader = _WordReader()
            readers.append(reader)
        try:
            return _read_words(reader, job[2], min_confidence)
        finally:
            free.put(reader)

    try:
        with ThreadPoolExecutor(max(1, threads)) as pool:
            results = list(pool.map(one, jobs))
    finally:
        for reader in readers:
            reader.close()
    for (shown, rel, _ref), result in zip(jobs, results, strict=True):
        if isinstance(result, str):
            checker.add(Category.PIXEL_TEXT, shown, "pixels", f"cannot be decoded for OCR ({result})",
                        severity=Severity.WARNING)
            continue
        patients = checker.file_patients.get(rel) if checker.file_patients is not None else None
        for i, words in result:
            if not words:
                continue
            text = " ".join(w for w, _ in words)
            matched = checker.index.search(text, patients) if checker.index is not None else []
            what = "; matches " + ", ".join(sorted({f"{n.kind} ({hint(n.original)})" for n in matched})) if matched else ""
            checker.add(Category.PIXEL_TEXT, shown, f"pixels frame {i}",
                        f"{len(words)} word(s) read by OCR (longest {max(len(w) for w, _ in words)} characters, "
                        f"best confidence {max(c for _, c in words):.0f}){what}", value=text)


# --------------------------------------------------------------------------- conformance (f)


_VALUE_IN_MESSAGE = re.compile(r"(?i)(values?\s*=?\s*)<[^>]*>")


def _dciodvfy_errors(path: Path) -> set[str]:
    import subprocess

    proc = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, errors="replace",
                          timeout=120, check=False)
    lines = (proc.stdout + proc.stderr).splitlines()
    return {_VALUE_IN_MESSAGE.sub(r"\1<…>", ln.strip()) for ln in lines if ln.strip().startswith("Error")}


def _materialise(ref: InputRef, tmp: Path) -> Path:
    if ref.member is None:
        return ref.path
    target = tmp / f"{ref.ordinal:08d}.dcm"
    target.write_bytes(read_bytes(ref))
    return target


def check_conformance(checker: _Checker, pairs: list[tuple[str, InputRef, InputRef | None]]) -> None:
    """(f): dciodvfy errors of each output not present in its paired input."""
    import tempfile
    from concurrent.futures import ThreadPoolExecutor

    with tempfile.TemporaryDirectory(prefix="dicom-deid-verify-") as tmp_name, ThreadPoolExecutor(4) as pool:
        tmp = Path(tmp_name)

        def one(pair: tuple[str, InputRef, InputRef | None]) -> tuple[str, set[str], set[str] | None]:
            shown, out_ref, in_ref = pair
            before = _dciodvfy_errors(_materialise(in_ref, tmp)) if in_ref is not None else None
            return shown, _dciodvfy_errors(_materialise(out_ref, tmp)), before

        for shown, after, before in pool.map(one, pairs):
            for msg in sorted(after - (before or set())):
                checker.add(Category.CONFORMANCE, shown, "file", msg[:300],
                            severity=Severity.ERROR if before is not None else Severity.WARNING)


# --------------------------------------------------------------------------- driver


def verify_output(output: Path, *, against: Path | None = None, profile: Profile | None = None,
                  ocr: str | OcrMode = "auto", dciodvfy: bool = False, show_values: bool = False) -> VerifyResult:
    """Check every file under ``output``; ``against`` is the input the output was made from.

    pydicom's warnings about invalid values quote the values: they are silenced here.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _verify(Path(output), against=against, profile=profile, ocr=ocr, dciodvfy=dciodvfy,
                       show_values=show_values)


def _verify(output: Path, *, against: Path | None, profile: Profile | None, ocr: str | OcrMode,
            dciodvfy: bool, show_values: bool) -> VerifyResult:
    import shutil

    output = Path(output)
    if not output.is_dir():
        raise ConfigError("not a folder: give the output folder of a dicom-deid run", path=output)
    if against is not None and not Path(against).exists():
        raise ConfigError("--against: no such file or folder", path=against)
    if show_values and against is None:
        raise ConfigError("--show-values needs --against INPUT (it prints original values: input side only)")
    try:
        mode = OcrMode(ocr.value if isinstance(ocr, OcrMode) else str(ocr).lower())
    except ValueError:
        raise ConfigError(f"--ocr must be auto, all or off, not {ocr!r}") from None
    std = load_standard()
    profile, notes = resolve_profile(output, profile)
    manifest = output / MANIFEST_NAME
    rows = [r for r in read_manifest(manifest) if r.get("type") == "file"] if manifest.is_file() else []
    ordinal_of = {str(r["output"]): int(r["ordinal"]) for r in rows if r.get("output")}
    index, file_patients, input_refs = None, None, {}
    if against is not None:
        index, by_ordinal, classes = collect_identifying(Path(against), profile, std)
        paired = bool(ordinal_of) and all(classes.get(o) == r.get("sop_class_uid")
                                          for r in rows if r.get("output") for o in [int(r["ordinal"])])
        if paired:
            file_patients = {rel: frozenset({by_ordinal[o]}) for rel, o in ordinal_of.items()}
            input_refs = {ref.ordinal: ref for ref in walk_inputs(Path(against)) if ref.ordinal in ordinal_of.values()}
        else:
            notes.append("outputs could not be paired with inputs through the manifest: dates and times are "
                         "searched in every output")
    checker = _Checker(std, profile, index, file_patients, show_values)
    reader: _WordReader | None = None
    if mode is not OcrMode.OFF:
        try:
            reader = _WordReader()
        except DeidError as exc:
            notes.append(f"OCR unavailable: {exc}")
            checker.add(Category.PIXEL_TEXT, ".", "pixels", f"OCR unavailable, pixel text not checked: {exc}",
                        severity=Severity.ERROR if mode is OcrMode.ALL else Severity.WARNING)
    files = dicom = images = 0
    pairs: list[tuple[str, InputRef, InputRef | None]] = []
    ocr_jobs: list[tuple[str, str, InputRef]] = []
    try:
        for ref in walk_inputs(output):
            rel = ref.relative_to(output)
            data = read_bytes(ref)
            ds = None if rel == MANIFEST_NAME else _read_lenient(data)
            files += 1
            checker.check_file(rel, data, ds)
            if ds is None:
                continue
            dicom += 1
            shown = checker.mask(rel)
            if reader is not None and PIXEL_DATA in ds and (mode is OcrMode.ALL or _at_risk(ds)):
                ocr_jobs.append((shown, rel, ref))
            if dciodvfy and str(ds.get("SOPClassUID", "") or ""):
                pairs.append((shown, ref, input_refs.get(ordinal_of.get(rel, -1))))
        if reader is not None:
            images = len(ocr_jobs)
            check_pixels(checker, ocr_jobs, reader, threads=min(4, os.cpu_count() or 1))
            reader = None
    finally:
        if reader is not None:
            reader.close()
    checker.finish()
    if files - dicom > (1 if ordinal_of or manifest.is_file() else 0):
        notes.append(f"{files - dicom} file(s) are not DICOM: scanned as raw bytes and by path only")
    if dciodvfy:
        if shutil.which("dciodvfy") is None:
            notes.append("dciodvfy not installed (Debian package dicom3tools): conformance not checked")
        else:
            check_conformance(checker, pairs)
    return VerifyResult(
        output=str(output), findings=tuple(checker.findings), files_checked=files, dicom_checked=dicom,
        profile=profile.name, against=against is not None, ocr=mode.value, images_ocr=images,
        needles=dict(sorted(index.kinds.items())) if index is not None else {}, notes=tuple(notes),
        show_values=show_values,
    )


__all__ = [
    "Category",
    "Finding",
    "NeedleIndex",
    "OcrMode",
    "Severity",
    "VerifyResult",
    "collect_identifying",
    "hint",
    "resolve_profile",
    "verify_output",
]
