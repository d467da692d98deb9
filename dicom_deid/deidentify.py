"""The per-instance seam: (dataset, Engine) -> Deidentified.  No files, no global state.

:class:`Engine` is the one description of the engine (profile, key, pixel mode, subject map):
built once by the API (``dicom_deid.api.Deidentifier``), frozen, picklable, and sent as is to a
process-pool worker, a Dask task or the network node.  What it derives in a process (the PS3.15
tables, the keyed remapper, the pixel stage, the plan cache) is rebuilt after unpickling and is
never compared or sent.  ``boundary.py`` wraps :func:`deidentify` with reading, writing and the
fail-closed per-file boundary.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pydicom.dataset import Dataset

from dicom_deid._version import __version__
from dicom_deid.bytepath import (
    Copies,
    CopyChooser,
    fallback_reason,
    identifying_keywords,
    protected_tags,
)
from dicom_deid.clean import patient_identifiers
from dicom_deid.element_bytes import EncodeMemo
from dicom_deid.errors import EncapsulatedDocumentError, OcrUnavailable, UnmappedPatient
from dicom_deid.items_fast import new_file_meta
from dicom_deid.keys import SecretKey
from dicom_deid.links import Link, LinkKind
from dicom_deid.pixels.mode import PixelMode
from dicom_deid.plan import (
    DOCUMENT_TAG,
    DecisionCache,
    DroppedCache,
    Plan,
    UidDecisions,
    format_path,
    plan_actions,
)
from dicom_deid.profiles import ActionCode, DocumentPolicy, Option, Profile, Standard, load_standard
from dicom_deid.read import dataset_encoding, keyword_value
from dicom_deid.remap import Remapper, UidMemo, patient_key
from dicom_deid.scrub import (
    ScrubContext,
    apply_plan,
    finish_file_meta,
    new_dataset,
    set_plain,
    set_sequence,
)
from dicom_deid.streams import scrub_pixel_stream
from dicom_deid.subjects import Subject, SubjectMap, Unmapped
from dicom_deid.uid_bytes import DecodeMemo, decoded_element

if TYPE_CHECKING:
    from dicom_deid.pixels.sampling import SeriesVerdicts
    from dicom_deid.pixels.stage import PixelOutcome, PixelStage

# Our implementation class UID: 2.25 form of a fixed UUID (PS3.5 B.2).
IMPLEMENTATION_CLASS_UID = "2.25.176372437206211430547785532466613404713"
IMPLEMENTATION_VERSION_NAME = f"DICOMDEID_{__version__}"[:16]

_DESCRIPTION = ("profile", "key", "pixels", "subject_map", "pixel_series")

#: Options the pixel stage carries out (burned-in text; faces and defacing review).
_PIXEL_OPTIONS = frozenset({Option.CLEAN_PIXEL_DATA, Option.CLEAN_RECOGNIZABLE_VISUAL_FEATURES})


@dataclass(frozen=True)
class Engine:
    """Everything the per-instance work needs: the one description of the engine.

    ``pixels`` is the effective mode (``OFF`` when the profile selects neither Clean Pixel Data
    nor Clean Recognizable Visual Features).  ``pixel_series`` is the sampling policy's verdicts
    in ``auto`` (``pixels.sampling.SeriesVerdicts``): None searches every image in full (the
    samples, ``all``); after the samples, the series found clear (``pixels/phases.py``).  Only
    the described fields are compared and pickled; the rest is derived in each process.
    """

    profile: Profile
    key: SecretKey
    pixels: PixelMode = PixelMode.OFF
    subject_map: SubjectMap | None = None
    pixel_series: SeriesVerdicts | None = None
    standard: Standard = field(init=False, repr=False, compare=False)
    remapper: Remapper = field(init=False, repr=False, compare=False)
    pixel_stage: PixelStage | None = field(init=False, repr=False, compare=False)
    plan_cache: DecisionCache = field(init=False, repr=False, compare=False)
    dropped_cache: DroppedCache = field(init=False, repr=False, compare=False)
    uid_plan_cache: UidDecisions = field(init=False, repr=False, compare=False)
    copy_protected: frozenset[int] = field(init=False, repr=False, compare=False)  # bytepath.protected_tags
    uid_memo: UidMemo = field(init=False, repr=False, compare=False)  # this process's memo of remapper.uid
    decode_memo: DecodeMemo = field(init=False, repr=False, compare=False)  # this process's decoded values
    encode_memo: EncodeMemo = field(init=False, repr=False, compare=False)  # this process's encoded item elements

    def __post_init__(self) -> None:
        if not isinstance(self.pixels, PixelMode):
            raise TypeError(f"Engine.pixels must be a PixelMode, not {type(self.pixels).__name__}")
        self._derive()

    def _derive(self) -> None:
        stage = (_make_pixel_stage(self.profile, self.pixels).with_series(self.pixel_series)
                 if self.pixels is not PixelMode.OFF else None)
        standard = load_standard()
        protected = protected_tags(identifying_keywords(standard.identifying_values))
        remapper = Remapper(self.key)
        for name, value in (("standard", standard), ("remapper", remapper),
                            ("pixel_stage", stage), ("plan_cache", {}), ("dropped_cache", {}), ("uid_plan_cache", UidDecisions()),
                            ("copy_protected", protected), ("uid_memo", UidMemo(remapper)),
                            ("decode_memo", DecodeMemo()), ("encode_memo", EncodeMemo())):
            object.__setattr__(self, name, value)

    def __getstate__(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in _DESCRIPTION}

    def __setstate__(self, state: Mapping[str, object]) -> None:
        for name in _DESCRIPTION:
            object.__setattr__(self, name, state[name])
        self._derive()

    @property
    def settings_id(self) -> str:
        """A fingerprint of every setting that decides the output besides the key and subject map
        (options, overrides, date method, age cap, documents policy, pixel mode, PS3.15 edition):
        a resume is refused when it differs."""
        p = self.profile
        described = {
            "options": sorted(o.value for o in p.options), "dates": p.date_method.value, "age_cap": p.age_cap_years,
            "overrides": sorted((f"{tag:08X}", o.action.value, o.value or "") for tag, o in p.overrides.items()),
            "documents": p.documents.value, "pixels": self.pixels.value, "standard": self.standard.edition,
        }
        return hashlib.sha256(json.dumps(described, sort_keys=True).encode("utf-8")).hexdigest()[:16]

    @property
    def drops_private(self) -> bool:
        """True when the plan removes every private element without reading it or its creator
        (no retain-safe-private, no override on a private tag): the byte path's reader may then
        leave them unread (``read.parse_instance``'s ``drop_private``; the plan still lists each,
        as ``plan_actions(..., dropped=)``).  The pixel stage reads no private element
        (tests/test_samp2_private.py), so a run with one drops them too."""
        p = self.profile
        return (Option.RETAIN_SAFE_PRIVATE not in p.options
                and not any(tag >> 16 & 1 for tag in p.overrides))

    @property
    def pixels_active(self) -> bool:
        return self.pixel_stage is not None and bool(_PIXEL_OPTIONS & self.profile.options)

    def subject_for(self, source: Dataset) -> Subject | None:
        """The subject map's row for ``source``'s patient; None without a map (or an unmapped patient
        under ``--unmapped keyed``).  Raises :class:`UnmappedPatient` otherwise."""
        smap = self.subject_map
        if smap is None:
            return None
        subject = smap.subject_for(str(source.get("PatientID", "") or ""))
        if subject is None and smap.unmapped is Unmapped.ERROR:
            raise UnmappedPatient("PatientID is not in the subject map: add a row for it, or run with "
                                  "--unmapped keyed to give such patients keyed pseudonyms")
        return subject


def _make_pixel_stage(profile: Profile, mode: PixelMode) -> PixelStage:
    """The pixel stage the profile asks for (text, faces); a missing dependency is an error,
    never a silent skip of redaction."""
    try:
        from dicom_deid.pixels import make_pixel_stage, policy_for
    except ImportError as exc:  # pragma: no cover - numpy and pydicom are core dependencies
        raise OcrUnavailable(f"burned-in text redaction cannot load ({exc}); install 'dicom-deid[ocr]' "
                             "or run with --pixels off") from None
    return make_pixel_stage(policy_for(profile, mode))


@dataclass
class Deidentified:
    """One instance de-identified in memory: the new dataset and what changed.

    ``links`` (original -> replacement) are for the sealed mapping only: they hold originals.
    """

    dataset: Dataset  # with file_meta set
    plan: Plan
    links: list[Link]
    patient: str  # pseudo patient ID (output folder name)
    study_uid: str
    series_uid: str
    sop_uid: str
    pixels: PixelOutcome | None = None  # when a pixel stage ran
    phi_values: tuple[str, ...] = field(default=(), repr=False)  # when the pixel stage keeps clinical text
    document: str | None = None  # "kept" when an encapsulated document body was written unexamined
    stream_metadata: list[str] = field(default_factory=list)  # segments removed from the pixel stream
    copies: Copies | None = None  # the byte path: kept elements the write copies from the input (bytepath.py)
    fallback: str | None = None  # why the pydicom path wrote it, when the input bytes were offered

    @property
    def changes(self) -> dict[str, ActionCode]:
        """Attribute path -> action, for every attribute not kept as is (keywords, no values)."""
        return {format_path(a.path): a.code for a in self.plan if a.code is not ActionCode.K}


def _method_codes(profile: Profile, standard: Standard, pixels_active: bool) -> list[Dataset]:
    items = []
    for value, scheme, meaning in _method_code_values(profile.options, standard, pixels_active):
        item = new_dataset()
        set_plain(item, "CodeValue", value)
        set_plain(item, "CodingSchemeDesignator", scheme)
        set_plain(item, "CodeMeaning", meaning)
        items.append(item)
    return items


#: _method_code_values's answers per (options, standard's id, pixels_active), each beside the
#: standard it was made from (an id is reused only once that standard is gone)
_CODE_VALUES: dict[tuple[frozenset[Option], int, bool], tuple[Standard, tuple[tuple[str, str, str], ...]]] = {}


def _method_code_values(options: frozenset[Option], standard: Standard,
                        pixels_active: bool) -> tuple[tuple[str, str, str], ...]:
    """The (value, scheme, meaning) of each method code the new dataset claims, in order: the
    same for every instance of a run (its options, standard and pixel stage), so chosen and
    sorted once per run (an Enum hashes in Python: ``opt in cid7050`` per option per file)."""
    key = (options, id(standard), pixels_active)
    known = _CODE_VALUES.get(key)
    if known is not None and known[0] is standard:
        return known[1]
    codes = [standard.cid7050[None]]
    for opt in sorted(options, key=lambda o: standard.cid7050[o].value if o in standard.cid7050 else ""):
        if opt in _PIXEL_OPTIONS and not pixels_active:
            continue  # claimed only when the pixel stage ran
        if opt in standard.cid7050:
            codes.append(standard.cid7050[opt])
    values = tuple((c.value, c.scheme, c.meaning) for c in codes)
    if len(_CODE_VALUES) >= 64:
        _CODE_VALUES.clear()
    _CODE_VALUES[key] = (standard, values)
    return values


_PIXEL_REPRESENTATION = 0x00280103
_METHOD_CODES = 0x00120064  # DeidentificationMethodCodeSequence
_ABSENT = object()
_PATIENT_LEVEL = frozenset({LinkKind.PATIENT_ID, LinkKind.PATIENT_NAME, LinkKind.PATIENT_BIRTH_DATE,
                            LinkKind.DATE_OFFSET})
_STUDY_LEVEL = frozenset({LinkKind.STUDY_UID, LinkKind.ACCESSION_NUMBER})


def _in_context(link: Link, patient: str, study: str, series: str) -> Link:
    """Attach the pseudonymous context at the link's own level, so a link is the same whichever
    instance of the patient or study reported it first (runs agree across workers)."""
    kind = link.kind
    level = _LEVEL_OF.get(kind._value_, 3)  # by the kind's str value: an Enum hashes in Python
    if level == 1:
        return Link(kind, link.original, link.replacement, patient)
    if level == 2:
        return Link(kind, link.original, link.replacement, patient, study)
    return Link(kind, link.original, link.replacement, patient, study, series)


#: a link kind's level (_in_context): 1 patient, 2 study, else the series
_LEVEL_OF = {**{kind.value: 1 for kind in _PATIENT_LEVEL}, **{kind.value: 2 for kind in _STUDY_LEVEL}}


def check_document(source: Dataset, plan: Plan, policy: DocumentPolicy) -> bool:
    """True when ``source`` holds an encapsulated document (at any level) that the policy keeps;
    False when it holds none; raises :class:`EncapsulatedDocumentError` otherwise.

    The body of an encapsulated PDF, CDA, STL, OBJ or MTL can hold identifying data anywhere (a
    letterhead, a name in a mesh label) and is never examined, so by default the instance is
    quarantined; an emptied or dummy body is never written."""
    if not plan.has_document():  # known from the walk (Plan.documents)
        return False
    bodies = [a for a in plan if a.path[-1] == DOCUMENT_TAG]
    kind = str(source.get("MIMETypeOfEncapsulatedDocument", "") or "").strip()[:40] or "unknown type"
    if policy is DocumentPolicy.DROP:
        raise EncapsulatedDocumentError(f"encapsulated document ({kind}) dropped (--documents drop)", drop=True)
    if policy is DocumentPolicy.QUARANTINE:
        raise EncapsulatedDocumentError(
            f"encapsulated document ({kind}): its body can hold identifying data anywhere and is not "
            "examined; quarantined (--documents keep writes it for review, drop leaves it out)")
    if any(a.code is not ActionCode.K for a in bodies):
        raise EncapsulatedDocumentError(f"encapsulated document ({kind}): an override removes or replaces "
                                        "the body that --documents keep keeps; an emptied document is never written")
    return True


def deidentify(source: Dataset, engine: Engine, *, data: bytes | None = None,
               dropped: tuple[tuple[int, str], ...] = ()) -> Deidentified:
    """De-identify one instance held in memory.  ``source`` is not modified.

    ``data``: the bytes ``source`` was parsed from (the per-file boundary passes them).  Where the
    byte path takes them (bytepath.py) the kept elements it copies are left out of the returned
    dataset and listed in ``Deidentified.copies``: write with ``encode_dataset(..., copies)``.
    The plan, the links and every other element are the same either way.  ``dropped``: the
    private elements the reader left out of ``source`` (``read.Instance.dropped``; only where
    ``engine.drops_private``): planned as removed, as if ``source`` held them."""
    if dropped and not engine.drops_private:
        raise ValueError("private elements were dropped unread, but this engine's plan may read or keep them")
    profile, standard, remapper = engine.profile, engine.standard, engine.remapper
    source_value = functools.partial(keyword_value, source)  # source.get(keyword), by tag
    pkey = patient_key(str(source_value("PatientID", "") or ""), str(source_value("IssuerOfPatientID", "") or ""),
                       str(source_value("PatientName", "") or ""), str(source_value("PatientBirthDate", "") or ""))
    subject = engine.subject_for(source)
    offset = engine.uid_memo.date_offset_days(pkey)  # remapper.date_offset_days, remembered per patient
    if subject is not None and subject.date_offset_days is not None:
        offset = subject.date_offset_days
    syntax = keyword_value(source.file_meta, "TransferSyntaxUID")
    needs_vr = syntax is not None and not dataset_encoding(syntax)[0]  # raw elements without a VR get one
    ctx = ScrubContext(profile=profile, standard=standard, remapper=remapper, patient_key=pkey,
                       date_offset_days=offset, source=source, needs_vr=needs_vr,
                       patient_id=subject.subject_id if subject else None,
                       patient_name=subject.name if subject else None, uid_memo=engine.uid_memo,
                       decode_memo=engine.decode_memo)
    plan = plan_actions(source, profile, standard, cache=engine.plan_cache, dropped=dropped,
                        dropped_cache=engine.dropped_cache, uid_cache=engine.uid_plan_cache)
    keeps_document = check_document(source, plan, profile.documents)
    chooser, fallback = None, None
    stage = engine.pixel_stage if engine.pixels_active else None
    decision = stage.decide(source) if stage is not None and data is not None else None
    if data is not None:
        fallback = fallback_reason(source, data, plan,
                                   pixels_may_change=decision is not None and not decision.leaves_pixels)
        if fallback is None:  # the scrub's pass chooses the copies too (choose_copies's choice)
            chooser = CopyChooser(data, engine.copy_protected, standard)
    out = apply_plan(source, plan, ctx, copier=chooser)
    copies = chooser.copies() if chooser is not None else None

    meta_src = source.file_meta
    meta_plan = plan_actions(meta_src, profile, standard, cache=engine.plan_cache, uid_cache=engine.uid_plan_cache)
    meta = new_file_meta(apply_plan(meta_src, meta_plan, ctx)._dict)  # FileMetaDataset(the dataset)
    syntax_there = keyword_value(meta_src, "TransferSyntaxUID", _ABSENT)
    if syntax_there is not _ABSENT:
        set_plain(meta, "TransferSyntaxUID", syntax_there)

    pixels_active = engine.pixels_active
    set_plain(out, "PatientIdentityRemoved", "YES")
    set_plain(out, "DeidentificationMethod", (
        f"dicom-deid {__version__}; PS3.15 {standard.edition} Annex E; profile {profile.name}"
    )[:64])
    codes = _method_codes(profile, standard, pixels_active)
    if _PIXEL_REPRESENTATION in out._dict:  # decoded as setting a sequence decodes it (_set_pixel_representation)
        decoded_element(out, _PIXEL_REPRESENTATION, engine.decode_memo)
    if _METHOD_CODES in out._dict:  # the source's, kept or remapped: pydicom sets the value on it
        out.DeidentificationMethodCodeSequence = codes
    else:
        set_sequence(out, _METHOD_CODES, codes)  # what ``out.DeidentificationMethodCodeSequence = codes`` sets
    if Option.RETAIN_LONG_MODIFIED_DATES in profile.options:
        set_plain(out, "LongitudinalTemporalInformationModified", "MODIFIED")
    elif Option.RETAIN_LONG_FULL_DATES in profile.options:
        set_plain(out, "LongitudinalTemporalInformationModified", "UNMODIFIED")
    else:
        set_plain(out, "LongitudinalTemporalInformationModified", "REMOVED")

    pseudo_patient = str(keyword_value(out, "PatientID", "") or "") or (subject.subject_id if subject else
                                                             engine.uid_memo.patient_id(pkey))
    out.file_meta = meta
    finish_file_meta(meta, out, IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME)

    pixels = None
    phi_values: tuple[str, ...] = ()
    if stage is not None:
        if stage.policy.keep_clinical_annotations:  # the only use of the values
            phi_values = patient_identifiers(source, standard.identifying_values)[1]
        pixels = stage.process(source, out, phi_values=phi_values, decision=decision)
    stream = scrub_pixel_stream(out)  # after the pixel stage: a re-encoded stream is scrubbed too

    study, series = str(keyword_value(out, "StudyInstanceUID", "")), str(keyword_value(out, "SeriesInstanceUID", ""))
    links = [_in_context(lk, pseudo_patient, study, series) for lk in ctx.links]
    for kind, value, replacement in (
        (LinkKind.PATIENT_ID, str(source_value("PatientID", "") or ""), pseudo_patient),
        (LinkKind.PATIENT_NAME, str(source_value("PatientName", "") or ""), str(keyword_value(out, "PatientName", "") or "")),
        (LinkKind.PATIENT_BIRTH_DATE, str(source_value("PatientBirthDate", "") or ""),
         str(keyword_value(out, "PatientBirthDate", "") or "")),
        (LinkKind.DATE_OFFSET, pkey, str(offset) if profile.dates_modified else ""),
    ):
        if value:  # patient level: already what _in_context makes of it
            links.append(Link(kind, value, replacement, pseudo_patient))
    return Deidentified(
        dataset=out, plan=plan, links=links, patient=pseudo_patient, study_uid=study, series_uid=series,
        sop_uid=str(out.SOPInstanceUID), pixels=pixels, phi_values=phi_values,
        document="kept" if keeps_document else None, stream_metadata=stream.names if stream else [],
        copies=copies, fallback=fallback,
    )


__all__ = ["IMPLEMENTATION_CLASS_UID", "Deidentified", "Engine", "PixelMode", "check_document", "deidentify"]
