"""Curves -> morph-target weights: decide how every target of a rig is driven (a `RigPlan`).

Real avatars name their shapes in many ways. For each morph target, in this order:

1. `--map names.json` (target name -> ARKit name, or an Oculus viseme name, with an optional
   scale): the target is treated as the mapped name, times the scale.             via "map"
2. The target's name is a curve name exactly (`jawOpen`)                          "ARKit direct"
   or ignoring case, surrounding space and a `prefix.` / `prefix:` namespace
   (`JawOpen`, `blendShape1.jawOpen`)                                      "case-insensitive"
3. VRM custom expressions named after ARKit shapes (VRM "perfect sync" avatars), through their
   morph binds                                                     "VRM expression (ARKit)"

If anything above drives a speech shape (jaw, lips, tongue: the shapes the phone poses move),
the mouth is driven by ARKit names. Otherwise the mouth is driven through what the rig has:

4. Oculus visemes (`viseme_PP` ..., or VRChat's `vrc.v_pp` ...): every frame's ARKit mouth pose
   is fitted by a non-negative combination of the visemes' ARKit poses (`solve_weights`);
   `viseme_sil` takes what the others leave (1 - their sum).           "Oculus viseme solve"
5. VRM vowel presets (aa ih ou ee oh; 0.x a i u e o): the same fit against the five vowel poses
   (plus closed-lip and lip-tuck poses that absorb P/B/M and F/V frames and are not written, so
   closures close the mouth instead of opening a vowel); written on the presets' bound morph
   targets with the binds' weights.                                              "VRM preset"

VRM blink / blinkLeft / blinkRight and lookUp/Down/Left/Right presets follow eyeBlink* and
eyeLook* whenever the rig has no ARKit target for those.

Each rule is a rig-kind adapter, one module of `voxface.rigs.kinds` (`arkit`, `name_map`,
`oculus`, `vrm`), and `plan_rig` walks them in the order of `voxface.rigs.kinds.KINDS`; the
plan itself is a core value (`voxface.core.rigplan.RigPlan`). This module keeps the computation:
the solves and `plan_channels`, which turns a plan and curves into the channels it reads.

The viseme poses are defined once, here (`VISEME_POSES`), from the engine's own tables: each
Oculus viseme's pose is the mean of the phone poses (engine/poses.py) of the monophthong phones
that engine/coarticulation.py's VISEME_OF maps to it.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np

from voxface.core.curves import Curves
from voxface.core.errors import InputError
from voxface.core.names import ARKIT_52, ARKIT_INDEX, OCULUS_15, canonical_arkit
from voxface.core.rigplan import Drive, NAME, RigPlan
from voxface.engine import poses as P
from voxface.engine.coarticulation import VISEME_OF
from voxface.rigs.kinds import KINDS
from voxface.rigs.kinds.base import SPEECH_SHAPES, PlanDraft, TargetName, no_match_error, truncate
from voxface.rigs.kinds.oculus import VISEME_ALIASES
from voxface.rigs.vrm import VOWELS

_SPEECH_COLS = np.array([ARKIT_INDEX[n] for n in SPEECH_SHAPES])


def _viseme_poses() -> dict[str, np.ndarray]:
    poses = {}
    for vis in OCULUS_15:
        phones = [p for p, v in VISEME_OF.items() if v == vis and p not in P.DIPHTHONG_GLIDES]
        poses[vis] = np.mean([P.TARGETS[P.PHONE_ID[p]] for p in phones], axis=0)
    return poses


# Each Oculus viseme's ARKit pose, float [52] in ARKIT_52 order (the one definition).
VISEME_POSES: dict[str, np.ndarray] = _viseme_poses()
# The VRM vowel presets and the Oculus viseme whose pose each takes.
VRM_VOWEL_VISEME: dict[str, str] = {"aa": "viseme_aa", "ih": "viseme_I", "ou": "viseme_U",
                                    "ee": "viseme_E", "oh": "viseme_O"}
# Fitted alongside the VRM vowels and not written: closed lips and lower lip tucked.
_VOWEL_ABSORBERS = ("viseme_PP", "viseme_FF")

# ----------------------------------------------------------------------------------------------
# The fit


def solve_weights(x: np.ndarray, basis: np.ndarray, *, ridge: float = 0.01,
                  upper: float = 1.0, max_iterations: int = 100) -> np.ndarray:
    """Per-row non-negative least squares, vectorised over rows.

    For every row x_t of `x` [T, K] finds w_t >= 0 minimising
        ||basis @ w_t - x_t||^2 + ridge * ||w_t||^2,
    with basis [K, V] (one pose per column), then clips weights above `upper`. The ridge term
    makes the problem strictly convex (similar poses, e.g. DD / nn / kk, share weight instead of
    flipping between frames). Solved exactly by block principal pivoting (Kim & Park 2011,
    "Fast nonnegative matrix factorization: an active-set-like method and comparisons"), all
    rows at once: rows are grouped by their current free set, so each group is one small
    linear solve. Returns float64 [T, V].
    """
    x = np.asarray(x, np.float64)
    a = np.asarray(basis, np.float64)
    n_rows, n_vars = x.shape[0], a.shape[1]
    gram = a.T @ a + ridge * np.eye(n_vars)
    c = x @ a                                            # [T, V]
    free = np.zeros((n_rows, n_vars), bool)
    w = np.zeros((n_rows, n_vars))
    grad = -c.copy()                                     # gram @ w - c at w = 0
    best = np.full(n_rows, n_vars + 1)
    backup = np.full(n_rows, 3)
    eps = 1e-12
    for _ in range(max_iterations):
        infeasible = (free & (w < -eps)) | (~free & (grad < -eps))
        count = infeasible.sum(axis=1)
        todo = count > 0
        if not todo.any():
            break
        # Exchange every infeasible variable while that reduces their number, allowing three
        # tries without progress; then only the last one (which guarantees termination).
        better = todo & (count < best)
        best[better] = count[better]
        backup[better] = 3
        retry = todo & ~better & (backup >= 1)
        backup[retry] -= 1
        full = better | retry
        free[full] ^= infeasible[full]
        single = np.flatnonzero(todo & ~full)
        if single.size:
            last = n_vars - 1 - np.argmax(infeasible[single, ::-1], axis=1)
            free[single, last] ^= True
        rows = np.flatnonzero(todo)
        patterns, group = np.unique(free[rows], axis=0, return_inverse=True)
        for k, pattern in enumerate(patterns):
            r = rows[group.reshape(-1) == k]
            sol = np.zeros((r.size, n_vars))
            if pattern.any():
                sub = gram[np.ix_(pattern, pattern)]
                sol[:, pattern] = np.linalg.solve(sub, c[r][:, pattern].T).T
            w[r] = sol
            g = sol @ gram - c[r]
            g[:, pattern] = 0.0
            grad[r] = g
    return np.clip(w, 0.0, upper)


# The fit also matches the lip gap (jaw opening not sealed by mouthClose, plus the lip openers),
# weighted up: closed-lip frames (mouthClose == jawOpen) then cannot be explained by an open
# viseme plus a closed one, so P/B/M closures stay closed on the rig.
GAP_WEIGHT = 3.0
_GAP = np.zeros(len(ARKIT_52))
_GAP[ARKIT_INDEX["jawOpen"]] = 1.0
_GAP[ARKIT_INDEX["mouthClose"]] = -1.0
for _n in ("mouthLowerDownLeft", "mouthLowerDownRight", "mouthUpperUpLeft", "mouthUpperUpRight"):
    _GAP[ARKIT_INDEX[_n]] = 0.5
del _n


def _features(values52: np.ndarray) -> np.ndarray:
    """ARKit rows [..., 52] -> fit features [..., len(SPEECH_SHAPES) + 1], relative to the rest
    pose (silence), so a frame at rest is fitted by no viseme at all (viseme_sil = 1)."""
    v = np.asarray(values52, np.float64) - P.REST_POSE
    gap = GAP_WEIGHT * (v @ _GAP)
    return np.concatenate([v[..., _SPEECH_COLS], gap[..., None]], axis=-1)




def lip_closure(values52: np.ndarray) -> np.ndarray:
    """How firmly each frame's lips are sealed for a consonant, 0..1: [..., 52] -> [...].

    1 when the lips are sealed (jawOpen - mouthClose <= 0, every lip opener <= 0.03: the
    engine's P/B/M hold, see coarticulation.is_lip_closed) and the seal is held by the lips
    (mouthClose + mouthPress >= 0.12), 0 when open (gap >= 0.05 or an opener >= 0.1) or at
    rest (silence: lips together but not pressed).
    """
    v = np.asarray(values52, np.float64)
    i = ARKIT_INDEX
    gap = v[..., i["jawOpen"]] - v[..., i["mouthClose"]]
    openers = np.max(v[..., [i["mouthLowerDownLeft"], i["mouthLowerDownRight"],
                             i["mouthUpperUpLeft"], i["mouthUpperUpRight"],
                             i["mouthFunnel"]]], axis=-1)
    press = 0.5 * (v[..., i["mouthPressLeft"]] + v[..., i["mouthPressRight"]])
    sealed = np.clip(1.0 - gap / 0.05, 0.0, 1.0) * np.clip(1.0 - (openers - 0.03) / 0.07,
                                                           0.0, 1.0)
    held = np.clip((v[..., i["mouthClose"]] + press - 0.04) / 0.08, 0.0, 1.0)
    return sealed * held


def _arkit_matrix(curves: Curves, rows: slice = slice(None)) -> np.ndarray:
    """The curves (frames `rows`) as [T, 52] in ARKIT_52 order (columns they lack are 0)."""
    n = len(range(*rows.indices(curves.n_frames)))
    full = np.zeros((n, len(ARKIT_52)), np.float64)
    lower = {n.strip().lower(): j for j, n in reversed(list(enumerate(curves.names)))}
    for k, name in enumerate(ARKIT_52):
        j = lower.get(name.lower())
        if j is not None:
            full[:, k] = curves.values[rows, j]
    return full


# Frames fitted at a time: the fit's working arrays are [frames x visemes] several times over,
# so an hour of curves is solved in pieces (each frame's fit is independent of the others).
SOLVE_FRAMES = 8192


def _row_blocks(n: int) -> list[slice]:
    return [slice(a, min(a + SOLVE_FRAMES, n)) for a in range(0, n, SOLVE_FRAMES)] or [
        slice(0, 0)]


def solve_visemes(curves: Curves, visemes: Sequence[str] = OCULUS_15) -> dict[str, np.ndarray]:
    """Oculus viseme weights from ARKit curves: {viseme: float32 [T]} for each of `visemes`.

    The visemes other than viseme_sil are fitted to each frame's speech shapes and lip gap
    (solve_weights). Closures are kept: where the lips are sealed (`lip_closure`), viseme_PP
    is raised toward 1 and the others lowered by the same factor, as the engine's own viseme
    track does in its P/B/M holds. viseme_sil, when asked for, is 1 minus the others' sum
    (clipped at 0).
    """
    fitted = [v for v in visemes if v != "viseme_sil"]
    out: dict[str, np.ndarray] = {}
    total = np.zeros(curves.n_frames)
    if fitted:
        basis = np.stack([_features(VISEME_POSES[v]) for v in fitted], axis=1)
        for v in fitted:
            out[v] = np.empty(curves.n_frames, np.float32)
        for rows in _row_blocks(curves.n_frames):
            full = _arkit_matrix(curves, rows)
            w = solve_weights(_features(full), basis)
            if "viseme_PP" in fitted:
                closure = lip_closure(full)[:, None]
                pp = fitted.index("viseme_PP")
                keep = w[:, pp].copy()
                w *= 1.0 - closure
                w[:, pp] = keep + closure[:, 0] * (1.0 - keep)
            for k, v in enumerate(fitted):
                out[v][rows] = w[:, k]
            total[rows] = w.sum(axis=1)
    if "viseme_sil" in visemes:
        out["viseme_sil"] = np.clip(1.0 - total, 0.0, 1.0).astype(np.float32)
    return out


def solve_vrm_vowels(curves: Curves, vowels: Sequence[str] = VOWELS) -> dict[str, np.ndarray]:
    """VRM vowel preset weights (aa ih ou ee oh) from ARKit curves: {vowel: float32 [T]}."""
    names = [VRM_VOWEL_VISEME[v] for v in vowels] + list(_VOWEL_ABSORBERS)
    basis = np.stack([_features(VISEME_POSES[n]) for n in names], axis=1)
    out = {v: np.empty(curves.n_frames, np.float32) for v in vowels}
    for rows in _row_blocks(curves.n_frames):
        full = _arkit_matrix(curves, rows)
        w = solve_weights(_features(full), basis) * (1.0 - lip_closure(full))[:, None]
        for k, v in enumerate(vowels):
            out[v][rows] = w[:, k]
    return out


# ----------------------------------------------------------------------------------------------
# Name maps


def load_name_map(path: str | os.PathLike) -> dict[str, tuple[str, float]]:
    """Read a `--map` JSON file: {target name: ARKit name | {"arkit": name, "scale": s}}.

    The mapped-to name may also be an Oculus viseme (`viseme_aa`). Returns {target: (name,
    scale)} with ARKit / viseme names in their canonical spelling.

    Raises:
        InputError: missing file, not JSON, not an object, or an entry that is not a string or
            {"arkit": str, "scale": number}, or names neither an ARKit shape nor a viseme.
    """
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise InputError("name map not found", path=path) from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"name map is not valid JSON ({exc})", path=path) from None
    return parse_name_map(raw, path=path)


def parse_name_map(raw: object, *, path: object = None) -> dict[str, tuple[str, float]]:
    """Validate a name map given as a dict (see load_name_map)."""
    if not isinstance(raw, dict):
        raise InputError("name map must be a JSON object {target name: ARKit name}", path=path)
    out: dict[str, tuple[str, float]] = {}
    for target, value in raw.items():
        scale = 1.0
        if isinstance(value, dict):
            name = value.get("arkit", value.get("name"))
            scale = value.get("scale", 1.0)
            if isinstance(scale, bool) or not isinstance(scale, (int, float)) \
                    or not math.isfinite(scale):
                raise InputError(f"name map entry {target!r}: scale must be a number", path=path)
        else:
            name = value
        if not isinstance(name, str):
            raise InputError(f"name map entry {target!r}: expected an ARKit name or "
                             '{"arkit": name, "scale": number}', path=path)
        canonical = canonical_arkit(name) or VISEME_ALIASES.get(name.strip().lower())
        if canonical is None:
            raise InputError(f"name map entry {target!r}: {name!r} is neither an ARKit "
                             "blendshape nor an Oculus viseme name", path=path)
        out[str(target)] = (canonical, float(scale))
    return out


# ----------------------------------------------------------------------------------------------
# The plan




def plan_from_match(match) -> RigPlan:
    """A plan equivalent to a `gltf_rig.RigMatch` (plain name matching)."""
    drives = tuple(Drive(mesh=mm.mesh, target=t, channel=match.names[j], weight=1.0, via=NAME)
                   for mm in match.meshes for t, j in zip(mm.targets, mm.columns))
    return RigPlan(names=tuple(match.names), drives=drives, mouth="arkit", missing=(),
                   unmatched_curves=tuple(match.unmatched_curves), warnings=())


def plan_rig(rig, names: Iterable[str], *, name_map: Mapping[str, tuple[str, float]] | None = None,
             ) -> RigPlan:
    """Decide how each morph target of `rig` follows curves named `names` (see module doc).

    Walks the rig-kind adapters of `voxface.rigs.kinds.KINDS` through their stages (see
    `voxface.rigs.kinds.base`), then lists what drives nothing.

    Args:
        rig: a `gltf_rig.Rig`.
        names: the curve names (ARKit for engine output; any names work for direct matching).
        name_map: from `load_name_map` / `parse_name_map`.
    Raises:
        InputError: nothing on the rig can be driven by these curves; the message lists the
            rig's targets per mesh.
    """
    names = tuple(names)
    draft = PlanDraft(rig=rig, names=names, name_map=dict(name_map or {}))

    # 1. Every target: renamed by the first adapter that renames it, then taken by the first
    #    adapter that matches it.
    for mesh in rig.meshes:
        for t, target in enumerate(mesh.target_names):
            as_named = TargetName(target)
            for kind in KINDS:
                renamed = kind.rename_target(draft, target)
                if renamed is not None:
                    as_named = renamed
                    break
            for kind in KINDS:
                if kind.match(draft, mesh.index, t, as_named):
                    break
    # 2. Drives decided from the whole file.
    for kind in KINDS:
        kind.add_rig_drives(draft)
    # 3. The mouth: the first adapter that claims it.
    draft.direct = {draft.arkit_of(d) for d in draft.drives} - {None}
    mouth_kind = next((k for k in KINDS if k.claims_mouth(draft)), None)
    notes = []
    if mouth_kind is not None:
        draft.mouth = mouth_kind.mouth
        mouth_kind.drive_mouth(draft)
        note = mouth_kind.mouth_note(draft)
        if note:
            notes.append(note)
    elif draft.is_arkit:
        notes.append("rig has no ARKit mouth shapes, Oculus visemes or VRM vowels: nothing "
                     "on it moves the mouth (name them with --map names.json)")
    # 4. Drives that defer to the above.
    for kind in KINDS:
        kind.add_late_drives(draft)

    if not draft.drives:
        raise no_match_error(rig, names)

    derived = draft.derived
    used_channels = {d.channel for d in draft.drives}
    used_curve_names = set()
    for ch in used_channels:
        if ch in derived:
            spec = derived[ch]
            if spec.kind == "linear":
                used_curve_names.update(n.lower() for n, _ in spec.terms)
            else:
                used_curve_names.update(n.lower() for n in SPEECH_SHAPES)
        else:
            used_curve_names.add(ch.strip().lower())
    unmatched = tuple(n for j, n in enumerate(names) if n.strip().lower() not in used_curve_names
                      and draft.column[n.strip().lower()] == j)
    # ARKit shapes whose motion reaches no target: not driven by name, not the source of a VRM
    # eye preset, and (when a solve drives the mouth) not a speech shape.
    reached = set(draft.direct)
    for ch in used_channels:
        spec = derived.get(ch)
        if spec is not None and spec.kind == "linear":
            reached.update(n for n, _ in spec.terms)
    if mouth_kind is not None and mouth_kind.solves_speech:
        reached.update(SPEECH_SHAPES)
    missing = tuple(n for n in ARKIT_52 if n in draft.arkit_curves and n not in reached)
    if missing:
        notes.append(f"rig lacks {len(missing)} ARKit shapes: {truncate(missing)}")

    warnings = notes + draft.warnings
    for kind in KINDS:
        warnings += kind.late_warnings(draft)
    return RigPlan(names=names, drives=tuple(draft.drives), mouth=draft.mouth, missing=missing,
                   unmatched_curves=unmatched, warnings=tuple(warnings), vrm=draft.vrm,
                   name_map=draft.name_map, derived=derived)


def plan_channels(plan: RigPlan, curves: Curves) -> dict[str, np.ndarray]:
    """Every channel `plan`'s drives read, computed from `curves`: {channel: float32 [T]}.

    A plain channel is the curve's column; derived ones (`plan.derived`) are the Oculus viseme
    solve, the VRM vowel solve, or a clipped linear mix of curves (VRM binary expressions
    snapped to 0 / 1 at 0.5).

    Raises:
        ValueError: the plan was made for other curve names.
    """
    if curves.names != plan.names:
        raise ValueError("plan was made for different curve names than curves.names")
    column: dict[str, int] = {}
    for j, n in enumerate(curves.names):
        column.setdefault(n, j)
        column.setdefault(n.strip().lower(), j)
    out: dict[str, np.ndarray] = {}
    need = {d.channel for d in plan.drives}
    visemes = [plan.derived[c].key for c in need if c in plan.derived
               and plan.derived[c].kind == "oculus"]
    vowels = [plan.derived[c].key for c in need if c in plan.derived
              and plan.derived[c].kind == "vrm-vowel"]
    solved = solve_visemes(curves, [v for v in OCULUS_15 if v in visemes]) if visemes else {}
    vowel_w = solve_vrm_vowels(curves, [v for v in VOWELS if v in vowels]) if vowels else {}
    for ch in need:
        spec = plan.derived.get(ch)
        if spec is None:
            out[ch] = curves.values[:, column[ch]]
            continue
        if spec.kind == "oculus":
            value = solved[spec.key]
        elif spec.kind == "vrm-vowel":
            value = vowel_w[spec.key]
        else:
            value = np.zeros(curves.n_frames, np.float32)
            for name, coef in spec.terms:
                j = column.get(name, column.get(name.lower()))
                if j is not None:
                    value = value + np.float32(coef) * curves.values[:, j]
            value = np.clip(value, 0.0, 1.0)
        if spec.binary:
            value = (value >= 0.5).astype(np.float32)
        out[ch] = value.astype(np.float32)
    return out
