"""The regressor: 16 kHz PCM -> 52 ARKit curves at 60 fps, causal with 80 ms look-ahead.

Timeline (16 kHz, 60 fps; one *token* = 800 samples = 50 ms = 5 mel hops = 3 output frames):

- The signal is padded with `left_pad` = 880 zero samples, so that mel frame j (ending at
  padded sample 160 (j + 1)) covers original samples [160 j - 240, 160 j + 160).
- Token k is a strided convolution over mel frames 5k - 4 .. 5k + 7, i.e. original samples
  [800 k - 880, 800 k + 1280): its newest sample is 80 ms after its first frame (frame 3k at
  800 k samples). That is the whole look-ahead: attention is causal.
- A pre-LayerNorm transformer (4 layers, d = 128, 4 heads) attends causally over the last
  `context` = 24 tokens (1.2 s per layer, 4.8 s in all), with a learned ALiBi slope per head
  as its only position signal, so streaming can keep a fixed-size key/value cache.
- Each token emits 3 frames x 52 sigmoid outputs (frames 3k, 3k + 1, 3k + 2).

`forward(pcm)` is the exported graph (any length, raw PCM in, every token out: take the first
`Curves.n_frames_for(S / 16000, 60)` frames). `infer` is the same computation in blocks with a
key/value cache, so minutes of audio take bounded memory; `stream.StreamingLipsync` runs it one
token at a time. Both compute log-mel by FFT; the exported graph by matmuls; all agree to ~1e-5
(streaming and `infer` to ~1e-7).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from voxface.core.fileio import atomic_path
from voxface.core.names import ARKIT_52
from voxface.engine.neural.features import FeatureConfig, LogMel

CHECKPOINT_FORMAT = "voxface-lipsync"
CHECKPOINT_VERSION = 1
_NEG = -1.0e4  # masked attention logit: exp underflows to 0 in fp32 and fp16 alike


@dataclass(frozen=True)
class ModelConfig:
    """Architecture and timing. Checkpoints store it; `load` rebuilds exactly this."""

    d_model: int = 128
    n_heads: int = 4
    n_layers: int = 4
    d_ff: int = 384
    context: int = 24           # attention window in tokens, the token itself included
    stem_kernel: int = 12       # mel frames per token window
    stem_lookahead: int = 7     # newest mel frame of token k is 5k + stem_lookahead
    mel_per_token: int = 5
    frames_per_token: int = 3
    fps: float = 60.0
    dropout: float = 0.1
    names: tuple[str, ...] = field(default=ARKIT_52)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["names"] = list(self.names)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        d = dict(d)
        d["names"] = tuple(d["names"])
        return cls(**d)


class Timing:
    """Sample bookkeeping derived from the configs (see module docstring)."""

    def __init__(self, feat: FeatureConfig, cfg: ModelConfig):
        self.hop, self.win, self.sr = feat.hop, feat.win, feat.sample_rate
        self.samples_per_token = feat.hop * cfg.mel_per_token
        if abs(self.samples_per_token * cfg.fps - cfg.frames_per_token * feat.sample_rate) > 1e-6:
            raise ValueError("a token must span a whole number of output frames")
        # newest mel frame of token 0 is stem_lookahead; it ends at hop * (lookahead + 1).
        self.lookahead_samples = feat.hop * (cfg.stem_lookahead + 1)
        first_mel = cfg.stem_lookahead - cfg.stem_kernel + 1       # oldest mel frame, token 0
        self.left_pad = feat.win - feat.hop * (first_mel + 1)
        self.window_samples = self.left_pad + self.lookahead_samples  # padded samples / token
        # enough zeros after the signal for every frame up to n_frames_for(duration):
        self.right_pad = self.samples_per_token + self.lookahead_samples

    @property
    def lookahead_s(self) -> float:
        return self.lookahead_samples / self.sr


class Block(nn.Module):
    """Pre-LN transformer layer with windowed causal attention over a key/value cache."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.h, self.dh = cfg.n_heads, cfg.d_model // cfg.n_heads
        self.ln1 = nn.LayerNorm(cfg.d_model)
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model)
        self.proj = nn.Linear(cfg.d_model, cfg.d_model)
        self.ln2 = nn.LayerNorm(cfg.d_model)
        self.ff = nn.Sequential(nn.Linear(cfg.d_model, cfg.d_ff), nn.GELU(),
                                nn.Linear(cfg.d_ff, cfg.d_model))
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor, bias: torch.Tensor, cache_k: torch.Tensor | None = None,
                cache_v: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """x [B, T, d]; bias [H, T, C + T] (C = cache length); caches [B, H, C, dh].
        Returns (y [B, T, d], keys [B, H, C + T, dh], values [B, H, C + T, dh])."""
        b, t, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).reshape(b, t, 3, self.h, self.dh).permute(2, 0, 3, 1, 4)
        if cache_k is not None:
            k = torch.cat([cache_k, k], dim=2)
            v = torch.cat([cache_v, v], dim=2)
        att = torch.matmul(q, k.transpose(-1, -2)) * (1.0 / math.sqrt(self.dh)) + bias
        y = torch.matmul(torch.softmax(att, dim=-1), v)
        y = y.transpose(1, 2).reshape(b, t, d)
        x = x + self.drop(self.proj(y))
        x = x + self.drop(self.ff(self.ln2(x)))
        return x, k, v


