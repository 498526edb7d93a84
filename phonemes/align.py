"""The aligner registry and the public `align` entry: audio + transcript -> Alignment.

The CLI reads `ALIGNERS` for its --aligner choices. Every aligner takes the audio and the
normalised word list and returns an `Alignment` on the audio's timeline.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Callable

from voxface.core import overflow
from voxface.core.alignment import Alignment
from voxface.core.audio import Audio
from voxface.core.errors import InputError
from voxface.phonemes.confidence import score_alignment
from voxface.phonemes.mfa import align_mfa
from voxface.phonemes.pocketsphinx_align import align_pocketsphinx, recognize_phones
from voxface.phonemes.refine import refine_alignment
from voxface.phonemes.text import normalize


def _pocketsphinx(audio: Audio, words: list[str]) -> Alignment:
    # Wrapped (integer-overflow) audio turns loud speech into full-scale noise that the
    # silence model wins (voxface.core.overflow): align an unwrapped copy and say so.
    notes: tuple[str, ...] = ()
    spans = []
    if overflow.is_wrapped(audio.samples):
        spans = overflow.wrapped_spans(audio.samples, audio.sample_rate)
        notes = (f"audio looks wrapped by integer overflow (gain raised past full scale) at "
                 f"{overflow.describe(spans)}; aligned an unwrapped copy, phone times there "
                 "are less reliable",)
        audio = replace(audio, samples=overflow.unwrap(audio.samples, audio.sample_rate))
    # Boundaries snapped to nearby intensity landmarks (~1 ms per second of audio).
    result = refine_alignment(audio, align_pocketsphinx(audio, words, pauses=not spans))
    result = replace(result, warnings=notes + result.warnings)
    return score_alignment(result, audio, distorted=spans)


def _mfa(audio: Audio, words: list[str]) -> Alignment:
    # Imported here: MFA is an optional external tool, and its module must not be needed
    # (or even importable) for the default aligner to work.

    return align_mfa(audio, words)


ALIGNERS: dict[str, Callable[[Audio, list[str]], Alignment]] = {
    "pocketsphinx": _pocketsphinx,
    "mfa": _mfa,
}


def align(audio: Audio, transcript: str | None, *, aligner: str = "pocketsphinx") -> Alignment:
    """Word and phone timeline of `audio`.

    transcript: free text (normalised here with text.normalize). When it is None, empty, or
    has no speakable words, phones are recognised without it (PocketSphinx allphone) and
    the Alignment carries a warning saying so; its `words` is then empty.
    aligner: a key of ALIGNERS. Raises InputError for an unknown one.
    """
    if aligner not in ALIGNERS:
        raise InputError(f"unknown aligner {aligner!r}; available: {', '.join(ALIGNERS)}",
                         path="--aligner")

    words = normalize(transcript) if transcript else []
    if not words:
        result = recognize_phones(audio)
        why = ("no transcript given" if not (transcript and transcript.strip())
               else "transcript has no speakable words")
        return Alignment(words=result.words, phones=result.phones, duration=result.duration,
                         source=result.source,
                         warnings=(f"{why}: phones recognised from audio alone (allphone); "
                                   "lip-sync quality will be lower",))
    return ALIGNERS[aligner](audio, words)
