"""The teacher dataset: speech + the rule engine's curves for it, cached under `.cache/neural/`.

Two stages, so that a change to the teacher (engine/coarticulation.py, poses.py, prosody.py)
costs seconds, not the alignment again:

1. **Sources** (slow, cached once per source in `<cache>/sources/<name>.npz`, keyed by
   `source_config`): 16 kHz int16 audio, and the exact phone timeline of each utterance:
   - `espeak`: sentences synthesized by espeak-ng with its exact phone times, over many
     voices, variants, rates and pitches (`phonemes.espeak.synthesize`; `Synthesis.phones`,
     whose stops and affricates start at their closure, not at espeak's burst event). Texts:
     the CMU ARCTIC prompts (from kathleen/transcripts.tsv), random CMUdict word strings, digit
     strings. Its cache key includes the sha256 of phonemes/espeak.py (`espeak_fingerprint`),
     so a change to how phone times are read from espeak re-synthesizes it.
   - real speech from `../shared/assets/speech`, aligned with its transcript by the project's
     own aligner (PocketSphinx) or, for MFA's test files, MFA's own TextGrid when it has a
     phone tier: `kathleen` (train), `fsdd` (4 speakers train, 2 held out), `ljspeech` and
     `mfa` (held out).
2. **Targets** (fast, `<cache>/targets/<name>.npz`): `curves_from_alignment(alignment, audio)`
   at 60 fps, recomputed whenever the teacher's source files change (their sha256 is the
   cache key) or `rebuild_targets=True`.

Held-out speakers (never trained on): every LJ Speech utterance, FSDD speakers `theo` and
`yweweler`, every MFA test file. The data itself stays in ../shared; the cache is gitignored.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from voxface.core.fileio import atomic_path

FPS = 60.0
SAMPLE_RATE = 16_000
REPO = Path(__file__).resolve().parents[2]

TRAIN_SOURCES = ("espeak", "kathleen", "fsdd_train")
EVAL_SOURCES = ("ljspeech", "fsdd_eval", "mfa")
ALL_SOURCES = TRAIN_SOURCES + EVAL_SOURCES
FSDD_TRAIN_SPEAKERS = ("george", "jackson", "lucas", "nicolas")
FSDD_EVAL_SPEAKERS = ("theo", "yweweler")
SOURCE_VERSION = 1  # bump to invalidate every cached source

# espeak voices whose every mnemonic maps to ARPAbet (tests/test_espeak.py), and variants.
ESPEAK_VOICES = ("en-us", "en-us", "en-us", "en", "en-gb-x-rp", "en-029", "en-us-nyc",
                 "en-gb-scotland")
ESPEAK_VARIANTS = (None, "m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4",
                   "f5", "klatt", "klatt2", "klatt3", "klatt4", "croak", "whisper")

# Files in ../shared/assets/speech/mfa that are not English speech with a transcript.
_MFA_SKIP = ("common_voice_ja", "dummy", "multilingual_ipa", "13697_")

_TEACHER_MODULES = ("voxface.engine.coarticulation", "voxface.engine.poses",
                    "voxface.engine.prosody")
# The espeak source's phone times come from phonemes/espeak.py (its event mapping and the
# stop-closure correction): its sha256 is part of that source's cache key.
_ESPEAK_MODULES = ("voxface.phonemes.espeak",)


def shared_dir() -> Path:
    """../shared next to the checkout (override with VOXFACE_SHARED)."""
    return Path(os.environ.get("VOXFACE_SHARED", REPO.parent / "shared"))


def cache_dir() -> Path:
    """The dataset cache (override with VOXFACE_NEURAL_CACHE); gitignored."""
    return Path(os.environ.get("VOXFACE_NEURAL_CACHE", REPO / ".cache" / "neural"))


def _fingerprint(modules: Iterable[str]) -> str:
    """sha256 (16 hex digits) over the source files of `modules`, in order."""
    import importlib.util

    h = hashlib.sha256()
    for name in modules:
        spec = importlib.util.find_spec(name)
        p = Path(spec.origin) if spec and spec.origin else None
        h.update(p.read_bytes() if p and p.is_file() else b"")
    return h.hexdigest()[:16]


def teacher_fingerprint() -> str:
    """sha256 over the teacher's source files: targets are rebuilt when it changes."""
    return _fingerprint(_TEACHER_MODULES)


