"""plan: every action code of PS3.15 Table E.1-1, under every option, resolved per PS3.3 type.

The expected action of each element is derived here from the vendored CSVs in
``profiles/source/`` (Table E.1-1, Table E.1-1a's action code meanings, the PS3.3 types per IOD
and inside sequences), never from ``profiles/ps315_2026c.json`` or the code under test.  Three
choices that the standard leaves to the de-identifier, documented in ``plan.py`` and the README,
are applied by this oracle too, each spelled out in ``_expected``:

* a top-level removal (X) of an attribute the IOD requires becomes Z (Type 2) or D (Type 1);
* D on a UID is a keyed replacement (U);
* a sequence of references whose combined code lets it stay (U* or D among its alternatives, and
  items holding Referenced SOP Instance UID in PS3.3) is kept with remapped UIDs (U).
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path

import pytest
from pydicom.datadict import dictionary_VR, keyword_for_tag, tag_for_keyword
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from dicom_deid.plan import ElementAction, TagPath, element_vr, plan_actions, resolve
from dicom_deid.profiles import ActionCode, Option, Override, OverrideAction, Profile, load_standard
from tests.conftest import REPO

SOURCE = REPO / "profiles" / "source"
OPTION_COLUMNS = ("retain_safe_private", "retain_uids", "retain_device_identity", "retain_institution_identity",
                  "retain_patient_characteristics", "retain_long_full_dates", "retain_long_modified_dates",
                  "clean_descriptors", "clean_structured_content", "clean_graphics")
TYPES = ("1", "1C", "2", "2C", "3", "")  # "" = absent from the IOD
BINARY = {"OB", "OD", "OF", "OL", "OV", "OW", "UN"}
SPECIES = ("PatientSpeciesDescription", "PatientSpeciesCodeSequence")  # PS3.3 C.7.1.1: "if an animal"
CONDITIONAL = {"ResponsiblePerson", "ResponsibleOrganization", "PatientSexNeutered"}  # required if an animal


def _csv(name: str) -> list[dict[str, str]]:
    with (SOURCE / name).open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@cache
def e11_rows() -> Mapping[int, dict[str, str]]:
    """Table E.1-1 single-tag rows by tag."""
    return {int(r["tag_key"], 16): r for r in _csv("table_E.1-1.csv") if r["tag_kind"] == "single"}


@cache
def table_e11a() -> Mapping[ActionCode, tuple[tuple[str, str], ...]]:
    """Table E.1-1a, read from its meaning column: for each combined code, its alternatives paired
    with the PS3.3 type that requires each ("X/Z/D ... (Type 3 versus Type 2 versus Type 1)")."""
    out = {}
    for row in _csv("table_E.1-1a_action_codes.csv"):
        if "/" not in row["code"]:
            continue
        alternatives = row["code"].replace("*", "").split("/")
        types = re.findall(r"Type (\d)", row["meaning"])
        assert len(types) == len(alternatives), row
        out[ActionCode(row["code"])] = tuple(zip(alternatives, types, strict=True))
    return out


def expected_resolution(code: ActionCode, attr_type: str) -> ActionCode:
    """The alternative Table E.1-1a names for the type; a 1C/2C attribute counts as its type
    (its condition may hold); a type the code does not name takes the first alternative that
    keeps the IOD valid (the first that keeps it present for Type 2; for Type 1 the first non-empty
    one, or at least present where the code has none), and the first (least kept) alternative for
    Type 3 or an absent attribute."""
    pairs = table_e11a()[code]
    base = attr_type[:1] or "3"
    for alternative, t in pairs:
        if t == base:
            return ActionCode(alternative)
    if base == "3":
        return ActionCode(pairs[0][0])
    present = [a for a, _t in pairs if a != "X"]  # the alternatives that keep the attribute
    non_empty = [a for a in present if a != "Z"]
    return ActionCode((non_empty or present)[0] if base == "1" else present[0])


@cache
def sop_class_iod() -> Mapping[str, str]:
    return {r["sop_class_uid"]: r["iod"] for r in _csv("iod/sop_class_iod.csv")}


@cache
def toplevel_types() -> Mapping[tuple[str, str], str]:
    return {(r["iod"], r["keyword"]): r["type"] for r in _csv("iod/toplevel_types.csv")}


@cache
def nested_types() -> Mapping[tuple[str, str], str]:
    return {(r["path"], r["keyword"]): r["type"] for r in _csv("iod/nested_types.csv")}


@cache
def reference_sequences() -> frozenset[str]:
    """SQ rows with a combined code offering U* or D whose items (some IOD) hold a Referenced SOP
    Instance UID: the sequences kept with remapped UIDs."""
    holders = {r["path"].rsplit("/", 1)[-1] for r in _csv("iod/nested_types.csv")
               if r["keyword"] == "ReferencedSOPInstanceUID"}
    return frozenset(r["keyword"] for r in e11_rows().values()
                     if r["keyword"] in holders and "/" in r["basic_profile"]
                     and {"U*", "D"} & set(r["basic_profile"].split("/")))


def column_code(row: Mapping[str, str], options: frozenset[Option]) -> ActionCode:
    """The row's code under the selected options; where two selected options disagree, the one that
    retains more wins (K over C over the rest: each option promises to retain something), except
    that a date Retain Longitudinal Modified Dates changes (C) is changed even where another option
    keeps it (K): a true date beside shifted ones gives the shift away."""
    modified = Option.RETAIN_LONG_MODIFIED_DATES
    if modified in options and row.get(modified.value) == "C":
        return ActionCode.C
    chosen = [row[o.value] for o in options if o.value in OPTION_COLUMNS and row[o.value]]
    if not chosen:
        return ActionCode(row["basic_profile"])
    return ActionCode(max(chosen, key=lambda c: {"K": 2, "C": 1}.get(c, 0)))


def vr_of(tag: int) -> str:
    try:
        return str(dictionary_VR(tag))
    except KeyError:
        return "UN"


def _expected(row: Mapping[str, str], options: frozenset[Option], vr: str, attr_type: str, *,
              nested: bool, animal: bool) -> ActionCode:
    keyword = row["keyword"] if row["has_keyword"] == "Y" else ""
    if keyword in CONDITIONAL and attr_type in ("1C", "2C") and not animal:
        attr_type = "3"  # the condition (an animal) does not hold
    code = column_code(row, options)
    if code.is_combined:
        if vr == "SQ" and keyword in reference_sequences():
            return ActionCode.U
        code = expected_resolution(code, attr_type)
    elif code is ActionCode.X and not nested and vr not in BINARY:
        required = attr_type in ("1", "2") or (attr_type in ("1C", "2C") and keyword in CONDITIONAL)
        if required:
            code = ActionCode.D if attr_type[0] == "1" and vr != "SQ" else ActionCode.Z
    if code is ActionCode.D and vr == "UI":
        return ActionCode.U
    if code is ActionCode.C and vr in BINARY:
        return ActionCode.X
    return code


_VALUES = {"DA": "20200101", "DT": "20200101120000", "TM": "120000", "DS": "1.5", "IS": "3", "AS": "045Y",
           "US": 1, "UI": "1.2.826.0.1.3680043.9.7433.1.1", "UR": "http://example.org/x", "OB": b"\x00\x01",
           "UN": b"ab", "CS": "VALUE"}


def _element(tag: int, vr: str) -> DataElement:
    if vr == "SQ":
        return DataElement(tag, vr, Sequence())
    return DataElement(tag, vr, _VALUES.get(vr, "Some Value"))


def full_header(sop_class: str, *, animal: bool = False) -> Dataset:
    """Every Table E.1-1 attribute (file meta excluded), one value each."""
    ds = Dataset()
    for tag in e11_rows():
        if tag >> 16 != 0x0002:
            ds.add(_element(tag, vr_of(tag)))
    ds.SOPClassUID = sop_class
    if animal:
        ds.PatientSpeciesDescription = "Canine"
    return ds


def profile(options: frozenset[Option] = frozenset(), **kw: object) -> Profile:
    return Profile(name="test", description="", options=options, **kw)  # type: ignore[arg-type]


OPTION_SETS = {"basic": frozenset()} | {o.value: frozenset({o}) for o in Option} | {
    "research": frozenset({Option.RETAIN_LONG_MODIFIED_DATES, Option.RETAIN_PATIENT_CHARACTERISTICS,
                           Option.RETAIN_DEVICE_IDENTITY, Option.RETAIN_SAFE_PRIVATE, Option.CLEAN_DESCRIPTORS,
                           Option.CLEAN_STRUCTURED_CONTENT, Option.CLEAN_GRAPHICS}),
    "institution+descriptors": frozenset({Option.RETAIN_INSTITUTION_IDENTITY, Option.CLEAN_DESCRIPTORS}),
}


# --- Table E.1-1a: resolve() --------------------------------------------------------------------

@pytest.mark.parametrize("code", [c for c in ActionCode if c.is_combined], ids=lambda c: c.value)
@pytest.mark.parametrize("attr_type", TYPES, ids=lambda t: f"type{t or '-absent'}")
def test_resolve_follows_table_e11a(code: ActionCode, attr_type: str) -> None:
    assert resolve(code, attr_type) is expected_resolution(code, attr_type)


def test_table_e11a_pairs_are_read_from_the_csv() -> None:
    """Precondition of the oracle: every combined code of the table is an ActionCode, read fully."""
    pairs = table_e11a()
    assert {c.value for c in pairs} == {c.value for c in ActionCode if c.is_combined}
    assert pairs[ActionCode.X_Z_D] == (("X", "3"), ("Z", "2"), ("D", "1"))
    assert pairs[ActionCode.X_Z_U] == (("X", "3"), ("Z", "2"), ("U", "1"))


@pytest.mark.parametrize("code", [c for c in ActionCode if not c.is_combined], ids=lambda c: c.value)
@pytest.mark.parametrize("attr_type", TYPES, ids=lambda t: f"type{t or '-absent'}")
def test_resolve_keeps_single_codes(code: ActionCode, attr_type: str) -> None:
    assert resolve(code, attr_type) is code


# --- every row x type x option, at the top level -------------------------------------------------

def _covering_sop_classes() -> list[str]:
    """SOP classes whose IODs together give every combined-code or X row of Table E.1-1 each type it
    has anywhere (greedy cover, one SOP class per IOD)."""
    by_iod: dict[str, str] = {}
    for uid, iod in sop_class_iod().items():
        by_iod.setdefault(iod, uid)
    types = toplevel_types()
    wanted = {(r["keyword"], types.get((iod, r["keyword"]), "3"))
              for r in e11_rows().values() for iod in by_iod if r["keyword"]}
    chosen: list[str] = []
    while wanted:
        best = max(by_iod, key=lambda iod: len({(k, t) for k, t in wanted if types.get((iod, k), "3") == t}))
        gained = {(k, t) for k, t in wanted if types.get((best, k), "3") == t}
        if not gained:
            break
        wanted -= gained
        chosen.append(by_iod.pop(best))
    return chosen


def _top_level_checks(plan: Mapping[TagPath, ElementAction], sop_class: str, options: frozenset[Option],
                      animal: bool) -> Iterator[tuple[str, str, ActionCode, ActionCode]]:
    iod = sop_class_iod().get(sop_class, "")
    for tag, row in e11_rows().items():
        if tag >> 16 == 0x0002:
            continue
        vr = vr_of(tag)
        attr_type = toplevel_types().get((iod, row["keyword"]), "3") if row["has_keyword"] == "Y" else "3"
        want = _expected(row, options, vr, attr_type, nested=False, animal=animal)
        yield row["attribute_name"], attr_type, want, plan[(tag,)].code


def test_every_row_under_basic_in_every_iod_type() -> None:
    """Basic Profile: each row of Table E.1-1 in IODs that give it each of its PS3.3 types."""
    standard = load_standard()
    classes = _covering_sop_classes()
    seen: Counter[tuple[str, str]] = Counter()
    wrong = []
    for sop_class in classes:
        plan = plan_actions(full_header(sop_class), profile(), standard).actions
        for name, attr_type, want, got in _top_level_checks(plan, sop_class, frozenset(), False):
            seen[(want.value, attr_type)] += 1
            if want is not got:
                wrong.append((sop_class, name, attr_type, want.value, got.value))
    assert wrong == []
    assert len(classes) >= 10  # precondition: the cover spans many IODs
    assert sum(seen.values()) == len(classes) * sum(1 for t in e11_rows() if t >> 16 != 0x0002)
    # every resolved code and every type was met
    assert {code for code, _t in seen} == {"D", "Z", "X", "U"}  # the Basic Profile keeps nothing
    assert {t for _c, t in seen} == {"1", "1C", "2", "2C", "3"}


def test_every_combined_code_meets_every_type_it_has_in_the_standard() -> None:
    """Precondition of the test above: the cover really gives each combined-code row each type."""
    classes = _covering_sop_classes()
    iods = {sop_class_iod()[c] for c in classes}
    all_iods = set(sop_class_iod().values())
    missing = []
    for row in e11_rows().values():
        if "/" not in row["basic_profile"] or not row["keyword"]:
            continue
        everywhere = {toplevel_types().get((iod, row["keyword"]), "3") for iod in all_iods}
        covered = {toplevel_types().get((iod, row["keyword"]), "3") for iod in iods}
        if everywhere - covered:
            missing.append((row["keyword"], everywhere - covered))
    assert missing == []


@pytest.mark.parametrize("options", OPTION_SETS.values(), ids=OPTION_SETS.keys())
def test_every_row_under_each_option(options: frozenset[Option]) -> None:
    """Each option column alone (and two combinations) in a CT image, an SR and a presentation
    state: the option's code where the row has one, the basic code otherwise, resolved by type."""
    standard = load_standard()
    classes = ["1.2.840.10008.5.1.4.1.1.2", "1.2.840.10008.5.1.4.1.1.88.33", "1.2.840.10008.5.1.4.1.1.11.1"]
    checked = 0
    wrong = []
    for sop_class in classes:
        plan = plan_actions(full_header(sop_class), profile(options), standard).actions
        for name, attr_type, want, got in _top_level_checks(plan, sop_class, options, False):
            checked += 1
            if want is not got:
                wrong.append((sop_class, name, attr_type, want.value, got.value))
    assert wrong == []
    assert checked == 3 * sum(1 for t in e11_rows() if t >> 16 != 0x0002)


