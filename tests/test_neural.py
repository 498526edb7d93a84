"""The neural engine: front end, checkpoint, streaming == offline, ONNX numbers, CoreML spec,
pipeline/CLI integration and the dataset builder's caching.

References and tolerances: offline inference is the reference for streaming and ONNX
(<= 1e-4 max abs, the issue's bound); the exported matmul-DFT front end is checked against
torch.stft (1e-3 in log-mel; the two paths differ by fp32 rounding only). CoreML prediction
cannot run on Linux: its spec (inputs, outputs, shapes, metadata, operators) is checked, and
its numbers through the ONNX export of the same graph.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from tools.neural import dataset as D  # noqa: E402
from voxface.core.names import ARKIT_52  # noqa: E402
from voxface.engine.neural import weights_path  # noqa: E402
from voxface.engine.neural.model import (  # noqa: E402
    LipsyncRegressor,
    load_checkpoint,
    save_checkpoint,
)
from voxface.engine.neural.stream import StepModule, StreamingLipsync  # noqa: E402

EXAMPLE = Path(__file__).resolve().parents[1] / "assets" / "example.wav"
TOL = 1e-4


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def random_model() -> LipsyncRegressor:
    torch.manual_seed(0)
    m = LipsyncRegressor().eval()
    with torch.no_grad():  # give the normaliser non-trivial values, as training does
        m.feat_mean.copy_(torch.linspace(-12, -4, m.feat.n_mels))
        m.feat_std.copy_(torch.linspace(2, 3, m.feat.n_mels))
    return m


@pytest.fixture(scope="module")
def shipped() -> LipsyncRegressor:
    return load_checkpoint()


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    from voxface.core.audio import load_audio

    return load_audio(EXAMPLE).samples


# ---- front end and timing --------------------------------------------------------------------


@pytest.mark.parametrize("n", [400, 559, 560, 2160, 32000])
def test_exported_front_end_matches_stft(random_model, speech, n):
    """The matmul DFT (exported graph) against torch.stft (training, infer, streaming)."""
    x = torch.from_numpy(np.stack([speech[:n], speech[-n:] * 0.01]))
    a, b = random_model.logmel(x), random_model.logmel.fast(x)
    assert a.shape == b.shape == (2, (n - 400) // 160 + 1, 64)
    # log of near-floor energies amplifies fp32 rounding; 1e-3 in log-mel is 0.0004 of the
    # normalised feature's spread.
    assert float((a - b).abs().max()) < 1e-3


def test_timing_lookahead_within_100ms(random_model):
    t = random_model.timing
    assert t.lookahead_s <= 0.100
    assert t.samples_per_token * 60 == 3 * 16000  # a token is exactly 3 frames at 60 fps


@pytest.mark.parametrize("n", [1, 799, 800, 16000, 16000 * 3 + 123])
def test_offline_forward_and_blocked_infer_agree(random_model, n):
    x = np.random.default_rng(n).standard_normal(n).astype(np.float32) * 0.1
    with torch.no_grad():
        full = random_model(torch.from_numpy(x)[None])[0].numpy()
    y = random_model.infer(x, block_tokens=7)
    assert y.shape == (int(round(n * 60 / 16000)) + 1, 52)
    assert full.shape[0] >= y.shape[0]
    assert np.abs(full[: len(y)] - y).max() <= TOL


def test_causal_with_bounded_lookahead(random_model):
    """Changing audio more than 80 ms after a frame leaves that frame unchanged."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal(32000).astype(np.float32) * 0.1
    y0 = random_model.infer(x)
    x2 = x.copy()
    cut = 16000
    x2[cut:] = rng.standard_normal(x2[cut:].shape) * 0.1
    y1 = random_model.infer(x2)
    la = random_model.timing.lookahead_s
    safe = int(np.floor((cut / 16000 - la) * 60))   # frames whose audio window ends before cut
    assert np.abs(y0[:safe] - y1[:safe]).max() <= 1e-6
    assert np.abs(y0[safe + 3:] - y1[safe + 3:]).max() > 1e-4


# ---- streaming ---------------------------------------------------------------------------------


@pytest.mark.parametrize("chunking", ["one", "random", "big"])
def test_streaming_equals_offline(shipped, speech, chunking):
    rng = np.random.default_rng(7)
    offline = shipped.infer(speech)
    s = StreamingLipsync(shipped)
    outs, i = [], 0
    while i < len(speech):
        n = {"one": 160, "random": int(rng.integers(1, 4000)), "big": 100_000}[chunking]
        outs.append(s.feed(speech[i:i + n]))
        i += n
    outs.append(s.flush())
    y = np.concatenate(outs)
    assert y.shape == offline.shape
    assert np.abs(y - offline).max() <= TOL


