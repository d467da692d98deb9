"""Plan: decide one resolved action per element, without changing anything.

Pure: (dataset, Profile, Standard) -> Plan.  Combined codes (X/Z/D ...) are
resolved here from the attribute's PS3.3 type in the instance's IOD
(PS3.15 Table E.1-1a); a Plan never contains a combined code.  Three choices
the table leaves to the de-identifier are made here, each from the tables:

* a sequence that holds references to other instances and whose combined code
  offers to keep it (X/Z/U*, X/Z/D: ``Standard.reference_sequences``) is kept
  (U): its instance UIDs are remapped with the same keyed derivation as the
  referenced objects and every other element inside follows the profile, at
  every nesting level, so segmentations, SRs and presentation states still
  point at their images (PS3.15 U*: "replacement of contained instance UIDs");
* a removal (X) of a top-level attribute that the instance's IOD requires
  (Type 1 or 2, or 1C/2C whose condition holds, e.g. Responsible Person of an
  animal) becomes D or Z: "it is the responsibility of the de-identifier to
  ensure that this process does not negatively affect the integrity of the
  IOD" (PS3.15 E.1);
* D on a UID is a keyed replacement (U): a dummy is never an empty value.
"""

from __future__ import annotations

import functools
import operator
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from pydicom.datadict import dictionary_VR, keyword_for_tag, tag_for_keyword
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset

from dicom_deid.errors import UnreadableDicomError
from dicom_deid.items_fast import sequence_value
from dicom_deid.profiles import (
    ActionCode,
    DocumentPolicy,
    Option,
    OverrideAction,
    Profile,
    Standard,
    keyword_of,
)
from dicom_deid.uid_bytes import uid_value

TagPath = tuple[int, ...]
"""(tag,) at top level, (seq_tag, item_index, tag, ...) inside sequences."""

DOCUMENT_TAG = int(tag_for_keyword("EncapsulatedDocument") or 0)  # (0042,0011): a document's body
_CODE_OF, _PATH_OF, _VALUE_OF = operator.attrgetter("code"), operator.attrgetter("path"), operator.attrgetter("_value_")
_LAST_TAG = operator.itemgetter(-1)  # a path's last tag
_RESOLVED = frozenset({ActionCode.D, ActionCode.Z, ActionCode.X, ActionCode.K, ActionCode.C, ActionCode.U})
_BINARY_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "UN"})
_OVERLAY_TEXT_VRS = frozenset({"LO", "LT", "SH", "ST", "UT", "UC"})
_OVERRIDE_CODES = {
    OverrideAction.KEEP: ActionCode.K,
    OverrideAction.REMOVE: ActionCode.X,
    OverrideAction.EMPTY: ActionCode.Z,
    OverrideAction.REPLACE: ActionCode.D,
}


@dataclass(frozen=True, slots=True)
class ElementAction:
    path: TagPath
    code: ActionCode  # one of D Z X K C U
    rule: str  # provenance, e.g. "E.1-1 row 331, basic"
    value: str | None = None  # explicit replacement from an override (REPLACE / EMPTY)


#: every code a resolved plan holds but K, in the order the manifest's ``changes`` lists them
_CHANGED_CODES = (ActionCode.D, ActionCode.Z, ActionCode.X, ActionCode.C, ActionCode.U)
_CHANGED_VALUES = dict.fromkeys(code._value_ for code in _CHANGED_CODES).keys()  # ordered, and a set
_REMOVED = ActionCode.X._value_


