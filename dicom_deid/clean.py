"""The "C" (clean) action for text: remove identifying content, keep the rest.

Pure functions.  ``PatientIdentifiers`` holds this instance's own values (person names, IDs,
dates); ``clean_text`` removes those wherever they appear plus generic patterns: dates in
common formats (numeric, ``3 Feb 1961``, ``Feb 3, 1961``, ``03FEB1961``, ``03-Feb-1961``),
phone numbers, e-mail addresses, and long ID-like digit runs.

Person names are removed however they are spelled: every part (2 letters or more) as a whole
word in any case and order; an initial next to a part (``P. Quixworth``); accents ignored
(``Muller`` for ``Müller``); spelling variants of parts of 5 or more letters (Levenshtein
distance 1, or 2 from 9 letters, by rapidfuzz: ``PERCIVAL`` for ``PERCIVIL``) unless the word is
an ordinary word (``dicom_deid.vocabulary``: ``heart`` is never taken for ``Hearst``); and parts
split across lines or spaced out (``QUIX-\nWORTH``, ``P E R C I V A L``).
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pydicom.datadict import dictionary_VR

from dicom_deid.vocabulary import english_count, fold, is_vocabulary

REDACTED = "***"
VARIANT_FROM = 5  # letters a name part needs before its spelling variants are removed
LONG_VARIANT_FROM = 9  # ... and before two edits are allowed
ORDINARY_COUNT = 500  # a word this frequent in the English list is never a spelling variant
_MONTHS = (
    "jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|jun(?:e)?|jul(?:y)?|aug(?:ust)?|"
    "sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?"
)
_GENERIC = [
    r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+",  # e-mail
    r"\b(?:19|20)\d{2}[-/.]?(?:0[1-9]|1[0-2])[-/.]?(?:0[1-9]|[12]\d|3[01])\b",  # ISO / DA
    r"\b(?:0?[1-9]|[12]\d|3[01])[-/.](?:0?[1-9]|1[0-2])[-/.](?:\d{4}|\d{2})\b",  # d/m/y, m/d/y
    r"\b(?:0?[1-9]|1[0-2])[-/.](?:0?[1-9]|[12]\d|3[01])[-/.](?:\d{4}|\d{2})\b",
    rf"\b(?:\d{{1,2}}(?:st|nd|rd|th)?\s+(?:{_MONTHS})\.?,?\s+\d{{2,4}}|(?:{_MONTHS})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{2,4}})\b",
    # 03FEB1961, 03-Feb-1961, 3/Feb/61, 03.feb.1961: the same separator on both sides (or none)
    rf"\b\d{{1,2}}(?P<_sep>[-/.]?)(?:{_MONTHS})(?P=_sep)(?:\d{{4}}|\d{{2}})\b",
    r"(?:\+\d{1,3}[\s.-]?)?\(?\d{2,4}\)?[\s.-]\d{3,4}[\s.-]\d{3,4}\b",  # phone
    r"\b[A-Za-z]{0,4}\d{5,}[A-Za-z0-9]*\b",  # long digit runs / MRN-like IDs
]
_LETTER = r"[^\W\d_]"  # any letter, accented or not: names match as whole words
# Han, kana and Hangul: text in these scripts has no spaces between words, so a name written in
# them matches inside a run of letters, and a name's parts also match written together (山田太郎)
_CJK = re.compile(r"^[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]+$")
_MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July", "August",
                "September", "October", "November", "December")
_GENERIC_RE = re.compile("|".join(f"(?:{p})" for p in _GENERIC), re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class PatientIdentifiers:
    """This patient's identifying values, as found in the original header."""

    words: tuple[str, ...] = ()  # name parts, address words (matched as whole words)
    ids: tuple[str, ...] = ()  # IDs, matched anywhere
    dates: tuple[_dt.date, ...] = ()  # matched in common spellings
    names: tuple[tuple[str, ...], ...] = ()  # each person name as folded parts (for other spellings)

    @classmethod
    def build(
        cls, names: Iterable[str], ids: Iterable[str], dates: Iterable[str], extra_words: Iterable[str] = ()
    ) -> PatientIdentifiers:
        words: set[str] = set()
        names = list(names)
        for name in names:
            for group in name.split("="):  # alphabetic, ideographic, phonetic
                cjk = [p.strip() for p in group.split("^") if _CJK.match(p.strip())]
                if len(cjk) >= 2:  # family and given name together, either order, with or without a space
                    words.update(sep.join(pair) for pair in (cjk[:2], cjk[1::-1]) for sep in ("", " "))
            for part in re.split(r"[\^=,\s]+", name):
                # a hyphenated part counts whole and by each of its pieces (Müller-Lüdenscheidt)
                for piece in (part, *part.split("-")):
                    piece = piece.strip(" .-")
                    if len(piece) >= 2 and not piece.isdigit():
                        words.add(piece)
        for w in extra_words:
            if len(w) >= 3:
                words.add(w)
        parsed = []
        for d in dates:
            m = re.match(r"^(\d{4})(\d{2})(\d{2})", d.strip())
            if m:
                try:
                    parsed.append(_dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3))))
                except ValueError:
                    pass
        return cls(
            words=tuple(sorted(words, key=lambda s: (-len(s), s))),
            ids=tuple(sorted({i.strip() for i in ids if len(i.strip()) >= 3}, key=lambda s: (-len(s), s))),
            dates=tuple(sorted(set(parsed))),
            names=tuple(sorted({p for p in (_name_parts(n) for n in names) if p})),
        )

    def pattern(self) -> PatientPattern | None:
        alts = [re.escape(i) for i in self.ids]
        alts += [re.escape(w) if _CJK.match(w.replace(" ", "")) else rf"(?<!{_LETTER}){re.escape(w)}(?!{_LETTER})"
                 for w in self.words]
        for d in self.dates:
            alts += [re.escape(s) for s in _date_spellings(d)]
        if not alts and not self.names:
            return None
        exact = re.compile("|".join(alts), re.IGNORECASE) if alts else None
        return PatientPattern(exact, _NameSpellings.of(self.names, self.words) if self.names else None)


