"""Timing marks from text-to-speech services -> an Alignment, instead of aligning.

Apps that speak through a cloud voice already receive, with the audio, when each word (and
often each viseme) is spoken. `read_alignment_file` takes such a file, detects its format, and
returns the same `Alignment` an aligner would (TextGrids go to `textgrid.read_textgrid` as
before). Three formats are read:
* **Amazon Polly speech marks** (`polly`): JSON lines, one object per mark, `{"time": ms,
  "type": "sentence"|"word"|"viseme"|"ssml", "start": byte, "end": byte, "value": ...}`.
  Kept: `word` marks (value = the word, time = its start) and `viseme` marks (value = Polly's
  viseme name: p t S T f k i r s u @ a e E o O l sil). Ignored: `sentence` and `ssml` marks
  (no timing a face needs; their times are still checked), byte offsets.
* **Azure Speech viseme events** (`azure`): the SDK's VisemeReceived events saved as JSON,
  `{"AudioOffset": ticks, "VisemeId": 0..21}` (ticks = 100 ns), with WordBoundary events
  `{"AudioOffset": ticks, "Duration": ticks or "hh:mm:ss.fffffff", "Text": "word",
  "BoundaryType": "Word"}`, either as one list of events or as `{"visemes": [...], "words":
  [...]}` (key case is ignored; `wordBoundaries` is accepted for `words`). Kept: viseme ids and
  times, word text, start and duration. Ignored: `Animation` (SVG / blend-shape frames),
  `TextOffset`/`WordLength`, punctuation and sentence boundaries.
* **Character-timed alignments** (`characters`): `{"characters": [...],
  "character_start_times_seconds": [...], "character_end_times_seconds": [...]}`, bare or under
  `alignment` / `normalized_alignment` (ElevenLabs' with-timestamps response; `alignment` is
  used when both are there), or the streaming form `{"chars", "charStartTimesMs",
  "charDurationsMs"}`. Kept: every character's start and end; words are runs of letters,
  digits and apostrophes. Ignored: the audio (`audio_base64`).

How marks become phones:
* word marks + the lexicon give phones: each word's text is normalised
  (`text.normalize`: numbers spoken, punctuation dropped) and pronounced from CMUdict (or the
  letter-to-sound fallback); its phones fill the word's span. With viseme marks inside the
  word (Polly, Azure), phones are matched in order to the visemes of their class (a longest
  common subsequence) and start exactly at their viseme's time; the phones between matches
  share the time left in proportion to their typical durations. With character times, the
  phones are spread over the word in proportion to typical duration, mapped through the
  characters' own times (a slow letter gets more of the word).
* a word's end is its mark's end (Azure Duration, last character's end), else the next
  word's start, cut at a silence viseme in between, and for the last word the audio's end or
  the silence viseme after it.
* viseme-only marks give viseme-level timing: each viseme becomes one representative phone
  of its class (`POLLY_VISEME_PHONE`, `AZURE_VISEME_PHONE`: p -> P, f -> F, ...) lasting to
  the next mark; silence visemes are gaps. Lip closures and f/v contact are kept exactly; which
  vowel or consonant inside a class was said is not known, and `words` is empty.

Bad or inconsistent marks raise InputError naming the file: not JSON, a mark without a time,
times that go backwards, a time past the audio's end (more than `END_TOLERANCE_S`), a word
or character whose end precedes its start, arrays of different lengths, unknown viseme ids.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from voxface.core.alignment import Alignment, Interval
from voxface.core.errors import InputError
from voxface.phonemes.arpabet import typical_duration
from voxface.phonemes.lexicon import add_stress, default_lexicon
from voxface.phonemes.text import normalize
from voxface.phonemes.textgrid import read_textgrid

FORMATS = ("textgrid", "polly", "azure", "characters")
END_TOLERANCE_S = 0.05  # marks may sit this far past the audio's end (rounding, padding)
_TICKS_PER_S = 10_000_000  # Azure: AudioOffset and Duration in 100-ns ticks
_POLLY_TYPES = ("sentence", "word", "viseme", "ssml")
_LAST_WORD_PHONE_S = 0.09  # a last word with no end mark: this much per phone, at most

# Polly's viseme names (en-US phoneme/viseme table) -> the ARPAbet phones of each class.
POLLY_VISEME_CLASSES: dict[str, frozenset[str]] = {
    "p": frozenset({"P", "B", "M"}), "t": frozenset({"T", "D", "N", "L"}),
    "S": frozenset({"CH", "JH", "SH", "ZH"}), "T": frozenset({"TH", "DH"}),
    "f": frozenset({"F", "V"}), "k": frozenset({"K", "G", "NG", "HH"}),
    "i": frozenset({"IY", "IH", "Y"}), "r": frozenset({"R", "ER"}), "s": frozenset({"S", "Z"}),
    "u": frozenset({"UW", "UH", "W"}), "@": frozenset({"AH"}),
    "a": frozenset({"AA", "AE", "AW", "AY"}), "e": frozenset({"EY"}),
    "E": frozenset({"EH", "ER"}), "o": frozenset({"OW"}), "O": frozenset({"AO", "OY"}),
    "l": frozenset({"L"}),
}
# One representative phone per Polly viseme, for viseme-only marks ('sil' = a gap).
POLLY_VISEME_PHONE: dict[str, str] = {
    "p": "P", "t": "T", "S": "SH", "T": "TH", "f": "F", "k": "K", "i": "IY1", "r": "R",
    "s": "S", "u": "UW1", "@": "AH0", "a": "AA1", "e": "EY1", "E": "EH1", "o": "OW1",
    "O": "AO1", "l": "L",
}
# Azure viseme ids (the SAPI / Disney set Azure documents for en-US) -> ARPAbet classes.
AZURE_VISEME_CLASSES: dict[int, frozenset[str]] = {
    1: frozenset({"AE", "AH"}), 2: frozenset({"AA"}), 3: frozenset({"AO"}),
    4: frozenset({"EY", "EH", "UH"}), 5: frozenset({"ER"}), 6: frozenset({"Y", "IY", "IH"}),
    7: frozenset({"W", "UW"}), 8: frozenset({"OW"}), 9: frozenset({"AW"}),
    10: frozenset({"OY"}), 11: frozenset({"AY"}), 12: frozenset({"HH"}), 13: frozenset({"R"}),
    14: frozenset({"L"}), 15: frozenset({"S", "Z"}), 16: frozenset({"SH", "CH", "JH", "ZH"}),
    17: frozenset({"TH", "DH"}), 18: frozenset({"F", "V"}), 19: frozenset({"D", "T", "N"}),
    20: frozenset({"K", "G", "NG"}), 21: frozenset({"P", "B", "M"}),
}
AZURE_VISEME_PHONE: dict[int, str] = {
    1: "AH1", 2: "AA1", 3: "AO1", 4: "EH1", 5: "ER1", 6: "IY1", 7: "UW1", 8: "OW1", 9: "AW1",
    10: "OY1", 11: "AY1", 12: "HH", 13: "R", 14: "L", 15: "S", 16: "SH", 17: "TH", 18: "F",
    19: "T", 20: "K", 21: "P",
}

# (time s, viseme key or None for silence)
_Viseme = tuple[float, Any]
# (text, start s, end s or None)
_Word = tuple[str, float, float | None]


# ----------------------------------------------------------------------------------------------
# Entry points


def read_alignment_file(path: str | os.PathLike, *, duration: float) -> Alignment:
    """`--alignment FILE`: a TextGrid, Polly speech marks, Azure viseme events or a
    character-timed alignment, detected from the content -> Alignment on the audio's timeline.

    duration: the audio's length in seconds (marks past it are an error, see module doc).
    Raises InputError (one line naming the file) for unreadable or inconsistent files.
    """
    p = Path(path)
    kind = detect_format(p)
    if kind == "textgrid":
        return read_textgrid(p, duration=duration)
    return read_marks(p, duration=duration, kind=kind)


def detect_format(path: str | os.PathLike) -> str:
    """One of FORMATS for the file: JSON (lines) are inspected for each format's keys;
    anything else is taken to be a TextGrid (its reader gives the error if it is not)."""
    p = Path(path)
    text = _read(p)
    if not text.lstrip().startswith(("{", "[")):
        return "textgrid"
    return _detect_json(_load_json(text, p), p)[0]


def read_marks(path: str | os.PathLike, *, duration: float, kind: str | None = None,
               lexicon: Any = None) -> Alignment:
    """Read a TTS timing-mark file into an Alignment (source '<format>:<file name>').

    Args:
        path: the marks file (JSON or JSON lines).
        duration: audio length in seconds.
        kind: 'polly', 'azure' or 'characters' (None = detect).
        lexicon: a `lexicon.Lexicon` (default: CMUdict).
    Returns:
        Alignment with words (lower-case) and ARPAbet phones, sorted, non-overlapping, in
        0..duration; `warnings` says what the marks could not tell (module docstring).
    """
    p = Path(path)
    data = _load_json(_read(p), p)
    found, payload = _detect_json(data, p)
    kind = kind or found
    if kind != found:
        raise InputError(f"expected {kind} marks, found {found}", path=p)
    if kind == "polly":
        words, visemes, match = _polly(payload, duration, p)
    elif kind == "azure":
        words, visemes, match = _azure(payload, duration, p)
    else:
        return _characters(payload, duration, p, lexicon)
    return _build(words, visemes, match, duration, p, kind, lexicon)


# ----------------------------------------------------------------------------------------------
# Reading and detection


def _read(p: Path) -> str:
    if not p.exists():
        raise InputError("no such file", path=p)
    if p.is_dir():
        raise InputError("is a directory, expected an alignment or timing-mark file", path=p)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read file ({exc.strerror or exc})", path=p) from None
    if not data.strip():
        raise InputError("file is empty, expected a TextGrid or TTS timing marks", path=p)
    for enc in ("utf-8-sig", "utf-16"):
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            continue
    raise InputError("cannot decode text (not UTF-8 or UTF-16)", path=p)


def _load_json(text: str, p: Path) -> Any:
    """A JSON document, or a list of objects for JSON lines (Polly)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as whole:
        items = []
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                items.append(json.loads(line))
            except json.JSONDecodeError as exc:
                if n == 1:
                    raise InputError(f"not JSON ({whole.msg} at line {whole.lineno})",
                                     path=p) from None
                raise InputError(f"line {n}: not JSON ({exc.msg})", path=p) from None
        return items


