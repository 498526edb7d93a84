"""Benchmark: `animate` end to end on >= 60 s of real speech with its transcript.

Builds one long clip from consecutive CMU ARCTIC utterances in ../shared/assets/speech/kathleen
(real speech, one reader), writes it with its transcript to a temporary folder, and times the
`animate` command as a user runs it (a fresh process: start-up and every output included).
Prints the real-time factor (wall seconds / audio seconds, min and median of the runs), the
CPU seconds per second of audio (the command and every process it starts; less sensitive to
other load on the machine than wall time) and per-stage times. `--against ANIMATE` runs
another build's `animate` interleaved with this one (before/after on a shared machine);
`--workers 1` adds this build with serial alignment.

    python bench/animate_speed.py [--seconds 60] [--repeat 3] [--against PATH] [--workers 1]
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import resource
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
    with open(KATHLEEN / "transcripts.tsv") as f:
        rows = list(csv.reader(f, delimiter="\t"))
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


def _run(exe: str, wav: Path, out: Path, env: dict) -> tuple[float, float, str]:
    """One `animate` run: (wall s, CPU s of it and every process it started, stderr)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run([exe, str(wav), "-o", str(out)], capture_output=True, text=True, check=False,
                          env=env)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"{exe} failed:\n{proc.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, proc.stderr


# Where the CPU goes (`--breakdown`): functions timed by wrapping them, in one serial run.
_BREAKDOWN = (
    ("voxface.pipeline", "prepare_rig", "rig (load, match targets)"),
    ("voxface.phonemes.pocketsphinx_align", "_decoder", "PocketSphinx decoder creation"),
    ("voxface.phonemes.pocketsphinx_align", "_ensure_words",
     "transcript words + variants into the decoder (lexicon look-ups)"),
    ("voxface.phonemes.pocketsphinx_align", "_fsg_decode",
     "long-audio windows: word pass + phone pass"),
    ("voxface.phonemes.pocketsphinx_align", "_pass2", "phone passes (windows and final chunk)"),
    ("voxface.phonemes.pocketsphinx_align", "_pass1",
     "word passes outside windows (final chunk, transcript_fit)"),
    ("voxface.phonemes.align", "refine_alignment", "phonemes/refine.py"),
    ("voxface.phonemes.align", "score_alignment", "phonemes/confidence.py"),
    ("voxface.engine.checks", "transcript_fit", "engine/checks.py transcript_fit"),
)


def _breakdown_child(wav: str, out: str) -> None:
    """Run `animate` in this process with serial alignment, printing CPU s per function."""
    import importlib

    os.environ["VOXFACE_ALIGN_WORKERS"] = "1"
    cpu: dict[str, float] = {}
    t0 = time.process_time()
    from voxface.cli import main as cli_main

    importlib.import_module("voxface.cli.animate")
    modules = [importlib.import_module(module) for module, _, _ in _BREAKDOWN]
    cpu["start-up imports (numpy already loaded by this script)"] = time.process_time() - t0
    for mod, (_, name, label) in zip(modules, _BREAKDOWN):
        fn = getattr(mod, name)

        def timed(*a, _fn=fn, _label=label, **k):
            c = time.process_time()
            try:
                return _fn(*a, **k)
            finally:
                cpu[_label] = cpu.get(_label, 0.0) + time.process_time() - c

        setattr(mod, name, timed)
    sys.argv = ["animate", wav, "-o", out]
    cli_main()
    cpu["whole command"] = time.process_time() - t0
    for k, v in cpu.items():
        print(f"  {k:<66s} {v:6.3f} s")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--against", action="append", default=[], metavar="ANIMATE",
                    help="another `animate` executable (e.g. a checkout of main in its own "
                         "venv) run interleaved with this one, same clip, for a fair "
                         "before/after on a shared machine; repeatable")
    ap.add_argument("--workers", action="append", default=[], metavar="N",
                    help="also run this venv's animate with VOXFACE_ALIGN_WORKERS=N "
                         "(interleaved; repeatable; 1 = serial alignment)")
    ap.add_argument("--breakdown", action="store_true",
                    help="also print CPU seconds per stage and alignment step (one serial "
                         "run in a fresh process; nested steps are included in their callers)")
    ap.add_argument("--breakdown-child", nargs=2, help=argparse.SUPPRESS)
    ap.add_argument("--bytecode", action="store_true",
                    help="let Python cache compiled modules (in a temporary folder) even "
                         "where PYTHONDONTWRITEBYTECODE is set, as in an installed package; "
                         "one warm-up run first")
    args = ap.parse_args()
    if args.breakdown_child:
        _breakdown_child(*args.breakdown_child)
        return 0
    exe = str(Path(sys.executable).with_name("animate"))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        base = dict(os.environ)
        if args.bytecode:
            base.pop("PYTHONDONTWRITEBYTECODE", None)
            base["PYTHONPYCACHEPREFIX"] = str(folder / "pycache")
        variants: list[tuple[str, str, dict]] = [("this", exe, base)]
        variants += [(f"workers={n}", exe, {**base, "VOXFACE_ALIGN_WORKERS": n})
                     for n in args.workers]
        variants += [(a, a, base) for a in args.against]
        wav, dur = build_clip(args.seconds, folder)
        if args.bytecode:
            for _, path, env in variants:
                _run(path, wav, folder / "out", env)
        walls: dict[str, list[float]] = {v[0]: [] for v in variants}
        cpus: dict[str, list[float]] = {v[0]: [] for v in variants}
        stages: dict[str, dict[str, list[float]]] = {v[0]: {} for v in variants}
        for _ in range(args.repeat):  # interleaved: machine load hits every variant alike
            for name, path, env in variants:
                try:
                    wall, cpu, err = _run(path, wav, folder / "out", env)
                except RuntimeError as e:
                    print(e, file=sys.stderr)
                    return 1
                walls[name].append(wall)
                cpus[name].append(cpu)
                for m in re.finditer(r"animate: (\w+)\s+([\d.]+) s", err):
                    stages[name].setdefault(m.group(1), []).append(float(m.group(2)))
        print(f"audio: {dur:.1f} s of real speech (kathleen, ARCTIC), transcript given; "
              f"{os.cpu_count()} CPUs; {args.repeat} runs each, interleaved; bytecode "
              + ("cached" if "PYTHONDONTWRITEBYTECODE" not in base
                 else "not cached (PYTHONDONTWRITEBYTECODE is set: every start compiles "
                      "the project's modules; see --bytecode)"))
        for name, _, _ in variants:
            w, c = walls[name], cpus[name]
            print(f"{name}: wall min {min(w):.2f} s, median {statistics.median(w):.2f} s "
                  f"(start-up included); RTF min {min(w) / dur:.4f}, median "
                  f"{statistics.median(w) / dur:.4f} (target <= 0.05); CPU (all processes) "
                  f"median {statistics.median(c):.2f} s = {statistics.median(c) / dur:.4f} "
                  "s per s of audio")
            for k, v in stages[name].items():
                print(f"  {k:<8s} {statistics.median(v):6.3f} s  "
                      f"(RTF {statistics.median(v) / dur:.4f})")
        if args.breakdown:
            print("CPU seconds by step (this build, serial alignment, one run):")
            proc = subprocess.run([sys.executable, __file__, "--breakdown-child", str(wav),
                                   str(folder / "out")], capture_output=True, text=True,
                                  env=base, check=False)
            print(proc.stdout, end="")
            if proc.returncode != 0:
                print(proc.stderr, file=sys.stderr)
                return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