def espeak_fingerprint() -> str:
    """sha256 over phonemes/espeak.py: the espeak source is re-synthesized when it changes
    (e.g. stops moved from espeak's burst event to their closure onset)."""
    return _fingerprint(_ESPEAK_MODULES)


# ----------------------------------------------------------------------------------------------
# Utterances


@dataclass
class Utterance:
    """One item: audio with its phone timeline and teacher curves.

    Attributes:
        uid: '<source>/<id>'.
        speaker: speaker label ('espeak:<voice>' for synthetic speech).
        audio: float32 [N] at 16 kHz.
        phones: [(label, start_s, end_s), ...] ARPAbet with stress digits.
        targets: float32 [T, 52] teacher curves at 60 fps (T = round(N/16000*60)+1), or None
            before stage 2.
    """

    uid: str
    speaker: str
    audio: np.ndarray
    phones: list
    targets: np.ndarray | None = None

    @property
    def duration(self) -> float:
        return self.audio.shape[0] / SAMPLE_RATE


def _alignment(phones: list, duration: float):
    from voxface.core.alignment import Alignment, Interval

    return Alignment(words=(), phones=tuple(Interval(p, float(s), float(e)) for p, s, e in phones),
                     duration=duration, source="dataset")


def teacher_curves(audio: np.ndarray, phones: list) -> np.ndarray:
    """The rule engine's curves for one utterance: float32 [T, 52] at 60 fps."""
    from voxface.core.audio import Audio
    from voxface.engine.coarticulation import curves_from_alignment

    duration = audio.shape[0] / SAMPLE_RATE
    a = Audio(samples=audio.astype(np.float32), sample_rate=SAMPLE_RATE, duration=duration)
    return curves_from_alignment(_alignment(phones, duration), a, fps=FPS).values


def closure_frames(phones: list, n_frames: int, labels: Iterable[str] = ("P", "B", "M")
                   ) -> list[tuple[int, int]]:
    """Frame ranges [a, b) (60 fps) of each phone whose label (stress stripped) is in labels;
    a phone shorter than a frame gets the frame nearest its middle."""
    wanted = set(labels)
    out = []
    for label, s, e in phones:
        if label.rstrip("012") not in wanted:
            continue
        a, b = int(np.ceil(s * FPS - 1e-9)), int(np.floor(e * FPS - 1e-9)) + 1
        if b <= a:
            a = int(round((s + e) / 2 * FPS))
            b = a + 1
        a, b = max(0, a), min(n_frames, b)
        if b > a:
            out.append((a, b))
    return out


def vowel_frames(phones: list, n_frames: int, central: float = 0.5) -> list[tuple[int, int]]:
    """Frame ranges [a, b) (60 fps) of the central `central` share of each vowel phone (label
    with a stress digit); at least the frame nearest the vowel's middle (the frame that
    `metrics.vowel_open` checks). The edges are left out: there the lips may still be closing
    from or into a neighbouring /p b m/."""
    out = []
    for label, s, e in phones:
        if label[-1:] not in "012":
            continue
        mid, half = (s + e) / 2, (e - s) * central / 2
        a = int(np.ceil((mid - half) * FPS - 1e-9))
        b = int(np.floor((mid + half) * FPS - 1e-9)) + 1
        m = round(mid * FPS)
        a, b = max(0, min(a, m)), min(n_frames, max(b, m + 1))
        if b > a:
            out.append((a, b))
    return out


# ----------------------------------------------------------------------------------------------
# Stage 1: sources


def _to16k(samples: np.ndarray, rate: int) -> np.ndarray:
    from voxface.core.audio import resample

    return resample(samples.astype(np.float32), rate, SAMPLE_RATE)


def _phones_of(al) -> list:
    return [(p.label, round(float(p.start), 5), round(float(p.end), 5)) for p in al.phones]


