"""Issue 16 (helper meta17): what the scrub sets and records without pydicom's per-call work is
what pydicom sets and records.

- ``scrub.set_sequence`` is ``dst[tag] = DataElement(tag, "SQ", Sequence(items))``: the same
  element, and the same Pixel Representation handed to the dataset and to each item;
- ``Plan.documents`` (from the walk) answers ``check_document`` as the scan of the plan's paths did;
- a manifest line whose ``changes`` come from the memo is the line ``json.dumps`` writes.
"""

from __future__ import annotations

import json
from dataclasses import fields, replace

import pytest
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.tag import BaseTag

from dicom_deid.items_fast import new_dataset
from dicom_deid.manifest import ManifestRecord, encode_fields, encode_row
from dicom_deid.plan import Plan, plan_actions
from dicom_deid.profiles import DocumentPolicy, load_profile, load_standard
from dicom_deid.scrub import set_sequence

_PIXREP = 0x00280103
_SEQ = 0x00081115  # ReferencedSeriesSequence


def _pixrep(value: bytes | int | None, raw: bool) -> RawDataElement | DataElement:
    if raw:
        data = value if isinstance(value, bytes) or value is None else value.to_bytes(2, "little")
        return RawDataElement(BaseTag(_PIXREP), "US", len(data or b""), data, 0, False, True)
    return DataElement(_PIXREP, "US", value)


def _case(parent: str, items: list[str]) -> tuple[Dataset, list[Dataset]]:
    """A dataset and items: "raw1"/"raw0"/"dec1"/"none" hold a Pixel Representation of that kind,
    "attr1" only the attribute ``_pixel_rep`` set, "" nothing."""
    def build(kind: str) -> Dataset:
        ds = new_dataset()
        ds.PatientID = "x"
        if kind.startswith("raw"):
            ds._dict[BaseTag(_PIXREP)] = _pixrep(int(kind[-1]), raw=True)
        elif kind.startswith("dec"):
            ds._dict[BaseTag(_PIXREP)] = _pixrep(int(kind[-1]), raw=False)
        elif kind == "none":
            ds._dict[BaseTag(_PIXREP)] = _pixrep(None, raw=True)
        elif kind == "attr1":
            ds._pixel_rep = 1
        return ds
    return build(parent), [build(k) for k in items]


def _state(ds: Dataset, items: list[Dataset]) -> list[object]:
    elem = ds[_SEQ]
    value = elem.value
    return [type(elem), list(elem.__dict__), {k: v for k, v in elem.__dict__.items() if k != "_value"},
            type(value), list(value.__dict__), [id(i) for i in value], list(ds._dict),
            type(ds._dict.get(BaseTag(_PIXREP))), ds.__dict__.get("_pixel_rep", "unset"),
            [i.__dict__.get("_pixel_rep", "unset") for i in items]]


@pytest.mark.parametrize("parent", ["", "raw1", "raw0", "dec1", "none", "attr1"])
@pytest.mark.parametrize("items", [[], [""], ["", "raw1", "raw0", "dec1", "none", "attr1"]])
def test_set_sequence_sets_what_pydicom_sets(parent: str, items: list[str]) -> None:
    ours, our_items = _case(parent, items)
    theirs, their_items = _case(parent, items)
    set_sequence(ours, BaseTag(_SEQ), our_items)
    theirs[BaseTag(_SEQ)] = DataElement(BaseTag(_SEQ), "SQ", Sequence(their_items))
    assert _state(ours, our_items)[:5] == _state(theirs, their_items)[:5]
    assert [id(i) for i in ours[_SEQ].value] == [id(i) for i in our_items]  # the items themselves
    assert _state(ours, our_items)[6:] == _state(theirs, their_items)[6:]


def test_set_sequence_with_an_int_tag_keys_a_base_tag() -> None:
    ds = new_dataset()
    set_sequence(ds, _SEQ, [new_dataset()])
    assert all(type(key) is BaseTag for key in ds._dict)
    assert type(ds[_SEQ].tag) is BaseTag and ds[_SEQ].VR == "SQ"


def _document_dataset(nested: bool) -> Dataset:
    ds = Dataset()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.104.1"
    ds.SOPInstanceUID = "1.2.3.4"
    ds.MIMETypeOfEncapsulatedDocument = "application/pdf"
    body = DataElement(0x00420011, "OB", b"%PDF-1.4")
    if nested:
        item = Dataset()
        item.add(body)
        ds.ReferencedSeriesSequence = [item]
    else:
        ds.add(body)
    return ds


@pytest.mark.parametrize("nested", [False, True])
def test_the_walk_knows_a_document_at_any_level(nested: bool) -> None:
    profile, standard = load_profile("basic"), load_standard()
    with_document = plan_actions(_document_dataset(nested), profile, standard)
    without = Dataset()
    without.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    without.ReferencedSeriesSequence = [Dataset()]
    assert with_document.has_document() is True
    assert plan_actions(without, profile, standard).has_document() is False
    # as the scan of the paths answers (a plan built without the walk)
    assert Plan(dict(with_document.actions), with_document.sop_class_uid).has_document() is True


