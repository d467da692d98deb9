"""Keyed, stateless derivation of every replacement value.

All replacements are HMAC-SHA256 of the run's secret key over a domain label
and the original value, so the same input and key give the same output in any
file, run, process or machine, a different key gives unrelated output, and no
lookup table is needed.  Nothing here does I/O or logs.
"""

from __future__ import annotations

import base64
import datetime as _dt
import hmac
import re
from dataclasses import dataclass

from dicom_deid.keys import SecretKey

UID_ROOT = "2.25."  # PS3.5 B.2: UUID-derived UIDs; at most 44 characters here
MIN_SHIFT_DAYS = 365
MAX_SHIFT_DAYS = 3650


@dataclass(frozen=True, slots=True)
class Remapper:
    """Derives replacements from one secret key.  Safe to share across threads and pickle."""

    key: SecretKey

    def _digest(self, domain: str, value: str) -> bytes:
        msg = domain.encode("ascii") + b"\x00" + value.encode("utf-8", "surrogateescape")
        # hmac.digest: the same HMAC-SHA256 in one call to OpenSSL (no HMAC object per value)
        return hmac.digest(self.key.material, msg, "sha256")

    def uid(self, original: str) -> str:
        """A valid UID under 2.25 (<= 44 characters) for ``original``."""
        n = int.from_bytes(self._digest("uid", original.strip().rstrip("\x00"))[:16], "big")
        return f"{UID_ROOT}{n}"

    def patient_id(self, patient_key: str) -> str:
        return "DD" + _b32(self._digest("patient-id", patient_key), 12)

    def patient_name(self, patient_key: str) -> str:
        return f"ANON^{self.patient_id(patient_key)}"

    def accession_number(self, original: str) -> str:
        return "A" + _b32(self._digest("accession", original.strip()), 13)

    def other_id(self, original: str) -> str:
        return "X" + _b32(self._digest("other-id", original.strip()), 13)

    def date_offset_days(self, patient_key: str) -> int:
        """Per-patient shift in whole days, in [-MAX_SHIFT_DAYS, -MIN_SHIFT_DAYS]."""
        n = int.from_bytes(self._digest("date-offset", patient_key)[:8], "big")
        return -(MIN_SHIFT_DAYS + n % (MAX_SHIFT_DAYS - MIN_SHIFT_DAYS + 1))

    def keyed_id(self, value: str) -> str:
        """A short non-reversible token for manifests and logs (never the value itself)."""
        return _b32(self._digest("token", value), 16).lower()


class UidMemo:
    """One run's memo of :meth:`Remapper.uid` (issue 16): the files of a series share their study,
    series and frame of reference UIDs and reference each other's, so most UIDs are derived many
    times.  The same answers as ``remapper.uid`` (a pure function of the key and the UID); owned
    by the engine of one process (``Engine.uid_memo``), never module state, and bounded: at
    ``limit`` entries it starts again empty."""

    __slots__ = ("_known", "_limit", "_patients", "_remapper")

    def __init__(self, remapper: Remapper, limit: int = 1 << 16) -> None:
        self._remapper = remapper
        self._known: dict[str, str] = {}
        self._limit = limit
        self._patients: dict[str, tuple[str, int]] = {}  # patient key -> (patient_id, date offset)

    def uid(self, original: str) -> str:
        """``remapper.uid(original)``, derived once per distinct ``original`` while remembered."""
        known = self._known.get(original)
        if known is None:
            if len(self._known) >= self._limit:
                self._known.clear()
            known = self._known[original] = self._remapper.uid(original)
        return known

    def _patient(self, patient_key: str) -> tuple[str, int]:
        known = self._patients.get(patient_key)
        if known is None:
            if len(self._patients) >= self._limit:
                self._patients.clear()
            remapper = self._remapper
            known = self._patients[patient_key] = (remapper.patient_id(patient_key),
                                                    remapper.date_offset_days(patient_key))
        return known

    def patient_id(self, patient_key: str) -> str:
        """``remapper.patient_id(patient_key)``, derived once per patient while remembered (the
        files of a series are one patient's)."""
        return self._patient(patient_key)[0]

    def patient_name(self, patient_key: str) -> str:
        """``remapper.patient_name(patient_key)`` (``ANON^`` and the patient ID)."""
        return f"ANON^{self._patient(patient_key)[0]}"

    def date_offset_days(self, patient_key: str) -> int:
        """``remapper.date_offset_days(patient_key)``, derived once per patient while remembered."""
        return self._patient(patient_key)[1]

    def __len__(self) -> int:
        return len(self._known)


def _b32(digest: bytes, length: int) -> str:
    """The first ``length`` characters of ``b32encode(digest)``: base32 maps each 5 bytes to 8
    characters on their own, so only the 5-byte groups those characters come from are encoded."""
    groups = -(-length // 8)  # 8 characters per 5-byte group
    return base64.b32encode(digest[:5 * groups]).decode("ascii")[:length]


def patient_key(patient_id: str, issuer: str = "", name: str = "", birth_date: str = "") -> str:
    """The identity a patient's pseudonym and date offset hang on.

    PatientID qualified by its issuer; when PatientID is empty, name and birth date.
    """
    pid = patient_id.strip()
    if pid:
        return f"id\x00{issuer.strip()}\x00{pid}"
    return f"name\x00{name.strip().upper()}\x00{birth_date.strip()}"


_DA = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_DA_OLD = re.compile(r"^(\d{4})\.(\d{2})\.(\d{2})$")


def _parse_da(text: str) -> _dt.date | None:
    m = _DA.match(text) or _DA_OLD.match(text)
    if not m:
        return None
    try:
        return _dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None


def shift_date(value: str, days: int) -> str | None:
    """Shift a DA value (or a DA range ``A-B``) by ``days``; None if not a parseable date."""
    value = value.strip()
    if "-" in value:
        parts = value.split("-")
        if len(parts) != 2:
            return None
        shifted = [shift_date(p, days) if p else "" for p in parts]
        if any(s is None for s in shifted):
            return None
        return "-".join(s for s in shifted if s is not None)
    d = _parse_da(value)
    if d is None:
        return None
    try:
        return (d + _dt.timedelta(days=days)).strftime("%Y%m%d")
    except OverflowError:
        return None


def shift_datetime(value: str, days: int) -> str | None:
    """Shift the date part of a DT value (YYYY[MM[DD[hhmmss...]]][&ZZXX]); None if unparseable."""
    value = value.strip()
    if len(value) < 8 or not value[:8].isdigit():
        return None
    head = shift_date(value[:8], days)
    return None if head is None else head + value[8:]


def year_only_date(value: str) -> str | None:
    value = value.strip()
    if "-" in value:
        parts = [year_only_date(p) if p else "" for p in value.split("-")]
        return None if any(p is None for p in parts) else "-".join(p for p in parts if p is not None)
    d = _parse_da(value)
    return None if d is None else f"{d.year:04d}0101"


def year_only_datetime(value: str) -> str | None:
    value = value.strip()
    if len(value) < 4 or not value[:4].isdigit():
        return None
    return f"{value[:4]}0101"


__all__ = [
    "Remapper",
    "UidMemo",
    "patient_key",
    "shift_date",
    "shift_datetime",
    "year_only_date",
    "year_only_datetime",
]