def _espeak_texts(n: int, rng: random.Random) -> list[str]:
    prompts = []
    tsv = shared_dir() / "assets/speech/kathleen/transcripts.tsv"
    if tsv.is_file():
        prompts = sorted({line.split("\t", 1)[1].strip()
                          for line in tsv.read_text(encoding="utf-8").splitlines()
                          if "\t" in line})
    from voxface.phonemes.lexicon import default_lexicon

    vocab = sorted(w for w in default_lexicon().entries if w.isalpha() and 2 <= len(w) <= 9)
    digits = "zero one two three four five six seven eight nine oh".split()
    texts = []
    for i in range(n):
        r = rng.random()
        if prompts and r < 0.6:
            texts.append(rng.choice(prompts))
        elif r < 0.9:
            texts.append(" ".join(rng.choice(vocab) for _ in range(rng.randint(3, 10))))
        else:
            texts.append(" ".join(rng.choice(digits) for _ in range(rng.randint(1, 6))))
    return texts


def _source_espeak(n: int, seed: int = 0, log: Callable[[str], None] = print) -> list[Utterance]:
    from voxface.phonemes.espeak import synthesize

    rng = random.Random(seed)
    out: list[Utterance] = []
    for i, text in enumerate(_espeak_texts(n, rng)):
        voice, variant = rng.choice(ESPEAK_VOICES), rng.choice(ESPEAK_VARIANTS)
        rate, pitch = rng.randint(110, 320), rng.randint(15, 85)
        pad = rng.uniform(0.05, 0.5)
        try:
            syn = synthesize(text, voice=voice, variant=variant, rate_wpm=rate, pitch=pitch,
                             pad_s=pad)
        except Exception as exc:  # an odd voice/variant combination: skip it, say so
            log(f"espeak: skipped {voice}+{variant}: {exc}")
            continue
        if syn.unknown or not syn.phones:
            continue
        audio = _to16k(syn.samples, syn.sample_rate)
        out.append(Utterance(f"espeak/{i:05d}", f"espeak:{voice}+{variant}", audio,
                             _phones_of(syn.alignment())))
        if (i + 1) % 200 == 0:
            log(f"espeak: {i + 1}/{n}")
    return out


