"""The front end: 16 kHz PCM -> log-mel frames, in torch so it exports with the model.

The recipe (also what an app must reproduce if it computes features itself):

- frames of `win` = 400 samples (25 ms), hop 160 (10 ms); frame j covers samples
  [160 (j + 1) - 400, 160 (j + 1)) of the (padded) signal, i.e. it ends at sample 160 (j + 1);
- periodic Hann window; real DFT of length 400 (201 bins, 0..8 kHz), power |X|^2;
- 64 triangular mel filters (HTK mel scale, 50..7600 Hz, peak 1, no area normalisation);
- log(mel + 1e-6); then per-filter standardisation with the checkpoint's `feat_mean`/`feat_std`.

`LogMel.forward` frames by reshaping into hop blocks and computes the DFT as a two-stage
Cooley-Tukey transform of real matmuls (see the class): only ops every exporter handles (ONNX,
CoreML ML Program for iOS 16), tiny constants, and the same numbers whether the signal is
processed whole or window by window (streaming). `LogMel.fast` uses torch.stft for training;
the two agree to ~1e-4 in log-mel (tests/test_neural.py).
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
    return _triangles(cfg, np.arange(cfg.n_bins) * cfg.sample_rate / cfg.win)


def _triangles(cfg: FeatureConfig, freqs: np.ndarray) -> np.ndarray:
    """The mel filters evaluated at `freqs` (Hz, one per DFT bin): float64 [n_mels, n_bins]."""
    edges = _mel_to_hz(np.linspace(_hz_to_mel(np.array(cfg.fmin)), _hz_to_mel(np.array(cfg.fmax)),
                                   cfg.n_mels + 2))
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    up = (freqs[None] - lo) / (mid - lo)
    down = (hi - freqs[None]) / (hi - mid)
    return np.maximum(0.0, np.minimum(up, down))


def warped_filterbank(cfg: FeatureConfig, alpha: float, boundary_hz: float = 4800.0
                      ) -> np.ndarray:
    """`mel_filterbank` read through a vocal-tract-length warp (training augmentation, VTLP,
    Jaitly & Hinton 2013): float64 [n_mels, n_bins].

    Bin frequency f is treated as alpha f up to a boundary (boundary_hz min(alpha, 1) / alpha),
    then linearly so that Nyquist stays at Nyquist. alpha > 1 reads the spectrum as that of a
    shorter vocal tract (formants alpha times higher); timing is untouched, so the targets of
    a warped crop are the clean ones.
    """
    nyq = cfg.sample_rate / 2
    f = np.arange(cfg.n_bins) * cfg.sample_rate / cfg.win
    knee = boundary_hz * min(alpha, 1.0) / alpha
    warped = np.where(f <= knee, alpha * f,
                      nyq - (nyq - alpha * knee) / (nyq - knee) * (nyq - f))
    return _triangles(cfg, warped)


def _dft_factors(cfg: FeatureConfig) -> tuple[int, int]:
    """win = n1 * n2 with n1, n2 as close as possible (400 = 20 x 20)."""
    n1 = int(np.sqrt(cfg.win))
    while cfg.win % n1:
        n1 -= 1
    return n1, cfg.win // n1


class LogMel(nn.Module):
    """PCM [B, S] (already padded) -> log-mel [B, M, n_mels], M = (S - win) // hop + 1.

    Framing: the signal (plus win/2 - hop/2 zeros, so the count comes out right) is cut into
    hop-sized blocks; frame j = blocks j, j+1 and the first win - 2 hop samples of j+2 (for
    win = 400, hop = 160). DFT: two-stage Cooley-Tukey (400 = 20 x 20) as real matmuls with a
    twiddle multiply, so the graph holds a few 20 x 20 constants instead of a 400 x 402 kernel
    (which would be 0.6 MB of float32 in an fp16 CoreML model). Only plain ops: pad, reshape,
    slice, concat, matmul, mul, add, log.
    """

    def __init__(self, cfg: FeatureConfig):
        super().__init__()
        if cfg.win > 3 * cfg.hop or cfg.win <= 2 * cfg.hop:
            raise ValueError("the block framing needs 2 hop < win <= 3 hop")
        self.cfg = cfg
        n1, n2 = _dft_factors(cfg)
        self.n1, self.n2 = n1, n2
        n = np.arange(cfg.win)
        window = 0.5 - 0.5 * np.cos(2 * np.pi * n / cfg.win)  # periodic Hann

        def f32(a: np.ndarray) -> torch.Tensor:
            return torch.tensor(a, dtype=torch.float32)

        a1 = 2 * np.pi * np.outer(np.arange(n1), np.arange(n1)) / n1       # [k1, i1]
        a2 = 2 * np.pi * np.outer(np.arange(n2), np.arange(n2)) / n2       # [i2, k2]
        tw = 2 * np.pi * np.outer(np.arange(n2), np.arange(n1)) / cfg.win  # [i2, k1]
        for name, value in (("window", window.reshape(n1, n2)), ("c1", np.cos(a1)),
                            ("s1", np.sin(a1)), ("c2", np.cos(a2)), ("s2", np.sin(a2)),
                            ("tc", np.cos(tw)), ("ts", np.sin(tw)),
                            ("fb", mel_filterbank(cfg).T)):
            self.register_buffer(name, f32(value), persistent=False)
        self.register_buffer("hann", torch.hann_window(cfg.win, periodic=True), persistent=False)

    def frames(self, pcm: torch.Tensor, whole_blocks: bool = False) -> torch.Tensor:
        """[B, S] -> [B, M, win] overlapping frames (hop apart). whole_blocks: the caller
        guarantees S + 3 hop - win is a multiple of hop (fixed-shape streaming windows), so
        no length arithmetic enters the graph."""
        hop, win = self.cfg.hop, self.cfg.win
        x = nn.functional.pad(pcm, (0, 3 * hop - win))
        # Exporters differ in which shape arithmetic they keep dynamic: reshape with sizes read
        # from the tensor keeps ONNX/CoreML lengths flexible; unflatten keeps fixed-shape
        # CoreML graphs free of integer ops its converter cannot fold.
        if whole_blocks:
            blocks = x.unflatten(1, (-1, hop))
        else:
            blocks = x[:, : (x.shape[1] // hop) * hop].reshape(x.shape[0], -1, hop)
        return torch.cat([blocks[:, :-2], blocks[:, 1:-1], blocks[:, 2:, : win - 2 * hop]],
                         dim=2)

    def power(self, pcm: torch.Tensor, whole_blocks: bool = False) -> torch.Tensor:
        """[B, S] -> |DFT|^2 of the Hann-windowed frames, [B, M, n_bins]."""
        f = self.frames(pcm, whole_blocks)
        x = (f.unflatten(2, (self.n1, self.n2)) if whole_blocks
             else f.reshape(f.shape[0], -1, self.n1, self.n2))
        x = x * self.window                                         # x[i1, i2], n = i1 n2 + i2
        # Every matmul multiplies by a constant on the right, so torch folds the frames into
        # one GEMM (a constant on the left broadcasts into thousands of tiny batched ones).
        xt = x.transpose(-1, -2)                                    # [i2, i1]
        # stage 1 over i1: A[k1] = sum_i1 x e^{-2 pi i i1 k1 / n1}   (c1, s1 are symmetric)
        are = torch.matmul(xt, self.c1)                             # [i2, k1]
        aim = -torch.matmul(xt, self.s1)
        # twiddle e^{-2 pi i k1 i2 / win}
        bre = (are * self.tc + aim * self.ts).transpose(-1, -2)     # [k1, i2]
        bim = (aim * self.tc - are * self.ts).transpose(-1, -2)
        # stage 2 over i2: X[k1 + n1 k2] = sum_i2 B[k1, i2] e^{-2 pi i i2 k2 / n2}
        yre = torch.matmul(bre, self.c2) + torch.matmul(bim, self.s2)
        yim = torch.matmul(bim, self.c2) - torch.matmul(bre, self.s2)
        p = yre * yre + yim * yim                                   # [B, M, k1, k2]
        p = p.transpose(-1, -2)                                     # k = k1 + n1 k2
        p = p.flatten(2, 3) if whole_blocks else p.reshape(p.shape[0], -1, self.cfg.win)
        return p[..., : self.cfg.n_bins]

    def forward(self, pcm: torch.Tensor, whole_blocks: bool = False) -> torch.Tensor:
        mel = torch.matmul(self.power(pcm, whole_blocks), self.fb)
        return torch.log(mel + self.cfg.log_floor)

    def fast(self, pcm: torch.Tensor, filterbank: torch.Tensor | None = None) -> torch.Tensor:
        """Same as forward via torch.stft (FFT): for training, not for export. `filterbank`
        [B, n_bins, n_mels] replaces the mel filters per item (training-time VTLP,
        `warped_filterbank`)."""
        spec = torch.stft(pcm, n_fft=self.cfg.win, hop_length=self.cfg.hop, win_length=self.cfg.win,
                          window=self.hann, center=False, return_complex=True)
        power = spec.real ** 2 + spec.imag ** 2
        mel = torch.matmul(power.transpose(1, 2), self.fb if filterbank is None else filterbank)
        return torch.log(mel + self.cfg.log_floor)