def test_streaming_emits_as_soon_as_lookahead_allows(shipped):
    s = StreamingLipsync(shipped)
    la = shipped.timing.lookahead_samples
    assert s.feed(np.zeros(la - 1, np.float32)).shape[0] == 0
    assert s.feed(np.zeros(1, np.float32)).shape[0] == 3       # frames 0..2 at 80 ms
    assert s.feed(np.zeros(799, np.float32)).shape[0] == 0
    assert s.feed(np.zeros(1, np.float32)).shape[0] == 3       # frames 3..5 at 130 ms
    s.flush()
    with pytest.raises(RuntimeError):
        s.feed(np.zeros(10, np.float32))
    s.reset()
    assert s.feed(np.zeros(la, np.int16)).shape == (3, 52)


# ---- checkpoint --------------------------------------------------------------------------------


def test_shipped_checkpoint_describes_itself(shipped):
    p = Path(weights_path())
    assert p.stat().st_size <= 5_000_000
    meta = shipped.meta
    assert tuple(meta["names"]) == ARKIT_52
    assert meta["fps"] == 60.0 and meta["sample_rate"] == 16000
    assert 0 < meta["lookahead_s"] <= 0.1
    assert meta["version"] >= 1 and meta["format"] == "voxface-lipsync"
    assert meta["features"]["n_mels"] == shipped.feat.n_mels
    assert "eval" in meta and "train" in meta


def test_checkpoint_loads_strictly(random_model, tmp_path):
    from voxface.core.errors import InputError

    p = tmp_path / "m.pt"
    save_checkpoint(random_model, p)
    m = load_checkpoint(p)
    x = np.random.default_rng(0).standard_normal(5000).astype(np.float32) * 0.1
    assert np.abs(m.infer(x) - random_model.infer(x)).max() == 0.0
    ck = torch.load(p, weights_only=True)
    del ck["state"]["head.bias"]
    torch.save(ck, tmp_path / "missing.pt")
    with pytest.raises(RuntimeError, match="head.bias"):
        load_checkpoint(tmp_path / "missing.pt")
    ck = torch.load(p, weights_only=True)
    ck["meta"]["version"] = 99
    torch.save(ck, tmp_path / "future.pt")
    with pytest.raises(InputError, match="version"):
        load_checkpoint(tmp_path / "future.pt")
    torch.save({"state": {}}, tmp_path / "other.pt")
    with pytest.raises(InputError, match="not a voxface"):
        load_checkpoint(tmp_path / "other.pt")
    with pytest.raises(InputError, match="no such"):
        load_checkpoint(tmp_path / "absent.pt")


# ---- ONNX --------------------------------------------------------------------------------------


