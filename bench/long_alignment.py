"""Long-audio forced alignment: compute, peak memory and drift of the PocketSphinx aligner.

Synthetic files: espeak-ng sentences (voices, rates 120-220 wpm and pitches varied; exact
phone starts, see voxface.phonemes.espeak) concatenated with pauses of 0.1-0.9 s, a few long
ones (2-4 s), at 16 kHz with a faint noise floor, of 1, 5, 10 (and 60) minutes. Each file is
aligned in a fresh process (peak RSS = VmHWM: that file alone, loading + alignment) and
scored per sentence: hypothesis phones inside the sentence's words are paired with the truth
by label (edit distance, as bench/alignment_accuracy.py) and their start errors collected.
Drift = mean |error| in the last minute minus that in the first.

Real speech (--real): kathleen utterances (/work/shared/assets/speech/kathleen) concatenated
to N minutes; no phone truth there, so it reports how many words land outside their own
utterance's time span ("misplaced") and the phone-start difference against aligning each
utterance alone (first vs last minute).

    python bench/long_alignment.py [--minutes 1 5 10] [--real 10] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RATE = 16_000


@dataclass
class LongCase:
    """A long synthetic file with its truth.

    samples: float32 [N] at 16 kHz. text: the transcript. sentences: per sentence
    (first word index, end word index, truth phones [(label, start s)], start s, end s)."""

    samples: np.ndarray
    text: str
    sentences: list[tuple[int, int, list[tuple[str, float]], float, float]]
    # Planted defects: ("missing", first word, end word, t, t): a transcript sentence that
    # is not spoken (at time t); ("extra", w, w, start s, end s): speech not in the
    # transcript, between words w - 1 and w. The defect sentence is not in `sentences`.
    defects: list[tuple[str, int, int, float, float]] = field(default_factory=list)

    @property
    def duration(self) -> float:
        return len(self.samples) / RATE


def build(minutes: float, seed: int = 0, missing: tuple[int, ...] = (),
          extra: tuple[int, ...] = ()) -> LongCase:
    """`minutes` of espeak-ng speech with exact phone starts (deterministic per seed).

    Sentences numbered in `missing` stay in the transcript but are not spoken (nor their
    pause); those in `extra` are spoken but left out of the transcript. Everything else is
    the same file as without them."""
    sys.path.insert(0, str(HERE))
    from alignment_accuracy import PITCHES, RATES, VOICES, sentences

    from voxface.phonemes.arpabet import strip_stress
    from voxface.phonemes.espeak import synthesize
    from voxface.phonemes.text import normalize

    rng = random.Random(seed)
    target = minutes * 60.0
    texts = sentences(2000, seed)
    pieces: list[np.ndarray] = []
    out: list[tuple[int, int, list[tuple[str, float]], float, float]] = []
    defects: list[tuple[str, int, int, float, float]] = []
    said: list[str] = []
    t, n_words, k = 0.0, 0, 0
    while t < target:
        text = texts[k % len(texts)]
        voice, variant = VOICES[k % len(VOICES)]
        syn = synthesize(text, voice=voice, variant=variant, rate_wpm=RATES[k % len(RATES)],
                         pitch=PITCHES[k % len(PITCHES)])
        gap = rng.uniform(2.0, 4.0) if k % 23 == 11 else rng.uniform(0.1, 0.9)
        x = syn.audio.samples
        words = normalize(text)
        k += 1
        if k - 1 in missing:
            defects.append(("missing", n_words, n_words + len(words), t, t))
            said.append(text)
            n_words += len(words)
            continue
        if k - 1 in extra:
            defects.append(("extra", n_words, n_words, t, t + len(x) / RATE))
        else:
            truth = [(strip_stress(p.label), t + p.start) for p in syn.phones]
            out.append((n_words, n_words + len(words), truth, t, t + len(x) / RATE))
            said.append(text)
            n_words += len(words)
        pieces += [x, np.zeros(int(gap * RATE), np.float32)]
        t += (len(x) + int(gap * RATE)) / RATE
    samples = np.concatenate(pieces)
    samples += np.random.default_rng(seed).normal(0, 3e-4, len(samples)).astype(np.float32)
    return LongCase(samples=samples, text=" ".join(said), sentences=out, defects=defects)


def pair_errors(case: LongCase, words: list[tuple[str, float, float]],
                phones: list[tuple[str, float, float]]) -> list[tuple[float, float]]:
    """(truth start, signed error s) for every phone paired with the truth, per sentence."""
    sys.path.insert(0, str(HERE))
    from alignment_accuracy import pair_starts

    starts = np.array([p[1] for p in phones])
    out = []
    for a, b, truth, _, _ in case.sentences:
        if b <= a:
            continue
        lo, hi = words[a][1], words[b - 1][2]
        i, j = np.searchsorted(starts, lo - 1e-6), np.searchsorted(starts, hi - 1e-6)
        hyp = [(p[0].rstrip("012"), p[1]) for p in phones[i:j]]
        out += [(t, h - t) for t, h in pair_starts(truth, hyp)]
    return out


def _peak_rss_mb() -> float:
    """Peak resident memory of this process in MB. VmHWM, not ru_maxrss: Linux carries
    ru_maxrss over exec, so a child started by a big parent would report the parent's."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _child(wav: str, txt: str, result: str) -> None:
    """Align one file in this (fresh) process and write words, phones, timing, RSS."""
    from voxface.core.audio import load_audio
    from voxface.phonemes.pocketsphinx_align import align_pocketsphinx_report
    from voxface.phonemes.text import normalize

    # Decoder start-up is paid once per process: include it in wall time but say so.
    t0, c0 = time.perf_counter(), time.process_time()
    audio = load_audio(wav)
    words = normalize(Path(txt).read_text(encoding="utf-8"))
    t1, c1 = time.perf_counter(), time.process_time()
    al, report = align_pocketsphinx_report(audio, words)
    t2, c2 = time.perf_counter(), time.process_time()
    rss_mb = _peak_rss_mb()
    rungs: dict[str, int] = {}
    for r in report.rungs:
        rungs[r] = rungs.get(r, 0) + 1
    Path(result).write_text(json.dumps({
        "duration": audio.duration, "load_s": t1 - t0, "align_wall_s": t2 - t1,
        "align_cpu_s": c2 - c1, "rss_mb": rss_mb, "rungs": rungs,
        "fallback_fraction": report.fallback_fraction,
        "words": [(w.label, w.start, w.end) for w in al.words],
        "phones": [(p.label, p.start, p.end) for p in al.phones]}))