@pytest.mark.parametrize("animal", [False, True], ids=["human", "animal"])
def test_conditional_types_follow_the_patient_species(animal: bool) -> None:
    """Responsible Person / Organization, Patient's Sex Neutered: Type 2C "required if the patient
    is an animal" (PS3.3 C.7.1.1): Z for an animal, removed (X) for a human."""
    sop_class = "1.2.840.10008.5.1.4.1.1.2"
    iod = sop_class_iod()[sop_class]
    assert {toplevel_types()[(iod, k)] for k in CONDITIONAL} == {"2C"}  # precondition, from PS3.3
    plan = plan_actions(full_header(sop_class, animal=animal), profile(), load_standard()).actions
    got = {keyword_for_tag(p[0]): a.code for p, a in plan.items() if keyword_for_tag(p[0]) in CONDITIONAL}
    assert got == dict.fromkeys(CONDITIONAL, ActionCode.Z if animal else ActionCode.X)
    wrong = [(n, w, g) for n, _t, w, g in _top_level_checks(plan, sop_class, frozenset(), animal) if w is not g]
    assert wrong == []


def test_file_meta_rows() -> None:
    """File meta is planned on its own (no SOP class: every type is 3)."""
    meta = Dataset()
    checked = 0
    for tag in e11_rows():
        if tag >> 16 == 0x0002:
            meta.add(_element(tag, vr_of(tag)))
    plan = plan_actions(meta, profile(), load_standard()).actions
    for tag, row in e11_rows().items():
        if tag >> 16 == 0x0002:
            assert plan[(tag,)].code is _expected(row, frozenset(), vr_of(tag), "3", nested=False, animal=False)
            checked += 1
    assert checked == 1  # Media Storage SOP Instance UID: U


