"""One live stream: 16 kHz PCM in, animation frames out as soon as the model's look-ahead
allows (no network here; `voxface.live.server` puts it behind a WebSocket).

A frame is what the offline `animate --engine neural` writes for the same instant: the neural
model's 52 ARKit values (`StreamingLipsync`, equal to offline inference), the non-verbal
motion (blinks, gaze, head drift; `engine.nonverbal`, rendered block by block with
`start_frame`, which gives the offline values because without a transcript that motion does
not depend on the clip's length), the nine head/eye rotations (radians, Live Link names) and
the 15 Oculus visemes solved from the curves frame by frame (`rigs.retarget.solve_visemes`, as
for viseme-only rigs; the offline JSON's viseme track comes from phones instead, which the
neural engine does not have).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from voxface.core.alignment import Alignment
from voxface.core.curves import Curves
from voxface.core.errors import MissingDependencyError
from voxface.core.names import ARKIT_52, LIVE_LINK_EXTRAS, OCULUS_15
from voxface.engine.neural.infer import _model, neural_ready
from voxface.engine.nonverbal import NonverbalOptions, apply_nonverbal, nonverbal_motion
from voxface.rigs.retarget import VISEME_POSES, _features, lip_closure, solve_weights

SAMPLE_RATE = 16000
FPS = 60
MOTION_BLOCK = 240  # frames of non-verbal motion rendered at a time (4 s)


@dataclass(frozen=True)
class FrameBatch:
    """Consecutive frames start .. start + k - 1; frame i is at audio time i / FPS seconds.

    Attributes:
        start: index of the first frame.
        arkit: float32 [k, 52] in ARKIT_52 order, 0..1.
        rotations: float32 [k, 9] radians, LIVE_LINK_EXTRAS order (HeadYaw, HeadPitch, ...).
        visemes: float32 [k, 15] in OCULUS_15 order, 0..1 (zeros when visemes are off).
        samples: audio samples the session had received when these frames were made.
    """

    start: int
    arkit: np.ndarray
    rotations: np.ndarray
    visemes: np.ndarray
    samples: int

    def __len__(self) -> int:
        return int(self.arkit.shape[0])

    @property
    def times(self) -> np.ndarray:
        """Audio timestamps of the frames, seconds [k]."""
        return (self.start + np.arange(len(self))) / FPS


def load_model():
    """The shipped neural model (torch imported here). Raises MissingDependencyError when the
    neural engine cannot run."""

    why = neural_ready()
    if why:
        raise MissingDependencyError(f"live streaming needs the neural engine: {why}")
    return _model(None)


class LiveSession:
    """PCM chunks -> FrameBatch, for one speaker stream.

    Args:
        model: a loaded `LipsyncRegressor` (shared between sessions; it holds no stream state).
        seed: seed of the non-verbal motion (as `animate --seed`).
        nonverbal: add blinks, gaze and head motion (as `animate` does by default).
        visemes: solve the 15 visemes per frame (costs ~0.1 ms per frame).
    """

    def __init__(self, model, *, seed: int = 0, nonverbal: bool = True, visemes: bool = True):
        from voxface.engine.neural.stream import StreamingLipsync

        if tuple(model.cfg.names) != ARKIT_52 or model.cfg.fps != FPS:
            raise ValueError("the live session expects a 60 fps ARKit-52 model")
        self._stream = StreamingLipsync(model)
        self._options = NonverbalOptions(seed=seed) if nonverbal else None
        self._visemes = visemes
        self._block: tuple[int, dict] | None = None
        self.samples = 0      # audio samples received
        self.frames = 0       # frames returned
        self.finished = False

    @property
    def lookahead_s(self) -> float:
        return float(self._stream.lookahead_s)

    def feed(self, pcm: np.ndarray) -> FrameBatch:
        """Append PCM (float32 in -1..1 or int16, 16 kHz mono) -> the frames it completes
        (possibly none)."""
        x = np.asarray(pcm)
        self.samples += int(x.shape[0])
        return self._finish(self._stream.feed(x))

    def flush(self) -> FrameBatch:
        """End of the stream: the remaining frames (the total is that of the offline run on
        the same audio, `Curves.n_frames_for(samples / 16000, 60)`)."""
        batch = self._finish(self._stream.flush())
        self.finished = True
        return batch

    def _motion(self, start: int, stop: int) -> dict[str, np.ndarray]:
        """Non-verbal channels for frames [start, stop) (within one MOTION_BLOCK)."""

        block = start // MOTION_BLOCK
        if self._block is None or self._block[0] != block:
            first = block * MOTION_BLOCK
            # The motion without phones depends only on time (see module docstring); the
            # horizon only has to reach past the block.
            horizon = (first + MOTION_BLOCK) / FPS + 1.0
            align = Alignment(words=(), phones=(), duration=horizon, source="neural")
            self._block = (block, nonverbal_motion(align, None, fps=FPS, n_frames=MOTION_BLOCK,
                                                   options=self._options, start_frame=first))
        off = block * MOTION_BLOCK
        return {k: v[start - off:stop - off] for k, v in self._block[1].items()}

    def _finish(self, values: np.ndarray) -> FrameBatch:
        start, k = self.frames, int(values.shape[0])
        self.frames += k
        arkit = np.clip(values, 0.0, 1.0).astype(np.float32)
        rotations = np.zeros((k, len(LIVE_LINK_EXTRAS)), np.float32)
        if k and self._options is not None:
            parts_a, parts_r = [], []
            a = start
            while a < start + k:  # split at motion blocks
                b = min(start + k, (a // MOTION_BLOCK + 1) * MOTION_BLOCK)
                curves = Curves(fps=FPS, names=ARKIT_52, values=arkit[a - start:b - start],
                                duration=(b - a - 1) / FPS)
                moved = apply_nonverbal(curves, self._motion(a, b))
                parts_a.append(moved.values)
                rot = moved.extras.get("rotations")
                parts_r.append(rot.values if rot is not None
                               else np.zeros((b - a, len(LIVE_LINK_EXTRAS)), np.float32))
                a = b
            arkit = np.concatenate(parts_a)
            rotations = np.concatenate(parts_r).astype(np.float32)
        visemes = np.zeros((k, len(OCULUS_15)), np.float32)
        if k and self._visemes:
            visemes = _viseme_solver()(arkit)
        return FrameBatch(start, arkit, rotations, visemes, self.samples)


class _VisemeSolver:
    """`rigs.retarget.solve_visemes` for a few frames at a time.

    The same problem (per frame: non-negative, ridge-regularised least squares of the viseme
    poses against the frame's speech features, clipped at 1, then the P/B/M closure rule and
    viseme_sil = 1 - the rest), solved row by row with scipy's NNLS on the ridge-augmented
    system instead of solve_weights' vectorised pivoting: the ridge makes the minimiser
    unique, so both give it (to ~1e-13; tested against solve_visemes), and for the 3 frames of
    a token this is ~100x faster (solve_weights is built for thousands of rows at once).
    """

    def __init__(self):
        self.fitted = [v for v in OCULUS_15 if v != "viseme_sil"]
        basis = np.stack([_features(VISEME_POSES[v]) for v in self.fitted], axis=1)
        n = basis.shape[1]
        self._aug = np.vstack([basis, np.sqrt(RIDGE) * np.eye(n)])
        self._zeros = np.zeros(n)
        self._basis = basis
        self._pp = self.fitted.index("viseme_PP")
        self._features = _features

    def __call__(self, arkit: np.ndarray) -> np.ndarray:
        """arkit float [k, 52] (ARKIT_52 order) -> visemes float32 [k, 15] (OCULUS_15)."""
        from scipy.optimize import nnls

        full = np.asarray(arkit, np.float64)
        x = self._features(full)
        w = np.empty((x.shape[0], len(self.fitted)))
        for i, row in enumerate(x):
            try:
                w[i] = nnls(self._aug, np.concatenate([row, self._zeros]))[0]
            except RuntimeError:  # NNLS iteration limit: the vectorised solver always ends
                w[i] = solve_weights(row[None], self._basis, ridge=RIDGE)[0]
        w = np.clip(w, 0.0, 1.0)
        closure = lip_closure(full)[:, None]
        keep = w[:, self._pp].copy()
        w *= 1.0 - closure
        w[:, self._pp] = keep + closure[:, 0] * (1.0 - keep)
        sil = np.clip(1.0 - w.sum(axis=1), 0.0, 1.0)
        out = {"viseme_sil": sil, **{v: w[:, j] for j, v in enumerate(self.fitted)}}
        return np.stack([out[v] for v in OCULUS_15], axis=1).astype(np.float32)


RIDGE = 0.01  # solve_weights' default, which solve_visemes uses


@functools.lru_cache(maxsize=1)
def _viseme_solver() -> _VisemeSolver:
    return _VisemeSolver()
