"""Keyed derivation: deterministic, valid, key-dependent, collision-free, interval-preserving."""

from __future__ import annotations

import datetime as dt
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from dicom_deid.keys import SecretKey
from dicom_deid.remap import Remapper, patient_key, shift_date, shift_datetime, year_only_date

UID_RE = re.compile(r"^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$")
K1 = Remapper(SecretKey.from_bytes(b"\x01" * 32))
K2 = Remapper(SecretKey.from_bytes(b"\x02" * 32))
uids = st.from_regex(r"1\.2\.[1-9][0-9]{0,8}(\.[1-9][0-9]{0,8}){1,6}", fullmatch=True)


@given(uids)
def test_uid_valid_deterministic_and_key_dependent(uid):
    new = K1.uid(uid)
    assert UID_RE.match(new) and len(new) <= 64
    assert new == Remapper(SecretKey.from_bytes(b"\x01" * 32)).uid(uid)
    assert new != K2.uid(uid)
    assert new != uid


def test_no_uid_collisions_on_large_sample():
    originals = [f"1.2.826.0.1.3680043.9.7433.{i}" for i in range(50_000)]
    assert len({K1.uid(u) for u in originals}) == len(originals)


@given(st.text(min_size=1, max_size=30))
def test_pseudonyms_fit_their_vrs(pid):
    key = patient_key(pid)
    assert len(K1.patient_id(key)) <= 64
    assert K1.patient_name(key).startswith("ANON^")
    assert len(K1.accession_number(pid)) <= 16
    assert K1.patient_id(key) != K2.patient_id(key)


@settings(max_examples=200)
@given(st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2099, 12, 31)),
       st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2099, 12, 31)),
       st.text(min_size=1, max_size=12))
def test_date_shift_keeps_intervals_within_a_patient(d1, d2, pid):
    days = K1.date_offset_days(patient_key(pid))
    assert -3650 <= days <= -365
    a, b = shift_date(d1.strftime("%Y%m%d"), days), shift_date(d2.strftime("%Y%m%d"), days)
    pa, pb = dt.datetime.strptime(a, "%Y%m%d").date(), dt.datetime.strptime(b, "%Y%m%d").date()
    assert (pb - pa) == (d2 - d1)
    assert (pa - d1).days == days


def test_date_forms():
    assert shift_date("20200301", -1) == "20200229"
    assert shift_date("20200101-20200110", 10) == "20200111-20200120"
    assert shift_date("not a date", 5) is None
    assert shift_datetime("20200301120000.5+0100", -1) == "20200229120000.5+0100"
    assert year_only_date("19620314") == "19620101"


def test_secret_key_never_printed():
    key = SecretKey.from_bytes(b"\xaa" * 32)
    assert "aa" not in repr(key).lower() and "redacted" in repr(key)
    assert "aa" not in str(Remapper(key)).lower()


def test_every_replacement_is_hmac_sha256_of_domain_and_value() -> None:
    """The one-shot ``hmac.digest`` gives what an HMAC object gives: replacements never change."""
    import base64
    import hashlib
    import hmac

    key = SecretKey(bytes(range(7, 39)))
    r = Remapper(key)

    def mac(domain: str, value: str) -> bytes:
        return hmac.new(key.material, domain.encode() + b"\x00" + value.encode(), hashlib.sha256).digest()

    checked = 0
    for value in ("1.2.840.113619.2.1", "x", "", "Ünïcode^Näme"):
        assert r.uid(value) == f"2.25.{int.from_bytes(mac('uid', value)[:16], 'big')}"
        assert r.keyed_id(value) == base64.b32encode(mac("token", value)).decode()[:16].lower()
        assert r.patient_id(value) == "DD" + base64.b32encode(mac("patient-id", value)).decode()[:12]
        checked += 1
    assert checked == 4


def test_base32_prefix_is_that_of_the_whole_digest() -> None:
    """``_b32`` encodes only the 5-byte groups it needs: the same characters as the whole digest."""
    import base64
    import hashlib

    from dicom_deid.remap import _b32

    checked = 0
    for seed in range(50):
        digest = hashlib.sha256(seed.to_bytes(2, "big")).digest()
        for length in range(1, 53):
            assert _b32(digest, length) == base64.b32encode(digest).decode("ascii")[:length]
            checked += 1
    assert checked == 50 * 52
