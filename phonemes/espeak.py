"""English speech with exact phone times, synthesized by libespeak-ng through ctypes.

espeak-ng reports a phoneme event at the output sample where each phoneme starts, so the
phone boundaries of its speech are known exactly: that is the ground truth the aligner
benchmark (bench/alignment_accuracy.py) scores against, and how the bundled example clip
(assets/example.wav) is made.

Times come from the event's `sample` field (sample index at espeak's native 22050 Hz), which
is finer than its `audio_position` (whole milliseconds).

Stop closures. espeak-ng reports a stop or affricate where its release burst starts; the
silent closure before the burst (30-50 ms of digital silence or near-silence for /p t k/, often
for /b d g/ too) is rendered at the end of the PREVIOUS phoneme. Phonetic convention (TIMIT,
the Montreal Forced Aligner, every HMM aligner) starts a stop at its closure, and so does the
face: the lips are shut for the whole /p/ closure. `synthesize` therefore moves a stop's start
back to the onset of that quiet closure when it has one (`closure_onset`: the frame where the
level falls 25 dB below the previous phone's, sample-exact), and keeps espeak's own event times
in `Synthesis.event_phones`. Stops after a pause keep their event time (the closure cannot be
told apart from the pause).

espeak's English mnemonics are mapped to ARPAbet (`MNEMONIC_TO_ARPABET`). Where espeak uses
one phoneme for what CMUdict writes as two (the r-coloured vowels 'A@' in "party", 'o@' in
"four", 'e@' in "there", ...; syllabic 'n-', '@L'), the mapping keeps ONE phone (the vowel, or
the consonant) so that every start time stays exact instead of inventing a split point.
espeak's phoneme events carry no stress marks, so vowels get stress digit 0 for the reduced
mnemonics ('@', 'I#', 'i', '3', ...) and 1 otherwise.

The library keeps global state and calls back into Python, so it is initialised once per
process and every synthesis holds a lock. That state carries over from one synthesis to the
next (its pitch flutter, echo buffer and C `rand()`), and no API call resets it: in-process,
repeating a sentence gives samples that differ, and lengths that differ by a few samples,
depending on everything synthesized before (a test's audio depended on which tests ran
first). So each synthesis runs in a forked child of a process whose library has never
synthesized (~15 ms): the same call gives the same samples in any process, after any
history. Where fork is missing or unsafe (other threads running) it runs in-process.
"""

from __future__ import annotations

import ctypes
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from voxface.core import forked
from voxface.core.alignment import Alignment, Interval
from voxface.core.audio import Audio, from_array
from voxface.core.errors import InputError, MissingDependencyError
from voxface.core.fileio import write_all
from voxface.phonemes.ipa import to_arpabet

ESPEAK_RATE = 22_050  # Hz; espeak-ng's native output rate, reported by espeak_Initialize

# espeak_AUDIO_OUTPUT / espeak_EVENT_TYPE / option values from speak_lib.h.
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_PHONEME_EVENTS = 0x0001
_INITIALIZE_PHONEME_IPA = 0x0002  # phoneme events name IPA symbols, not espeak mnemonics
_EVENT_LIST_TERMINATED = 0
_EVENT_WORD = 1
_EVENT_PHONEME = 7
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_PARAM_RATE = 1
_PARAM_PITCH = 3

_LIBRARY_NAMES = ("libespeak-ng.so.1", "libespeak-ng.so", "libespeak-ng.dylib",
                  "libespeak-ng.1.dylib", "espeak-ng.dll", "libespeak-ng.dll")