# --- inside sequences ----------------------------------------------------------------------------

@cache
def _tree() -> Dataset:
    """One dataset holding, for every PS3.3 nested path, each Table E.1-1 attribute at that path
    (one item per sequence), so each attribute meets the nested type of its own path."""
    e11_by_keyword = {r["keyword"]: tag for tag, r in e11_rows().items() if r["has_keyword"] == "Y"}
    root = Dataset()
    for (path, keyword) in nested_types():
        tag = e11_by_keyword.get(keyword)
        if tag is None:
            continue
        node = root
        for seq_kw in path.split("/"):
            seq_tag = tag_for_keyword(seq_kw)
            if seq_tag is None or vr_of(seq_tag) != "SQ":
                break
            if seq_kw not in node:
                node.add(DataElement(seq_tag, "SQ", Sequence([Dataset()])))
            elif not node[seq_tag].value:
                node[seq_tag].value = Sequence([Dataset()])
            node = node[seq_tag].value[0]
        else:
            if keyword not in node:
                node.add(_element(tag, vr_of(tag)))
    root.SOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    return root


@cache
def _parents_of(paths: frozenset[TagPath]) -> frozenset[TagPath]:
    return frozenset(p[:i] for p in paths for i in range(2, len(p), 2))


def _parents(plan: Mapping[TagPath, ElementAction]) -> frozenset[TagPath]:
    return _parents_of(frozenset(plan))


