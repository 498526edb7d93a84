"""Agreement of the regressor with the teacher on held-out speech.

- `mae_mouth_jaw`: mean absolute error over every `jaw*` and `mouth*` shape and frame.
- `r_jaw_open`: Pearson r of jawOpen, pooled over all frames of the set.
- `closure_rate`: share of P/B/M phones (the teacher's alignment) during which the model's
  output is `coarticulation.is_lip_closed` on at least one frame; the frames of a phone are
  those whose time lies in it (or the frame nearest its middle), widened by `slack` frames each
  side (default 1 = 17 ms, the tolerance of a frame boundary).
- `vowel_open_rate`: share of vowel phones whose middle frame is NOT lip-closed: the check
  that a model does not reach `closure_rate` by keeping the mouth shut.
"""

from __future__ import annotations

import numpy as np

from voxface.core.names import ARKIT_52

MOUTH_JAW = np.array([i for i, n in enumerate(ARKIT_52) if n.startswith(("mouth", "jaw"))])
JAW_OPEN = ARKIT_52.index("jawOpen")


def closure_hits(pred: np.ndarray, phones: list, slack: int = 1) -> tuple[int, int]:
    """(closed P/B/M phones, all P/B/M phones) for one utterance. pred: [T, 52]."""
    from tools.neural.dataset import closure_frames
    from voxface.engine.coarticulation import is_lip_closed

    closed = is_lip_closed(pred)
    ranges = closure_frames(phones, pred.shape[0])
    hits = sum(bool(closed[max(0, a - slack):b + slack].any()) for a, b in ranges)
    return hits, len(ranges)


def vowel_open(pred: np.ndarray, phones: list) -> tuple[int, int]:
    """(vowel phones open at their middle frame, vowel phones) for one utterance."""
    from voxface.engine.coarticulation import is_lip_closed

    closed = is_lip_closed(pred)
    mids = [int(round((s + e) / 2 * 60.0)) for label, s, e in phones
            if label[-1:] in "012" and e - s >= 0.05]
    mids = [m for m in mids if m < len(closed)]
    return sum(not closed[m] for m in mids), len(mids)


def evaluate(preds: list[np.ndarray], targets: list[np.ndarray], phones: list[list],
             slack: int = 1) -> dict:
    """Metrics over a set of utterances (lists in the same order)."""
    err, jp, jt = [], [], []
    hits = total = opened = vowels = 0
    for p, t, ph in zip(preds, targets, phones):
        n = min(len(p), len(t))
        p, t = p[:n], t[:n]
        err.append(np.abs(p[:, MOUTH_JAW] - t[:, MOUTH_JAW]).ravel())
        jp.append(p[:, JAW_OPEN])
        jt.append(t[:, JAW_OPEN])
        h, c = closure_hits(p, ph, slack)
        hits, total = hits + h, total + c
        o, v = vowel_open(p, ph)
        opened, vowels = opened + o, vowels + v
    jp_all, jt_all = np.concatenate(jp), np.concatenate(jt)
    r = float(np.corrcoef(jp_all, jt_all)[0, 1]) if jp_all.std() > 0 and jt_all.std() > 0 else 0.0
    return {"mae_mouth_jaw": float(np.concatenate(err).mean()), "r_jaw_open": r,
            "closure_rate": hits / total if total else float("nan"), "closures": total,
            "vowel_open_rate": opened / vowels if vowels else float("nan"),
            "utterances": len(preds), "minutes": sum(len(t) for t in targets) / 60 / 60}
