"""Fake patients: distinctive names, IDs, addresses and UID roots drawn from ``random.Random(seed)``."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

UID_ROOT = "1.2.826.0.1.3680043.9.7433."  # made-up organisation root; original UIDs start here

# Distinctive fake values: none of them occurs in pydicom's bundled files or DICOM vocabulary
# (tests/test_sample_data.py checks the bundled bytes).
# fmt: off
_SURNAME_HEADS = ("QUIX", "ZANV", "VORTH", "KLEB", "JUXT", "WOBB", "GRUMB", "PLOV", "SNAZ", "BRIX",
                  "TRUFF", "YOLL", "MIZZ", "DRAX", "HOBB", "FENN", "SKRIM", "ZUBB", "QUORM", "NIBB")
_SURNAME_TAILS = ("BERRY", "ELLOW", "WHISTLE", "STRAND", "IKOV", "OPOULOS", "MERE", "THWAITE",
                  "GARD", "LOCKE", "WORTH", "SBURY")
_GIVEN = ("HORTENSE", "EULALIA", "PERPETUA", "OSWIN", "THADDEUS", "WILHELMINA", "BARNABY",
          "CLEMENTINE", "EZEKIEL", "GWENDOLYN", "PERCIVAL", "MARIGOLD", "AMBROSE", "LAVINIA",
          "CORNELIUS", "ROSAMUND", "FLORIAN", "PETRONELLA", "LEOPOLD", "OTTILIE")
_TOWNS = ("Quarrytown", "Vellmoor", "Brackwater", "Zennorby", "Hollowfen", "Gristlebury",
          "Ashkettle", "Dunmarrow", "Pellingford", "Oxbrindle")
_STREETS = ("Wobblestone Lane", "Fennimore Road", "Cobbler's Rise", "Tanglewick Close",
            "Marrowgate Street", "Puddleby Row")
# fmt: on


@dataclass(frozen=True, slots=True)
class _Patient:
    label: str
    surname: str
    given: str
    mrn: str
    other_id: str
    birth: date
    address: str
    phone: str
    email: str
    mother: str
    referring: str
    performing: str
    operator: str
    institution: str
    institution_address: str
    station: str
    serial: str
    uid_base: str

    @property
    def name(self) -> str:
        return f"{self.surname}^{self.given}"

    @property
    def folder(self) -> str:
        return f"{self.surname}_{self.given}"


def _make_patients(rng: random.Random, count: int, seed: int) -> list[_Patient]:
    surnames = [h + t for h in _SURNAME_HEADS for t in _SURNAME_TAILS]
    if count < 1 or 5 * count > len(surnames):
        raise ValueError(f"patients must be between 1 and {len(surnames) // 5}, got {count}")
    if not 0 <= seed < 10**9:
        raise ValueError(f"seed must be between 0 and 999999999, got {seed}")
    picked = rng.sample(surnames, 5 * count)
    out = []
    for i in range(count):
        surname, mother, ref, perf, op = picked[5 * i : 5 * i + 5]
        given = rng.choice(_GIVEN)
        town, itown = rng.sample(_TOWNS, 2)
        digits = rng.randrange(10**6, 10**7)
        out.append(
            _Patient(
                label=f"P{i + 1}",
                surname=surname,
                given=given,
                mrn=f"MRN{digits}",
                other_id=f"OPX{rng.randrange(10**5, 10**6)}",
                birth=date(1938, 1, 1) + timedelta(days=rng.randrange(0, 57 * 365)),
                address=f"{rng.randrange(10, 9999)} {rng.choice(_STREETS)}, {town}, "
                f"ZX {rng.randrange(10**4, 10**5)}",
                phone=f"(555) {rng.randrange(100, 1000)}-{rng.randrange(1000, 10000)}",
                email=f"{given.lower()}.{surname.lower()}@{town.lower()}-mail.example",
                mother=f"{mother}^{rng.choice(_GIVEN)}",
                referring=f"{ref}^{rng.choice(_GIVEN)}^^^DR",
                performing=f"{perf}^{rng.choice(_GIVEN)}",
                operator=f"{op}^{rng.choice(_GIVEN)}",
                institution=f"{itown} Memorial Hospital",
                institution_address=f"{rng.randrange(1, 200)} {rng.choice(_STREETS)}, {itown}",
                station=f"{itown[:4].upper()}{rng.randrange(10, 99)}CT",
                serial=f"SN-QX-{rng.randrange(10**5, 10**6)}",
                uid_base=f"{UID_ROOT}1.{seed}.{i + 1}",
            )
        )
    return out