def _align_file(args: tuple) -> tuple | None:
    """(uid, speaker, path, transcript, textgrid) -> (uid, speaker, int16 audio, phones)."""
    uid, speaker, path, transcript, textgrid = args
    from voxface.core.audio import load_audio

    try:
        audio = load_audio(path)
        al = None
        if textgrid is not None:
            from voxface.phonemes.textgrid import read_textgrid

            al = read_textgrid(textgrid, duration=audio.duration)
            if not al.phones:
                al = None
        if al is None:
            from voxface.phonemes.align import align

            al = align(audio, transcript)
        if not al.phones:
            return None
    except Exception as exc:  # one bad file must not stop the build
        print(f"dataset: skipped {uid}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return None
    pcm = np.clip(np.round(audio.samples * 32767), -32768, 32767).astype(np.int16)
    return uid, speaker, pcm, _phones_of(al)


def _real_jobs(name: str, limit: int | None) -> list[tuple]:
    speech = shared_dir() / "assets/speech"
    jobs = []
    if name == "kathleen":
        for line in (speech / "kathleen/transcripts.tsv").read_text(encoding="utf-8").splitlines():
            uid, _, text = line.partition("\t")
            jobs.append((f"kathleen/{uid}", "kathleen", speech / f"kathleen/flac/{uid}.flac",
                         text.strip(), None))
    elif name == "ljspeech":
        for line in (speech / "ljspeech/transcripts.tsv").read_text(encoding="utf-8").splitlines():
            uid, _, text = line.partition("\t")
            jobs.append((f"ljspeech/{uid}", "ljspeech", speech / f"ljspeech/flac/{uid}.flac",
                         text.strip(), None))
    elif name in ("fsdd_train", "fsdd_eval"):
        speakers = FSDD_TRAIN_SPEAKERS if name == "fsdd_train" else FSDD_EVAL_SPEAKERS
        words = "zero one two three four five six seven eight nine".split()
        per = limit or 50
        for spk in speakers:
            for idx in range(per // 10 + (1 if per % 10 else 0)):
                for d in range(10):
                    p = speech / f"fsdd/flac/{d}_{spk}_{idx}.flac"
                    if p.is_file():
                        jobs.append((f"fsdd/{p.stem}", f"fsdd:{spk}", p, words[d], None))
        return jobs
    elif name == "mfa":
        for p in sorted((speech / "mfa/wav").iterdir()):
            if any(p.name.startswith(s) for s in _MFA_SKIP):
                continue
            lab = speech / "mfa/lab" / f"{p.stem}.lab"
            tg = speech / "mfa/textgrid" / f"{p.stem}.TextGrid"
            if not lab.is_file() and not tg.is_file():
                continue
            text = lab.read_text(encoding="utf-8", errors="replace") if lab.is_file() else None
            jobs.append((f"mfa/{p.stem}", f"mfa:{p.stem}", p, text, tg if tg.is_file() else None))
    else:
        raise ValueError(f"unknown source {name!r}; available: {', '.join(ALL_SOURCES)}")
    return jobs[:limit] if limit else jobs


def _source_real(name: str, limit: int | None, workers: int,
                 log: Callable[[str], None]) -> list[Utterance]:
    jobs = _real_jobs(name, limit)
    results = []
    if workers > 1:
        import multiprocessing as mp

        with mp.get_context("spawn").Pool(workers) as pool:
            for k, r in enumerate(pool.imap(_align_file, jobs, chunksize=4)):
                results.append(r)
                if (k + 1) % 100 == 0:
                    log(f"{name}: aligned {k + 1}/{len(jobs)}")
    else:
        for k, job in enumerate(jobs):
            results.append(_align_file(job))
            if (k + 1) % 100 == 0:
                log(f"{name}: aligned {k + 1}/{len(jobs)}")
    return [Utterance(uid, spk, pcm.astype(np.float32) / 32767.0, phones)
            for r in results if r is not None for uid, spk, pcm, phones in [r]]


def _save_source(path: Path, utts: list[Utterance], meta: dict) -> None:
    pcm = [np.clip(np.round(u.audio * 32767), -32768, 32767).astype(np.int16) for u in utts]
    offsets = np.cumsum([0] + [len(x) for x in pcm]).astype(np.int64)
    info = {"meta": meta, "items": [{"uid": u.uid, "speaker": u.speaker, "phones": u.phones}
                                    for u in utts]}
    path.parent.mkdir(parents=True, exist_ok=True)
    # A file object, so np.savez does not append .npz to the temporary's name.
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, pcm=np.concatenate(pcm) if pcm else np.zeros(0, np.int16), offsets=offsets,
                 info=np.frombuffer(json.dumps(info).encode("utf-8"), dtype=np.uint8))


def _load_source(path: Path) -> tuple[list[Utterance], dict]:
    with np.load(path) as z:
        pcm, offsets = z["pcm"], z["offsets"]
        info = json.loads(z["info"].tobytes().decode("utf-8"))
    utts = [Utterance(it["uid"], it["speaker"],
                      pcm[offsets[k]:offsets[k + 1]].astype(np.float32) / 32767.0,
                      [tuple(p) for p in it["phones"]])
            for k, it in enumerate(info["items"])]
    return utts, info["meta"]


def source_config(name: str, *, espeak_count: int, fsdd_per_speaker: int,
                  limit: int | None) -> dict:
    cfg = {"name": name, "version": SOURCE_VERSION}
    if name == "espeak":
        cfg["count"] = espeak_count
        cfg["synth"] = espeak_fingerprint()
    elif name.startswith("fsdd"):
        cfg["per_speaker"] = fsdd_per_speaker
    if limit and name != "espeak":
        cfg["limit"] = limit
    return cfg


def build_source(name: str, *, espeak_count: int = 1500, fsdd_per_speaker: int = 100,
                 limit: int | None = None, workers: int = 1, rebuild: bool = False,
                 log: Callable[[str], None] = print) -> list[Utterance]:
    """Stage 1 for one source: cached audio + phones (see module docstring)."""
    cfg = source_config(name, espeak_count=espeak_count, fsdd_per_speaker=fsdd_per_speaker,
                        limit=limit)
    path = cache_dir() / "sources" / f"{name}.npz"
    if path.is_file() and not rebuild:
        utts, meta = _load_source(path)
        if meta.get("config") == cfg:
            return utts
    t0 = time.perf_counter()
    if name == "espeak":
        utts = _source_espeak(espeak_count, log=log)
    elif name.startswith("fsdd"):
        utts = _source_real(name, fsdd_per_speaker, workers, log)
    else:
        utts = _source_real(name, limit, workers, log)
    _save_source(path, utts, {"config": cfg, "seconds": time.perf_counter() - t0})
    log(f"{name}: {len(utts)} utterances, {sum(u.duration for u in utts) / 60:.1f} min "
        f"({time.perf_counter() - t0:.0f} s)")
    return utts


# ----------------------------------------------------------------------------------------------
# Stage 2: targets


def attach_targets(name: str, utts: list[Utterance], *, rebuild: bool = False,
                   log: Callable[[str], None] = print) -> list[Utterance]:
    """Fill `targets` from the cache, or recompute them with the current teacher."""
    fp = teacher_fingerprint()
    path = cache_dir() / "targets" / f"{name}.npz"
    uids = [u.uid for u in utts]
    if path.is_file() and not rebuild:
        with np.load(path) as z:
            ok = (str(z["fingerprint"]) == fp
                  and json.loads(z["uids"].tobytes().decode()) == uids)
            if ok:
                values, offsets = z["values"], z["offsets"]
                for k, u in enumerate(utts):
                    u.targets = values[offsets[k]:offsets[k + 1]].astype(np.float32)
                return utts
    t0 = time.perf_counter()
    for u in utts:
        u.targets = teacher_curves(u.audio, u.phones)
    values = [u.targets.astype(np.float16) for u in utts]
    offsets = np.cumsum([0] + [len(v) for v in values]).astype(np.int64)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, values=np.concatenate(values) if values else np.zeros((0, 52), np.float16),
                 offsets=offsets, fingerprint=np.array(fp),
                 uids=np.frombuffer(json.dumps(uids).encode(), dtype=np.uint8))
    # Half-precision storage: round the targets the same way for this run as for the next.
    for u, v in zip(utts, values):
        u.targets = v.astype(np.float32)
    log(f"{name}: teacher curves for {len(utts)} utterances ({time.perf_counter() - t0:.1f} s, "
        f"teacher {fp})")
    return utts