# espeak-ng en / en-us phoneme mnemonic -> ARPAbet. Vowels carry their stress digit here
# (0 for espeak's reduced vowels, 1 otherwise; see the module docstring). Covers every
# mnemonic espeak-ng 1.51 emits for the CMU ARCTIC and LJ Speech sentences with the
# en-us, en, en-gb-x-rp, en-029, en-us-nyc and en-gb-scotland voices (tests/test_espeak.py checks
# a varied sentence set).
MNEMONIC_TO_ARPABET: dict[str, str] = {
    # reduced vowels
    "@": "AH0", "@2": "AH0", "@5": "AH0", "@-": "AH0", "a#": "AH0", "I#": "IH0", "I2": "IH0",
    "i": "IY0", "3": "ER0", "u": "UW0", "U#": "UH0", "a2": "AH0", "I2#": "IH0", "0#": "AA0",
    # full vowels and diphthongs
    "a": "AE1", "aa": "AE1", "A:": "AA1", "A": "AA1", "0": "AA1", "A#": "AA1", "V": "AH1",
    "E": "EH1", "e": "EH1", "E2": "EH1", "E#": "EH1", "I": "IH1", "i:": "IY1", "i@": "IH1",
    "i@3": "IH1", "O": "AO1", "O:": "AO1", "O@": "AO1", "o@": "AO1", "O2": "AO1", "o": "OW1",
    "oU": "OW1", "oU#": "OW1", "OI": "OY1", "U": "UH1", "U@": "UH1", "u:": "UW1", "u:#": "UW1",
    "3:": "ER1", "A@": "AA1", "e@": "EH1", "aI": "AY1", "aI@": "AY1", "aI3": "AY1",
    "aI2": "AY1", "aU": "AW1", "aU@": "AW1", "eI": "EY1", "eI#": "EY1", "@U": "OW1",
    "IR": "IH1", "VR": "AH1", "ee": "EY1",
    # consonants
    "p": "P", "b": "B", "t": "T", "t#": "T", "t2": "T", "d": "D", "d#": "D", "k": "K",
    "g": "G", "f": "F", "v": "V", "T": "TH", "D": "DH", "s": "S", "z": "Z", "z#": "Z",
    "z/": "Z", "s2": "S", "S": "SH", "Z": "ZH", "h": "HH", "x": "HH", "m": "M", "n": "N",
    "N": "NG", "l": "L", "l/": "L", "L": "L", "@L": "L", "l#": "L", "n-": "N", "m-": "M",
    "r": "R", "r-": "R", "*": "R", "w": "W", "W": "W", "j": "Y", "tS": "CH", "dZ": "JH",
    "?": "T", "C": "HH", "n#": "N", "nX": "N", "Q": "T", "t[": "T", "w#": "W",
}

# Mnemonics that are pauses or prosody marks: they end the previous phone but are not speech.
_PAUSE_MNEMONICS = frozenset({"_", "_:", "_!", "_^_", "_|", "__", "||", "|", "'", ",", "%",
                              "="})
# ';' is espeak's short palatal glide between 'i:' and a following vowel ("seeing", "we ever",
# ~40 ms): not a phone of its own in CMUdict, so the preceding phone runs through it.
_JOINER_MNEMONICS = frozenset({";"})


