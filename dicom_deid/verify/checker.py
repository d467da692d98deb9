"""Per-file checks of one output: (a) profile, (b) identifying values in elements, paths and raw
bytes, (d) UIDs and references, (e) de-identification marking."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydicom.dataset import Dataset

from dicom_deid.profiles import ActionCode, Profile, Standard
from dicom_deid.verify.elements import (
    _STORAGE_ROOT,
    _creator,
    _element_text,
    _raw_regions,
    _walk,
    hint,
)
from dicom_deid.verify.identifying import NeedleIndex
from dicom_deid.verify.result import Category, Finding, Severity
from dicom_deid.verify.rules import _profile_code, _resolve

_UID_RE = re.compile(r"^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$")
_PSEUDONYM_FORMS = {"patient_id": re.compile(r"^DD[A-Z2-7]{12}$"),
                    "patient_name": re.compile(r"^ANON\^DD[A-Z2-7]{12}$"),
                    "accession_number": re.compile(r"^A[A-Z2-7]{13}$")}


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
                                                                            text, sop_class, ds):
                pruned.append(path + "[")
            if text and elem.VR == "UI":
                self._uids(shown, path, seq, elem, parent, text, seen)
            elif text:
                self._identifying(shown, path, text, patients, seen)

    def _profile(self, shown: str, path: str, seq: tuple[str, ...], elem: Any, parent: Dataset,
                 text: str | None, sop_class: str, instance: Dataset) -> bool:
        """(a): report an element the profile removes or empties; True to skip its items."""
        tag, keyword = int(elem.tag), elem.keyword or ""
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
