"""Benchmark: one long file through `animate` — wall time, peak memory, and alignment drift.

Builds 1-, 10- and 60-minute WAVs by concatenating espeak-ng sentences (0.3 s apart) whose phone
start times are exact (voxface.phonemes.espeak), writes the transcript beside each, and runs the
`animate` command on each in a fresh process (so its peak RSS, `ru_maxrss`, is that length's
alone). Reports wall seconds, the real-time factor, seconds per stage, peak RSS, and the phone
start error in the FIRST and the LAST minute (pairs matched by label as in
bench/alignment_accuracy.py): if the aligner drifted on long audio, the last minute would be
worse than the first.

Targets (issue "Robust under bad input, long audio and big batches"): one hour of speech in
<= 1 GB peak memory; time linear in length.

    python bench/long_audio.py [--minutes 1 10 60] [--formats json,csv,textgrid,glb] [--rig R]
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
GAP_S = 0.3  # silence between sentences, seconds


def build(minutes: float, folder: Path) -> tuple[Path, Path, Path]:
    """Write long.wav (22.05 kHz PCM16), long.txt and truth.json (phones: label, start s)."""
    import soundfile as sf

    sys.path.insert(0, str(HERE))
    from alignment_accuracy import sentences

    from voxface.phonemes.espeak import synthesize

    texts = sentences(400)
    target = minutes * 60.0
    pieces: list[np.ndarray] = []
    said: list[str] = []
    truth: list[tuple[str, float]] = []
    t = 0.0
    rate = None
    k = 0
    while t < target:
        syn = synthesize(texts[k % len(texts)], voice="en-us", rate_wpm=175)
        rate = syn.sample_rate
        gap = np.zeros(int(GAP_S * rate), np.float32)
        truth += [(p.label, t + GAP_S + p.start) for p in syn.phones]
        pieces += [gap, syn.samples]
        said.append(syn.text)
        t += GAP_S + syn.samples.shape[0] / rate
        k += 1
    pieces.append(np.zeros(int(GAP_S * rate), np.float32))
    wav, txt, tru = folder / "long.wav", folder / "long.txt", folder / "truth.json"
    sf.write(str(wav), np.concatenate(pieces), rate, subtype="PCM_16")
    txt.write_text("\n".join(said) + "\n", encoding="utf-8")
    tru.write_text(json.dumps(truth))
    return wav, txt, tru


def child(wav: str, txt: str, out: str, formats: str, rig: str | None) -> None:
    """Run `animate` in this process and print one JSON line: wall s, peak RSS MiB, stages."""
    from voxface.cli import main

    argv = [wav, "--transcript", txt, "-o", out, "--format", formats]
    if rig:
        argv += ["--rig", rig]
    t0 = time.perf_counter()
    rc = main(argv)
    wall = time.perf_counter() - t0
    use = resource.getrusage(resource.RUSAGE_SELF)
    # CPU seconds as well as wall: on a shared, loaded machine wall time overstates the work.
    print(json.dumps({"rc": rc, "wall_s": wall, "cpu_s": use.ru_utime + use.ru_stime,
                      "peak_rss_mib": use.ru_maxrss / 1024}))  # Linux reports KiB


def drift(truth: list[tuple[str, float]], phones: list[dict], lo: float, hi: float) -> dict:
    """Start-time error (ms) of phones whose true start lies in [lo, hi) seconds."""
    sys.path.insert(0, str(HERE))
    from alignment_accuracy import pair_starts, summarize

    from voxface.phonemes.arpabet import strip_stress

    t = [(strip_stress(lab), s) for lab, s in truth if lo <= s < hi]
    h = [(strip_stress(p["phone"]), p["start"]) for p in phones if lo - 1 <= p["start"] < hi + 1]
    pairs = pair_starts(t, h)
    s = summarize([1000 * (b - a) for a, b in pairs])
    s["truth"] = len(t)
    return s


def run(minutes: float, formats: str, rig: str | None) -> dict:
    with tempfile.TemporaryDirectory(prefix="voxface-long-") as tmp:
        folder = Path(tmp)
        t0 = time.perf_counter()
        wav, txt, tru = build(minutes, folder)
        build_s = time.perf_counter() - t0
        out = folder / "out"
        proc = subprocess.run([sys.executable, __file__, "--child", str(wav), str(txt), str(out),
                               formats, rig or ""], capture_output=True, text=True)
        if proc.returncode != 0 or not proc.stdout.strip():
            raise SystemExit(f"animate failed on {minutes} min:\n{proc.stderr[-3000:]}")
        res = json.loads(proc.stdout.strip().splitlines()[-1])
        stages = {m.group(1): float(m.group(2)) for m in
                  re.finditer(r"^animate: (\w+)\s+([\d.]+) s", proc.stderr, flags=re.M)}
        import soundfile as sf

        audio_s = sf.info(str(wav)).duration
        doc = json.loads((out / "long.json").read_text())
        truth = json.loads(tru.read_text())
        res.update(minutes=minutes, audio_s=audio_s, build_s=build_s, stages=stages,
                   phones_truth=len(truth), phones_out=len(doc["phones"]),
                   first_min=drift(truth, doc["phones"], 0.0, 60.0),
                   last_min=drift(truth, doc["phones"], audio_s - 60.0, audio_s),
                   warnings=[ln for ln in proc.stderr.splitlines() if "warning" in ln])
        return res


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(*sys.argv[2:6], sys.argv[6] or None)
        return 0
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, nargs="+", default=[1, 10, 60])
    ap.add_argument("--formats", default="json,csv,textgrid")
    ap.add_argument("--rig", default=None, help="rig for glb output (default: the bundled one)")
    ap.add_argument("--json", default=None, help="also write the results here")
    args = ap.parse_args()
    results = []
    print("| minutes | audio s | wall s | CPU s | CPU s per audio min | peak RSS MiB | align s | "
          "curves s | export s | first-min err ms (mean/median, n) | "
          "last-min err ms (mean/median, n) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for m in args.minutes:
        r = run(m, args.formats, args.rig)
        results.append(r)
        f, last = r["first_min"], r["last_min"]
        print(f"| {m:g} | {r['audio_s']:.0f} | {r['wall_s']:.1f} | {r['cpu_s']:.1f} | "
              f"{r['cpu_s'] / (r['audio_s'] / 60):.2f} | {r['peak_rss_mib']:.0f} | "
              f"{r['stages'].get('align', 0):.1f} | {r['stages'].get('curves', 0):.1f} | "
              f"{r['stages'].get('export', 0):.1f} | "
              f"{f.get('mean_ms', float('nan')):.1f} / {f.get('median_ms', float('nan')):.1f}, "
              f"{f['n']} | {last.get('mean_ms', float('nan')):.1f} / "
              f"{last.get('median_ms', float('nan')):.1f}, {last['n']} |", flush=True)
        for w in r["warnings"]:
            print(f"  {m:g} min: {w}", file=sys.stderr)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
