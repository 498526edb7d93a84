"""Oculus visemes (`viseme_PP` ..., or VRChat's `vrc.v_pp` ...): when no ARKit speech shape is
named on the rig, every frame's ARKit mouth pose is fitted by a non-negative combination of the
visemes' ARKit poses (`voxface.rigs.retarget.solve_visemes`); `viseme_sil` takes what the
others leave. Drive.via "Oculus viseme solve" (or "map" for a mapped target)."""

from __future__ import annotations

from voxface.core.names import OCULUS_15
from voxface.core.rigplan import VISEME_SOLVE, DerivedChannel, Drive
from voxface.rigs.kinds.base import PlanDraft, RigKind, TargetName

# Target names recognised as Oculus visemes (lower-cased): RPM / Oculus and VRChat spellings.
_VRC = {"sil": "sil", "pp": "PP", "ff": "FF", "th": "TH", "dd": "DD", "kk": "kk", "ch": "CH",
        "ss": "SS", "nn": "nn", "rr": "RR", "aa": "aa", "e": "E", "ih": "I", "oh": "O", "ou": "U"}
VISEME_ALIASES: dict[str, str] = {v.lower(): v for v in OCULUS_15}
VISEME_ALIASES.update({f"vrc.v_{k}": f"viseme_{v}" for k, v in _VRC.items()})


class OculusKind(RigKind):
    name = "oculus"
    mouth = "oculus"
    solves_speech = True

    def _targets(self, draft: PlanDraft) -> list[tuple[int, int, str, float, str]]:
        """The viseme targets seen in stage 1: (mesh, target, viseme, scale, via)."""
        return draft.state.setdefault(self.name, [])

    def match(self, draft: PlanDraft, mesh: int, index: int, target: TargetName) -> bool:
        vis = VISEME_ALIASES.get(target.name.strip().lower())
        if vis is None:
            return False
        # Driven only if the mouth stage picks the visemes: noted here, added there.
        self._targets(draft).append((mesh, index, vis, target.scale,
                                     target.via or VISEME_SOLVE))
        return True

    def claims_mouth(self, draft: PlanDraft) -> bool:
        return draft.is_arkit and any(v != "viseme_sil" for _, _, v, _, _ in self._targets(draft))

    def drive_mouth(self, draft: PlanDraft) -> None:
        for mesh, index, vis, scale, via in self._targets(draft):
            channel = f"oculus:{vis}"
            draft.derived[channel] = DerivedChannel("oculus", key=vis)
            draft.add(Drive(mesh=mesh, target=index, channel=channel, weight=scale, via=via))

    def mouth_note(self, draft: PlanDraft) -> str | None:
        n_vis = len({v for _, _, v, _, _ in self._targets(draft)})
        return (f"rig has no ARKit mouth shapes: the mouth is driven through its {n_vis} "
                "Oculus visemes, fitted to every frame's ARKit mouth pose")


KIND = OculusKind()