_CLEANABLE_TEXT = frozenset({"LO", "LT", "SH", "ST", "UT"})  # free-text VRs a clean (C) can act on


def _nested_checks(ds: Dataset, plan: Mapping[TagPath, ElementAction], options: frozenset[Option],
                   prefix: TagPath, seq_path: tuple[str, ...],
                   cleaning: bool = False) -> Iterator[tuple[str, str, ActionCode, ActionCode]]:
    """``cleaning``: inside a sequence an option cleans (C, e.g. Graphic Annotation under Clean
    Graphics) free text the table would replace by a dummy (D) is cleaned instead: the option keeps
    the sequence for its content."""
    for elem in ds:
        tag = int(elem.tag)
        path = prefix + (tag,)
        got = plan[path].code
        row = e11_rows().get(tag)
        if row is not None and seq_path:
            attr_type = nested_types().get(("/".join(seq_path), row["keyword"]), "3")
            want = _expected(row, options, elem.VR, attr_type, nested=True, animal=False)
            if cleaning and want is ActionCode.D and elem.VR in _CLEANABLE_TEXT:
                want = ActionCode.C
            yield "/".join((*seq_path, row["keyword"])), attr_type, want, got
            walked = want not in (ActionCode.X, ActionCode.Z)
            cleaned = want is ActionCode.C
        else:
            walked = got not in (ActionCode.X, ActionCode.Z)
            cleaned = got is ActionCode.C
        if elem.VR == "SQ" and walked:
            for i, item in enumerate(elem.value):
                yield from _nested_checks(item, plan, options, path + (i,), (*seq_path, elem.keyword),
                                          cleaning or cleaned)
        elif elem.VR == "SQ":
            assert (*path, 0) not in _parents(plan)  # a removed or emptied sequence is never walked


@pytest.mark.parametrize("name", ["basic", "retain_uids", "research", "clean_structured_content"])
def test_every_row_inside_sequences(name: str) -> None:
    """Each Table E.1-1 attribute at each PS3.3 nested path, resolved by its nested type; the
    removal of a required attribute is left to the table inside sequences (no Z/D promotion)."""
    options = OPTION_SETS[name]
    tree = _tree()
    plan = plan_actions(tree, profile(options), load_standard()).actions
    checks = list(_nested_checks(tree, plan, options, (), ()))
    wrong = [c for c in checks if c[2] is not c[3]]
    assert wrong == []
    types = Counter(t for _n, t, _w, _g in checks)
    assert len(checks) > 300 and {"1", "1C", "2", "3"} <= set(types)  # precondition: many paths, many types


def test_x_inside_a_sequence_stays_x_even_where_type_1() -> None:
    """Only the top level is promoted to Z/D: a nested type is the strictest over all IODs."""
    e11_keywords = {r["keyword"] for r in e11_rows().values()}
    cases = [(p, k) for (p, k), t in nested_types().items()
             if t == "1" and "/" not in p and p not in e11_keywords and tag_for_keyword(p) is not None
             and e11_rows().get(tag_for_keyword(k) or 0, {}).get("basic_profile") == "X"]
    assert cases  # precondition: such attributes exist
    checked = 0
    for path, keyword in cases:
        tag = int(tag_for_keyword(keyword) or 0)
        item = Dataset()
        item.add(_element(tag, vr_of(tag)))
        ds = Dataset()
        ds.add(DataElement(int(tag_for_keyword(path) or 0), "SQ", Sequence([item])))
        plan = plan_actions(ds, profile(), load_standard()).actions
        assert plan[(int(tag_for_keyword(path) or 0), 0, tag)].code is ActionCode.X, (path, keyword)
        checked += 1
    assert checked == len(cases)


# --- overrides, privates, overlays, unknown tags -------------------------------------------------

@pytest.mark.parametrize(("action", "code"), [(OverrideAction.KEEP, ActionCode.K),
                                              (OverrideAction.REMOVE, ActionCode.X),
                                              (OverrideAction.EMPTY, ActionCode.Z),
                                              (OverrideAction.REPLACE, ActionCode.D)], ids=lambda v: str(v))
def test_override_wins_over_the_table(action: OverrideAction, code: ActionCode) -> None:
    ds = full_header("1.2.840.10008.5.1.4.1.1.2")
    tag = 0x00081030  # Study Description: X in the basic profile
    value = "STUDY" if action is OverrideAction.REPLACE else None
    plan = plan_actions(ds, profile(overrides={tag: Override(action, value)}), load_standard()).actions
    assert plan[(tag,)].code is code
    assert plan[(tag,)].value == (None if action is OverrideAction.KEEP else value)
    assert plan[(tag,)].rule == f"override {action.value}"


def test_group_length_unknown_public_and_private_tags() -> None:
    ds = Dataset()
    ds.add(DataElement(0x00080000, "UL", 4))  # group length: retired, recomputed
    ds.add(DataElement(0x00081235, "LO", "x"))  # not in the data dictionary
    ds.add(DataElement(0x00090010, "LO", "ACME"))
    ds.add(DataElement(0x00091001, "LO", "private"))
    ds.add(DataElement(0x00080060, "CS", "CT"))  # Modality: not in Table E.1-1, kept
    plan = plan_actions(ds, profile(), load_standard()).actions
    assert {p[0]: a.code for p, a in plan.items()} == {
        0x00080000: ActionCode.X, 0x00081235: ActionCode.X, 0x00090010: ActionCode.X, 0x00091001: ActionCode.X,
        0x00080060: ActionCode.K}


