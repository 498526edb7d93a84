"""The one curve type: per-frame blendshape weights with explicit fps and names."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from voxface.core.names import ARKIT_52


@dataclass(frozen=True)
class Curves:
    """Blendshape weights sampled at a fixed frame rate.

    Attributes:
        fps: frames per second; frame i is at time i / fps seconds.
        names: one name per column (ARKit camelCase for engine output).
        values: float32 array, shape [T, len(names)], weights in 0..1.
        duration: length of the source audio in seconds (T == round(duration * fps) + 1,
            so the last frame sits at or just past the audio's end).
    """

    fps: float
    names: tuple[str, ...]
    values: np.ndarray
    duration: float
    extras: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        values = np.asarray(self.values, dtype=np.float32)
        if values.ndim != 2 or values.shape[1] != len(self.names):
            raise ValueError(f"values shape {values.shape} does not match {len(self.names)} names")
        if self.fps <= 0:
            raise ValueError(f"fps must be positive, got {self.fps}")
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "names", tuple(self.names))

    @property
    def n_frames(self) -> int:
        return int(self.values.shape[0])

    @property
    def times(self) -> np.ndarray:
        """Frame times in seconds, shape [T]."""
        return np.arange(self.n_frames, dtype=np.float64) / self.fps

    def column(self, name: str) -> np.ndarray:
        """One curve by name, shape [T]."""
        return self.values[:, self.names.index(name)]

    @staticmethod
    def n_frames_for(duration: float, fps: float) -> int:
        """Frames needed to cover `duration` seconds at `fps`, both ends included."""
        return int(round(duration * fps)) + 1

    @classmethod
    def zeros(cls, duration: float, fps: float, names: tuple[str, ...] = ARKIT_52) -> "Curves":
        n = cls.n_frames_for(duration, fps)
        return cls(fps=fps, names=names, values=np.zeros((n, len(names)), np.float32),
                   duration=duration)
