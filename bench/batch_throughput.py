"""Benchmark: `animate batch` throughput — 1 worker, 2 workers, and the Ray backend.

Copies N distinct short utterances of ../shared/assets/speech/kathleen (real speech, 16 kHz
FLAC) into a temporary folder with their transcripts as `<id>.txt` sidecars, then runs the
batch engine over it once per configuration (fresh output folder each time, so nothing is
skipped). Reports wall seconds, files per minute, and audio hours per wall hour, and checks
that every configuration wrote byte-identical outputs.

    python bench/batch_throughput.py [-n 24] [--workers 1 2] [--no-ray] [--formats ...]
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import shutil
import sys
import tempfile
import time
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared"
KATHLEEN = SHARED / "assets/speech/kathleen"


def corpus(n: int, folder: Path) -> float:
    """Write n clips + sidecars into `folder`; returns their total audio seconds."""
    import soundfile as sf

    seen: set[str] = set()
    total = 0.0
    with open(KATHLEEN / "transcripts.tsv", encoding="utf-8") as f:
        for uid, text in csv.reader(f, delimiter="\t"):
            if text in seen:
                continue
            seen.add(text)
            shutil.copy(KATHLEEN / "flac" / f"{uid}.flac", folder / f"{uid}.flac")
            (folder / f"{uid}.txt").write_text(text + "\n", encoding="utf-8")
            total += sf.info(str(folder / f"{uid}.flac")).duration
            if len(seen) == n:
                break
    return total


def digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.iterdir()) if p.is_file() and p.name != "manifest.json"}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=24, help="number of clips (default 24)")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--no-ray", action="store_true", help="skip the Ray backend")
    ap.add_argument("--ray-cpus", type=int, default=2, help="CPUs of the local Ray instance")
    ap.add_argument("--formats", default=None,
                    help="outputs (default: all four when the bundled rig exists, else "
                         "json,csv,textgrid)")
    ap.add_argument("--rig", default=None)
    args = ap.parse_args()

    from voxface.assets import asset_path
    from voxface.batch import run_batch
    from voxface.options import AnimationOptions

    rig = Path(args.rig) if args.rig else Path(asset_path("fitme.glb"))
    formats = args.formats or ("glb,json,csv,textgrid" if rig.exists() else "json,csv,textgrid")
    options = AnimationOptions(formats=tuple(formats.split(",")), fps=60.0,
                               aligner="pocketsphinx", rig=rig)
    configs = [("local", w) for w in args.workers]
    if not args.no_ray:
        try:
            import ray  # noqa: F401
            configs.append(("ray", args.ray_cpus))
        except ImportError:
            print("ray not installed: skipping the Ray backend", file=sys.stderr)

    with tempfile.TemporaryDirectory(prefix="voxface-batch-bench-") as tmp:
        src = Path(tmp) / "in"
        src.mkdir()
        audio_s = corpus(args.n, src)
        print(f"{args.n} clips, {audio_s:.1f} s of speech; outputs: {formats}\n")
        print("| backend | workers | wall s | files / min | audio h / h | failed | "
              "outputs identical to the first row |")
        print("|---|---|---|---|---|---|---|")
        reference: dict[str, str] | None = None
        mismatched = 0
        for backend, workers in configs:
            out = Path(tmp) / f"out-{backend}-{workers}"
            t0 = time.perf_counter()
            report = run_batch(src, out, options, workers=workers, backend=backend)
            wall = time.perf_counter() - t0  # includes pool / Ray start-up, as a user sees it
            failed = report.count("failed")
            d = digests(out)
            reference = reference or d
            same = sum(d.get(k) == v for k, v in reference.items())
            print(f"| {backend} | {workers} | {wall:.1f} | {args.n / wall * 60:.1f} | "
                  f"{audio_s / wall:.1f} | {failed} | {same}/{len(reference)} |", flush=True)
            mismatched += len(reference) - same
        if mismatched:
            print(f"\n{mismatched} output files differ between configurations (see the last "
                  "column): outputs depend on which worker processed what", file=sys.stderr)
            return 1
        print(f"\nall configurations wrote byte-identical outputs ({len(reference)} files)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