def test_safe_private_attribute_kept_only_with_its_creator() -> None:
    """Table E.3.10-1 under Retain Safe Private: the listed creator and offset are kept (K)."""
    row = next(r for r in _csv("table_E.3.10-1.csv") if r["vr"] not in ("SQ", ""))
    group, offset = int(row["group"], 16), int(row["element_offset"], 16)
    ds = Dataset()
    ds.add(DataElement((group << 16) | 0x0010, "LO", row["private_creator"]))
    ds.add(DataElement((group << 16) | 0x1000 | offset, row["vr"].split(" ")[0], _VALUES.get(row["vr"], "1")))
    ds.add(DataElement((group << 16) | 0x1000 | ((offset + 1) & 0xFF), "LO", "not listed"))
    ds.add(DataElement((group << 16) | 0x0011, "LO", "OTHER CREATOR"))
    ds.add(DataElement((group << 16) | 0x1100 | offset, "LO", "other creator's element"))
    safe = {p[0]: a.code for p, a in plan_actions(ds, profile(frozenset({Option.RETAIN_SAFE_PRIVATE})),
                                                   load_standard()).actions.items()}
    listed = (group, row["private_creator"].lower(), (offset + 1) & 0xFF) in {
        (int(r["group"], 16), r["private_creator"].lower(), int(r["element_offset"], 16))
        for r in _csv("table_E.3.10-1.csv")}
    assert safe == {(group << 16) | 0x0010: ActionCode.K, (group << 16) | 0x1000 | offset: ActionCode.K,
                    (group << 16) | 0x1000 | ((offset + 1) & 0xFF): ActionCode.K if listed else ActionCode.X,
                    (group << 16) | 0x0011: ActionCode.X, (group << 16) | 0x1100 | offset: ActionCode.X}
    basic = plan_actions(ds, profile(), load_standard()).actions
    assert {a.code for a in basic.values()} == {ActionCode.X}  # Basic Profile: every private removed


@pytest.mark.parametrize("keep", [False, True], ids=["removed", "kept-by-override"])
def test_overlay_plane_goes_whole_with_its_data(keep: bool) -> None:
    ds = Dataset()
    ds.add(DataElement(0x60000010, "US", 4))  # Overlay Rows
    ds.add(DataElement(0x60000022, "LO", "by Dr X"))  # Overlay Description
    ds.add(DataElement(0x60003000, "OW", b"\x00" * 4))  # Overlay Data: X in every column
    overrides = {0x60003000: Override(OverrideAction.KEEP)} if keep else {}
    plan = plan_actions(ds, profile(frozenset({Option.CLEAN_GRAPHICS}), overrides=overrides),
                        load_standard()).actions
    codes = {p[0]: a.code for p, a in plan.items()}
    if keep:
        assert codes == {0x60000010: ActionCode.K, 0x60000022: ActionCode.C, 0x60003000: ActionCode.K}
    else:
        assert codes == dict.fromkeys((0x60000010, 0x60000022, 0x60003000), ActionCode.X)


def test_curve_data_is_removed_even_under_clean_graphics() -> None:
    """(50xx,xxxx) Curve Data: X, C under Clean Graphics; a bitmap cannot be cleaned, so X."""
    ds = Dataset()
    ds.add(DataElement(0x50003000, "OB", b"\x00\x01"))
    for options in (frozenset(), frozenset({Option.CLEAN_GRAPHICS})):
        assert plan_actions(ds, profile(options), load_standard()).actions[(0x50003000,)].code is ActionCode.X


def test_uid_not_in_the_table() -> None:
    """A UID the table does not list: a class or scheme UID is kept (by keyword or by the DICOM
    root), an instance UID remapped (U); a tag unknown to the data dictionary is removed."""
    ds = Dataset()
    ds.add(DataElement(0x00081150, "UI", "1.2.840.10008.5.1.4.1.1.2"))  # Referenced SOP Class UID
    ds.add(DataElement(0x00080118, "UI", "1.2.3.4"))  # Mapping Resource UID: a scheme
    ds.add(DataElement(0x00200242, "UI", "1.2.840.10008.1.2"))  # SOP Instance UID of Concatenation Source
    ds.add(DataElement(0x1040A124, "UI", "1.2.3"))  # (1040,A124): unknown to the dictionary
    plan = plan_actions(ds, profile(), load_standard()).actions
    assert {p[0]: a.code for p, a in plan.items()} == {
        0x00081150: ActionCode.K, 0x00080118: ActionCode.K, 0x00200242: ActionCode.K, 0x1040A124: ActionCode.X}
    ds[0x00200242].value = "1.2.826.0.1.3680043.9.7433.5"  # an instance UID: remapped
    plan = plan_actions(ds, profile(), load_standard()).actions
    assert plan[(0x00200242,)].code is ActionCode.U
    retained = plan_actions(ds, profile(frozenset({Option.RETAIN_UIDS})), load_standard()).actions
    assert retained[(0x00200242,)].code is ActionCode.K


def test_plan_path_inside_sequence_and_cache_do_not_change_results() -> None:
    """A decision cache shared across instances gives the same plan as none."""
    standard = load_standard()
    cache: dict = {}
    for sop_class in ("1.2.840.10008.5.1.4.1.1.2", "1.2.840.10008.5.1.4.1.1.88.33"):
        for animal in (True, False):
            ds = full_header(sop_class, animal=animal)
            fresh = plan_actions(ds, profile(), standard).actions
            cached = plan_actions(ds, profile(), standard, cache=cache).actions
            assert fresh == cached


def test_source_tables_used_here_are_the_vendored_ones() -> None:
    """The oracle reads the files whose sha256 PROVENANCE.md and the generated header record."""
    import hashlib
    import json

    sources = json.loads((REPO / "profiles" / "ps315_2026c.json").read_text())["sources"]
    checked = 0
    for name in ("table_E.1-1.csv", "table_E.1-1a_action_codes.csv", "iod/sop_class_iod.csv",
                 "iod/toplevel_types.csv", "iod/nested_types.csv", "table_E.3.10-1.csv"):
        assert hashlib.sha256(Path(SOURCE / name).read_bytes()).hexdigest() == sources[name], name
        checked += 1
    assert checked == 6


