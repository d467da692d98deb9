"""remap: the keyed derivation pinned to its construction (README "Keys and pseudonyms").

Every replacement is HMAC-SHA256 of the run's key over a domain label, a NUL and the value;
the expected values below are computed from that construction with ``hmac`` directly, so a
change of derivation (which would break "a later export of the same patients grows the same
research set") fails here, as does a UID over the README's 44 characters.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dicom_deid.keys import SecretKey
from dicom_deid.remap import (
    Remapper,
    patient_key,
    shift_date,
    shift_datetime,
    year_only_date,
    year_only_datetime,
)

KEY = b"\x11" * 32
OTHER = b"\x22" * 32
R = Remapper(SecretKey.from_bytes(KEY))
R2 = Remapper(SecretKey.from_bytes(OTHER))
UID = re.compile(r"^2\.25\.(0|[1-9][0-9]*)$")  # PS3.5 B.2: UUID-derived, no leading zero
README_UID_MAX = 44


def _hmac(key: bytes, domain: str, value: str) -> bytes:
    return hmac.new(key, domain.encode() + b"\x00" + value.encode("utf-8", "surrogateescape"), hashlib.sha256).digest()


def _b32(digest: bytes, n: int) -> str:
    return base64.b32encode(digest).decode()[:n]


# --- known answers of the construction -----------------------------------------------------------

@pytest.mark.parametrize("original", ["1.2.3", "1.2.840.113619.2.55.3.604688119", "", "ünï"])
def test_uid_is_the_first_128_bits_of_the_keyed_hash(original: str) -> None:
    expected = "2.25." + str(int.from_bytes(_hmac(KEY, "uid", original)[:16], "big"))
    assert R.uid(original) == expected


def test_uid_ignores_padding() -> None:
    """A UID read with its trailing NUL or space pad is the same UID; any other character counts."""
    assert R.uid("1.2.3\x00") == R.uid("1.2.3 ") == R.uid(" 1.2.3") == R.uid("1.2.3")
    assert len({R.uid("1.2.3"), R.uid("1.2.3X"), R.uid("1.2.3.0"), R.uid("1.2.30")}) == 4


def test_values_that_are_not_valid_unicode_are_derived_too() -> None:
    """A file name with bytes that are not UTF-8 reaches keyed_id as lone surrogates (os.fsdecode)."""
    name = b"in/\xff\xfe.dcm".decode("utf-8", "surrogateescape")
    expected = _b32(hmac.new(KEY, b"token\x00in/\xff\xfe.dcm", hashlib.sha256).digest(), 16).lower()
    assert R.keyed_id(name) == expected
    assert R.uid(name) != R.uid("in/.dcm") and R.other_id(name) != R.other_id("in/.dcm")


def test_ids_names_and_tokens_follow_the_construction() -> None:
    pk = patient_key("MRN1", "HOSP")
    assert R.patient_id(pk) == "DD" + _b32(_hmac(KEY, "patient-id", pk), 12)
    assert R.patient_name(pk) == "ANON^DD" + _b32(_hmac(KEY, "patient-id", pk), 12)
    assert R.accession_number(" ACC1 ") == "A" + _b32(_hmac(KEY, "accession", "ACC1"), 13)
    assert R.other_id(" OID ") == "X" + _b32(_hmac(KEY, "other-id", "OID"), 13)
    assert R.keyed_id("in/file.dcm") == _b32(_hmac(KEY, "token", "in/file.dcm"), 16).lower()


@pytest.mark.parametrize("pid", ["MRN1", "a", "p" * 64, "Müller"])
def test_date_offset_follows_the_construction(pid: str) -> None:
    pk = patient_key(pid)
    n = int.from_bytes(_hmac(KEY, "date-offset", pk)[:8], "big")
    assert R.date_offset_days(pk) == -(365 + n % (3650 - 365 + 1))  # README: 1 to 10 years back


# --- properties ------------------------------------------------------------------------------------

@settings(max_examples=150)
@given(st.text(max_size=64))
def test_uid_valid_and_within_44_characters_for_any_input(original: str) -> None:
    new = R.uid(original)
    assert UID.match(new), new
    assert len(new) <= README_UID_MAX
    assert int(new[5:]) < 2**128


def test_the_44_character_bound_is_reached_and_held() -> None:
    """2.25. plus at most 39 digits (2**128 - 1 has 39): measured over many inputs."""
    lengths = [len(R.uid(f"1.2.826.0.1.3680043.9.7433.{i}")) for i in range(20_000)]
    assert max(lengths) == README_UID_MAX
    assert min(lengths) >= 30  # a 128-bit value is rarely short: the hash is not truncated


@given(st.text(min_size=1, max_size=40))
def test_every_derivation_depends_on_the_key(value: str) -> None:
    assert R.uid(value) != R2.uid(value)
    pk = patient_key(value)
    assert R.patient_id(pk) != R2.patient_id(pk)
    if value.strip():
        assert R.accession_number(value) != R2.accession_number(value)
        assert R.other_id(value) != R2.other_id(value)
    assert R.keyed_id(value) != R2.keyed_id(value)


@given(st.text(min_size=1, max_size=40))
def test_domains_are_separate(value: str) -> None:
    """The same value gives unrelated replacements in different roles."""
    assert R.accession_number(value)[1:] != R.other_id(value)[1:]
    assert R.keyed_id(value) != R.patient_id(value)[2:].lower()[:16]


@given(st.text(max_size=40))
def test_same_key_same_output_in_a_fresh_remapper(value: str) -> None:
    again = Remapper(SecretKey.from_bytes(KEY))
    assert (again.uid(value), again.keyed_id(value)) == (R.uid(value), R.keyed_id(value))


def test_date_offsets_spread_over_the_whole_range() -> None:
    offsets = [R.date_offset_days(patient_key(f"P{i}")) for i in range(20_000)]
    assert min(offsets) >= -3650 and max(offsets) <= -365
    assert min(offsets) <= -3640 and max(offsets) >= -375  # both ends are reached
    assert len(set(offsets)) > 3000


def test_pseudonyms_fit_their_value_representations() -> None:
    pk = patient_key("X")
    assert len(R.patient_id(pk)) == 14  # LO: at most 64
    assert len(R.patient_name(pk)) <= 64  # PN component group
    assert len(R.accession_number("ACC")) == 14  # SH: at most 16
    assert len(R.other_id("ID")) == 14  # LO: at most 64


# --- patient_key ---------------------------------------------------------------------------------

def test_patient_key_prefers_the_id_qualified_by_issuer() -> None:
    assert patient_key(" MRN1 ", " HOSP ") == patient_key("MRN1", "HOSP")
    assert patient_key("MRN1", "HOSP") != patient_key("MRN1", "OTHER")
    assert patient_key("MRN1", name="A^B") == patient_key("MRN1", name="C^D")  # the name plays no part


def test_patient_key_is_pinned() -> None:
    """The identity pseudonyms hang on: changing its form would change every pseudonym."""
    assert patient_key("MRN1") == patient_key("MRN1", "", "", "") == "id\x00\x00MRN1"
    assert patient_key("", birth_date="19600101") == patient_key("", "", "", "19600101")
    assert patient_key("", name="Doe^Jane") == patient_key("", "", "Doe^Jane", "")
    assert patient_key(" ", "I", " Doe^Jane ", " 19600101 ") == "name\x00DOE^JANE\x0019600101"


def test_patient_key_without_id_uses_name_and_birth_date() -> None:
    assert patient_key("", name="doe^jane", birth_date="19600101") == patient_key(" ", name=" DOE^JANE ",
                                                                                 birth_date="19600101 ")
    assert patient_key("", name="DOE^JANE", birth_date="19600101") != patient_key("", name="DOE^JANE",
                                                                                  birth_date="19600102")
    assert patient_key("", name="DOE^JANE") != patient_key("DOE^JANE")  # an ID never collides with a name


# --- dates ---------------------------------------------------------------------------------------

@given(st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2099, 12, 31)),
       st.integers(min_value=-3650, max_value=3650))
def test_shift_date_is_calendar_arithmetic(day: dt.date, days: int) -> None:
    assert shift_date(day.strftime("%Y%m%d"), days) == (day + dt.timedelta(days=days)).strftime("%Y%m%d")
    assert shift_date(day.strftime("%Y.%m.%d"), days) == (day + dt.timedelta(days=days)).strftime("%Y%m%d")


@pytest.mark.parametrize(("value", "expected"), [
    ("20200101-20200110", "20191231-20200109"), ("-20200110", "-20200109"), ("20200101-", "20191231-"),
    ("20200101-x", None), ("1-2-3", None), ("2020-01-01", None), ("00010101", None), ("99991231", None),
    ("20200132", None), ("", None), ("2020010", None), ("202001011", None)])
def test_shift_date_forms(value: str, expected: str | None) -> None:
    shifted = shift_date(value, -1 if value != "99991231" else 1)
    assert shifted == expected


@pytest.mark.parametrize(("value", "expected"), [
    ("20200101", "20191231"), ("20200101235959.999999+1400", "20191231235959.999999+1400"),
    ("2020010112", "2019123112"), ("20200101+0100", "20191231+0100"), ("2020", None), ("2020x101", None), ("20201301", None), ("", None)])
def test_shift_datetime_forms(value: str, expected: str | None) -> None:
    assert shift_datetime(value, -1) == expected


@pytest.mark.parametrize(("value", "expected"), [
    ("19620314", "19620101"), ("1962.03.14", "19620101"), ("19620314-19700101", "19620101-19700101"),
    ("-19700505", "-19700101"), ("19620314-", "19620101-"), ("1962", None), ("19621332", None),
    ("19620314-x", None)])
def test_year_only_date_forms(value: str, expected: str | None) -> None:
    assert year_only_date(value) == expected


@pytest.mark.parametrize(("value", "expected"), [
    ("1962", "19620101"), ("196203141200", "19620101"), ("1962+0100", "19620101"), (" 1962 ", "19620101"), ("196", None), ("x962", None)])
def test_year_only_datetime_forms(value: str, expected: str | None) -> None:
    assert year_only_datetime(value) == expected
