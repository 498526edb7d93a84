"""Benchmark: the stages after alignment on long input — curves, visemes, non-verbal motion and
the exporters — with their peak memory and time, without the aligner.

The alignment is exact: espeak-ng sentences (voxface.phonemes.espeak, en-us, 175 wpm) tiled
with 0.3 s pauses up to the length asked for, with their audio (resampled to 16 kHz) tiled the
same way, so the loudness and effort envelopes see real speech. Each length runs in a fresh
process; the peak RSS counted is the rise above the process's RSS once its inputs are built
(Linux: VmHWM reset through /proc/self/clear_refs), so it is what the stages themselves add.

    python bench/long_curves.py [--minutes 1 10 60] [--formats json,csv,textgrid,glb]

Targets (issue "Robust under bad input, long audio and big batches"): one hour of speech in
<= 1 GB peak memory for the whole pipeline; time linear in length.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
GAP_S = 0.3


def _status(field: str) -> float:
    """A /proc/self/status memory field in MiB (VmRSS, VmHWM)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def build_inputs(minutes: float, n_sentences: int = 24):
    """(Alignment, Audio) of `minutes` of tiled espeak speech with exact phone times."""
    sys.path.insert(0, str(HERE))
    from alignment_accuracy import sentences

    from voxface.core.audio import ANALYSIS_RATE, Audio, resample
    from voxface.phonemes.espeak import synthesize
    from voxface.core.alignment import Alignment, Interval

    clips = []
    for text in sentences(n_sentences):
        syn = synthesize(text, voice="en-us", rate_wpm=175)
        x = resample(np.asarray(syn.samples, np.float32), syn.sample_rate, ANALYSIS_RATE)
        clips.append((syn, x))
    target = minutes * 60.0
    phones, words = [], []
    t, k = 0.0, 0
    pieces = []
    gap = np.zeros(int(GAP_S * ANALYSIS_RATE), np.float32)
    while t < target:
        syn, x = clips[k % len(clips)]
        t0 = t + GAP_S
        phones += [Interval(p.label, t0 + p.start, t0 + p.end) for p in syn.phones]
        words += [Interval(w.label, t0 + w.start, t0 + w.end) for w in syn.words]
        pieces += [gap, x]
        t = t0 + x.shape[0] / ANALYSIS_RATE
        k += 1
    pieces.append(gap)
    samples = np.concatenate(pieces)
    duration = samples.shape[0] / ANALYSIS_RATE
    audio = Audio(samples=samples, sample_rate=ANALYSIS_RATE, duration=duration,
                  path=Path("long.wav"))
    return Alignment(words=tuple(words), phones=tuple(phones), duration=duration,
                     source="espeak"), audio


def child(minutes: float, formats: str, out: str) -> None:
    from voxface.engine.coarticulation import curves_from_alignment, visemes_from_alignment
    from voxface.engine.nonverbal import NonverbalOptions, apply_nonverbal, nonverbal_motion
    from voxface.core.animation import Animation
    from voxface.exporters.base import Output
    from voxface.exporters.registry import EXPORTERS
    from voxface.pipeline import prepare_rig

    alignment, audio = build_inputs(minutes)
    rig = plan = None
    if "glb" in formats.split(","):
        from voxface.assets import asset_path

        rig, plan = prepare_rig(asset_path("fitme.glb"))
    base_rss = _status("VmRSS")
    exact = _reset_peak()
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    times = {}
    t0 = time.perf_counter()
    curves = curves_from_alignment(alignment, audio, fps=60.0)
    curves = apply_nonverbal(curves, nonverbal_motion(alignment, audio, fps=60.0,
                                                      n_frames=curves.n_frames,
                                                      options=NonverbalOptions()))
    visemes = visemes_from_alignment(alignment, fps=60.0)
    times["curves"] = time.perf_counter() - t0
    peak_curves = _status("VmHWM") - base_rss
    anim = Animation(audio=audio, alignment=alignment, curves=curves, rig=rig, plan=plan,
                     visemes=visemes)
    for fmt in formats.split(","):
        t1 = time.perf_counter()
        path = Path(out) / f"long{EXPORTERS[fmt].suffix}"
        EXPORTERS[fmt].write(anim, path, Output(fmt, path))
        times[fmt] = time.perf_counter() - t1
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"minutes": minutes, "audio_s": audio.duration, "frames": curves.n_frames,
                      "phones": len(alignment.phones), "base_rss_mib": base_rss,
                      "peak_curves_mib": peak_curves,
                      "peak_all_mib": _status("VmHWM") - base_rss, "peak_exact": exact,
                      "seconds": times,
                      "cpu_s": (r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime)}))


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(float(sys.argv[2]), sys.argv[3], sys.argv[4])
        return 0
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, nargs="+", default=[1, 10, 60])
    ap.add_argument("--formats", default="json,csv,textgrid,glb")
    args = ap.parse_args()
    fmts = args.formats.split(",")
    print("| minutes | frames | curves s | " + " | ".join(f"{f} s" for f in fmts)
          + " | CPU s | CPU s per audio min | peak RSS over inputs, curves MiB | "
            "peak RSS over inputs, all MiB |")
    print("|---" * (6 + len(fmts)) + "|")
    for m in args.minutes:
        with tempfile.TemporaryDirectory(prefix="voxface-long-curves-") as tmp:
            proc = subprocess.run([sys.executable, __file__, "--child", str(m), args.formats,
                                   tmp], capture_output=True, text=True)
        if proc.returncode != 0:
            raise SystemExit(f"{m} min failed:\n{proc.stderr[-3000:]}")
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        s = r["seconds"]
        print(f"| {m:g} | {r['frames']} | {s['curves']:.2f} | "
              + " | ".join(f"{s[f]:.2f}" for f in fmts)
              + f" | {r['cpu_s']:.1f} | {r['cpu_s'] / (r['audio_s'] / 60):.2f} | "
                f"{r['peak_curves_mib']:.0f} | {r['peak_all_mib']:.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