# --- provenance, encodings, caching --------------------------------------------------------------

def _row(keyword: str) -> str:
    return next(r["row"] for r in e11_rows().values() if r["keyword"] == keyword)


def test_every_action_sits_at_its_own_path_and_names_its_rule() -> None:
    checked = 0
    for ds in (full_header("1.2.840.10008.5.1.4.1.1.2"), _tree()):
        for path, action in plan_actions(ds, profile(), load_standard()).actions.items():
            assert action.path == path and action.rule, path
            checked += 1
    assert checked > 1000


def test_rule_provenance_quotes_row_option_and_type() -> None:
    """The rule an action quotes (manifest, --dry-run): the row of Table E.1-1, the option column
    and, for a resolved combined code, the PS3.3 type (STYLE.md: "E.1-1 row 17, basic")."""
    ps = "1.2.840.10008.5.1.4.1.1.11.1"  # Grayscale Softcopy Presentation State
    iod = sop_class_iod()[ps]
    ds = full_header(ps)
    ds.add(DataElement(0x00080000, "UL", 4))
    ds.add(DataElement(0x00030000, "UL", 4))
    ds.add(DataElement(0x00081235, "LO", "x"))
    ds.add(DataElement(0x00080060, "CS", "PR"))
    plan = plan_actions(ds, profile(frozenset({Option.RETAIN_UIDS})), load_standard()).actions
    creation_type = toplevel_types()[(iod, "PresentationCreationDate")]
    content_creator_type = toplevel_types().get((iod, "ContentCreatorName"), "3")
    expected = {
        "AccessionNumber": f"E.1-1 row {_row('AccessionNumber')}, basic",
        "AcquisitionUID": f"E.1-1 row {_row('AcquisitionUID')}, retain_uids",
        "ContentCreatorName": f"E.1-1 row {_row('ContentCreatorName')}, basic, type {content_creator_type}",
        "PresentationCreationDate": f"E.1-1 row {_row('PresentationCreationDate')}, basic; type {creation_type} in "
                                    f"the IOD: D keeps it valid (PS3.15 E.1)",
    }
    got = {keyword_for_tag(p[0]): a.rule for p, a in plan.items() if keyword_for_tag(p[0]) in expected}
    assert got == expected
    assert plan[(0x00080000,)].rule == plan[(0x00030000,)].rule == "group length (retired, recomputed)"
    assert plan[(0x00081235,)].rule == "unknown public attribute (not in data dictionary)"
    assert plan[(0x00080060,)].rule == "not in E.1-1: kept"
    assert plan[(0x00080016,)].rule == "class or scheme UID: kept"
    basic = plan_actions(ds, profile(), load_standard()).actions
    assert basic[(0x00081140,)].rule == (f"E.1-1 row {_row('ReferencedImageSequence')}, basic X/Z/U*: references "
                                         "kept, instance UIDs remapped (U*)")
    uid_d = next(keyword_for_tag(t) for t, r in e11_rows().items() if r["basic_profile"] == "D" and vr_of(t) == "UI")
    tag = int(tag_for_keyword(uid_d) or 0)
    assert basic[(tag,)].rule == f"E.1-1 row {_row(uid_d)}, basic; D on a UID: keyed replacement"
    curve = Dataset()
    curve.add(DataElement(0x50003000, "OB", b"\x00\x01"))
    graphics = plan_actions(curve, profile(frozenset({Option.CLEAN_GRAPHICS})), load_standard()).actions
    assert graphics[(0x50003000,)].rule == "E.1-1 row 91, clean_graphics; binary data cannot be cleaned: removed"


def test_file_meta_group_length_is_kept() -> None:
    """(0002,0000) is the file meta's own group length, not a retired one: kept (not in E.1-1)."""
    meta = Dataset()
    meta.add(DataElement(0x00020000, "UL", 200))
    assert plan_actions(meta, profile(), load_standard()).actions[(0x00020000,)].code is ActionCode.K


def test_documents_keep_keeps_the_body_and_nothing_else() -> None:
    from dicom_deid.profiles import DocumentPolicy

    ds = Dataset()
    ds.EncapsulatedDocument = b"%PDF-1.4"
    ds.StudyDescription = "x"
    kept = plan_actions(ds, profile(documents=DocumentPolicy.KEEP), load_standard()).actions
    assert kept[(0x00420011,)] == ElementAction((0x00420011,), ActionCode.K,
                                                "documents keep: body written unexamined, reported")
    assert kept[(0x00081030,)].code is ActionCode.X
    default = plan_actions(ds, profile(), load_standard()).actions
    assert default[(0x00420011,)].code is not ActionCode.K


PHILIPS = "Philips Imaging DD 001"  # Table E.3.10-1 creator; group 2001


@pytest.mark.parametrize("slot", [0x10, 0xFF], ids=["first-block", "last-block"])
def test_safe_private_creator_in_any_block(slot: int) -> None:
    ds = Dataset()
    ds.add(DataElement(0x20010000 | slot, "LO", PHILIPS))
    ds.add(DataElement(0x20010000 | (slot << 8) | 0x01, "FL", 1.5))  # (2001,xx01): listed
    ds.add(DataElement(0x20010000 | (slot << 8) | 0x00, "LO", "not listed"))  # (2001,xx00): not listed
    plan = plan_actions(ds, profile(frozenset({Option.RETAIN_SAFE_PRIVATE})), load_standard()).actions
    assert [(a.code, a.rule) for a in plan.values()] == [  # in the order added
        (ActionCode.K, "E.3.10-1 private creator of safe attributes"),
        (ActionCode.K, "E.3.10-1 safe private attribute"),
        (ActionCode.X, f"E.1-1 row {_row_private()}, retain_safe_private: not in E.3.10-1")]


