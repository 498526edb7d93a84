"""VRM 0.x / 1.0 avatars, through their expressions' morph binds (`voxface.rigs.vrm`):

* custom expressions named after ARKit shapes (VRM "perfect sync" avatars) follow those curves
  ("VRM expression (ARKit)");
* when no ARKit speech shape or Oculus viseme drives the mouth, the vowel presets (aa ih ou ee
  oh; 0.x a i u e o) are fitted to every frame's ARKit mouth pose
  (`voxface.rigs.retarget.solve_vrm_vowels`), "VRM preset";
* blink / blinkLeft / blinkRight and lookUp/Down/Left/Right follow eyeBlink* / eyeLook* when the
  rig has no ARKit target for those ("VRM preset").

Bind problems (binds pointing nowhere) become warnings, the first five listed.
"""

from __future__ import annotations

from voxface.core.names import canonical_arkit
from voxface.core.rigplan import VRM_CUSTOM, VRM_PRESET, DerivedChannel, Drive, VrmExpression
from voxface.rigs.kinds.base import PlanDraft, RigKind
from voxface.rigs.vrm import VOWELS, read_vrm

# VRM presets that follow ARKit eye shapes: preset -> {ARKit name: coefficient}.
VRM_EYE_PRESETS: dict[str, dict[str, float]] = {
    "blink": {"eyeBlinkLeft": 0.5, "eyeBlinkRight": 0.5},
    "blinkLeft": {"eyeBlinkLeft": 1.0},
    "blinkRight": {"eyeBlinkRight": 1.0},
    "lookUp": {"eyeLookUpLeft": 0.5, "eyeLookUpRight": 0.5},
    "lookDown": {"eyeLookDownLeft": 0.5, "eyeLookDownRight": 0.5},
    # The avatar looks to its own left: left eye outward, right eye inward.
    "lookLeft": {"eyeLookOutLeft": 0.5, "eyeLookInRight": 0.5},
    "lookRight": {"eyeLookInLeft": 0.5, "eyeLookOutRight": 0.5},
}

_PROBLEMS_LISTED = 5


def _add_binds(draft: PlanDraft, expression: VrmExpression, channel: str, via: str) -> int:
    """Drive the expression's bound targets (those not already taken) from `channel`; return
    how many drives were added. Binds add to a target without taking it."""
    morph_meshes = {m.index for m in draft.rig.meshes}
    added = 0
    for b in expression.binds:
        if b.mesh not in morph_meshes or (b.mesh, b.index) in draft.taken:
            continue
        draft.add(Drive(mesh=b.mesh, target=b.index, channel=channel, weight=b.weight, via=via,
                        node=b.node), take=False)
        added += 1
    return added


class VrmKind(RigKind):
    name = "vrm"
    mouth = "vrm"
    solves_speech = True

    def add_rig_drives(self, draft: PlanDraft) -> None:
        draft.vrm = vrm = read_vrm(draft.rig.document)
        if vrm is None:
            return
        draft.warnings += [f"VRM: {p if p.isprintable() else repr(p)}"
                           for p in vrm.problems[:_PROBLEMS_LISTED]]
        if len(vrm.problems) > _PROBLEMS_LISTED:
            draft.warnings.append(f"VRM: ... (+{len(vrm.problems) - _PROBLEMS_LISTED} more bind "
                                  "problems)")
        if not draft.is_arkit:
            return
        for e in vrm.expressions:  # perfect-sync avatars: custom expressions named after ARKit
            arkit = canonical_arkit(e.name) if e.preset is None else None
            if arkit is None or arkit not in draft.arkit_curves:
                continue
            channel = f"vrm:{e.name}"
            if _add_binds(draft, e, channel, VRM_CUSTOM):
                draft.derived[channel] = DerivedChannel("linear", terms=((arkit, 1.0),),
                                                        binary=e.is_binary)

    def claims_mouth(self, draft: PlanDraft) -> bool:
        return draft.is_arkit and draft.vrm is not None \
            and any(draft.vrm.preset(v) for v in VOWELS)

    def drive_mouth(self, draft: PlanDraft) -> None:
        for v in VOWELS:
            e = draft.vrm.preset(v)
            if e is not None:
                channel = f"vrm:{e.name}"
                draft.derived[channel] = DerivedChannel("vrm-vowel", key=v, binary=e.is_binary)
                _add_binds(draft, e, channel, VRM_PRESET)

    def mouth_note(self, draft: PlanDraft) -> str | None:
        n_vow = sum(1 for v in VOWELS if draft.vrm.preset(v))
        return (f"rig has no ARKit mouth shapes: the mouth is driven through its {n_vow} VRM "
                f"{draft.vrm.version} vowel presets, fitted to every frame's ARKit mouth pose")

    def add_late_drives(self, draft: PlanDraft) -> None:
        vrm = draft.vrm
        if vrm is None or not draft.is_arkit:
            return
        eye_presets = ["blinkLeft", "blinkRight"] \
            if vrm.preset("blinkLeft") and vrm.preset("blinkRight") else ["blink"]
        eye_presets += ["lookUp", "lookDown", "lookLeft", "lookRight"]
        for p in eye_presets:
            e = vrm.preset(p)
            sources = VRM_EYE_PRESETS[p]
            # The ARKit targets win where the rig has them; a preset needs all its sources.
            if e is None or set(sources) & draft.direct \
                    or not set(sources) <= draft.arkit_curves:
                continue
            channel = f"vrm:{e.name}"
            if _add_binds(draft, e, channel, VRM_PRESET):
                draft.derived[channel] = DerivedChannel("linear", terms=tuple(sources.items()),
                                                        binary=e.is_binary)


KIND = VrmKind()
