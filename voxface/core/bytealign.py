"""Byte-misaligned 16-bit PCM: detection and exact repair.

16-bit PCM is a stream of byte pairs. When a stream loses (or gains) one byte - a dropped
byte in a copy or a transfer, a header of odd length read as even - every sample from there
on is read from the high byte of one sample and the low byte of the next. When a file's
byte order is wrong (big-endian samples read as little-endian), every sample's bytes are
swapped. Either way the speech is still there, whole, but read wrongly it is full-scale
white noise: quiet stretches of speech turn into noise at -5 dBFS, which the aligner's
silence/noise models fit better than any phone. (The shared TIMIT sample has 20 such takes:
from somewhere in the utterance on, its samples are read one byte off; docs/alignment.md.)

Both faults are lossless, so the repair is exact: of the three ways to read the bytes -

* `DIRECT`: as stored, bytes (2n, 2n+1);
* `SWAPPED`: each sample's two bytes exchanged (wrong byte order);
* `SHIFTED`: one byte on, bytes (2n+1, 2n+2) (a byte lost or gained before sample n);

the right one is the one whose waveform is smooth. Natural audio at 16 kHz changes little
from one sample to the next compared with the full range, while a misread stream jumps by
~a third of the full range on average (its high byte is the next sample's low byte, which is
uniformly distributed). A three-state Viterbi over 10 ms frames, costed by the summed
|x[n] - x[n-1]| of each reading and with a large price on switching readings, finds the
stretches; each switch is then placed at the exact sample that minimises the cost. Natural
audio never prefers another reading for a frame (every sample of it would have to be
smoother read wrongly), and clipped audio is smooth read directly, so neither is touched.
"""

from __future__ import annotations

import numpy as np

DIRECT, SWAPPED, SHIFTED = 0, 1, 2
READINGS = ("direct", "byte-swapped", "one byte off")
FRAME = 160                # samples per decision frame (10 ms at 16 kHz)
# Price of switching readings, in summed |step| units: a misread frame costs ~160 x 21800
# (3.5 M), natural speech ~160 x 50..3000 (8 k..0.5 M). A switch must pay for itself over
# more than a frame of clearly misread samples, so no natural frame ever triggers one.
SWITCH_COST = 4.0e6
# A stretch is repaired only when reading it directly jumps by at least this much per
# sample on average (a misread loud stretch jumps by ~21800; loud natural audio <3000):
# a guard against quiet stretches where all readings are near-silent and the costs tie.
MIN_MISREAD_STEP = 6000.0
# ... and only when the other reading is this much smoother (speech read right: steps of
# ~1-10 % of the misread ones; full-scale white noise: ~100 % in every reading).
MAX_REPAIRED_RATIO = 0.3


def readings(pcm: np.ndarray) -> np.ndarray:
    """The three readings of int16 [N] samples -> int16 [3, N] (DIRECT, SWAPPED, SHIFTED).
    The last SHIFTED sample has only one byte of its own: its missing high byte is taken as
    the sign extension of the low one."""
    x = np.ascontiguousarray(pcm, dtype="<i2")
    raw = x.view(np.uint8)
    shifted = np.empty_like(x)
    if x.size > 1:
        shifted[:-1] = raw[1:-1].copy().view("<i2")
    if x.size:
        shifted[-1] = np.int8(raw[-1].view(np.int8))
    return np.stack([x, x.byteswap(), shifted])


def _local(x: np.ndarray, a: int, b: int) -> tuple[np.ndarray, np.ndarray]:
    """Readings int16 [3, b-a] of samples a..b-1 of x (as readings(x) would give them) and
    their |step| from the previous sample, float64 [3, b-a] (0 at sample 0)."""
    lo, hi = max(a - 1, 0), min(b + 1, x.size)
    r = readings(x[lo:hi])[:, a - lo:a - lo + (b - a)]
    prev = readings(x[lo:hi])[:, :1] if a > 0 else r[:, :1]
    steps = np.abs(np.diff(r.astype(np.int32), axis=1, prepend=prev.astype(np.int32)))
    return r, steps.astype(np.float64)


_BLOCK = FRAME * 4096      # samples per block (~0.66 M): memory stays bounded on long files


