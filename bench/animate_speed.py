"""Benchmark: `animate` end to end on >= 60 s of real speech with its transcript.

Builds one long clip from consecutive CMU ARCTIC utterances in ../shared/assets/speech/kathleen
(real speech, one reader), writes it with its transcript to a temporary folder, and times the
`animate` command as a user runs it (a fresh process: start-up and every output included).
Prints the real-time factor (wall seconds / audio seconds) and per-stage times.

    python bench/animate_speed.py [--seconds 60] [--repeat 3]
"""

from __future__ import annotations

import argparse
import csv
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

SHARED = Path(__file__).resolve().parents[2] / "shared"
KATHLEEN = SHARED / "assets/speech/kathleen"


def build_clip(seconds: float, folder: Path) -> tuple[Path, float]:
    """Concatenate distinct utterances (0.3 s gaps) until `seconds` of audio; returns the wav."""
    rows = list(csv.reader(open(KATHLEEN / "transcripts.tsv"), delimiter="\t"))
    seen, pieces, words, total = set(), [], [], 0.0
    gap = np.zeros(int(0.3 * 16000), np.float32)
    for uid, text in rows:
        if text in seen:
            continue
        seen.add(text)
        x, sr = sf.read(KATHLEEN / "flac" / f"{uid}.flac", dtype="float32")
        assert sr == 16000
        pieces += [x, gap]
        words.append(text)
        total += len(x) / sr + 0.3
        if total >= seconds:
            break
    wav = folder / "long_speech.wav"
    sf.write(wav, np.concatenate(pieces), 16000)
    (folder / "long_speech.txt").write_text(" ".join(words) + "\n")
    return wav, total


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    exe = Path(sys.executable).with_name("animate")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        wav, dur = build_clip(args.seconds, folder)
        walls, stages = [], {}
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            proc = subprocess.run([str(exe), str(wav), "-o", str(folder / "out")],
                                  capture_output=True, text=True)
            walls.append(time.perf_counter() - t0)
            if proc.returncode != 0:
                print(proc.stderr, file=sys.stderr)
                return 1
            for m in re.finditer(r"animate: (\w+)\s+([\d.]+) s", proc.stderr):
                stages.setdefault(m.group(1), []).append(float(m.group(2)))
        wall = statistics.median(walls)
        print(f"audio: {dur:.1f} s of real speech (kathleen, ARCTIC), transcript given")
        print(f"animate wall time (median of {args.repeat}, start-up included): {wall:.2f} s")
        print(f"real-time factor: {wall / dur:.4f}  (target <= 0.1)")
        for k, v in stages.items():
            print(f"  {k:<8s} {statistics.median(v):6.3f} s  (RTF {statistics.median(v) / dur:.4f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
