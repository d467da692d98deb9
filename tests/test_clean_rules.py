"""clean: person names of every length, script, form and order; IDs; dates; generic patterns.

Each expected text is written here by hand from the rule the test names (clean.py's docstring
and the README's "Person names are found however they are spelled"); ``***`` is what a removed
value becomes.
"""

from __future__ import annotations

import datetime as dt
from itertools import permutations

import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from dicom_deid.clean import REDACTED, PatientIdentifiers, clean_text, patient_identifiers
from dicom_deid.profiles import load_standard

R = REDACTED


def _clean(names: list[str], text: str, ids: tuple[str, ...] = (), dates: tuple[str, ...] = ()) -> str:
    return clean_text(text, PatientIdentifiers.build(names, ids, dates).pattern())


SHORT = [
    # names of 2 and 3 letters are removed as whole words, any case; never inside a longer word
    ("LI^WEI", "Li Wei seen", f"{R} {R} seen"),
    ("LI^WEI", "WEI LI", f"{R} {R}"),
    ("LI^WEI", "li, wei", f"{R}, {R}"),
    ("LI^WEI", "Lima Weiss", "Lima Weiss"),
    ("NG^BO", "Ng Bo, bo ng", f"{R} {R}, {R} {R}"),
    ("NG^BO", "bong angle", "bong angle"),
    ("OH^YU", "by OH", f"by {R}"),
    ("XU^AN", "Xu", R),
    ("DOE^JO", "Jo Doe / JOE", f"{R} {R} / JOE"),
    ("ABE^ODA", "Oda-Abe", f"{R}-{R}"),
]


@pytest.mark.parametrize(("name", "text", "expected"), SHORT, ids=[f"{n}:{t}" for n, t, _ in SHORT])
def test_short_name_parts_are_removed_as_words(name: str, text: str, expected: str) -> None:
    assert _clean([name], text) == expected


def test_one_letter_parts_are_initials_not_words() -> None:
    """A one-letter part alone is not removed (it would take every "A" and "X" of the text);
    beside another part of its name it is (an initial)."""
    assert _clean(["X^AL"], "X ray of Al") == f"X ray of {R}"
    assert _clean(["QUIXWORTH^PERCIVAL"], "P. Quixworth and P wave") == f"{R} {R} and P wave"
    assert _clean(["QUIXWORTH^P"], "P. Quixworth") == f"P. {R}"  # "P" is no part: no initial of one


CJK = [
    ("王^小明", "王小明 患者", f"{R} 患者"),  # written together, as Chinese is
    ("王^小明", "患者王小明的CT", f"患者{R}的CT"),  # inside a run of ideographs
    ("王^小明", "王 小明", R),
    ("王^小明", "小明王", R),  # either order
    ("王^小明", "小明来了", f"{R}来了"),
    ("王^小明", "王国", "王国"),  # a one-character surname alone is no name
    ("山田^太郎=やまだ^たろう", "山田太郎様", f"{R}様"),
    ("山田^太郎=やまだ^たろう", "やまだ たろう", R),
    ("Yamada^Tarou=山田^太郎=やまだ^たろう", "Tarou Yamada (山田 太郎)", f"{R} {R} ({R})"),
    ("홍^길동", "환자 홍길동 님", f"환자 {R} 님"),
]


@pytest.mark.parametrize(("name", "text", "expected"), CJK, ids=[f"{n}:{t}" for n, t, _ in CJK])
def test_cjk_names(name: str, text: str, expected: str) -> None:
    assert _clean([name], text) == expected


COMPOUND = [
    ("Müller-Lüdenscheidt^Hans-Peter", "Hans-Peter Müller-Lüdenscheidt", f"{R} {R}"),
    ("Müller-Lüdenscheidt^Hans-Peter", "Dr Lüdenscheidt", f"Dr {R}"),
    ("Müller-Lüdenscheidt^Hans-Peter", "HANS PETER MULLER", f"{R} {R} {R}"),
    ("Müller-Lüdenscheidt^Hans-Peter", "Mueller", R),
    ("van der Berg^Anna Maria", "Anna Maria van der Berg", f"{R} {R} {R} {R} {R}"),
    ("van der Berg^Anna Maria", "Berg, Anna", f"{R}, {R}"),
    ("García Márquez^José", "Jose Garcia Marquez", f"{R} {R} {R}"),
    ("García Márquez^José", "GARCÍA-MÁRQUEZ, JOSÉ", f"{R}-{R}, {R}"),
    ("O'Brien^Seán", "Sean OBrien", f"{R} {R}"),
    ("Quixworth^Percival^Q^Dr^III", "Dr. Percival Q. Quixworth III", f"{R}. {R} {R} {R} {R}"),
]