def _row_private() -> str:
    return next(r["row"] for r in _csv("table_E.1-1.csv") if r["tag_kind"] == "private")


def test_private_rules_are_quoted() -> None:
    ds = Dataset()
    ds.add(DataElement(0x00290010, "LO", "UNKNOWN CREATOR"))
    ds.add(DataElement(0x00291001, "LO", "x"))
    row = _row_private()
    safe = plan_actions(ds, profile(frozenset({Option.RETAIN_SAFE_PRIVATE})), load_standard()).actions
    assert [a.rule for a in safe.values()] == [f"E.1-1 row {row}, retain_safe_private: creator not in E.3.10-1",
                                              f"E.1-1 row {row}, retain_safe_private: not in E.3.10-1"]
    basic = plan_actions(ds, profile(), load_standard()).actions
    assert [a.rule for a in basic.values()] == [f"E.1-1 row {row}, basic"] * 2


def test_safe_private_sequence_kept_only_when_it_can_be_walked() -> None:
    """(2001,xx5F) Stack Sequence is safe (E.3.10-1, VR SQ): walked when read as a sequence; removed
    when its encoding is unknown (implicit VR private: bytes that cannot be examined)."""
    item = Dataset()
    item.add(DataElement(0x20011001, "FL", 2.0))  # the item names the creator again, as Philips does
    item.add(DataElement(0x20010010, "LO", PHILIPS))
    item.add(DataElement(0x00100010, "PN", "Inside^Item"))
    ds = Dataset()
    ds.add(DataElement(0x20010010, "LO", PHILIPS))
    ds.add(DataElement(0x2001105F, "SQ", Sequence([item])))
    options = frozenset({Option.RETAIN_SAFE_PRIVATE})
    plan = plan_actions(ds, profile(options), load_standard()).actions
    assert plan[(0x2001105F,)] == ElementAction((0x2001105F,), ActionCode.K, "E.3.10-1 safe private attribute")
    assert plan[(0x2001105F, 0, 0x00100010)].code is ActionCode.Z  # the profile applies inside
    assert plan[(0x2001105F, 0, 0x20011001)].code is ActionCode.K
    ds[0x2001105F] = DataElement(0x2001105F, "UN", b"\xfe\xff\x00\xe0\x00\x00\x00\x00")
    plan = plan_actions(ds, profile(options), load_standard()).actions
    assert plan[(0x2001105F,)] == ElementAction((0x2001105F,), ActionCode.X,
                                                "E.3.10-1 safe private sequence of unknown encoding: removed")


def test_overlay_rules_in_any_overlay_group() -> None:
    ds = Dataset()
    for group in (0x6000, 0x6002):
        ds.add(DataElement((group << 16) | 0x0010, "US", 4))  # Overlay Rows
        ds.add(DataElement((group << 16) | 0x0011, "US", 4))  # Overlay Columns
        ds.add(DataElement((group << 16) | 0x0022, "LO", "by Dr X"))
        ds.add(DataElement((group << 16) | 0x3000, "OW", b"\x00" * 4))
    row = next(r["row"] for r in _csv("table_E.1-1.csv") if r["tag_key"] == "60xx3000")
    removed = plan_actions(ds, profile(), load_standard()).actions
    assert {a.rule for a in removed.values()} == {f"E.1-1 row {row} Overlay Data X: the whole overlay plane"}
    assert len(removed) == 8
    keep = {0x60023000: Override(OverrideAction.KEEP)}
    kept = plan_actions(ds, profile(overrides=keep), load_standard()).actions
    assert [(p[0] >> 16, a.code, a.rule) for p, a in kept.items()] == [
        *[(0x6000, ActionCode.X, f"E.1-1 row {row} Overlay Data X: the whole overlay plane")] * 4,
        (0x6002, ActionCode.K, "overlay kept by override"), (0x6002, ActionCode.K, "overlay kept by override"),
        (0x6002, ActionCode.C, "overlay kept by override: text cleaned"),
        (0x6002, ActionCode.K, "override keep")]


def test_an_explicit_un_of_a_public_attribute_is_planned_by_its_dictionary_vr() -> None:
    """Study Description written as UN is still text: cleaned (C) under Clean Descriptors, not removed
    as binary; an unknown UN private element stays binary."""
    ds = Dataset()
    ds.add(DataElement(0x00081030, "UN", b"Knee "))
    plan = plan_actions(ds, profile(frozenset({Option.CLEAN_DESCRIPTORS})), load_standard()).actions
    assert plan[(0x00081030,)].code is ActionCode.C


def test_binary_value_representations() -> None:
    from dicom_deid.plan import is_binary_vr

    assert [is_binary_vr(v) for v in ("OB or OW", "US or OW", "OW", "UN", "US or SS", "LO", "SQ")] == [
        True, True, True, True, False, False, False]


def test_item_tags_outside_a_sequence_are_malformed() -> None:
    from pydicom.dataelem import RawDataElement
    from pydicom.tag import BaseTag

    from dicom_deid.errors import UnreadableDicomError

    ds = Dataset()
    ds._dict[BaseTag(0xFFFEE000)] = RawDataElement(BaseTag(0xFFFEE000), None, 0, b"", 0, True, True)
    with pytest.raises(UnreadableDicomError, match=r"^Item outside a sequence: the file is malformed$"):
        plan_actions(ds, profile(), load_standard())


