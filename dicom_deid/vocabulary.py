"""Word lists as data, for telling a name from an ordinary word: no decisions live here.

- English word frequencies from pyspellchecker's dictionary (a frequency list built from
  subtitles and filtered by a word list; names such as ``john`` or ``smith`` are in it, far below
  the words of everyday text);
- DICOM vocabulary: the words of the code meanings pydicom ships (SNOMED CT, DCM, LOINC, RadLex...
  concepts of the DICOM content mapping resource), which hold anatomy, procedures and findings.

``clean`` uses these to keep fuzzy name matching off ordinary clinical words; ``verify`` uses
them to tell a distinctive value from a common one.  Both decide on their own.
"""

from __future__ import annotations

import functools
import gzip
import importlib.resources
import json
import re
import unicodedata
from collections.abc import Mapping
from typing import cast

COMMON_RANK = 5000
"""A word among the 5,000 most frequent of the English list is "common" (``white``, ``young``,
``brain``, ``chest``); less frequent words (``smith`` ranks about 17,000) are not."""

_WORD = re.compile(r"[^\W\d_]+")
_CAMEL = re.compile(r"[A-Z][a-z]+|[A-Z]+(?![a-z])")


def fold(text: str) -> str:
    """Case- and accent-insensitive form: ``Müller`` -> ``muller``, ``ÅSTRÖM`` -> ``astrom``."""
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).replace("ß", "ss")


@functools.lru_cache(maxsize=1)
def english_counts() -> Mapping[str, int]:
    """Word -> frequency count of pyspellchecker's English dictionary (lower case)."""
    resource = importlib.resources.files("spellchecker").joinpath("resources/en.json.gz")
    with resource.open("rb") as fh:
        data: dict[str, int] = json.loads(gzip.decompress(fh.read()))
    return data


@functools.lru_cache(maxsize=1)
def _common_threshold() -> int:
    counts = sorted(english_counts().values(), reverse=True)
    return counts[min(COMMON_RANK, len(counts) - 1)]


@functools.lru_cache(maxsize=1 << 16)
def english_count(word: str) -> int:
    """How often ``word`` (any case, accents ignored) occurs in the English list; 0 if never."""
    return english_counts().get(fold(word), 0)


def is_common_word(word: str) -> bool:
    """One of the most frequent English words (see ``COMMON_RANK``)."""
    return english_count(word) >= _common_threshold()


@functools.lru_cache(maxsize=1)
def dicom_terms() -> frozenset[str]:
    """Folded words of the DICOM vocabulary: those written in lower case (3 letters or more) or
    as an acronym in capitals (2 to 6 letters: ``MRI``, ``CT``, ``FLAIR``) in a code meaning of
    pydicom's concept dictionary (anatomy, procedures, findings; words only ever capitalised there
    are eponyms such as ``Miller`` or ``Taylor``, which are surnames too, and are left out), and the
    attribute keywords of the data dictionary, whole and word by word."""
    from pydicom._dicom_dict import DicomDictionary
    from pydicom.sr import _concepts_dict

    concepts = cast(Mapping[str, Mapping[str, Mapping[str, tuple[str, list[int]]]]], _concepts_dict.concepts)
    words: set[str] = set()
    for scheme in concepts.values():
        for codes in scheme.values():
            for meaning, _cids in codes.values():
                words.update(fold(w) for w in _WORD.findall(meaning)
                             if (len(w) >= 3 and w.islower()) or (2 <= len(w) <= 6 and w.isupper()))
    for entry in DicomDictionary.values():  # attribute keywords, whole and by word: PatientSize, patient, size
        keyword = str(entry[4])
        if keyword:
            words.add(fold(keyword))
            words.update(fold(w) for w in _CAMEL.findall(keyword) if len(w) >= 3)
    return frozenset(words)


def is_dicom_term(word: str) -> bool:
    """A word of a DICOM code meaning (``chest``, ``axial``, ``phantom``, ``lumbar``)."""
    return fold(word) in dicom_terms()


@functools.lru_cache(maxsize=1 << 16)
def is_vocabulary(word: str) -> bool:
    """A common English word or a DICOM term: never identifying on its own."""
    return is_common_word(word) or is_dicom_term(word)


__all__ = ["COMMON_RANK", "dicom_terms", "english_count", "english_counts", "fold", "is_common_word",
           "is_dicom_term", "is_vocabulary"]
