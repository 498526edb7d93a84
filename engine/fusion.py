"""Fusion of the transcript engine (rules on the alignment) and the audio-only neural engine.

The transcript knows *which* phones were said; the audio-only model knows *when the mouth
moves*. Where the alignment is plausible the rules curves are kept (they hold p/b/m closures
and f/v contacts exactly on the aligned phones). Where it is not — `Alignment.suspect`
ranges from voxface.phonemes.confidence: a vowel held for a second over speech, words
crammed together, wrapped audio — the curves come from the neural model, cross-faded over
FADE_S at the range edges, so a failed alignment never shows as a frozen mouth; the lip
constraints of the aligned phones are then applied again over them.

`fused_curves` costs one neural inference when there is a suspect range and nothing when
there is none (the rules curves are returned as they are).
"""

from __future__ import annotations

import numpy as np

from voxface.core.alignment import Alignment
from voxface.core.audio import Audio
from voxface.core.curves import Curves
from voxface.core.names import ARKIT_52
from voxface.engine.coarticulation import (
    _enforce,
    constraint_weights,
    curves_from_alignment,
)
from voxface.engine.neural.infer import curves_from_audio, neural_ready

FADE_S = 0.08


def suspect_weight(alignment: Alignment, n_frames: int, fps: float) -> np.ndarray:
    """[n_frames] weight of the audio-only curves: 1 inside suspect ranges, linear ramps of
    FADE_S outside them, 0 elsewhere."""
    t = np.arange(n_frames) / fps
    w = np.zeros(n_frames)
    for a, b in alignment.suspect:
        inside = np.clip(np.minimum(t - (a - FADE_S), (b + FADE_S) - t) / FADE_S, 0.0, 1.0)
        w = np.maximum(w, inside)
    return w


def fused_curves(alignment: Alignment, audio: Audio, *, fps: float = 60.0,
                 rules: np.ndarray | None = None, neural: np.ndarray | None = None,
                 style=None) -> Curves:
    """Rules curves with the suspect ranges replaced by neural curves.

    rules / neural: precomputed [T, 52] values (computed here when None; neural only when
    needed and when the engine can run — otherwise the rules curves stand, and the alignment
    warning already names the range)."""

    if rules is None:
        base = curves_from_alignment(alignment, audio, fps=fps, style=style)
    else:
        base = Curves(fps=float(fps), names=ARKIT_52, values=rules, duration=audio.duration)
    if not alignment.suspect:
        return base
    if neural is None:
        if neural_ready() is not None:
            return base
        nc = curves_from_audio(audio, fps=fps)
        neural = _reorder(nc.values, nc.names, base.names)
    values = base.values
    n = min(len(values), len(neural))
    w = suspect_weight(alignment, n, fps)[:, None]
    out = values.copy()
    out[:n] = (1.0 - w) * values[:n] + w * neural[:n]
    # The transcript still says which phones were said: the p/b/m closures and f/v contacts
    # of the aligned phones hold over the audio-only curves too (the same ramps as the rules
    # engine), so every output's phones and curves agree and the lips still seal.
    # Only where audio-only curves entered: elsewhere the rules curves already hold them.
    closure, contact = constraint_weights(alignment, fps, len(out))
    touched = np.zeros(len(out), bool)
    touched[:n] = w[:, 0] > 0
    work = out.astype(np.float64)
    _enforce(work, np.where(touched, closure, 0.0), np.where(touched, contact, 0.0))
    out = np.clip(work, 0.0, 1.0)
    return Curves(fps=base.fps, names=base.names, values=out.astype(np.float32),
                  duration=base.duration)


def _reorder(values: np.ndarray, names, target) -> np.ndarray:
    if tuple(names) == tuple(target):
        return values
    idx = {n: i for i, n in enumerate(names)}
    out = np.zeros((values.shape[0], len(target)), dtype=values.dtype)
    for j, n in enumerate(target):
        if n in idx:
            out[:, j] = values[:, idx[n]]
    return out