def test_a_shared_cache_never_carries_a_value_dependent_decision() -> None:
    """UID values (class or instance) and private creators decide per instance, whatever was cached."""
    standard = load_standard()
    cache: dict = {}
    first, second = Dataset(), Dataset()
    first.add(DataElement(0x00200242, "UI", "1.2.840.10008.5.1.4.1.1.2"))
    second.add(DataElement(0x00200242, "UI", "1.2.826.0.1.3680043.9.7433.9"))
    for ds in (first, second):
        ds.add(DataElement(0x20010010, "LO", PHILIPS if ds is first else "OTHER"))
        ds.add(DataElement(0x20011001, "FL", 1.0))
    options = profile(frozenset({Option.RETAIN_SAFE_PRIVATE}))
    codes = [[a.code for a in plan_actions(ds, options, standard, cache=cache).actions.values()]
             for ds in (first, second)]
    assert codes == [[ActionCode.K, ActionCode.K, ActionCode.K], [ActionCode.U, ActionCode.X, ActionCode.X]]


def test_a_multi_valued_uid_is_kept_only_when_every_value_is_a_class_uid() -> None:
    """Selector UI Value (0072,007F) is not in Table E.1-1: standard UIDs are kept, and one instance
    UID among them gets the whole attribute remapped (never an original instance UID kept)."""
    ds = Dataset()
    ds.add(DataElement(0x0072007F, "UI", ["1.2.840.10008.5.1.4.1.1.2", "1.2.840.10008.5.1.4.1.1.4"]))
    assert plan_actions(ds, profile(), load_standard()).actions[(0x0072007F,)].code is ActionCode.K
    ds[0x0072007F].value = ["1.2.840.10008.5.1.4.1.1.2", "1.2.826.0.1.3680043.9.7433.9"]
    assert plan_actions(ds, profile(), load_standard()).actions[(0x0072007F,)].code is ActionCode.U


def test_plan_counts_and_iteration() -> None:
    from collections import Counter as C

    plan = plan_actions(full_header("1.2.840.10008.5.1.4.1.1.2"), profile(), load_standard())
    assert plan.counts() == C(a.code.value for a in plan.actions.values())
    assert list(plan) == list(plan.actions.values()) and sum(plan.counts().values()) == len(plan.actions)


def test_every_kind_of_decision_sits_at_its_own_path() -> None:
    """Overrides, group lengths, whole overlay planes, kept overlays and safe private creators are
    decided outside Table E.1-1's rows: each action still names the path it was planned for (the
    manifest's changes and the dry-run report print it)."""
    ds = Dataset()
    ds.add(DataElement(0x00080000, "UL", 4))  # group length
    ds.add(DataElement(0x00081030, "LO", "study"))  # Study Description: overridden below
    ds.add(DataElement(0x20010010, "LO", PHILIPS))  # safe private creator
    for group in (0x6000, 0x6002):
        ds.add(DataElement((group << 16) | 0x0010, "US", 4))  # Overlay Rows
        ds.add(DataElement((group << 16) | 0x0022, "LO", "by Dr X"))  # Overlay Description
        ds.add(DataElement((group << 16) | 0x3000, "OW", b"\x00" * 4))
    keep_plane = {0x60023000: Override(OverrideAction.KEEP), 0x00081030: Override(OverrideAction.REPLACE, "S")}
    plan = plan_actions(ds, profile(frozenset({Option.RETAIN_SAFE_PRIVATE}), overrides=keep_plane),
                        load_standard()).actions
    assert [(p, a.path) for p, a in plan.items()] == [((int(t),), (int(t),)) for t in ds.keys()]  # noqa: SIM118
    assert {a.code for a in plan.values()} == {ActionCode.X, ActionCode.D, ActionCode.K, ActionCode.C}
    other = Dataset()
    other.add(DataElement(0x00081235, "LO", "x"))  # not in the data dictionary
    other.add(DataElement(0x50003000, "OW", b"\x00\x00"))  # Curve Data: C under Clean Graphics, binary
    plan = plan_actions(other, profile(frozenset({Option.CLEAN_GRAPHICS})), load_standard()).actions
    assert [(p, a.path, a.code) for p, a in plan.items()] == [
        ((0x00081235,), (0x00081235,), ActionCode.X), ((0x50003000,), (0x50003000,), ActionCode.X)]


def test_element_vr_reads_the_dictionary_for_un_and_implicit_elements() -> None:
    ds = Dataset()
    ds.add(DataElement(0x00081030, "UN", b"Knee "))  # Study Description written as UN
    ds.add(DataElement(0x00091001, "UN", b"ab"))  # private: no dictionary VR
    ds.add(DataElement(0x00100010, "PN", "Doe^Jane"))
    assert [element_vr(ds, t) for t in (0x00081030, 0x00091001, 0x00100010)] == ["LO", "UN", "PN"]


def test_a_multi_valued_private_creator_is_no_creator() -> None:
    """A creator element holding two values names no block: its elements are removed, without error."""
    ds = Dataset()
    ds.add(DataElement(0x20010010, "LO", [PHILIPS, "OTHER"]))
    ds.add(DataElement(0x20011001, "FL", 1.0))  # listed for Philips Imaging DD 001 in E.3.10-1
    plan = plan_actions(ds, profile(frozenset({Option.RETAIN_SAFE_PRIVATE})), load_standard()).actions
    assert [a.code for a in plan.values()] == [ActionCode.X, ActionCode.X]


def test_a_shared_cache_is_filled_and_read() -> None:
    """The cache memoises value-independent decisions: filled by one instance, reused by the next."""
    standard, options = load_standard(), profile()
    cache: dict = {}
    ds = Dataset()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    ds.StudyDescription = "Knee"
    assert plan_actions(ds, options, standard, cache=cache).sop_class_uid == "1.2.840.10008.5.1.4.1.1.2"
    key = ("1.2.840.10008.5.1.4.1.1.2", (), 0x00081030, "LO")
    assert cache[key].code is ActionCode.X  # Study Description: X in the basic profile
    cache[key] = ElementAction((0x00081030,), ActionCode.K, "memo")  # what a first instance decided, the next gets
    assert plan_actions(ds, options, standard, cache=cache).actions[(0x00081030,)] == ElementAction(
        (0x00081030,), ActionCode.K, "memo")