@pytest.mark.parametrize(("name", "text", "expected"), COMPOUND, ids=[f"{n}:{t}" for n, t, _ in COMPOUND])
def test_hyphenated_and_compound_names(name: str, text: str, expected: str) -> None:
    assert _clean([name], text) == expected


@pytest.mark.parametrize("order", list(permutations(["Quixworth", "Percival", "Bo"])),
                         ids=lambda o: "-".join(o))
@pytest.mark.parametrize("sep", [" ", ", ", "^", "/", "\n"], ids=["space", "comma", "caret", "slash", "newline"])
def test_every_order_of_every_part(order: tuple[str, ...], sep: str) -> None:
    text = "seen " + sep.join(order) + " today"
    cleaned = _clean(["QUIXWORTH^PERCIVAL^BO"], text)
    assert cleaned == "seen " + sep.join([R] * 3) + " today"


def test_ids_anywhere_and_dates_in_common_spellings() -> None:
    cleaned = _clean([], "MRN AB-77 in AB-77X; born 1961-02-03, 03/02/1961, 3 Feb 1961, Feb 3, 1961, 03FEB1961 ok",
                     ids=("AB-77", "x"), dates=("19610203",))
    assert cleaned == f"MRN {R} in {R}X; born {R}, {R}, {R}, {R}, {R} ok"
    assert _clean([], "id x", ids=("x",)) == "id x"  # an ID under 3 characters is no pattern


GENERIC = [
    ("mail jane.doe@example.org now", f"mail {R} now"),
    ("call +1 555-123-4567", f"call {R}"),
    ("on 2019-03-02 and 02.03.2019", f"on {R} and {R}"),
    ("MRN 12345678", f"MRN {R}"),
    ("Tuesday 4 July", "Tuesday 4 July"),  # no year: no date
    ("T2 FLAIR 3mm", "T2 FLAIR 3mm"),
    ("kVp 120 mAs 250", "kVp 120 mAs 250"),
]


@pytest.mark.parametrize(("text", "expected"), GENERIC, ids=[t for t, _ in GENERIC])
def test_generic_patterns_without_patient_values(text: str, expected: str) -> None:
    assert clean_text(text, None) == expected


def test_no_identifiers_no_pattern() -> None:
    assert PatientIdentifiers.build([], [], []).pattern() is None
    assert PatientIdentifiers.build(["^"], ["  "], ["bad"]).pattern() is None


def test_identifiers_collected_from_the_header_and_its_sequences() -> None:
    """patient_identifiers reads the attributes beyond_table.toml names, and every PN anywhere."""
    ds = Dataset()
    ds.PatientName = "Quixworth^Percival"
    ds.PatientID = "MRN77"
    ds.PatientBirthDate = "19610203"
    ds.PatientAddress = "12 Larkspur Avenue"
    step = Dataset()
    step.ScheduledPerformingPhysicianName = "Oda^Abe"
    ds.ScheduledProcedureStepSequence = Sequence([step])
    ident, values = patient_identifiers(ds, load_standard().identifying_values)
    assert {"Quixworth", "Percival", "Oda", "Abe", "Larkspur", "Avenue"} <= set(ident.words)
    assert "MRN77" in ident.ids and ident.dates == (dt.date(1961, 2, 3),)
    assert "19610203" in values
    text = "Quixworth MRN77 Abe 12 Larkspur Avenue 03.02.1961"
    assert clean_text(text, ident.pattern()) == f"{R} {R} {R} {R} {R}"  # the address as a phrase


def _implicit(ds: Dataset) -> Dataset:
    """``ds`` written as Implicit VR Little Endian and read back: elements have no VR until used."""
    from io import BytesIO

    from pydicom import dcmread
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ImplicitVRLittleEndian

    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID = "2.25.1"
    buf = BytesIO()
    ds.save_as(buf, implicit_vr=True, little_endian=True, enforce_file_format=True)
    return dcmread(BytesIO(buf.getvalue()))


