"""Where do the two alignment references disagree, and what would fitting one of them cost?

The eval harness scores phone starts against two references: exact espeak-ng phone times
(synthetic speech; stops at their closure onset, voxface.phonemes.espeak) and the Montreal
Forced Aligner's TextGrids of real speech (../shared/assets/speech/mfa). This bench prints,
per phone transition (previous phone's class -> this phone's class, keyed on the aligner's own
output so it could be applied at run time):

* the aligner's signed start error against espeak and against MFA (median, ms; + = late),
* where espeak's event lies relative to the acoustic landmark nearest it (the frame of largest
  log-mel spectral change within 50 ms; - = the change comes before espeak's event),

and then measures the "learned boundary corrector" the issue suggests in its simplest form:
per-transition offsets fitted (median signed error, >= 20 examples) on espeak renderings of
CMU ARCTIC prompts (`training_sentences`, never the report sentences), applied to the report
set AND to the MFA set.

    python bench/boundary_conventions.py [-n 200] [--train 200]

Takes ~2 minutes on 2 cores (alignment of 2 x 200 clips + the MFA files).
"""

from __future__ import annotations

import sys as _sys
from pathlib import Path as _Path

# tools/ (the evaluation harness, training) runs from the checkout, not the installed package.
_sys.path.insert(0, str(_Path(__file__).resolve().parents[1]))

import argparse
from collections import defaultdict

import numpy as np

from tools import evaluate as E
from voxface.core.alignment import Interval

SETTLE_MIN = 20  # examples a transition needs in the training set to get an offset


def _cls(label: str) -> str:
    return E.phone_class_of(E._base(label))


def transition_errors(truth, hyp) -> list[tuple[tuple[str, str], float]]:
    """((prev class, class), signed ms) per label-matched phone; prev class from the hypothesis
    ('pause' when the hypothesis has a gap before the phone)."""
    t = [(E._base(p.label), p.start) for p in truth]
    h = [(E._base(p.label), p.start) for p in hyp]
    out = []
    for i, j in E.pair_starts(t, h):
        contiguous = j > 0 and abs(hyp[j - 1].end - hyp[j].start) < 1e-6
        prev = _cls(hyp[j - 1].label) if contiguous else "pause"
        out.append(((prev, _cls(hyp[j].label)), 1000.0 * (h[j][1] - t[i][1])))
    return out


def apply_offsets(phones, offsets: dict) -> list[Interval]:
    """Shift each phone start by -offset(transition) ms (neighbours' ends follow; no phone
    shorter than 15 ms)."""
    ph = list(phones)
    starts = [p.start for p in ph]
    for j in range(1, len(ph)):
        contiguous = abs(ph[j - 1].end - ph[j].start) < 1e-6
        key = (_cls(ph[j - 1].label) if contiguous else "pause", _cls(ph[j].label))
        s = ph[j].start - offsets.get(key, 0.0) / 1000.0
        lo = starts[j - 1] + 0.015
        hi = ph[j].end - 0.015
        starts[j] = min(max(s, lo), hi) if hi > lo else ph[j].start
    ends = [starts[j + 1] if j + 1 < len(ph) and abs(ph[j].end - ph[j + 1].start) < 1e-6
            else ph[j].end for j in range(len(ph))]
    return [Interval(p.label, s, e) for p, s, e in zip(ph, starts, ends)]


def _log_mel_change(audio, hop_s=0.0025, win_s=0.020, bands=30, half=4):
    """Spectral change per 2.5 ms frame: RMS difference (dB) of 30 log-mel bands 10 ms apart."""
    x = np.asarray(audio.samples, np.float32)
    sr = audio.sample_rate
    hop, win, nfft = int(hop_s * sr), int(win_s * sr), 512
    n = (len(x) - win) // hop + 1
    frames = np.lib.stride_tricks.sliding_window_view(x, win)[::hop][:n] * np.hanning(win)
    power = np.abs(np.fft.rfft(frames, nfft, axis=1)) ** 2
    f = np.fft.rfftfreq(nfft, 1 / sr)
    mel = np.linspace(2595 * np.log10(1 + 100 / 700), 2595 * np.log10(1 + 6000 / 700), bands + 2)
    hz = 700 * (10 ** (mel / 2595) - 1)
    fb = np.array([np.clip(np.minimum((f - hz[b]) / (hz[b + 1] - hz[b]),
                                      (hz[b + 2] - f) / (hz[b + 2] - hz[b + 1])), 0, None)
                   for b in range(bands)])
    lm = 10 * np.log10(power @ fb.T + 1e-8)
    change = np.zeros(n)
    change[half:n - half] = np.sqrt(np.mean((lm[2 * half:] - lm[:-2 * half]) ** 2, axis=1))
    return change, 0.5 * win / sr, hop_s


