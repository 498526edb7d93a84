"""Long-audio alignment on several cores: the phone pass of each window runs in a forked
child (voxface.phonemes.pocketsphinx_align._PhonePasses) while the parent goes on with the
next window. The result must be the very same as the serial one, for any worker count, on
real speech (a minute of CMU ARCTIC from ../shared), and the command must exit cleanly.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from voxface.core.audio import load_audio
from voxface.phonemes import pocketsphinx_align as pa
from voxface.phonemes.text import normalize

BENCH = Path(__file__).resolve().parents[1] / "bench"


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory):
    sys.path.insert(0, str(BENCH))
    from animate_speed import KATHLEEN, build_clip

    if not KATHLEEN.is_dir():
        pytest.skip("shared test data (../shared/assets/speech/kathleen) not found")
    wav, seconds = build_clip(65.0, tmp_path_factory.mktemp("long"))
    assert seconds > pa.SHORT_MAX_S * 2  # windowed: several windows and a final chunk
    return wav, load_audio(wav), normalize(wav.with_suffix(".txt").read_text())


def _align(monkeypatch, audio, words, workers: int):
    monkeypatch.setattr(pa, "ALIGN_WORKERS", workers)
    return pa.align_pocketsphinx_report(audio, words)


def _spy_forks(monkeypatch) -> list[int]:
    """Record the pid of every child the aligner forks."""
    pids: list[int] = []
    fork = os.fork

    def spy():
        pid = fork()
        if pid:
            pids.append(pid)
        return pid

    monkeypatch.setattr(os, "fork", spy)
    return pids


def _all_reaped(pids: list[int]) -> bool:
    for pid in pids:
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            continue  # reaped already, as it should be
        return False
    return True


def _spy_resolve(monkeypatch) -> list[bool]:
    """Record what every `_Placed.resolve` returns (True: the children's phones were used)."""
    calls: list[bool] = []
    resolve = pa._Placed.resolve

    def spy(self, pool):
        calls.append(resolve(self, pool))
        return calls[-1]

    monkeypatch.setattr(pa._Placed, "resolve", spy)
    return calls


def test_parallel_equals_serial(long_clip, monkeypatch):
    _, audio, words = long_clip
    resolved = _spy_resolve(monkeypatch)
    pids = _spy_forks(monkeypatch)
    serial = _align(monkeypatch, audio, words, 1)
    assert resolved == [] and pids == []  # one process: no children
    assert len(serial[1].rungs) >= 4 and serial[1].fallback_fraction == 0.0
    for workers in (2, 3):
        assert _align(monkeypatch, audio, words, workers) == serial
    # Every child's phone pass was used (none fell back to the serial search), and every
    # child was reaped.
    assert resolved == [True, True]
    assert len(pids) >= 2 * 3 and _all_reaped(pids)  # a child per window and run


def test_failed_child_falls_back_to_serial(long_clip, monkeypatch):
    """A phone pass that fails in a child (here: made to) changes what the serial search
    would have done with that window; the parent notices and aligns serially instead."""
    _, audio, words = long_clip
    serial = _align(monkeypatch, audio, words, 1)
    parent = os.getpid()
    real_pass2 = pa._pass2

    def failing_in_child(decoder, pcm, n_words):
        return None if os.getpid() != parent else real_pass2(decoder, pcm, n_words)

    monkeypatch.setattr(pa, "_pass2", failing_in_child)
    resolved = _spy_resolve(monkeypatch)
    pids = _spy_forks(monkeypatch)
    assert _align(monkeypatch, audio, words, 2) == serial
    assert resolved == [False]
    assert pids and _all_reaped(pids)


def test_animate_command_on_long_audio_exits_cleanly(long_clip, tmp_path):
    wav, _, _ = long_clip
    exe = Path(sys.executable).with_name("animate")
    proc = subprocess.run([str(exe), str(wav), "-o", str(tmp_path), "--format", "json"],
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert (tmp_path / "long_speech.json").is_file()


def test_long_audio_transcript_fit(long_clip, monkeypatch):
    """Past 30 s the transcript-fit score covers the words of the first 10 s, decoded again
    in a child beside the last chunk: the same score as decoding them afresh from the final
    alignment's words, and another reading's transcript is still told apart."""
    from voxface.engine.checks import MIN_TRANSCRIPT_FIT, input_warnings
    from voxface.phonemes.align import align

    wav, audio, words = long_clip
    alignment, _ = _align(monkeypatch, audio, words, 2)
    fit = alignment.forced_score
    assert fit is not None and fit.n_words >= pa.FIT_MIN_WORDS
    assert fit.end_s <= pa.FIT_MAX_S + pa.FIT_TAIL_S + 1e-6
    # the words scored are the first ones, and the last of them ends FIT_TAIL_S before end_s
    first = [w for w in alignment.words if w.end <= pa.FIT_MAX_S][:fit.n_words]
    assert len(first) == fit.n_words
    assert abs(first[-1].end + pa.FIT_TAIL_S - fit.end_s) < 0.05
    # Decoding again from the final (refined) word ends: the cut moves by a few ms at most.
    again = pa._fit_forced(audio.samples, [(w.label, w.end) for w in alignment.words])
    assert again is not None and again.n_words == fit.n_words
    assert abs(again.score - fit.score) < 0.5, (again, fit)

    # another reading's transcript, as many words, from prompts not in the clip
    from animate_speed import KATHLEEN

    texts = [ln.split("\t", 1)[1] for ln in (KATHLEEN / "transcripts.tsv").read_text(
        encoding="utf-8").splitlines() if "\t" in ln]
    said = wav.with_suffix(".txt").read_text()
    other: list[str] = []
    for text in reversed(texts):  # build_clip takes the first prompts
        if len(other) >= len(words):
            break
        if text not in said:
            other += normalize(text)
    wrong = align(audio, " ".join(other[:len(words)]))
    assert wrong.forced_score is not None
    score = pa.transcript_fit(audio, wrong)
    assert score is not None and score < MIN_TRANSCRIPT_FIT
    assert any("may not match" in w for w in input_warnings(audio, wrong))


def test_fit_child_reaped_when_the_last_chunk_fails(long_clip, monkeypatch):
    """The transcript-fit child runs beside the last chunk; when that chunk's alignment
    raises (here: made to), the child is killed and reaped and the error reaches the caller."""
    _, audio, words = long_clip
    pids = _spy_forks(monkeypatch)

    def failing(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(pa, "_align_chunk", failing)
    with pytest.raises(KeyboardInterrupt):
        _align(monkeypatch, audio, words, 2)
    assert pids and _all_reaped(pids)