@dataclass(frozen=True, slots=True)
class Plan:
    actions: Mapping[TagPath, ElementAction]
    sop_class_uid: str
    #: ``plan_actions`` with ``dropped`` only: the actions the walk decided (every one of
    #: ``actions`` but the dropped ones, in plan order) and the dropped ones
    #: (:class:`DroppedActions`), for :meth:`tally` (None: ``tally`` reads ``actions`` alone)
    walked: Sequence[ElementAction] | None = None
    dropped: DroppedActions | None = None
    #: ``plan_actions`` only: whether some path ends with (0042,0011) Encapsulated Document (a
    #: dataset the walk decided holds one); None: not known, ``has_document`` reads the paths
    documents: bool | None = None

    def has_document(self) -> bool:
        """True when an action of the plan is for an Encapsulated Document (0042,0011), at any level."""
        if self.documents is not None:
            return self.documents
        return DOCUMENT_TAG in map(_LAST_TAG, self.actions)  # the plan's paths (its keys) scanned in C

    def __iter__(self) -> Iterator[ElementAction]:
        return iter(self.actions.values())

    def counts(self) -> Counter[str]:
        # the code's value as stored (``.value`` is a descriptor, an Enum hashes in Python)
        return Counter(map(_VALUE_OF, map(_CODE_OF, self.actions.values())))

    def changed_paths(self) -> dict[str, list[str]]:
        """Attribute paths (``format_path``) per action code, in plan order, for every action
        but K (the manifest's ``changes``: keywords only, no values)."""
        return self.tally()[1]

    def tally(self) -> tuple[dict[str, int], dict[str, list[str]]]:
        """``counts()`` (a plain dict, in no set order) and ``changed_paths()`` in one pass over
        the plan: the manifest row's ``actions`` and ``changes``."""
        dropped, walked = self.dropped, self.walked
        if dropped is not None and walked is not None and dropped.merges:
            return _tally_merged(walked, dropped)
        groups, kept = _grouped(self.actions.values())
        counts = {value: len(paths) for value, paths in groups.items()}
        if kept:
            counts[ActionCode.K._value_] = kept
        if not groups.keys() <= _CHANGED_VALUES:
            raise ValueError("a plan holds an unresolved action code")  # never listed as unchanged
        named = _PATH_NAMES.__getitem__
        return counts, {value: list(map(named, groups[value])) for value in _CHANGED_VALUES if value in groups}


def _grouped(actions: Iterable[ElementAction]) -> tuple[dict[str, list[TagPath]], int]:
    """The paths of ``actions`` that change something, grouped by their code's value (an Enum
    hashes in Python; its value is a str), in order, and the count of those kept (K)."""
    groups: dict[str, list[TagPath]] = {}
    keep = ActionCode.K
    kept = 0
    for action in actions:
        code = action.code
        if code is keep:
            kept += 1
            continue
        paths = groups.get(code._value_)
        if paths is None:
            paths = groups[code._value_] = []
        paths.append(action.path)
    return groups, kept


def _tally_merged(walked: Sequence[ElementAction], dropped: DroppedActions) -> tuple[dict[str, int],
                                                                               dict[str, list[str]]]:
    """``Plan.tally`` of a plan made of ``walked`` and the ``dropped`` removals (a run's files of
    one kind drop the same private elements, a few hundred: their names are listed once per
    DroppedActions, not looked up per file).  The same answer as the loop over the plan: the walk
    puts each dropped element before the first top-level element read with a higher tag
    (``_Planner.walk``), so where both ascend (``DroppedActions.merges`` and the walk's check)
    the removals' list is the walk's removals and the dropped names merged by top-level tag."""
    groups, kept = _grouped(walked)
    removed = _REMOVED
    counts = {value: len(paths) for value, paths in groups.items()}
    counts[removed] = counts.get(removed, 0) + len(dropped.tags)
    if kept:
        counts[ActionCode.K._value_] = kept
    if not groups.keys() <= _CHANGED_VALUES:
        raise ValueError("a plan holds an unresolved action code")  # never listed as unchanged
    named = _PATH_NAMES.__getitem__
    changes = {}
    for value in _CHANGED_VALUES:
        paths = groups.get(value)
        if value == removed:
            changes[value] = _merged_names(paths or [], dropped)
        elif paths is not None:
            changes[value] = list(map(named, paths))
    return counts, changes


