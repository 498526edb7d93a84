"""`animate train`: the shipped weights from scratch (dataset cache -> training -> checkpoint).

Recipe (all fixed by `TrainConfig`, seeded, so a rerun reproduces the shipped model up to
floating-point summation order):

- crops of 4 s (80 tokens, 240 frames) with the left context and 80 ms look-ahead audio the
  model sees at inference; sources mixed espeak 45 %, kathleen 45 %, FSDD (4 speakers) 10 %;
- augmentations (`augment.augment`) on 70 % of crops, speed 0.9..1.1 on a quarter
  (targets resampled in time with the audio); vocal-tract-length perturbation on 60 %: the
  mel filters read the spectrum through a frequency warp of 0.85..1.15
  (`features.warped_filterbank`), formants move, timing and targets do not, so one real
  training speaker stands for a range of vocal tracts;
- loss per frame and shape: (10 e^2 + 0.1 |e|) on values + 2 x the same on velocities (frame
  differences); jawOpen weighted 2, other mouth and jaw shapes 1, the rest 0.3; frames inside
  a P/B/M phone weighted x4, plus a hinge (weight 0.3) that pushes those frames into
  `is_lip_closed` (jawOpen - mouthClose <= 0.03, openers <= 0.08; the predicate allows 0.05 /
  0.1); and a second hinge (weight 0.3, `vowel_open_hinge`) on the central half of each vowel
  where the teacher's lips are open, lifting jawOpen - mouthClose and the lip openers up to
  the teacher's values (capped just past the predicate's thresholds), so the model does not
  buy its closures with vowels that read as shut. Mostly
  squared error: an L1 loss drove sparse shapes (mouthRollLower, mouthPress*) to their median 0
  and, with a stronger hinge, kept mouthClose up everywhere (lips "closed" on vowels);
- AdamW (lr 2e-3, weight decay 0.01), 300 warm-up steps, cosine decay; one data worker
  process and one torch thread (2 cores in all).
"""

from __future__ import annotations

import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn

from tools.neural import augment as A
from tools.neural import dataset as D
from tools.neural.metrics import MOUTH_JAW, evaluate
from voxface.core.names import ARKIT_52
from voxface.engine.neural.features import warped_filterbank
from voxface.engine.neural.model import LipsyncRegressor, save_checkpoint

_I = {n: i for i, n in enumerate(ARKIT_52)}
_OPENERS = [_I[n] for n in ("mouthUpperUpLeft", "mouthUpperUpRight", "mouthLowerDownLeft",
                            "mouthLowerDownRight", "mouthFunnel")]


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 6000
    batch: int = 16
    crop_tokens: int = 80
    lr: float = 2e-3
    weight_decay: float = 0.01
    warmup: int = 300
    seed: int = 0
    espeak_count: int = 1500
    fsdd_per_speaker: int = 100
    mix: tuple = (("espeak", 0.45), ("kathleen", 0.45), ("fsdd_train", 0.10))
    p_clean: float = 0.3
    l1_weight: float = 0.1
    l2_weight: float = 10.0
    vel_weight: float = 2.0
    closure_weight: float = 4.0
    hinge_weight: float = 0.3
    vowel_hinge_weight: float = 0.3  # vowel middles kept open where the teacher is (issue 17)
    vtlp: float = 0.15      # vocal-tract-length perturbation: warp factor 1 +- vtlp ...
    p_vtlp: float = 0.6     # ... on this share of crops (features.warped_filterbank)


# ----------------------------------------------------------------------------------------------
# Crops