def _lower_keys(obj: Any) -> Any:
    return {str(k).lower(): v for k, v in obj.items()} if isinstance(obj, dict) else obj


def _detect_json(data: Any, p: Path) -> tuple[str, Any]:
    """(format, the part of `data` its reader takes)."""
    if isinstance(data, dict):
        low = _lower_keys(data)
        for key in ("alignment", "normalized_alignment"):
            if isinstance(low.get(key), dict):
                return _detect_json(low[key], p)
        if "characters" in low or "chars" in low:
            return "characters", low
        if any(k in low for k in ("visemes", "words", "wordboundaries", "events")):
            return "azure", low
        if "audiooffset" in low:
            return "azure", [data]
        if low.get("type") in _POLLY_TYPES:
            return "polly", [data]
    if isinstance(data, list) and data and all(isinstance(x, dict) for x in data):
        first = _lower_keys(data[0])
        if "audiooffset" in first:
            return "azure", data
        if first.get("type") in _POLLY_TYPES:
            return "polly", data
    raise InputError("not a known timing-mark format (expected Polly speech marks, Azure "
                     "viseme/word-boundary events, a character alignment or a TextGrid)", path=p)


def _number(value: Any, what: str, p: Path) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(f"{what}: expected a number, got {value!r}", path=p)
    if value != value or value in (float("inf"), float("-inf")):
        raise InputError(f"{what}: not a finite number", path=p)
    return float(value)


