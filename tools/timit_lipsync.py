"""Lip-sync checks on real speech with hand-labelled phones: the TIMIT sample.

    python -m tools.timit_lipsync [--poses OLD_POSES.py] [--realface]

For each of the 80 TIMIT utterances in ../shared/assets/speech/timit_sample (evaluation only,
never training), the hand-labelled phones are folded to ARPAbet (Lee & Hon 1989: closures
merged with their release, h#/pau/epi silence, q dropped, dx -> D), the rule engine animates
them with the utterance's audio, and the eval's articulation checks are measured (tools.
evaluate: p/b/m closure, f/v contact, rounding on UW/OW/W/OY, Pearson r of peak jawOpen
against vowel height), plus jawOpen mean / 95th percentile. `--poses` swaps in another pose
table (e.g. `git show REV:engine/poses.py > old.py`) to compare before / after on the same
speech; `--realface` adds the per-class millimetre table on the ICT head (tools.realface).
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

import numpy as np

from voxface.core.alignment import Alignment, Interval
from voxface.core.names import ARKIT_INDEX

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
TIMIT = SHARED / "assets" / "speech" / "timit_sample"
SR = 16_000

_FOLD = {"ix": "IH", "ax": "AH", "ax-h": "AH", "axr": "ER", "ux": "UW", "el": "L", "em": "M",
         "en": "N", "nx": "N", "eng": "NG", "hv": "HH", "dx": "D"}
_SILENT = {"h#", "pau", "epi"}
_CLOSURES = {"bcl": "B", "dcl": "D", "gcl": "G", "pcl": "P", "tcl": "T", "kcl": "K"}


def read_phn(path: Path) -> list[Interval]:
    """TIMIT .phn -> ARPAbet intervals (seconds); a closure joins the release after it (or
    stands for the stop when the release is missing)."""
    rows = [ln.split() for ln in path.read_text().splitlines() if ln.strip()]
    out: list[Interval] = []
    pending: tuple[str, float, float] | None = None
    for a, b, lab in rows:
        s, e = int(a) / SR, int(b) / SR
        if lab in _CLOSURES:
            pending = (_CLOSURES[lab], s, e)
            continue
        if pending is not None:
            stop, cs, _ = pending
            pending = None
            if lab.upper() == stop or (stop in ("D", "T") and lab in ("jh", "ch")):
                out.append(Interval(_FOLD.get(lab, lab.upper()), cs, e))
                continue
            out.append(Interval(stop, cs, s))
        if lab in _SILENT or lab == "q":
            continue
        out.append(Interval(_FOLD.get(lab, lab.upper()), s, e))
    if pending is not None:
        out.append(Interval(*pending))
    return out


def swap_poses(path: str | Path) -> None:
    """Use another engine/poses.py's TARGETS / REST_POSE in this process (before / after)."""
    from voxface.engine import poses as P

    spec = importlib.util.spec_from_file_location("_alt_poses", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["_alt_poses"] = mod
    spec.loader.exec_module(mod)
    P.TARGETS, P.REST_POSE = mod.TARGETS, mod.REST_POSE


def run(realface: bool = False) -> dict:
    """Metrics over every utterance: rates (ok, total), jaw r, jawOpen stats, mm samples."""
    from voxface.core.audio import load_audio
    from voxface.engine.coarticulation import curves_from_alignment

    from tools.evaluate import curve_metrics

    wavs = sorted(TIMIT.glob("*/*.wav"))
    if not wavs:
        raise SystemExit(f"timit_lipsync: no TIMIT sample under {TIMIT}")
    agg = {k: [0, 0] for k in ("closure", "contact", "rounding")}
    pairs, jaw, samples = [], [], []
    for wav in wavs:
        audio = load_audio(wav)
        phones = tuple(read_phn(wav.with_suffix(".phn")))
        al = Alignment(words=(), phones=phones, duration=audio.duration, source="timit")
        v = curves_from_alignment(al, audio, fps=60.0).values
        m = curve_metrics(al, v, 60.0)
        for k in agg:
            agg[k][0] += m[k][0]
            agg[k][1] += m[k][1]
        pairs += m["jaw_pairs"]
        jaw.append(v[:, ARKIT_INDEX["jawOpen"]])
        if realface:
            from tools.realface import phone_samples

            samples += phone_samples(phones, v, 60.0)
    p = np.array(pairs)
    j = np.concatenate(jaw)
    return {"utterances": len(wavs), **{k: tuple(x) for k, x in agg.items()},
            "jaw_r": float(np.corrcoef(p[:, 0], p[:, 1])[0, 1]),
            "jaw_mean": float(j.mean()), "jaw_p95": float(np.percentile(j, 95)),
            "samples": samples}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tools.timit_lipsync")
    ap.add_argument("--poses", default=None, help="another engine/poses.py to evaluate")
    ap.add_argument("--realface", action="store_true", help="add the mm table (ICT head)")
    a = ap.parse_args(argv)
    if a.poses:
        swap_poses(a.poses)
    r = run(a.realface)
    print(f"TIMIT sample, {r['utterances']} utterances, hand-labelled phones"
          + (f" (poses: {a.poses})" if a.poses else ""))
    for k in ("closure", "contact", "rounding"):
        ok, tot = r[k]
        print(f"  {k}: {100 * ok / max(tot, 1):.1f} % ({ok}/{tot})")
    print(f"  jaw vs vowel height r: {r['jaw_r']:.3f}")
    print(f"  jawOpen mean / p95: {r['jaw_mean']:.3f} / {r['jaw_p95']:.3f}")
    if a.realface:
        from tools.realface import class_table_markdown

        print(class_table_markdown(r["samples"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
