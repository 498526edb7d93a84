"""Forced alignment (and transcript-free phone recognition) with PocketSphinx 5.

`align_pocketsphinx(audio, words)` places a known word sequence on the audio and returns word
and phone intervals; it never fails on speech: when PocketSphinx's two-pass alignment gives
up, a retry ladder tries other settings, then spreads phones by typical durations.

PocketSphinx's alignment is two passes: pass 1 aligns words (an FSG of the transcript with
optional fillers/silences between words), pass 2 (`set_alignment`) aligns phones and HMM
states inside the pass-1 word spans. Frames are 10 ms (see _CONFIGS for finer ones tried);
a reused decoder is reset before every utterance (`_start_utt`), so results never depend
on what the process aligned before (or on a batch's worker count). Pitfalls found by
measurement on 20 espeak-ng sentences (see tests/test_pocketsphinx_align.py):
  * `bestpath=yes` (the default) makes ~10% of utterances end with "Failed to stop utterance
    processing"; we always run with bestpath off (pass 1 needs no lattice).
  * the default beams prune the right path for ~30% of synthetic sentences ("Final result
    does not match the grammar", then "Failed to set up sub-word alignment"); wider beams
    and padding the clip with quiet fix most, turning fillers off fixes the rest.
  * `Decoder.hyp()` after the phone pass, and holding on to entries of `get_alignment()`
    after iterating past them, crash the process; we read each entry while iterating.
  * the phone pass never clears its active senones, so its cost per second grows with the
    utterance (~16 ms per s at 3 s, ~29 at 50 s) and its back-pointer table is
    phones x frames: long audio must be aligned in short pieces.

Long audio (> SHORT_MAX_S) is aligned window by window in linear time (`_align_windows`):
a window of 8-20 s ends in a pause found by level (long pauses preferred, at most 0.5 s of
one kept: seconds of silence spoil the per-window cepstral mean); it is decoded with an FSG
of the next candidate transcript words that may stop after any word, so the recognised
prefix says which words the window holds, and the phone pass on that hypothesis gives their
phones. All but the last word (two when the window had to end mid-word) are kept; the next
window starts where the last kept word ends (or just before the speech after a pause).
A result that looks like a lost search (voiced audio left unexplained after its last word,
or far fewer phones per voiced second than recent windows) is retried with the widest
beams, and one with implausibly many (MAX_RATE_RATIO x recent windows: words squeezed
together, the search jumped ahead) is retried and loses to any plausible result; words
stretched over seconds (noise, music) are not trusted; windows with no transcript speech
are passed over. The last <= FINAL_MAX_S go through the normal ladder.
Measured (bench/long_alignment.py, busy 2-core box): 41-44 ms CPU per s of audio from 1 to
60 min (linear), peak RSS ~190 MB for 10 min and ~400 MB for 60 min (mostly the audio), mean
phone-start error ~20 ms with the last minute within a few ms of the first; 10 min of real
speech (kathleen): no word outside its utterance.
Parallel phone passes (`_PhonePasses`): the phone pass only places phones inside the word
pass's spans (it never moved a word edge: 3635 words, 158 passes on real and synthetic
speech), and the window search needs only those spans and the chosen pronunciations, so
each window's phone pass runs in a forked child while the parent decodes the next window;
the children's phones are checked against what the parent assumed and any difference makes
the file align again serially (same result for any worker count; ALIGN_WORKERS). 60 s of
kathleen: `animate` wall 2.96 s instead of 3.61 s serial, CPU +2 % (docs/alignment.md).
Resync (`_align_windows`): a window's grammar may also enter the transcript up to
RESYNC_AHEAD words later or RESYNC_BACK words earlier (at ENTRY_PROB). An entry ahead
re-aligns the previous window up to the entry word with a grammar that may skip runs of
>= MIN_SKIP words (`_repair_decode`); skipped words get no phones, rung 'skipped' and a
warning that quotes them. An entry back takes the previous window's last words back (it ran
ahead over speech the transcript lacks). A missing transcript sentence used to derail the
rest of the file (3 min test file: last minute ~25 s off, a third of the words estimated).
Not caught: a missing run the window search absorbs without falling behind (it then
recovers within a window but the words are not flagged), runs > RESYNC_AHEAD words, and
defects inside the final <= FINAL_MAX_S chunk (aligned by the plain ladder).
Every alignment, short or long, ends with `_mend_swallowed`: a loud voiced run inside a pause
between words is speech the word pass called silence (a short word's vowel, the word itself
put on its neighbour's release); the words around it are aligned again without pauses.
"""

from __future__ import annotations

import functools
import os
import re
import sys
from dataclasses import dataclass, field, replace

import numpy as np

from voxface.core import forked
from voxface.core.alignment import Alignment, ForcedScore, Interval
from voxface.core.audio import Audio, resample
from voxface.core.errors import AlignmentError
from voxface.phonemes.arpabet import typical_duration
from voxface.phonemes.lexicon import add_stress, default_lexicon

FRAME_S = 0.01          # level-analysis frames (speech activity, pauses) and allphone frames
DECODER_FPS = 100       # forced-alignment decoder frame rate (see _CONFIGS)
DECODER_FRAME_S = 1.0 / DECODER_FPS
RATE = 16_000
MAX_CHUNK_S = 30.0      # longer audio is split at pauses so time and memory stay linear

# Frame rate of the forced-alignment decoders: the model's 100 fps (10 ms frames, 25.6 ms
# window). Tried and rejected (docs/alignment.md): 200 fps with acoustic scores every second
# frame (`ds=2`, same CPU) looked better on the tuning sentences (mean phone start error
# 22.1 -> 19.3 ms) but not on the report set (20.8 -> 21.5 ms, within 10 ms 43 -> 37 %), and
# it moved agreement with MFA from 16.6 to 17.6 ms mean; 200 fps without `ds` costs ~48 ms
# CPU per s; 125 and 160 fps were no better. Every phone lasts at least 3 frames (the HMM
# topology), i.e. >= 30 ms at 100 fps.
_FRAMES = dict(frate=DECODER_FPS)

# Decoder settings, by name. All share the en-us acoustic model and CMUdict.
_CONFIGS: dict[str, dict] = {
    "default": dict(bestpath=False, **_FRAMES),
    "wide": dict(bestpath=False, beam=1e-100, wbeam=1e-80, pbeam=1e-100, **_FRAMES),
    "widest": dict(bestpath=False, beam=1e-200, wbeam=1e-200, pbeam=1e-200,
                   lpbeam=1e-200, lponlybeam=1e-200, **_FRAMES),
    # No optional fillers: the word FSG is then a plain chain, which cannot lose the path
    # at a filler; pauses end up inside neighbouring words, which is why it comes late.
    "nofill": dict(bestpath=False, fsgusefiller=False, beam=1e-100, wbeam=1e-80,
                   pbeam=1e-100, **_FRAMES),
}


@dataclass(frozen=True)
class Rung:
    """One attempt of the retry ladder: decoder settings and seconds of quiet padding."""

    name: str
    config: str
    pad_s: float


# The ladder, cheapest first. After these come 'words' (pass-1 word spans with phones
# spread by typical durations) and 'voiced' (all phones spread over the voiced frames).
# The default beams ('default' settings) lose the path on ~30% of the espeak bench
# sentences, and a failed pass costs as much as a successful one; starting with 'wide'
# gives the same accuracy at ~3% less compute (bench/alignment_accuracy.py, 40 sentences).
LADDER: tuple[Rung, ...] = (
    Rung("wide", "wide", 0.3),
    Rung("widest", "widest", 0.5),
    Rung("nofill", "nofill", 0.3),
)
FALLBACK_RUNGS = ("words", "voiced")
SKIPPED = "skipped"  # a transcript word the long-audio resync found not spoken (no phones)


@functools.lru_cache(maxsize=None)
def _decoder(config: str):
    """One PocketSphinx decoder per settings name per process (creation costs ~15 ms).

    It starts with an empty dictionary (reading all 135k CMUdict words took ~75 ms per
    decoder); `_ensure_words` adds each transcript word as the full dictionary had it (same
    entries, names and order), then its variants."""
    import pocketsphinx

    decoder = pocketsphinx.Decoder(lm=None, loglevel="FATAL", dict=os.devnull,
                                   **_CONFIGS[config])
    _INITIAL_CMN[id(decoder)] = decoder.get_cmn(False)
    return decoder


# The cepstral mean of each cached decoder right after creation (by id of the decoder).
_INITIAL_CMN: dict[int, str] = {}


def _start_utt(decoder) -> None:
    """Start an utterance from the decoder's initial feature state.

    A reused decoder carries its feature-extraction state (noise estimate of
    `remove_noise`, cepstral mean) from one utterance to the next, so phone times would
    depend on what the process aligned before (and batch outputs on the worker count).
    Re-initialising the feature extraction and restoring the cepstral mean it had right
    after creation makes every utterance decode as in a fresh process (~0.1 ms)."""
    decoder.reinit_feat()
    cmn = _INITIAL_CMN.get(id(decoder))
    if cmn is not None:
        decoder.set_cmn(cmn)
    decoder.start_utt()