def test_onnx_dynamic_length_matches_torch(shipped, speech, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    from voxface.exporters.model_export import export_onnx

    path = export_onnx(shipped, tmp_path / "m.onnx")
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    meta = sess.get_modelmeta().custom_metadata_map
    assert meta["names"].split(",") == list(ARKIT_52)
    assert float(meta["fps"]) == 60 and int(meta["sample_rate"]) == 16000
    assert float(meta["lookahead_s"]) <= 0.1
    for n in (1234, 16000, len(speech)):
        x = speech[:n]
        got = sess.run(["curves"], {"pcm": x[None]})[0][0]
        with torch.no_grad():
            want = shipped(torch.from_numpy(x)[None])[0].numpy()
        assert got.shape == want.shape
        assert np.abs(got - want).max() <= TOL
        ref = shipped.infer(x)
        assert np.abs(got[: len(ref)] - ref).max() <= TOL


def test_onnx_stream_step_matches_offline(shipped, speech, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    from voxface.exporters.model_export import export_onnx

    path = export_onnx(shipped, tmp_path / "s.onnx", variant="stream")
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    t = shipped.timing
    shape = StepModule(shipped).cache_shape()
    k = np.zeros(shape, np.float32)
    v = np.zeros(shape, np.float32)
    valid = np.zeros(shape[2], np.float32)
    x = speech[:16000 * 2]
    padded = np.concatenate([np.zeros(t.left_pad, np.float32), x])
    frames = []
    for tok in range((len(padded) - t.window_samples) // t.samples_per_token + 1):
        w = padded[tok * t.samples_per_token: tok * t.samples_per_token + t.window_samples]
        f, k, v, valid = sess.run(None, {"window": w[None], "k_cache": k, "v_cache": v,
                                         "valid": valid})
        frames.append(f)
    got = np.concatenate(frames)
    ref = shipped.infer(x)
    assert np.abs(got - ref[: len(got)]).max() <= TOL


# ---- CoreML (spec only: prediction needs macOS) ------------------------------------------------


@pytest.fixture(scope="module")
def coreml_offline(shipped):
    pytest.importorskip("coremltools")
    from voxface.exporters.model_export import convert_coreml

    return convert_coreml(shipped)


def test_coreml_offline_spec(coreml_offline, tmp_path):
    from voxface.exporters.model_export import coreml_ops

    spec = coreml_offline.get_spec()
    assert spec.WhichOneof("Type") == "mlProgram"
    assert spec.specificationVersion >= 7          # iOS 16
    (inp,) = spec.description.input
    assert inp.name == "pcm"
    shape = inp.type.multiArrayType
    ranges = shape.shapeRange.sizeRanges
    assert ranges[0].lowerBound == 1 and ranges[0].upperBound == 1
    assert ranges[1].lowerBound == 800 and ranges[1].upperBound >= 16000 * 60
    assert [o.name for o in spec.description.output] == ["curves"]
    meta = dict(spec.description.metadata.userDefined)
    assert meta["names"].split(",") == list(ARKIT_52)
    assert float(meta["fps"]) == 60 and int(meta["sample_rate"]) == 16000
    assert float(meta["lookahead_s"]) <= 0.1 and meta["version"] == "1"
    assert meta["precision"] == "float16"
    json.loads(meta["description"])
    ops = coreml_ops(coreml_offline)
    # the front end is in the graph (matmul DFT, log), then attention and sigmoid outputs
    for op in ("matmul", "log", "softmax", "layer_norm", "sigmoid", "linear"):
        assert op in ops, ops
    assert "cast" in ops  # fp32 front end feeding the fp16 network
    assert "conv" in ops  # the token stem (the DFT is matmuls)
    out = tmp_path / "Lipsync.mlpackage"
    coreml_offline.save(str(out))
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    assert size <= 2_000_000


def test_coreml_stream_spec(shipped):
    pytest.importorskip("coremltools")
    from voxface.exporters.model_export import convert_coreml

    ml = convert_coreml(shipped, variant="stream")
    spec = ml.get_spec()
    shapes = {i.name: tuple(i.type.multiArrayType.shape) for i in spec.description.input}
    step = StepModule(shipped)
    assert shapes == {"window": (1, shipped.timing.window_samples),
                      "k_cache": step.cache_shape(), "v_cache": step.cache_shape(),
                      "valid": (step.cache_shape()[2],)}
    assert [o.name for o in spec.description.output] == ["frames", "next_k_cache",
                                                         "next_v_cache", "next_valid"]
    assert dict(spec.description.metadata.userDefined)["variant"] == "stream"


# ---- pipeline and CLI --------------------------------------------------------------------------


def test_pipeline_engine_choice(tmp_path):
    from voxface.core.errors import InputError
    from voxface.pipeline import animate

    auto = animate(EXAMPLE, nonverbal=None)
    assert auto.alignment.source == "neural" and auto.alignment.phones == ()
    assert any("transcript" in w for w in auto.alignment.warnings)
    assert auto.curves.n_frames == int(round(auto.audio.duration * 60)) + 1
    assert auto.curves.names == ARKIT_52
    jaw = auto.curves.column("jawOpen")
    assert jaw.max() - jaw.min() > 0.15             # it moves with the speech
    rules = animate(EXAMPLE, transcript=EXAMPLE.with_suffix(".txt").read_text(),
                    nonverbal=None)
    assert rules.alignment.phones and rules.alignment.source != "neural"
    forced = animate(EXAMPLE, transcript="maybe", engine="neural", fps=30, nonverbal=None)
    assert forced.curves.fps == 30 and forced.alignment.phones   # aligned for the TextGrid
    with pytest.raises(InputError, match="available: rules, neural"):
        animate(EXAMPLE, engine="dnn")


def test_pipeline_falls_back_without_torch(monkeypatch):
    from voxface.core.errors import MissingDependencyError
    from voxface.engine.neural import infer
    from voxface.pipeline import animate

    monkeypatch.setattr(infer, "neural_ready", lambda: "torch is not installed")
    anim = animate(EXAMPLE, nonverbal=None)
    assert anim.alignment.source == "allphone"
    assert any("neural engine unavailable" in w for w in anim.alignment.warnings)
    with pytest.raises(MissingDependencyError):
        animate(EXAMPLE, engine="neural")


def test_cli_no_transcript_is_neural_json(tmp_path, capsys):
    import shutil

    from voxface.cli import main

    wav = shutil.copy(EXAMPLE, tmp_path / "clip.wav")      # no sidecar transcript here
    assert main([str(wav), "-o", str(tmp_path / "out"), "--format", "json,textgrid"]) == 0
    err = capsys.readouterr().err
    assert "(neural)" in err and "no transcript" in err
    doc = json.loads((tmp_path / "out" / "clip.json").read_text())
    assert doc["names"] == list(ARKIT_52) and doc["phones"] == [] and doc["words"] == []
    assert len(doc["values"]) == int(round(doc["duration"] * doc["fps"])) + 1
    # with the sidecar transcript the rules engine is the default, and --engine neural keeps
    # the aligned phones for the JSON
    assert main([str(EXAMPLE), "--engine", "neural", "-o", str(tmp_path / "n"), "--format",
                 "json", "-q"]) == 0
    assert json.loads((tmp_path / "n" / "example.json").read_text())["phones"]


def test_cli_export_model_onnx(tmp_path):
    pytest.importorskip("onnx")
    from voxface.cli import main

    out = tmp_path / "m.onnx"
    assert main(["export-model", "--format", "onnx", "-o", str(out)]) == 0
    assert out.stat().st_size > 100_000
    assert main(["export-model", "--format", "tflite", "-o", str(out)]) == 2


# ---- dataset builder ---------------------------------------------------------------------------


def test_closure_frames():
    phones = [("AH0", 0.0, 0.1), ("M", 0.1, 0.2), ("B", 0.2, 0.205), ("IY1", 0.205, 0.4)]
    assert D.closure_frames(phones, 30) == [(6, 12), (12, 13)]


def test_vowel_frames():
    phones = [("M", 0.0, 0.1), ("AA1", 0.1, 0.3), ("P", 0.3, 0.35), ("IY0", 0.35, 0.38)]
    # central half of AA1: 0.15..0.25 s; IY0 (30 ms) gets the frame nearest its middle.
    assert D.vowel_frames(phones, 30) == [(9, 15), (22, 23)]
    assert D.vowel_frames(phones, 20) == [(9, 15)]


def test_vowel_open_hinge_opens_closed_vowels():
    import torch

    from tools.neural.train import TrainConfig, loss_fn, vowel_open_hinge
    from voxface.core.names import ARKIT_52
    from voxface.engine.coarticulation import is_lip_closed

    i = {n: k for k, n in enumerate(ARKIT_52)}
    teacher = torch.zeros(4, 52)
    teacher[0, i["jawOpen"]] = 0.30                      # open by the jaw
    teacher[1, i["jawOpen"]], teacher[1, i["mouthUpperUpLeft"]] = 0.04, 0.20   # by the lips
    teacher[2, i["jawOpen"]], teacher[2, i["mouthClose"]] = 0.10, 0.08         # closed: no push
    teacher[3] = teacher[0]
    assert is_lip_closed(teacher.numpy()).tolist() == [False, False, True, False]
    shut = torch.zeros(4, 52)
    shut[:, i["mouthClose"]] = 0.04                      # the under-reaching model's vowels
    h = vowel_open_hinge(shut, teacher)
    assert h[0].item() == pytest.approx(0.08 + 0.04)     # gap capped at 0.08, mouthClose 0.04
    assert h[1].item() == pytest.approx(0.08 + 0.13)     # gap 0.04 + 0.04; opener capped 0.13
    assert h[2].item() == 0.0
    assert vowel_open_hinge(teacher, teacher).abs().max().item() == 0.0
    over = teacher.clone()
    over[:, i["jawOpen"]] += 0.2                         # past the teacher: no penalty
    assert vowel_open_hinge(over, teacher).abs().max().item() == 0.0

    # Through loss_fn: only frames marked as vowel middles count, and descending the loss
    # opens a model that keeps those frames shut.
    pred = shut.clone()[None].requires_grad_(True)
    y, mask = teacher[None], torch.ones(1, 4)
    closure, vowel = torch.zeros(1, 4), torch.tensor([[1.0, 1.0, 1.0, 0.0]])
    cfg = TrainConfig()
    assert loss_fn(pred, y, mask, closure, cfg, vowel) > loss_fn(pred, y, mask, closure, cfg)
    no_vowels = loss_fn(pred, y, mask, closure, cfg, torch.zeros(1, 4))
    assert no_vowels.item() == pytest.approx(loss_fn(pred, y, mask, closure, cfg).item())
    opt = torch.optim.SGD([pred], lr=0.05)
    for _ in range(60):
        opt.zero_grad()
        (cfg.vowel_hinge_weight * (vowel_open_hinge(pred, y) * vowel).sum()).backward()
        opt.step()
    opened = ~is_lip_closed(pred.detach()[0].numpy())
    assert opened[:2].all() and not opened[3]            # frame 3 was not a vowel middle
    assert pred[0, 0, i["mouthClose"]].item() < 0.04     # the hinge lowers mouthClose too


def test_dataset_targets_follow_the_teacher(tmp_path, monkeypatch):
    pytest.importorskip("voxface.phonemes.espeak")
    from voxface.phonemes import espeak

    if not espeak.available():
        pytest.skip("libespeak-ng not installed")
    monkeypatch.setenv("VOXFACE_NEURAL_CACHE", str(tmp_path))
    logs: list[str] = []
    utts = D.load(["espeak"], espeak_count=3, log=logs.append)
    assert len(utts) == 3 and all(u.targets.shape[1] == 52 for u in utts)
    for u in utts:
        assert u.targets.shape[0] == int(round(u.duration * 60)) + 1
        assert u.phones and u.speaker.startswith("espeak:")
    n_logs = len(logs)
    D.load(["espeak"], espeak_count=3, log=logs.append)       # all from the cache
    assert len(logs) == n_logs
    monkeypatch.setattr(D, "teacher_fingerprint", lambda: "changed-teacher")
    D.load(["espeak"], espeak_count=3, log=logs.append)       # targets rebuilt, sources kept
    assert len(logs) == n_logs + 1 and "teacher curves" in logs[-1]
    # The espeak source's phone times come from phonemes/espeak.py (stops start at their
    # closure, not espeak's burst event): a change there re-synthesizes the source.
    n_logs = len(logs)
    monkeypatch.setattr(D, "espeak_fingerprint", lambda: "changed-synthesizer")
    D.load(["espeak"], espeak_count=3, log=logs.append)
    assert any(m.startswith("espeak: 3 utterances") for m in logs[n_logs:])
    cached, meta = D._load_source(tmp_path / "sources" / "espeak.npz")
    assert meta["config"]["synth"] == "changed-synthesizer" and len(cached) == 3


def test_vtlp_filterbank():
    from voxface.engine.neural.features import (
        FeatureConfig,
        mel_filterbank,
        warped_filterbank,
    )

    cfg = FeatureConfig()
    assert np.array_equal(warped_filterbank(cfg, 1.0), mel_filterbank(cfg))
    f = np.arange(cfg.n_bins) * cfg.sample_rate / cfg.win
    peak = lambda fb: (fb * f).sum(1) / np.maximum(fb.sum(1), 1e-9)   # centre of each filter
    m = 30                                                             # ~1.5 kHz, below the knee
    assert peak(warped_filterbank(cfg, 1.1))[m] == pytest.approx(peak(mel_filterbank(cfg))[m] / 1.1,
                                                                 rel=0.03)
    for alpha in (0.85, 1.15):
        fb = warped_filterbank(cfg, alpha)
        assert fb.shape == (cfg.n_mels, cfg.n_bins) and (fb.max(1) > 0).all()


def test_augmentations_keep_length_and_range():
    from tools.neural import augment as A

    rng = np.random.default_rng(0)
    x = (np.sin(np.arange(16000) / 16000 * 2 * np.pi * 220) * 0.5).astype(np.float32)
    for y in (A.through_rate(x, 8000), A.band_limit(x, rng), A.reverb(x, rng),
              A.noise(x, rng, 10.0), A.codec(x, rng), A.augment(x, rng, babble=x[::-1].copy())):
        assert y.shape == x.shape and y.dtype == np.float32 and np.isfinite(y).all()
    assert A.change_speed(x, 1.1).shape[0] == pytest.approx(16000 / 1.1, abs=2)
    noisy = A.noise(x, rng, 10.0)
    snr = 10 * np.log10(A.speech_power(x) / np.mean((noisy - x) ** 2))
    assert abs(snr - 10.0) < 0.5