def _merged_names(paths: list[TagPath], dropped: DroppedActions) -> list[str]:
    """The names of ``paths`` (walked, in plan order) and of the dropped elements, each dropped
    one before the first path whose top-level tag is higher (``_Planner.walk``'s order)."""
    tags, names, n = dropped.tags, dropped.names, len(dropped.tags)
    named = _PATH_NAMES.__getitem__
    out: list[str] = []
    start = 0
    for path in paths:
        if start < n and tags[start] < path[0]:
            end = bisect_left(tags, path[0], start)
            out += names[start:end]
            start = end
        out.append(named(path))
    out += names[start:]
    return out


class _PathNames(dict[TagPath, str]):
    """path -> ``format_path(path)``: a memo read by ``dict.__getitem__`` in C (the manifest names
    every changed element of every instance: a few hundred a file), emptied when it grows large."""

    def __missing__(self, path: TagPath) -> str:
        if len(self) >= 65536:
            self.clear()
        name = self[path] = format_path(path)
        return name


_PATH_NAMES = _PathNames()


@functools.lru_cache(maxsize=65536)  # pure; the manifest formats every changed element's path
def format_path(path: TagPath) -> str:
    """``ReferencedSeriesSequence[0].SeriesInstanceUID`` style display."""
    parts = []
    for i, item in enumerate(path):
        if i % 2 == 0:
            parts.append(keyword_of(item))
        else:
            parts[-1] += f"[{item}]"
    return ".".join(parts)


def resolve(code: ActionCode, attr_type: str) -> ActionCode:
    """PS3.15 Table E.1-1a: resolve a combined code from the PS3.3 type (1, 1C, 2, 2C, 3)."""
    if code in _RESOLVED:
        return code
    required = attr_type in ("1", "1C")
    present = attr_type in ("2", "2C")
    if code is ActionCode.Z_D:
        return ActionCode.D if required else ActionCode.Z
    if code is ActionCode.X_Z:
        return ActionCode.Z if (present or required) else ActionCode.X
    if code is ActionCode.X_D:
        return ActionCode.D if (required or present) else ActionCode.X
    if code is ActionCode.X_Z_D:
        return ActionCode.D if required else ActionCode.Z if present else ActionCode.X
    if code is ActionCode.X_Z_U:
        return ActionCode.U if required else ActionCode.Z if present else ActionCode.X
    raise AssertionError(code)  # pragma: no cover - enum is closed


def element_vr(ds: Dataset, tag: int) -> str:
    """The element's VR; for implicit VR or an explicit "UN" of a known public attribute, the
    dictionary's (a sequence stored as UN must still be walked, not copied as an opaque blob)."""
    # get_item without its tag conversion (called for every element, twice); an int finds a BaseTag key
    elem = ds._dict.get(tag)  # type: ignore[call-overload]
    if elem is None or (isinstance(elem, RawDataElement) and elem.value is None):
        elem = ds.get_item(tag)  # absent, or a deferred read: pydicom's own way
    vr = elem.VR
    if vr and vr != "UN":
        return str(vr)
    try:
        return str(dictionary_VR(tag))
    except KeyError:
        return "UN"


def is_binary_vr(vr: str) -> bool:
    """True for OB/OW/... and for ambiguous dictionary VRs such as "OB or OW"."""
    return any(part in _BINARY_VRS for part in vr.split(" or "))


DecisionCache = dict[tuple[str, tuple[str, ...], int, str], ElementAction]
"""Memo of decisions that depend only on (SOP class, sequence path, tag, VR) for one profile: the
first action decided for the key (code, rule and value are the memo; at the top level, where the
key fixes the path, the action itself is reused: it is frozen)."""