def run_child(samples: np.ndarray, text: str) -> dict:
    import soundfile as sf

    with tempfile.TemporaryDirectory() as tmp:
        wav, txt, res = (str(Path(tmp) / n) for n in ("a.wav", "a.txt", "r.json"))
        sf.write(wav, samples, RATE, subtype="PCM_16")
        Path(txt).write_text(text, encoding="utf-8")
        subprocess.run([sys.executable, __file__, "--child", wav, txt, res], check=True)
        return json.loads(Path(res).read_text())


def _minute_stats(errs: list[tuple[float, float]], lo: float, hi: float) -> dict:
    e = np.array([abs(x) for t, x in errs if lo <= t < hi]) * 1000
    if e.size == 0:
        return {"n": 0}
    return {"n": int(e.size), "mean_ms": float(e.mean()), "median_ms": float(np.median(e)),
            "within_20ms": float(100 * np.mean(e <= 20))}


def synthetic_row(minutes: float, seed: int = 0) -> dict:
    case = build(minutes, seed)
    r = run_child(case.samples, case.text)
    errs = pair_errors(case, r["words"], r["phones"])
    d = r["duration"]
    allv = np.array([abs(x) for _, x in errs]) * 1000
    truth_n = sum(len(s[2]) for s in case.sentences)
    first = _minute_stats(errs, 0.0, 60.0)
    last = _minute_stats(errs, d - 60.0, d + 1)
    return {"kind": "espeak", "minutes": d / 60, "ms_per_s_cpu": 1000 * r["align_cpu_s"] / d,
            "ms_per_s_wall": 1000 * r["align_wall_s"] / d, "rss_mb": r["rss_mb"],
            "mean_ms": float(allv.mean()), "median_ms": float(np.median(allv)),
            "within_20ms": float(100 * np.mean(allv <= 20)), "scored": len(errs) / truth_n,
            "first_min_ms": first.get("mean_ms"), "last_min_ms": last.get("mean_ms"),
            "fallback_fraction": r["fallback_fraction"], "rungs": r["rungs"]}


