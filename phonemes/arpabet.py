"""The ARPAbet phone set (CMUdict's 39 phones) and its articulatory classes, as data.

Phone labels in this project are ARPAbet, upper case, vowels optionally carrying a stress
digit ('AH0', 'EY1'); silence is `SILENCE`. Use `strip_stress` before looking a label up.
"""

from __future__ import annotations

SILENCE = "sil"

VOWELS = frozenset(
    "AA AE AH AO AW AY EH ER EY IH IY OW OY UH UW".split())
STOPS = frozenset("B D G K P T".split())
AFFRICATES = frozenset("CH JH".split())
FRICATIVES = frozenset("DH F HH S SH TH V Z ZH".split())
NASALS = frozenset("M N NG".split())
LIQUIDS = frozenset("L R".split())
GLIDES = frozenset("W Y".split())
# Obstruents made without voicing: after one of these (or a pause) a sonorant starts where
# voicing does, which is what refine's "rise" landmark looks for.
VOICELESS = frozenset("CH F HH K P S SH T TH".split())

# Class name -> member phones. 'silence' holds only the silence label.
PHONE_CLASSES: dict[str, frozenset[str]] = {
    "vowel": VOWELS,
    "stop": STOPS,
    "affricate": AFFRICATES,
    "fricative": FRICATIVES,
    "nasal": NASALS,
    "liquid": LIQUIDS,
    "glide": GLIDES,
    "silence": frozenset({SILENCE}),
}

# The 39 phones in CMUdict order (alphabetical).
PHONES: tuple[str, ...] = tuple(sorted(
    VOWELS | STOPS | AFFRICATES | FRICATIVES | NASALS | LIQUIDS | GLIDES))

# Typical phone durations in seconds in read English (rounded means from TIMIT-style corpora);
# used only to spread phones inside a word span when the acoustic aligner gives up.
TYPICAL_DURATION: dict[str, float] = {
    "vowel": 0.095, "stop": 0.065, "affricate": 0.095, "fricative": 0.090,
    "nasal": 0.060, "liquid": 0.060, "glide": 0.055, "silence": 0.100,
}
_LONG_VOWELS = frozenset("AA AE AO AW AY EY OW OY IY UW ER".split())


def strip_stress(phone: str) -> str:
    """'AH0' -> 'AH'; labels without a digit (and 'sil') are returned unchanged."""
    return phone.rstrip("012")


def is_vowel(phone: str) -> bool:
    """True for the 15 ARPAbet vowels, with or without a stress digit."""
    return strip_stress(phone).upper() in VOWELS


def phone_class(phone: str) -> str:
    """Class name of a phone ('vowel', 'stop', ... 'silence'); raises KeyError if unknown."""
    base = strip_stress(phone)
    if base == SILENCE:
        return "silence"
    base = base.upper()
    for name, members in PHONE_CLASSES.items():
        if base in members:
            return name
    raise KeyError(f"not an ARPAbet phone: {phone!r}")


def typical_duration(phone: str) -> float:
    """Typical duration in seconds of one phone (diphthongs and tense vowels run longer)."""
    base = strip_stress(phone).upper()
    try:
        cls = phone_class(phone)
    except KeyError:
        return TYPICAL_DURATION["vowel"]
    if cls == "vowel":
        return 0.115 if base in _LONG_VOWELS else 0.070
    return TYPICAL_DURATION[cls]
