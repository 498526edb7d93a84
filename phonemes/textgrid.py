"""Praat TextGrids in and out: Montreal Forced Aligner output -> Alignment, and back.

Reading (`read_textgrid`) takes Praat's long ("xmin = 0") and short (bare values) text
formats, in UTF-8 (with or without BOM), UTF-16 (LE/BE, BOM) or Latin-1. Numbers are parsed
with `float()` on the text exactly as written, so MFA's boundaries come back bit-exact.

Tiers: the words tier is the interval tier named 'words'/'word' (any case) or MFA's
multi-speaker '<speaker> - words'; the phones tier likewise 'phones'/'phone'/'phonemes'.
Without such names the first interval tier is taken as words and the second as phones when
its labels are all phone symbols (otherwise, e.g. a second speaker's transcript, it is
ignored with a warning). With several speakers the first speaker's tiers are used.

Labels:
- silence: empty, 'sil', 'sp', 'spn', '<eps>', '<sil>' (any case) -> left out; gaps are
  silence. 'spn' (MFA's spoken noise) has no mouth shape we could know, so it is silence too;
  its word, '<unk>', is kept as a word (the speaker did talk).
- ARPAbet phones keep their stress digits ('AH0') and are upper-cased.
- IPA phones (MFA's english_mfa / english_us_mfa models) are MAPPED to ARPAbet by
  `IPA_TO_ARPABET` after removing diacritics (ʲ ʷ ʰ ̩ ː): vowels get stress 1, except the
  reduced ə ɐ -> AH0, ɚ -> ER0. A warning on the Alignment says so. A phone label that is
  neither ARPAbet nor in the table raises InputError naming it.
- words are lower-cased; an utterance-level tier (MFA input transcripts, one interval per
  utterance) is returned as-is: each interval's text is one "word" and `phones` is empty,
  with a warning. Callers can take its text as a transcript and align it.
"""

from __future__ import annotations

import os
import re
from dataclasses import replace
from pathlib import Path

from voxface.core.alignment import Alignment, Interval
from voxface.core.errors import InputError
from voxface.core.fileio import atomic_path
from voxface.phonemes.arpabet import PHONES, VOWELS, strip_stress

SILENCE_LABELS = frozenset({"", "sil", "sp", "spn", "<eps>", "<sil>", "sil0"})

# MFA IPA phone (diacritics removed) -> ARPAbet with stress digit for vowels.
IPA_TO_ARPABET: dict[str, str] = {
    # vowels and diphthongs
    "a": "AA1", "ɑ": "AA1", "ɒ": "AA1", "æ": "AE1", "ʌ": "AH1", "ə": "AH0", "ɐ": "AH0",
    "ɔ": "AO1", "ɛ": "EH1", "e": "EY1", "ɜ": "ER1", "ɝ": "ER1", "ɚ": "ER0", "ɪ": "IH1",
    "i": "IY1", "ʊ": "UH1", "u": "UW1", "ʉ": "UW1", "o": "OW1", "ɵ": "OW1",
    "aj": "AY1", "aɪ": "AY1", "aw": "AW1", "aʊ": "AW1", "ej": "EY1", "eɪ": "EY1",
    "ow": "OW1", "oʊ": "OW1", "əw": "OW1", "əʊ": "OW1", "ɔj": "OY1", "ɔɪ": "OY1", "oj": "OY1",
    # consonants
    "b": "B", "d": "D", "ɡ": "G", "g": "G", "ɟ": "G", "k": "K", "c": "K", "p": "P", "t": "T",
    "ɾ": "T", "ʔ": "T", "tʃ": "CH", "ʧ": "CH", "dʒ": "JH", "ʤ": "JH", "f": "F", "v": "V",
    "θ": "TH", "ð": "DH", "s": "S", "z": "Z", "ʃ": "SH", "ʒ": "ZH", "h": "HH", "ç": "HH",
    "x": "HH", "m": "M", "ɱ": "M", "n": "N", "ɲ": "N", "ŋ": "NG", "l": "L", "ɫ": "L",
    "ʎ": "L", "ɹ": "R", "r": "R", "ɻ": "R", "w": "W", "ʍ": "W", "j": "Y",
}
# Secondary articulation, aspiration, syllabicity and length marks: dropped before lookup.
_IPA_DIACRITICS = "ʲʷʰ\u0329\u030dːˑ\u02de"

