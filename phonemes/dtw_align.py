"""Align speech in any language by dynamic time warping against espeak-ng's own rendering.

The approach of aeneas: espeak-ng speaks the same text in the same language
(phonemes.languages), so its phone times are exact on ITS audio; dynamic time warping of the
two utterances' cepstra (MFCC, 5 ms hop, cepstral mean and variance normalised per utterance)
maps every reference phone start onto the recording. No acoustic model of the language is
needed, so it works for every language espeak has a voice for; how well depends on how close
the recording's phones are to espeak's (tools/languages_eval.py measures it on espeak voices
with other speakers, pitches and rates).

`align_dtw(audio, text, language)` -> Alignment (source 'dtw:<language>', phones ARPAbet
mapped from IPA, `ipa` and `language` set).
"""

from __future__ import annotations

import numpy as np

from voxface.core.alignment import Alignment, Interval
from voxface.core.audio import Audio
from voxface.core.errors import InputError
from voxface.phonemes.languages import synthesize_language

RATE = 16_000
HOP = 80          # samples, 5 ms
WIN = 400         # samples, 25 ms
N_MELS = 40
N_CEPS = 13
REF_PAD_S = 0.25  # seconds of silence around espeak's reference rendering


def _mel_bank(n_fft: int, rate: int, n_mels: int) -> np.ndarray:
    def mel(f):
        return 2595.0 * np.log10(1.0 + f / 700.0)

    def hz(m):
        return 700.0 * (10.0 ** (m / 2595.0) - 1.0)

    edges = hz(np.linspace(mel(60.0), mel(7600.0), n_mels + 2))
    freqs = np.linspace(0, rate / 2, n_fft // 2 + 1)
    bank = np.zeros((n_mels, freqs.size))
    for k in range(n_mels):
        lo, mid, hi = edges[k], edges[k + 1], edges[k + 2]
        bank[k] = np.clip(np.minimum((freqs - lo) / (mid - lo), (hi - freqs) / (hi - mid)), 0, 1)
    return bank


_BANK = _mel_bank(512, RATE, N_MELS)
_DCT = np.cos(np.pi / N_MELS * (np.arange(N_MELS)[None, :] + 0.5)
              * np.arange(N_CEPS)[:, None])  # [N_CEPS, N_MELS]


def mfcc(samples: np.ndarray) -> np.ndarray:
    """16 kHz float samples [N] -> normalised cepstra [T, N_CEPS - 1 + 1]: c1..c12 and the
    log energy, each standardised over the utterance. Frame t is centred on sample
    t * HOP (the signal is padded by WIN / 2 on both sides)."""
    x = np.pad(np.asarray(samples, np.float64), (WIN // 2, WIN // 2))
    if x.size < WIN:
        x = np.pad(x, (0, WIN - x.size))
    frames = np.lib.stride_tricks.sliding_window_view(x, WIN)[::HOP] * np.hanning(WIN)
    power = np.abs(np.fft.rfft(frames, 512)) ** 2
    logmel = np.log(power @ _BANK.T + 1e-10)
    ceps = logmel @ _DCT.T
    feats = np.concatenate([ceps[:, 1:], np.log(power.sum(axis=1) + 1e-10)[:, None]], axis=1)
    return (feats - feats.mean(axis=0)) / (feats.std(axis=0) + 1e-8)


def dtw_path(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Dynamic time warping of feature sequences a [N, D] and b [M, D] (Euclidean cost,
    steps (1,1), (1,0), (0,1) weighted alike; weighting the diagonal 2, the textbook
    symmetric form, doubled the error on espeak speech). Returns for each frame of `a` the first frame of `b` it is
    paired with: int array [N]."""
    n, m = len(a), len(b)
    cost = np.sqrt(np.maximum(((a ** 2).sum(1)[:, None] + (b ** 2).sum(1)[None, :]
                               - 2.0 * a @ b.T), 0.0))
    acc = np.empty((n, m))
    acc[0] = np.cumsum(cost[0])
    for i in range(1, n):
        # from above or the diagonal, then the row's own left-to-right run:
        # acc[i, j] = S[j] + min_{k<=j} (best_k - S[k-1]), S = cumsum of this row's costs
        best = acc[i - 1].copy()
        best[1:] = np.minimum(best[1:], acc[i - 1, :-1])
        s = np.cumsum(cost[i])
        shifted = np.concatenate([[0.0], s[:-1]])
        acc[i] = s + np.minimum.accumulate(best - shifted)
    first = np.full(n, -1, np.int64)
    i, j = n - 1, m - 1
    while True:
        first[i] = j
        if i == 0 and j == 0:
            break
        if i == 0:
            j -= 1
            continue
        if j == 0:
            i -= 1
            continue
        options = (acc[i - 1, j - 1], acc[i - 1, j], acc[i, j - 1])
        step = int(np.argmin(options))
        if step == 0:
            i, j = i - 1, j - 1
        elif step == 1:
            i -= 1
        else:
            j -= 1
    return first


def align_dtw(audio: Audio, text: str, language: str, *, rate_wpm: int = 175) -> Alignment:
    """Phone and word times of `audio` (speech of `text` in `language`) by DTW against
    espeak-ng's rendering of the same text (module docstring).

    Returns an Alignment on the audio's timeline. Raises InputError for empty text or an
    unsupported language.
    """
    if not text or not text.strip():
        raise InputError("dtw alignment: the text is empty")
    # Silence around the reference lets the recording's own leading and trailing silence
    # pair with silence: without it the path is pinned at (0, 0) and the first phone starts
    # at the recording's first sample.
    ref = synthesize_language(text, language, rate_wpm=rate_wpm, pad_s=REF_PAD_S)
    a = mfcc(ref.audio.samples)
    b = mfcc(audio.samples)
    to_b = dtw_path(a, b)
    step = HOP / RATE

    def warp(t: float) -> float:
        i = min(max(int(round(t / step)), 0), len(to_b) - 1)
        return min(float(to_b[i]) * step, audio.duration)

    def moved(ivs: tuple[Interval, ...]) -> tuple[Interval, ...]:
        out: list[Interval] = []
        for iv in ivs:
            start, end = warp(iv.start), warp(iv.end)
            if out and start < out[-1].end:
                start = out[-1].end
            end = max(end, start + step)
            out.append(Interval(iv.label, start, min(end, max(audio.duration, start + step))))
        return tuple(out)

    return Alignment(words=moved(ref.words), phones=moved(ref.phones), duration=audio.duration,
                     source=f"dtw:{language}", warnings=ref.notes, ipa=ref.ipa,
                     language=language)
