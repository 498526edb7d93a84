"""Lip constraints and jaw under every emotion at intensity 1, on the espeak sentence set.

    python bench/emotion_constraints.py

For each emotion: the share of P/B/M phones whose lips close (is_lip_closed on a frame inside
the phone) and of hold frames that are closed, the same for F/V contact, the lowest correlation
of jawOpen with the emotion-free speech, and the lowest ratio of the vowel-vs-consonant jaw
contrast to the speech's own (docs/emotions.md quotes the output).
"""

from __future__ import annotations

import sys as _sys
from pathlib import Path as _Path

# tools/ (shared test sentences) runs from the checkout, not the installed package.
_sys.path.insert(0, str(_Path(__file__).resolve().parents[1]))

import numpy as np

from voxface.engine.coarticulation import (
    constraint_weights,
    curves_from_alignment,
    is_fv_contact,
    is_lip_closed,
)
from voxface.engine.emotion import EMOTIONS, apply_emotion
from tools.sentences import LIP_SENTENCES
from voxface.phonemes import espeak

SENTENCES = list(LIP_SENTENCES)


def contrast(jaw, al) -> float:
    at = [jaw[min(round(0.5 * (p.start + p.end) * 60), jaw.shape[0] - 1)] for p in al.phones]
    vowel = [a for a, p in zip(at, al.phones) if p.label[-1].isdigit()]
    cons = [a for a, p in zip(at, al.phones) if not p.label[-1].isdigit()]
    return float(np.mean(vowel) - np.mean(cons))


def main() -> None:
    clips = []
    for text in SENTENCES:
        syn = espeak.synthesize(text, rate_wpm=170, pad_s=0.2)
        al = syn.alignment()
        clips.append((al, syn.audio, curves_from_alignment(al, syn.audio, fps=60)))
    print("| emotion | p/b/m phones closed | closure hold frames | f/v phones in contact | "
          "contact hold frames | min jaw corr | min jaw contrast ratio |")
    print("|---|---|---|---|---|---|---|")
    for emotion in EMOTIONS:
        pbm, fv, holds_c, holds_f, corr, ratio = [], [], [], [], [], []
        for al, audio, curves in clips:
            v = apply_emotion(curves, al, audio, spec=f"{emotion}:1").values
            jaw = curves.names.index("jawOpen")
            cl, ct = constraint_weights(al, 60.0, curves.n_frames)
            holds_c += list(is_lip_closed(v[cl >= 1]))
            holds_f += list(is_fv_contact(v[ct >= 1]))
            for p in al.phones:
                fr = slice(int(np.ceil(p.start * 60 - 1e-6)), int(np.floor(p.end * 60 + 1e-6)) + 1)
                if p.label in ("P", "B", "M"):
                    pbm.append(is_lip_closed(v[fr]).any())
                if p.label in ("F", "V"):
                    fv.append(is_fv_contact(v[fr]).any())
            corr.append(np.corrcoef(curves.values[:, jaw], v[:, jaw])[0, 1])
            ratio.append(contrast(v[:, jaw], al) / contrast(curves.values[:, jaw], al))
        print(f"| {emotion} | {np.mean(pbm):.0%} of {len(pbm)} | {np.mean(holds_c):.0%} of "
              f"{len(holds_c)} | {np.mean(fv):.0%} of {len(fv)} | {np.mean(holds_f):.0%} of "
              f"{len(holds_f)} | {min(corr):.3f} | {min(ratio):.2f} |")


if __name__ == "__main__":
    main()