@dataclass(frozen=True)
class PatientPattern:
    """This instance's values as a substitution: names in other spellings first (their initials
    need the name still in place), then the exact values."""

    exact: re.Pattern[str] | None
    names: _NameSpellings | None

    def sub(self, repl: str, text: str) -> str:
        if self.names is not None:
            text = self.names.sub(repl, text)
        return self.exact.sub(repl, text) if self.exact is not None else text


def _name_parts(name: str) -> tuple[str, ...]:
    """Folded words of one PN value made of letters only (2 or more, not one letter repeated:
    ``MR1`` and ``XXXX`` are no name parts), in order, without repeats."""
    out: list[str] = []
    for word in re.findall(r"[^\W_]+", fold(name)):
        if word.isalpha() and len(word) >= 2 and len(set(word)) >= 2 and word not in out:
            out.append(word)
    return tuple(out)


def _edits_allowed(part: str) -> int:
    return 0 if len(part) < VARIANT_FROM else 1 if len(part) < LONG_VARIANT_FROM else 2


def _ordinary(word: str) -> bool:
    return is_vocabulary(word) or english_count(word) >= ORDINARY_COUNT


_SPLIT_GAP = re.compile(r"[ \t\r\n\-]{1,4}")  # inside a part split across lines or spaced out
_INITIAL_GAP = re.compile(r"\.?[\s,]{1,3}")  # between an initial and a name part


