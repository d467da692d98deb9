"""What dicom-deid itself writes, recomputed here: never evidence of a leak.

- Subject IDs and names of the run's subject map (``verify --subject-map``): the team's own
  replacement values for PatientID and PatientName, accepted exactly.
- Pseudonyms: with the run's key (``verify --key-file``) the exact PatientID, PatientName and
  AccessionNumber pseudonyms of every input patient are recomputed with ``remap`` (the keyed
  derivation, not a decision); without it, their published forms (``DD`` + 12 base-32
  characters, ``ANON^DD…``, ``A`` + 13) stand for them.
- UIDs under the tool's root ``2.25.`` (the originals are checked separately, by value).
- Dates reduced to the year (``YYYY0101``) by a profile whose date method is ``year``.
- The DeidentificationMethod text and the ImplementationVersionName the tool writes, the dummy
  values of D actions (``ANONYMOUS``, ``ANONYMIZED``), the profile's override replacement values,
  the tool's name and the manifest's file name.

``OwnValues.strip`` blanks these out of a text before it is searched for the input's values, so
an input value ``ANON`` is not found inside the pseudonym ``ANON^DDQ…`` and a phantom called
``dicom`` is not found in ``dicom-deid 0.1.0; PS3.15 …``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from dicom_deid.keys import SecretKey
from dicom_deid.manifest import MANIFEST_NAME
from dicom_deid.profiles import DateMethod, OverrideAction, Profile

_B32 = "[A-Z2-7]"
PSEUDONYM_FORMS = {
    "patient_id": re.compile(rf"DD{_B32}{{12}}"),
    "patient_name": re.compile(rf"ANON\^DD{_B32}{{12}}"),
    "accession_number": re.compile(rf"A{_B32}{{13}}"),
    "other_id": re.compile(rf"X{_B32}{{13}}"),
}
_OWN_FORMS = [
    r"2\.25\.[0-9]+",  # UIDs under the tool's root
    r"dicom-deid [^;\\]{1,16}; PS3\.15 [^;\\]{1,16}Annex E; profile [\w.\-]+",  # DeidentificationMethod
    r"DICOMDEID_[0-9A-Za-z.]*",  # ImplementationVersionName
    r"ANONYMOUS|ANONYMIZED",  # dummy values of D actions
    re.escape(MANIFEST_NAME),
    r"dicom-deid(?: [0-9][0-9A-Za-z.+-]*)?",  # the tool's name (and version) in its manifest and texts
]
_EDGE_BEFORE, _EDGE_AFTER = r"(?<![^\W_])", r"(?![^\W_])"


@dataclass(frozen=True)
class OwnValues:
    """The tool's own values for one verify run."""

    keyed: bool
    pseudonyms: frozenset[str]  # exact pseudonyms (keyed) or empty
    pattern: re.Pattern[str]
    year_only: bool = False  # the profile writes dates as YYYY0101
    subjects: frozenset[str] = frozenset()  # the subject map's subject IDs and names

    def strip(self, text: str) -> str:
        """``text`` with every value the tool writes replaced by a space."""
        return self.pattern.sub(" ", text) if text else text

    def is_pseudonym(self, kind: str, value: str) -> bool:
        """True for a value the tool writes as pseudonym ``kind`` (exactly, when keyed)."""
        if kind in ("patient_id", "patient_name") and value in self.subjects:
            return True
        if self.keyed:
            return value in self.pseudonyms
        form = PSEUDONYM_FORMS.get(kind)
        return form is not None and form.fullmatch(value) is not None


def own_values(profile: Profile, key: SecretKey | None = None,
               identities: Iterable[tuple[str, str, str, str]] = (), accessions: Iterable[str] = (),
               subjects: frozenset[str] = frozenset()) -> OwnValues:
    """Recompute the tool's own values for ``profile`` (and, with ``key``, the exact pseudonyms of
    the given input identities and accession numbers); ``subjects`` are the subject map's values."""
    alternatives = list(_OWN_FORMS) + [re.escape(v) for v in sorted(subjects, key=len, reverse=True)]
    pseudonyms: set[str] = set()
    if key is not None:
        from dicom_deid.remap import Remapper, patient_key

        remapper = Remapper(key)
        for patient_id, issuer, name, birth_date in identities:
            pkey = patient_key(patient_id, issuer, name, birth_date)
            pseudonyms |= {remapper.patient_id(pkey), remapper.patient_name(pkey)}
        pseudonyms |= {remapper.accession_number(a) for a in accessions}
        alternatives += [re.escape(p) for p in sorted(pseudonyms, key=len, reverse=True)]
    else:
        alternatives += [form.pattern for form in PSEUDONYM_FORMS.values()]
    for override in profile.overrides.values():
        if override.action is OverrideAction.REPLACE and override.value and override.value.strip():
            alternatives.append(re.escape(override.value.strip()))
    pattern = re.compile(_EDGE_BEFORE + "(?:" + "|".join(alternatives) + ")" + _EDGE_AFTER)
    return OwnValues(key is not None, frozenset(pseudonyms), pattern, profile.date_method is DateMethod.YEAR,
                     frozenset(subjects))


__all__ = ["PSEUDONYM_FORMS", "OwnValues", "own_values"]