@dataclass(frozen=True, slots=True)
class DroppedActions:
    """The decided actions of the top-level elements a reader dropped, in their order: ``tags``
    and ``entries`` ((path, action) each, as the plan holds them) side by side, and whether the
    tags ascend (they do for read_fast.py's: the walk then finds each run among the elements
    read by bisection and puts it in the plan with one ``dict.update``)."""

    tags: tuple[int, ...]
    entries: tuple[tuple[TagPath, ElementAction], ...]
    ascending: bool
    #: their names (``format_path``), in their order, and whether ``Plan.tally`` may merge them
    #: with the walk's: they ascend and every one is removed (X)
    names: tuple[str, ...] = ()
    merges: bool = False

    @classmethod
    def of(cls, decided: Sequence[tuple[int, ElementAction]]) -> DroppedActions:
        tags = tuple(tag for tag, _ in decided)
        ascending = all(a < b for a, b in pairwise(tags))
        return cls(tags, tuple((action.path, action) for _, action in decided), ascending,
                   tuple(format_path(action.path) for _, action in decided),
                   ascending and all(action.code is ActionCode.X and action.path == (tag,) for tag, action in decided))


DecisionKey = tuple[str, tuple[str, ...], int, str]
"""A DecisionCache key: (SOP class, sequence path, tag, VR)."""


@dataclass(slots=True)
class UidDecisions:
    """Memo of the decisions that read a UID's value (a UID the table leaves to its VR: kept when
    it names a class or scheme, ``_Planner._keeps_uid``), for one profile, as DecisionCache.

    ``keys``: the DecisionCache keys whose decision reads the UID (every element of such a key
    takes the same steps to that read: they depend on the key alone).  ``kept``: the decision
    per (key, UID text, cleaning) where the UID was kept, a decision that reads nothing else;
    a UID that is remapped (an instance UID: a new value each time) is decided again."""

    keys: set[DecisionKey] = field(default_factory=set)
    kept: dict[tuple[DecisionKey, str, bool], ElementAction] = field(default_factory=dict)

    def remember(self, key: DecisionKey, text: str, cleaning: bool, action: ElementAction | None) -> None:
        if len(self.kept) >= 4096 or len(self.keys) >= 4096:  # bounded: emptied when full
            self.keys.clear()
            self.kept.clear()
        self.keys.add(key)
        if action is not None:
            self.kept[(key, text, cleaning)] = action


DroppedCache = dict[tuple[str, tuple[tuple[int, str], ...]], DroppedActions]
"""Memo of the actions of the private elements a reader dropped (``plan_actions(..., dropped=)``),
per (SOP class, their (tag, VR)s), for one profile: each is the memo's decision in DecisionCache."""


#: Free-text VRs that "clean" (C) can rewrite; inside a sequence whose action is C they are cleaned.
_CLEANABLE_TEXT = frozenset({"LO", "LT", "SH", "ST", "UT"})


