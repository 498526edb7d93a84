"""Benchmark: speed of the neural engine (the shipped checkpoint) on CPU.

- offline RTF: `LipsyncRegressor.infer` wall seconds / audio seconds on 60 s of real speech
  (kathleen, concatenated), with 1 and 2 torch threads; also onnxruntime on the ONNX export
  when onnx/onnxruntime are installed;
- streaming: compute per 10 ms of audio, fed in 10 ms chunks (the mean over the whole clip
  and the 99th percentile of the per-token step);
- the latency budget: look-ahead + token granularity + compute.

    python bench/neural_speed.py [--seconds 60] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

SHARED = Path(__file__).resolve().parents[2] / "shared"
KATHLEEN = SHARED / "assets/speech/kathleen"


def real_speech(seconds: float) -> np.ndarray:
    pieces, total = [], 0
    for p in sorted((KATHLEEN / "flac").glob("*.flac")):
        x, sr = sf.read(p, dtype="float32")
        assert sr == 16000
        pieces.append(x)
        total += len(x)
        if total >= seconds * 16000:
            break
    return np.concatenate(pieces)[: int(seconds * 16000)]


def best_of(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    from voxface.engine.neural.model import load_checkpoint, n_parameters
    from voxface.engine.neural.stream import StreamingLipsync

    model = load_checkpoint()
    x = real_speech(a.seconds)
    dur = len(x) / 16000
    out: dict = {"audio_s": dur, "parameters": n_parameters(model),
                 "lookahead_ms": model.timing.lookahead_s * 1000}
    for threads in (1, 2):
        torch.set_num_threads(threads)
        model.infer(x[:16000])
        out[f"offline_rtf_{threads}thr"] = best_of(lambda: model.infer(x), a.repeat) / dur

    torch.set_num_threads(1)
    s = StreamingLipsync(model)
    chunk = 160
    per_chunk = []
    t_all = time.perf_counter()
    for i in range(0, len(x), chunk):
        t0 = time.perf_counter()
        s.feed(x[i:i + chunk])
        per_chunk.append(time.perf_counter() - t0)
    s.flush()
    t_all = time.perf_counter() - t_all
    steps = sorted(c for c in per_chunk if c > 2e-4)          # chunks that ran a token
    out["stream_ms_per_10ms_mean"] = 1000 * t_all / (dur / 0.010)
    out["stream_token_step_ms_median"] = 1000 * statistics.median(steps)
    out["stream_token_step_ms_p99"] = 1000 * steps[int(0.99 * (len(steps) - 1))]

    try:
        import onnxruntime as ort

        from voxface.exporters.model_export import export_onnx

        with tempfile.TemporaryDirectory() as d:
            path = export_onnx(model, Path(d) / "m.onnx")
            for threads in (1, 2):
                so = ort.SessionOptions()
                so.intra_op_num_threads = threads
                sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
                seg = x[: 16000 * 20]                   # full attention: keep clips short
                sess.run(None, {"pcm": seg[None]})
                t = best_of(lambda: sess.run(None, {"pcm": seg[None]}), a.repeat)
                out[f"onnx_rtf_20s_{threads}thr"] = t / 20
    except ImportError:
        pass

    # A token's first frame waits for the look-ahead, then for the chunk that completes it to
    # arrive (10 ms here), then for the compute; its other two frames wait less.
    budget = {"lookahead_ms": out["lookahead_ms"], "chunk_ms": 1000 * chunk / 16000,
              "compute_ms_median": out["stream_token_step_ms_median"]}
    budget["total_ms"] = sum(budget.values())
    out["latency_budget"] = budget
    for k, v in out.items():
        print(f"{k:32s} {v if not isinstance(v, float) else round(v, 5)}")
    if a.json:
        Path(a.json).write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
