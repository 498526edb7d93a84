"""`animate export-model`: the regressor as ONNX or as a CoreML ML Program (iOS 16+).

Both formats take raw 16 kHz mono float PCM: the log-mel front end is part of the graph
(a matmul DFT, see features.py), so the app does no signal processing of its own.

Offline variant (default), input `pcm` [1, S] with S flexible (ONNX dynamic axis, CoreML
RangeDim 800..960000 = 0.05..60 s) -> `curves` [1, F, 52], F = 3 (S // 800 + 2) or a few more;
keep the first round(S * 60 / 16000) + 1 frames (frame i at i / 60 s).

Streaming variant (`--variant stream`), fixed shapes, one 50 ms token per call:
  inputs  `window` [1, 2160]  padded PCM [800 k, 800 k + 2160) (stream starts with 880 zeros),
          `k_cache`, `v_cache` [4, 4, 23, 32], `valid` [23]  (zeros at the start);
  outputs `frames` [3, 52] (frames 3k .. 3k + 2), `next_k_cache`, `next_v_cache`,
          `next_valid`  (feed them back on the next call).

Metadata (CoreML user-defined metadata, ONNX metadata_props): `names` (the 52 ARKit names in
output order, comma-separated), `fps`, `sample_rate`, `lookahead_s`, `left_pad`,
`samples_per_token`, `window_samples`, `version`, `variant`, and `description` (JSON of the
checkpoint's self-description).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from voxface.core.errors import InputError
from voxface.engine.neural.model import LipsyncRegressor
from voxface.engine.neural.stream import StepModule

FORMATS = ("onnx", "coreml")
VARIANTS = ("offline", "stream")
MAX_SECONDS = 60          # CoreML RangeDim upper bound of the offline variant
ONNX_OPSET = 17


def metadata(model: LipsyncRegressor, variant: str) -> dict[str, str]:
    d = model.describe()
    return {"names": ",".join(d["names"]), "fps": str(d["fps"]),
            "sample_rate": str(d["sample_rate"]), "lookahead_s": str(d["lookahead_s"]),
            "left_pad": str(d["left_pad"]), "samples_per_token": str(d["samples_per_token"]),
            "window_samples": str(d["window_samples"]), "version": str(d["version"]),
            "variant": variant, "description": json.dumps(d)}


def _step_inputs(step: StepModule) -> tuple[torch.Tensor, ...]:
    shape = step.cache_shape()
    return (torch.zeros(1, step.model.timing.window_samples), torch.zeros(shape),
            torch.zeros(shape), torch.zeros(shape[2]))


def export_onnx(model: LipsyncRegressor, path: str | Path, *, variant: str = "offline") -> Path:
    """Write an ONNX model (opset 17); `offline` has a dynamic sample axis."""
    import onnx

    model = model.eval()
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    if variant == "offline":
        example = (torch.zeros(1, 16000),)
        torch.onnx.export(model, example, str(p), input_names=["pcm"], output_names=["curves"],
                          dynamic_axes={"pcm": {1: "samples"}, "curves": {1: "frames"}},
                          opset_version=ONNX_OPSET, dynamo=False)
    elif variant == "stream":
        step = StepModule(model).eval()
        torch.onnx.export(step, _step_inputs(step), str(p),
                          input_names=["window", "k_cache", "v_cache", "valid"],
                          output_names=["frames", "next_k_cache", "next_v_cache", "next_valid"],
                          opset_version=ONNX_OPSET, dynamo=False)
    else:
        raise ValueError(f"unknown variant {variant!r}; available: {', '.join(VARIANTS)}")
    m = onnx.load(str(p))
    for k, v in metadata(model, variant).items():
        m.metadata_props.append(onnx.StringStringEntryProto(key=k, value=v))
    onnx.checker.check_model(m)
    onnx.save(m, str(p))
    return p


def convert_coreml(model: LipsyncRegressor, *, variant: str = "offline",
                   precision: str = "float16"):
    """The CoreML ML Program (iOS 16 target) as a coremltools MLModel (not saved)."""
    import coremltools as ct

    model = model.eval()
    if precision == "float16":
        # The log-mel front end stays float32: |X|^2 of loud speech can pass fp16's 65504 and
        # the 1e-6 log floor is below fp16's normal range. Everything after the log is fp16.
        prec = ct.transform.FP16ComputePrecision(op_selector=lambda op: not _feeds_log(op))
    elif precision == "float32":
        prec = ct.precision.FLOAT32
    else:
        raise ValueError(f"unknown precision {precision!r}; available: float16, float32")
    if variant == "offline":
        traced = torch.jit.trace(model, (torch.zeros(1, 16000),), check_trace=False)
        spt = model.timing.samples_per_token
        inputs = [ct.TensorType(name="pcm", shape=(1, ct.RangeDim(spt, 16000 * MAX_SECONDS,
                                                                   default=16000)))]
        outputs = [ct.TensorType(name="curves")]
    elif variant == "stream":
        step = StepModule(model).eval()
        ex = _step_inputs(step)
        traced = torch.jit.trace(step, ex, check_trace=False)
        inputs = [ct.TensorType(name=n, shape=tuple(t.shape))
                  for n, t in zip(("window", "k_cache", "v_cache", "valid"), ex)]
        outputs = [ct.TensorType(name=n) for n in
                   ("frames", "next_k_cache", "next_v_cache", "next_valid")]
    else:
        raise ValueError(f"unknown variant {variant!r}; available: {', '.join(VARIANTS)}")
    ml = ct.convert(traced, inputs=inputs, outputs=outputs, convert_to="mlprogram",
                    minimum_deployment_target=ct.target.iOS16, compute_precision=prec)
    meta = metadata(model, variant)
    meta["precision"] = precision
    ml.user_defined_metadata.update(meta)
    ml.short_description = ("voxface lip-sync: 16 kHz mono PCM -> 52 ARKit blendshapes at "
                            f"{model.cfg.fps:g} fps ({variant})")
    ml.author = "voxface"
    ml.version = str(model.describe()["version"])
    ml.input_description[inputs[0].name] = ("raw 16 kHz mono float PCM in -1..1" if
                                            variant == "offline" else
                                            "padded PCM window [800k, 800k+2160)")
    return ml


def _feeds_log(op, depth: int = 0) -> bool:
    """True for the `log` op and the ops upstream of it (the front end)."""
    if op.op_type == "log":
        return True
    if depth > 12:
        return False
    return any(_feeds_log(c, depth + 1) for o in op.outputs for c in o.child_ops)


def export_coreml(model: LipsyncRegressor, path: str | Path, *, variant: str = "offline",
                  precision: str = "float16") -> Path:
    """Write an .mlpackage."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    convert_coreml(model, variant=variant, precision=precision).save(str(p))
    return p