def _check_time(t: float, what: str, duration: float, p: Path) -> None:
    if t < 0:
        raise InputError(f"{what}: negative time {t:.3f} s", path=p)
    if t > duration + END_TOLERANCE_S:
        raise InputError(f"{what}: time {t:.3f} s is past the audio's end ({duration:.3f} s)",
                         path=p)


def _check_order(times: list[tuple[float, str]], kind: str, p: Path) -> None:
    for (a, _), (b, what) in zip(times, times[1:]):
        if b < a - 1e-9:
            raise InputError(f"{what}: {kind} marks out of order ({b:.3f} s after "
                             f"{a:.3f} s)", path=p)


# ----------------------------------------------------------------------------------------------
# The three formats


def _polly(items: list, duration: float, p: Path) -> tuple[list[_Word], list[_Viseme], Any]:
    words: list[_Word] = []
    visemes: list[_Viseme] = []
    order: dict[str, list[tuple[float, str]]] = {}
    for n, raw in enumerate(items, 1):
        if not isinstance(raw, dict):
            raise InputError(f"mark {n}: expected a JSON object", path=p)
        mark = _lower_keys(raw)
        what = f"mark {n}"
        if "time" not in mark or "type" not in mark:
            raise InputError(f"{what}: a Polly speech mark needs 'time' and 'type'", path=p)
        t = _number(mark["time"], f"{what} time", p) / 1000.0
        kind = mark["type"]
        if kind not in _POLLY_TYPES:
            raise InputError(f"{what}: unknown mark type {kind!r} (sentence, word, viseme, "
                             "ssml)", path=p)
        _check_time(t, what, duration, p)
        order.setdefault(kind, []).append((t, what))
        value = mark.get("value")
        if kind == "word":
            if not isinstance(value, str):
                raise InputError(f"{what}: word mark without a text value", path=p)
            words.append((value, t, None))
        elif kind == "viseme":
            if value == "sil":
                visemes.append((t, None))
            elif isinstance(value, str) and value in POLLY_VISEME_CLASSES:
                visemes.append((t, value))
            else:
                raise InputError(f"{what}: unknown Polly viseme {value!r} (known: "
                                 f"{' '.join(POLLY_VISEME_CLASSES)} sil)", path=p)
    for kind, times in order.items():
        _check_order(times, kind, p)
    return words, visemes, "polly"