@dataclass(frozen=True)
class Synthesis:
    """One synthesized utterance with its exact timing.

    Attributes:
        text: the text spoken.
        samples: float32 [N] in -1..1 at `sample_rate` (espeak's native 22050 Hz, plus
            `pad_s` of silence at both ends when asked for).
        sample_rate: Hz of `samples`.
        audio: the same speech as analysis Audio (16 kHz), `duration` = N / sample_rate.
        phones: ARPAbet phones (stress digits, see module docstring) with exact start times in
            seconds; each ends where the next espeak phoneme (or pause) starts, except that
            stops and affricates start at their closure (module docstring).
        event_phones: the same phones with espeak's raw event times (stops at their burst).
        words: lower-case written words ('42', "it's", 'mr') with start = espeak's word
            event and end = end of the word's last phone.
        unknown: espeak mnemonics met that have no ARPAbet mapping (their spans are left out
            of `phones`); empty for every sentence set tried.
        ipa: with `ipa=True`: espeak's IPA for each phone, parallel to `phones` (whose labels
            are the nearest ARPAbet, phonemes.ipa); None otherwise.
        language: the BCP-47 code asked for (phonemes.languages), or None.
        notes: warnings of the IPA mapping (an IPA symbol not in its feature table).
    """

    text: str
    samples: np.ndarray
    sample_rate: int
    audio: Audio
    phones: tuple[Interval, ...]
    words: tuple[Interval, ...]
    unknown: tuple[str, ...] = field(default_factory=tuple)
    event_phones: tuple[Interval, ...] = field(default_factory=tuple)
    ipa: tuple[str, ...] | None = None
    language: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def duration(self) -> float:
        """Seconds of audio."""
        return self.samples.shape[0] / float(self.sample_rate)

    def alignment(self) -> Alignment:
        """The exact timing as an Alignment (source 'espeak')."""
        warnings = tuple(f"espeak mnemonic {m!r} has no ARPAbet mapping" for m in self.unknown)
        return Alignment(words=self.words, phones=self.phones, duration=self.duration,
                         source="espeak", warnings=warnings + self.notes, ipa=self.ipa,
                         language=self.language)


class _Id(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p),
                ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):
    # espeak_EVENT from speak_lib.h; `sample` is the output sample index of the event.
    _fields_ = [("type", ctypes.c_int), ("unique_identifier", ctypes.c_uint),
                ("text_position", ctypes.c_int), ("length", ctypes.c_int),
                ("audio_position", ctypes.c_int), ("sample", ctypes.c_int),
                ("user_data", ctypes.c_void_p), ("id", _Id)]


_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int,
                             ctypes.POINTER(_Event))


class _Voice(ctypes.Structure):
    # espeak_VOICE from speak_lib.h; `languages` is read as raw bytes (priority byte +
    # NUL-terminated name, repeated, ending with a zero priority).
    _fields_ = [("name", ctypes.c_char_p), ("languages", ctypes.c_void_p),
                ("identifier", ctypes.c_char_p), ("gender", ctypes.c_ubyte),
                ("age", ctypes.c_ubyte), ("variant", ctypes.c_ubyte), ("xx1", ctypes.c_ubyte),
                ("score", ctypes.c_int), ("spare", ctypes.c_void_p)]


@dataclass(frozen=True)
class VoiceInfo:
    """One installed espeak-ng voice: its name ('French_(France)'), file identifier
    ('roa/fr') and the languages it speaks as (priority, code) pairs, lower priority = the
    better match ((5, 'fr-fr'), (5, 'fr')); the first code is the voice's own."""

    name: str
    identifier: str
    languages: tuple[tuple[int, str], ...]


