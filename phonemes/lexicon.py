"""Pronunciations: CMUdict (the copy inside the pocketsphinx wheel) plus letter-to-sound rules
for any word it lacks, so that no word is ever dropped.

Stress: pocketsphinx's CMUdict has no stress digits. `pronounce`/`pronunciations` return
phones WITHOUT stress digits (exactly what the acoustic model knows); `add_stress` turns a
pronunciation into labels with a *guessed* stress digit (one primary '1' on the first full
vowel, '0' elsewhere) for places that want the 'AH0' form. Downstream code calls
`strip_stress` anyway, so the guess never changes which phone is meant.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import numpy as np

from voxface.phonemes.arpabet import PHONES, VOWELS

_VALID = frozenset(PHONES)

# Letter names for spelling acronyms ("FBI" -> EH F B IY AY).
LETTER_NAMES: dict[str, str] = {
    "a": "EY", "b": "B IY", "c": "S IY", "d": "D IY", "e": "IY", "f": "EH F", "g": "JH IY",
    "h": "EY CH", "i": "AY", "j": "JH EY", "k": "K EY", "l": "EH L", "m": "EH M",
    "n": "EH N", "o": "OW", "p": "P IY", "q": "K Y UW", "r": "AA R", "s": "EH S",
    "t": "T IY", "u": "Y UW", "v": "V IY", "w": "D AH B AH L Y UW", "x": "EH K S",
    "y": "W AY", "z": "Z IY",
}

# Letter-to-sound rules: (grapheme, phones). Longest grapheme wins at each position; a few
# context-dependent cases are handled in `_letters_to_sounds`. Phones are space-separated.
_RULES: dict[str, str] = {
    "ation": "EY SH AH N", "tion": "SH AH N", "sion": "ZH AH N", "cian": "SH AH N", "ture": "CH ER",
    "ough": "AO", "augh": "AO", "eigh": "EY",
    "igh": "AY", "tch": "CH", "dge": "JH", "sch": "S K", "que": "K", "ght": "T",
    "th": "TH", "sh": "SH", "ch": "CH", "ph": "F", "ck": "K", "ng": "NG", "nk": "NG K", "wh": "W",
    "kn": "N", "wr": "R", "gh": "G", "qu": "K W", "gn": "N",
    "ee": "IY", "ea": "IY", "oo": "UW", "ai": "EY", "ay": "EY", "ey": "IY", "ei": "EY",
    "ie": "IY", "oa": "OW", "oe": "OW", "ow": "AW", "ou": "AW", "oi": "OY", "oy": "OY",
    "au": "AO", "aw": "AO", "ew": "UW", "ue": "UW", "ui": "UW",
    "ar": "AA R", "er": "ER", "ir": "ER", "ur": "ER", "or": "AO R",
    "a": "AE", "b": "B", "c": "K", "d": "D", "e": "EH", "f": "F", "g": "G", "h": "HH",
    "i": "IH", "j": "JH", "k": "K", "l": "L", "m": "M", "n": "N", "o": "AA", "p": "P",
    "q": "K", "r": "R", "s": "S", "t": "T", "u": "AH", "v": "V", "w": "W", "x": "K S",
    "y": "Y", "z": "Z",
}
_MAX_GRAPHEME = max(len(g) for g in _RULES)
# Long ("name") vowels for vowel-consonant-e words: 'make', 'bike', 'hope', 'cute'.
_LONG_VOWEL = {"a": "EY", "e": "IY", "i": "AY", "o": "OW", "u": "UW", "y": "AY"}
_VOWEL_LETTERS = frozenset("aeiouy")


@functools.lru_cache(maxsize=1)
def _dict_path() -> Path:
    import pocketsphinx

    return Path(pocketsphinx.get_model_path()) / "en-us" / "cmudict-en-us.dict"


def _letters_to_sounds(word: str) -> list[str]:
    """English letter-to-sound rules for a lower-case word of letters (and apostrophes)."""
    w = re.sub(r"[^a-z]", "", word.lower())
    if not w:
        return []
    # Silent final e after consonant(s) lengthens the vowel before it ('make', 'hope').
    long_at = -1
    if (len(w) >= 3 and w.endswith("e") and w[-2] not in _VOWEL_LETTERS
            and w[-3] in _VOWEL_LETTERS and (len(w) == 3 or w[-4] not in _VOWEL_LETTERS)):
        long_at = len(w) - 3
        w_body = w[:-1]
    elif len(w) > 2 and w.endswith("e") and w[-2] not in _VOWEL_LETTERS and w[-2] != "l":
        w_body = w[:-1]  # other silent final e ('bridge' -> via 'dge', 'dance')
    else:
        w_body = w
    phones: list[str] = []
    i = 0
    n = len(w_body)
    while i < n:
        ch = w_body[i]
        # Double consonant letters sound once ('butter', 'miss').
        if i > 0 and ch == w_body[i - 1] and ch not in _VOWEL_LETTERS and ch != "c":
            i += 1
            continue
        if i == long_at and ch in _LONG_VOWEL:
            phones += _LONG_VOWEL[ch].split()
            i += 1
            continue
        nxt = w_body[i + 1] if i + 1 < n else ""
        # Soft c and g before e, i, y ('city', 'gem').
        if ch == "c" and nxt in ("e", "i", "y"):
            phones.append("S")
            i += 1
            continue
        if ch == "g" and nxt in ("e", "i", "y") and i > 0:
            phones.append("JH")
            i += 1
            continue
        # y as a vowel when not word-initial ('happy', 'gym', 'my').
        if ch == "y" and i > 0:
            phones.append("IY" if i == n - 1 and n > 2 else "IH" if i < n - 1 else "AY")
            i += 1
            continue
        for size in range(min(_MAX_GRAPHEME, n - i), 0, -1):
            g = w_body[i:i + size]
            if g in _RULES:
                phones += _RULES[g].split()
                i += size
                break
        else:
            i += 1  # unreachable for a-z, kept for safety
    if w.endswith("se") and len(w) > 3 and w[-3] in "eio" and phones[-1] == "S":
        phones[-1] = "Z"  # 'cheese', 'rose': s between vowel letters is voiced
    if not any(p in VOWELS for p in phones):
        phones.append("AH")  # every word gets a syllable nucleus so it has a vowel shape
    return phones


def spell(word: str) -> list[str]:
    """Pronounce a word letter by letter ('fbi' -> EH F B IY AY)."""
    phones: list[str] = []
    for ch in word.lower():
        if ch in LETTER_NAMES:
            phones += LETTER_NAMES[ch].split()
    return phones


def add_stress(phones: list[str]) -> list[str]:
    """Guess stress digits: primary '1' on the first vowel that is not AH (or the first vowel
    if all are AH), '0' on the other vowels. ['HH','AH','L','OW'] -> ['HH','AH0','L','OW1']."""
    vowel_idx = [i for i, p in enumerate(phones) if p in VOWELS]
    if not vowel_idx:
        return list(phones)
    primary = next((i for i in vowel_idx if phones[i] != "AH"), vowel_idx[0])
    return [p + ("1" if i == primary else "0") if p in VOWELS else p
            for i, p in enumerate(phones)]


class Lexicon:
    """CMUdict pronunciations with a letter-to-sound fallback. Loads on first use.

    Phones are ARPAbet without stress digits (see module docstring).
    """

    def __init__(self, path: str | Path | None = None):
        self._path = Path(path) if path is not None else None
        self._entries: dict[str, list[str]] | None = None

    @property
    def entries(self) -> dict[str, list[str]]:
        """word -> list of pronunciations, each a space-separated phone string."""
        if self._entries is None:
            self._entries = _load(str(self._path or _dict_path()))
        return self._entries

    def _find(self, word: str) -> list[str] | None:
        """The dictionary's pronunciation strings of a lower-case word (None: not in it).
        The shipped dictionary is looked up in place (`_sorted_lookup`), without parsing
        all of it, unless `entries` was already needed."""
        if self._entries is None and self._path is None:
            return _sorted_lookup(str(_dict_path())).get(word)
        return self.entries.get(word)

    def __contains__(self, word: str) -> bool:
        return self._find(word.lower()) is not None

    def pronunciations(self, word: str) -> list[list[str]]:
        """All pronunciations of a word; for an unknown word, one guessed pronunciation."""
        found = self._find(word.lower())
        if found:
            return [p.split() for p in found]
        return [self.guess(word)]

    def variants(self, word: str) -> list[list[str]]:
        """Every pronunciation the aligner may choose from, CMUdict's first: all of its
        alternates, then connected-speech reductions (`reductions`), without repeats."""
        out: list[list[str]] = []
        for pron in self.pronunciations(word):
            for v in [pron] + reductions(word, pron):
                if v and v not in out:
                    out.append(v)
        return out

    def pronounce(self, word: str) -> list[str]:
        """The first (most common) pronunciation of a word, e.g. 'hello' -> HH AH L OW."""
        return self.pronunciations(word)[0]

    def guess(self, word: str) -> list[str]:
        """Letter-to-sound pronunciation for a word not in the dictionary.

        All-caps words of 2-5 letters (and words with no vowel letter, 'nbc') are spelled
        out as letters; words with apostrophes are pronounced from their parts ('y'know').
        """
        letters = re.sub(r"[^A-Za-z]", "", word)
        if not letters:
            return ["AH"]
        if (letters.isupper() and 2 <= len(letters) <= 5) or not (
                set(letters.lower()) & _VOWEL_LETTERS):
            return spell(letters)
        if "'" in word:
            # "y'know" = y + know; "rock'n'roll" = rock + n + roll: prefer known parts.
            phones: list[str] = []
            for part in word.lower().split("'"):
                if not part:
                    continue
                if (found := self._find(part)) is not None:
                    phones += found[0].split()
                elif part == "s":
                    phones.append("Z")
                elif len(part) == 1:
                    phones += {"n": ["AH", "N"], "d": ["D"], "t": ["T"],
                               "m": ["M"], "y": ["Y"]}.get(part, spell(part))
                else:
                    phones += _letters_to_sounds(part)
            if phones:
                return phones
        return _letters_to_sounds(letters)


# Weak forms of function words in connected speech (TIMIT's speakers say "your" as Y IH,
# "and" as IH N or EH N, "to" as T AH): alternatives to CMUdict's citation forms. No
# schwa + nasal forms ("and", "in", "on" as AH N): they match filled pauses ("um").
WEAK_FORMS: dict[str, tuple[str, ...]] = {
    "a": ("IH",), "an": ("IH N",), "and": ("EH N", "IH N"),
    "are": ("ER",), "as": ("AH Z",), "at": ("AH T",), "but": ("B AH T",), "can": ("K AH N",),
    "could": ("K AH D",), "do": ("D AH", "D IH"), "for": ("F ER",), "from": ("F ER M",),
    "had": ("HH AH D", "AH D"), "has": ("HH AH Z", "AH Z"), "have": ("HH AH V", "AH V"),
    "he": ("IY", "HH IH"), "her": ("ER", "HH ER"), "him": ("IH M",), "his": ("IH Z",),
    "is": ("IH Z",), "it": ("AH T",), "of": ("AH V",),
    "or": ("ER",), "some": ("S AH M",), "than": ("DH AH N",),
    "that": ("DH AH T",), "the": ("DH AH", "DH IH"), "them": ("DH AH M",),
    "to": ("T AH", "T IH"), "us": ("AH S",), "was": ("W AH Z",), "were": ("W ER",),
    "will": ("AH L",), "would": ("W AH D",), "you": ("Y AH", "Y IH"),
    "your": ("Y ER", "Y AH", "Y IH"),
}
_CONSONANTS = frozenset(PHONES) - VOWELS


def reductions(word: str, pron: list[str]) -> list[list[str]]:
    """Connected-speech forms of one pronunciation (phones without stress):
    weak forms of function words (WEAK_FORMS); t/d deletion after a consonant at the end of
    a word ("don't ask" with no T, "last" as L AE S); flapping of T between vowels inside a
    word ("water", "city"; the acoustic model has no flap, D is the nearest phone)."""
    weak = WEAK_FORMS.get(word.lower())
    if weak is not None:
        # Function words take their listed weak forms only: a generic rule made "and" into
        # AH N, which then matched an untranscribed "um" a second early (MFA real speech).
        return [f.split() for f in weak]
    out: list[list[str]] = []
    if len(pron) >= 3 and pron[-1] in ("T", "D") and pron[-2] in _CONSONANTS:
        out.append(pron[:-1])
    flapped = [("D" if p == "T" and 0 < i < len(pron) - 1 and pron[i - 1] in VOWELS
                and pron[i + 1] in VOWELS else p) for i, p in enumerate(pron)]
    if flapped != pron:
        out.append(flapped)
    return out


@functools.lru_cache(maxsize=4)
def _load(path: str) -> dict[str, list[str]]:
    """Parse a CMUdict-format file ('word PH ONES', alternates as 'word(2)').

    Cached per path: the 135k-entry file is parsed once per process (~0.1 s).
    """
    entries: dict[str, list[str]] = {}
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            word, _, phones = line.partition(" ")
            if not phones or line.startswith(";;;"):
                continue
            if word.endswith(")"):
                word = word[:word.rindex("(")]
            phones = phones.split("#", 1)[0].strip()
            lst = entries.get(word)
            if lst is None:
                entries[word] = [phones]
            else:
                lst.append(phones)
    return entries


class _SortedDict:
    """Look-ups in a CMUdict-format file whose lines are sorted by word (alternates
    'word(2)' right after 'word'), as the shipped one is (tests/test_lexicon.py checks):
    a binary search over its lines. Reading the file and finding its line starts takes
    ~5 ms, against ~0.1 s to parse all 135k entries into a dict (`_load`), and a run
    looks up a few hundred words. Same results as `_load(path).get(word)`."""

    def __init__(self, path: str):
        with open(path, "rb") as f:
            self._data = f.read()
        newlines = np.flatnonzero(np.frombuffer(self._data, dtype=np.uint8) == 10)
        starts = np.concatenate([[0], newlines + 1])
        self._starts = starts[starts < len(self._data)].tolist()
        self._cache: dict[str, list[str] | None] = {}

    def _line(self, i: int) -> str:
        end = self._data.find(b"\n", self._starts[i])
        return self._data[self._starts[i]:end if end >= 0 else None].decode(
            "utf-8", errors="replace")

    def _key(self, i: int) -> str:
        word = self._line(i).partition(" ")[0]
        return word[:word.rindex("(")] if word.endswith(")") else word

    def get(self, word: str) -> list[str] | None:
        if word in self._cache:
            return self._cache[word]
        lo, hi = 0, len(self._starts)
        while lo < hi:
            mid = (lo + hi) // 2
            if self._key(mid) < word:
                lo = mid + 1
            else:
                hi = mid
        found: list[str] = []
        while lo < len(self._starts) and self._key(lo) == word:
            line = self._line(lo)
            phones = line.partition(" ")[2]
            if phones and not line.startswith(";;;"):
                found.append(phones.split("#", 1)[0].strip())
            lo += 1
        self._cache[word] = found or None
        return found or None


@functools.lru_cache(maxsize=4)
def _sorted_lookup(path: str) -> _SortedDict:
    return _SortedDict(path)


@functools.lru_cache(maxsize=1)
def default_lexicon() -> Lexicon:
    """The process-wide lexicon (CMUdict from the pocketsphinx wheel)."""
    return Lexicon()