def _ticks(value: Any, what: str, p: Path) -> float:
    """Azure ticks (100 ns) or a .NET TimeSpan string 'hh:mm:ss.fffffff' -> seconds."""
    if isinstance(value, str):
        m = re.fullmatch(r"(?:(\d+)\.)?(\d+):(\d+):(\d+(?:\.\d+)?)", value.strip())
        if not m:
            raise InputError(f"{what}: expected ticks or hh:mm:ss.fffffff, got {value!r}",
                             path=p)
        days, h, mi, s = m.groups()
        return int(days or 0) * 86400 + int(h) * 3600 + int(mi) * 60 + float(s)
    return _number(value, what, p) / _TICKS_PER_S


def _azure(payload: Any, duration: float, p: Path) -> tuple[list[_Word], list[_Viseme], Any]:
    if isinstance(payload, dict):
        vis_items = payload.get("visemes") or []
        word_items = payload.get("words") or payload.get("wordboundaries") or []
        events = payload.get("events") or []
    else:
        vis_items, word_items, events = [], [], payload
    for what, items in (("visemes", vis_items), ("words", word_items), ("events", events)):
        if not isinstance(items, list):
            raise InputError(f"Azure {what}: expected a list of events", path=p)
    vis_items, word_items = list(vis_items), list(word_items)
    for e in events:
        low = _lower_keys(e)
        (vis_items if "visemeid" in low else word_items).append(e)
    visemes: list[_Viseme] = []
    words: list[_Word] = []
    for n, raw in enumerate(vis_items, 1):
        ev = _lower_keys(raw)
        what = f"viseme event {n}"
        if not isinstance(ev, dict) or "audiooffset" not in ev or "visemeid" not in ev:
            raise InputError(f"{what}: needs AudioOffset and VisemeId", path=p)
        t = _ticks(ev["audiooffset"], f"{what} AudioOffset", p)
        vid = ev["visemeid"]
        if isinstance(vid, bool) or not isinstance(vid, int) or not 0 <= vid <= 21:
            raise InputError(f"{what}: VisemeId {vid!r} is not 0..21", path=p)
        _check_time(t, what, duration, p)
        visemes.append((t, vid if vid else None))
    for n, raw in enumerate(word_items, 1):
        ev = _lower_keys(raw)
        what = f"word boundary {n}"
        if not isinstance(ev, dict) or "audiooffset" not in ev:
            raise InputError(f"{what}: needs AudioOffset", path=p)
        if str(ev.get("boundarytype", "Word")).lower().removeprefix("speechsynthesisboundary"
                                                                   "type.") != "word":
            continue  # punctuation and sentence boundaries carry no articulation
        text = ev.get("text")
        if not isinstance(text, str):
            raise InputError(f"{what}: word boundary without Text", path=p)
        t = _ticks(ev["audiooffset"], f"{what} AudioOffset", p)
        end = None
        if ev.get("duration") is not None:
            d = _ticks(ev["duration"], f"{what} Duration", p)
            if d < 0:
                raise InputError(f"{what}: negative Duration", path=p)
            end = t + d
            _check_time(end, f"{what} end", duration, p)
        _check_time(t, what, duration, p)
        words.append((text, t, end))
    if not visemes and not words:
        raise InputError("no viseme or word boundary events", path=p)
    _check_order([(t, f"viseme event {i + 1}") for i, (t, _) in enumerate(visemes)],
                 "viseme", p)
    _check_order([(w[1], f"word boundary {i + 1}") for i, w in enumerate(words)], "word", p)
    return words, visemes, "azure"