def landmark_offsets(syn) -> list[tuple[tuple[str, str], float]]:
    """((prev class, class), ms from espeak's boundary to the largest spectral change within
    50 ms, staying inside both phones)."""
    change, t0, hop = _log_mel_change(syn.audio)
    out = []
    ph = syn.phones
    for i in range(1, len(ph)):
        if abs(ph[i - 1].end - ph[i].start) > 1e-6:
            continue
        a = max(ph[i].start - 0.05, ph[i - 1].start + 0.01)
        b = min(ph[i].start + 0.05, ph[i].end - 0.01)
        fa, fb = int(np.ceil((a - t0) / hop)), int(np.floor((b - t0) / hop))
        if fb <= fa:
            continue
        f = fa + int(np.argmax(change[fa:fb + 1]))
        out.append(((_cls(ph[i - 1].label), _cls(ph[i].label)),
                    1000.0 * (t0 + f * hop - ph[i].start)))
    return out


def _synth_and_align(texts, offset):
    from voxface.phonemes.espeak import synthesize
    from voxface.phonemes.pocketsphinx_align import align_pocketsphinx
    from voxface.phonemes.refine import refine_alignment
    from voxface.phonemes.text import normalize

    out = []
    for case in E.cases_for(texts, offset=offset):
        syn = synthesize(case.text, voice=case.voice, variant=case.variant,
                         rate_wpm=case.rate_wpm, pitch=case.pitch, pad_s=E.PAD_S)
        hyp = refine_alignment(syn.audio, align_pocketsphinx(syn.audio, normalize(case.text)))
        out.append((syn, hyp))
    return out


def _mfa_pairs():
    from voxface.core.audio import load_audio
    from voxface.phonemes.pocketsphinx_align import align_pocketsphinx
    from voxface.phonemes.refine import refine_alignment
    from voxface.phonemes.text import normalize
    from voxface.phonemes.textgrid import read_textgrid

    out = []
    for tg in sorted((E.MFA_DIR / "textgrid").glob("*.TextGrid")):
        wavs = sorted((E.MFA_DIR / "wav").glob(tg.stem + ".*"))
        try:
            ref = read_textgrid(tg)
        except Exception:
            continue
        if not wavs or not ref.phones:
            continue
        lab = E.MFA_DIR / "lab" / (tg.stem + ".lab")
        text = (lab.read_text(encoding="utf-8") if lab.is_file()
                else " ".join(w.label for w in ref.words))
        audio = load_audio(wavs[0])
        out.append((ref.phones, refine_alignment(audio, align_pocketsphinx(audio, normalize(text)))))
    return out


def _line(name: str, errors) -> str:
    s = E.summarize(errors)
    return (f"| {name} | {s['mean_ms']:.1f} | {s['median_ms']:.1f} | {s['signed_mean_ms']:+.1f} "
            f"| {s['within_20ms']:.0f} % |")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", type=int, default=E.N_FULL, help="report sentences (default 200)")
    ap.add_argument("--train", type=int, default=200, help="ARCTIC tuning sentences")
    args = ap.parse_args(argv)

    train = _synth_and_align(E.training_sentences(args.train), offset=7)
    report = _synth_and_align(E.report_sentences(args.n), offset=0)
    mfa = _mfa_pairs()

    fit: dict = defaultdict(list)
    for syn, hyp in train:
        for key, e in transition_errors(syn.phones, hyp.phones):
            fit[key].append(e)
    offsets = {k: float(np.median(v)) for k, v in fit.items() if len(v) >= SETTLE_MIN}

    per_espeak: dict = defaultdict(list)
    per_mfa: dict = defaultdict(list)
    per_mark: dict = defaultdict(list)
    for syn, hyp in report:
        for key, e in transition_errors(syn.phones, hyp.phones):
            per_espeak[key].append(e)
        for key, e in landmark_offsets(syn):
            per_mark[key].append(e)
    for ref, hyp in mfa:
        for key, e in transition_errors(ref, hyp.phones):
            per_mfa[key].append(e)

    print(f"## Per transition ({len(report)} report clips, {len(mfa)} MFA files)\n")
    print("| transition | n espeak | vs espeak (median ms) | n MFA | vs MFA (median ms) "
          "| espeak event to spectral landmark (median ms) | fitted offset |")
    print("|---|---|---|---|---|---|---|")
    for key in sorted(per_espeak, key=lambda k: -len(per_espeak[k]))[:16]:
        m = per_mfa.get(key, [])
        mark = per_mark.get(key, [])
        print(f"| {key[0]} → {key[1]} | {len(per_espeak[key])} | "
              f"{np.median(per_espeak[key]):+.1f} | {len(m)} | "
              f"{np.median(m) if m else float('nan'):+.1f} | "
              f"{np.median(mark) if mark else float('nan'):+.1f} | "
              f"{offsets.get(key, 0.0):+.1f} |")

    print("\n## Fitting espeak's conventions (offsets from the ARCTIC renderings)\n")
    print("| set | mean ms | median ms | signed ms | within 20 ms |")
    print("|---|---|---|---|---|")
    for name, corr in (("as shipped", {}), ("with fitted offsets", offsets)):
        es = [e for syn, hyp in report
              for _, e in E.boundary_errors(syn.phones, apply_offsets(hyp.phones, corr))]
        ms = [e for ref, hyp in mfa
              for _, e in E.boundary_errors(ref, apply_offsets(hyp.phones, corr))]
        print(_line(f"espeak report set, {name}", es))
        print(_line(f"MFA real speech, {name}", ms))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