@dataclass(frozen=True)
class _NameSpellings:
    """Person names as folded parts, for the spellings a regular expression cannot list."""

    parts: frozenset[str]
    initials: Mapping[str, frozenset[str]]  # part -> first letters of the other parts of its names
    variant_targets: tuple[str, ...]  # parts long enough for spelling variants
    exact_words: frozenset[str]  # casefolded words the exact pattern already removes
    longest: int

    @classmethod
    def of(cls, names: Iterable[tuple[str, ...]], exact_words: Iterable[str]) -> _NameSpellings:
        names = list(names)
        initials: dict[str, set[str]] = {}
        for parts in names:
            for part in parts:
                initials.setdefault(part, set()).update(p[0] for p in parts if p != part)
        every = frozenset(p for parts in names for p in parts)
        return cls(every, {k: frozenset(v) for k, v in initials.items()},
                   tuple(sorted(p for p in every if _edits_allowed(p))),
                   frozenset(w.casefold() for w in exact_words), max((len(p) for p in every), default=0))

    def _variant(self, word: str) -> bool:
        """A spelling variant of a long enough part, and not an ordinary word."""
        if not self.variant_targets or _ordinary(word):
            return False
        from rapidfuzz import process  # loaded on first use: a run without free text never needs it
        from rapidfuzz.distance import Levenshtein

        found = process.extract(word, self.variant_targets, scorer=Levenshtein.distance, score_cutoff=2, limit=None)
        return any(0 < edits <= _edits_allowed(part) for part, edits, _i in found)

    def spans(self, text: str) -> list[tuple[int, int]]:
        words = [(m.group(), fold(m.group()), m.start(), m.end()) for m in re.finditer(rf"{_LETTER}+", text)]
        spans: list[tuple[int, int]] = []
        for i, (raw, word, start, end) in enumerate(words):
            if word in self.parts and len(word) >= 4 and raw.casefold() not in self.exact_words:
                spans.append((start, end))  # accents differ (Muller for Müller), or an underscore joined it
            elif word not in self.parts and len(word) >= 4 and self._variant(word):
                spans.append((start, end))
            if len(word) == 1:
                spans += self._initial(words, i, text)
            joined, pieces = word, [word]
            for j in range(i + 1, len(words) if word not in self.parts else i + 1):
                if not _SPLIT_GAP.fullmatch(text[words[j - 1][3]:words[j][2]]):
                    break
                joined += words[j][1]
                pieces.append(words[j][1])
                if len(joined) > self.longest + 2:
                    break
                if words[j][1] in self.parts or all(len(p) >= 3 and is_vocabulary(p) for p in pieces):
                    break  # a whole part is removed on its own; ordinary words side by side are no name
                if len(joined) >= 4 and (joined in self.parts
                                         or (min(map(len, pieces)) >= 2 and self._variant(joined))):
                    spans.append((start, words[j][3]))
        return spans

    def _initial(self, words: list[tuple[str, str, int, int]], i: int, text: str) -> list[tuple[int, int]]:
        """A single letter next to a part whose name has another part starting with it."""
        letter, start, end = words[i][1], words[i][2], words[i][3]
        for j in (i - 1, i + 1):
            if not 0 <= j < len(words):
                continue
            gap = text[end:words[j][2]] if j > i else text[words[j][3]:start]
            if _INITIAL_GAP.fullmatch(gap) and letter in self.initials.get(words[j][1], ()):
                stop = end + 1 if text[end:end + 1] == "." else end
                return [(start, stop)]
        return []

    def sub(self, repl: str, text: str) -> str:
        spans = sorted(self.spans(text))
        if not spans:
            return text
        merged: list[list[int]] = []
        for a, b in spans:
            if merged and a <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], b)
            else:
                merged.append([a, b])
        for a, b in reversed(merged):
            text = text[:a] + repl + text[b:]
        return text


def _date_spellings(d: _dt.date) -> set[str]:
    y, m, dd = d.year, d.month, d.day
    out = {f"{y:04d}{m:02d}{dd:02d}", f"{y:04d}-{m:02d}-{dd:02d}", f"{y:04d}/{m:02d}/{dd:02d}",
           f"{y:04d}.{m:02d}.{dd:02d}"}
    for a, b in ((dd, m), (m, dd)):
        for sep in "/.-":
            out |= {f"{a:02d}{sep}{b:02d}{sep}{y:04d}", f"{a}{sep}{b}{sep}{y:04d}", f"{a:02d}{sep}{b:02d}{sep}{y % 100:02d}"}
    full = _MONTH_NAMES[m - 1]  # English names, not the locale's: the pattern is case-insensitive
    months = {full, full[:3]} | ({"Sept"} if m == 9 else set())
    for name in months:
        for day in {f"{dd}", f"{dd:02d}"}:
            out |= {f"{day} {name} {y}", f"{name} {day}, {y}", f"{name} {day} {y}"}
            for year in (f"{y:04d}", f"{y % 100:02d}"):
                out |= {f"{day}{sep}{name}{sep}{year}" for sep in ("", "-", "/", ".", " ")}
    return out


