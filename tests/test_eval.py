"""The evaluation harness (tools.evaluate): metrics on known inputs, a tiny run."""

from __future__ import annotations

import numpy as np
import pytest

from tools import evaluate as E


def test_sentence_sets():
    report = E.report_sentences(E.N_FULL)
    assert len(report) == len(set(report)) == E.N_FULL
    assert any("?" in s for s in report) and any(any(c.isdigit() for c in s) for s in report)
    assert not set(E.training_sentences(50)) & set(report)
    cases = E.cases_for(report)
    assert {c.rate_wpm for c in cases} >= {120, 220} and len({c.voice_name for c in cases}) >= 8


def test_pairing_and_summary():
    t = [("AA", 0.0), ("B", 0.1), ("IY", 0.2)]
    h = [("AA", 0.01), ("P", 0.1), ("IY", 0.19)]
    assert E.pair_starts(t, h) == [(0, 0), (2, 2)]
    s = E.summarize([10.0, -20.0, 30.0, 60.0])
    assert s["n"] == 4 and s["mean_ms"] == 30.0 and s["within_20ms"] == 50.0


def test_lead_jitter_flicker_metrics():
    fps = 60.0
    t = np.arange(600) / fps
    env = np.maximum(np.sin(2 * np.pi * 2.0 * t), 0)
    vals = np.zeros((600, 52))
    vals[:, E._J] = np.maximum(np.sin(2 * np.pi * 2.0 * (t + 0.05)), 0)  # 50 ms ahead
    lead, _ = E.visual_lead_ms(vals, env, fps)
    assert abs(lead - 50.0) < 6.0
    assert E.jitter(vals * 0, fps) == 0.0
    noisy = vals + np.random.default_rng(0).normal(0, 0.01, vals.shape)
    assert E.jitter(noisy, fps) > E.jitter(vals, fps)
    vis = np.zeros((6, 15))
    vis[[0, 1, 3, 4, 5], 0] = 1
    vis[2, 1] = 1
    assert E.viseme_flicker(vis) == 1


def test_tiny_run_and_report(tmp_path):
    espeak = pytest.importorskip("voxface.phonemes.espeak")
    if not espeak.available():
        pytest.skip("libespeak-ng not installed")
    pytest.importorskip("matplotlib")
    results = E.run_eval(3)
    assert not results["failures"] and len(results["clips"]) == 3
    h = E.headline(results)
    assert h["closure"][0] == 100.0 and h["contact"][0] == 100.0
    out = E.write_report(results, tmp_path / "r.md", tmp_path / "plots")
    text = out.read_text()
    assert "## Headline" in text and (tmp_path / "plots" / "alignment_cdf.png").is_file()
