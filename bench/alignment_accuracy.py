"""Phone-boundary accuracy of `voxface.phonemes.align.align` against exact espeak-ng timing.

espeak-ng reports the output sample at which each phoneme starts, so speech synthesized with
it has exact phone boundaries (voxface.phonemes.espeak). We speak N sentences (a fixed,
phonetically varied list plus deterministic combinations with names, numbers and questions)
with several voices, variants, rates (120-220 wpm) and pitches, align each with its text,
and compare phone START times.

espeak's pronunciations differ from the aligner's dictionary (CMUdict) in places, so phones
are paired by edit-distance alignment of the stress-stripped label sequences and only pairs
with the same label are scored; the report says how many truth phones were scored.

    python bench/alignment_accuracy.py [-n 40] [--aligner pocketsphinx] [--json out.json]

Prints a Markdown summary: mean / median / p90 absolute start error, signed mean (positive =
aligner late), % within 10 / 20 / 50 ms, and compute seconds per second of audio.
"""

from __future__ import annotations

import sys as _sys
from pathlib import Path as _Path

# tools/ (the evaluation harness, training) runs from the checkout, not the installed package.
_sys.path.insert(0, str(_Path(__file__).resolve().parents[1]))

import argparse
import json
import random
import sys
import time
from dataclasses import asdict, dataclass

import numpy as np

from tools import evaluate as _ev

# The bench's sentence material is the first part of the eval harness's (tools/evaluate.py),
# so both speak the same vocabulary; the bench keeps its own rate ladder.
FIXED_SENTENCES = _ev.FIXED_SENTENCES[:20]
NAMES = _ev.NAMES[:16]
VERBS = _ev.VERBS[:8]
OBJECTS = _ev.OBJECTS[:10]
PLACES = _ev.PLACES[:8]
FRAMES = _ev.FRAMES[:6]
VOICES = _ev.VOICES[:8]
RATES = [120, 145, 165, 175, 190, 205, 220]
PITCHES = _ev.PITCHES[:6]
PAD_S = 0.3  # seconds of silence around each clip, as in real recordings


def sentences(n: int, seed: int = 0) -> list[str]:
    """The first `n` benchmark sentences: the fixed list, then combinations (deterministic)."""
    rng = random.Random(seed)
    out = list(FIXED_SENTENCES[:n])
    while len(out) < n:
        name, other = rng.sample(NAMES, 2)
        out.append(rng.choice(FRAMES).format(
            n=name, m=other, v=rng.choice(VERBS), o=rng.choice(OBJECTS), p=rng.choice(PLACES),
            k=rng.choice([3, 14, 27, 60, 118, 2024])))
    return out


def pair_starts(truth: list[tuple[str, float]], hyp: list[tuple[str, float]]
                ) -> list[tuple[float, float]]:
    """Edit-distance alignment of two (label, start) sequences on their labels; returns the
    (truth_start, hyp_start) of the pairs whose labels are equal."""
    n, m = len(truth), len(hyp)
    cost = np.zeros((n + 1, m + 1), dtype=np.int32)
    cost[:, 0] = np.arange(n + 1)
    cost[0, :] = np.arange(m + 1)
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            sub = cost[i - 1, j - 1] + (0 if truth[i - 1][0] == hyp[j - 1][0] else 1)
            cost[i, j] = min(sub, cost[i - 1, j] + 1, cost[i, j - 1] + 1)
    pairs = []
    i, j = n, m
    while i > 0 and j > 0:
        same = truth[i - 1][0] == hyp[j - 1][0]
        if cost[i, j] == cost[i - 1, j - 1] + (0 if same else 1):
            if same:
                pairs.append((truth[i - 1][1], hyp[j - 1][1]))
            i, j = i - 1, j - 1
        elif cost[i, j] == cost[i - 1, j] + 1:
            i -= 1
        else:
            j -= 1
    return pairs[::-1]


@dataclass
class Case:
    text: str
    voice: str
    rate_wpm: int
    pitch: int
    audio_s: float
    align_s: float
    truth_phones: int
    scored: int
    errors_ms: list[float]  # signed, hyp - truth


def run_case(text: str, voice: str, variant: str | None, rate: int, pitch: int,
             aligner: str) -> Case:
    from voxface.phonemes.align import align
    from voxface.phonemes.arpabet import strip_stress
    from voxface.phonemes.espeak import synthesize

    syn = synthesize(text, voice=voice, variant=variant, rate_wpm=rate, pitch=pitch,
                     pad_s=PAD_S)
    t0 = time.perf_counter()
    alignment = align(syn.audio, text, aligner=aligner)
    elapsed = time.perf_counter() - t0
    truth = [(strip_stress(p.label), p.start) for p in syn.phones]
    hyp = [(strip_stress(p.label), p.start) for p in alignment.phones]
    pairs = pair_starts(truth, hyp)
    return Case(text=text, voice=f"{voice}+{variant}" if variant else voice, rate_wpm=rate,
                pitch=pitch, audio_s=syn.duration, align_s=elapsed, truth_phones=len(truth),
                scored=len(pairs), errors_ms=[1000.0 * (h - t) for t, h in pairs])


