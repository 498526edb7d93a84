"""Any language espeak-ng speaks: a BCP-47 code -> an espeak voice -> exact IPA phone events.

`resolve_language('pt-br')` finds the installed voice for a code by asking espeak-ng for its
voice list (espeak_ListVoices): an exact language match at the best (lowest) priority first
('fr' -> French (France), 'zh' -> Mandarin, 'pt' -> Portugal), then the primary subtag
('es-mx' -> es). An unknown code raises InputError listing the supported ones.

`synthesize_language(text, code)` speaks the text with that voice (numbers and symbols are
verbalised by espeak in that language) and returns a phonemes.espeak.Synthesis whose phones
are exact (espeak's own events, stops at their closure) with ARPAbet labels mapped from IPA by
articulatory features (phonemes.ipa) and the IPA itself in `.ipa`. English codes keep the
English mnemonic path (phonemes.espeak), so English output is exactly what it was.
"""

from __future__ import annotations

import re
from dataclasses import replace
from functools import lru_cache
from typing import Callable

import numpy as np

from voxface.core.alignment import Interval
from voxface.core.audio import from_array
from voxface.core.errors import InputError
from voxface.phonemes.espeak import Synthesis, VoiceInfo, synthesize, voices

# '[lang:de]' / '[lang=pt-br]' in a text switches the language from there on.
LANGUAGE_TAG = re.compile(r"\[\s*lang\s*[:=]\s*([A-Za-z0-9_-]*)\s*\]", re.IGNORECASE)


# Codes whose best-priority voice is not the one to use: espeak-ng 1.51's 'cmn' voice reads
# Mandarin characters through pinyin whose tone digits it then speaks in English ('ni three
# hao three'); its 'cmn-latn-pinyin' voice speaks the same characters as Mandarin.
PREFERRED_VOICES: dict[str, str] = {"zh": "sit/cmn-Latn-pinyin", "zh-cmn": "sit/cmn-Latn-pinyin",
                                    "cmn": "sit/cmn-Latn-pinyin"}


@lru_cache(maxsize=1)
def _voices() -> tuple[VoiceInfo, ...]:
    return voices()


def supported_languages() -> tuple[str, ...]:
    """Every language code espeak-ng's installed voices speak, sorted ('af', ..., 'zh')."""
    return tuple(sorted({code for v in _voices() for _, code in v.languages}))


def resolve_language(code: str, *, where: str = "--language") -> VoiceInfo:
    """BCP-47 code (any case, '_' or '-') -> the best installed espeak voice for it.

    Raises InputError naming the code and listing the supported codes when none fits.
    """
    want = code.strip().lower().replace("_", "-")
    preferred = [v for v in _voices() if v.identifier == PREFERRED_VOICES.get(want)]
    found = preferred[0] if preferred else _best(want)
    if found is None and "-" in want:
        found = _best(want.split("-", 1)[0])
    if found is None:
        raise InputError(f"{where}: espeak-ng has no voice for {code!r}; supported: "
                         + ", ".join(supported_languages()))
    return found


def _best(code: str) -> VoiceInfo | None:
    best: tuple[int, int, VoiceInfo] | None = None
    for order, v in enumerate(_voices()):
        for priority, lang in v.languages:
            if lang == code and (best is None or (priority, order) < best[:2]):
                best = (priority, order, v)
    return best[2] if best else None


def is_english(voice: VoiceInfo) -> bool:
    """True for an English voice, which the mnemonic path (phonemes.espeak) handles."""
    return bool(voice.languages) and voice.languages[0][1].split("-")[0] == "en"