def test_check_document_answers_from_the_walk() -> None:
    from dicom_deid.deidentify import check_document
    from dicom_deid.errors import EncapsulatedDocumentError

    profile, standard = load_profile("basic"), load_standard()
    ds = _document_dataset(nested=True)
    with pytest.raises(EncapsulatedDocumentError):
        check_document(ds, plan_actions(ds, profile, standard), DocumentPolicy.QUARANTINE)
    plain = Dataset()
    plain.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    assert check_document(plain, plan_actions(plain, profile, standard), DocumentPolicy.QUARANTINE) is False


def _oracle(record: ManifestRecord) -> bytes:
    row: dict[str, object] = {"type": "file"}
    row.update({f.name: getattr(record, f.name) for f in fields(record)
                if getattr(record, f.name) not in (None, {}, [])})
    return (json.dumps(row, sort_keys=True) + "\n").encode("utf-8")


def test_remembered_changes_give_the_line_json_writes() -> None:
    names = [f"(0009,{i:04X})" for i in range(300)]
    first = ManifestRecord(1, "a", "written", 10, output="p/s/e/i.dcm", actions={"K": 2, "X": 300},
                           changes={"X": list(names), "Z": ["StudyID"], "U": ["SOPInstanceUID"]}, seconds=0.5)
    again = replace(first, ordinal=2, changes={"X": list(names), "Z": ["StudyID"], "U": ["SOPInstanceUID"]})
    other = replace(first, ordinal=3, changes={"X": [*names[:-1], "PatientName\u00e9\""], "Z": ["StudyID"]})
    reordered = replace(first, ordinal=4, changes={"Z": ["StudyID"], "X": list(names)})
    for record in (first, again, other, reordered, first):
        assert encode_row(record) == _oracle(record)
        assert encode_fields(replace(record, seconds=9.0)).line(record.seconds) == _oracle(record)


def test_changes_that_are_not_lists_of_str_are_encoded_in_place() -> None:
    odd = ManifestRecord(1, "a", "written", changes={"X": ("A", "B")})  # type: ignore[dict-item]
    assert encode_row(odd) == _oracle(odd)
    marked = ManifestRecord(2, "\x00changes\x00", "written", changes={"X": ["A"]}, modality="\x00changes\x00")
    assert encode_row(marked) == _oracle(marked)
    earlier = ManifestRecord(3, "a", "written", actions={"changes": "\x00changes\x00"},  # type: ignore[dict-item]
                             changes={"X": ["A"]})  # a field before ``changes`` holds its mark's text
    assert encode_row(earlier) == _oracle(earlier)


def _byte_path_files() -> list[str]:
    from tests.fuzz_corpus import TEST_FILES

    return sorted(p.name for p in TEST_FILES.glob("*.dcm"))


def test_the_scrub_chooses_the_copies_choose_copies_chooses() -> None:
    """The scrub's own pass over the top level (``apply_plan(..., copier=)``) splices in the same
    elements, with the same bytes, in the same order, as ``choose_copies`` run before the scrub,
    on every one of pydicom's test files the byte path takes."""
    from dicom_deid.bytepath import choose_copies
    from dicom_deid.deidentify import Engine, deidentify
    from dicom_deid.keys import SecretKey
    from dicom_deid.read import parse_instance
    from tests.fuzz_corpus import TEST_FILES

    engine = Engine(load_profile("basic"), SecretKey(bytes(range(32))))
    compared = constants = 0
    for name in _byte_path_files():
        data = (TEST_FILES / name).read_bytes()
        try:
            result = deidentify(parse_instance(data, where=name).dataset, engine, data=data)
        except Exception:  # noqa: BLE001, S112 - a file the pipeline refuses has no copies to compare
            continue
        if result.copies is None:
            continue
        fresh = parse_instance(data, where=name).dataset
        expected = choose_copies(fresh, data, result.plan, engine.copy_protected, engine.standard)
        assert [(t, bytes(c)) for t, c in result.copies.ranges.items()] == \
            [(t, bytes(c)) for t, c in expected.ranges.items()], name
        assert list(result.copies.constants.items()) == list(expected.constants.items()), name
        assert not set(result.copies.spliced) & {int(k) for k in result.dataset._dict}, name
        compared += 1
        constants += bool(expected.constants)
    assert compared >= 20 and constants >= 5, (compared, constants)


@pytest.mark.parametrize(("tell", "undefined"), [(None, False), (0, True), (1234, True), (88, False)])
def test_sequence_element_is_the_data_element_pydicom_builds(tell: int | None, undefined: bool) -> None:
    from dicom_deid.items_fast import new_sequence, sequence_element

    items = [new_dataset(), new_dataset()]
    seq = Sequence(items)
    ours = sequence_element(BaseTag(_SEQ), seq, tell, undefined)
    theirs = DataElement(BaseTag(_SEQ), "SQ", seq, tell, is_undefined_length=undefined)
    assert type(ours) is DataElement
    assert list(ours.__dict__) == list(theirs.__dict__)
    assert ours.__dict__ == theirs.__dict__ and ours.value is seq
    built = new_sequence(items)
    assert type(built) is Sequence and list(built.__dict__) == list(Sequence(items).__dict__)
    assert list(built) == items and built == Sequence(items)
