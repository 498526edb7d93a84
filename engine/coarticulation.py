"""Phone timeline -> ARKit-52 curves by Cohen-Massaro dominance blending, with hard lip constraints.

Pipeline (vectorised over frames, in blocks of frames so that time and memory are linear in
the length of the audio: a frame only ever looks at the segments within HORIZON_S of it):
1. Segments: the alignment's phones plus silence in every gap; diphthongs split into an onset
   and an offset target (poses.DIPHTHONG_GLIDES); unstressed vowels scaled toward rest.
2. Blend: for every shape group g and frame t, the value is the dominance-weighted average of
   the targets of all segments within HORIZON_S of t:
       D_ig(t) = alpha_ig * exp(-theta_i * tau^c),  tau = time outside segment i's core,
   with theta = theta_ant before the segment (anticipation) and theta_car after it (carry-over).
   Weak-lip phones (T, S, N, K) let a strong neighbour's rounding show through them, so a UW
   rounds the 'st' of 'stoop' well before its own interval.
3. Jaw opening scaled by the audio's loudness (prosody.intensity_envelope); other shapes keep
   the vowel's identity.
4. Hard constraints: every P/B/M closes the lips and every F/V tucks the lower lip, on whole
   frames, blended in and out with smoothstep ramps. `is_lip_closed` / `is_fv_contact` are
   the checks.
5. Mild Gaussian smoothing (the style's smooth_s, SMOOTH_S for neutral), which rounds off the
   constraint ramps like any other movement.
6. The constraints once more, exactly and on the hold frames only, so the smoothing cannot
   undo them (it loosens a hold's edge frames by a little; the correction is small).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from voxface.core.alignment import Alignment
from voxface.core.audio import Audio
from voxface.core.curves import Curves
from voxface.core.names import ARKIT_52, ARKIT_INDEX, OCULUS_15
from voxface.engine import poses as P
from voxface.engine.prosody import effort_envelope, intensity_envelope
from voxface.engine.styles import STYLES

# ---- constraint definitions (shared by the enforcement below, tests and the eval harness) ----
# Lip closure (P, B, M): lips sealed relative to the jaw, nothing pulling the lips apart.
CLOSED_JAW_MINUS_CLOSE = 0.05
CLOSED_MAX_OPENERS = 0.10  # mouthUpperUp*, mouthLowerDown*, mouthFunnel
# Labiodental contact (F, V): lower lip rolled in/up against the upper teeth, jaw nearly shut,
# lower lip not pulled down, upper lip at most slightly raised (showing the teeth a little).
FV_MIN_ROLL_LOWER = 0.30
FV_MAX_LOWER_DOWN = 0.10
FV_MAX_JAW = 0.15
FV_MAX_UPPER_UP = 0.20

# ---- timing ----
HORIZON_S = 0.5            # segments further than this from a frame have no influence ...
TAPER_S = 0.25             # ... fading out smoothly over the last TAPER_S of the horizon
SMOOTH_S = 0.012           # Gaussian sigma of the final smoothing, seconds
BILABIAL_MIN_HOLD_S = 0.05  # lips shut at least this long before a P/B/M release
FV_MIN_HOLD_S = 0.04       # labiodental contact held at least this long
RAMP_IN_S = 0.06           # constraint blend-in before the hold
RAMP_OUT_S = 0.05          # constraint blend-out after the hold (the release)

# ---- visual lead: the face moves before the sound. Articulation is evaluated LEAD_S ahead
# of the acoustic timeline (measured: mouth aperture then leads the amplitude envelope by
# ~10-60 ms, as in real talkers; ITU-R BT.1359 tolerates 45 ms of video lead). The hard
# lip constraints stay on the acoustic intervals.
LEAD_S = 0.04

# ---- blocks: frames are processed BLOCK_FRAMES at a time (fewer where segments are dense),
# so the [frames x neighbours x groups] dominance arrays stay small for any length of audio.
BLOCK_FRAMES = 512         # (measured: 256-1024 run fastest, the arrays stay in cache)
_BLOCK_CELLS = 1 << 15     # at most this many (frame, neighbour) pairs per block

# ---- jaw vs loudness: gain on (jawOpen - rest) from quiet (env 0) to loud (env 1) ----
JAW_GAIN_QUIET = 0.7
JAW_GAIN_LOUD = 1.25
# ---- lips vs vocal effort (spectral tilt, prosody.effort_envelope): gain on lip shapes
LIP_GAIN_RANGE = 0.15      # lips move 1 +- this much with effort -1..1
GAIN_SMOOTH_S = 0.025      # Gaussian sigma of the loudness / effort gains

# Values the projections aim for inside a hold (a margin inside the predicate thresholds).
_CLOSE_JAW_MAX = 0.20     # a sealed mouth with the jaw dropped far looks wrong; cap it
_CLOSE_OPENER_MAX = 0.03
_FV_ROLL_LOWER = 0.40
_FV_LOWER_DOWN = 0.03
_FV_JAW = 0.10
_FV_UPPER_UP = 0.12
# A nose wrinkle (noseSneer, AU9: disgust) lifts the upper lip with it: 6.2 mm of lip gap per
# unit on the ICT FaceKit scan (tools/realface.py), so a disgusted /m/ showed a 2.5-3 mm gap.
# A speaker keeps the wrinkle and closes the lips by raising the lower lip to meet the upper
# (the chin raiser, AU17, itself part of disgust): inside a closure mouthShrugLower rises to
# this fraction of the sneer (mouthShrugLower is -6.9 mm of gap per unit on the same scan).
_CLOSE_SHRUG_PER_SNEER = 0.9

_I = ARKIT_INDEX
_JAW = _I["jawOpen"]
_CLOSE = _I["mouthClose"]
_FUNNEL = _I["mouthFunnel"]
_ROLL_LOWER = _I["mouthRollLower"]
_LOWER_DOWN = [_I["mouthLowerDownLeft"], _I["mouthLowerDownRight"]]
_UPPER_UP = [_I["mouthUpperUpLeft"], _I["mouthUpperUpRight"]]
_SNEER = [_I["noseSneerLeft"], _I["noseSneerRight"]]
_SHRUG_LOWER = _I["mouthShrugLower"]
_DRIVEN = np.flatnonzero(P.COLUMN_GROUP >= 0)          # columns the poses drive
_GROUP_COLUMNS = [np.flatnonzero(P.COLUMN_GROUP == g) for g in range(len(P.GROUP_NAMES))]
_ROUND = P.GROUP_NAMES.index("round")

# ARPAbet -> Oculus viseme, and each viseme's peak weight (lip-contact visemes peak higher so
# they read clearly, as TalkingHead does).
VISEME_OF: dict[str, str] = {
    "sil": "viseme_sil",
    "P": "viseme_PP", "B": "viseme_PP", "M": "viseme_PP",
    "F": "viseme_FF", "V": "viseme_FF",
    "TH": "viseme_TH", "DH": "viseme_TH",
    "T": "viseme_DD", "D": "viseme_DD",
    "K": "viseme_kk", "G": "viseme_kk", "NG": "viseme_kk", "HH": "viseme_kk",
    "CH": "viseme_CH", "JH": "viseme_CH", "SH": "viseme_CH", "ZH": "viseme_CH",
    "S": "viseme_SS", "Z": "viseme_SS",
    "N": "viseme_nn", "L": "viseme_nn",
    "R": "viseme_RR",
    "AA": "viseme_aa", "AE": "viseme_aa", "AH": "viseme_aa", "AY": "viseme_aa", "AW": "viseme_aa",
    "EH": "viseme_E", "EY": "viseme_E", "ER": "viseme_E",
    "IH": "viseme_I", "IY": "viseme_I", "Y": "viseme_I",
    "AO": "viseme_O", "OW": "viseme_O", "OY": "viseme_O",
    "UW": "viseme_U", "UH": "viseme_U", "W": "viseme_U",
}
VISEME_PEAK: dict[str, float] = {v: (1.0 if v in ("viseme_PP", "viseme_FF", "viseme_sil")
                                     else 0.8) for v in OCULUS_15}


# ----------------------------------------------------------------------------------------------
# Predicates


def is_lip_closed(values: np.ndarray) -> np.ndarray:
    """Lips sealed, per frame. values: [T, 52] (or [52]) in ARKIT_52 order -> bool [T] (or ()).

    Closed means jawOpen - mouthClose <= 0.05 and each of mouthUpperUpLeft/Right,
    mouthLowerDownLeft/Right and mouthFunnel <= 0.1.
    """
    v = np.asarray(values)
    openers = v[..., _UPPER_UP + _LOWER_DOWN + [_FUNNEL]]
    return ((v[..., _JAW] - v[..., _CLOSE] <= CLOSED_JAW_MINUS_CLOSE + 1e-6)
            & np.all(openers <= CLOSED_MAX_OPENERS + 1e-6, axis=-1))


def is_fv_contact(values: np.ndarray) -> np.ndarray:
    """Lower lip against the upper teeth, per frame. values: [T, 52] (or [52]) -> bool [T].

    Contact means mouthRollLower >= 0.3, mouthLowerDownLeft/Right <= 0.1, jawOpen <= 0.15 and
    mouthUpperUpLeft/Right <= 0.2.
    """
    v = np.asarray(values)
    return ((v[..., _ROLL_LOWER] >= FV_MIN_ROLL_LOWER - 1e-6)
            & np.all(v[..., _LOWER_DOWN] <= FV_MAX_LOWER_DOWN + 1e-6, axis=-1)
            & (v[..., _JAW] <= FV_MAX_JAW + 1e-6)
            & np.all(v[..., _UPPER_UP] <= FV_MAX_UPPER_UP + 1e-6, axis=-1))


# ----------------------------------------------------------------------------------------------
# Segments


@dataclass(frozen=True)
class Segments:
    """The blend timeline: speech phones, silences and diphthong halves, contiguous from 0.

    Attributes (all length S):
        start, end: seconds, float64.
        pose: index into poses.PHONE_ORDER of the segment's target.
        scale: target amplitude relative to rest (stress reduction), float64.
        phone: index into poses.PHONE_ORDER of the phone the segment belongs to (a diphthong's
            halves both point at the diphthong; dominance comes from this phone's class).
    """

    start: np.ndarray
    end: np.ndarray
    pose: np.ndarray
    scale: np.ndarray
    phone: np.ndarray


_OVERLAP_TOLERANCE_S = 0.005


def build_segments(alignment: Alignment) -> Segments:
    """Alignment -> contiguous Segments covering [0, max(duration, last phone end)].

    Raises ValueError on an unknown phone label, an interval ending before it starts, or phones
    overlapping by more than 5 ms (alignments must be sorted and non-overlapping).
    """
    start, end, pose, scale, phone = [], [], [], [], []
    sil = P.PHONE_ID[P.SILENCE]

    def add(s: float, e: float, pose_id: int, amp: float, phone_id: int) -> None:
        start.append(s)
        end.append(e)
        pose.append(pose_id)
        scale.append(amp)
        phone.append(phone_id)

    t = 0.0
    for iv in alignment.phones:
        base, stress = P.split_stress(iv.label)
        if iv.end < iv.start:
            raise ValueError(f"phone {iv.label!r} ends ({iv.end}) before it starts ({iv.start})")
        if iv.start < t - _OVERLAP_TOLERANCE_S:
            raise ValueError(f"phone {iv.label!r} at {iv.start:.3f}s overlaps the previous phone "
                             f"(ending {t:.3f}s); phones must be sorted and non-overlapping")
        s = max(iv.start, t)  # float jitter from TextGrid round-trips
        e = max(iv.end, s)
        if s > t + 1e-9:
            add(t, s, sil, 1.0, sil)
        amp = P.UNSTRESSED_SCALE if (base in P.VOWELS and stress == 0) else 1.0
        pid = P.PHONE_ID[base]
        if base in P.DIPHTHONG_GLIDES:
            onset, offset, share = P.DIPHTHONG_GLIDES[base]
            mid = s + share * (e - s)
            add(s, mid, P.PHONE_ID[onset], amp, pid)
            add(mid, e, P.PHONE_ID[offset], amp, pid)
        else:
            add(s, e, pid, amp, pid)
        t = e
    if alignment.duration > t + 1e-9 or not start:
        add(t, max(alignment.duration, t), sil, 1.0, sil)
    return Segments(start=np.asarray(start, np.float64), end=np.asarray(end, np.float64),
                    pose=np.asarray(pose, np.int64), scale=np.asarray(scale, np.float64),
                    phone=np.asarray(phone, np.int64))


# ----------------------------------------------------------------------------------------------
# Dominance blending


def _neighbours(seg: Segments, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First and last segment index within HORIZON_S of each frame: lo [T], hi [T] (int64)."""
    n_seg = seg.start.shape[0]
    lo = np.searchsorted(seg.end, times - HORIZON_S, side="left")
    hi = np.searchsorted(seg.start, times + HORIZON_S, side="right") - 1
    lo = np.clip(lo, 0, n_seg - 1)
    hi = np.clip(hi, lo, n_seg - 1)
    return lo, hi


def frame_blocks(seg: Segments, times: np.ndarray, block_frames: int = BLOCK_FRAMES,
                 max_cells: int = _BLOCK_CELLS) -> list[slice]:
    """Consecutive frame ranges covering `times`, each at most `block_frames` long and, where
    segments are dense, short enough that frames x neighbours <= max_cells (one frame at
    least). Work and memory per block are then bounded, so the whole is linear in length."""
    n = times.shape[0]
    if n == 0:
        return []
    lo, hi = _neighbours(seg, times)
    span = hi - lo + 1
    out = []
    a = 0
    while a < n:
        b = min(a + max(1, int(block_frames)), n)
        while b - a > 1 and (b - a) * int(span[a:b].max()) > max_cells:
            b = a + (b - a) // 2
        out.append(slice(a, b))
        a = b
    return out


def _dominance(seg: Segments, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Dominance of every nearby segment at every frame (call it on a block of frames: the
    arrays are [frames x the block's widest neighbourhood]).

    Returns:
        nb: int64 [T, N] segment indices (padded entries point at a valid segment, weight 0).
        w: float64 [T, N, G] dominance alpha * exp(-theta * tau^c) * horizon taper.
    """
    n_seg = seg.start.shape[0]
    lo, hi = _neighbours(seg, times)
    width = int((hi - lo).max()) + 1 if times.size else 1
    nb = lo[:, None] + np.arange(width)[None, :]
    valid = nb <= hi[:, None]
    nb = np.minimum(nb, n_seg - 1)

    phone = seg.phone[nb]
    s, e = seg.start[nb], seg.end[nb]
    centre = 0.5 * (s + e)
    half_core = 0.5 * P.CORE[phone] * (e - s)
    t = times[:, None]
    tau_ant = np.maximum(centre - half_core - t, 0.0)  # frame before the segment's core
    tau_car = np.maximum(t - centre - half_core, 0.0)  # frame after it
    c = P.EXPONENT[phone]
    if np.any(c != 1.0):
        tau_ant, tau_car = tau_ant ** c, tau_car ** c
    # Only the 'round' group has its own anticipation rate, so two exp evaluations suffice.
    ant, car = P.THETA_ANT[phone], P.THETA_CAR[phone]
    d_other = np.exp(-(ant[..., 0] * tau_ant + car[..., 0] * tau_car))
    d_round = np.exp(-(ant[..., _ROUND] * tau_ant + car[..., _ROUND] * tau_car))
    # Horizon taper on the distance to the segment itself, so a segment entering or leaving
    # the neighbourhood does so at zero weight (no jumps).
    dist = np.maximum(np.maximum(s - t, t - e), 0.0)
    x = np.clip((HORIZON_S - dist) / TAPER_S, 0.0, 1.0)
    taper = x * x * (3.0 - 2.0 * x) * valid
    alpha = P.ALPHA[phone]
    w = alpha * (d_other * taper)[..., None]
    w[..., _ROUND] = alpha[..., _ROUND] * d_round * taper
    return nb, w


def _pose_weights(seg: Segments, nb: np.ndarray, w: np.ndarray,
                  amplitude: np.ndarray | None = None) -> np.ndarray:
    """Sum the dominance of the neighbour segments per target pose.

    Targets repeat (there are only 40 poses), so instead of gathering a target vector for every
    (frame, neighbour) pair, the weights are binned by pose and multiplied by the pose table
    once. w: [T, N] weights; amplitude: optional per-segment factor [S]. Returns [T, 40].
    """
    n_frames, n_pose = nb.shape[0], len(P.PHONE_ORDER)
    flat = (np.arange(n_frames)[:, None] * n_pose + seg.pose[nb]).ravel()
    weights = w if amplitude is None else w * amplitude[nb]
    return np.bincount(flat, weights=weights.ravel(),
                       minlength=n_frames * n_pose).reshape(n_frames, n_pose)


def _blend(seg: Segments, nb: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Dominance-weighted average of targets per shape group -> float64 [T, 52].

    A segment's target is rest + scale * (pose - rest) (scale < 1 for unstressed vowels), so
    the average is rest + (sum_i w_i scale_i (pose_i - rest)) / sum_i w_i.
    """
    rest = P.REST_POSE.astype(np.float64)
    delta = P.TARGETS.astype(np.float64) - rest            # [40, 52]
    den = np.maximum(w.sum(axis=1), 1e-12)                 # [T, G]
    out = np.zeros((nb.shape[0], len(ARKIT_52)))
    for g, cols in enumerate(_GROUP_COLUMNS):
        per_pose = _pose_weights(seg, nb, w[:, :, g], seg.scale)
        out[:, cols] = rest[cols] + (per_pose @ delta[:, cols]) / den[:, g:g + 1]
    return out


def _smooth_radius(fps: float, sigma_s: float, n_frames: int) -> int:
    """Half-width in frames of `_smooth`'s kernel (0: no smoothing)."""
    sigma = sigma_s * fps
    if sigma < 0.3 or n_frames < 3:
        return 0
    return int(np.ceil(3.0 * sigma))


def _smooth(values: np.ndarray, fps: float, sigma_s: float, *, pad: tuple[int, int] | None = None,
            n_total: int | None = None) -> np.ndarray:
    """Gaussian smoothing along time (edge-padded). values: [T, K] -> [T, K].

    For a block of a longer signal: `values` holds the block plus `radius` frames of context on
    each side where the signal has them, `pad` = (frames of context missing at the start,
    at the end), i.e. where the block touches the signal's ends; `n_total` the signal's length
    (decides, as for the whole, whether it is smoothed). Returns the block's frames only,
    identical to smoothing the whole signal and slicing.
    """
    n_total = values.shape[0] if n_total is None else n_total
    radius = _smooth_radius(fps, sigma_s, n_total)
    if radius == 0:
        return values
    sigma = sigma_s * fps
    k = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    k /= k.sum()
    before, after = (radius, radius) if pad is None else pad
    padded = np.pad(values, ((before, after), (0, 0)), mode="edge")
    n = padded.shape[0] - 2 * radius
    out = np.zeros((n, values.shape[1]), values.dtype)
    for j, kj in enumerate(k):
        out += kj * padded[j:j + n]
    return out


# ----------------------------------------------------------------------------------------------
# Constraint windows


def _hold_windows(alignment: Alignment, phones: frozenset[str], fps: float, n_frames: int,
                  min_hold: float, before_release: bool) -> tuple[np.ndarray, np.ndarray]:
    """Time windows [a, b] (seconds) in which each phone of `phones` must hold its constraint.

    Each window covers the phone's interval and the frame nearest its centre; a window shorter
    than `min_hold` grows to it: back from the release (before_release) or about the centre,
    but never past the centre of the neighbouring phone, so that phone keeps its own shape.
    Returns a [M], b [M].
    """
    ph = alignment.phones
    a_list, b_list = [], []
    last_t = (n_frames - 1) / fps
    for i, iv in enumerate(ph):
        base = P.split_stress(iv.label)[0]
        if base not in phones:
            continue
        centre = 0.5 * (iv.start + iv.end)
        prev_c = 0.5 * (ph[i - 1].start + ph[i - 1].end) if i > 0 else 0.0
        next_c = 0.5 * (ph[i + 1].start + ph[i + 1].end) if i + 1 < len(ph) else np.inf
        a, b = iv.start, iv.end
        if b - a < min_hold:
            if before_release:
                a = max(b - min_hold, prev_c)
            else:
                a = max(centre - 0.5 * min_hold, prev_c)
                b = min(centre + 0.5 * min_hold, next_c)
        nearest = min(max(round(centre * fps), 0), n_frames - 1) / fps
        a_list.append(min(a, nearest, last_t))
        b_list.append(max(b, nearest))
    return np.asarray(a_list, np.float64), np.asarray(b_list, np.float64)


def _window_weight(a: np.ndarray, b: np.ndarray, fps: float, n_frames: int) -> np.ndarray:
    """1 on frames inside any [a, b], smoothstep ramps of RAMP_IN_S / RAMP_OUT_S outside.

    O(M * ramp frames + T). Returns float64 [T] in 0..1.
    """
    w = np.zeros(n_frames)
    if a.size == 0:
        return w
    eps = 1e-6
    first = np.clip(np.ceil(a * fps - eps).astype(np.int64), 0, n_frames)
    last = np.clip(np.floor(b * fps + eps).astype(np.int64), -1, n_frames - 1)
    ok = last >= first
    diff = np.zeros(n_frames + 1)
    np.add.at(diff, first[ok], 1.0)
    np.add.at(diff, last[ok] + 1, -1.0)
    w[np.cumsum(diff[:-1]) > 0.5] = 1.0

    def ramp(edge_frame: np.ndarray, edge_t: np.ndarray, span: float, direction: int) -> None:
        k = int(np.ceil(span * fps)) + 1
        idx = edge_frame[:, None] + direction * np.arange(1, k + 1)[None, :]
        x = np.clip(1.0 - np.abs(idx / fps - edge_t[:, None]) / span, 0.0, 1.0)
        val = x * x * (3.0 - 2.0 * x)
        keep = (idx >= 0) & (idx < n_frames)
        np.maximum.at(w, idx[keep], val[keep])

    ramp(first, a, RAMP_IN_S, -1)
    ramp(last, b, RAMP_OUT_S, +1)
    return w


def constraint_weights(alignment: Alignment, fps: float,
                       n_frames: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """How strongly each frame is held to lip closure and to F/V contact.

    Returns (closure [T], contact [T]), float64 in 0..1; 1 = the constraint holds exactly.
    """
    n = Curves.n_frames_for(alignment.duration, fps) if n_frames is None else n_frames
    ca, cb = _hold_windows(alignment, P.BILABIALS, fps, n, BILABIAL_MIN_HOLD_S, True)
    fa, fb = _hold_windows(alignment, P.LABIODENTALS, fps, n, FV_MIN_HOLD_S, False)
    return _window_weight(ca, cb, fps, n), _window_weight(fa, fb, fps, n)


def _enforce(v: np.ndarray, closure: np.ndarray, contact: np.ndarray) -> None:
    """Project frames onto the closure / contact sets, in place, by weight (1 = exactly)."""

    def pull(col: int, target: np.ndarray, w: np.ndarray) -> None:
        v[:, col] += w * (target - v[:, col])

    # Lip closure: cap the jaw, seal the lips at the jaw's opening, relax the lip openers.
    pull(_JAW, np.minimum(v[:, _JAW], _CLOSE_JAW_MAX), closure)
    pull(_CLOSE, v[:, _JAW], closure)
    for col in _UPPER_UP + _LOWER_DOWN + [_FUNNEL]:
        pull(col, np.minimum(v[:, col], _CLOSE_OPENER_MAX), closure)
    lift = _CLOSE_SHRUG_PER_SNEER * v[:, _SNEER].max(axis=1)
    pull(_SHRUG_LOWER, np.maximum(v[:, _SHRUG_LOWER], np.minimum(lift, 1.0)), closure)
    # Labiodental contact: lower lip rolled up to the teeth, jaw nearly shut.
    pull(_ROLL_LOWER, np.maximum(v[:, _ROLL_LOWER], _FV_ROLL_LOWER), contact)
    pull(_JAW, np.minimum(v[:, _JAW], _FV_JAW), contact)
    for col in _LOWER_DOWN:
        pull(col, np.minimum(v[:, col], _FV_LOWER_DOWN), contact)
    for col in _UPPER_UP:
        pull(col, np.minimum(v[:, col], _FV_UPPER_UP), contact)
    # ARKit mouthClose beyond jawOpen pushes the lips through each other.
    v[:, _CLOSE] = np.minimum(v[:, _CLOSE], v[:, _JAW])


# ----------------------------------------------------------------------------------------------
# Public entry points


_JAW_COLS = np.flatnonzero(P.COLUMN_GROUP == P.GROUP_NAMES.index("jaw"))
_LIP_COLS = np.flatnonzero(np.isin(P.COLUMN_GROUP, [P.GROUP_NAMES.index(g)
                                                    for g in ("lips", "round", "spread")]))


def curves_from_alignment(alignment: Alignment, audio: Audio | None, *,
                          fps: float = 60.0, style=None, jaw: float | None = None,
                          lips: float | None = None,
                          block_frames: int = BLOCK_FRAMES) -> Curves:
    """Phone alignment (+ optional audio for loudness) -> ARKit-52 curves.

    Args:
        alignment: phones in ARPAbet (stress digits allowed), sorted, gaps = silence.
        audio: the utterance's audio; its loudness scales jaw opening and its vocal effort
            (spectral tilt) the lip shapes. None = no scaling.
        fps: output frame rate.
        style: a voxface.engine.styles.Style (None = neutral).
        jaw, lips: JALI intensities 0..2 overriding the style's (1 = the pose table).
        block_frames: frames processed at once (memory bound; the result does not depend
            on it).

    Returns:
        Curves with names ARKIT_52, values float32 [T, 52] in 0..1,
        T = Curves.n_frames_for(alignment.duration, fps). Shapes the poses do not drive (eyes,
        brows, nose) are 0. Every P/B/M interval holds `is_lip_closed` on at least one frame
        (all frames inside it), every F/V interval `is_fv_contact`.

    Raises:
        ValueError: unknown phone label or overlapping phones.
    """
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")

    st = (style or STYLES["neutral"]).with_intensities(jaw, lips)
    n = Curves.n_frames_for(alignment.duration, fps)
    times = np.arange(n, dtype=np.float64) / fps
    seg = build_segments(alignment)

    jaw_gain = np.full(n, st.jaw)
    lip_gain = np.full(n, st.lips)
    if audio is not None:
        env = intensity_envelope(audio, fps, n_frames=n).astype(np.float64)
        effort = effort_envelope(audio, fps, n_frames=n, loudness=env)
        # The articulators move LEAD_S before the sound they make.
        env, effort = (np.interp(times + LEAD_S, times, x) for x in (env, effort))
        # Gains change at syllable rate, not frame rate: smoothed so they add no jitter.
        gains = np.stack([JAW_GAIN_QUIET + (JAW_GAIN_LOUD - JAW_GAIN_QUIET) * env,
                          1.0 + LIP_GAIN_RANGE * effort], axis=1)
        gains = _smooth(gains, fps, GAIN_SMOOTH_S)
        jaw_gain *= gains[:, 0]
        lip_gain *= gains[:, 1]
    rest = P.REST_POSE.astype(np.float64)
    closure, contact = constraint_weights(alignment, fps, n)
    # The constraints go in with their ramps before the smoothing, which then shapes the
    # approach to and the release from a closure like any other movement (applied after the
    # smoothing, the ramps' corners made half of the mouth's jerk), and again, exactly, on
    # the hold frames after it.
    closure_hold, contact_hold = (closure >= 1.0).astype(np.float64), \
        (contact >= 1.0).astype(np.float64)
    radius = _smooth_radius(fps, st.smooth_s, n)
    out = np.empty((n, len(ARKIT_52)), np.float32)
    # Block by block (with the smoothing kernel's reach of context on each side): the same
    # numbers as processing the whole timeline at once, in memory bounded by the block.
    for block in frame_blocks(seg, times + LEAD_S, block_frames=block_frames):
        a, b = block.start, block.stop
        ea, eb = max(a - radius, 0), min(b + radius, n)
        v = _blend(seg, *_dominance(seg, times[ea:eb] + LEAD_S))
        v[:, _JAW_COLS] = rest[_JAW_COLS] + (v[:, _JAW_COLS] - rest[_JAW_COLS]) \
            * jaw_gain[ea:eb, None]
        v[:, _LIP_COLS] = rest[_LIP_COLS] + (v[:, _LIP_COLS] - rest[_LIP_COLS]) \
            * lip_gain[ea:eb, None]
        np.clip(v, 0.0, 1.0, out=v)
        _enforce(v, closure[ea:eb], contact[ea:eb])
        driven = _smooth(v[:, _DRIVEN], fps, st.smooth_s, n_total=n,
                         pad=(radius - (a - ea), radius - (eb - b)))
        v = v[a - ea:b - ea]
        v[:, _DRIVEN] = driven
        np.clip(v, 0.0, 1.0, out=v)
        _enforce(v, closure_hold[a:b], contact_hold[a:b])
        np.clip(v, 0.0, 1.0, out=v)
        out[a:b] = v
    return Curves(fps=float(fps), names=ARKIT_52, values=out,
                  duration=float(alignment.duration))


def visemes_from_alignment(alignment: Alignment, fps: float = 60.0, *,
                           block_frames: int = BLOCK_FRAMES) -> Curves:
    """Phone alignment -> the 15 Oculus visemes (OCULUS_15 names), on the curves' timeline.

    The same dominance blending as `curves_from_alignment`, at the same visual lead (LEAD_S)
    and smoothing (SMOOTH_S): each segment's target is its viseme at VISEME_PEAK, and the
    weight of a segment at a frame is its strongest group dominance. P/B/M hold windows force
    viseme_PP to 1 and F/V windows viseme_FF to 1 (others scaled down), with the same ramps
    and the same order as the ARKit constraints (ramps before the smoothing, holds exact
    after it). Finally every viseme that wins a frame (is the largest) wins at least
    `min_viseme_frames(fps)` frames in a row (`_stable_winners`), so a player that switches
    visemes never shows a one-frame pop; hold frames always keep PP / FF.

    Returns Curves with names OCULUS_15, values float32 [T, 15] in 0..1.
    """
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    n = Curves.n_frames_for(alignment.duration, fps)
    times = np.arange(n, dtype=np.float64) / fps
    seg = build_segments(alignment)
    vis_index = {name: i for i, name in enumerate(OCULUS_15)}
    table = np.zeros((len(P.PHONE_ORDER), len(OCULUS_15)))
    for pid, phone in enumerate(P.PHONE_ORDER):
        vis = VISEME_OF[phone]
        table[pid, vis_index[vis]] = VISEME_PEAK[vis]
    closure, contact = constraint_weights(alignment, fps, n)
    holds = ((closure, vis_index["viseme_PP"]), (contact, vis_index["viseme_FF"]))

    def hold(vb: np.ndarray, frames: slice, exact: bool) -> None:
        for w, col in holds:
            w = w[frames] >= 1.0 if exact else w[frames]
            vb *= (1.0 - w)[:, None]
            vb[:, col] += w

    radius = _smooth_radius(fps, SMOOTH_S, n)
    v = np.empty((n, len(OCULUS_15)))
    for block in frame_blocks(seg, times + LEAD_S, block_frames=block_frames):
        a, b = block.start, block.stop
        ea, eb = max(a - radius, 0), min(b + radius, n)
        nb, w = _dominance(seg, times[ea:eb] + LEAD_S)
        wv = w.max(axis=2)                                         # [frames, N]
        vb = (_pose_weights(seg, nb, wv) @ table) / np.maximum(wv.sum(axis=1), 1e-12)[:, None]
        hold(vb, slice(ea, eb), exact=False)
        vb = _smooth(vb, fps, SMOOTH_S, n_total=n, pad=(radius - (a - ea), radius - (eb - b)))
        if radius == 0:
            vb = vb[a - ea:b - ea]
        hold(vb, slice(a, b), exact=True)
        v[a:b] = np.clip(vb, 0, 1)
    forced = np.full(n, -1, np.int64)
    for w, col in holds:                       # F/V after P/B/M, as in `hold`
        forced[w >= 1.0] = col
    _stable_winners(v, forced, min_viseme_frames(fps))
    return Curves(fps=float(fps), names=OCULUS_15, values=v.astype(np.float32),
                  duration=float(alignment.duration))


# Shortest time a viseme may win the frame (be the largest) in the viseme track: 2 frames
# at 60 fps and below, more at higher frame rates.
MIN_VISEME_S = 1.0 / 30.0
_SHORT_RUN_COST = 10.0     # per winner run shorter than the minimum (weights are 0..1)
_FORCED_COST = 1000.0      # per hold frame not won by its PP / FF
_WIN_MARGIN = 1e-3         # a re-assigned winner is lifted this far above the frame's max


def min_viseme_frames(fps: float) -> int:
    """Frames a viseme must win in a row at this frame rate (at least 2)."""
    return max(2, int(np.ceil(MIN_VISEME_S * fps - 1e-9)))


def _stable_winners(v: np.ndarray, forced: np.ndarray, min_run: int) -> None:
    """Make every interior run of per-frame winners (argmax) at least `min_run` frames long,
    in place. v: [T, K] weights; forced: [T] the viseme a hold frame must show (-1: none).

    Where the argmax has a run shorter than `min_run` (two near-tied visemes trading the lead
    at a transition), the winners of that stretch are chosen again by dynamic programming: the
    sequence with the largest summed weight whose runs are all long enough (`_min_run_path`),
    forced frames keeping their viseme. Only frames whose winner changes are touched: the
    new winner rises and the visemes above it fall, to meet half-way (the two were nearly
    tied: on the eval set at 60 fps the change is 0.01 typically, under 0.05 on 99 % of such
    frames). The first and last runs of the
    track may be short (they are cut by its ends). Cost: O(T) plus O(K) per frame of the
    re-chosen stretches, which are short and few.
    """
    n = v.shape[0]
    if n < 3:
        return
    top = np.argmax(v, axis=1)
    change = np.flatnonzero(np.diff(top) != 0) + 1
    starts = np.concatenate([[0], change])
    ends = np.concatenate([change, [n]])
    lengths = ends - starts
    short = np.flatnonzero(lengths < min_run)
    short = short[(short > 0) & (short < len(starts) - 1)]
    if short.size == 0:
        return
    # A run of 2 * min_run frames or more is stable: a stretch is re-chosen between the middles
    # of the nearest stable runs, with min_run frames of each outside it, so the stretch's
    # first / last winner continue runs that are long enough whatever is chosen inside.
    stable = np.flatnonzero(lengths >= 2 * min_run)
    regions: list[list[int]] = []
    for k in short:
        i = np.searchsorted(stable, k) - 1
        lo = starts[stable[i]] + min_run if i >= 0 else 0
        j = i + 1
        hi = ends[stable[j]] - min_run if j < len(stable) else n
        if regions and lo <= regions[-1][1]:
            regions[-1][1] = max(regions[-1][1], hi)
        else:
            regions.append([lo, hi])
    for lo, hi in regions:
        first = int(top[lo - 1]) if lo > 0 else None
        last = int(top[hi]) if hi < n else None
        path = _min_run_path(v[lo:hi], forced[lo:hi], min_run, first, last)
        for t in np.flatnonzero(path != top[lo:hi]) + lo:
            # The new winner and the visemes above it meet half-way (half the change each).
            w = path[t - lo]
            v[t, w] = min(0.5 * (v[t, w] + v[t].max()) + _WIN_MARGIN, 1.0)
            others = np.arange(v.shape[1]) != w
            v[t, others] = np.minimum(v[t, others], v[t, w] - _WIN_MARGIN)


def _min_run_path(v: np.ndarray, forced: np.ndarray, min_run: int, first: int | None,
                  last: int | None) -> np.ndarray:
    """The winner sequence over a stretch: maximises sum_t v[t, y_t] minus _SHORT_RUN_COST per
    run shorter than min_run and _FORCED_COST per forced frame not shown. `first`: the winner
    just before the stretch, whose run is already long enough (None: the stretch starts the
    track, and its first run may be short); `last`: the winner just after it, whose run goes on
    long enough (None: the track ends here, and its last run may be short). Returns int [L].

    States are (viseme, run length so far, capped at min_run); Viterbi over the stretch.
    """
    length, k = v.shape
    m = min_run
    score = v - _FORCED_COST * ((forced[:, None] >= 0) & (forced[:, None] != np.arange(k)))
    neg = -1e18
    s = np.full((m, k), neg)          # s[r, x]: best total ending here in a run of x, r+1 long
    back_switch = np.zeros((length, k), np.int64)   # previous viseme when a run starts here
    back_len = np.zeros((length, k), np.int64)      # ... and its capped length index
    back_long = np.zeros((length, k), bool)         # a capped run continued from capped
    if first is None:
        s[m - 1] = score[0]
    else:
        # Continue the run before the stretch (long enough already), or start a new one.
        s[m - 1, first] = score[0, first]
        s[0] = np.where(np.arange(k) == first, neg, score[0])
        back_switch[0] = first
        back_len[0] = m - 1
    for t in range(1, length):
        # Ending the previous run: free if it is long enough, at a cost if not.
        ended = s[:m - 1] - _SHORT_RUN_COST if m > 1 else s[:0]
        end_r = np.full(k, m - 1)
        end_val = s[m - 1].copy()
        if m > 1:
            r_best = np.argmax(ended, axis=0)
            better = ended[r_best, np.arange(k)] > end_val
            end_val = np.where(better, ended[r_best, np.arange(k)], end_val)
            end_r = np.where(better, r_best, end_r)
        order = np.argsort(end_val)
        k1, k2 = order[-1], order[-2]
        prev = np.where(np.arange(k) == k1, k2, k1)
        new = np.empty_like(s)
        new[0] = score[t] + end_val[prev]
        back_switch[t] = prev
        back_len[t] = end_r[prev]
        if m > 1:
            new[1:m - 1] = score[t] + s[0:m - 2]
            stay = s[m - 1] >= s[m - 2]
            new[m - 1] = score[t] + np.maximum(s[m - 2], s[m - 1])
            back_long[t] = stay
        else:
            new[0] = np.maximum(new[0], score[t] + s[0])
        s = new
    if last is None:
        final = s                     # the track's last run may be short
    else:
        # The stretch's last run continues after it (long enough) if it is `last`; any other
        # last run ends here and must be long enough itself.
        final = s.copy()
        final[:m - 1] -= _SHORT_RUN_COST
        final[:m - 1, last] += _SHORT_RUN_COST
    r, x = np.unravel_index(int(np.argmax(final)), final.shape)
    path = np.empty(length, np.int64)
    for t in range(length - 1, -1, -1):
        path[t] = x
        if r == 0:
            x, r = back_switch[t, x], back_len[t, x]
        elif r < m - 1 or not back_long[t, x]:
            r -= 1
        # else: a capped run continued from a capped run: same state
    return path
