"""Forced alignment (and transcript-free phone recognition) with PocketSphinx 5.

`align_pocketsphinx(audio, words)` places a known word sequence on the audio and returns word
and phone intervals; it never fails on speech: when PocketSphinx's two-pass alignment gives
up, a retry ladder tries other settings, then spreads phones by typical durations.

PocketSphinx's alignment is two passes: pass 1 aligns words (an FSG of the transcript with
optional fillers/silences between words), pass 2 (`set_alignment`) aligns phones and HMM
states inside the pass-1 word spans. Frames are 10 ms. Pitfalls found by measurement on 20
espeak-ng sentences (see tests/test_pocketsphinx_align.py):
  * `bestpath=yes` (the default) makes ~10% of utterances end with "Failed to stop utterance
    processing"; we always run with bestpath off (pass 1 needs no lattice).
  * the default beams prune the right path for ~30% of synthetic sentences ("Final result
    does not match the grammar", then "Failed to set up sub-word alignment"); wider beams
    and padding the clip with quiet fix most, turning fillers off fixes the rest.
  * `Decoder.hyp()` after the phone pass, and holding on to entries of `get_alignment()`
    after iterating past them, crash the process; we read each entry while iterating.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import numpy as np

from voxface.engine.audio import Audio
from voxface.errors import AlignmentError
from voxface.phonemes.arpabet import typical_duration
from voxface.phonemes.lexicon import add_stress, default_lexicon
from voxface.phonemes.types import Alignment, Interval

FRAME_S = 0.01          # PocketSphinx frame shift
RATE = 16_000
MAX_CHUNK_S = 30.0      # longer audio is split at pauses so time and memory stay linear

# Decoder settings, by name. All share the en-us acoustic model and CMUdict.
_CONFIGS: dict[str, dict] = {
    "default": dict(bestpath=False),
    "wide": dict(bestpath=False, beam=1e-100, wbeam=1e-80, pbeam=1e-100),
    "widest": dict(bestpath=False, beam=1e-200, wbeam=1e-200, pbeam=1e-200,
                   lpbeam=1e-200, lponlybeam=1e-200),
    # No optional fillers: the word FSG is then a plain chain, which cannot lose the path
    # at a filler; pauses end up inside neighbouring words, which is why it comes late.
    "nofill": dict(bestpath=False, fsgusefiller=False, beam=1e-100, wbeam=1e-80,
                   pbeam=1e-100),
}


@dataclass(frozen=True)
class Rung:
    """One attempt of the retry ladder: decoder settings and seconds of quiet padding."""

    name: str
    config: str
    pad_s: float


# The ladder, cheapest first. After these come 'words' (pass-1 word spans with phones
# spread by typical durations) and 'voiced' (all phones spread over the voiced frames).
LADDER: tuple[Rung, ...] = (
    Rung("pad", "default", 0.3),
    Rung("wide", "wide", 0.3),
    Rung("widest", "widest", 0.5),
    Rung("nofill", "nofill", 0.3),
)
FALLBACK_RUNGS = ("words", "voiced")


@functools.lru_cache(maxsize=None)
def _decoder(config: str):
    """One PocketSphinx decoder per settings name per process (creation costs ~0.15 s)."""
    import pocketsphinx

    return pocketsphinx.Decoder(lm=None, loglevel="FATAL", **_CONFIGS[config])


@functools.lru_cache(maxsize=1)
def _allphone_decoder():
    import os

    import pocketsphinx

    lm = os.path.join(pocketsphinx.get_model_path(), "en-us", "en-us-phone.lm.bin")
    # Narrow beams: 1e-10 gives the same phones as 1e-48 on our speech at ~30 ms per s
    # instead of ~55; a low language weight (2 vs the default 6.5) lets acoustics outvote
    # the phone LM: more and more plausible phones ("DH IH Z" for "this").
    return pocketsphinx.Decoder(allphone=lm, lm=None, loglevel="FATAL", bestpath=False,
                                beam=1e-10, pbeam=1e-10, lw=2.0)


def _ensure_words(decoder, words: list[str]) -> None:
    """Add words missing from the decoder's dictionary, with the lexicon's pronunciation
    (letter-to-sound for unknown words), so set_align_text never fails on a word."""
    lexicon = default_lexicon()
    missing = [w for w in dict.fromkeys(words) if decoder.lookup_word(w) is None]
    for i, w in enumerate(missing):
        decoder.add_word(w, " ".join(lexicon.pronounce(w)), update=(i == len(missing) - 1))


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
    decoder.start_utt()
    decoder.process_raw(pcm, full_utt=True)
    decoder.end_utt()
    segs = decoder.seg()
    if segs is None:
        return None
    spans = [(s.start_frame, s.end_frame + 1) for s in segs if not _is_filler(s.word)]
    return spans if len(spans) == len(words) else None


def _pass2(decoder, pcm: bytes, n_words: int) -> list[list[tuple[str, int, int]]] | None:
    """Phone-level pass on the current pass-1 hypothesis. Returns per word a list of
    (phone, start_frame, end_frame_exclusive), or None on failure."""
    decoder.set_alignment()
    decoder.start_utt()
    decoder.process_raw(pcm, full_utt=True)
    decoder.end_utt()
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


def _align_chunk(samples: np.ndarray, words: list[str]) -> _ChunkResult:
    """Align one chunk (<= ~30 s) with the retry ladder. Times are chunk-relative seconds."""
    lexicon = default_lexicon()
    word_spans: tuple[list[tuple[int, int]], float] | None = None
    for rung in LADDER:
        decoder = _decoder(rung.config)
        _ensure_words(decoder, words)
        pcm = _pcm(samples, rung.pad_s)
        try:
            spans = _pass1(decoder, pcm, words)
            if spans is None:
                continue
            if word_spans is None:
                word_spans = (spans, rung.pad_s)
            phones = _pass2(decoder, pcm, len(words))
        except RuntimeError:
            continue
        if phones is None:
            continue
        out = []
        for ph in phones:
            ph = [(p, s * FRAME_S - rung.pad_s, e * FRAME_S - rung.pad_s) for p, s, e in ph
                  if not _is_filler(p) and p != "SIL"]
            if not ph:
                break
            out.append((ph[0][1], ph[-1][2], ph))
        else:
            return _ChunkResult(out, rung.name)
    prons = [lexicon.pronounce(w) for w in words]
    if word_spans is not None:
        spans, pad = word_spans
        out = []
        for (s, e), pron in zip(spans, prons):
            start, end = s * FRAME_S - pad, e * FRAME_S - pad
            out.append((start, end, _spread(pron, start, end)))
        return _ChunkResult(out, "words")
    return _voiced_fallback(samples, words, prons)


def _quiet_run_lengths(active: np.ndarray) -> np.ndarray:
    """For every frame, the length (frames) of the run of inactive frames it lies in
    (0 for active frames)."""
    out = np.zeros(len(active), dtype=np.int64)
    f = 0
    while f < len(active):
        if active[f]:
            f += 1
            continue
        g = f
        while g < len(active) and not active[g]:
            g += 1
        out[f:g] = g - f
        f = g
    return out


def _split_points(samples: np.ndarray, words: list[str]) -> list[tuple[int, int, int, int]]:
    """Chunks for long audio: [(start_sample, end_sample, first_word, end_word)].

    A coarse word-level pass over the whole clip (~27 ms per s) says where each
    word lies; cuts go in the longest inter-word gap in the second half of each 30 s
    window. If that pass fails, cuts go in the longest quiet stretch and words are shared
    out in proportion to voiced time versus their typical spoken length."""
    total = len(samples)
    max_len = int(MAX_CHUNK_S * RATE)
    if total <= max_len or len(words) < 2:
        return [(0, total, 0, len(words))]
    active = voiced_frames(samples)
    hop = int(RATE * FRAME_S)
    quiet_run = _quiet_run_lengths(active)
    spans = None
    pad = 0.3
    # Over a whole long clip the default and 'wide' beams lose the path far more often than
    # on short chunks (both failed on 52 s of real speech), so go straight to 'widest'
    # (~27 ms per s); 'nofill' cannot lose the path but has no silence words, so its cuts
    # rely on the quiet stretch found at each boundary.
    for config in ("widest", "nofill"):
        decoder = _decoder(config)
        _ensure_words(decoder, words)
        try:
            spans = _pass1(decoder, _pcm(samples, pad), words)
        except RuntimeError:
            spans = None
        if spans is not None:
            break
    cand: list[tuple[int, float, int]] = []  # (cut sample, quiet seconds there, first word)
    if spans is not None:
        # Gap k lies between word k-1 and word k; its middle is a cut candidate.
        for k in range(1, len(words)):
            end_prev = max(0.0, spans[k - 1][1] * FRAME_S - pad)
            start_k = max(0.0, spans[k][0] * FRAME_S - pad)
            mid = (end_prev + start_k) / 2
            f = min(int(mid / FRAME_S), len(active) - 1)
            cand.append((int(mid * RATE), max(start_k - end_prev, quiet_run[f] * FRAME_S), k))
    else:
        # Share words out by voiced time: word k starts where the voiced fraction of the
        # clip reaches the typical-duration fraction of the transcript before word k.
        lexicon = default_lexicon()
        flat_w = np.array([sum(typical_duration(p) for p in lexicon.pronounce(w))
                           for w in words])
        cum_w = np.concatenate([[0.0], np.cumsum(flat_w)]) / flat_w.sum()
        cum_v = np.cumsum(active) / max(int(active.sum()), 1)
        f = 0
        while f < len(active):
            if active[f]:
                f += 1
                continue
            run = int(quiet_run[f])
            mid = f + run // 2
            k = int(np.searchsorted(cum_w, cum_v[mid], side="right")) - 1
            if run >= 15 and 0 < k < len(words):
                cand.append((mid * hop, run * FRAME_S, k))
            f += run
    chunks = []
    start, first = 0, 0
    while total - start > max_len:
        lo, hi = start + max_len // 2, start + max_len
        window = [c for c in cand if lo <= c[0] <= hi and c[2] > first]
        if not window:
            window = [c for c in cand if start < c[0] <= hi and c[2] > first]
        if not window:
            break  # no usable pause: keep the rest as one long chunk
        cut, _, k = max(window, key=lambda c: (c[1], c[0]))
        chunks.append((start, cut, first, k))
        start, first = cut, k
    chunks.append((start, total, first, len(words)))
    return chunks


def align_pocketsphinx_rungs(audio: Audio, words: list[str]) -> tuple[Alignment, tuple[str, ...]]:
    """Like `align_pocketsphinx`, also returning the ladder rung each chunk needed
    ('pad', 'wide', 'widest', 'nofill', 'words', 'voiced')."""
    if not words:
        raise AlignmentError("no words to align")
    samples = np.asarray(audio.samples, dtype=np.float32)
    if audio.sample_rate != RATE:
        from voxface.engine.audio import resample

        samples = resample(samples, audio.sample_rate, RATE)
    duration = float(audio.duration)
    out_words: list[Interval] = []
    out_phones: list[Interval] = []
    rungs: list[str] = []
    prev_end = 0.0
    for s0, s1, w0, w1 in _split_points(samples, words):
        if w0 == w1:
            continue
        result = _align_chunk(samples[s0:s1], words[w0:w1])
        rungs.append(result.rung)
        offset = s0 / RATE
        chunk_end = min(s1 / RATE, duration)
        for word, (ws, we, phones) in zip(words[w0:w1], result.words):
            labels = add_stress([_base_word(p) for p, _, _ in phones])
            first = len(out_phones)
            for label, (_, ps, pe) in zip(labels, phones):
                # Clamp to the chunk and keep strict order; padding can push edges outside.
                ps = min(max(ps + offset, prev_end, offset), chunk_end)
                pe = min(max(pe + offset, ps), chunk_end)
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
    warnings = []
    fallen = [r for r in rungs if r in FALLBACK_RUNGS]
    if fallen:
        warnings.append(f"pocketsphinx could not align {len(fallen)} of {len(rungs)} chunk(s) "
                        f"phone by phone; phone times there are estimated ({', '.join(fallen)})")
    return (Alignment(words=tuple(out_words), phones=tuple(out_phones), duration=duration,
                      source="pocketsphinx", warnings=tuple(warnings)), tuple(rungs))


def align_pocketsphinx(audio: Audio, words: list[str]) -> Alignment:
    """Forced alignment of normalised lower-case `words` (see text.normalize) on `audio`.

    Returns an Alignment with one Interval per input word, in order, and ARPAbet phones with
    guessed stress digits; silences are gaps; times in seconds on the audio's timeline.
    Audio longer than 30 s is aligned in chunks cut at pauses. Never raises for speech;
    raises AlignmentError only for an empty word list."""
    return align_pocketsphinx_rungs(audio, words)[0]


def recognize_phones(audio: Audio) -> Alignment:
    """Phone recognition without a transcript (PocketSphinx allphone search with the en-us
    phone language model). Lower quality than forced alignment: phones are often wrong in
    detail, but the open/closed mouth rhythm is right. `words` is empty."""
    samples = np.asarray(audio.samples, dtype=np.float32)
    if audio.sample_rate != RATE:
        from voxface.engine.audio import resample

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
        decoder.start_utt()
        decoder.process_raw(_pcm(piece, 0.0), full_utt=True)
        decoder.end_utt()
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