def test_person_names_found_in_every_encoding() -> None:
    """Every PN value is a name to remove, whatever attribute holds it: read without VRs (implicit
    VR), kept as UN bytes, several at the top level and inside sequences."""
    from pydicom.dataelem import DataElement

    ds = Dataset()
    ds.add(DataElement(0x00142006, "PN", "Evalina^Rook"))  # Evaluator Name: in no source list
    ds.add(DataElement(0x0040A075, "PN", "Verity^Osgood"))  # Verifying Observer Name
    item = Dataset()
    item.add(DataElement(0x0040A123, "PN", "Nestor^Quill"))  # Person Name, in a content item
    ds.ContentSequence = Sequence([item])
    read = _implicit(ds)
    assert read.get_item(0x00142006).VR is None  # precondition: no VR until converted
    read.add(DataElement(0x00081060, "UN", b"Unwin^Byers "))  # Name of Physician(s) Reading Study, as UN
    read.add(DataElement(0x00291010, "PN", "Private^Person"))  # private: no dictionary VR, read as PN
    ident, _values = patient_identifiers(read, {})
    names = {w.lower() for w in ident.words}
    assert {"evalina", "rook", "verity", "osgood", "nestor", "quill", "unwin", "byers", "private", "person"} <= names


def test_ids_of_other_patient_id_items_and_multi_valued_ids() -> None:
    ds = Dataset()
    ds.OtherPatientIDs = ["OPID-A1", "OPID-B2"]
    first, second = Dataset(), Dataset()
    first.PatientID, second.PatientID = "ALT-1001", "ALT-2002"
    ds.OtherPatientIDsSequence = Sequence([first, second])
    ident, _values = patient_identifiers(ds, load_standard().identifying_values)
    assert {"OPID-A1", "OPID-B2", "ALT-1001", "ALT-2002"} <= set(ident.ids)
    assert clean_text("ALT-1001/ALT-2002 OPID-A1,OPID-B2", ident.pattern()) == f"{R}/{R} {R},{R}"


def test_address_words_of_four_letters_and_more() -> None:
    ds = Dataset()
    ds.PatientAddress = "7 Oak Lane, Thwaite"
    ident, _values = patient_identifiers(ds, load_standard().identifying_values)
    assert clean_text("Lane and Thwaite by the Oak", ident.pattern()) == f"{R} and {R} by the Oak"


def test_a_birth_date_before_1900_in_its_own_spelling() -> None:
    """The generic date patterns know only the years 1900-2099: the patient's own date is found in
    any century."""
    cleaned = _clean([], "born 18991231 or 1899-12-31 or 31 Dec 1899", dates=("18991231",))
    assert cleaned == f"born {R} or {R} or {R}"


# --- found by mutation testing (scripts/mutation.py clean) ----------------------------------------

def test_names_after_a_private_element_read_without_a_vr_are_found() -> None:
    """A private element read as implicit VR has no dictionary VR: skipped, and the scan goes on."""
    from pydicom.dataelem import DataElement

    ds = Dataset()
    ds.add(DataElement(0x00090010, "LO", "ACME"))  # private creator
    ds.add(DataElement(0x00091001, "LO", "private value"))
    ds.add(DataElement(0x00142006, "PN", "Evalina^Rook"))  # Evaluator Name, after the private group
    read = _implicit(ds)
    assert read.get_item(0x00091001).VR is None  # precondition: read without a VR
    ident, _values = patient_identifiers(read, {})
    assert {"evalina", "rook"} <= {w.lower() for w in ident.words}


def test_a_name_stored_as_explicit_un_is_found() -> None:
    """(0032,1032) Requesting Physician written with VR UN in an explicit-VR file: its raw element
    says UN until read; the dictionary says PN, so it is a name."""
    from io import BytesIO
    from struct import pack

    from pydicom.filereader import read_dataset

    value = b"Quixbrook^Ann "
    raw = pack("<HH", 0x0032, 0x1032) + b"UN\x00\x00" + pack("<I", len(value)) + value
    ds = read_dataset(BytesIO(raw), is_implicit_VR=False, is_little_endian=True)
    assert ds.get_item(0x00321032).VR == "UN"  # precondition
    ident, _values = patient_identifiers(ds, {})
    assert {"quixbrook", "ann"} <= {w.lower() for w in ident.words}


@pytest.mark.parametrize("text", ["born 5 Sept 1962", "born 05 Sept 62", "born Sept 5, 1962", "born 05/09/62",
                                  "born 09-05-62"])
def test_september_and_two_digit_years(text: str) -> None:
    """The patient's own date in these spellings is caught by the patient's pattern itself, not only
    by the generic date patterns applied after it."""
    assert _clean([], text, dates=("19620905",)) == f"born {R}"
    own = PatientIdentifiers.build([], (), ("19620905",)).pattern()
    assert own is not None and own.sub(R, text) == f"born {R}"