class _Planner:
    def __init__(self, profile: Profile, standard: Standard, sop_class_uid: str,
                 cache: DecisionCache | None = None, root: Dataset | None = None,
                 uid_cache: UidDecisions | None = None) -> None:
        self.cache: DecisionCache = cache if cache is not None else {}
        self.uid_cache = uid_cache  # decisions that read a UID's value (UidDecisions)
        self.profile = profile
        self.standard = standard
        self.options = profile.options
        self.sop_class_uid = sop_class_uid
        self.retain_safe_private = Option.RETAIN_SAFE_PRIVATE in profile.options
        self.actions: dict[TagPath, ElementAction] = {}
        self.walked: list[ElementAction] = []  # the actions ``walk`` decided, in plan order (``Plan.walked``)
        self.top_ascending = True  # the top-level elements walked ascend (``Plan.tally`` may merge)
        self.documents = False  # a dataset walked holds an Encapsulated Document (``Plan.documents``)
        self.root = root if root is not None else Dataset()  # the instance: 1C/2C conditions are read here
        # decisions that evaluate a condition on the instance depend on more than the cache key
        self.value_read = False  # the decision being made read the element's value
        self.uid_text: str | None = None  # ... the UID text ``_keeps_uid`` read, when it read one
        self.uid_kept = False  # ... and kept the UID for it
        self.conditional = frozenset(int(tag_for_keyword(k) or 0) for k in standard.conditions)

    def walk(self, ds: Dataset, prefix: TagPath, seq_path: tuple[str, ...], cleaning: bool = False,
             dropped: DroppedActions | None = None) -> None:
        """Decide every element of ``ds`` (recursively); ``dropped`` (top level only): decided
        actions of elements the reader left out, put among the others in tag order."""
        creators: dict[tuple[int, int], str] = {}
        elements = ds._dict
        if DOCUMENT_TAG in elements:  # its path is decided below (every element of ``ds`` is)
            self.documents = True
        keys = list(elements)  # ds.keys(); the keys are BaseTags: a lookup with the key itself calls no __eq__
        if self.retain_safe_private:  # without the option no private element is kept: creators unread
            for key in keys:
                if key >> 16 & 1 and 0x10 <= key & 0xFFFF <= 0xFF:
                    value = ds[key].value
                    creators[(key >> 16, key & 0xFFFF)] = value if isinstance(value, str) else ""
        cache, actions, sop_class = self.cache, self.actions, self.sop_class_uid
        uid_keys, uid_kept = ((self.uid_cache.keys, self.uid_cache.kept) if self.uid_cache is not None
                              else (None, {}))
        raw_type, data_type = RawDataElement, DataElement
        dropped_tags, dropped_entries = (dropped.tags, dropped.entries) if dropped is not None else ((), ())
        next_dropped, n_dropped = 0, len(dropped_tags)
        upcoming = dropped_tags[0] if dropped_tags else 0x100000000  # the next dropped element's tag
        walked = self.walked.append
        last, unordered = -1, False
        for key in keys:
            tag = int(key)  # an int hashes and compares in C (a BaseTag compares in Python)
            if tag <= last:
                unordered = True
            last = tag
            if upcoming < tag:  # the dropped elements before this one, decided at the top level
                end = next_dropped
                if dropped is not None and dropped.ascending:
                    end = bisect_left(dropped_tags, tag, end)
                else:
                    while end < n_dropped and dropped_tags[end] < tag:
                        end += 1
                actions.update(dropped_entries[next_dropped:end])
                next_dropped = end
                upcoming = dropped_tags[end] if end < n_dropped else 0x100000000
            path = prefix + (tag,)
            elem = elements[key]
            # element_vr's common cases: a raw element read with its value, a DataElement (a sequence)
            vr = (elem[1] if elem[3] is not None else None) if type(elem) is raw_type else (
                elem.VR if type(elem) is data_type else None)
            if not vr or vr == "UN" or type(vr) is not str:
                try:
                    vr = element_vr(ds, key)  # its own key: the lookups find it without BaseTag.__eq__
                except (NotImplementedError, ValueError) as exc:  # pydicom cannot convert it (bad VR, items)
                    raise UnreadableDicomError(f"{format_path(path)} cannot be parsed ({type(exc).__name__}): "
                                               "the file is malformed") from None
            if vr == "NONE":  # (FFFE,xxxx) item / delimiter tags are structure, never elements
                raise UnreadableDicomError(f"{format_path(path)} outside a sequence: the file is malformed")
            memo_key = (sop_class, seq_path, tag, vr)
            hit = cache.get(memo_key)
            if hit is None and uid_keys is not None and memo_key in uid_keys:
                # decided by the UID's value: read here as ``_keeps_uid`` would read it next
                hit = uid_kept.get((memo_key, _uid_text(ds, key, nested=bool(prefix)), cleaning))
            if hit is None:
                action = self.decide_and_memo(ds, tag, vr, path, seq_path, creators, cleaning)
            else:  # at the top level the cached action is this one (its path is (tag,))
                action = hit if not prefix else ElementAction(path, hit.code, hit.rule, hit.value)
            actions[path] = action
            walked(action)
            if vr == "SQ" and action.code is not ActionCode.X and action.code is not ActionCode.Z:
                keyword = keyword_for_tag(tag) or f"{tag:08X}"
                for i, item in enumerate(sequence_value(ds, key) or ()):  # ds[key].value
                    self.walk(item, path + (i,), seq_path + (keyword,), cleaning or action.code is ActionCode.C)
        if next_dropped < n_dropped:
            actions.update(dropped_entries[next_dropped:])
        if unordered and not prefix:
            self.top_ascending = False

    def decide_and_memo(self, ds: Dataset, tag: int, vr: str, path: TagPath, seq_path: tuple[str, ...],
                        creators: Mapping[tuple[int, int], str], cleaning: bool = False) -> ElementAction:
        """``decide``, then store the decision in the memo where it depends only on the memo's key
        (the step after a memo miss, for an element read and for one the reader dropped)."""
        self.value_read, self.uid_text, self.uid_kept = False, None, False
        action = self.decide(ds, tag, vr, path, seq_path, creators)
        if cleaning and action.code is ActionCode.D and vr in _CLEANABLE_TEXT:
            # a sequence the option cleans (e.g. Graphic Annotation under Clean Graphics):
            # its free text is cleaned, not replaced by a dummy
            action = ElementAction(path, ActionCode.C, f"{action.rule}; in a cleaned sequence")
        # value-independent: a private one too without retain_safe_private (its creator is not read)
        # a UID's decision reads its value only for a UID the table leaves to its VR
        # (class and scheme UIDs are kept: ``_keeps_uid``): the others are cached too
        if (not self.value_read and (not tag >> 16 & 1 or not self.retain_safe_private)
                and tag not in self.conditional):
            self.cache[(self.sop_class_uid, seq_path, tag, vr)] = action
        elif self.uid_text is not None and self.uid_cache is not None:
            # read nothing but the UID: a kept UID's decision depends on (key, text) alone
            self.uid_cache.remember((self.sop_class_uid, seq_path, tag, vr), self.uid_text, cleaning,
                                    action if self.uid_kept else None)
        return action

    def decide_dropped(self, dropped: tuple[tuple[int, str], ...], memo: DroppedCache | None) -> DroppedActions:
        """The actions of the top-level elements the reader dropped (``plan_actions``), decided
        as ``walk`` decides an element read (the same memo, the same ``decide``; a private
        element's decision without retain-safe-private reads nothing of the dataset), in their
        order (:class:`DroppedActions`).  ``memo``: the whole answer per (SOP class, dropped (tag, VR)s):
        a run's files of one kind drop the same elements."""
        key = (self.sop_class_uid, dropped)
        known = memo.get(key) if memo is not None else None
        if known is not None:
            return known
        decided = []
        no_creators: dict[tuple[int, int], str] = {}
        for tag, vr in dropped:
            if not tag >> 16 & 1 or self.retain_safe_private:
                raise ValueError(f"({tag >> 16:04X},{tag & 0xFFFF:04X}) dropped unread: only private elements "
                                 "the plan removes unread may be")
            action = self.cache.get((self.sop_class_uid, (), tag, vr))
            if action is None:
                action = self.decide_and_memo(self.root, tag, vr, (tag,), (), no_creators)
            if action.code is not ActionCode.X:
                raise ValueError(f"({tag >> 16:04X},{tag & 0xFFFF:04X}) dropped unread, but the plan does not "
                                 "remove it")
            decided.append((tag, action))
        answer = DroppedActions.of(decided)
        if memo is not None:
            memo[key] = answer
        return answer

    def decide(
        self,
        ds: Dataset,
        tag: int,
        vr: str,
        path: TagPath,
        seq_path: tuple[str, ...],
        creators: Mapping[tuple[int, int], str],
    ) -> ElementAction:
        group, element = tag >> 16, tag & 0xFFFF
        override = self.profile.overrides.get(tag)
        if override is not None:
            return ElementAction(path, _OVERRIDE_CODES[override.action], f"override {override.action.value}",
                                 override.value if override.action is not OverrideAction.KEEP else None)
        if element == 0 and group > 2:
            return ElementAction(path, ActionCode.X, "group length (retired, recomputed)")
        if tag == DOCUMENT_TAG and self.profile.documents is DocumentPolicy.KEEP:
            return ElementAction(path, ActionCode.K, "documents keep: body written unexamined, reported")
        if group & 0xFF00 == 0x6000 and not group & 1:
            return self.decide_overlay(tag, vr, path)
        if group & 1:
            return self.decide_private(ds, tag, path, creators)
        rule = self.standard.rule_for(tag)
        keyword = keyword_for_tag(tag)
        if rule is None:
            if not keyword:
                return ElementAction(path, ActionCode.X, "unknown public attribute (not in data dictionary)")
            vr_rule = self.standard.vr_rules.get(vr)
            if vr_rule is None:
                return ElementAction(path, ActionCode.K, "not in E.1-1: kept")
            if vr == "UI" and self._keeps_uid(ds, tag, keyword, nested=len(path) > 1):
                return ElementAction(path, ActionCode.K, "class or scheme UID: kept")
            rule = vr_rule
        code, rule_id = rule.action_for(self.options)
        if code.is_combined and vr == "SQ" and tag in self.standard.reference_sequences:
            return ElementAction(path, ActionCode.U, f"{rule_id} {code.value}: references kept, instance UIDs "
                                                     "remapped (U*)")
        if code.is_combined:
            attr_type = self.standard.effective_type(self.sop_class_uid, seq_path, keyword, self.root)
            code = resolve(code, attr_type)
            rule_id = f"{rule_id}, type {attr_type}"
        elif code is ActionCode.X and not seq_path and not is_binary_vr(vr):
            code, rule_id = self._keep_required(keyword, vr, rule_id)
        if code is ActionCode.D and vr == "UI":
            return ElementAction(path, ActionCode.U, f"{rule_id}; D on a UID: keyed replacement")
        if code is ActionCode.C and is_binary_vr(vr):
            # overlay / curve bitmaps cannot be cleaned here: never keep them unexamined
            return ElementAction(path, ActionCode.X, f"{rule_id}; binary data cannot be cleaned: removed")
        return ElementAction(path, code, rule_id)

    def decide_overlay(self, tag: int, vr: str, path: TagPath) -> ElementAction:
        """An overlay plane (one 60xx group) is one unit.  Overlay Data (60xx,3000) is X in every
        profile and option (a bitmap cannot be cleaned), so the whole plane goes with it: rows,
        type, origin, description, label and comments alike (a plane without its bitmap is not
        conformant, and its text can name a person).  Only an override that keeps the Overlay
        Data keeps the plane; its text is then cleaned (C) and the rest kept."""
        rule = self.standard.overlay_rules.get(0x3000)
        data = self.profile.overrides.get((tag & 0xFFFF0000) | 0x3000)
        if data is None or data.action is not OverrideAction.KEEP:
            rule_id = rule.rule_id if rule is not None else "Overlay Data"
            return ElementAction(path, ActionCode.X, f"{rule_id} Overlay Data X: the whole overlay plane")
        if vr in _OVERLAY_TEXT_VRS:
            return ElementAction(path, ActionCode.C, "overlay kept by override: text cleaned")
        return ElementAction(path, ActionCode.K, "overlay kept by override")

    def _keep_required(self, keyword: str, vr: str, rule_id: str) -> tuple[ActionCode, str]:
        """X of an attribute the IOD requires at the top level: Z (Type 2) or D (Type 1)."""
        required = self.standard.iod_requires(self.sop_class_uid, keyword, self.root)
        if required is None:
            return ActionCode.X, rule_id
        code = ActionCode.D if required == "1" and vr != "SQ" else ActionCode.Z  # never walk a removed sequence
        attr_type = self.standard.effective_type(self.sop_class_uid, (), keyword, self.root)
        return code, f"{rule_id}; type {attr_type} in the IOD: {code.value} keeps it valid (PS3.15 E.1)"

    def _keeps_uid(self, ds: Dataset, tag: int, keyword: str, *, nested: bool) -> bool:
        self.value_read = True  # this decision depends on the value: never in the DecisionCache
        text = self.uid_text = _uid_text(ds, tag, nested=nested)
        self.uid_kept = self.standard.keeps_uid(keyword, text)
        return self.uid_kept

    def decide_private(
        self, ds: Dataset, tag: int, path: TagPath, creators: Mapping[tuple[int, int], str]
    ) -> ElementAction:
        group, element = tag >> 16, tag & 0xFFFF
        base = self.standard.private_rule.rule_id
        if not self.retain_safe_private:
            return ElementAction(path, ActionCode.X, f"{base}, basic")
        if 0x10 <= element <= 0xFF:
            creator = creators.get((group, element), "")
            if self.standard.has_safe_private_creator(group, creator):
                return ElementAction(path, ActionCode.K, "E.3.10-1 private creator of safe attributes")
            return ElementAction(path, ActionCode.X, f"{base}, retain_safe_private: creator not in E.3.10-1")
        creator = creators.get((group, element >> 8), "")
        if element >= 0x1000 and creator and self.standard.is_safe_private(group, creator, element & 0xFF):
            table_vr = self.standard.safe_private_vr.get((group, creator.strip().lower(), element & 0xFF), "")
            if table_vr == "SQ" and element_vr(ds, tag) != "SQ":
                # a sequence we cannot parse (implicit VR private): its items are never kept unexamined
                return ElementAction(path, ActionCode.X, "E.3.10-1 safe private sequence of unknown encoding: removed")
            return ElementAction(path, ActionCode.K, "E.3.10-1 safe private attribute")
        return ElementAction(path, ActionCode.X, f"{base}, retain_safe_private: not in E.3.10-1")


