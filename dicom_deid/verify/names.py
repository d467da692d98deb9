"""Person names of the input, found in output text however they are spelled.

Each name (a PN value of the input, any component group) is split into parts at ``^ = , . -``
and white space; parts are compared case- and accent-insensitively, letters only.  In a text,
a name is found as

- a part of 4 or more letters on its own (``QUIXWORTH``, ``quixworth``, ``Quíxworth``);
- two parts of one name next to each other, in any order, or an initial next to a part
  (``Percival Quixworth``, ``Li, Wei``, ``W. Li``): this is how parts under 4 letters are found;
- a spelling variant of a part of 5 or more letters, within Levenshtein distance 1 (5 to 8
  letters) or 2 (9 or more), computed by rapidfuzz, unless the word read is itself an ordinary
  word (``vocabulary``): ``PERCIVIL`` for ``PERCIVAL``, ``Mueller`` for ``Müller``;
- a part split across lines or spaced out: consecutive words separated only by white space or a
  hyphen that together spell a part, exactly or as a variant (``QUIX-\\nWORTH``, ``P E R C I V A L``).

A hit is *distinctive* unless every part it rests on is an ordinary word (a common English word
or a DICOM term: a phantom called ``HEAD^PHANTOM``); the checker turns that into a severity.
This module is verify's own: ``clean`` finds names with its own code, so a mistake in one is not
repeated in the other.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from dicom_deid.vocabulary import english_count, fold, is_vocabulary

ALONE_MIN = 4  # letters a part needs to count on its own
VARIANT_MIN = 5  # letters a part needs before spelling variants of it are searched
GUARD_COUNT = 500
"""A word read this often or more in the English list is an ordinary word, never taken for a
spelling variant of a name (``heart`` is not ``Hearst``)."""

_LETTERS = re.compile(r"[^\W\d_]+")
_NEXT_TO = re.compile(r"[\s,.;:^\-]{1,4}")  # what may stand between two parts of one name (not "'s")
_SPLIT_GAP = re.compile(r"[ \t\r\n\-]{1,4}")  # what may stand inside a part split up
_STOP = frozenset({"anon", "anonymous", "anonymized", "unknown", "patient", "none", "test", "doctor", "mrs",
                   "phd", "iii", "jr", "sr", "dr", "md", "mr", "ms", "miss", "prof", "von", "van", "der", "de",
                   "la", "le", "del", "di", "da", "du"})


def max_distance(part: str) -> int:
    """Edits allowed for a spelling variant of ``part`` (0: variants not searched)."""
    if len(part) < VARIANT_MIN:
        return 0
    return 1 if len(part) < 9 else 2


def is_guarded(word: str) -> bool:
    """An ordinary word, never read as a variant of a name."""
    return is_vocabulary(word) or english_count(word) >= GUARD_COUNT


class Spelling(enum.Enum):
    PART = "name part"
    PARTS = "parts of the name together"
    INITIAL = "initial with a name part"
    VARIANT = "spelling variant"
    SPLIT = "split across lines or spaced out"


@dataclass(frozen=True, slots=True)
class PersonName:
    parts: tuple[str, ...]  # folded, letters only, in the order written
    original: str
    source: str  # keyword (or tag) it came from
    patient: int


@dataclass(frozen=True, slots=True)
class NameHit:
    name: PersonName
    spelling: Spelling
    parts: tuple[str, ...]  # the parts of the name this hit rests on
    distinctive: bool
    edits: int = 0
    word: str = ""  # what was read (folded; joined when split), for review


_PIECES = re.compile(r"[^\W_]+")


def name_parts(value: str) -> tuple[str, ...]:
    """Folded parts of one PN value (all component groups): runs of letters only (``MR1`` is no
    part, nor are placeholders such as ``XXXX``), stop words left out."""
    parts: list[str] = []
    for word in _PIECES.findall(fold(value)):
        if word.isalpha() and len(word) >= 2 and len(set(word)) >= 2 and word not in _STOP and word not in parts:
            parts.append(word)
    return tuple(parts)


class NameIndex:
    """Names of the input, indexed by part; ``search`` finds them in a text."""

    def __init__(self) -> None:
        self.names: list[PersonName] = []
        self._seen: set[tuple[tuple[str, ...], int]] = set()
        self._by_part: dict[str, list[PersonName]] = {}
        self._long: dict[int, list[str]] = {}  # length -> parts searched for variants
        self._variants: dict[str, list[tuple[str, int]]] = {}  # word -> (part, edits), per run
        self.longest = 0

    def __len__(self) -> int:
        return len(self.names)

    def add(self, value: str, source: str, patient: int) -> None:
        for single in value.split("\\"):
            parts = name_parts(single)
            if not parts or (parts, patient) in self._seen:
                continue
            self._seen.add((parts, patient))
            name = PersonName(parts, single.strip(), source, patient)
            self.names.append(name)
            for part in parts:
                known = self._by_part.setdefault(part, [])
                if not known and max_distance(part):
                    self._long.setdefault(len(part), []).append(part)
                known.append(name)
                self.longest = max(self.longest, len(part))
            self._variants.clear()

    def search(self, text: str, patients: frozenset[int] | None) -> list[NameHit]:
        """Names found in ``text``; variants and split parts only of ``patients``' names (all when None)."""
        if not self.names:
            return []
        words = [(fold(m.group()), m.start(), m.end()) for m in _LETTERS.finditer(text)]
        hits: dict[tuple[int, Spelling, tuple[str, ...]], NameHit] = {}

        def hit(name: PersonName, spelling: Spelling, parts: tuple[str, ...], edits: int = 0, word: str = "") -> None:
            if spelling in (Spelling.VARIANT, Spelling.SPLIT) and patients is not None and name.patient not in patients:
                return
            distinctive = not all(is_vocabulary(p) for p in parts)
            hits.setdefault((id(name), spelling, parts), NameHit(name, spelling, parts, distinctive, edits, word))

        for i, (word, _start, end) in enumerate(words):
            exact = self._by_part.get(word, ())
            if len(word) >= ALONE_MIN:
                for name in exact:
                    hit(name, Spelling.PART, (word,), 0, word)
            if i + 1 < len(words) and _NEXT_TO.fullmatch(text[end:words[i + 1][1]]):
                self._together(word, words[i + 1][0], hit)
            if not exact and len(word) >= ALONE_MIN and not is_guarded(word):
                for part, edits in self._variants_of(word):
                    for name in self._by_part[part]:
                        hit(name, Spelling.VARIANT, (part,), edits, word)
            self._split(words, i, text, hit)
        return list(hits.values())

    def _together(self, a: str, b: str, hit: _Hit) -> None:
        """Two neighbouring words: two parts of one name, or an initial and a part."""
        for first, second in ((a, b), (b, a)):
            if len(first) == 1:
                continue
            for name in self._by_part.get(first, ()):
                if len(second) == 1:
                    if any(p != first and p[0] == second for p in name.parts):
                        hit(name, Spelling.INITIAL, (first,), 0, f"{a} {b}")
                elif second != first and second in name.parts:
                    hit(name, Spelling.PARTS, tuple(sorted((first, second))), 0, f"{a} {b}")

    def _variants_of(self, word: str) -> list[tuple[str, int]]:
        found = self._variants.get(word)
        if found is None:
            found = []
            for length in range(len(word) - 2, len(word) + 3):
                candidates = self._long.get(length)
                if not candidates:
                    continue
                for part, edits, _i in process.extract(word, candidates, scorer=Levenshtein.distance,
                                                       score_cutoff=2, limit=None):
                    if 0 < edits <= max_distance(part):
                        found.append((part, int(edits)))
            self._variants[word] = found
        return found

    def _split(self, words: list[tuple[str, int, int]], i: int, text: str, hit: _Hit) -> None:
        """Words i, i+1, ... joined only by white space or hyphens that spell a part."""
        joined, pieces = words[i][0], [words[i][0]]
        if joined in self._by_part:
            return
        for j in range(i + 1, len(words)):
            if not _SPLIT_GAP.fullmatch(text[words[j - 1][2]:words[j][1]]):
                return
            joined += words[j][0]
            pieces.append(words[j][0])
            if len(joined) > self.longest + 2:
                return
            if words[j][0] in self._by_part or all(len(p) >= 3 and is_vocabulary(p) for p in pieces):
                return  # a whole part counts on its own; ordinary words side by side are no split name
            if len(joined) >= ALONE_MIN and joined in self._by_part:
                for name in self._by_part[joined]:
                    hit(name, Spelling.SPLIT, (joined,), 0, " ".join(pieces))
            elif min(map(len, pieces)) >= 2 and not is_guarded(joined):
                for part, edits in self._variants_of(joined):
                    for name in self._by_part[part]:
                        hit(name, Spelling.SPLIT, (part,), edits, " ".join(pieces))


class _Hit(Protocol):
    """Call signature of the local ``hit`` recorder."""

    def __call__(self, name: PersonName, spelling: Spelling, parts: tuple[str, ...], edits: int = 0,
                 word: str = "") -> None: ...


def names_of(values: Iterable[tuple[str, str, int]]) -> NameIndex:
    """An index of ``(value, source, patient)`` names."""
    index = NameIndex()
    for value, source, patient in values:
        index.add(value, source, patient)
    return index


__all__ = ["ALONE_MIN", "GUARD_COUNT", "VARIANT_MIN", "NameHit", "NameIndex", "PersonName", "Spelling",
           "is_guarded", "max_distance", "name_parts", "names_of"]