class _Engine:
    """The process-wide espeak-ng instance: library handle, callback and collected output."""

    def __init__(self) -> None:
        self.lib = _load_library()
        self.lock = threading.Lock()
        self.chunks: list[np.ndarray] = []
        self.events: list[tuple[int, int, int, int, str]] = []
        # Keep the ctypes callback object alive for as long as the library may call it.
        self.callback = _CALLBACK(self._on_audio)
        rate = self.lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, None,
                                          _INITIALIZE_PHONEME_EVENTS)
        if rate <= 0:
            raise MissingDependencyError(
                "espeak-ng failed to initialise (espeak-ng-data not found?); "
                "install it with: apt-get install espeak-ng")
        self.rate = int(rate)
        self.ipa_events = False
        self.lib.espeak_SetSynthCallback(self.callback)

    def _event_names(self, ipa: bool) -> None:
        """Switch the phoneme events between espeak mnemonics (the English mapping reads
        those) and IPA (every other language): the library takes this only as an
        espeak_Initialize option, so it is initialised again, under the lock, when the kind
        asked for changes."""
        if ipa == self.ipa_events:
            return
        flags = _INITIALIZE_PHONEME_EVENTS | (_INITIALIZE_PHONEME_IPA if ipa else 0)
        rate = self.lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, None, flags)
        if rate <= 0:
            raise MissingDependencyError("espeak-ng failed to initialise again")
        self.lib.espeak_SetSynthCallback(self.callback)
        self.ipa_events = ipa

    def _on_audio(self, wav, count, events) -> int:
        if wav and count > 0:
            self.chunks.append(np.ctypeslib.as_array(wav, shape=(count,)).copy())
        i = 0
        while events[i].type != _EVENT_LIST_TERMINATED:
            ev = events[i]
            if ev.type == _EVENT_PHONEME:
                # id.string is 8 bytes, NUL-padded (not terminated when all 8 are used).
                # IPA names are UTF-8 and may be cut mid-character at 8 bytes: drop a partial
                # character (mnemonics are ASCII, so they read the same either way).
                name = bytes(ev.id.string).split(b"\0", 1)[0].decode("utf-8", "ignore")
            else:
                name = ""
            self.events.append((ev.type, ev.text_position, ev.length, ev.sample, name))
            i += 1
        return 0  # 0 = continue synthesis

    def synth(self, text: str, voice: str, rate_wpm: int, pitch: int, ipa: bool = False
              ) -> tuple[np.ndarray, list[tuple[int, int, int, int, str]]]:
        """int16 samples [N] at `rate` Hz and the events of one synthesis, from the library's
        initial state: in a forked child (see the module docstring) where that is safe."""
        with self.lock:
            if not forked.available():
                return self._synth_here(text, voice, rate_wpm, pitch, ipa)

            def synth():  # in the child, on its copy of the never-used library
                try:
                    return self._synth_here(text, voice, rate_wpm, pitch, ipa)
                except InputError as exc:
                    return exc

            ok, out = forked.collect(*forked.start(synth))
            if not ok:
                raise MissingDependencyError("espeak-ng: the synthesis process failed")
            if isinstance(out, InputError):
                raise out
            return out  # type: ignore[return-value]

    def _synth_here(self, text: str, voice: str, rate_wpm: int, pitch: int, ipa: bool
                    ) -> tuple[np.ndarray, list[tuple[int, int, int, int, str]]]:
        """One synthesis in this process (the caller holds the lock)."""
        lib = self.lib
        self._event_names(ipa)
        if lib.espeak_SetVoiceByName(voice.encode("utf-8")) != 0:
            raise InputError(f"espeak-ng has no voice {voice!r} (try 'en-us', 'en-us+f2', "
                             "'en-us+m3', 'en', 'en-gb-x-rp')")
        lib.espeak_SetParameter(_PARAM_RATE, int(rate_wpm), 0)
        lib.espeak_SetParameter(_PARAM_PITCH, int(pitch), 0)
        self.chunks, self.events = [], []
        data = text.encode("utf-8") + b"\0"
        err = lib.espeak_Synth(data, len(data), 0, _POS_CHARACTER, 0, _CHARS_UTF8,
                               None, None)
        lib.espeak_Synchronize()
        if err != 0:
            raise InputError(f"espeak-ng could not synthesize the text (error {err})")
        pcm = np.concatenate(self.chunks) if self.chunks else np.zeros(0, np.int16)
        events = self.events
        self.chunks, self.events = [], []
        return pcm, events


def voices() -> tuple[VoiceInfo, ...]:
    """Every voice espeak-ng has installed (espeak_ListVoices), in its own order.
    Raises MissingDependencyError when libespeak-ng is missing."""
    engine = _engine()
    out: list[VoiceInfo] = []
    with engine.lock:
        table = engine.lib.espeak_ListVoices(None)
        i = 0
        while table and table[i]:
            v = table[i].contents
            langs: list[tuple[int, str]] = []
            at = v.languages
            while at:
                priority = ctypes.string_at(at, 1)[0]
                if priority == 0:
                    break
                code = ctypes.string_at(at + 1)
                langs.append((int(priority), code.decode("utf-8", "replace").lower()))
                at += 2 + len(code)
            out.append(VoiceInfo(name=(v.name or b"").decode("utf-8", "replace"),
                                 identifier=(v.identifier or b"").decode("utf-8", "replace"),
                                 languages=tuple(langs)))
            i += 1
    return tuple(out)


