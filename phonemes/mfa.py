"""Montreal Forced Aligner as an external aligner: Audio + words -> Alignment.

MFA installs only through conda (its Kaldi libraries are not on PyPI), so it is an optional
tool found on PATH, never imported. We hand it a one-file corpus and read back its TextGrid.
The acoustic model and dictionary default to MFA's ARPAbet English models so its phones come
out as ARPAbet with stress digits; override them with VOXFACE_MFA_ACOUSTIC and
VOXFACE_MFA_DICTIONARY (an IPA model's phones are mapped by `read_textgrid`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from voxface.core.alignment import Alignment
from voxface.core.audio import Audio, resample
from voxface.core.errors import AlignmentError, InputError, MissingDependencyError
from voxface.phonemes.textgrid import read_textgrid

MFA_RATE = 16_000  # Hz; MFA's models are trained on 16 kHz audio
DEFAULT_MODEL = "english_us_arpa"
MISSING_MESSAGE = (
    "mfa not found on PATH; install Montreal Forced Aligner with conda: "
    "conda install -c conda-forge montreal-forced-aligner, then mfa model download acoustic "
    "english_us_arpa and dictionary english_us_arpa")
TIMEOUT_S = 900  # MFA's first run on a fresh install compiles and caches for minutes


def mfa_executable() -> str:
    """Full path of `mfa` on PATH; raises MissingDependencyError when absent."""
    found = shutil.which("mfa")
    if found is None:
        raise MissingDependencyError(MISSING_MESSAGE)
    return found


def align_mfa(audio: Audio, words: list[str]) -> Alignment:
    """Align `words` (the transcript, in order) to `audio` with MFA's `mfa align`.

    Args:
        audio: mono speech (any rate; written as 16 kHz 16-bit WAV for MFA).
        words: transcript words, e.g. ['maybe', 'we', 'could'].

    Returns:
        Alignment with source 'mfa', duration = audio.duration, phones as MFA wrote them
        (ARPAbet with stress digits for the default models).

    Raises:
        MissingDependencyError: `mfa` is not on PATH.
        InputError: empty transcript or audio.
        AlignmentError: MFA failed or wrote no TextGrid (e.g. models not downloaded, or it
            could not align this audio); the message carries MFA's last output line.
    """
    exe = mfa_executable()
    text = " ".join(w.strip() for w in words if w and w.strip())
    if not text:
        raise InputError("mfa: the transcript is empty")
    if audio.samples.size == 0:
        raise InputError("mfa: the audio holds no samples")
    import soundfile as sf

    acoustic = os.environ.get("VOXFACE_MFA_ACOUSTIC", DEFAULT_MODEL)
    dictionary = os.environ.get("VOXFACE_MFA_DICTIONARY", DEFAULT_MODEL)
    with tempfile.TemporaryDirectory(prefix="voxface-mfa-") as tmp:
        corpus, out = Path(tmp, "corpus"), Path(tmp, "out")
        corpus.mkdir()
        samples = resample(audio.samples, audio.sample_rate, MFA_RATE)
        sf.write(str(corpus / "utt.wav"), samples, MFA_RATE, subtype="PCM_16")
        (corpus / "utt.lab").write_text(text + "\n", encoding="utf-8")
        # MFA keeps its cache and config under MFA_ROOT_DIR (default ~/Documents/MFA); leave
        # it where the user's downloaded models are.
        cmd = [exe, "align", str(corpus), dictionary, acoustic, str(out), "--clean",
               "--single_speaker"]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT_S,
                                  check=False)
        except subprocess.TimeoutExpired:
            raise AlignmentError(f"mfa align did not finish in {TIMEOUT_S} s") from None
        grids = sorted(out.rglob("*.TextGrid")) if out.exists() else []
        if proc.returncode != 0 or not grids:
            lines = (proc.stderr or proc.stdout or "").strip().splitlines()
            last = lines[-1].strip() if lines else f"exit code {proc.returncode}"
            raise AlignmentError(f"mfa align failed ({last}); are the models downloaded? "
                                 f"mfa model download acoustic {acoustic}; "
                                 f"mfa model download dictionary {dictionary}")
        alignment = read_textgrid(grids[0], duration=audio.duration)
    return Alignment(words=alignment.words, phones=alignment.phones,
                     duration=alignment.duration, source="mfa", warnings=alignment.warnings)