def _characters(payload: dict, duration: float, p: Path, lexicon: Any) -> Alignment:
    if "characters" in payload:
        chars = payload["characters"]
        starts = payload.get("character_start_times_seconds",
                             payload.get("characterstarttimeseconds"))
        ends = payload.get("character_end_times_seconds",
                           payload.get("characterendtimeseconds"))
        scale = 1.0
    else:
        chars = payload["chars"]
        starts = payload.get("charstarttimesms")
        durs = payload.get("chardurationsms")
        if isinstance(starts, list) and isinstance(durs, list) and len(starts) == len(durs):
            ends = [_number(s, "charStartTimesMs", p) + _number(d, "charDurationsMs", p)
                    for s, d in zip(starts, durs)]
        else:
            ends = durs
        scale = 1e-3
    if isinstance(chars, str):
        chars = list(chars)
    if not (isinstance(chars, list) and isinstance(starts, list) and isinstance(ends, list)):
        raise InputError("character alignment needs lists of characters, start times and end "
                         "times", path=p)
    if not (len(chars) == len(starts) == len(ends)):
        raise InputError(f"character alignment: {len(chars)} characters but {len(starts)} "
                         f"start and {len(ends)} end times", path=p)
    timed: list[tuple[str, float, float]] = []
    for i, (c, s, e) in enumerate(zip(chars, starts, ends)):
        what = f"character {i + 1} ({c!r})"
        s = _number(s, f"{what} start", p) * scale
        e = _number(e, f"{what} end", p) * scale
        if e < s - 1e-9:
            raise InputError(f"{what}: ends ({e:.3f} s) before it starts ({s:.3f} s)", path=p)
        _check_time(s, what, duration, p)
        _check_time(e, what, duration, p)
        timed.append((str(c), s, e))
    _check_order([(s, f"character {i + 1}") for i, (_, s, _) in enumerate(timed)], "character",
                 p)
    # Words: runs of letters, digits and apostrophes.
    runs: list[list[tuple[str, float, float]]] = []
    current: list[tuple[str, float, float]] = []
    for item in timed:
        if item[0].isalnum() or item[0] in "'\u2019":
            current.append(item)
        elif current:
            runs.append(current)
            current = []
    if current:
        runs.append(current)
    words: list[Interval] = []
    phones: list[Interval] = []
    lex = _lexicon(lexicon)
    for run in runs:
        text = "".join(c for c, _, _ in run)
        start, end = run[0][1], max(e for _, _, e in run)
        if words and start < words[-1].end:
            start = words[-1].end
        if end - start <= 1e-6:
            continue
        pron = _pronounce(text, lex)
        if not pron:
            continue
        # phone boundaries at fractions of the word (typical durations), mapped through the
        # characters' own times: fraction k/n of the letters is reached at char k's start.
        fr = _fractions(pron)
        n = len(run)
        xs = [k / n for k in range(n)] + [1.0]
        ts = [max(min(s, end), start) for _, s, _ in run] + [end]
        import numpy as np

        bounds = np.interp(fr, xs, ts)
        bounds[0], bounds[-1] = start, end
        bounds = np.maximum.accumulate(bounds)
        for k, ph in enumerate(pron):
            if bounds[k + 1] > bounds[k] + 1e-6:
                phones.append(Interval(ph, float(bounds[k]), float(bounds[k + 1])))
        words.append(Interval(" ".join(_words_of(text)) or text.lower(), start, end))
    if not phones:
        raise InputError("character alignment has no speakable words", path=p)
    return Alignment(words=tuple(words), phones=tuple(phones), duration=duration,
                     source=f"characters:{p.name}",
                     warnings=("character-timed marks: phones inside each word come from the "
                               "lexicon, spread over its characters' times",))