def _decode_utt(decoder, pcm: bytes) -> None:
    """Decode `pcm` as one whole utterance with the decoder's current search.

    The utterance is ended even when decoding raises (PocketSphinx raised IndexError on one
    input): a cached decoder left inside its utterance refuses every later search and
    start, and each later clip fell back to estimated phone times."""
    _start_utt(decoder)
    try:
        decoder.process_raw(pcm, full_utt=True)
    finally:
        decoder.end_utt()


@functools.lru_cache(maxsize=1)
def _allphone_decoder():
    import os

    import pocketsphinx

    lm = os.path.join(pocketsphinx.get_model_path(), "en-us", "en-us-phone.lm.bin")
    # Narrow beams: 1e-10 gives the same phones as 1e-48 on our speech at ~30 ms per s
    # instead of ~55; a low language weight (2 vs the default 6.5) lets acoustics outvote
    # the phone LM: more and more plausible phones ("DH IH Z" for "this").
    # No word dictionary (os.devnull): the phone search needs none.
    decoder = pocketsphinx.Decoder(allphone=lm, lm=None, loglevel="FATAL", dict=os.devnull,
                                   bestpath=False,
                                   beam=1e-10, pbeam=1e-10, lw=2.0)
    _INITIAL_CMN[id(decoder)] = decoder.get_cmn(False)
    return decoder


# Words whose variants each cached decoder already holds (by id of the decoder).
_VARIANTS_DONE: dict[int, set[str]] = {}


def _ensure_words(decoder, words: list[str]) -> None:
    """Add words missing from the decoder's dictionary, with the lexicon's pronunciation
    (letter-to-sound for unknown words), so set_align_text never fails on a word; and every
    pronunciation variant of `Lexicon.variants` (CMUdict alternates, weak forms, t/d
    deletion, flapping) as an alternate 'word(k)' the word pass may choose. The chosen
    variant's phones are the ones the phone pass returns."""
    lexicon = default_lexicon()
    done = _VARIANTS_DONE.setdefault(id(decoder), set())
    adds: list[tuple[str, str]] = []
    for w in dict.fromkeys(words):
        if w in done:
            continue
        done.add(w)
        have: list[str] = []
        name, k = w, 1
        while (pron := decoder.lookup_word(name)) is not None:
            have.append(pron)
            k += 1
            name = f"{w}({k})"
        if not have and w in lexicon:
            # The decoder's dictionary starts empty (`_decoder`): CMUdict's own entries
            # first, named as in the file (word, word(2), ...; its numbering has no gaps).
            for pron in lexicon.pronunciations(w):
                adds.append((w if not have else f"{w}({k})", " ".join(pron)))
                have.append(" ".join(pron))
                k += 1
        for v in lexicon.variants(w):
            text = " ".join(v)
            if text not in have:
                adds.append((w if not have else f"{w}({k})", text))
                have.append(text)
                k += 1
    for i, (name, text) in enumerate(adds):
        decoder.add_word(name, text, update=(i == len(adds) - 1))


def _pcm(samples: np.ndarray, pad_s: float) -> bytes:
    """float32 [N] -> int16 PCM bytes with `pad_s` of very quiet noise on both sides.

    Noise rather than digital zeros, because log-energy features of exact zeros are
    degenerate; seeded so alignment is deterministic."""
    n = int(round(pad_s * RATE))
    x = samples
    if n:
        rng = np.random.default_rng(0)
        x = np.concatenate([rng.normal(0.0, 3e-4, n).astype(np.float32), samples,
                            rng.normal(0.0, 3e-4, n).astype(np.float32)])
    return (np.clip(x, -1.0, 1.0) * 32767.0).astype(np.int16).tobytes()


def _is_filler(name: str) -> bool:
    return name.startswith("<") or name.startswith("[") or name.startswith("+")


def _base_word(name: str) -> str:
    return re.sub(r"\(\d+\)$", "", name)


def _pass1(decoder, pcm: bytes, words: list[str]) -> list[tuple[int, int]] | None:
    """Word-level pass. Returns [(start_frame, end_frame_exclusive)] per transcript word,
    in padded-clip frames, or None when the search lost the transcript."""
    decoder.set_align_text(" ".join(words))
    _decode_utt(decoder, pcm)
    segs = decoder.seg()
    if segs is None:
        return None
    spans = [(s.start_frame, s.end_frame + 1) for s in segs if not _is_filler(s.word)]
    return spans if len(spans) == len(words) else None


def _pass2(decoder, pcm: bytes, n_words: int) -> list[list[tuple[str, int, int]]] | None:
    """Phone-level pass on the current pass-1 hypothesis. Returns per word a list of
    (phone, start_frame, end_frame_exclusive), or None on failure."""
    decoder.set_alignment()
    _decode_utt(decoder, pcm)
    alignment = decoder.get_alignment()
    if alignment is None:
        return None
    out: list[list[tuple[str, int, int]]] = []
    # Read every entry while iterating: entries kept past the iteration dangle (segfault).
    for word in alignment:
        if _is_filler(word.name):
            continue
        out.append([(p.name, int(p.start), int(p.start) + int(p.duration)) for p in word])
    return out if len(out) == n_words else None


@dataclass(frozen=True)
class _ChunkResult:
    """Alignment of one chunk: per word (start_s, end_s, [(phone, start_s, end_s)])."""

    words: list[tuple[float, float, list[tuple[str, float, float]]]]
    rung: str
    # (mean per-frame score of the word pass, its padding in s) when a word pass succeeded
    forced_score: tuple[float, float] | None = None


def _spread(phones: list[str], start: float, end: float) -> list[tuple[str, float, float]]:
    """Phones laid out over [start, end] in proportion to their typical durations."""
    weights = np.array([typical_duration(p) for p in phones], dtype=np.float64)
    edges = start + (end - start) * np.concatenate([[0.0], np.cumsum(weights)]) / weights.sum()
    return [(p, float(edges[i]), float(edges[i + 1])) for i, p in enumerate(phones)]


def voiced_frames(samples: np.ndarray, rate: int = RATE) -> np.ndarray:
    """Energy-based speech activity: bool [n_frames] per 10 ms frame.

    A frame is active when its RMS level (dB) lies above 30% of the way from the quiet
    floor (10th percentile) to the loud peak (99th percentile) of the clip."""
    hop = int(rate * FRAME_S)
    n = len(samples) // hop
    if n == 0:
        return np.zeros(0, dtype=bool)
    frames = samples[:n * hop].astype(np.float64).reshape(n, hop)
    db = 10.0 * np.log10(np.mean(frames * frames, axis=1) + 1e-12)
    lo, hi = np.percentile(db, 10), np.percentile(db, 99)
    if hi - lo < 6.0:  # flat level: no contrast to find pauses by, call it all speech
        return np.ones(n, dtype=bool)
    return db > lo + 0.3 * (hi - lo)


def _voiced_fallback(samples: np.ndarray, words: list[str],
                     prons: list[list[str]]) -> _ChunkResult:
    """Last resort: every phone of the chunk spread over its voiced frames, in order, in
    proportion to typical durations."""
    duration = len(samples) / RATE
    active = np.flatnonzero(voiced_frames(samples))
    flat = [p for pron in prons for p in pron]
    if len(active) < len(flat):
        active = np.arange(max(int(duration / FRAME_S), 1))
    weights = np.array([typical_duration(p) for p in flat])
    cum = np.concatenate([[0.0], np.cumsum(weights)]) / weights.sum()
    idx = np.minimum((cum * len(active)).astype(int), len(active))
    times = []
    for i in range(len(flat)):
        a, b = idx[i], max(idx[i + 1], idx[i] + 1)
        b = min(b, len(active))
        a = min(a, b - 1)
        start = active[a] * FRAME_S
        end = min((active[b - 1] + 1) * FRAME_S, duration)
        times.append((start, end))
    # Make them monotone and non-overlapping (a phone may not start before the previous end).
    out_words = []
    k = 0
    prev_end = 0.0
    for pron in prons:
        ph = []
        for p in pron:
            s, e = times[k]
            s = max(s, prev_end)
            e = max(e, s + 1e-3)
            ph.append((p, s, e))
            prev_end = e
            k += 1
        out_words.append((ph[0][1], ph[-1][2], ph))
    return _ChunkResult(out_words, "voiced")


def _align_chunk(samples: np.ndarray, words: list[str], ladder: tuple[Rung, ...] = LADDER,
                 vocab: list[str] | None = None) -> _ChunkResult:
    """Align one chunk (<= ~30 s) with the retry ladder. Times are chunk-relative seconds.
    vocab: the words the window decoders (WINDOW_CONFIGS) get before their first use."""
    lexicon = default_lexicon()
    word_spans: tuple[list[tuple[int, int]], float] | None = None
    first_score: tuple[float, float] | None = None
    for rung in ladder:
        decoder = _decoder(rung.config)
        if vocab is not None and rung.config in WINDOW_CONFIGS:
            _ensure_words(decoder, vocab)
        _ensure_words(decoder, words)
        pcm = _pcm(samples, rung.pad_s)
        try:
            spans = _pass1(decoder, pcm, words)
            if spans is None:
                continue
            score = _mean_frame_score(decoder)  # before the phone pass replaces the result
            if word_spans is None:
                word_spans = (spans, rung.pad_s)
                first_score = None if score is None else (score, rung.pad_s)
            phones = _pass2(decoder, pcm, len(words))
        except RuntimeError:
            continue
        if phones is None:
            continue
        out = []
        for ph in phones:
            ph = [(p, s * DECODER_FRAME_S - rung.pad_s, e * DECODER_FRAME_S - rung.pad_s)
                  for p, s, e in ph
                  if not _is_filler(p) and p != "SIL"]
            if not ph:
                break
            out.append((ph[0][1], ph[-1][2], ph))
        else:
            return _ChunkResult(out, rung.name,
                                None if score is None else (score, rung.pad_s))
    prons = [lexicon.pronounce(w) for w in words]
    if word_spans is not None:
        spans, pad = word_spans
        out = []
        for (s, e), pron in zip(spans, prons):
            start, end = s * DECODER_FRAME_S - pad, e * DECODER_FRAME_S - pad
            out.append((start, end, _spread(pron, start, end)))
        return _ChunkResult(out, "words", first_score)
    return _voiced_fallback(samples, words, prons)


