"""The neural engine as a pipeline stage: Audio -> Curves, and the engine choice.

Importing this module does not import torch; `curves_from_audio` does, on first use.
"""

from __future__ import annotations

import functools
import threading
from pathlib import Path

import numpy as np

from voxface.core.audio import Audio
from voxface.core.curves import Curves
from voxface.core.errors import InputError, MissingDependencyError
from voxface.engine.neural import available, weights_path

ENGINES = ("rules", "neural")
_LOCK = threading.Lock()


def neural_ready() -> str | None:
    """None when the neural engine can run here, else the reason it cannot (one line)."""

    if not available():
        return "torch is not installed (pip install 'voxface[neural]')"
    if not Path(weights_path()).is_file():
        return f"no model weights at {weights_path()} (train them with `animate train`)"
    return None


def choose_engine(engine: str | None, *, has_transcript: bool) -> tuple[str, str | None]:
    """(engine to run, warning or None). engine None = auto: 'rules' with a transcript or
    alignment, else 'neural' when it can run, else 'rules' (allphone) with a warning.
    Raises InputError for an unknown name, MissingDependencyError when 'neural' is asked for
    and cannot run."""
    if engine is not None and engine not in ENGINES:
        raise InputError(f"unknown engine {engine!r}; available: {', '.join(ENGINES)}",
                         path="--engine")
    if engine == "rules" or (engine is None and has_transcript):
        return "rules", None
    why = neural_ready()
    if engine == "neural":
        if why:
            raise MissingDependencyError(f"--engine neural: {why}")
        return "neural", None
    if why:
        return "rules", f"neural engine unavailable ({why}); using allphone recognition"
    return "neural", None


@functools.lru_cache(maxsize=2)
def _model(path: str | None):
    from voxface.engine.neural.model import load_checkpoint

    return load_checkpoint(path)


def curves_from_audio(audio: Audio, *, fps: float = 60.0, checkpoint: str | None = None
                      ) -> Curves:
    """16 kHz Audio -> ARKit-52 Curves (T = Curves.n_frames_for(audio.duration, fps)).

    The model runs at its own 60 fps; other rates are linearly resampled from it.
    """
    with _LOCK:
        model = _model(checkpoint)
        values = model.infer(audio.samples)
    native = model.cfg.fps
    n = Curves.n_frames_for(audio.duration, fps)
    if fps != native or values.shape[0] != n:
        src = np.arange(values.shape[0]) / native
        dst = np.arange(n) / fps
        values = np.stack([np.interp(dst, src, values[:, c]) for c in range(values.shape[1])],
                          axis=1)
    return Curves(fps=float(fps), names=tuple(model.cfg.names),
                  values=np.clip(values, 0.0, 1.0).astype(np.float32), duration=audio.duration)
