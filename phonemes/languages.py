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

from dataclasses import replace
from functools import lru_cache

from voxface.core.errors import InputError
from voxface.phonemes.espeak import Synthesis, VoiceInfo, synthesize, voices


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


def resolve_language(code: str) -> VoiceInfo:
    """BCP-47 code (any case, '_' or '-') -> the best installed espeak voice for it.

    Raises InputError naming the code and listing the supported codes when none fits.
    """
    want = code.strip().lower().replace("_", "-")
    preferred = [v for v in _voices() if v.identifier == PREFERRED_VOICES.get(want)]
    found = preferred[0] if preferred else _best(want)
    if found is None and "-" in want:
        found = _best(want.split("-", 1)[0])
    if found is None:
        raise InputError(f"--language: espeak-ng has no voice for {code!r}; supported: "
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
