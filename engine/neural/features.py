"""The front end: 16 kHz PCM -> log-mel frames, in torch so it exports with the model.

The recipe (also what an app must reproduce if it computes features itself):

- frames of `win` = 400 samples (25 ms), hop 160 (10 ms); frame j covers samples
  [160 (j + 1) - 400, 160 (j + 1)) of the (padded) signal, i.e. it ends at sample 160 (j + 1);
- periodic Hann window; real DFT of length 400 (201 bins, 0..8 kHz), power |X|^2;
- 64 triangular mel filters (HTK mel scale, 50..7600 Hz, peak 1, no area normalisation);
- log(mel + 1e-6); then per-filter standardisation with the checkpoint's `feat_mean`/`feat_std`.

The DFT is a strided Conv1d with fixed cos/sin kernels (`LogMel`), which every exporter handles
(ONNX, CoreML ML Program for iOS 16) and which gives the same numbers whether the signal is
processed whole or window by window (streaming). `LogMel.fast` uses torch.stft for training;
both agree to ~1e-5 (tests/test_neural.py).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn


@dataclass(frozen=True)
class FeatureConfig:
    """Log-mel parameters (all in samples / Hz)."""

    sample_rate: int = 16_000
    win: int = 400
    hop: int = 160
    n_mels: int = 64
    fmin: float = 50.0
    fmax: float = 7600.0
    log_floor: float = 1e-6

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "FeatureConfig":
        return cls(**d)

    @property
    def n_bins(self) -> int:
        return self.win // 2 + 1


def _hz_to_mel(f: np.ndarray) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + f / 700.0)


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    return 700.0 * (10.0 ** (m / 2595.0) - 1.0)


def mel_filterbank(cfg: FeatureConfig) -> np.ndarray:
    """Triangular HTK-mel filters, float64 [n_mels, n_bins], peak 1."""
    freqs = np.arange(cfg.n_bins) * cfg.sample_rate / cfg.win
    edges = _mel_to_hz(np.linspace(_hz_to_mel(np.array(cfg.fmin)), _hz_to_mel(np.array(cfg.fmax)),
                                   cfg.n_mels + 2))
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    up = (freqs[None] - lo) / (mid - lo)
    down = (hi - freqs[None]) / (hi - mid)
    return np.maximum(0.0, np.minimum(up, down))


def dft_kernels(cfg: FeatureConfig) -> np.ndarray:
    """Windowed real-DFT kernels, float64 [2 * n_bins, 1, win]: cos rows then -sin rows."""
    n = np.arange(cfg.win)
    window = 0.5 - 0.5 * np.cos(2 * np.pi * n / cfg.win)  # periodic Hann
    k = np.arange(cfg.n_bins)[:, None]
    angle = 2 * np.pi * k * n[None] / cfg.win
    return np.concatenate([np.cos(angle) * window, -np.sin(angle) * window])[:, None, :]


class LogMel(nn.Module):
    """PCM [B, S] (already padded) -> log-mel [B, M, n_mels], M = (S - win) // hop + 1."""

    def __init__(self, cfg: FeatureConfig):
        super().__init__()
        self.cfg = cfg
        self.register_buffer("dft", torch.tensor(dft_kernels(cfg), dtype=torch.float32),
                             persistent=False)
        self.register_buffer("fb", torch.tensor(mel_filterbank(cfg).T, dtype=torch.float32),
                             persistent=False)
        self.register_buffer("window", torch.hann_window(cfg.win, periodic=True),
                             persistent=False)

    def forward(self, pcm: torch.Tensor) -> torch.Tensor:
        spec = nn.functional.conv1d(pcm.unsqueeze(1), self.dft, stride=self.cfg.hop)
        nb = self.cfg.n_bins
        power = spec[:, :nb] ** 2 + spec[:, nb:] ** 2              # [B, n_bins, M]
        mel = torch.matmul(power.transpose(1, 2), self.fb)        # [B, M, n_mels]
        return torch.log(mel + self.cfg.log_floor)

    def fast(self, pcm: torch.Tensor) -> torch.Tensor:
        """Same as forward via torch.stft (FFT): for training, not for export."""
        spec = torch.stft(pcm, n_fft=self.cfg.win, hop_length=self.cfg.hop, win_length=self.cfg.win,
                          window=self.window, center=False, return_complex=True)
        power = spec.real ** 2 + spec.imag ** 2
        mel = torch.matmul(power.transpose(1, 2), self.fb)
        return torch.log(mel + self.cfg.log_floor)
