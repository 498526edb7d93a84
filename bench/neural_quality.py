"""Benchmark: the neural engine against its teacher on held-out real speech.

Held-out speakers (never trained on): LJ Speech (32 utterances, one woman), FSDD speakers
`theo` and `yweweler` (100 digits each), the MFA test files (varied speakers and voice
qualities). Teacher = the rule engine on the transcript's alignment (dataset.py), computed with
the current engine/coarticulation.py.

Metrics (tools.neural.metrics): MAE over jaw* and mouth* shapes, Pearson r of jawOpen,
P/B/M closure rate (aligned phones, +-1 frame), vowel open rate. Conditions: clean, white/pink
noise at 10 dB SNR, babble at 10 dB, 8 kHz input (down-sampled to 8 kHz and back), reverb,
codec-like artefacts. Also the rules engine without a transcript (allphone) as the baseline the
neural engine replaces, on the clean audio.

    python bench/neural_quality.py [--json out.json] [--no-allphone]
"""

from __future__ import annotations

import sys as _sys
from pathlib import Path as _Path

# tools/ (the evaluation harness, training) runs from the checkout, not the installed package.
_sys.path.insert(0, str(_Path(__file__).resolve().parents[1]))

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", default=None)
    ap.add_argument("--checkpoint", default=None)
    ap.add_argument("--no-allphone", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(2)
    from tools.neural import augment as A
    from tools.neural import dataset as D
    from tools.neural.metrics import evaluate
    from tools.neural.train import predict
    from voxface.engine.neural.model import load_checkpoint

    model = load_checkpoint(a.checkpoint)
    sets = {n: D.load([n], log=lambda m: print(m, file=sys.stderr)) for n in D.EVAL_SOURCES}
    everything = [u for n in D.EVAL_SOURCES for u in sets[n]]

    def seeded(fn):
        def run(x):
            return fn(x, np.random.default_rng(len(x)))
        return run

    conditions = {
        "clean": None,
        "noise_10dB": seeded(lambda x, r: A.noise(x, r, 10.0)),
        "babble_10dB": None,  # filled below (needs other utterances)
        "8kHz": lambda x: A.through_rate(x, 8000),
        "reverb": seeded(A.reverb),
        "codec": seeded(lambda x, r: A.codec(x, r)),
    }
    babble_src = np.concatenate([u.audio for u in sets["ljspeech"][::-1]])

    def babble(x):
        b = np.zeros_like(x)
        for k, off in enumerate((0, 37_000, 91_000)):
            seg = np.roll(babble_src, -(off + 7919 * len(x)))[: len(x)]
            b[: len(seg)] += seg
        out = x + b * np.sqrt(A.speech_power(x) / (np.mean(b ** 2) + 1e-12) / 10)
        return out.astype(np.float32)

    conditions["babble_10dB"] = babble
    results: dict = {"checkpoint": getattr(model, "meta", {}).get("train", {}), "sets": {}}
    for cname, fn in conditions.items():
        preds = predict(model, everything, fn)
        k = 0
        for n in D.EVAL_SOURCES:
            m = len(sets[n])
            r = evaluate(preds[k:k + m], [u.targets for u in sets[n]], [u.phones for u in sets[n]])
            results["sets"].setdefault(n, {})[cname] = r
            k += m
        r = evaluate(preds, [u.targets for u in everything], [u.phones for u in everything])
        results["sets"].setdefault("all", {})[cname] = r
        print(f"{cname:12s} all: MAE {r['mae_mouth_jaw']:.4f}  r(jawOpen) {r['r_jaw_open']:.3f}  "
              f"closure {r['closure_rate']:.3f} ({r['closures']})  "
              f"vowels open {r['vowel_open_rate']:.3f}", flush=True)

    if not a.no_allphone:
        from voxface.core.audio import Audio
        from voxface.engine.coarticulation import curves_from_alignment
        from voxface.phonemes.align import align

        preds = []
        for u in everything:
            au = Audio(samples=u.audio, sample_rate=16000, duration=u.duration)
            preds.append(curves_from_alignment(align(au, None), au, fps=60.0).values)
        r = evaluate(preds, [u.targets for u in everything], [u.phones for u in everything])
        results["sets"]["all"]["rules_allphone_clean"] = r
        print(f"{'allphone':12s} all: MAE {r['mae_mouth_jaw']:.4f}  r(jawOpen) "
              f"{r['r_jaw_open']:.3f}  closure {r['closure_rate']:.3f}  "
              f"vowels open {r['vowel_open_rate']:.3f}", flush=True)

    print("\nper set (clean / noise 10 dB / 8 kHz):")
    for n in D.EVAL_SOURCES + ("all",):
        row = results["sets"][n]
        cells = "  ".join(f"{c}: {row[c]['mae_mouth_jaw']:.3f}/{row[c]['r_jaw_open']:.2f}/"
                          f"{row[c]['closure_rate']:.2f}" for c in ("clean", "noise_10dB", "8kHz"))
        print(f"  {n:10s} {cells}")
    if a.json:
        Path(a.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