# ----------------------------------------------------------------------------------------------
# Marks -> phones


def _lexicon(lexicon: Any):
    if lexicon is not None:
        return lexicon

    return default_lexicon()


def _words_of(text: str) -> list[str]:
    return normalize(text)


def _pronounce(text: str, lex: Any) -> list[str]:
    """Phones (stress digits guessed) of a written word; numbers are spoken ('42' -> 4 words)."""

    phones: list[str] = []
    for w in _words_of(text):
        phones += add_stress(lex.pronounce(w))
    return phones


def _fractions(phones: list[str]) -> list[float]:
    """Cumulative boundaries 0..1 of phones sharing a span by their typical durations."""

    d = [typical_duration(ph) for ph in phones]
    total = sum(d)
    out, acc = [0.0], 0.0
    for x in d:
        acc += x
        out.append(acc / total)
    return out


def _matches(phone: str, viseme: Any, family: str) -> bool:
    base = phone.rstrip("012")
    classes = POLLY_VISEME_CLASSES if family == "polly" else AZURE_VISEME_CLASSES
    return base in classes.get(viseme, ())


def _lcs(phones: list[str], visemes: list[Any], family: str) -> dict[int, int]:
    """phone index -> viseme index of a longest order-keeping matching of phones to visemes
    of their class."""
    n, m = len(phones), len(visemes)
    table = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n - 1, -1, -1):
        for j in range(m - 1, -1, -1):
            if _matches(phones[i], visemes[j], family):
                table[i][j] = 1 + table[i + 1][j + 1]
            else:
                table[i][j] = max(table[i + 1][j], table[i][j + 1])
    out: dict[int, int] = {}
    i = j = 0
    while i < n and j < m:
        if _matches(phones[i], visemes[j], family) and table[i][j] == 1 + table[i + 1][j + 1]:
            out[i] = j
            i, j = i + 1, j + 1
        elif table[i + 1][j] >= table[i][j + 1]:
            i += 1
        else:
            j += 1
    return out


