"""Per-file checks of one output: (a) profile, (b) identifying values in elements, paths and raw
bytes, (d) UIDs and references, (e) de-identification marking."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydicom.datadict import keyword_for_tag
from pydicom.dataset import Dataset

from dicom_deid.errors import PixelStreamError
from dicom_deid.manifest import MANIFEST_NAME
from dicom_deid.profiles import ActionCode, Profile, Standard
from dicom_deid.streams import find_stream_metadata
from dicom_deid.verify.elements import (
    _STORAGE_ROOT,
    Parsed,
    _creator,
    _element_text,
    _raw_regions,
    _walk,
    hint,
)
from dicom_deid.verify.identifying import InputValues
from dicom_deid.verify.judge import (
    describe_spellings,
    judge_name,
    judge_value,
    released_location,
    vocabulary_location,
)
from dicom_deid.verify.names import NameHit
from dicom_deid.verify.own import OwnValues
from dicom_deid.verify.result import Category, Finding, Severity
from dicom_deid.verify.rules import _profile_code, _resolve

_UID_RE = re.compile(r"^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$")
_YEAR_ONLY = re.compile(r"^\d{4}0101(?:\d*(?:\.\d*)?)?(?:[+-]\d{4})?$")
_CACHED_TEXT = 256  # texts up to this length have their search results remembered within a run
Seen = set[tuple[tuple[str, ...], str]]


class _Checker:
    def __init__(self, std: Standard, profile: Profile, found: InputValues | None, own: OwnValues,
                 file_patients: Mapping[str, frozenset[int]] | None, show_values: bool,
                 ordinals: Mapping[str, int] | None = None) -> None:
        self.std, self.profile, self.found, self.own = std, profile, found, own
        self.index = found.values if found is not None else None
        self.file_patients = file_patients
        self.ordinals = ordinals  # output path -> input ordinal, when the manifest pairs them
        self.show_values = show_values
        self.findings: list[Finding] = []
        self.sop_uids: dict[str, str] = {}
        self.refs: list[tuple[str, str, str]] = []
        self.duplicates: list[tuple[str, str, str]] = []
        self.basic_code = std.cid7050[None].value
        self.unwritten: int | None = None  # inputs the run's manifest shows not written (None: no manifest)
        self._memo: dict[tuple[str, frozenset[int] | None], tuple[list[Any], list[NameHit]]] = {}

    def add(self, category: Category, file: str, where: str, detail: str, *,
            severity: Severity = Severity.ERROR, value: str | None = None) -> None:
        self.findings.append(Finding(category, file, where, detail, severity,
                                     value if self.show_values else None))

    def search(self, text: str, patients: frozenset[int] | None) -> tuple[list[Any], list[NameHit]]:
        """Input values and names in ``text``, the tool's own values blanked out first."""
        if self.found is None or not text:
            return [], []
        key = (text, patients)
        memo = self._memo.get(key) if len(text) <= _CACHED_TEXT else None
        if memo is None:
            stripped = self.own.strip(text)
            memo = self.found.values.search(stripped, patients), self.found.names.search(stripped, patients)
            if len(text) <= _CACHED_TEXT:
                self._memo[key] = memo
        return memo

    def mask(self, rel: str) -> str:
        """The output-relative path with any identifying component replaced by a hint."""
        if self.found is None:
            return rel
        parts = re.split(r"([/!])", rel)
        out = []
        for part in parts:
            values, names = self.search(part, None) if part not in ("/", "!") else ([], [])
            kind = values[0].kind if values else "name" if any(h.distinctive for h in names) else None
            out.append(f"[{kind} {hint(part)}]" if kind else part)
        return "".join(out)

    def check_file(self, rel: str, data: bytes, parsed: Parsed | None) -> None:
        shown = self.mask(rel)
        patients = self.file_patients.get(rel) if self.file_patients is not None else None
        if rel == MANIFEST_NAME:
            patients = frozenset()  # no patient: dates, times and name variants are not searched there
        seen: Seen = set()
        self._identifying(shown, "path", rel, patients, seen)
        ds = parsed.dataset if parsed is not None else None
        if ds is not None:
            sop_class = str(ds.get("SOPClassUID", "") or "")
            meta = getattr(ds, "file_meta", None)
            ordinal = self.ordinals.get(rel) if self.ordinals is not None else None
            for source in ([meta] if meta is not None else []) + [ds]:
                self._dataset(shown, source, sop_class, patients, seen, ordinal)
            if sop_class:
                self._marking(shown, ds)
                self._identity(shown, ds, meta)
            self._stream(shown, ds)
        for region in _raw_regions(data, parsed):
            self._identifying(shown, "raw bytes", region.decode("latin-1"), patients, seen, raw=True)

    def _identifying(self, shown: str, where: str, text: str, patients: frozenset[int] | None, seen: Seen, *,
                     raw: bool = False, vocabulary_here: bool = False, rewritten_date: bool = False) -> None:
        if self.found is None or not text:
            return
        values, names = self.search(text, patients)
        for n in values:
            key = (n.tokens, n.kind)
            if raw and key in seen:
                continue
            seen.add(key)
            other = patients is not None and n.patient not in patients
            verdict = judge_value(n.kind, n.tokens, where, vocabulary_here, other, n.original,
                                  rewritten_date=rewritten_date)
            self.add(Category.IDENTIFYING, shown, where,
                     f"{n.kind} ({hint(n.original)}) of the input's {n.source}, input patient #{n.patient}: "
                     f"{verdict.reason}", severity=verdict.severity, value=n.original)
        by_name: dict[int, list[NameHit]] = {}
        for h in names:
            by_name.setdefault(id(h.name), []).append(h)
        for hits in by_name.values():
            name = hits[0].name
            key = (name.parts, "name")
            if raw and key in seen:
                continue
            seen.add(key)
            other = patients is not None and name.patient not in patients
            verdict = judge_name(hits, where, vocabulary_here, other)
            self.add(Category.IDENTIFYING, shown, where,
                     f"name ({hint(name.original)}) of the input's {name.source}, input patient #{name.patient}, "
                     f"found as {describe_spellings(hits)}: {verdict.reason}", severity=verdict.severity,
                     value=name.original)
        if self.index is None:
            return
        for uid, keyword in self.index.search_uids(text):
            key = ((uid,), "uid")
            if key in seen:
                continue
            seen.add(key)
            self.add(Category.UID, shown, where, f"original {keyword} ({hint(uid)}) left unchanged: remap it "
                     "(action U) or remove it", value=uid)

    def _dataset(self, shown: str, ds: Dataset, sop_class: str, patients: frozenset[int] | None,
                 seen: Seen, ordinal: int | None = None) -> None:
        pruned: list[str] = []
        for path, seq, elem, parent in _walk(ds):
            text = _element_text(elem)
            if not any(path.startswith(p) for p in pruned) and self._profile(shown, path, seq, elem, parent,
                                                                            text, sop_class, ds):
                pruned.append(path + "[")
            if text and elem.VR == "UI":
                self._uids(shown, path, seq, elem, parent, text, seen)
            elif text and elem.VR in ("DA", "DT") and self.own.year_only and _YEAR_ONLY.match(text):
                # the year-only date the profile writes (YYYY0101): not searched, nor in the raw bytes
                seen.update((n.tokens, n.kind) for n in self.search(text, patients)[0])
            elif text:
                tag = int(elem.tag)
                keyword = elem.keyword or keyword_for_tag(tag) or ""
                creator = bool(tag >> 16 & 1) and 0x10 <= tag & 0xFFFF <= 0xFF
                released = released_location(keyword) and _profile_code(
                    self.std, self.profile, tag, elem.VR, keyword, text, _creator(parent, tag)) is None
                self._identifying(shown, path, text, patients, seen,
                                  vocabulary_here=released or vocabulary_location(keyword, elem.VR, creator),
                                  rewritten_date=self._rewritten_date(ordinal, path, elem.VR, text))

    def _rewritten_date(self, ordinal: int | None, path: str, vr: str, text: str) -> bool:
        """A DA/DT value the run changed: its paired input instance holds another value at the
        same place (a shifted date that lands on another of the patient's input dates)."""
        if vr not in ("DA", "DT") or ordinal is None or self.found is None:
            return False
        original = self.found.dates_at.get((ordinal, path))
        return original is not None and original != text.strip()

    def _profile(self, shown: str, path: str, seq: tuple[str, ...], elem: Any, parent: Dataset,
                 text: str | None, sop_class: str, instance: Dataset) -> bool:
        """(a): report an element the profile removes or empties; True to skip its items."""
        tag = int(elem.tag)
        keyword = elem.keyword or keyword_for_tag(tag) or ""
        found = _profile_code(self.std, self.profile, tag, elem.VR, keyword, text or "", _creator(parent, tag))
        if found is None:
            return False
        code, rule = found
        # PS3.15 U*: a reference sequence may stay with its UIDs replaced (its items are checked);
        # an X the IOD forbids at the top level (PS3.15 E.1, IOD integrity) becomes Z (Type 2) or D
        if code.is_combined and elem.VR == "SQ" and tag in self.std.reference_sequences:
            return False
        required = self.std.iod_requires(sop_class, keyword, instance) if code is ActionCode.X and not seq else None
        if required == "1":
            return False
        if required == "2":
            code, rule = ActionCode.Z, f"{rule}, required by the IOD"
        if code.is_combined:
            attr_type = self.std.effective_type(sop_class, seq, keyword, instance)
            resolved, rule = _resolve(code, attr_type), f"{rule}, type {attr_type}"
        else:
            resolved = code
        if resolved is ActionCode.X:
            self.add(Category.PROFILE, shown, path, f"present; {rule} requires removal (X): remove it", value=text)
            return True
        if resolved is not ActionCode.Z:
            return False
        if elem.VR == "SQ":
            if elem.value:
                self.add(Category.PROFILE, shown, path, f"has {len(elem.value)} item(s); {rule} requires an "
                         "empty sequence (Z): empty it")
            return True
        value = (text or "").strip().strip("\x00")
        kind = self.std.pseudonyms.get(tag)
        if value and not (kind is not None and self.own.is_pseudonym(kind, value)):
            known = "; not a pseudonym of the key given" if self.own.keyed and kind is not None else ""
            self.add(Category.PROFILE, shown, path, f"holds a value ({hint(value)}); {rule} requires it empty "
                     f"(Z) or a keyed pseudonym{known}: empty it", value=value)
        return False

    def _uids(self, shown: str, path: str, seq: tuple[str, ...], elem: Any, parent: Dataset, text: str,
              seen: Seen) -> None:
        keyword = elem.keyword or ""
        for uid in (u.strip().rstrip("\x00") for u in text.split("\\")):
            if not uid:
                continue
            if len(uid) > 64 or not _UID_RE.match(uid):
                as_input = self.index is not None and uid in self.index.all_uids
                self.add(Category.UID, shown, path, f"invalid UID syntax ({len(uid)} characters)" + (
                         "; the input has it, and the profile keeps it" if as_input else ": regenerate it"),
                         severity=Severity.NOTE if as_input else Severity.ERROR)
            original = self.index.uids.get(uid) if self.index is not None else None
            kept = _profile_code(self.std, self.profile, int(elem.tag), "UI", keyword, uid,
                                 _creator(parent, int(elem.tag))) is None  # e.g. retain_uids: on purpose
            if kept:
                seen.add(((uid,), "uid"))  # nor in the raw bytes
            if original is not None and not kept and not self.std.keeps_uid(keyword, uid) and \
                    ((uid,), "uid") not in seen:
                seen.add(((uid,), "uid"))
                self.add(Category.UID, shown, path, f"original {original[0]} ({hint(uid)}) of input patient "
                         f"#{original[1]} left unchanged: remap it (action U) or remove it", value=uid)
            if keyword == "ReferencedSOPInstanceUID":
                ref_class = str(parent.get("ReferencedSOPClassUID", "") or "")
                if not ref_class or ref_class.startswith(_STORAGE_ROOT):
                    self.refs.append((shown, path, uid))
            elif keyword == "SOPInstanceUID" and not seq:
                if uid in self.sop_uids:
                    self.duplicates.append((shown, path, self.sop_uids[uid]))
                else:
                    self.sop_uids[uid] = shown

    def _identity(self, shown: str, ds: Dataset, meta: Dataset | None) -> None:
        stored = str(meta.get("MediaStorageSOPInstanceUID", "") or "") if meta is not None else ""
        if stored and stored != str(ds.get("SOPInstanceUID", "") or ""):
            self.add(Category.UID, shown, "MediaStorageSOPInstanceUID", "differs from SOPInstanceUID: the file meta "
                     "still names another instance; rewrite the file")

    def _stream(self, shown: str, ds: Dataset) -> None:
        """Comments, EXIF and thumbnails inside the compressed frames (run removes them)."""
        try:
            found = find_stream_metadata(ds)
        except PixelStreamError as exc:
            self.add(Category.PROFILE, shown, "PixelData", f"compressed pixel stream not examined: {exc}",
                     severity=Severity.WARNING)
            return
        if found is not None:
            self.add(Category.PROFILE, shown, "PixelData",
                     "metadata segments inside the compressed pixel stream: " + ", ".join(found.names))

    def _marking(self, shown: str, ds: Dataset) -> None:
        if str(ds.get("PatientIdentityRemoved", "") or "").upper() != "YES":
            self.add(Category.MARKING, shown, "PatientIdentityRemoved", "missing or not YES (PS3.15 E.1.1): not "
                     "written by dicom-deid, or changed since")
        codes = ds.get("DeidentificationMethodCodeSequence")
        if not codes:
            self.add(Category.MARKING, shown, "DeidentificationMethodCodeSequence", "missing or empty: not written "
                     "by dicom-deid, or changed since")
        elif not any(str(item.get("CodeValue", "")) == self.basic_code for item in codes):
            self.add(Category.MARKING, shown, "DeidentificationMethodCodeSequence",
                     f"does not list the Basic Profile code {self.basic_code} (CID 7050): not written by "
                     "dicom-deid, or changed since")

    def finish(self) -> None:
        """Duplicate SOP Instance UIDs and dangling references: errors, unless the input had as many
        (one instance exported twice, references to studies not exported)."""
        input_duplicates = self.index.sop_uid_files - len(self.index.sop_uids) if self.index is not None else 0
        as_input = 0 < len(self.duplicates) <= input_duplicates
        for shown, path, other in self.duplicates:
            self.add(Category.UID, shown, path, f"duplicate SOP Instance UID (also {other})" + (
                     "; the input has as many duplicates (one instance under two patients or studies)" if as_input
                     else ": two outputs claim one instance; keep one"),
                     severity=Severity.NOTE if as_input else Severity.ERROR)
        dangling = [(shown, path, uid) for shown, path, uid in self.refs if uid not in self.sop_uids]
        if self.index is not None:
            expected = len(dangling) <= self.index.dangling
            why = ("; the input has as many dangling references (instances not exported)" if expected else
                   ": the instance was not written (see the manifest for a quarantined input)")
            severity = Severity.NOTE if expected else Severity.ERROR
        elif self.unwritten == 0:  # no input at hand, and the manifest says every DICOM input was written
            why, severity = "; every input was written: an instance the export did not include", Severity.NOTE
        else:
            why, severity = ("; without --against it cannot be told whether the input had it (see the manifest "
                             "for a quarantined input)"), Severity.WARNING
        for shown, path, uid in dangling:
            self.add(Category.UID, shown, path, f"references an instance not in the output ({uid[:16]}…){why}",
                     severity=severity)