_ENGINE: _Engine | None = None
_ENGINE_LOCK = threading.Lock()


def _load_library() -> ctypes.CDLL:
    errors = []
    override = os.environ.get("VOXFACE_ESPEAK_LIBRARY")
    for name in ((override,) if override else ()) + _LIBRARY_NAMES:
        try:
            lib = ctypes.CDLL(name)
        except OSError as exc:
            errors.append(str(exc))
            continue
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p,
                                          ctypes.c_int]
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_SetSynthCallback.argtypes = [_CALLBACK]
        lib.espeak_SetSynthCallback.restype = None
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetVoiceByName.restype = ctypes.c_int
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_SetParameter.restype = ctypes.c_int
        lib.espeak_Synth.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint,
                                     ctypes.c_int, ctypes.c_uint, ctypes.c_uint,
                                     ctypes.c_void_p, ctypes.c_void_p]
        lib.espeak_Synth.restype = ctypes.c_int
        lib.espeak_Synchronize.argtypes = []
        lib.espeak_Synchronize.restype = ctypes.c_int
        lib.espeak_ListVoices.argtypes = [ctypes.c_void_p]
        lib.espeak_ListVoices.restype = ctypes.POINTER(ctypes.POINTER(_Voice))
        return lib
    raise MissingDependencyError(
        "libespeak-ng not found; install it with: apt-get install libespeak-ng1 "
        "(or set VOXFACE_ESPEAK_LIBRARY to the library file)")


def _engine() -> _Engine:
    global _ENGINE
    with _ENGINE_LOCK:
        if _ENGINE is None:
            _ENGINE = _Engine()
        return _ENGINE


def available() -> bool:
    """True when libespeak-ng can be loaded and initialised."""
    try:
        _engine()
    except MissingDependencyError:
        return False
    return True


def _word_token(text: str, position: int) -> tuple[int, int]:
    """The whitespace-delimited token of `text` holding 1-based character `position`:
    (start, end) character indices. espeak splits '42' into two word events and gives "It's"
    length 2, so words are taken from the written token, not the event's length."""
    i = min(max(position - 1, 0), max(len(text) - 1, 0))
    start = i
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    end = i
    while end < len(text) and not text[end].isspace():
        end += 1
    return start, end


def _clean_word(token: str) -> str:
    # Keep inner apostrophes and hyphens ("it's", "x-ray"); drop surrounding punctuation.
    return token.strip(".,;:!?\"()[]{}<>«»“”‘’'`-").lower()