def load(names: Iterable[str], *, espeak_count: int = 1500, fsdd_per_speaker: int = 100,
         limit: int | None = None, workers: int = 1, rebuild_sources: bool = False,
         rebuild_targets: bool = False, log: Callable[[str], None] = print
         ) -> list[Utterance]:
    """Stage 1 + 2 for several sources; returns every utterance with its targets."""
    out: list[Utterance] = []
    for name in names:
        utts = build_source(name, espeak_count=espeak_count, fsdd_per_speaker=fsdd_per_speaker,
                            limit=limit, workers=workers, rebuild=rebuild_sources, log=log)
        out += attach_targets(name, utts, rebuild=rebuild_targets, log=log)
    return out


def main(argv: list[str] | None = None) -> int:
    """python -m tools.neural.dataset [SOURCE ...] [--workers N]: build the cache."""
    import argparse

    p = argparse.ArgumentParser(prog="python -m tools.neural.dataset")
    p.add_argument("sources", nargs="*", default=list(ALL_SOURCES))
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--espeak-count", type=int, default=1500)
    p.add_argument("--fsdd-per-speaker", type=int, default=100)
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--rebuild", action="store_true")
    a = p.parse_args(argv)
    load(a.sources, espeak_count=a.espeak_count, fsdd_per_speaker=a.fsdd_per_speaker,
         limit=a.limit, workers=a.workers, rebuild_sources=a.rebuild,
         log=lambda m: print(f"dataset: {m}", file=sys.stderr, flush=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
