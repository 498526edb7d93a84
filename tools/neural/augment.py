"""Waveform augmentations for training (numpy/scipy, 16 kHz float32 in and out).

Each training crop gets a random chain: speed change (applied to audio and targets by the
caller, `speed_factor`), resampling through 8..48 kHz, band-limiting, reverberation, additive
noise at 0..30 dB SNR (white, pink, brown, babble), gain, codec-like artefacts (mu-law / low-bit
quantisation, spectral holes as left by low-bitrate perceptual codecs, clipping).
The targets stay those of the clean speech: the curves should not change with the channel.
"""

from __future__ import annotations

import numpy as np

SR = 16_000
RESAMPLE_RATES = (8000, 11025, 12000, 22050, 24000, 32000, 44100, 48000)


def _resample(x: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    import soxr

    return soxr.resample(x.astype(np.float32), rate_in, rate_out, quality="MQ").astype(np.float32)


def speed_factor(rng: np.random.Generator, p: float = 0.5) -> float:
    """1.0, or a factor in 0.9..1.1 (with probability p)."""
    return float(rng.uniform(0.9, 1.1)) if rng.random() < p else 1.0


def change_speed(x: np.ndarray, factor: float) -> np.ndarray:
    """Play `factor` times faster (pitch moves too, as in Kaldi's speed perturbation)."""
    if factor == 1.0:
        return x
    return _resample(x, int(round(SR * factor)), SR)


def through_rate(x: np.ndarray, rate: int) -> np.ndarray:
    """Down/up-sample through `rate` and back to 16 kHz, same length."""
    y = _resample(_resample(x, SR, rate), rate, SR)
    return _fit(y, x.shape[0])


def _fit(y: np.ndarray, n: int) -> np.ndarray:
    if y.shape[0] >= n:
        return y[:n]
    return np.concatenate([y, np.zeros(n - y.shape[0], np.float32)])


def band_limit(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    from scipy.signal import butter, sosfilt

    lo = rng.choice([0.0, 80.0, 200.0, 300.0])
    hi = rng.choice([2800.0, 3400.0, 4000.0, 5500.0, 7000.0])
    sos = (butter(4, [lo, hi], btype="band", fs=SR, output="sos") if lo > 0
           else butter(4, hi, btype="low", fs=SR, output="sos"))
    return sosfilt(sos, x).astype(np.float32)


def reverb(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Convolve with a synthetic room response: direct path + exponentially decaying noise."""
    from scipy.signal import fftconvolve

    rt60 = rng.uniform(0.15, 0.9)
    n = int(SR * min(rt60, 0.6))
    t = np.arange(n) / SR
    tail = rng.standard_normal(n) * np.exp(-6.9 * t / rt60)
    tail[: int(SR * rng.uniform(0.002, 0.015))] = 0.0      # first reflections arrive later
    rir = tail * rng.uniform(0.1, 0.6) / max(np.sqrt(np.sum(tail ** 2)), 1e-9)
    rir[0] = 1.0
    return fftconvolve(x, rir)[: x.shape[0]].astype(np.float32)


def noise(x: np.ndarray, rng: np.random.Generator, snr_db: float,
          babble: np.ndarray | None = None) -> np.ndarray:
    """Add noise at `snr_db` relative to the crop's speech power (RMS over voiced samples)."""
    n = x.shape[0]
    kind = rng.choice(["white", "pink", "brown", "babble"] if babble is not None
                      else ["white", "pink", "brown"])
    if kind == "babble":
        nz = _fit(babble, n).astype(np.float64)
    else:
        spec = np.fft.rfft(rng.standard_normal(n))
        f = np.maximum(np.fft.rfftfreq(n, 1 / SR), 20.0)
        spec *= {"white": 1.0, "pink": f ** -0.5, "brown": f ** -1.0}[kind]
        nz = np.fft.irfft(spec, n)
    p_sig = speech_power(x)
    p_noise = float(np.mean(nz ** 2)) + 1e-12
    return (x + nz * np.sqrt(p_sig / p_noise / 10 ** (snr_db / 10))).astype(np.float32)


def speech_power(x: np.ndarray) -> float:
    """Mean power of the louder half of 20 ms blocks (so pauses do not lower it)."""
    m = x.shape[0] // 320
    if m == 0:
        return float(np.mean(x ** 2)) + 1e-12
    blocks = np.mean(x[: m * 320].reshape(m, 320) ** 2, axis=1)
    return float(np.mean(np.sort(blocks)[m // 2:])) + 1e-12


def codec(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    kind = rng.choice(["mulaw", "bits", "holes"])
    if kind == "mulaw":  # G.711-like 8-bit mu-law
        mu = 255.0
        y = np.sign(x) * np.log1p(mu * np.minimum(np.abs(x), 1.0)) / np.log1p(mu)
        y = np.round(y * 127) / 127
        return (np.sign(y) * np.expm1(np.abs(y) * np.log1p(mu)) / mu).astype(np.float32)
    if kind == "bits":
        q = 2.0 ** -rng.integers(6, 10)
        return (np.round(x / q) * q).astype(np.float32)
    # spectral holes: zero STFT bins below a per-frame threshold (low-bitrate codec look)
    from scipy.signal import istft, stft

    _, _, z = stft(x, fs=SR, nperseg=512, noverlap=384)
    mag = np.abs(z)
    thr = np.quantile(mag, rng.uniform(0.5, 0.85), axis=0, keepdims=True)
    z[mag < thr] = 0
    z[int(z.shape[0] * rng.uniform(0.45, 0.9)):] = 0
    _, y = istft(z, fs=SR, nperseg=512, noverlap=384)
    return _fit(y.astype(np.float32), x.shape[0])


def augment(x: np.ndarray, rng: np.random.Generator, babble: np.ndarray | None = None,
            p_clean: float = 0.15) -> np.ndarray:
    """A random chain of the augmentations above (clean with probability p_clean)."""
    if rng.random() < p_clean:
        return (x * 10 ** (rng.uniform(-12, 6) / 20)).astype(np.float32)
    y = x
    if rng.random() < 0.35:
        y = through_rate(y, int(rng.choice(RESAMPLE_RATES)))
    if rng.random() < 0.2:
        y = band_limit(y, rng)
    if rng.random() < 0.3:
        y = reverb(y, rng)
    if rng.random() < 0.6:
        y = noise(y, rng, float(rng.uniform(0, 30)), babble)
    if rng.random() < 0.2:
        y = codec(y, rng)
    peak = float(np.max(np.abs(y))) + 1e-9
    gain_db = rng.uniform(-30, 6)
    y = y * (10 ** (gain_db / 20) * min(1.0, 0.95 / peak) if rng.random() < 0.9
             else 1.5 / peak)                      # sometimes clip hard
    return np.clip(y, -1.0, 1.0).astype(np.float32)