def real_row(minutes: float) -> dict | None:
    """kathleen utterances back to back (0.4 s apart) to `minutes`."""
    import soundfile as sf

    from voxface.phonemes.pocketsphinx_align import align_pocketsphinx
    from voxface.phonemes.text import normalize

    root = None
    for cand in (HERE.parents[1] / "shared", Path("/work/shared")):
        if (cand / "assets" / "speech" / "kathleen").is_dir():
            root = cand / "assets" / "speech" / "kathleen"
            break
    if root is None:
        return None
    rows = [ln.split("\t", 1) for ln in (root / "transcripts.tsv").read_text().splitlines()
            if "\t" in ln]
    pieces, texts, spans, t = [], [], [], 0.0
    gap = np.zeros(int(0.4 * RATE), np.float32)
    for uid, text in rows:
        x, sr = sf.read(str(root / "flac" / f"{uid}.flac"), dtype="float32")
        if sr != RATE or not normalize(text):
            continue
        spans.append((t, t + len(x) / RATE, len(normalize(text)), x))
        pieces += [x, gap]
        texts.append(text)
        t += (len(x) + len(gap)) / RATE
        if t >= minutes * 60:
            break
    r = run_child(np.concatenate(pieces), " ".join(texts))
    d = r["duration"]
    words = r["words"]
    misplaced, k = 0, 0
    diffs: list[tuple[float, float]] = []
    from voxface.core.audio import from_array

    for t0, t1, nw, x in spans:
        ws = words[k:k + nw]
        misplaced += sum(1 for _, s, e in ws if s < t0 - 0.05 or e > t1 + 0.05)
        if t0 < 60 or t1 > d - 60:  # reference: this utterance aligned on its own
            ref = align_pocketsphinx(from_array(x, RATE), [w for w, _, _ in ws])
            diffs += [(t0 + a.start, abs(t0 + a.start - b[1]))
                      for a, b in zip(ref.words, ws)]
        k += nw
    first = [e for tt, e in diffs if tt < 60]
    last = [e for tt, e in diffs if tt >= d - 60]
    return {"kind": "kathleen", "minutes": d / 60, "ms_per_s_cpu": 1000 * r["align_cpu_s"] / d,
            "ms_per_s_wall": 1000 * r["align_wall_s"] / d, "rss_mb": r["rss_mb"],
            "misplaced_words": misplaced, "words": len(words),
            "first_min_vs_alone_ms": 1000 * float(np.mean(first)) if first else None,
            "last_min_vs_alone_ms": 1000 * float(np.mean(last)) if last else None,
            "fallback_fraction": r["fallback_fraction"], "rungs": r["rungs"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, nargs="*", default=[1, 5, 10])
    parser.add_argument("--real", type=float, nargs="*", default=[],
                        help="minutes of concatenated real speech (kathleen)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", metavar="PATH")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(*args.child)
        return 0
    rows = [synthetic_row(m, args.seed) for m in args.minutes]
    rows += [r for m in args.real if (r := real_row(m)) is not None]
    print("# Long-audio alignment (PocketSphinx), one fresh process per file\n")
    print("| file | min | ms/s cpu | ms/s wall | peak RSS MB | mean ms | median ms | ≤20 ms % "
          "| first min ms | last min ms | fallback % | rungs |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        if r["kind"] == "espeak":
            print(f"| espeak | {r['minutes']:.1f} | {r['ms_per_s_cpu']:.1f} | "
                  f"{r['ms_per_s_wall']:.1f} | {r['rss_mb']:.0f} | {r['mean_ms']:.1f} | "
                  f"{r['median_ms']:.1f} | {r['within_20ms']:.0f} | {r['first_min_ms']:.1f} | "
                  f"{r['last_min_ms']:.1f} | {100 * r['fallback_fraction']:.1f} | "
                  f"{r['rungs']} |")
        else:
            print(f"| kathleen | {r['minutes']:.1f} | {r['ms_per_s_cpu']:.1f} | "
                  f"{r['ms_per_s_wall']:.1f} | {r['rss_mb']:.0f} | - | - | - | "
                  f"{r['first_min_vs_alone_ms']:.1f} (vs alone) | "
                  f"{r['last_min_vs_alone_ms']:.1f} (vs alone) | "
                  f"{100 * r['fallback_fraction']:.1f} | {r['rungs']}; misplaced words "
                  f"{r['misplaced_words']}/{r['words']} |")
    print("\nespeak rows: phone-start error vs exact espeak-ng times; drift = last - first "
          "minute. kathleen rows: mean |word start difference| vs aligning each utterance "
          "alone; misplaced = words outside their own utterance.")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