class _Crops(torch.utils.data.IterableDataset):
    """Endless random training crops: (x [800 N + 1360], y [3 N, 52], mask [3 N], closure [3 N],
    vowel [3 N], warp factor []); closure / vowel are 1 on P/B/M frames / vowel middles."""

    def __init__(self, groups: dict[str, list[D.Utterance]], cfg: TrainConfig,
                 timing) -> None:
        self.groups, self.cfg, self.t = groups, cfg, timing
        self.names = [n for n, _ in cfg.mix if groups.get(n)]
        w = np.array([p for n, p in cfg.mix if groups.get(n)])
        self.weights = w / w.sum()

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        rng = np.random.default_rng([self.cfg.seed, info.id if info else 0])
        while True:
            yield self.sample(rng)

    def _pick(self, rng) -> D.Utterance:
        g = self.groups[self.names[rng.choice(len(self.names), p=self.weights)]]
        return g[rng.integers(len(g))]

    def sample(self, rng: np.random.Generator):
        cfg, t = self.cfg, self.t
        u = self._pick(rng)
        audio, y = u.audio, u.targets
        closure = np.zeros(len(y), np.float32)
        for a, b in D.closure_frames(u.phones, len(y)):
            closure[a:b] = 1.0
        vowel = np.zeros(len(y), np.float32)
        for a, b in D.vowel_frames(u.phones, len(y)):
            vowel[a:b] = 1.0
        f = A.speed_factor(rng) if rng.random() < 0.5 else 1.0
        if f != 1.0:
            audio = A.change_speed(audio, f)
            n = int(round(audio.shape[0] / t.sr * 60)) + 1
            src = np.minimum(np.arange(n) * f, len(y) - 1)
            y = np.stack([np.interp(src, np.arange(len(y)), y[:, c]) for c in range(52)], 1)
            closure = closure[np.round(src).astype(int)]
            vowel = vowel[np.round(src).astype(int)]
        n_tok = cfg.crop_tokens
        total_tok = -(-len(y) // 3)
        j = int(rng.integers(0, max(1, total_tok - n_tok // 2)))
        spt = t.samples_per_token
        padded = np.zeros(t.left_pad + audio.shape[0] + spt * (n_tok + 2) + t.right_pad,
                          np.float32)
        padded[t.left_pad:t.left_pad + audio.shape[0]] = audio
        x = padded[spt * j: spt * j + spt * (n_tok - 1) + t.window_samples].copy()
        babble = None
        if rng.random() < 0.3:
            babble = np.zeros(x.shape[0], np.float32)
            for _ in range(int(rng.integers(1, 4))):
                other = self._pick(rng).audio[: x.shape[0]]
                babble[: other.shape[0]] += other
        x = A.augment(x, rng, babble=babble, p_clean=cfg.p_clean)
        warp = 1.0
        if cfg.vtlp > 0 and rng.random() < cfg.p_vtlp:
            warp = float(rng.uniform(1.0 - cfg.vtlp, 1.0 + cfg.vtlp))
        frames = 3 * n_tok
        yy = np.zeros((frames, 52), np.float32)
        mask = np.zeros(frames, np.float32)
        cc = np.zeros(frames, np.float32)
        vv = np.zeros(frames, np.float32)
        seg = y[3 * j: 3 * j + frames]
        yy[: len(seg)] = seg
        mask[: len(seg)] = 1.0
        cc[: len(seg)] = closure[3 * j: 3 * j + frames]
        vv[: len(seg)] = vowel[3 * j: 3 * j + frames]
        return (torch.from_numpy(x), torch.from_numpy(yy), torch.from_numpy(mask),
                torch.from_numpy(cc), torch.from_numpy(vv),
                torch.tensor(warp, dtype=torch.float32))


# ----------------------------------------------------------------------------------------------
# Loss


# The vowel hinge aims a little past the predicate's thresholds (0.05 / 0.1), as the closure
# hinge aims a little inside them, so that a vowel the teacher opens clears them with a margin.
_VOWEL_GAP, _VOWEL_OPENER = 0.08, 0.13


def vowel_open_hinge(pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-frame shortfall of the lip opening below the teacher's: pred, y [..., 52] -> [...].

    Zero where the teacher's frame is lip-closed (`coarticulation.is_lip_closed`: nothing to
    keep open). Elsewhere the sum of relu(min(teacher, cap) - pred) over jawOpen - mouthClose
    (cap 0.08) and each lip opener mouthUpperUp/LowerDown/Funnel (cap 0.13): it pushes up to
    the teacher's opening, never past it, and never further than just over the predicate's
    thresholds. Without it the model under-reached on vowels and kept mouthClose up (mean
    0.039 against the teacher's 0.011), so 16 % of vowel middles read as closed lips.
    """
    jaw, close = _I["jawOpen"], _I["mouthClose"]
    t_gap = y[..., jaw] - y[..., close]
    t_open = y[..., _OPENERS]
    teacher_open = (t_gap > 0.05 + 1e-6) | (t_open > 0.1 + 1e-6).any(-1)
    p_gap = pred[..., jaw] - pred[..., close]
    short = (torch.relu(t_gap.clamp(max=_VOWEL_GAP) - p_gap)
             + torch.relu(t_open.clamp(max=_VOWEL_OPENER) - pred[..., _OPENERS]).sum(-1))
    return short * teacher_open


def loss_fn(pred: torch.Tensor, y: torch.Tensor, mask: torch.Tensor, closure: torch.Tensor,
            cfg: TrainConfig, vowel: torch.Tensor | None = None) -> torch.Tensor:
    """pred, y [B, T, 52]; mask, closure, vowel [B, T] -> scalar (see module docstring)."""
    col = torch.full((52,), 0.3)
    col[torch.from_numpy(MOUTH_JAW)] = 1.0
    col[_I["jawOpen"]] = 2.0   # the most visible shape: its timing is what viewers judge
    w = mask * (1.0 + (cfg.closure_weight - 1.0) * closure)
    denom = mask.sum() * col.sum() + 1e-6
    def err(e: torch.Tensor) -> torch.Tensor:
        return cfg.l1_weight * e.abs() + cfg.l2_weight * e * e

    val = (err(pred - y) * col * w[..., None]).sum() / denom
    dm = mask[:, 1:] * mask[:, :-1]
    dv = err((pred[:, 1:] - pred[:, :-1]) - (y[:, 1:] - y[:, :-1]))
    vel = (dv * col * dm[..., None]).sum() / (dm.sum() * col.sum() + 1e-6)
    cm = closure * mask
    gap = torch.relu(pred[..., _I["jawOpen"]] - pred[..., _I["mouthClose"]] - 0.03)
    openers = torch.relu(pred[..., _OPENERS] - 0.08).sum(-1)
    hinge = ((gap + openers) * cm).sum() / (cm.sum() + 1e-6)
    out = val + cfg.vel_weight * vel + cfg.hinge_weight * hinge
    if vowel is not None and cfg.vowel_hinge_weight > 0:
        vm = vowel * mask
        vh = (vowel_open_hinge(pred, y) * vm).sum() / (vm.sum() + 1e-6)
        out = out + cfg.vowel_hinge_weight * vh
    return out


# ----------------------------------------------------------------------------------------------
# Training


def feature_stats(model: LipsyncRegressor, utts: list[D.Utterance], n: int = 200,
                  seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    rng = np.random.default_rng(seed)
    pick = [utts[i] for i in rng.choice(len(utts), size=min(n, len(utts)), replace=False)]
    with torch.no_grad():
        mels = [model.logmel.fast(torch.from_numpy(u.audio[None]))[0] for u in pick
                if u.audio.shape[0] > model.feat.win]
    m = torch.cat(mels)
    return m.mean(0), m.std(0).clamp_min(1e-3)


def predict(model: LipsyncRegressor, utts: list[D.Utterance],
            transform: Callable[[np.ndarray], np.ndarray] | None = None) -> list[np.ndarray]:
    model.eval()
    return [model.infer(transform(u.audio) if transform else u.audio) for u in utts]


def evaluate_model(model: LipsyncRegressor, utts: list[D.Utterance],
                   transform: Callable[[np.ndarray], np.ndarray] | None = None) -> dict:
    preds = predict(model, utts, transform)
    return evaluate(preds, [u.targets for u in utts], [u.phones for u in utts])


def _cpu_seconds() -> float:
    """CPU time (user + system) of this process and its finished children (data workers,
    alignment processes) so far."""
    import resource

    return sum(r.ru_utime + r.ru_stime for r in (resource.getrusage(resource.RUSAGE_SELF),
                                                 resource.getrusage(resource.RUSAGE_CHILDREN)))


def train(out: str | Path, cfg: TrainConfig = TrainConfig(), *, workers: int = 1,
          threads: int = 1, log: Callable[[str], None] = print) -> dict:
    """Build/load the dataset cache, train, evaluate on held-out speakers, save `out`.
    Returns the checkpoint's metadata extras (config, timings, eval metrics)."""
    torch.manual_seed(cfg.seed)
    torch.set_num_threads(threads)
    t_start = time.perf_counter()
    groups = {}
    for name in D.TRAIN_SOURCES + D.EVAL_SOURCES:
        groups[name] = D.load([name], espeak_count=cfg.espeak_count,
                              fsdd_per_speaker=cfg.fsdd_per_speaker, workers=workers, log=log)
    t_data = time.perf_counter() - t_start
    cpu_data = _cpu_seconds()
    train_min = sum(u.duration for n in D.TRAIN_SOURCES for u in groups[n]) / 60
    log(f"data ready in {t_data:.0f} s: train {train_min:.1f} min")

    model = LipsyncRegressor()
    mean, std = feature_stats(model, [u for n in D.TRAIN_SOURCES for u in groups[n]])
    model.feat_mean.copy_(mean)
    model.feat_std.copy_(std)
    ds = _Crops({n: groups[n] for n in D.TRAIN_SOURCES}, cfg, model.timing)
    loader = torch.utils.data.DataLoader(ds, batch_size=cfg.batch, num_workers=workers,
                                         prefetch_factor=4 if workers > 0 else None)
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
    rest = [p for n, p in model.named_parameters() if p.ndim < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                             {"params": rest, "weight_decay": 0.0}], lr=cfg.lr)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / cfg.warmup)
        * 0.5 * (1 + np.cos(np.pi * min(1.0, s / cfg.steps))))
    model.train()
    t0 = time.perf_counter()
    running = 0.0
    for step, (x, y, mask, closure, vowel, warp) in enumerate(loader):
        if step >= cfg.steps:
            break
        fb = None
        if cfg.vtlp > 0:
            fb = torch.from_numpy(np.stack([warped_filterbank(model.feat, float(a)).T
                                            for a in warp])).to(torch.float32)
        pred = model.forward_padded(x, fast_features=True, filterbank=fb)
        loss = loss_fn(pred, y, mask, closure, cfg, vowel)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        lv = loss.item()
        running = 0.98 * running + 0.02 * lv if step else lv
        if (step + 1) % 100 == 0:
            el = time.perf_counter() - t0
            log(f"step {step + 1}/{cfg.steps} loss {running:.4f} "
                f"({el / (step + 1):.2f} s/step, {el / 60:.1f} min)")
    t_train = time.perf_counter() - t0
    del loader  # the loop's iterator is gone: its workers have exited and count as children
    cpu_train = _cpu_seconds() - cpu_data
    model.eval()
    held = [u for n in D.EVAL_SOURCES for u in groups[n]]
    metrics = evaluate_model(model, held)
    log(f"held-out: {metrics}")
    extra = {"train": {"config": {k: (list(v) if isinstance(v, tuple) else v)
                                  for k, v in asdict(cfg).items()},
                       "train_minutes_audio": round(train_min, 1),
                       "data_seconds": round(t_data, 1), "train_seconds": round(t_train, 1),
                       "data_cpu_seconds": round(cpu_data, 1),
                       "train_cpu_seconds": round(cpu_train, 1),
                       "teacher": D.teacher_fingerprint(), "torch": str(torch.__version__)},
             "eval": {"sets": list(D.EVAL_SOURCES), **metrics}}
    save_checkpoint(model, out, extra=extra)
    log(f"wrote {out} ({Path(out).stat().st_size / 1e6:.2f} MB) in "
        f"{(time.perf_counter() - t_start) / 60:.1f} min")
    return extra


def main(argv: list[str] | None = None) -> int:
    """`animate train [-o OUT] [--steps N] [--seed S] [--workers W] [--threads T]`."""
    import argparse

    from voxface.core.errors import InputError
    from voxface.engine.neural import weights_path

    class _P(argparse.ArgumentParser):
        def error(self, message: str) -> None:  # one line, exit 2 (as the rest of the CLI)
            raise InputError(f"{self.prog}: {message} (see --help)")

    p = _P(
        prog="animate train",
        description="Train the neural lip-sync regressor from scratch: build (or reuse) the "
                    "teacher dataset cache in .cache/neural, train on 2 CPU cores, evaluate on "
                    "held-out speakers, write a self-describing checkpoint. See docs/neural.md.")
    p.add_argument("-o", "--output", default=None,
                   help="checkpoint path (default: the shipped assets/lipsync_regressor.pt)")
    p.add_argument("--steps", type=int, default=TrainConfig.steps)
    p.add_argument("--seed", type=int, default=TrainConfig.seed)
    p.add_argument("--workers", type=int, default=1, help="data worker processes (default 1)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    a = p.parse_args(argv)
    out = a.output or weights_path()
    train(out, TrainConfig(steps=a.steps, seed=a.seed), workers=a.workers, threads=a.threads,
          log=lambda m: print(f"animate train: {m}", file=sys.stderr, flush=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