# ---------------------------------------------------------------------------------------
# Long audio: windows that end at pauses, each decoded with a "prefix" grammar.

SHORT_MAX_S = MAX_CHUNK_S  # up to this long: one chunk, one forced alignment of all words
WINDOW_MIN_S = 8.0         # a window ends at the pause nearest WINDOW_TARGET_S after its
WINDOW_TARGET_S = 14.0     # start, between WINDOW_MIN_S and WINDOW_MAX_S; with no pause
WINDOW_MAX_S = 20.0        # there, at WINDOW_MAX_S (mid-word: two words are held back)
FINAL_MAX_S = 15.0         # when this little audio is left, align all remaining words at once
# (the last chunk decodes with no window beside it: 25 s left a core idle for ~0.5 s of a
# minute's alignment; 15 s: ~10 % faster on 40-90 s, no less accurate; docs/alignment.md)
WORDS_PER_S_MAX = 6.0      # candidate words per window: more than anyone says in that time
MIN_PAUSE_S = 0.15         # a quiet run this long may end a window
GOOD_PAUSE_S = 0.3         # ... and one this long is preferred
UNEXPLAINED_S = 1.0        # voiced seconds after the last recognised word that trigger a retry
WINDOW_CONFIGS = ("wide", "widest")
# (decoder settings, skip grammar) per attempt at a window, see _decode_window
WINDOW_ATTEMPTS = (("wide", False), ("widest", False))
MIN_RATE_RATIO = 0.8       # fewer phones per voiced second than this x the usual: retry
MAX_RATE_RATIO = 1.6       # more than this x the usual (measured windows only): implausible
RESYNC_AHEAD = 40          # a window's grammar may start this many words ahead (resync) ...
RESYNC_BACK = 30           # ... or this many back into the previous window's words
ENTRY_PROB = 1e-20         # FSG probability of such an entry (vs 1 for the next word) ...
ENTRY_WORD_PROB = 0.01     # ... times this per word between it and the next word, so that
                           # the nearest entry wins when several fit (repeated phrases)
REPAIR_SKIP_PROB = 1e-150  # FSG probability of skipping a run of words in a repair ...
SKIP_WORD_PROB = 0.01      # ... times this per word skipped
MIN_SKIP = 4               # shortest run of words a skip grammar may leave out
SPOKEN_FRACTION = 0.5      # an entry ahead is refused when the audio had this much of the
                           # time the words it jumps over take (see _had_time_for)
DEFAULT_RATE = 10.0        # phones per voiced second before any window has been seen
QUIET_DB = -55.0           # frame level (dB re full scale) below which all is silence
MAX_WORD_S = 2.0           # a word longer than this and 6x its typical length is not trusted
TAIL_S = 0.5               # a window ending in a pause keeps at most this much of it
WINDOW_PAD_S = 0.3         # quiet padding on both sides of a window's audio
LEAD_S = 0.25              # a window that starts in a pause starts this long before speech


def _frame_db(samples: np.ndarray) -> np.ndarray:
    """Level in dB per 10 ms frame (float32), computed in blocks to keep memory small."""
    hop = int(RATE * FRAME_S)
    n = len(samples) // hop
    out = np.empty(n, dtype=np.float32)
    block = 6000  # frames per block (60 s)
    for f0 in range(0, n, block):
        f1 = min(n, f0 + block)
        x = samples[f0 * hop:f1 * hop].astype(np.float32).reshape(f1 - f0, hop)
        out[f0:f1] = 10.0 * np.log10(np.einsum("ij,ij->i", x, x) / hop + 1e-12)
    return out


def _active(db: np.ndarray) -> np.ndarray:
    """Speech activity from frame levels (the rule of `voiced_frames`, except that a
    stretch of flat level below QUIET_DB is silence, not speech)."""
    if len(db) == 0:
        return np.zeros(0, dtype=bool)
    lo, hi = np.percentile(db, 10), np.percentile(db, 99)
    if hi - lo < 6.0:  # flat: all speech (or noise), unless it is all very quiet
        return db > QUIET_DB
    return db > lo + 0.3 * (hi - lo)


def _quiet_runs(active: np.ndarray) -> list[tuple[int, int]]:
    """[(first_frame, end_frame_exclusive)] of the runs of inactive frames."""
    if len(active) == 0:
        return []
    d = np.diff(np.concatenate([[1], active.astype(np.int8), [1]]))
    starts = np.flatnonzero(d == -1)
    ends = np.flatnonzero(d == 1)
    return list(zip(starts.tolist(), ends.tolist()))