class LipsyncRegressor(nn.Module):
    """PCM -> curves. See the module docstring for the timeline."""

    def __init__(self, cfg: ModelConfig = ModelConfig(), feat: FeatureConfig = FeatureConfig()):
        super().__init__()
        self.cfg, self.feat = cfg, feat
        self.timing = Timing(feat, cfg)
        self.logmel = LogMel(feat)
        self.register_buffer("feat_mean", torch.zeros(feat.n_mels))
        self.register_buffer("feat_std", torch.ones(feat.n_mels))
        self.stem = nn.Conv1d(feat.n_mels, cfg.d_model, cfg.stem_kernel, stride=cfg.mel_per_token)
        self.stem_ff = nn.Sequential(nn.GELU(), nn.Linear(cfg.d_model, cfg.d_model))
        self.slopes = nn.Parameter(torch.tensor(
            [math.log(math.expm1(2.0 ** (-i - 1))) for i in range(cfg.n_heads)]))
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.ln_out = nn.LayerNorm(cfg.d_model)
        self.head = nn.Linear(cfg.d_model, cfg.frames_per_token * len(cfg.names))

    # -- pieces ---------------------------------------------------------------------------------

    def tokens_from_mel(self, mel: torch.Tensor) -> torch.Tensor:
        """log-mel [B, M, n_mels] -> token embeddings [B, N, d], N = (M - kernel) // 5 + 1."""
        x = (mel - self.feat_mean) / self.feat_std
        x = self.stem(x.transpose(1, 2)).transpose(1, 2)
        return x + self.stem_ff(x)

    def attention_bias(self, n_query: int, n_cache: int) -> torch.Tensor:
        """[H, T, C + T]: -slope_h * distance inside the window, -1e4 outside / in the future."""
        q = torch.arange(n_query, device=self.slopes.device) + n_cache
        k = torch.arange(n_cache + n_query, device=self.slopes.device)
        dist = (q[:, None] - k[None, :]).to(torch.float32)
        inside = (dist >= 0) & (dist < self.cfg.context)
        slope = nn.functional.softplus(self.slopes)[:, None, None]
        return torch.where(inside, -slope * dist, torch.full_like(slope * dist, _NEG))

    def head_frames(self, x: torch.Tensor) -> torch.Tensor:
        """[B, N, d] -> [B, 3N, 52] in 0..1."""
        y = torch.sigmoid(self.head(self.ln_out(x)))
        return y.unflatten(2, (self.cfg.frames_per_token, len(self.cfg.names))).flatten(1, 2)

    def forward_padded(self, x: torch.Tensor, fast_features: bool = False,
                       filterbank: torch.Tensor | None = None) -> torch.Tensor:
        """Training entry: x [B, 800 N + 1360] already holds the left context and look-ahead
        samples (see Timing) -> [B, 3N, 52]. `filterbank` [B, n_bins, n_mels]: per-item mel
        filters (training-time VTLP; needs fast_features)."""
        if filterbank is not None and not fast_features:
            raise ValueError("a per-item filterbank needs fast_features=True")
        mel = self.logmel.fast(x, filterbank) if fast_features else self.logmel(x)
        h = self.tokens_from_mel(mel)
        bias = self.attention_bias(h.shape[1], 0)
        for blk in self.blocks:
            h, _, _ = blk(h, bias)
        return self.head_frames(h)

    def forward(self, pcm: torch.Tensor) -> torch.Tensor:
        """Exported graph: raw 16 kHz PCM [B, S] (S >= 1) -> curves [B, 3 (S // 800 + 2), 52]
        (or a few frames more); frame i is at i / 60 s. Keep the first round(S * 60 / 16000) + 1.
        Memory grows with S^2 (full attention matrix): for long audio use `infer`."""
        t = self.timing
        x = nn.functional.pad(pcm, (t.left_pad, t.right_pad))
        return self.forward_padded(x)

    # -- inference ------------------------------------------------------------------------------

    @torch.no_grad()
    def infer(self, samples: np.ndarray, *, block_tokens: int = 256) -> np.ndarray:
        """Offline inference on 16 kHz mono float samples [S] -> float32 [n_frames, 52],
        n_frames = round(S * 60 / 16000) + 1 (Curves.n_frames_for). Processes `block_tokens`
        tokens at a time with a key/value cache, so memory stays bounded; log-mel by FFT
        (`LogMel.fast`, 3x quicker on CPU than the exported matmul DFT). Same numbers as
        forward() to ~1e-5."""
        t = self.timing
        s = int(samples.shape[0])
        n_frames = int(round(s / t.sr * self.cfg.fps)) + 1
        n_tokens = -(-n_frames // self.cfg.frames_per_token)
        need = t.samples_per_token * (n_tokens - 1) + t.window_samples
        x = np.zeros(need, np.float32)
        x[t.left_pad:t.left_pad + s] = np.asarray(samples, np.float32)[:need - t.left_pad]
        xt = torch.from_numpy(x)
        caches: list[tuple[torch.Tensor, torch.Tensor] | None] = [None] * len(self.blocks)
        out = []
        spt = t.samples_per_token
        for k0 in range(0, n_tokens, block_tokens):
            k1 = min(n_tokens, k0 + block_tokens)
            seg = xt[spt * k0: spt * (k1 - 1) + t.window_samples][None]
            h = self.tokens_from_mel(self.logmel.fast(seg))
            out.append(self._run_blocks(h, caches))
        y = torch.cat(out, dim=1)[0, :n_frames]
        return y.numpy().astype(np.float32)

    def _run_blocks(self, h: torch.Tensor, caches: list) -> torch.Tensor:
        keep = self.cfg.context - 1
        n_cache = 0 if caches[0] is None else caches[0][0].shape[2]
        bias = self.attention_bias(h.shape[1], n_cache)
        for i, blk in enumerate(self.blocks):
            ck, cv = caches[i] if caches[i] is not None else (None, None)
            h, k, v = blk(h, bias, ck, cv)
            caches[i] = (k[:, :, -keep:], v[:, :, -keep:])
        return self.head_frames(h)

    # -- description -----------------------------------------------------------------------------

    def describe(self) -> dict:
        """Everything an app needs to run the model, stored in checkpoints and export metadata."""
        t = self.timing
        return {"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION,
                "names": list(self.cfg.names), "fps": self.cfg.fps,
                "sample_rate": self.feat.sample_rate, "lookahead_s": t.lookahead_s,
                "lookahead_samples": t.lookahead_samples, "left_pad": t.left_pad,
                "right_pad": t.right_pad, "samples_per_token": t.samples_per_token,
                "window_samples": t.window_samples,
                "model": self.cfg.to_dict(), "features": self.feat.to_dict()}


def n_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# ----------------------------------------------------------------------------------------------
# Checkpoints


def save_checkpoint(model: LipsyncRegressor, path: str | Path, *, extra: dict | None = None,
                    half: bool = False) -> None:
    """Write a self-describing checkpoint: {'meta': describe() + extra, 'state': weights}."""
    state = {k: (v.half() if half and v.is_floating_point() and not k.startswith("feat_") else v)
             .detach().cpu().clone() for k, v in model.state_dict().items()}
    meta = model.describe()
    meta["weights_dtype"] = "float16" if half else "float32"
    if extra:
        meta.update(extra)
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(p) as tmp:
        torch.save({"meta": meta, "state": state}, tmp)


def load_checkpoint(path: str | Path | None = None) -> LipsyncRegressor:
    """Load a checkpoint strictly (every tensor present, shapes exact, format and version
    known); default: the shipped assets/lipsync_regressor.pt. Returns the model in eval mode.

    Raises voxface.core.errors.InputError when the file is missing or not a voxface checkpoint.
    """
    from voxface.core.errors import InputError

    if path is None:
        from voxface.engine.neural import weights_path

        path = weights_path()
    p = Path(path)
    if not p.is_file():
        raise InputError("no such model checkpoint (train one with `animate train`)", path=p)
    try:
        ck = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise InputError(f"not a torch checkpoint ({type(exc).__name__})", path=p) from None
    meta = ck.get("meta", {}) if isinstance(ck, dict) else {}
    if meta.get("format") != CHECKPOINT_FORMAT:
        raise InputError(f"not a voxface lipsync checkpoint (format {meta.get('format')!r})",
                         path=p)
    if meta.get("version") != CHECKPOINT_VERSION:
        raise InputError(f"checkpoint version {meta.get('version')!r} is not supported "
                         f"(expected {CHECKPOINT_VERSION})", path=p)
    model = LipsyncRegressor(ModelConfig.from_dict(meta["model"]),
                             FeatureConfig.from_dict(meta["features"]))
    if tuple(meta["names"]) != model.cfg.names or meta["fps"] != model.cfg.fps:
        raise InputError("checkpoint names/fps disagree with its model config", path=p)
    state = {k: v.float() for k, v in ck["state"].items()}
    model.load_state_dict(state, strict=True)
    model.meta = meta
    return model.eval()