def synthesize_language(text: str, language: str, *, rate_wpm: int = 175, pitch: int = 50,
                        variant: str | None = None, pad_s: float = 0.0) -> Synthesis:
    """Speak `text` in `language` (a BCP-47 code) with exact phone times.

    Returns phonemes.espeak.Synthesis with `.language` = the code as given, `.ipa` = the IPA
    of each phone (None for English, whose phones come from espeak's English mnemonics).
    Raises InputError for an unsupported code or empty text.
    """
    voice = resolve_language(language)
    name = voice.identifier
    if is_english(voice):
        return _tagged(synthesize(text, voice=name, rate_wpm=rate_wpm, pitch=pitch,
                                  variant=variant, pad_s=pad_s), language)
    return synthesize(text, voice=name, rate_wpm=rate_wpm, pitch=pitch, variant=variant,
                      pad_s=pad_s, ipa=True, language=language)


def _tagged(syn: Synthesis, language: str) -> Synthesis:
    return replace(syn, language=language)


def split_language_tags(text: str, default: str | None) -> tuple[str, list[tuple[str | None,
                                                                               str]]]:
    """'Hello [lang:es] hola amigos [lang:de] und tschüss' -> (the text without language tags,
    [(None or `default`, 'Hello '), ('es', ' hola amigos '), ('de', ' und tschüss')]).

    Segments holding no text are dropped. Every code is checked (InputError listing the
    supported ones for an unknown code; an empty code is an error too).
    """
    segments: list[tuple[str | None, str]] = []
    language, pos = default, 0
    for m in LANGUAGE_TAG.finditer(text):
        segments.append((language, text[pos:m.start()]))
        code = m.group(1)
        if not code:
            raise InputError(f"language tag {m.group(0)!r} names no language")
        resolve_language(code, where=f"language tag {m.group(0)}")
        language, pos = code, m.end()
    segments.append((language, text[pos:]))
    clean = "".join(t for _, t in segments)
    return clean, [(lang, t) for lang, t in segments if t.strip()]


def synthesize_segments(segments: list[tuple[str | None, str]], *, voice: str = "en-us",
                        rate_wpm: int = 175, pitch: int = 50,
                        clean: Callable[[str], str] = lambda t: t) -> Synthesis:
    """Speak text segments one after another, each in its language (None: the English
    `voice`), as one Synthesis: samples joined, phone and word times shifted to the joined
    timeline, each still exact. `.ipa` holds '' for phones from the English mnemonic path;
    `.language` is the first segment's code. `clean` turns a segment's text into what is
    spoken (e.g. removing emotion tags). Raises InputError when nothing is left to speak.
    """
    parts: list[Synthesis] = []
    for language, text in segments:
        spoken = clean(text)
        if not spoken or not spoken.strip():
            continue
        if language is None:
            parts.append(synthesize(spoken, voice=voice, rate_wpm=rate_wpm, pitch=pitch))
        else:
            parts.append(synthesize_language(spoken, language, rate_wpm=rate_wpm, pitch=pitch))
    if not parts:
        raise InputError("say: the text is empty")
    if len(parts) == 1:
        return parts[0]
    rate = parts[0].sample_rate
    offset = 0.0
    phones: list[Interval] = []
    events: list[Interval] = []
    words: list[Interval] = []
    ipa: list[str] = []
    notes: list[str] = []
    for part in parts:
        def shift(ivs):
            return [Interval(iv.label, iv.start + offset, iv.end + offset) for iv in ivs]

        phones += shift(part.phones)
        events += shift(part.event_phones)
        words += shift(part.words)
        ipa += list(part.ipa) if part.ipa is not None else [""] * len(part.phones)
        notes += [n for n in part.notes if n not in notes]
        offset += part.samples.shape[0] / rate
    samples = np.concatenate([p.samples for p in parts])
    return Synthesis(text=" ".join(p.text for p in parts), samples=samples, sample_rate=rate,
                     audio=from_array(samples, rate), phones=tuple(phones), words=tuple(words),
                     unknown=tuple(dict.fromkeys(u for p in parts for u in p.unknown)),
                     event_phones=tuple(events), ipa=tuple(ipa),
                     language=next((p.language for p in parts if p.language), None),
                     notes=tuple(notes))
