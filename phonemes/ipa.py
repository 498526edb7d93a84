"""IPA phones -> articulatory features -> the nearest ARPAbet phone the pose tables have.

The face engine keys its poses and coarticulation on ARPAbet (engine/poses.py). Speech in any
other language arrives as IPA (espeak-ng's phoneme events in IPA mode, phonemes/languages.py),
so each IPA phone is described by its articulatory features and mapped to the ARPAbet phone
whose features are nearest; ARPAbet is then one point in the same feature space, not a special
case, and coarticulation works unchanged.

Features (`Features`):
- vowels: height 0 (close) .. 6 (open), backness 0 (front) .. 2 (back), rounding 0..1,
  nasality, length, rhotic;
- consonants: place (0 bilabial .. 9 glottal, `PLACES`), manner (`MANNERS`, each a point in
  a small closure / friction / nasal / lateral / approximant / sibilant space), voicing,
  rounding (w, ɥ), nasality, length.

Distances weigh what the face shows: rounding for vowels (a French /y/ is a rounded vowel
first and a front one second, so it maps to UW, not IY), lip place for consonants (bilabial
and labiodental are different mouth shapes, so they sit far apart on the place axis). A few
choices the distance alone gets wrong for the face are fixed in `OVERRIDES` (Spanish /β/ is
a light bilabial, so it shows as B and closes the lips).

`parse(label)` strips what espeak adds around a phone (stress ˈˌ, length ː, tone digits and
letters, the '-' / '.' suffixes of its reduced and syllabic phones, diacritics and modifier
letters such as ʰ ʲ ʷ ˤ ̪ ̞), keeping length, nasality (̃) and compressed rounding (ᵝ) as
features. `to_arpabet(label)` returns a `Mapped` phone: ARPAbet with a stress digit for
vowels, the cleaned IPA, and a warning when a symbol is unknown (then the nearest pose of
what is known, or a neutral schwa, never an exception).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, replace
from functools import lru_cache

# ---------------------------------------------------------------------------------- features

PLACES: dict[str, float] = {
    # Bilabial and labiodental are 3 apart: different lip shapes (a seal vs a lip tuck).
    "bilabial": 0.0, "labiodental": 3.0, "dental": 4.0, "alveolar": 5.0,
    "postalveolar": 6.0, "retroflex": 6.0, "alveolopalatal": 6.5, "palatal": 7.0,
    "velar": 8.0, "uvular": 9.0, "pharyngeal": 10.0, "glottal": 11.0,
    "labiovelar": 1.5,
}

# manner -> (closure, friction, nasal, lateral, approximant, sibilant)
MANNERS: dict[str, tuple[float, ...]] = {
    "stop": (1, 0, 0, 0, 0, 0),
    "affricate": (1, 1, 0, 0, 0, 0),
    "sibilant_affricate": (1, 1, 0, 0, 0, 1),
    "fricative": (0, 1, 0, 0, 0, 0),
    "sibilant": (0, 1, 0, 0, 0, 1),
    "nasal": (1, 0, 1, 0, 0, 0),
    "tap": (0.5, 0, 0, 0, 0.5, 0),
    "trill": (0.5, 0, 0, 0, 0.5, 0),
    "approximant": (0, 0, 0, 0, 1, 0),
    "lateral": (0, 0, 0, 1, 1, 0),
    "lateral_fricative": (0, 1, 0, 1, 0, 0),
}


@dataclass(frozen=True)
class Features:
    """Articulatory features of one phone (see the module docstring for the scales)."""

    vowel: bool
    height: float = 0.0      # vowels: 0 close .. 6 open
    backness: float = 0.0    # vowels: 0 front .. 2 back
    rounding: float = 0.0    # 0 spread/neutral .. 1 rounded (vowels and w-like consonants)
    place: str = ""          # consonants: a PLACES key
    manner: str = ""         # consonants: a MANNERS key
    voiced: bool = True
    nasal: bool = False
    long: bool = False
    rhotic: bool = False


def _v(height: float, backness: float, rounding: float = 0.0, rhotic: bool = False) -> Features:
    return Features(True, height=height, backness=backness, rounding=rounding, rhotic=rhotic)


def _c(place: str, manner: str, voiced: bool = True, rounding: float = 0.0) -> Features:
    return Features(False, place=place, manner=manner, voiced=voiced, rounding=rounding,
                    nasal=manner == "nasal")


# Every base IPA symbol espeak-ng emits (collected over its voices) and the rest of the IPA
# chart's pulmonic consonants and vowels.
IPA_FEATURES: dict[str, Features] = {
    # --- vowels: close
    "i": _v(0, 0), "y": _v(0, 0, 1), "ɨ": _v(0, 1), "ʉ": _v(0, 1, 1), "ɯ": _v(0, 2),
    "u": _v(0, 2, 1),
    # near-close
    "ɪ": _v(1, 0.4), "ʏ": _v(1, 0.4, 1), "ʊ": _v(1, 1.6, 1), "ᵻ": _v(1, 1),
    # close-mid
    "e": _v(2, 0), "ø": _v(2, 0, 1), "ɘ": _v(2, 1), "ɵ": _v(2, 1, 1), "ɤ": _v(2, 2),
    "o": _v(2, 2, 1),
    # mid
    "ə": _v(3, 1), "ɚ": _v(3, 1, rhotic=True), "ɝ": _v(3.5, 1, rhotic=True),
    # open-mid
    "ɛ": _v(4, 0), "œ": _v(4, 0, 1), "ɜ": _v(4, 1), "ɞ": _v(4, 1, 1), "ʌ": _v(4, 2),
    "ɔ": _v(4, 2, 1),
    # near-open
    "æ": _v(5, 0), "ɐ": _v(5, 1),
    # open
    "a": _v(6, 0.8), "ä": _v(6, 1), "ɶ": _v(6, 0, 1), "ɑ": _v(6, 2), "ɒ": _v(6, 2, 1),
    # --- plosives
    "p": _c("bilabial", "stop", False), "b": _c("bilabial", "stop"),
    "t": _c("alveolar", "stop", False), "d": _c("alveolar", "stop"),
    "ʈ": _c("retroflex", "stop", False), "ɖ": _c("retroflex", "stop"),
    "c": _c("palatal", "stop", False), "ɟ": _c("palatal", "stop"),
    "k": _c("velar", "stop", False), "g": _c("velar", "stop"), "ɡ": _c("velar", "stop"),
    "q": _c("uvular", "stop", False), "ɢ": _c("uvular", "stop"),
    "ʔ": _c("glottal", "stop", False), "ʡ": _c("pharyngeal", "stop", False),
    # --- nasals
    "m": _c("bilabial", "nasal"), "ɱ": _c("labiodental", "nasal"), "n": _c("alveolar", "nasal"),
    "ɳ": _c("retroflex", "nasal"), "ɲ": _c("palatal", "nasal"), "ŋ": _c("velar", "nasal"),
    "ɴ": _c("uvular", "nasal"),
    # --- trills and taps
    "ʙ": _c("bilabial", "trill"), "r": _c("alveolar", "trill"), "ʀ": _c("uvular", "trill"),
    "ⱱ": _c("labiodental", "tap"), "ɾ": _c("alveolar", "tap"), "ɽ": _c("retroflex", "tap"),
    "ɺ": _c("alveolar", "tap"),
    # --- fricatives
    "ɸ": _c("bilabial", "fricative", False), "β": _c("bilabial", "fricative"),
    "f": _c("labiodental", "fricative", False), "v": _c("labiodental", "fricative"),
    "θ": _c("dental", "fricative", False), "ð": _c("dental", "fricative"),
    "s": _c("alveolar", "sibilant", False), "z": _c("alveolar", "sibilant"),
    "ʃ": _c("postalveolar", "sibilant", False), "ʒ": _c("postalveolar", "sibilant"),
    "ʂ": _c("retroflex", "sibilant", False), "ʐ": _c("retroflex", "sibilant"),
    "ɕ": _c("alveolopalatal", "sibilant", False), "ʑ": _c("alveolopalatal", "sibilant"),
    "ç": _c("palatal", "fricative", False), "ʝ": _c("palatal", "fricative"),
    "x": _c("velar", "fricative", False), "ɣ": _c("velar", "fricative"),
    "χ": _c("uvular", "fricative", False), "ʁ": _c("uvular", "fricative"),
    "ħ": _c("pharyngeal", "fricative", False), "ʕ": _c("pharyngeal", "fricative"),
    "h": _c("glottal", "fricative", False), "ɦ": _c("glottal", "fricative"),
    "ɧ": _c("postalveolar", "sibilant", False),
    "ɬ": _c("alveolar", "lateral_fricative", False), "ɮ": _c("alveolar", "lateral_fricative"),
    # --- approximants
    "ʋ": _c("labiodental", "approximant"), "ɹ": _c("alveolar", "approximant"),
    "ɻ": _c("retroflex", "approximant"), "j": _c("palatal", "approximant"),
    "ɰ": _c("velar", "approximant"),
    "w": _c("labiovelar", "approximant", rounding=1.0),
    "ʍ": _c("labiovelar", "approximant", False, rounding=1.0),
    "ɥ": _c("palatal", "approximant", rounding=1.0),
    # --- laterals
    "l": _c("alveolar", "lateral"), "ɭ": _c("retroflex", "lateral"),
    "ʎ": _c("palatal", "lateral"), "ʟ": _c("velar", "lateral"), "ɫ": _c("alveolar", "lateral"),
}

# Affricates and the one-letter ligatures espeak and IPA use for them.
AFFRICATES: dict[str, Features] = {
    "ts": _c("alveolar", "sibilant_affricate", False), "dz": _c("alveolar", "sibilant_affricate"),
    "tʃ": _c("postalveolar", "sibilant_affricate", False),
    "dʒ": _c("postalveolar", "sibilant_affricate"),
    "tɕ": _c("alveolopalatal", "sibilant_affricate", False),
    "dʑ": _c("alveolopalatal", "sibilant_affricate"),
    "ʈʂ": _c("retroflex", "sibilant_affricate", False),
    "ɖʐ": _c("retroflex", "sibilant_affricate"),
    "pf": _c("labiodental", "affricate", False), "kx": _c("velar", "affricate", False),
    "tθ": _c("dental", "affricate", False), "dð": _c("dental", "affricate"),
}
_LIGATURES = {"ʦ": "ts", "ʣ": "dz", "ʧ": "tʃ", "ʤ": "dʒ", "ʨ": "tɕ", "ʥ": "dʑ"}

# The ARPAbet phones as points in the same space (engine/poses.py keys, stress stripped).
# Diphthongs are their onsets here; `_diphthong` picks them from an onset and an offset.
ARPABET_FEATURES: dict[str, Features] = {
    "IY": _v(0, 0), "IH": _v(1, 0.4), "EY": _v(2, 0), "EH": _v(4, 0), "AE": _v(5, 0),
    "AA": _v(6, 1.2), "AH": _v(3.5, 1.3), "AO": _v(4, 2, 1), "OW": _v(2, 2, 1),
    "UH": _v(1, 1.6, 1), "UW": _v(0, 2, 1), "ER": _v(3, 1, rhotic=True),
    "P": _c("bilabial", "stop", False), "B": _c("bilabial", "stop"),
    "M": _c("bilabial", "nasal"),
    "F": _c("labiodental", "fricative", False), "V": _c("labiodental", "fricative"),
    "TH": _c("dental", "fricative", False), "DH": _c("dental", "fricative"),
    "T": _c("alveolar", "stop", False), "D": _c("alveolar", "stop"),
    "N": _c("alveolar", "nasal"), "S": _c("alveolar", "sibilant", False),
    "Z": _c("alveolar", "sibilant"), "L": _c("alveolar", "lateral"),
    "R": _c("postalveolar", "approximant"),
    "SH": _c("postalveolar", "sibilant", False), "ZH": _c("postalveolar", "sibilant"),
    "CH": _c("postalveolar", "sibilant_affricate", False),
    "JH": _c("postalveolar", "sibilant_affricate"),
    "Y": _c("palatal", "approximant"),
    "K": _c("velar", "stop", False), "G": _c("velar", "stop"), "NG": _c("velar", "nasal"),
    "HH": _c("glottal", "fricative", False),
    "W": _c("labiovelar", "approximant", rounding=1.0),
}

# Where the nearest features are not the best mouth shape (each with its reason):
OVERRIDES: dict[str, str] = {
    "β": "B",   # Spanish /b/ between vowels: the lips nearly meet, it reads as a light B
    "ɸ": "P",   # Japanese 'fu': lips approach each other, not the teeth
    "ʙ": "B",   # bilabial trill: lips together
    "ⱱ": "V",
    "ɱ": "V",   # labiodental nasal (Spanish 'enfermo'): the lower lip at the teeth
    "ç": "HH", "ʝ": "Y",  # palatal fricatives: spread lips, not the funnel of SH
    "ɬ": "L", "ɮ": "L",   # lateral fricatives: the tongue shape of L
    "ɽ": "D",   # retroflex tap (Hindi, Japanese r): a tap, without English R's rounding
    "ɶ": "AO",  # open rounded: rounding first
    "ʔ": "HH",  # a glottal stop moves nothing visible: take the neighbours' shape
    "ɐ": "AH",  # the reduced open-central vowel of Portuguese / German: a schwa-like AH
    "ə": "AH", "ɜ": "AH", "ɘ": "AH", "ᵻ": "IH",
    "a": "AA", "ä": "AA",  # an open /a/ is the wide jaw of AA, not the spread AE
}

REDUCED_VOWELS = frozenset({"ə", "ɐ", "ɚ", "ᵻ", "ɘ"})

# Where a voice's phoneme table has no IPA name for a phoneme, espeak-ng reports its ASCII
# mnemonic (Kirshenbaum-like: 'tS', 'N', 'y:') instead; these read it as the IPA it stands for
# (and Greek letters some tables use for IPA ones). The mnemonics' own marks ('`' retroflex,
# '^' palatal, '#' and '[' variants) are dropped with the diacritics.
ASCII_FALLBACK: dict[str, str] = {
    "S": "ʃ", "Z": "ʒ", "N": "ŋ", "X": "x", "A": "ɑ", "?": "ʔ", ":": "ː", "T": "θ",
    "D": "ð", "C": "ç", "E": "ɛ", "O": "ɔ", "I": "ɪ", "U": "ʊ", "V": "ʌ", "Q": "ʔ",
    "R": "ʁ", "L": "ʎ", "J": "ɲ", "B": "β", "G": "ɣ", "W": "w", "Y": "ø", "@": "ə",
    "ε": "ɛ", "Φ": "ɸ", "φ": "ɸ",
}
_MNEMONIC_MARKS = set("`^#[]<>/;!&*+~")

# Stripped before lookup: stress and syllable marks, tone letters and digits, espeak's suffixes.
_DROP = set("ˈˌ.-_|‖‿˥˦˧˨˩0123456789'=,%\"")
_LENGTH = set("ːˑ")
_NASAL = "\u0303"          # combining tilde
_COMPRESSED = "ᵝ"          # compressed (not protruded) lips: Japanese /ɯᵝ/


def _vowel_distance(a: Features, b: Features) -> float:
    return (1.0 * abs(a.height - b.height) + 1.0 * abs(a.backness - b.backness)
            + 3.0 * abs(a.rounding - b.rounding) + 2.0 * (a.rhotic != b.rhotic))


def _consonant_distance(a: Features, b: Features) -> float:
    ma, mb = MANNERS[a.manner], MANNERS[b.manner]
    return (1.0 * abs(PLACES[a.place] - PLACES[b.place])
            + 1.5 * sum(abs(x - y) for x, y in zip(ma, mb))
            + 0.3 * (a.voiced != b.voiced) + 2.0 * abs(a.rounding - b.rounding))


def nearest_arpabet(f: Features) -> str:
    """The ARPAbet phone (no stress digit) whose features are nearest to `f`; vowels map to
    vowels, consonants to consonants. Ties go to the first in ARPABET_FEATURES order."""
    best, best_d = "", float("inf")
    for phone, g in ARPABET_FEATURES.items():
        if g.vowel != f.vowel:
            continue
        d = _vowel_distance(f, g) if f.vowel else _consonant_distance(f, g)
        if d < best_d - 1e-9:
            best, best_d = phone, d
    return best


@dataclass(frozen=True)
class Mapped:
    """One IPA phone label mapped for the face.

    Attributes:
        ipa: the label without stress, tone digits and espeak's '-' / '.' suffixes, its
            diacritics kept ('ɔ̃', 'tʃʲ', 'bʰ'); '' for a label with no phone in it.
        arpabet: ARPAbet with a stress digit for vowels ('AO1', 'AH0', 'CH'); '' when `ipa` is.
        features: the features the mapping used (of the onset, for a diphthong).
        warning: why the mapping is a guess (an unknown symbol), else None.
    """

    ipa: str
    arpabet: str
    features: Features | None
    warning: str | None = None


def _segments(label: str) -> tuple[str, list[tuple[str, Features]], list[str]]:
    """label -> (cleaned ipa, [(symbol, features)] per base segment, unknown characters)."""
    text = unicodedata.normalize("NFC", label.strip())
    for lig, pair in _LIGATURES.items():
        text = text.replace(lig, pair)
    cleaned: list[str] = []
    segs: list[tuple[str, Features]] = []
    unknown: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch in _MNEMONIC_MARKS:
            i += 1
            continue
        if ch in ASCII_FALLBACK and ch not in IPA_FEATURES and ch not in _DROP:
            text = text[:i] + ASCII_FALLBACK[ch] + text[i + 1:]
            continue
        if ch in _DROP or ch.isspace() or ch in "()\u0361\u035c":
            i += 1
            continue
        if ch in _LENGTH:
            if segs:
                sym, f = segs[-1]
                segs[-1] = (sym, _with(f, long=True))
                cleaned.append("ː")
            i += 1
            continue
        if ch == _NASAL:
            if segs:
                sym, f = segs[-1]
                segs[-1] = (sym, _with(f, nasal=True))
                cleaned.append(ch)
            i += 1
            continue
        if ch == _COMPRESSED:
            if segs:
                sym, f = segs[-1]
                segs[-1] = (sym, _with(f, rounding=max(f.rounding, 0.5)))
            i += 1
            continue
        if unicodedata.combining(ch) or unicodedata.category(ch) == "Lm":
            # ʰ ʲ ʷ ˤ ̪ ̞ ̝ ̊ ...: secondary articulations and fine detail the poses cannot show
            i += 1
            continue
        pair = text[i:i + 2]
        if pair in AFFRICATES:
            segs.append((pair, AFFRICATES[pair]))
            cleaned.append(pair)
            i += 2
            continue
        if ch in IPA_FEATURES:
            f = IPA_FEATURES[ch]
            if (ch == "h" and segs and not segs[-1][1].vowel
                    and segs[-1][1].manner in ("stop", "affricate", "sibilant_affricate")):
                i += 1  # espeak writes aspiration as a plain 'h' after a stop (Korean 'kh')
                continue
            if segs and segs[-1][0] == ch:  # a doubled letter is a geminate (Italian 'ss')
                segs[-1] = (ch, _with(segs[-1][1], long=True))
                cleaned.append("ː")
            else:
                segs.append((ch, f))
                cleaned.append(ch)
            i += 1
            continue
        base = unicodedata.normalize("NFD", ch)[0]
        if base != ch and base in IPA_FEATURES:
            text = text[:i] + unicodedata.normalize("NFD", ch) + text[i + 1:]
            continue
        unknown.append(ch)
        i += 1
    return "".join(cleaned), segs, unknown


def _with(f: Features, **changes) -> Features:
    return replace(f, **changes)


def _map_one(symbol: str, f: Features) -> str:
    if symbol in OVERRIDES:
        return OVERRIDES[symbol]
    return nearest_arpabet(f)


def _diphthong(onset: tuple[str, Features], offset: tuple[str, Features]) -> str:
    """A two-vowel phone -> an ARPAbet diphthong when its glide matches one, else the onset's
    monophthong."""
    first = _map_one(*onset)
    off = offset[1]
    to_front_high = off.height <= 2 and off.backness < 1 and off.rounding < 0.5
    to_back_round = off.height <= 2 and off.rounding >= 0.5
    if to_front_high:
        if first in ("AA", "AE", "AH"):
            return "AY"
        if first in ("EH", "EY", "IH"):
            return "EY"
        if first in ("AO", "OW", "UH", "UW"):
            return "OY"
    if to_back_round:
        if first in ("AA", "AE", "AH"):
            return "AW"
        if first in ("AO", "OW", "EH", "EY"):
            return "OW"
    if first in ("IY", "IH") and off.height >= 3:  # 'iɛ', 'ia': the glide is short, the
        return _map_one(*offset)                    # open vowel carries the shape
    return first


@lru_cache(maxsize=4096)
def to_arpabet(label: str) -> Mapped:
    """One IPA phone label (as espeak-ng or an aligner writes it) -> Mapped.

    Several consonants, or a glide and a vowel, in one label ('ja', 'ju'): the vowel carries
    the mouth shape, so the label maps by its vowel; two vowels map to an ARPAbet diphthong
    when the glide matches one. An unknown character is left out with a warning; a label of
    nothing known maps to a neutral 'AH0' with a warning. Never raises.
    """
    text = label.strip()
    if text.startswith("(") and text.endswith(")"):
        return Mapped(ipa="", arpabet="", features=None)  # espeak's language switch '(en)'
    cleaned, segs, unknown = _segments(text)
    # Carried IPA: the label without espeak's own marks (stress, '-', '.', tone digits),
    # diacritics kept; the mapping used `cleaned`.
    ipa = "".join(ch for ch in unicodedata.normalize("NFC", text) if ch not in _DROP)
    warning = (f"IPA symbol {''.join(unknown)!r} in {label!r} is not in the feature table; "
               "mapped by the rest" if unknown else None)
    if not segs:
        if not unknown:
            return Mapped(ipa="", arpabet="", features=None)
        return Mapped(ipa=ipa or text, arpabet="AH0", features=None,
                      warning=f"IPA phone {label!r} is not in the feature table; shown as a "
                              "neutral AH0")
    vowels = [s for s in segs if s[1].vowel]
    rhotic = (len(vowels) == 1 and segs[-1][0] in ("r", "ɹ", "ɻ", "ɾ")
              and segs[0][1].vowel)  # 'ər' (Mandarin er): an r-coloured vowel
    if rhotic:
        phone, feats = "ER", _with(vowels[0][1], rhotic=True)
    elif len(vowels) >= 2:
        phone = _diphthong(vowels[0], vowels[1])
        feats = vowels[0][1]
    elif vowels:
        phone = _map_one(*vowels[0])
        feats = vowels[0][1]
    else:
        if len(segs) >= 2 and segs[0][1].manner == "stop" and segs[1][1].manner in (
                "sibilant", "fricative"):
            # an affricate espeak spells its own way: the fricative's place, closure first
            f = _with(segs[1][1], manner="sibilant_affricate"
                      if segs[1][1].manner == "sibilant" else "affricate",
                      voiced=segs[0][1].voiced)
            phone, feats = nearest_arpabet(f), f
        else:
            phone, feats = _map_one(*segs[0]), segs[0][1]
    if feats.vowel:
        reduced = len(vowels) == 1 and vowels[0][0] in REDUCED_VOWELS
        phone += "0" if reduced else "1"
    return Mapped(ipa=ipa, arpabet=phone, features=feats, warning=warning)


def table_markdown(symbols: list[str] | None = None) -> str:
    """The mapping as a Markdown table: IPA symbol, its features, its ARPAbet phone."""
    rows = ["| IPA | features | ARPAbet |", "|---|---|---|"]
    for sym in symbols or list(IPA_FEATURES) + list(AFFRICATES):
        m = to_arpabet(sym)
        f = m.features
        if f is None:
            desc = ""
        elif f.vowel:
            desc = (f"vowel, height {f.height:g}, backness {f.backness:g}, rounding "
                    f"{f.rounding:g}" + (", rhotic" if f.rhotic else ""))
        else:
            desc = (f"{'voiced' if f.voiced else 'voiceless'} {f.place} "
                    f"{f.manner.replace('_', ' ')}")
        rows.append(f"| {sym} | {desc} | {m.arpabet} |")
    return "\n".join(rows) + "\n"