def synthesize(text: str, *, voice: str = "en-us", rate_wpm: int = 175, pitch: int = 50,
               variant: str | None = None, pad_s: float = 0.0, ipa: bool = False,
               language: str | None = None) -> Synthesis:
    """Speak `text` with espeak-ng and return audio with exact phone and word times.

    Args:
        text: English text (UTF-8; numbers and abbreviations are expanded by espeak).
        voice: espeak voice ('en-us', 'en', 'en-gb-x-rp', 'en-029', 'en-us-nyc'; a variant
            may be appended: 'en-us+f2').
        rate_wpm: speaking rate in words per minute (espeak accepts 80..450).
        pitch: base pitch 0..100 (50 = voice default).
        variant: voice variant appended as voice+variant ('f2', 'm3', 'klatt', ...).
        pad_s: seconds of silence added at the start and the end (times shift by it).
        ipa: read espeak's phoneme events as IPA and map each to its nearest ARPAbet phone
            by articulatory features (phonemes.ipa), keeping the IPA in `.ipa`: any
            language's voice. False (English): the mnemonic table above, unchanged.
        language: recorded in `.language` (phonemes.languages.synthesize_language sets it).

    Returns:
        Synthesis (samples at 22050 Hz, 16 kHz Audio, phones, words). Unmapped mnemonics
        are listed in `.unknown` and their spans left out of `.phones`.

    Raises InputError for empty text or an unknown voice, MissingDependencyError when
    libespeak-ng is missing. Safe to call many times and from several threads (serialised).
    """
    if not text or not text.strip():
        raise InputError("espeak: text is empty")
    if pad_s < 0:
        raise InputError(f"espeak: pad_s must be >= 0, got {pad_s}")
    name = f"{voice}+{variant}" if variant else voice
    engine = _engine()
    pcm, events = engine.synth(text, name, rate_wpm, pitch, ipa=ipa)
    rate = engine.rate
    pad = int(round(pad_s * rate))
    samples = pcm.astype(np.float32) / 32768.0
    if pad:
        samples = np.concatenate([np.zeros(pad, np.float32), samples, np.zeros(pad, np.float32)])
    n_speech = pcm.shape[0]
    offset = pad / rate

    # Phoneme events in order; each phone lasts until the next phoneme event (pauses included)
    # or the end of the synthesized audio.
    ph_events = [(sample, name) for kind, _, _, sample, name in events
                 if kind == _EVENT_PHONEME and name not in _JOINER_MNEMONICS]
    if ipa:
        # IPA mode: '' is a pause; a language switch '(en)' and a bare modifier ('ʲ') are
        # not phones and end nothing (the phone before runs through them).
        ph_events = [(s, n) for s, n in ph_events if n == "" or to_arpabet(n).arpabet]
    phones: list[Interval] = []
    phone_ipa: list[str] = []
    unknown: list[str] = []
    notes: list[str] = []
    for k, (sample, mnemonic) in enumerate(ph_events):
        end_sample = ph_events[k + 1][0] if k + 1 < len(ph_events) else n_speech
        if ipa:
            if mnemonic == "" or end_sample <= sample:
                continue
            mapped = to_arpabet(mnemonic)
            if mapped.warning and mapped.warning not in notes:
                notes.append(mapped.warning)
            phones.append(Interval(mapped.arpabet, offset + sample / rate,
                                   offset + end_sample / rate))
            phone_ipa.append(mapped.ipa)
            continue
        if mnemonic in _PAUSE_MNEMONICS or mnemonic.startswith("_") or end_sample <= sample:
            continue
        label = MNEMONIC_TO_ARPABET.get(mnemonic)
        if label is None:
            if mnemonic not in unknown:
                unknown.append(mnemonic)
            continue
        phones.append(Interval(label, offset + sample / rate, offset + end_sample / rate))

    # Word events: merge events that fall in one written token ('42' -> "forty", "two");
    # skip espeak's zero-length bookkeeping events.
    tokens: list[tuple[tuple[int, int], int]] = []
    for kind, position, length, sample, _ in events:
        if kind != _EVENT_WORD or length <= 0:
            continue
        span = _word_token(text, position)
        if tokens and tokens[-1][0] == span:
            continue
        tokens.append((span, sample))
    closed = closure_onsets(samples, rate, phones)
    words: list[Interval] = []
    for k, ((a, b), sample) in enumerate(tokens):
        start = offset + sample / rate
        limit = offset + (tokens[k + 1][1] / rate if k + 1 < len(tokens) else n_speech / rate)
        inside = [i for i, p in enumerate(phones) if start - 1e-9 <= p.start < limit - 1e-9]
        label = _clean_word(text[a:b])
        if not inside or not label:
            continue
        # A word-initial stop's closure moves the word's start back with it; espeak's word
        # event can precede the first phone, but words do not overlap.
        first = min(start, closed[inside[0]].start)
        if words:
            first = max(first, words[-1].end)
        words.append(Interval(label, first, closed[inside[-1]].end))

    audio = from_array(samples, rate)
    return Synthesis(text=text, samples=samples, sample_rate=rate, audio=audio,
                     phones=tuple(closed), words=tuple(words), unknown=tuple(unknown),
                     event_phones=tuple(phones), ipa=tuple(phone_ipa) if ipa else None,
                     language=language, notes=tuple(notes))