def _window_end(samples: np.ndarray, pos: int) -> tuple[int, bool]:
    """End sample of the window starting at `pos`, and whether it lies in a pause.

    Looks at the level of [pos, pos + WINDOW_MAX_S + 1 s] only (local noise floor and peak),
    takes the middle of a quiet run of at least GOOD_PAUSE_S (else MIN_PAUSE_S) in
    [WINDOW_MIN_S, WINDOW_MAX_S]: the longest (up to 1 s), then the nearest to
    WINDOW_TARGET_S."""
    hop = int(RATE * FRAME_S)
    stop = min(len(samples), pos + int((WINDOW_MAX_S + 1.0) * RATE))
    active = _active(_frame_db(samples[pos:stop]))
    lo_f, hi_f = int(WINDOW_MIN_S / FRAME_S), int(WINDOW_MAX_S / FRAME_S)
    target = WINDOW_TARGET_S / FRAME_S
    # A pause of 1 s or more may end the window early (from 2 s): see below.
    runs = [(a, b) for a, b in _quiet_runs(active)
            if (lo_f if b - a < 100 else 200) <= (a + b) // 2 <= hi_f]
    for min_len in (GOOD_PAUSE_S, MIN_PAUSE_S):
        ok = [(a, b) for a, b in runs if (b - a) * FRAME_S >= min_len]
        if ok:
            # Long pauses first (up to 1 s; a long pause inside a window can swallow a
            # short word next to it), then the one nearest the target length.
            a, b = max(ok, key=lambda r: min((r[1] - r[0]) * FRAME_S, 1.0)
                       - 0.02 * FRAME_S * abs((r[0] + r[1]) / 2 - target))
            # Keep at most TAIL_S of a long pause: the decoder normalises the cepstral
            # mean over the window, and seconds of silence in it spoil the speech.
            return pos + min((a + b) // 2, a + int(TAIL_S / FRAME_S)) * hop, True
    return min(len(samples), pos + hi_f * hop), False


@dataclass(frozen=True)
class _WindowResult:
    """Recognised candidate words in one window (window-relative seconds): `words[i]` is
    candidate `index[i]` (a run from the entry the search took, unless a skip grammar left
    words out)."""

    words: list[tuple[float, float, list[tuple[str, float, float]]]]
    rung: str
    rate: float  # phones per voiced second
    index: tuple[int, ...] = ()
    good: bool = False  # it passed every check of _decode_window (none needed a retry)
    job: int | None = None  # the `_PhonePasses` job whose child has the final phone times


def _fsg_decode(decoder, pcm: bytes, name: str, n_states: int, trans: list[tuple],
                pool: _PhonePasses | None = None
                ) -> tuple[list[tuple[int, int]], list[str], list | None] | None:
    """Decode `pcm` with the FSG of `trans` (start state 0, final state n_states - 1).
    Returns (word spans in frames, word names, per-word phones from the phone pass or None
    where that pass failed), fillers left out, or None when the search failed.

    With a `pool`, the phone pass runs in a forked child (`_PhonePasses`) and the phones
    returned are a `_Deferred`: each word's dictionary phones (of the variant the word pass
    chose) with the word's span as their outer edges, which is all the phone pass changes
    of what the caller looks at (it aligns phones inside the word-pass spans)."""
    fsg = decoder.create_fsg(name, 0, n_states - 1, trans)
    decoder.add_fsg(name, fsg)
    decoder.activate_search(name)
    _decode_utt(decoder, pcm)
    segs = decoder.seg()
    if segs is None:
        return None
    spans, names, chosen = [], [], []
    for s in segs:
        if _is_filler(s.word) or s.word == "(NULL)":
            continue
        spans.append((s.start_frame, s.end_frame + 1))
        names.append(_base_word(s.word))
        chosen.append(s.word)
    if not spans:
        return [], [], []
    if pool is not None:
        provisional = _Deferred()
        for (a, b), word in zip(spans, chosen):
            labels = (decoder.lookup_word(word) or "").split()
            n = max(len(labels), 1)
            edges = [a + (b - a) * i // n for i in range(n + 1)]
            provisional.append([(p, edges[i], edges[i + 1]) for i, p in enumerate(labels)])
        provisional.job = pool.submit(decoder, pcm, provisional)
        return spans, names, provisional
    try:
        phones = _pass2(decoder, pcm, len(spans))
    except RuntimeError:
        phones = None
    return spans, names, phones


class _Deferred(list):
    """Per-word provisional phones [(phone, start_frame, end_frame)] of a phone pass that
    runs in a child (`job` of a `_PhonePasses`); only the words' outer edges and the phone
    labels are final, and `_PhonePasses.check` verifies even those."""

    job: int = -1


_FAILED = object()  # a child's phone pass that failed or crashed


class _PhonePasses:
    """Phone passes of long-audio windows, each in a forked child of this process.

    A window's phone pass only places phones inside the word-pass spans, and what the window
    search does next (which words to keep, where the next window starts, the retry checks)
    depends only on those spans and on the chosen pronunciations. So right after a window's
    word pass the process forks: the child, holding an exact copy of the decoder with that
    hypothesis, runs the phone pass and sends its phones back through a pipe, while the
    parent goes on with the next window's word pass; at most `children` run at once (a
    new fork waits for the oldest). `check` then verifies every child's phones against
    what the parent assumed (word edges, labels, no failed pass); on any difference the
    caller aligns again serially, so the result never depends on the worker count."""

    def __init__(self, children: int):
        self.children = max(1, children)
        self.running: dict[int, tuple[int, int]] = {}  # job -> (pid, read end of its pipe)
        self.results: dict[int, object] = {}
        self.provisional: dict[int, list] = {}

    def submit(self, decoder, pcm: bytes, provisional: list) -> int:
        while len(self.running) >= self.children:
            self._collect(min(self.running))
        job = len(self.provisional)
        self.provisional[job] = [list(ph) for ph in provisional]
        n_words = len(provisional)

        def phone_pass():  # in the child, on its copy of the decoder
            try:
                return _pass2(decoder, pcm, n_words)
            except RuntimeError:
                return None

        self.running[job] = forked.start(phone_pass)
        return job

    def _collect(self, job: int) -> None:
        ok, out = forked.collect(*self.running.pop(job))
        self.results[job] = out if ok else _FAILED

    def result(self, job: int) -> list | None:
        """The child's phones, per word [(phone, start_frame, end_frame)] (None: failed)."""
        if job in self.running:
            self._collect(job)
        out = self.results[job]
        return None if out is _FAILED else out  # type: ignore[return-value]

    def check(self) -> bool:
        """Whether every phone pass succeeded and kept what the parent assumed of it."""
        for job, provisional in self.provisional.items():
            real = self.result(job)
            if real is None or len(real) != len(provisional):
                return False
            for got, assumed in zip(real, provisional):
                got = [p for p in got if not _is_filler(p[0]) and p[0] != "SIL"]
                if (not got or [p for p, _, _ in got] != [p for p, _, _ in assumed]
                        or got[0][1] != assumed[0][1] or got[-1][2] != assumed[-1][2]):
                    return False
        return True

    def close(self) -> None:
        """Stop and reap children still running (the parent failed or was interrupted)."""
        for pid, read in self.running.values():
            forked.stop(pid, read)
        self.running.clear()


# Long audio runs window phone passes in forked children (`_PhonePasses`), up to this many
# at once beside the parent's word passes (None: one per CPU this process may use; 1:
# serial, no children). Set VOXFACE_ALIGN_WORKERS to override. Results are the same for any
# count. (As many children as CPUs, not one fewer: a phone pass costs more than a word
# pass, so with fewer the parent waits for a child while a core idles.)
ALIGN_WORKERS: int | None = None


def _align_workers() -> int:
    """Phone-pass children for long-audio alignment (1: serial, none): ALIGN_WORKERS,
    $VOXFACE_ALIGN_WORKERS, else the CPUs this process may use; 1 where fork is missing or
    unsafe (other threads running) and inside a multiprocessing worker (a batch already
    keeps every core busy)."""
    n = ALIGN_WORKERS
    if n is None and os.environ.get("VOXFACE_ALIGN_WORKERS", "").strip():
        n = int(os.environ["VOXFACE_ALIGN_WORKERS"])
    if n is None:
        mp = sys.modules.get("multiprocessing")
        if mp is not None and mp.parent_process() is not None:
            return 1
        n = (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
             else os.cpu_count() or 1)
    if n > 1 and not forked.available():
        return 1
    return max(1, n)


def _prefix_decode(decoder, pcm: bytes, words: list[str], lead: int = 0,
                   entries: range | None = None, skips: bool = False,
                   pool: _PhonePasses | None = None
                   ) -> tuple[list[int], list[tuple[int, int]], list | None] | None:
    """Decode with a grammar that is the chain of `words` but may stop after any of them
    (or take none). It enters the chain at `words[lead]`, or, at ENTRY_PROB, at any other
    index in `entries` (resync: the transcript was behind or ahead of the audio); with
    `skips`, it may also skip runs of MIN_SKIP to RESYNC_AHEAD words after the entry
    (REPAIR_SKIP_PROB, times SKIP_WORD_PROB per word). Returns (index in `words` of each
    recognised word, word spans in frames, per-word phones from the phone pass or None
    where that pass failed; deferred to a child with a `pool`, see `_fsg_decode`), or None
    when the search failed."""
    k = len(words)
    entries = range(lead, lead + 1) if entries is None else entries
    # No null transitions between words: set_alignment() cannot handle '(NULL)' segments.
    # "Stop after word i" is a second arc with word i straight into the final state; an
    # entry at word j is an arc from the start state straight into the state after it.
    trans = [(i, i + 1, 1.0, w) for i, w in enumerate(words) if i >= min(entries.start, lead)]
    trans += [(i, k, 1.0, words[i]) for i in range(k - 1)]
    trans += [(0, j + 1, 1.0 if j == lead else ENTRY_PROB * ENTRY_WORD_PROB ** abs(j - lead),
               words[j]) for j in entries if 0 < j < k]
    if skips:
        trans += [(i, j + 1, REPAIR_SKIP_PROB * SKIP_WORD_PROB ** (j - i), words[j])
                  for i in range(lead + 1, k)
                  for j in range(i + MIN_SKIP, min(k, i + RESYNC_AHEAD + 1))]
    trans.append((0, k, 1.0))
    got = _fsg_decode(decoder, pcm, "_prefix", k + 1, trans, pool)
    if got is None:
        return None
    spans, names, phones = got
    if not names:
        return [], spans, phones
    # The entry: where the recognised names follow the chain, the one nearest `lead`
    # (repeated phrases match at several; the grammar's penalty ranks them the same way).
    for j in sorted(entries, key=lambda j: (abs(j - lead), j)):
        if words[j:j + len(names)] == names:
            return list(range(j, j + len(names))), spans, phones
    if skips:
        index = _embed(words, names, lead, to_end=False)
        if index is not None:
            return index, spans, phones
    return None


def _decode_window(samples: np.ndarray, words: list[str], ref_rate: float,
                   measured: bool = False, lead: int = 0, ahead: int = 0,
                   pool: _PhonePasses | None = None,
                   vocab: list[str] | None = None) -> _WindowResult:
    """The run of `words` spoken in `samples` from its start, with phone times (window
    seconds). Normally that run starts at `words[lead]`; a resync entry may start it up to
    `lead` words earlier or `ahead` words later (`_prefix_decode`).

    Tries the WINDOW_ATTEMPTS in order and stops at the first result that looks right:
    less than UNEXPLAINED_S of voiced audio after its last word, and at least
    MIN_RATE_RATIO * `ref_rate` phones per voiced second. A search that lost the path
    either stops early and calls the rest filler, or stretches a few words over the whole
    window; both would leave the transcript behind the audio from here on. When `ref_rate`
    was `measured` on earlier windows, a result with more than MAX_RATE_RATIO times it
    (words squeezed into too little speech: the search jumped ahead, e.g. over a repeated
    phrase) is implausible: the next settings are tried, and a plausible result is
    preferred to an implausible one. Otherwise the longest run found is kept. The second
    attempt's grammar may also skip runs of words inside the window (a transcript
    sentence that was not spoken makes the first attempt lose the path).

    pool: run phone passes in children (`_PhonePasses`; phone times inside words are then
    provisional until `_Placed.resolve`). vocab: the words to add to a decoder before its
    first use (the whole transcript)."""
    pad = WINDOW_PAD_S
    pcm = _pcm(samples, pad)
    active = _active(_frame_db(samples))
    voiced_s = max(float(active.sum()) * FRAME_S, 1e-3)
    lexicon = default_lexicon()
    entries = range(0, min(len(words), lead + ahead + 1))
    best: _WindowResult | None = None
    best_plausible = False
    for config, skips in WINDOW_ATTEMPTS:
        decoder = _decoder(config)
        if vocab is not None:
            _ensure_words(decoder, vocab)
        try:
            if pool is None:
                got = _prefix_decode(decoder, pcm, words, lead, entries, skips)
            else:
                got = _prefix_decode(decoder, pcm, words, lead, entries, skips, pool)
        except RuntimeError:
            got = None
        if got is None:
            continue
        index, spans, phones = got
        out = []
        if phones is not None:
            for ph in phones:
                ph = [(p, s * DECODER_FRAME_S - pad, e * DECODER_FRAME_S - pad)
                      for p, s, e in ph
                      if not _is_filler(p) and p != "SIL"]
                if not ph:
                    phones = None
                    break
                out.append((ph[0][1], ph[-1][2], ph))
        if phones is None:  # phone pass failed: spread phones over the word spans
            out = []
            for (s, e), i in zip(spans, index):
                w = words[i]
                start, end = s * DECODER_FRAME_S - pad, e * DECODER_FRAME_S - pad
                out.append((start, end, _spread(lexicon.pronounce(w), start, end)))
        # A word stretched over seconds of noise or music is not that word: keep the
        # run before it (the window's audio after it gets another try).
        for i, (ws, we, ph) in enumerate(out):
            typical = sum(typical_duration(p) for p, _, _ in ph)
            if we - ws > max(MAX_WORD_S, 6 * typical):
                out = out[:i]
                break
        rate = sum(len(ph) for _, _, ph in out) / voiced_s
        rung = f"window-{config}{'-skip' if skips else ''}" if phones is not None else "words"
        result = _WindowResult(out, rung, rate, tuple(index[:len(out)]),
                               job=phones.job if isinstance(phones, _Deferred) else None)
        plausible = not (measured and rate > MAX_RATE_RATIO * ref_rate)
        if (best is None or (plausible, len(out)) > (best_plausible, len(best.words))):
            best, best_plausible = result, plausible
        last_end = out[-1][1] if out else 0.0
        unexplained = active[max(0, int(last_end / FRAME_S)):].sum() * FRAME_S
        if unexplained < UNEXPLAINED_S and rate >= MIN_RATE_RATIO * ref_rate and plausible:
            return replace(result, good=True)
    return best if best is not None else _WindowResult([], "failed", 0.0)


def _repair_decode(samples: np.ndarray, words: list[str], vocab: list[str] | None = None
                   ) -> list[tuple[float, float, list[tuple[str, float, float]]] | None] | None:
    """Align `words` on `samples` where the audio ends with the last word (an anchor found
    by the next window) but a run of the other words may be missing from the audio.

    The grammar is the chain of `words` with, from every state, skip arcs over MIN_SKIP to
    RESYNC_AHEAD words (REPAIR_SKIP_PROB, times SKIP_WORD_PROB per word).
    Returns per word (start, end, phones) in seconds, None for
    a skipped word; or None when the search failed or did not end on the anchor."""
    n = len(words)
    pad = 0.3
    pcm = _pcm(samples, pad)
    trans = [(i, i + 1, 1.0, w) for i, w in enumerate(words)]
    trans += [(i, j + 1, REPAIR_SKIP_PROB * SKIP_WORD_PROB ** (j - i), words[j])
              for i in range(n) for j in range(i + MIN_SKIP, min(n, i + RESYNC_AHEAD + 1))]
    for config in WINDOW_CONFIGS:
        decoder = _decoder(config)
        _ensure_words(decoder, words if vocab is None else vocab)
        try:
            got = _fsg_decode(decoder, pcm, "_repair", n + 1, trans)
        except RuntimeError:
            got = None
        if got is None or got[2] is None or not got[1] or got[1][-1] != words[-1]:
            continue
        spans, names, phones = got
        kept = _embed(words, names)
        if kept is None:
            continue
        out: list = [None] * n
        for i, ph in zip(kept, phones):
            ph = [(p, s * DECODER_FRAME_S - pad, e * DECODER_FRAME_S - pad)
                  for p, s, e in ph if not _is_filler(p) and p != "SIL"]
            if not ph:
                break
            out[i] = (ph[0][1], ph[-1][2], ph)
        else:
            return out
    return None


def _embed(words: list[str], names: list[str], start: int = 0,
           to_end: bool = True) -> list[int] | None:
    """Indices into `words` of `names` as a subsequence from `start` on (ending at the
    last word when `to_end`), with the fewest skipped runs (the grammars pay per skip; a
    first word after `start` is one run); the earliest end on ties. None when there is
    none."""
    n, m = len(words), len(names)
    if m == 0 or m > n - start:
        return None
    big = n + 1
    # runs[i][j]: fewest runs embedding names[:j] in words[:i] with words[i-1] = names[j-1]
    runs = np.full((n + 1, m + 1), big, dtype=np.int64)
    for i in range(start + 1, n + 1):
        for j in range(1, min(i - start, m) + 1):
            if words[i - 1] != names[j - 1]:
                continue
            if j == 1:
                runs[i, j] = 0 if i - 1 == start else 1
            else:
                gap = runs[start + 1:i - 1, j - 1].min() + 1 if i - 1 > start + 1 else big
                runs[i, j] = min(runs[i - 1, j - 1], gap)
    i = n if to_end else int(np.argmin(runs[:, m]))
    if runs[i, m] >= big:
        return None
    out = []
    for j in range(m, 0, -1):
        out.append(i - 1)
        if j == 1:
            break
        if runs[i - 1, j - 1] == runs[i, j]:
            i -= 1
        else:
            i = next(t for t in range(i - 2, start, -1) if runs[t, j - 1] + 1 == runs[i, j])
    return out[::-1]


@dataclass
class _Placed:
    """Words placed so far, absolute seconds: per word (start, end, phones), and the rung."""

    words: list[tuple[float, float, list[tuple[str, float, float]]]]
    word_rungs: list[str]
    rungs: list[str]
    forced_score: ForcedScore | None = None  # for transcript_fit (see _fit_forced)
    # per word: None, or (job, word in job, offset, lo, hi) when its phones inside the word
    # come from a child's phone pass (`_PhonePasses`; filled in by `resolve`)
    deferred: list[tuple[int, int, float, float, float] | None] = field(default_factory=list)

    def add(self, result_words, offset: float, lo: float, hi: float, rung: str,
            deferred: tuple[int, int] | None = None) -> None:
        """Place window/chunk words (relative seconds) at `offset`, phones clamped to
        [lo, hi]. deferred: (job, word in job) of a single word whose phone times a
        child's phone pass will give."""
        assert deferred is None or len(result_words) == 1
        for ws, we, ph in result_words:
            ph = [(p, min(max(s + offset, lo), hi), min(max(e + offset, lo), hi))
                  for p, s, e in ph]
            self.words.append((ws + offset, we + offset, ph))
            self.word_rungs.append(rung)
            self.deferred.append(None if deferred is None else (*deferred, offset, lo, hi))

    def truncate(self, n: int) -> None:
        """Take back every word from the n-th on."""
        del self.words[n:], self.word_rungs[n:], self.deferred[n:]

    def resolve(self, pool: _PhonePasses) -> bool:
        """Put the children's phone times into the deferred words (exactly as `add` would
        have placed them); False when a child's phone pass differs from what the window
        search assumed (then nothing is changed and the caller aligns serially)."""
        if not pool.check():
            return False
        for k, rec in enumerate(self.deferred):
            if rec is None:
                continue
            job, j, offset, lo, hi = rec
            ph = [(p, s * DECODER_FRAME_S - WINDOW_PAD_S, e * DECODER_FRAME_S - WINDOW_PAD_S)
                  for p, s, e in pool.result(job)[j] if not _is_filler(p) and p != "SIL"]
            ws, we, _ = self.words[k]
            ph = [(p, min(max(s + offset, lo), hi), min(max(e + offset, lo), hi))
                  for p, s, e in ph]
            self.words[k] = (ws, we, ph)
            self.deferred[k] = None
        return True

    def skip(self, first: int, end: int, t: float) -> None:
        """Words first..end-1 (transcript indices; the next to place) are not in the audio:
        no phones, placed at `t` (they come out 1 ms long)."""
        assert first == len(self.words)
        for _ in range(first, end):
            self.words.append((t, t, []))
            self.word_rungs.append(SKIPPED)
            self.deferred.append(None)


def _align_windows(samples: np.ndarray, words: list[str], placed: _Placed,
                   pool: _PhonePasses | None = None) -> None:
    """Long audio in linear time: window by window, each ending at a pause.

    Each window is decoded with a grammar of the next candidate words that may stop after
    any word (`_prefix_decode`); the recognised run says which words the window holds
    and already carries their phone times. All but the last one (two when the window ends
    mid-word) are kept; the next window starts at the end of the last kept word (or in the
    middle of the pause after it). Memory: one window's audio and search at a time.

    Resync: the grammar may also enter the chain up to RESYNC_AHEAD words after the next
    word, or up to RESYNC_BACK words back into the previous window's words, each at
    ENTRY_PROB. An entry ahead means the audio is past those words: the previous window
    and the skipped words are aligned again against its audio up to the entry word with a
    grammar that may skip a run of words (`_repair_decode`); the words it skips (or, with
    no previous window or when that fails, the words jumped over) were not spoken and are
    marked 'skipped'. An entry back means the previous window placed words on speech that
    is not in the transcript: those words are taken back and placed here.

    pool: window phone passes run in children (`_PhonePasses`); the caller must then
    `placed.resolve(pool)`. Decoders get the transcript's words before their first use
    (the 'widest' one is often never needed: not created, ~0.1 s saved)."""
    total, n = len(samples), len(words)
    _ensure_words(_decoder(WINDOW_CONFIGS[0]), words)
    pos, w = 0, 0
    rates: list[float] = []  # phones per voiced second of recent windows
    prev: tuple[int, int] | None = None  # (start sample, first word) of the last window
    while w < n:
        if total - pos <= FINAL_MAX_S * RATE:
            # The transcript-fit score of the first seconds (`_fit_forced`) needs only words
            # placed by now: with a pool it runs in a child beside the last chunk, whose
            # phone pass leaves the other core idle.
            fit_words = _placed_ends(words, placed)
            fit = (forked.start(lambda: _fit_forced(samples, fit_words))
                   if pool is not None else None)
            try:
                result = _align_chunk(samples[pos:], words[w:], vocab=words)
            except BaseException:
                if fit is not None:
                    forked.stop(*fit)
                raise
            placed.rungs.append(result.rung)
            placed.add(result.words, pos / RATE, pos / RATE, total / RATE, result.rung)
            ok, score = forked.collect(*fit) if fit is not None else (False, None)
            # (no child, or it failed: here, the same call)
            placed.forced_score = score if ok else _fit_forced(samples, fit_words)
            return
        pos = _skip_quiet(samples, pos)
        if total - pos <= FINAL_MAX_S * RATE:
            continue
        end, at_pause = _window_end(samples, pos)
        k = min(n - w, int(WORDS_PER_S_MAX * (end - pos) / RATE) + 8 + RESYNC_AHEAD)
        back = min(RESYNC_BACK, w - prev[1]) if prev is not None else 0
        ref_rate = float(np.median(rates)) if rates else DEFAULT_RATE
        result = _decode_window(samples[pos:end], words[w - back:w + k], ref_rate,
                                bool(rates), lead=back, ahead=RESYNC_AHEAD, pool=pool,
                                vocab=words)
        if result.words and result.index[0] >= back + MIN_SKIP and _had_time_for(
                words[w:w - back + result.index[0]], placed,
                pos / RATE + result.words[0][0], ref_rate):
            # An entry ahead over words the audio had time for: more likely a repeated phrase
            # further on than a sentence never said. The chain without entries ahead wins
            # when it explains the window well.
            chain = _decode_window(samples[pos:end], words[w - back:w + k], ref_rate,
                                   bool(rates), lead=back, ahead=0, pool=pool, vocab=words)
            if chain.good:
                result = chain
        placed.rungs.append(result.rung)
        if len(result.words) >= 5:
            rates.append(result.rate)
            del rates[:-20]
        got = result.words
        m = len(got)
        keep = m - (1 if at_pause else 2)
        if keep <= 0:
            if m == 0:  # no transcript speech here (silence, music, untranscribed talk)
                pos = end
                continue
            # Only the held-back words: move on to just before the first of them.
            first = pos + int(max(0.0, got[0][0] - 0.1) * RATE)
            if first - pos >= RATE:
                pos = first
                continue
            keep = 1  # it starts right here: keep it, to make progress
        entry = w - back + result.index[0]
        if entry < w:  # speech the transcript lacks made the last window run ahead
            placed.truncate(entry)
            placed.rungs.append("resync-back")
        elif entry > w:  # the audio is past words[w:entry]: spoken earlier, or never
            anchor = (pos + int(round(got[0][0] * RATE)), pos + int(round(got[0][1] * RATE)))
            if prev is None or not _repair(samples, words, placed, prev, anchor, entry):
                placed.skip(w, entry, pos / RATE)
        prev = (pos, entry)
        offset = pos / RATE
        for q, (r, i) in enumerate(zip(got[:keep], result.index[:keep])):
            i += w - back
            if i > len(placed.words):  # the skip grammar left words out: not spoken
                placed.skip(len(placed.words), i, placed.words[-1][1] if placed.words
                            else offset)
            placed.add([r], offset, offset, end / RATE, result.rung,
                       None if result.job is None else (result.job, q))
        w = len(placed.words)
        anchor_t = _skip_pause(samples[pos:end], got[keep - 1][1])
        pos = max(pos + int(RATE * FRAME_S), pos + int(round(anchor_t * RATE)))
    placed.forced_score = _fit_forced(samples, _placed_ends(words, placed))


def _had_time_for(skipped: list[str], placed: _Placed, entry_t: float, rate: float) -> bool:
    """Whether the audio between the last placed word's end and `entry_t` (seconds) is long
    enough to hold `skipped` at `rate` phones per second (SPOKEN_FRACTION of their length or
    more): then a window entry past them more likely matched a repeated phrase further on
    than found them unspoken (a missing sentence leaves no room)."""
    lexicon = default_lexicon()
    need = sum(len(lexicon.pronounce(w)) for w in skipped) / max(rate, 1e-3)
    last_end = placed.words[-1][1] if placed.words else 0.0
    return entry_t - last_end >= SPOKEN_FRACTION * need


def _repair(samples: np.ndarray, words: list[str], placed: _Placed, prev: tuple[int, int],
            anchor: tuple[int, int], entry: int) -> bool:
    """Align the previous window's words and those up to `entry` again on the audio from
    the previous window's start to the `anchor` word (words[entry], start and end sample),
    skipping what is not spoken (`_repair_decode`). Replaces their placements; False when
    that failed."""
    p0, pw = prev
    # The anchor is in the grammar, so that the search must end with it, but it is placed
    # by the window that found it.
    got = _repair_decode(samples[p0:anchor[1]], words[pw:entry + 1], words)
    if got is None:
        return False
    placed.truncate(pw)
    placed.rungs.append("resync-repair")
    t = p0 / RATE
    for i, r in enumerate(got[:-1]):
        if r is None:
            placed.skip(pw + i, pw + i + 1, placed.words[-1][1] if placed.words else t)
        else:
            placed.add([r], t, t, anchor[0] / RATE, "resync-repair")
    return True


def _skip_quiet(samples: np.ndarray, pos: int) -> int:
    """`pos`, or LEAD_S before the next speech when `pos` lies in a pause longer than
    LEAD_S + 0.15 s (looking at most WINDOW_MAX_S ahead; long silence is skipped a window
    at a time, so the cepstral mean of the next window is not all silence)."""
    stop = min(len(samples), pos + int(WINDOW_MAX_S * RATE))
    t = _skip_pause(samples[pos:stop], 0.0)
    return pos + int(round(t * RATE))


def _skip_pause(samples: np.ndarray, t: float) -> float:
    """Where the next window should start after a word that ends at `t` (window seconds).

    When a pause (>= LEAD_S + 0.15 s of quiet, by level) begins within 0.1 s of `t`, the
    next window starts LEAD_S before the speech after it: a window that starts on the
    decaying tail of the last word, followed by a long pause, lets a short first word
    ('the', 'a') be matched to that tail."""
    active = _active(_frame_db(samples))
    f = int(round(t / FRAME_S))
    if f >= len(active):
        return t
    quiet = np.flatnonzero(~active[f:f + 11])
    if len(quiet) == 0:
        return t
    q0 = f + int(quiet[0])
    nxt = np.flatnonzero(active[q0:])
    q1 = q0 + int(nxt[0]) if len(nxt) else len(active)
    if (q1 - q0) * FRAME_S < LEAD_S + 0.15:
        return t
    return max(t, q1 * FRAME_S - LEAD_S)


# For distorted audio (voxface.core.overflow): no optional pauses between words first. The
# silence and noise models fit wrapped speech better than any phone, so with optional pauses
# the word pass put silence over seconds of speech (TIMIT sample, wrapped takes: 14 -> 8 of
# 20 utterances off by > 50 ms, mean 103 -> 92 ms).
NO_PAUSE_LADDER: tuple[Rung, ...] = (Rung("nofill", "nofill", 0.3),) + LADDER


def _align_all(samples: np.ndarray, words: list[str], ladder: tuple[Rung, ...] = LADDER
               ) -> _Placed:
    placed = _Placed([], [], [])
    if len(samples) <= SHORT_MAX_S * RATE or len(words) < 2:
        result = _align_chunk(samples, words, ladder)
        placed.rungs.append(result.rung)
        placed.add(result.words, 0.0, 0.0, len(samples) / RATE, result.rung)
        if result.forced_score is not None:
            placed.forced_score = ForcedScore(*result.forced_score, len(samples) / RATE,
                                              len(words))
    else:
        workers = _align_workers()
        resolved = False
        if workers > 1:
            pool = _PhonePasses(workers)
            try:
                _align_windows(samples, words, placed, pool)
                resolved = placed.resolve(pool)
            finally:
                pool.close()
        if not resolved:
            # Serial, or a child's phone pass failed or moved a word edge: the serial
            # search decides.
            placed = _Placed([], [], [])
            _align_windows(samples, words, placed)
    _mend_swallowed(samples, words, placed)
    return placed


# Speech swallowed by a pause. With optional pauses the word pass may call a short word's
# vowel silence and put the word on the release of the word before it ("doubts it. I
# think": "I" on the /t/ release, its vowel 0.26 s later inside a pause; ~1 in 4 renderings
# of one espeak voice). The level says there is voiced speech where the aligner has a
# pause; the words around it are then aligned again with no optional pauses ('nofill',
# where pauses fall inside words) and the quiet stretches trimmed off the words' edges.
SWALLOWED_S = 0.05      # a loud voiced run this long inside a pause is swallowed speech,
SWALLOWED_MAX_S = 0.5   # ... up to this long (longer: talk or noise the transcript lacks,
MEND_GAP_S = 2.0        # the windows' business), in a pause up to this long,
MEND_TRIES = 3          # ... of which this many loud runs (longest first) are checked
SWALLOWED_LEVEL = 0.5   # loud: above this fraction of the way from the floor to the peak
TRIM_KEEP_S = 0.03      # a word keeps this much of a quiet stretch at its edge
MEND_STRETCH = 3.0      # a re-aligned word may last this many times its typical length
TRIM_REACH_S = 0.05     # ... one that ends (starts) this close to the word's end (start)


def _loud(db: np.ndarray) -> np.ndarray:
    """Frames well above the clip's floor (bool per 10 ms frame; see `_active`)."""
    lo, hi = np.percentile(db, 10), np.percentile(db, 99)
    return db > lo + SWALLOWED_LEVEL * (hi - lo)


def _runs(mask: np.ndarray, min_len: int) -> list[tuple[int, int]]:
    """[(first, end exclusive)] of the runs of True in `mask` at least `min_len` long,
    longest first."""
    runs = [(a, b) for a, b in _quiet_runs(~mask) if b - a >= min_len]
    return sorted(runs, key=lambda r: r[0] - r[1])


def _has_pitch(samples: np.ndarray, a: float, b: float) -> bool:
    """Whether at least half of [a, b] s has a pitch (Praat's autocorrelation): a vowel,
    not a breath or a click. The analysis reaches 30 ms beyond both ends (the pitch
    window needs three periods of the 75 Hz floor)."""
    import parselmouth

    lo, hi = max(0, int((a - 0.03) * RATE)), min(len(samples), int((b + 0.03) * RATE))
    if hi - lo < int(0.06 * RATE):
        return False
    pitch = parselmouth.Sound(samples[lo:hi].astype(np.float64), RATE).to_pitch(
        time_step=FRAME_S, pitch_floor=75.0, pitch_ceiling=600.0)
    t = pitch.xs() + lo / RATE
    f0 = pitch.selected_array["frequency"][(t >= a) & (t <= b)]
    return len(f0) > 0 and float(np.mean(f0 > 0)) >= 0.5


def _in_pauses(loud: np.ndarray, spans: list[tuple[float, float]], a: float, b: float) -> int:
    """Loud frames of [a, b] s that no word span covers."""
    fa, fb = int(np.ceil(a / FRAME_S)), min(len(loud), int(b / FRAME_S))
    mask = loud[fa:fb].copy()
    for s, e in spans:
        mask[max(0, int(s / FRAME_S) - fa):max(0, int(np.ceil(e / FRAME_S)) - fa)] = False
    return int(mask.sum())


def _trim_quiet(ph: list[tuple[str, float, float]], quiet: list[tuple[float, float]]
                ) -> list[tuple[str, float, float]]:
    """A word's phones with a quiet stretch at (or within TRIM_REACH_S of) either edge cut
    to TRIM_KEEP_S (a 'nofill' word holds the pause next to it)."""
    start, end = ph[0][1], ph[-1][2]
    for qa, qb in quiet:
        if qa <= start + TRIM_REACH_S and start + TRIM_REACH_S < qb < end:
            start = max(start, qb - TRIM_KEEP_S)
        if start < qa < end - TRIM_REACH_S and qb >= end - TRIM_REACH_S:
            end = min(end, qa + TRIM_KEEP_S)
    out = [(p, max(s, start), min(e, end)) for p, s, e in ph]
    return [(p, s, e) for p, s, e in out if e > s] or ph


def _mend_swallowed(samples: np.ndarray, words: list[str], placed: _Placed) -> None:
    """Align again, without optional pauses, the words around every pause (up to
    MEND_GAP_S) that holds a loud voiced run of SWALLOWED_S to SWALLOWED_MAX_S, and keep
    that when it leaves less loud audio outside words and stretches no word over a pause
    (MEND_STRETCH; word rung 'mended'). Times in `placed` are absolute seconds. Cost: one
    level pass; the re-alignment is rare."""
    db = _frame_db(samples)
    if len(db) == 0 or len(placed.words) < 2:
        return
    loud = _loud(db)
    quiet = [(a * FRAME_S, b * FRAME_S) for a, b in _quiet_runs(_active(db))
             if (b - a) * FRAME_S >= MIN_PAUSE_S]
    for k in range(len(placed.words) - 1):
        (_, e0, ph0), (s1, _, ph1) = placed.words[k], placed.words[k + 1]
        fa, fb = int(np.ceil(e0 / FRAME_S)), min(len(loud), int(s1 / FRAME_S))
        runs = []
        if ph0 and ph1 and 0 < s1 - e0 <= MEND_GAP_S:
            runs = [r for r in _runs(loud[fa:fb], int(round(SWALLOWED_S / FRAME_S)))
                    if (r[1] - r[0]) * FRAME_S <= SWALLOWED_MAX_S][:MEND_TRIES]
        run = next((r for r in runs
                    if _has_pitch(samples, (fa + r[0]) * FRAME_S, (fa + r[1]) * FRAME_S)), None)
        if run is None:
            continue
        ra, rb = run
        i0 = k - 1 if k > 0 and placed.words[k - 1][2] else k
        i1 = k + 1
        # One more word on each side anchors the chain: it takes the padding (a padded
        # plain chain puts the padding into its first and last words) and keeps its times.
        j0 = i0 - 1 if i0 > 0 and placed.words[i0 - 1][2] else i0
        j1 = i1 + 1 if i1 + 1 < len(placed.words) and placed.words[i1 + 1][2] else i1
        a, b = placed.words[i0][0], placed.words[i1][1]
        lo = placed.words[j0][0] if j0 < i0 else a
        hi = placed.words[j1][1] if j1 > i1 else b
        result = _align_chunk(samples[int(lo * RATE):int(np.ceil(hi * RATE))],
                              words[j0:j1 + 1], (Rung("nofill", "nofill", 0.3),))
        if result.rung != "nofill":
            continue
        new = []
        for _, _, ph in result.words[i0 - j0:i1 - j0 + 1]:
            ph = [(p, min(max(s + lo, a), b), min(max(e + lo, a), b)) for p, s, e in ph]
            ph = [(p, s, e) for p, s, e in _trim_quiet(ph, quiet) if e > s]
            if not ph:
                break
            new.append((ph[0][1], ph[-1][2], ph))
        old = [(s, e) for s, e, _ in placed.words[i0:i1 + 1]]
        # A word the chain stretched over a pause the trim could not find (a noisy one) is
        # no better than speech left in a pause.
        stretched = any(e - s > max(MEND_STRETCH * sum(typical_duration(p) for p, _, _ in ph),
                                    (e0 - s0) + (rb - ra) * FRAME_S)
                        for (s, e, ph), (s0, e0) in zip(new, old))
        if len(new) == len(old) and not stretched and (
                _in_pauses(loud, [(s, e) for s, e, _ in new], a, b)
                <= _in_pauses(loud, old, a, b) - (rb - ra) // 2):
            placed.words[i0:i1 + 1] = new
            placed.word_rungs[i0:i1 + 1] = ["mended"] * len(new)
            placed.rungs.append("mended")


@dataclass(frozen=True)
class AlignReport:
    """How an alignment was made: the rung of each chunk or window ('wide', 'widest',
    'nofill', 'window-wide', 'window-widest', 'words', 'voiced'; 'resync-back' and
    'resync-repair' mark a long-audio resync, 'mended' each pause whose speech was aligned
    again, `_mend_swallowed`), and of each word (also 'resync-repair', 'mended' and
    'skipped': a transcript word not found in the audio)."""

    rungs: tuple[str, ...]
    word_rungs: tuple[str, ...]

    @property
    def fallback_fraction(self) -> float:
        """Fraction of words whose phone times were estimated, not aligned."""
        if not self.word_rungs:
            return 0.0
        return (sum(r in FALLBACK_RUNGS or r == SKIPPED for r in self.word_rungs)
                / len(self.word_rungs))


def align_pocketsphinx_report(audio: Audio, words: list[str], *, pauses: bool = True
                              ) -> tuple[Alignment, AlignReport]:
    """Like `align_pocketsphinx`, also returning how each chunk/window and word was placed.
    pauses=False: try a grammar without optional pauses first (distorted audio; clips up to
    SHORT_MAX_S only)."""
    if not words:
        raise AlignmentError("no words to align")
    samples = np.asarray(audio.samples, dtype=np.float32)
    if audio.sample_rate != RATE:
        samples = resample(samples, audio.sample_rate, RATE)
    duration = float(audio.duration)
    placed = _align_all(samples, words, LADDER if pauses else NO_PAUSE_LADDER)
    out_words: list[Interval] = []
    out_phones: list[Interval] = []
    prev_end = 0.0
    for word, (_, _, phones) in zip(words, placed.words):
        labels = add_stress([_base_word(p) for p, _, _ in phones])
        first = len(out_phones)
        for label, (_, ps, pe) in zip(labels, phones):
            # Keep strict order and stay inside the clip; padding can push edges outside.
            ps = min(max(ps, prev_end, 0.0), duration)
            pe = min(max(pe, ps), duration)
            if pe <= ps:
                continue  # squeezed to nothing against the clip edge
            out_phones.append(Interval(label, round(ps, 4), round(pe, 4)))
            prev_end = pe
        if len(out_phones) > first:
            out_words.append(Interval(word, out_phones[first].start, out_phones[-1].end))
        else:
            # Every phone squeezed away at the very end: keep the word, 1 ms long.
            t = min(prev_end, duration - 1e-3)
            out_words.append(Interval(word, round(t, 4), round(t + 1e-3, 4)))
            prev_end = max(prev_end, round(t + 1e-3, 4))  # the next phone starts after it
    report = AlignReport(tuple(placed.rungs), tuple(placed.word_rungs))
    warnings = []
    fallen = sum(r in FALLBACK_RUNGS for r in placed.word_rungs)
    if fallen:
        how = ", ".join(sorted({r for r in placed.word_rungs if r in FALLBACK_RUNGS}))
        warnings.append(f"pocketsphinx could not align {fallen} of {len(words)} word(s) "
                        f"phone by phone; phone times there are estimated ({how})")
    warnings += _skip_warnings(words, placed)
    return (Alignment(words=tuple(out_words), phones=tuple(out_phones), duration=duration,
                      source="pocketsphinx", warnings=tuple(warnings),
                      forced_score=placed.forced_score), report)


def _skip_warnings(words: list[str], placed: _Placed) -> list[str]:
    """One warning per run of words the resync skipped, naming them and where."""
    out = []
    i, n = 0, len(placed.word_rungs)
    while i < n:
        if placed.word_rungs[i] != SKIPPED:
            i += 1
            continue
        j = i
        while j < n and placed.word_rungs[j] == SKIPPED:
            j += 1
        said = words[i:j] if j - i <= 16 else words[i:i + 8] + ["..."] + words[j - 8:j]
        out.append(f"{j - i} transcript word(s) not found in the audio near "
                   f"{placed.words[i][0]:.1f} s, skipped (no phones): \"{' '.join(said)}\"")
        i = j
    return out


# Transcript fit: how well the transcript explains the audio, against free phone recognition.
FIT_MAX_S = 10.0        # look at this much audio at most (bounded cost: ~0.45 s CPU)
FIT_MIN_WORDS = 5       # fewer words there: no verdict (a word or two fits anything)
FIT_PAD_S = 0.3
FIT_TAIL_S = 0.2        # audio kept after the last word scored


def _mean_frame_score(decoder) -> float | None:
    """Mean acoustic score per frame of the decoder's last result (log base `logbase`).

    PocketSphinx scores each frame relative to its best senone, so 0 is the best any path
    could do; the Python segments carry exp(score) and are converted back here."""
    segs = decoder.seg()
    if segs is None:
        return None
    log_base = float(np.log(float(decoder.config["logbase"])))
    total, frames = 0.0, 0
    for seg in segs:
        total += float(np.log(max(seg.ascore, 1e-300))) / log_base
        frames += seg.end_frame + 1 - seg.start_frame
    return total / frames if frames else None


def _placed_ends(words: list[str], placed: _Placed) -> list[tuple[str, float]]:
    """(word, end s) of every word placed so far, in transcript order."""
    return [(word, we) for word, (_, we, _) in zip(words, placed.words)]


def _fit_forced(samples: np.ndarray, words: list[tuple[str, float]]) -> ForcedScore | None:
    """The forced word path's score over the start of long audio: the words (label, end s;
    in order) that end within FIT_MAX_S seconds, decoded again on their own audio (cut
    FIT_TAIL_S after the last of them). None when there are fewer than FIT_MIN_WORDS or no
    window config finds their path. Costs ~20 ms of CPU per second decoded."""
    kept = [(w, end) for w, end in words if end <= FIT_MAX_S + 1e-6]
    if len(kept) < FIT_MIN_WORDS:
        return None
    if len(samples) > FIT_MAX_S * RATE:
        samples = samples[:int(round((kept[-1][1] + FIT_TAIL_S) * RATE))]
    pcm = _pcm(samples, FIT_PAD_S)
    labels = [w for w, _ in kept]
    for config in WINDOW_CONFIGS:
        decoder = _decoder(config)
        _ensure_words(decoder, labels)
        try:
            if _pass1(decoder, pcm, labels) is None:
                continue
        except RuntimeError:
            continue
        score = _mean_frame_score(decoder)
        if score is not None:
            return ForcedScore(score, FIT_PAD_S, len(samples) / RATE, len(kept))
    return None


def transcript_fit(audio: Audio, alignment: Alignment, *,
                   sure: float | None = None) -> float | None:
    """How well the transcript explains the audio: the mean per-frame acoustic score of its
    forced word path minus that of free phone recognition of the same audio (PocketSphinx log
    units; 0 = as good as free recognition, lower = worse).

    The forced score is the aligner's own (`Alignment.forced_score`): over the whole clip up
    to 30 s; for longer audio over the words of its first FIT_MAX_S seconds, decoded again
    (`_fit_forced`: in a child beside the aligner's last chunk when alignment runs
    children). An alignment without one (the word pass failed) is scored here the same way.
    The free pass costs ~30 ms of CPU per second of audio scored. Measured
    (docs/robustness.md): the right transcript scores above about -23 on real and synthetic
    speech; another utterance's transcript of similar length below -25 in most cases.
    Returns None when fewer than FIT_MIN_WORDS words are scored or a pass finds no path,
    and, when `sure` is given, when the forced path alone scores at least `sure` (no
    comparison needed; saves the free pass)."""
    samples = np.asarray(audio.samples, dtype=np.float32)
    if audio.sample_rate != RATE:
        samples = resample(samples, audio.sample_rate, RATE)
    forced = alignment.forced_score
    if forced is None:
        forced = _fit_forced(samples, [(w.label, w.end) for w in alignment.words])
    if forced is None or forced.n_words < FIT_MIN_WORDS:
        return None
    if sure is not None and forced.score >= sure:
        return None
    free = _allphone_decoder()
    _decode_utt(free, _pcm(samples[:int(round(forced.end_s * RATE))], forced.pad_s))
    reference = _mean_frame_score(free)
    return None if reference is None else forced.score - reference


def align_pocketsphinx_rungs(audio: Audio, words: list[str], *, pauses: bool = True
                             ) -> tuple[Alignment, tuple[str, ...]]:
    """Like `align_pocketsphinx`, also returning the rung each chunk or window needed
    ('wide', 'widest', 'nofill', 'window-wide', 'window-widest', 'words', 'voiced')."""
    alignment, report = align_pocketsphinx_report(audio, words, pauses=pauses)
    return alignment, report.rungs


def align_pocketsphinx(audio: Audio, words: list[str], *, pauses: bool = True) -> Alignment:
    """Forced alignment of normalised lower-case `words` (see text.normalize) on `audio`.

    Returns an Alignment with one Interval per input word, in order, and ARPAbet phones with
    guessed stress digits; silences are gaps; times in seconds on the audio's timeline.
    Audio longer than SHORT_MAX_S (30 s) is aligned window by window in linear time and
    bounded memory (see the module docstring). Never raises for speech;
    raises AlignmentError only for an empty word list. pauses=False: see
    align_pocketsphinx_report."""
    return align_pocketsphinx_rungs(audio, words, pauses=pauses)[0]


def recognize_phones(audio: Audio) -> Alignment:
    """Phone recognition without a transcript (PocketSphinx allphone search with the en-us
    phone language model). Lower quality than forced alignment: phones are often wrong in
    detail, but the open/closed mouth rhythm is right. `words` is empty."""
    samples = np.asarray(audio.samples, dtype=np.float32)
    if audio.sample_rate != RATE:
        samples = resample(samples, audio.sample_rate, RATE)
    duration = float(audio.duration)
    decoder = _allphone_decoder()
    phones: list[Interval] = []
    max_len = int(MAX_CHUNK_S * RATE)
    # Fixed-length pieces keep memory flat; a phone cut at a piece edge is merely split.
    for s0 in range(0, len(samples), max_len):
        piece = samples[s0:s0 + max_len]
        if len(piece) < int(0.05 * RATE):
            continue
        _decode_utt(decoder, _pcm(piece, 0.0))
        segs = decoder.seg()
        if segs is None:
            continue
        offset = s0 / RATE
        for s in segs:
            name = s.word
            if _is_filler(name) or name in ("SIL", "sil"):
                continue
            start = offset + s.start_frame * FRAME_S
            end = min(offset + (s.end_frame + 1) * FRAME_S, duration)
            if phones and start < phones[-1].end:
                start = phones[-1].end
            if end > start:
                phones.append(Interval(add_stress([name])[0], round(start, 4), round(end, 4)))
    return Alignment(words=(), phones=tuple(phones), duration=duration, source="allphone",
                     warnings=("no transcript: phones recognised without one (allphone); "
                               "expect lower lip-sync quality",))