def _frame_costs(x: np.ndarray) -> np.ndarray:
    """Summed |step| per FRAME of each reading -> float64 [3, F], computed a block at a
    time (a full [3, N] float copy of an hour of 48 kHz audio would be 4 GB)."""
    f = -(-x.size // FRAME)
    costs = np.zeros((3, f))
    for a in range(0, x.size, _BLOCK):
        b = min(a + _BLOCK, x.size)
        _, steps = _local(x, a, b)
        n = b - a
        k = -(-n // FRAME)
        padded = np.zeros((3, k * FRAME))
        padded[:, :n] = steps
        costs[:, a // FRAME:a // FRAME + k] = padded.reshape(3, k, FRAME).sum(axis=2)
    return costs


def _viterbi(costs: np.ndarray) -> np.ndarray:
    """Cheapest state path [F] through frame costs [3, F] with SWITCH_COST per switch."""
    n_states, f = costs.shape
    back = np.zeros((f, n_states), dtype=np.int8)
    acc = costs[:, 0].copy()
    acc[1:] += SWITCH_COST    # starting misread is a switch too: direct is the prior
    switch = np.full((n_states, n_states), SWITCH_COST)
    np.fill_diagonal(switch, 0.0)
    for t in range(1, f):
        total = acc[None, :] + switch          # [to, from]
        back[t] = np.argmin(total, axis=1)
        acc = total[np.arange(n_states), back[t]] + costs[:, t]
    path = np.empty(f, dtype=np.int8)
    path[-1] = int(np.argmin(acc))
    for t in range(f - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    return path


def find_misread(pcm: np.ndarray) -> list[tuple[int, int, int]]:
    """Stretches of int16 [N] samples that are read wrongly: [(start, stop, reading)] in
    samples, reading SWAPPED or SHIFTED; empty for natural (and clipped) audio."""
    x = np.ascontiguousarray(pcm, dtype="<i2")
    if x.size < 2 * FRAME:
        return []
    costs = _frame_costs(x)
    # Quick exit: natural audio has no frame where another reading is cheaper by anything
    # near what a switch costs.
    if not np.any(costs[0] - costs[1:].min(axis=0) > SWITCH_COST / 4):
        return []
    path = _viterbi(costs)   # ~5 us per frame (2 s for an hour), only for suspicious files
    # Frame runs -> sample runs, each switch moved to its cheapest sample.
    edges = [0]
    states = [int(path[0])]
    for t in np.flatnonzero(np.diff(path)) + 1:
        a, b = int(path[t - 1]), int(path[t])
        lo, hi = max((t - 1) * FRAME, edges[-1] + 1), min((t + 1) * FRAME, x.size)
        _, steps = _local(x, lo, hi)
        # cost of reading `a` before sample lo+k and `b` from it on, for every k
        before = np.concatenate([[0.0], np.cumsum(steps[a])])[:-1]
        after = np.cumsum(steps[b][::-1])[::-1]
        edges.append(lo + int(np.argmin(before + after)))
        states.append(b)
    edges.append(x.size)
    out = []
    for (a, b), s in zip(zip(edges[:-1], edges[1:]), states):
        if s == DIRECT or b <= a:
            continue
        steps = _local(x, a, b)[1].mean(axis=1)
        # Misread: noise-like as stored, and clearly smoother read the other way (white noise
        # is equally rough in every reading and stays as it is).
        if steps[DIRECT] < MIN_MISREAD_STEP or steps[s] > MAX_REPAIRED_RATIO * steps[DIRECT]:
            continue
        out.append((a, b, s))
    return out


def repair(pcm: np.ndarray) -> tuple[np.ndarray, list[tuple[int, int, int]]]:
    """int16 [N] -> (int16 [N] with each misread stretch read the right way, the stretches
    as find_misread gives them). The input array is not modified."""
    spans = find_misread(pcm)
    if not spans:
        return np.asarray(pcm), []
    out = np.array(pcm, dtype=np.int16, copy=True)
    for a, b, s in spans:
        out[a:b] = _local(np.asarray(pcm), a, b)[0][s]
    # Where a byte was lost or gained, the one sample that straddles it holds a byte of each
    # reading and is wrong in all three: replace it by its neighbours' mean when it sticks out.
    for e in sorted({e for a, b, _ in spans for e in (a - 1, a, b - 1, b)}):
        if 0 < e < out.size - 1:
            mid = (int(out[e - 1]) + int(out[e + 1])) // 2
            if abs(int(out[e]) - mid) > MIN_MISREAD_STEP / 2:
                out[e] = mid
    return out, spans


def describe(spans: tuple[tuple[float, float, str], ...] | list, limit: int = 4) -> str:
    """[(start_s, end_s, how)] -> '0.75-3.42 s one byte off, 4.00-4.40 s byte-swapped (+3 more)'."""
    shown = ", ".join(f"{a:.2f}-{b:.2f} s {how}" for a, b, how in spans[:limit])
    return shown + (f" (+{len(spans) - limit} more)" if len(spans) > limit else "")