def _uid_text(ds: Dataset, tag: int, *, nested: bool) -> str:
    """The UID text a decision reads (``_Planner._keeps_uid``, and the UidDecisions memo before it).

    Inside an item, the UID strings without decoding the element (uid_bytes.py): a new item's
    raw elements are decoded when written either way; at the top level the element is decoded
    here, as before (a decoded element is written as pydicom encodes it, never copied as read)."""
    value: Any = uid_value(ds, tag) if nested else ds[tag].value
    return str(value or "") if isinstance(value, str | bytes) or value is None else "\\".join(map(str, value))


def plan_actions(ds: Dataset, profile: Profile, standard: Standard, *, cache: DecisionCache | None = None,
                 dropped: Sequence[tuple[int, str]] = (), dropped_cache: DroppedCache | None = None,
                 uid_cache: UidDecisions | None = None) -> Plan:
    """One resolved action for every element of ``ds`` (recursively), file meta excluded.

    ``cache`` memoises value-independent decisions across instances of one profile (pass the
    same dict only with the same profile and standard); it never changes a result.
    ``dropped``: (tag, VR) of top-level private elements the reader left out of ``ds``
    (``read.Instance.dropped``), in ascending tag order, as were the elements of ``ds`` (a
    file read by read_fast.py).  Each is decided as the walk decides an element read, and the
    plan lists it in its place: the same plan as for the dataset that holds them.
    ``dropped_cache`` memoises the decisions of a whole ``dropped`` (with the same profile and
    standard only, as ``cache``).  ``uid_cache`` memoises the decisions that keep a UID for
    its value (:class:`UidDecisions`; the same profile and standard only, as ``cache``).
    """
    sop_class = str(ds.get("SOPClassUID", "") or "")
    planner = _Planner(profile, standard, sop_class, cache, root=ds, uid_cache=uid_cache)
    decided = planner.decide_dropped(tuple(dropped), dropped_cache) if dropped else None
    planner.walk(ds, (), (), dropped=decided)
    if decided is None or not planner.top_ascending:
        return Plan(actions=planner.actions, sop_class_uid=sop_class, documents=planner.documents)
    return Plan(actions=planner.actions, sop_class_uid=sop_class, walked=planner.walked, dropped=decided,
                documents=planner.documents)


__all__ = ["DOCUMENT_TAG", "DecisionCache", "DecisionKey", "DroppedActions", "DroppedCache", "ElementAction", "Plan",
           "TagPath", "UidDecisions", "format_path", "plan_actions", "resolve"]