_CLOSURE_PHONES = frozenset({"P", "B", "T", "D", "K", "G", "CH", "JH"})
CLOSURE_DROP_DB = 25.0      # quiet = this far below the previous phone's level (90th pct) ...
CLOSURE_FLOOR_DB = -75.0    # ... or below this absolute level (digital silence is -inf)
CLOSURE_MIN_S = 0.008       # shorter quiet runs are not a closure
CLOSURE_KEEP_S = 0.015      # the previous phone keeps at least this much


def closure_onsets(samples: np.ndarray, rate: int, phones: list[Interval]) -> list[Interval]:
    """Move each stop/affricate that directly follows another phone back to the onset of
    its quiet closure (see the module docstring).

    Args:
        samples: float32 [N] speech at `rate` Hz (the phones' time base).
        rate: samples per second.
        phones: sorted, non-overlapping Intervals in seconds on sample-exact times.

    Returns:
        A new list: same labels; a moved stop starts at a sample boundary at the centre of the
        first quiet 5 ms window, and the previous phone ends there. Unchanged otherwise.
    """
    hop = max(1, int(round(0.001 * rate)))
    win = 5 * hop
    out = list(phones)
    for i in range(1, len(out)):
        p, prev = out[i], out[i - 1]
        if p.label not in _CLOSURE_PHONES or abs(prev.end - p.start) > 1e-9:
            continue
        a, b = int(round(prev.start * rate)), int(round(p.start * rate))
        if b - a < 2 * win:
            continue
        frames = np.lib.stride_tricks.sliding_window_view(samples[a:b], win)[::hop]
        level = 10.0 * np.log10(np.mean(frames.astype(np.float64) ** 2, axis=1) + 1e-12)
        thr = max(float(np.percentile(level, 90)) - CLOSURE_DROP_DB, CLOSURE_FLOOR_DB)
        # the last windows before the burst; allow 3 ms of burst-onset smear
        k = len(level) - 1
        while k > len(level) - 4 and level[k] >= thr:
            k -= 1
        if k < 0 or level[k] >= thr:
            continue
        first = k
        lowest = int(np.ceil(CLOSURE_KEEP_S * rate / hop))
        while first - 1 >= lowest and level[first - 1] < thr:
            first -= 1
        onset = a + first * hop + win // 2
        if (b - onset) < CLOSURE_MIN_S * rate:
            continue
        t = onset / rate
        out[i - 1] = Interval(prev.label, prev.start, t)
        out[i] = Interval(p.label, t, p.end)
    return out


EXAMPLE_TEXT = "Maybe we could move five big boxes before the party."


def write_example(directory: str | os.PathLike, *, text: str = EXAMPLE_TEXT,
                  voice: str = "en-us", rate_wpm: int = 160, pad_s: float = 0.25
                  ) -> tuple[Path, Path]:
    """Write `example.wav` (espeak speech, 16-bit PCM at 22050 Hz) and `example.txt` (its
    transcript, one line) into `directory`; returns their paths. Files are written
    all or nothing (`voxface.core.fileio.write_all`)."""
    import soundfile as sf

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    syn = synthesize(text, voice=voice, rate_wpm=rate_wpm, pad_s=pad_s)
    wav, txt = out / "example.wav", out / "example.txt"
    write_all({
        wav: lambda tmp: sf.write(str(tmp), syn.samples, syn.sample_rate, subtype="PCM_16",
                                  format="WAV"),
        txt: lambda tmp: Path(tmp).write_text(text + "\n", encoding="utf-8"),
    })
    return wav, txt


if __name__ == "__main__":  # python -m voxface.phonemes.espeak DIR
    import sys

    for written in write_example(sys.argv[1] if len(sys.argv) > 1 else "."):
        print(written)