def _build(words: list[_Word], visemes: list[_Viseme], family: str, duration: float,
           p: Path, kind: str, lexicon: Any) -> Alignment:
    source = f"{kind}:{p.name}"
    if not words:
        return _viseme_only(visemes, family, duration, p, source)
    lex = _lexicon(lexicon)
    out_words: list[Interval] = []
    phones: list[Interval] = []
    notes: list[str] = []
    for i, (text, start, end) in enumerate(words):
        nxt = words[i + 1][1] if i + 1 < len(words) else None
        if out_words and start < out_words[-1].end:
            start = out_words[-1].end
        pron = _pronounce(text, lex)
        if end is None:
            limit = nxt if nxt is not None else duration
            # a silence viseme after the word's first viseme ends it early
            sil = [t for t, v in visemes if v is None and start < t < limit]
            end = sil[0] if sil else limit
            if nxt is None and not sil and not visemes:
                end = min(duration, start + _LAST_WORD_PHONE_S * max(len(pron), 1))
        end = min(end, duration)
        if not pron or end - start <= 1e-6:
            continue
        inside = [(t, v) for t, v in visemes if start - 1e-9 <= t < end - 1e-9 and v is not None]
        match = _lcs(pron, [v for _, v in inside], family) if inside else {}
        # anchors: phone index -> start time; the word's end closes the last phone
        anchors = {k: max(inside[j][0], start) for k, j in match.items()}
        anchors.setdefault(0, start)
        anchors[len(pron)] = end
        times = _fill(pron, anchors)
        for k, ph in enumerate(pron):
            if times[k + 1] > times[k] + 1e-6:
                phones.append(Interval(ph, times[k], times[k + 1]))
        out_words.append(Interval(" ".join(_words_of(text)) or text.lower(), start, end))
    if not phones:
        raise InputError("timing marks hold no speakable words", path=p)
    if visemes:
        notes.append(f"{kind} word marks: phones from the lexicon, starting at their matching "
                     "viseme marks")
    else:
        notes.append(f"{kind} word marks without visemes: phones from the lexicon spread over "
                     "each word by typical duration")
    return Alignment(words=tuple(out_words), phones=tuple(phones), duration=duration,
                     source=source, warnings=tuple(notes))


def _fill(pron: list[str], anchors: dict[int, float]) -> list[float]:
    """Boundary times [len(pron)+1] from anchored boundaries, the rest shared between anchors
    by typical duration. Anchors out of order (a viseme matched late) are dropped."""

    keys = sorted(anchors)
    good = [keys[0]]
    for k in keys[1:]:
        if anchors[k] >= anchors[good[-1]] or k == keys[-1]:
            good.append(k)
    # the word end must stay; drop earlier anchors that pass it
    while len(good) > 2 and anchors[good[-2]] > anchors[good[-1]]:
        good.pop(-2)
    times = [0.0] * (len(pron) + 1)
    for a, b in zip(good, good[1:]):
        ta, tb = anchors[a], anchors[b]
        d = [typical_duration(ph) for ph in pron[a:b]]
        total = sum(d) or 1.0
        acc = 0.0
        for k in range(a, b):
            times[k] = ta + (tb - ta) * acc / total
            acc += d[k - a]
    times[len(pron)] = anchors[len(pron)]
    return times


def _viseme_only(visemes: list[_Viseme], family: str, duration: float, p: Path,
                 source: str) -> Alignment:
    rep = POLLY_VISEME_PHONE if family == "polly" else AZURE_VISEME_PHONE
    phones: list[Interval] = []
    for k, (t, v) in enumerate(visemes):
        end = visemes[k + 1][0] if k + 1 < len(visemes) else duration
        if v is None or end <= t + 1e-6:
            continue
        phones.append(Interval(rep[v], t, end))
    if not phones:
        raise InputError("timing marks hold only silence", path=p)
    return Alignment(words=(), phones=tuple(phones), duration=duration, source=source,
                     warnings=(f"{source}: viseme marks only: one representative phone per "
                               "viseme (lip closures and f/v contact exact, vowel identity "
                               "within a viseme class unknown); no words",))