def _strings(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list | tuple) or type(value).__name__ == "MultiValue":
        return [str(v) for v in value if str(v)]
    text = str(value)
    return [text] if text else []


def _person_names(ds: Any) -> list[str]:
    """Every PN value in ``ds``, inside sequences too (names of staff in scheduled steps,
    SR PNAME items, observers).  Reads only PN and SQ elements; pixel data is never touched."""
    out: list[str] = []
    for tag in ds.keys():  # noqa: SIM118 - keys() avoids converting every element
        vr = ds.get_item(tag).VR
        if vr is None or vr == "UN":
            try:
                vr = dictionary_VR(tag)
            except KeyError:  # private or unknown element read without a VR
                continue
        if vr == "SQ":
            elem = ds[tag]
            if elem.VR == "SQ":  # an SQ left as undecoded UN bytes holds nothing readable here
                for item in elem.value or ():
                    out += _person_names(item)
        elif vr == "PN":
            value = ds[tag].value
            if isinstance(value, bytes):  # kept as UN: decode the way pydicom defaults to
                value = value.decode("latin-1").rstrip("\x00 ").split("\\")
            out += _strings(value)
    return out


_GLUE_WORDS = frozenset({"OF", "THE", "AND", "FOR", "AT", "DE", "LA", "DU", "DES", "DER", "DIE", "UND", "&"})


def _initials(phrase: str) -> list[str]:
    """The acronyms a multi-word name goes by ("SGH Springfield General Hospital" -> "SGH", ...):
    the initials of every run of three or more words that start with a letter.  The name's own
    short words are not matched (too common); its acronym is."""
    parts = [w for w in re.split(r"[\s,^\-/]+", phrase) if w and w.upper() not in _GLUE_WORDS]
    out = []
    for start in range(len(parts)):
        for end in range(start + 3, len(parts) + 1):
            run = parts[start:end]
            if all(w[0].isalpha() for w in run):
                out.append("".join(w[0] for w in run).upper())
    return out


def patient_identifiers(ds: Any, sources: Mapping[str, Any]) -> tuple[PatientIdentifiers, tuple[str, ...]]:
    """This instance's identifying header values, for cleaning free text and pixel policy.

    ``sources`` names the attributes (``Standard.identifying_values``, from
    ``profiles/beyond_table.toml``): person names, IDs, dates, and multi-word values
    (addresses, institutions) that are removed as whole phrases and by their longer words.
    Person names are also taken from every PN element anywhere in ``ds``.
    """
    names = [v for kw in sources.get("names", ()) for v in _strings(ds.get(kw))]
    names += _person_names(ds)
    ids = [v for kw in sources.get("ids", ()) for v in _strings(ds.get(kw))]
    for seq_kw, item_kw in sources.get("id_sequences", {}).items():
        for item in ds.get(seq_kw) or ():
            ids += _strings(item.get(item_kw))
    dates = [v for kw in sources.get("dates", ()) for v in _strings(ds.get(kw))]
    phrases = [v for kw in sources.get("words", ()) for v in _strings(ds.get(kw))]
    words = [w for p in phrases for w in re.split(r"[\s,^]+", p) if len(w) >= 4]
    words += [a for p in phrases for a in _initials(p)]
    ident = PatientIdentifiers.build(names, [*ids, *phrases], dates, extra_words=words)
    return ident, (*ident.words, *ident.ids, *dates)


def clean_text(text: str, patient: PatientPattern | None) -> str:
    """Remove this patient's values (via the compiled ``patient`` pattern) and generic PHI patterns."""
    if patient is not None:
        text = patient.sub(REDACTED, text)
    return _GENERIC_RE.sub(REDACTED, text)


__all__ = ["REDACTED", "PatientIdentifiers", "PatientPattern", "clean_text", "patient_identifiers"]