def summarize(errors_ms: list[float]) -> dict[str, float]:
    """Signed errors in ms -> mean/median/p90 of |error|, signed mean, % within 10/20/50."""
    if not errors_ms:
        return {"n": 0}
    e = np.asarray(errors_ms, dtype=np.float64)
    a = np.abs(e)
    return {"n": int(e.size), "mean_ms": float(a.mean()), "median_ms": float(np.median(a)),
            "p90_ms": float(np.percentile(a, 90)), "signed_mean_ms": float(e.mean()),
            "within_10ms": float(100 * np.mean(a <= 10)),
            "within_20ms": float(100 * np.mean(a <= 20)),
            "within_50ms": float(100 * np.mean(a <= 50))}


def _row(name: str, s: dict[str, float]) -> str:
    if not s.get("n"):
        return f"| {name} | 0 | - | - | - | - | - | - | - |"
    return (f"| {name} | {s['n']} | {s['mean_ms']:.1f} | {s['median_ms']:.1f} | "
            f"{s['p90_ms']:.1f} | {s['signed_mean_ms']:+.1f} | {s['within_10ms']:.0f} | "
            f"{s['within_20ms']:.0f} | {s['within_50ms']:.0f} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=40, help="number of sentences (default 40)")
    parser.add_argument("--aligner", default="pocketsphinx", help="voxface aligner name")
    parser.add_argument("--seed", type=int, default=0, help="seed of the generated sentences")
    parser.add_argument("--json", metavar="PATH", help="also write all numbers as JSON")
    args = parser.parse_args(argv)

    from voxface.phonemes.align import align
    from voxface.phonemes.espeak import synthesize

    # Warm-up: model loading is a one-off cost, not per-second compute.
    warm = synthesize("Warm up.", pad_s=PAD_S)
    align(warm.audio, warm.text, aligner=args.aligner)

    cases: list[Case] = []
    failures: list[str] = []
    for k, text in enumerate(sentences(args.n, args.seed)):
        voice, variant = VOICES[k % len(VOICES)]
        rate, pitch = RATES[k % len(RATES)], PITCHES[k % len(PITCHES)]
        try:
            cases.append(run_case(text, voice, variant, rate, pitch, args.aligner))
        except Exception as exc:  # a failed case is reported, not fatal to the benchmark
            failures.append(f"{text!r}: {type(exc).__name__}: {exc}")

    all_errors = [e for c in cases for e in c.errors_ms]
    overall = summarize(all_errors)
    audio_s = sum(c.audio_s for c in cases)
    align_s = sum(c.align_s for c in cases)
    truth_n = sum(c.truth_phones for c in cases)
    scored_n = sum(c.scored for c in cases)
    by_voice = {v: summarize([e for c in cases if c.voice == v for e in c.errors_ms])
                for v in dict.fromkeys(c.voice for c in cases)}
    by_rate = {}
    for lo, hi in ((120, 150), (150, 190), (190, 221)):
        by_rate[f"{lo}-{hi - 1} wpm"] = summarize(
            [e for c in cases if lo <= c.rate_wpm < hi for e in c.errors_ms])

    print(f"# Alignment accuracy: `{args.aligner}` vs exact espeak-ng phone starts\n")
    print(f"{len(cases)} utterances ({audio_s:.1f} s of audio, {PAD_S} s silence padding), "
          f"{scored_n} of {truth_n} truth phones scored "
          f"({100 * scored_n / max(truth_n, 1):.0f} %; pairs with equal labels after "
          f"edit-distance alignment).\n")
    print("| set | phones | mean ms | median ms | p90 ms | signed mean ms | ≤10 ms % | "
          "≤20 ms % | ≤50 ms % |")
    print("|---|---|---|---|---|---|---|---|---|")
    print(_row("**all**", overall))
    for v, s in by_voice.items():
        print(_row(v, s))
    for r, s in by_rate.items():
        print(_row(r, s))
    print(f"\nCompute: {1000 * align_s / max(audio_s, 1e-9):.1f} ms per second of audio "
          f"({align_s:.2f} s total, after warm-up).")
    if failures:
        print(f"\n{len(failures)} failed:")
        for f in failures:
            print(f"- {f}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump({"aligner": args.aligner, "overall": overall, "by_voice": by_voice,
                       "by_rate": by_rate, "audio_s": audio_s, "align_s": align_s,
                       "ms_per_audio_s": 1000 * align_s / max(audio_s, 1e-9),
                       "truth_phones": truth_n, "scored_phones": scored_n,
                       "failures": failures, "cases": [asdict(c) for c in cases]},
                      fh, indent=1)
    return 0 if cases else 1


if __name__ == "__main__":
    sys.exit(main())