_ARPABET = frozenset(PHONES)
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+]?inf(?:inity)?|nan",
                     re.IGNORECASE)
# One token: a quoted string ("" escapes a quote), a '!' comment, or a run of other text.
_TOKEN = re.compile(r'"((?:[^"]|"")*)"|(!)[^\n]*|([^\s"=]+)', re.DOTALL)
_WORDS_NAMES = ("words", "word")
_PHONES_NAMES = ("phones", "phone", "phonemes", "phoneme")


# ----------------------------------------------------------------------------------- reading

def _decode(data: bytes, path: Path) -> str:
    """File bytes -> text. Praat writes ASCII/UTF-8, or UTF-16 with a BOM for non-ASCII."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="strict")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    if len(data) >= 2 and b"\0" in data[:200]:
        # UTF-16 without BOM: the NUL bytes sit on the high-order side of ASCII characters.
        return data.decode("utf-16-be" if data[0] == 0 else "utf-16-le")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _tokens(text: str) -> list[tuple[str, object]]:
    """Text -> [('str', s) | ('num', float) | ('flag', bool) | ('word', s)].

    Labels like `xmin =`, `item [1]:`, `intervals: size =` become 'word' tokens the reader
    skips, which is how Praat reads both long and short formats with one grammar."""
    out: list[tuple[str, object]] = []
    for m in _TOKEN.finditer(text):
        string, comment, other = m.group(1), m.group(2), m.group(3)
        if string is not None:
            out.append(("str", string.replace('""', '"')))
        elif comment is not None:
            continue
        elif other == "<exists>":
            out.append(("flag", True))
        elif other == "<absent>":
            out.append(("flag", False))
        elif _NUMBER.fullmatch(other):
            out.append(("num", other))
        else:
            out.append(("word", other))
    return out


class _Reader:
    """Pulls typed values from the token stream, skipping label words."""

    def __init__(self, tokens: list[tuple[str, object]], path: Path):
        self.tokens = [t for t in tokens if t[0] != "word"]
        self.i = 0
        self.path = path

    def _next(self, what: str) -> tuple[str, object]:
        if self.i >= len(self.tokens):
            raise InputError(f"malformed TextGrid: file ends early (expected {what})",
                             path=self.path)
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def number(self, what: str) -> float:
        kind, value = self._next(what)
        if kind != "num":
            raise InputError(f"malformed TextGrid: expected a number for {what}, "
                             f"found {_show(value)}", path=self.path)
        x = float(value)  # type: ignore[arg-type]
        if x != x or x in (float("inf"), float("-inf")):
            raise InputError(f"malformed TextGrid: {what} is {value}", path=self.path)
        return x

    def count(self, what: str) -> int:
        x = self.number(what)
        if x < 0 or x != int(x):
            raise InputError(f"malformed TextGrid: {what} must be a whole number, got {x}",
                             path=self.path)
        return int(x)

    def string(self, what: str) -> str:
        kind, value = self._next(what)
        if kind != "str":
            raise InputError(f"malformed TextGrid: expected a quoted string for {what}, "
                             f"found {_show(value)}", path=self.path)
        return str(value)

    def flag(self, what: str) -> bool:
        kind, value = self._next(what)
        if kind != "flag":
            raise InputError(f"malformed TextGrid: expected <exists> for {what}, "
                             f"found {_show(value)}", path=self.path)
        return bool(value)


def _show(value: object) -> str:
    text = " ".join(str(value).split())
    return repr(text[:40] + ("..." if len(text) > 40 else ""))


# A parsed tier: (class, name, xmin, xmax, [(xmin, xmax, text)]).
_Tier = tuple[str, str, float, float, list[tuple[float, float, str]]]


def _parse(text: str, path: Path) -> tuple[float, float, list[_Tier]]:
    """TextGrid text -> (xmin, xmax, tiers), numbers exactly as written."""
    head = text.lstrip()[:200]
    if "ooTextFile" not in head:
        if "chronological" in head.lower():
            raise InputError("chronological TextGrid format is not supported; save it from "
                             "Praat as a (short) text file", path=path)
        raise InputError("not a Praat TextGrid text file (no 'File type = \"ooTextFile\"' "
                         "header)", path=path)
    r = _Reader(_tokens(text), path)
    r.string("File type")
    object_class = r.string("Object class")
    if not object_class.startswith("TextGrid"):
        raise InputError(f"Praat object is a {object_class!r}, not a TextGrid", path=path)
    xmin, xmax = r.number("xmin"), r.number("xmax")
    if not r.flag("tiers?"):
        return xmin, xmax, []
    tiers: list[_Tier] = []
    for t in range(r.count("size")):
        kind = r.string(f"class of tier {t + 1}")
        name = r.string(f"name of tier {t + 1}")
        tmin, tmax = r.number(f"xmin of tier {name!r}"), r.number(f"xmax of tier {name!r}")
        n = r.count(f"size of tier {name!r}")
        items: list[tuple[float, float, str]] = []
        if kind == "IntervalTier":
            for k in range(n):
                where = f"interval {k + 1} of tier {name!r}"
                a, b = r.number(f"xmin of {where}"), r.number(f"xmax of {where}")
                items.append((a, b, r.string(f"text of {where}")))
        elif kind == "TextTier":
            for k in range(n):
                where = f"point {k + 1} of tier {name!r}"
                a = r.number(f"time of {where}")
                items.append((a, a, r.string(f"mark of {where}")))
        else:
            raise InputError(f"malformed TextGrid: tier {t + 1} has unknown class {kind!r}",
                             path=path)
        tiers.append((kind, name, tmin, tmax, items))
    return xmin, xmax, tiers


def _tier_role(name: str) -> tuple[str, str] | None:
    """'words' -> ('', 'words'); 'spk1 - phones' -> ('spk1', 'phones'); else None."""
    low = " ".join(name.lower().split())
    for role, names in (("words", _WORDS_NAMES), ("phones", _PHONES_NAMES)):
        for n in names:
            if low == n:
                return "", role
            for sep in (" - ", "-", "_", " "):
                if low.endswith(sep + n):
                    return low[: -len(sep + n)].strip(), role
    return None


def _is_silence(label: str) -> bool:
    return label.strip().lower() in SILENCE_LABELS


def _phone_label(label: str) -> tuple[str | None, bool]:
    """A phone tier label -> (ARPAbet label or None if not a phone, mapped_from_ipa)."""
    text = label.strip()
    upper = text.upper()
    if strip_stress(upper) in _ARPABET and (upper[-1:] not in "012" or
                                            strip_stress(upper) in VOWELS):
        return upper, False
    bare = "".join(ch for ch in text if ch not in _IPA_DIACRITICS)
    if bare in IPA_TO_ARPABET:
        return IPA_TO_ARPABET[bare], True
    return None, False


def _check_tier(items: list[tuple[float, float, str]], name: str, path: Path
                ) -> list[tuple[float, float, str]]:
    """Validated intervals of one tier, sorted; zero-length intervals dropped."""
    ordered = sorted(items, key=lambda it: it[0])
    out = []
    prev_end = float("-inf")
    for a, b, label in ordered:
        if b < a:
            raise InputError(f"malformed TextGrid: tier {name!r} has an interval ending before "
                             f"it starts ({a} > {b})", path=path)
        if a < prev_end - 1e-9:
            raise InputError(f"malformed TextGrid: tier {name!r} has overlapping intervals at "
                             f"{a} s", path=path)
        prev_end = max(prev_end, b)
        if b > a:
            out.append((a, b, label))
    return out


def read_textgrid(path: str | os.PathLike, *, duration: float | None = None) -> Alignment:
    """Read a Praat/MFA TextGrid into an Alignment (source 'textgrid:<file name>').

    Args:
        path: the .TextGrid file.
        duration: audio length in seconds; default the grid's xmax. Intervals past it are
            clipped (with a warning when they reach more than 50 ms beyond).

    Returns:
        Alignment with lower-case words and ARPAbet phones (stress digits kept), silence
        left out, times in seconds exactly as written in the file. See the module docstring
        for tier selection and label rules.

    Raises InputError (one line naming the file and the problem) when the file is missing,
    unreadable, not a TextGrid, malformed, has no interval tier, or holds a phone label that
    is neither ARPAbet nor a known IPA phone.
    """
    p = Path(path)
    if not p.exists():
        raise InputError("no such file", path=p)
    if p.is_dir():
        raise InputError("is a directory, expected a .TextGrid file", path=p)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read file ({exc.strerror or exc})", path=p) from None
    if not data.strip():
        raise InputError("file is empty, expected a TextGrid", path=p)
    try:
        text = _decode(data, p)
    except UnicodeDecodeError as exc:
        raise InputError(f"cannot decode text ({exc.reason})", path=p) from None
    xmin, xmax, tiers = _parse(text, p)
    if xmax < xmin:
        raise InputError(f"malformed TextGrid: xmax {xmax} < xmin {xmin}", path=p)
    interval_tiers = [t for t in tiers if t[0] == "IntervalTier"]
    if not interval_tiers:
        raise InputError("TextGrid has no interval tier (need 'words' and/or 'phones')", path=p)
    warnings: list[str] = []

    # Tier selection: by role name, the first speaker when there are several.
    by_speaker: dict[str, dict[str, _Tier]] = {}
    for t in interval_tiers:
        role = _tier_role(t[1])
        if role is not None:
            by_speaker.setdefault(role[0], {}).setdefault(role[1], t)
    words_tier: _Tier | None = None
    phones_tier: _Tier | None = None
    if by_speaker:
        speaker, chosen = next(iter(by_speaker.items()))
        words_tier, phones_tier = chosen.get("words"), chosen.get("phones")
        if len(by_speaker) > 1:
            warnings.append(f"{len(by_speaker)} speakers' tiers; using {speaker or 'the first'!r}")
    if words_tier is None and phones_tier is None:
        words_tier = interval_tiers[0]
        if len(interval_tiers) > 1:
            second = interval_tiers[1]
            labels = [lab for _, _, lab in second[4] if not _is_silence(lab)]
            if labels and all(_phone_label(lab)[0] for lab in labels):
                phones_tier = second
            else:
                warnings.append(f"ignored tier {second[1]!r} (not phone labels)")
    elif words_tier is None:
        others = [t for t in interval_tiers if t is not phones_tier]
        words_tier = others[0] if others else None

    end = xmax if duration is None else float(duration)
    if duration is not None and (duration != duration or duration <= 0):
        raise InputError(f"duration must be a positive number of seconds, got {duration}",
                         path=p)

    def clip(items: list[tuple[float, float, str]], name: str) -> list[tuple[float, float, str]]:
        kept = []
        for a, b, label in items:
            if a >= end:
                continue
            if b > end + 0.05:
                warnings.append(f"tier {name!r} runs past the audio end {end:.3f} s; clipped")
            kept.append((a, min(b, end), label))
        return kept

    words: list[Interval] = []
    utterances = False
    if words_tier is not None:
        for a, b, label in clip(_check_tier(words_tier[4], words_tier[1], p), words_tier[1]):
            if _is_silence(label) and label.strip().lower() != "<unk>":
                continue
            word = " ".join(label.split()).lower()
            utterances = utterances or " " in word
            words.append(Interval(word, a, b))
        if utterances:
            warnings.append(f"tier {words_tier[1]!r} holds utterance text, not word timing")

    phones: list[Interval] = []
    mapped = False
    if phones_tier is not None:
        for a, b, label in clip(_check_tier(phones_tier[4], phones_tier[1], p), phones_tier[1]):
            if _is_silence(label):
                continue
            arpabet, from_ipa = _phone_label(label)
            if arpabet is None:
                raise InputError(f"phone label {label.strip()!r} at {a} s in tier "
                                 f"{phones_tier[1]!r} is neither ARPAbet nor a known IPA phone",
                                 path=p)
            mapped = mapped or from_ipa
            phones.append(Interval(arpabet, a, b))
    else:
        warnings.append("no phones tier: words only")
    if mapped:
        warnings.append("IPA phones mapped to ARPAbet")
    # Warnings about clipping repeat per interval; keep each once.
    warnings = list(dict.fromkeys(warnings))
    return Alignment(words=tuple(words), phones=tuple(phones), duration=end,
                     source=f"textgrid:{p.name}", warnings=tuple(warnings))


# ----------------------------------------------------------------------------------- writing

def _quote(label: str) -> str:
    return '"' + label.replace('"', '""') + '"'


def _num(x: float) -> str:
    # repr is the shortest text that parses back to the same float: exact round trips.
    return repr(float(x))


def _filled(intervals: tuple[Interval, ...], end: float) -> list[tuple[float, float, str]]:
    """Speech intervals -> a gap-free cover of 0..end with "" for silence."""
    out: list[tuple[float, float, str]] = []
    t = 0.0
    for iv in sorted(intervals, key=lambda iv: iv.start):
        a, b = max(iv.start, t), min(iv.end, end)
        if b <= a:
            continue
        if a - t > 1e-9:
            out.append((t, a, ""))
        elif out:
            a = t  # close a rounding-sized gap instead of writing a near-empty interval
        out.append((a, b, iv.label))
        t = b
    if end - t > 1e-9 or not out:
        out.append((t, end, ""))
    return out


def write_textgrid(alignment: Alignment, path: str | os.PathLike) -> Path:
    """Write `alignment` as a long-format UTF-8 TextGrid with 'words' and 'phones' tiers
    covering 0..duration (silence as empty intervals), readable by Praat and praatio; when the
    phones came from IPA (another language), a tier 'ipa' (each phone's IPA); and, when the
    alignment was scored, a tier 'confidence' (each word's 0..1 as its label).

    The file is written atomically (`voxface.core.fileio.atomic_path`).
    Returns the path written. Raises InputError if the folder does not exist.
    """
    p = Path(path)
    if not p.parent.exists():
        raise InputError("folder does not exist", path=p.parent)
    last = max((iv.end for iv in alignment.words + alignment.phones), default=0.0)
    end = max(float(alignment.duration), last)
    tiers = [("words", _filled(alignment.words, end)), ("phones", _filled(alignment.phones, end))]
    if alignment.ipa is not None:  # speech from IPA: each phone's IPA (phones stay ARPAbet)
        tiers.append(("ipa", _filled(tuple(replace(p, label=i) for p, i in
                                           zip(alignment.phones, alignment.ipa)), end)))
    if alignment.confidence is not None:  # per word 0..1 (voxface.phonemes.confidence)
        scored = tuple(replace(w, label=f"{c:.2f}")
                       for w, c in zip(alignment.words, alignment.confidence))
        tiers.append(("confidence", _filled(scored, end)))
    lines = ['File type = "ooTextFile"', 'Object class = "TextGrid"', "",
             "xmin = 0", f"xmax = {_num(end)}", "tiers? <exists>", f"size = {len(tiers)}",
             "item []:"]
    for t, (name, items) in enumerate(tiers, 1):
        lines += [f"    item [{t}]:", '        class = "IntervalTier"',
                  f"        name = {_quote(name)}", "        xmin = 0",
                  f"        xmax = {_num(end)}", f"        intervals: size = {len(items)}"]
        for k, (a, b, label) in enumerate(items, 1):
            lines += [f"        intervals [{k}]:", f"            xmin = {_num(a)}",
                      f"            xmax = {_num(b)}", f"            text = {_quote(label)}"]
    with atomic_path(p) as tmp, open(tmp, "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(lines) + "\n")
    return p
