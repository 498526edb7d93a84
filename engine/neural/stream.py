"""Streaming inference: feed 16 kHz PCM in chunks of any size, get frames as soon as the
look-ahead allows. Output equals offline `LipsyncRegressor.infer` on the same audio to ~1e-6.

Latency of a frame = look-ahead (80 ms: the model needs audio up to 80 ms past the first frame
of a token) + waiting for the rest of the app's audio buffer (e.g. 10-21 ms) + compute (well
under 1 ms per 50 ms token on one desktop core). Frames come out three at a time (one token =
50 ms = 3 frames at 60 fps).

    s = StreamingLipsync(load_checkpoint())
    for chunk in chunks:            # float32 or int16 PCM at 16 kHz, any length
        frames = s.feed(chunk)       # [k, 52], maybe k = 0
    frames = s.flush()               # the last frames (zero look-ahead padding, as offline)

`StepModule` is one token of it as a fixed-shape function with an explicit key/value cache:
the graph exported as the CoreML/ONNX streaming variant.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from voxface.engine.neural.model import LipsyncRegressor


class StepModule(nn.Module):
    """One token: (window [1, 2160] padded PCM, k_cache, v_cache [n_layers, H, C, dh],
    valid [C]) -> (frames [3, 52], next k_cache, next v_cache, next valid).

    `window` is padded samples [800 k, 800 k + 2160) of the stream (the stream begins with
    `left_pad` = 880 zeros). C = context - 1 = 23 cached tokens; `valid` is 1.0 for slots that
    hold a real token (all 0 at the start). The caches shift by one slot per call.
    """

    def __init__(self, model: LipsyncRegressor, *, fast_features: bool = False):
        super().__init__()
        self.model = model
        self.fast_features = fast_features  # torch.stft front end (not exportable)
        cfg = model.cfg
        self.n_cache = cfg.context - 1
        self.register_buffer("dist", torch.arange(self.n_cache, -1, -1, dtype=torch.float32),
                             persistent=False)

    def cache_shape(self) -> tuple[int, int, int, int]:
        cfg = self.model.cfg
        return (cfg.n_layers, cfg.n_heads, self.n_cache, cfg.d_model // cfg.n_heads)

    def forward(self, window: torch.Tensor, k_cache: torch.Tensor, v_cache: torch.Tensor,
                valid: torch.Tensor):
        m = self.model
        # 2160 + 80 samples = 14 hop blocks exactly
        mel = m.logmel.fast(window) if self.fast_features else m.logmel(window, True)
        h = m.tokens_from_mel(mel)                                    # [1, 1, d]
        slope = nn.functional.softplus(m.slopes)[:, None]             # [H, 1]
        mask = torch.cat([(valid - 1.0) * 1.0e4, torch.zeros_like(valid[:1])])
        bias = (mask[None, :] - slope * self.dist[None, :])[:, None, :]  # [H, 1, C + 1]
        ks, vs = [], []
        for i, blk in enumerate(m.blocks):
            h, k, v = blk(h, bias, k_cache[i:i + 1], v_cache[i:i + 1])
            ks.append(k[:, :, 1:])
            vs.append(v[:, :, 1:])
        frames = m.head_frames(h)[0]
        next_valid = torch.cat([valid[1:], torch.ones_like(valid[:1])])
        return frames, torch.cat(ks, dim=0), torch.cat(vs, dim=0), next_valid


class StreamingLipsync:
    """Chunked streaming over a `LipsyncRegressor` (see module docstring)."""

    def __init__(self, model: LipsyncRegressor):
        self.model = model.eval()
        self.step = StepModule(self.model, fast_features=True).eval()
        t = model.timing
        self._spt, self._win, self._left = t.samples_per_token, t.window_samples, t.left_pad
        self._fpt, self._fps, self._sr = model.cfg.frames_per_token, model.cfg.fps, t.sr
        self.reset()

    @property
    def lookahead_s(self) -> float:
        return self.model.timing.lookahead_s

    def reset(self) -> None:
        """Start a new stream."""
        self._buf = np.zeros(self._left, np.float32)   # padded samples from index _base
        self._base = 0
        self._received = 0                              # raw samples fed
        self._tokens = 0                                # tokens computed
        self._emitted = 0                               # frames returned
        self._finished = False
        shape = self.step.cache_shape()
        self._k = torch.zeros(shape)
        self._v = torch.zeros(shape)
        self._valid = torch.zeros(shape[2])

    def feed(self, pcm: np.ndarray) -> np.ndarray:
        """Append PCM (float in -1..1 or int16, 16 kHz mono, any length) -> new frames
        float32 [k, 52] (k a multiple of 3, possibly 0)."""
        if self._finished:
            raise RuntimeError("stream already flushed; call reset() to start another")
        x = np.asarray(pcm)
        x = x.astype(np.float32) / 32768.0 if x.dtype == np.int16 else x.astype(np.float32)
        if x.ndim != 1:
            raise ValueError(f"expected mono PCM [N], got shape {x.shape}")
        self._received += x.shape[0]
        self._buf = np.concatenate([self._buf, x])
        return self._run(limit=None)

    def flush(self) -> np.ndarray:
        """End of stream: pad with zeros as offline inference does and return the remaining
        frames, so that all frames together are `Curves.n_frames_for(duration, 60)`."""
        if self._finished:
            return np.zeros((0, len(self.model.cfg.names)), np.float32)
        n_frames = int(round(self._received / self._sr * self._fps)) + 1
        n_tokens = -(-n_frames // self._fpt)
        need = self._spt * (n_tokens - 1) + self._win - self._base
        if need > self._buf.shape[0]:
            self._buf = np.concatenate([self._buf, np.zeros(need - self._buf.shape[0], np.float32)])
        out = self._run(limit=n_tokens)
        keep = n_frames - self._emitted + out.shape[0]
        self._finished = True
        self._emitted = n_frames
        return out[:max(0, keep)]

    @torch.no_grad()
    def _run(self, limit: int | None) -> np.ndarray:
        frames = []
        while limit is None or self._tokens < limit:
            start = self._spt * self._tokens - self._base
            if start + self._win > self._buf.shape[0]:
                break
            window = torch.from_numpy(self._buf[start:start + self._win])[None]
            f, self._k, self._v, self._valid = self.step(window, self._k, self._v, self._valid)
            frames.append(f.numpy())
            self._tokens += 1
        drop = self._spt * self._tokens - self._base
        if drop > 0:
            self._buf = self._buf[drop:]
            self._base += drop
        if not frames:
            return np.zeros((0, len(self.model.cfg.names)), np.float32)
        out = np.concatenate(frames).astype(np.float32)
        self._emitted += out.shape[0]
        return out