def coreml_ops(ml) -> dict[str, int]:
    """Operator histogram of an ML Program's main function (spec-level; no prediction)."""
    spec = ml.get_spec()
    counts: dict[str, int] = {}
    for fn in spec.mlProgram.functions.values():
        for block in fn.block_specializations.values():
            for op in block.operations:
                counts[op.type] = counts.get(op.type, 0) + 1
    return counts


def main(argv: list[str] | None = None) -> int:
    """`animate export-model --format coreml|onnx -o PATH [--variant offline|stream]`."""
    import argparse
    import sys

    from voxface.engine.neural.model import load_checkpoint

    class _P(argparse.ArgumentParser):
        def error(self, message: str) -> None:  # one line, exit 2 (as the rest of the CLI)
            raise InputError(f"{self.prog}: {message} (see --help)")

    p = _P(prog="animate export-model",
           description="Export the neural lip-sync model for apps: CoreML ML Program (iOS 16+) "
                       "or ONNX. Input raw 16 kHz PCM, output the 52 ARKit curves at 60 fps. "
                       "See docs/ios_model.md.")
    p.add_argument("--format", required=True, choices=FORMATS)
    p.add_argument("-o", "--output", required=True,
                   help="output path (.mlpackage for coreml, .onnx for onnx)")
    p.add_argument("--variant", default="offline", choices=VARIANTS,
                   help="offline: flexible-length PCM in, all frames out (default); "
                        "stream: one 50 ms token per call with an explicit key/value cache")
    p.add_argument("--precision", default="float16", choices=("float16", "float32"),
                   help="CoreML compute precision (default float16)")
    p.add_argument("--checkpoint", default=None, help="model checkpoint (default: shipped)")
    a = p.parse_args(argv)
    model = load_checkpoint(a.checkpoint)
    if a.format == "onnx":
        out = export_onnx(model, a.output, variant=a.variant)
    else:
        out = export_coreml(model, a.output, variant=a.variant, precision=a.precision)
    print(f"animate: wrote {out}", file=sys.stderr)
    return 0
