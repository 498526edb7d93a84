"""`--map names.json`: a target named in the map is treated as the mapped name (an ARKit shape
or an Oculus viseme), times the entry's scale; the next adapters then match that name.
Drive.via "map". Entries that match no target are reported after the plan's notes."""

from __future__ import annotations

from voxface.core.rigplan import MAPPED
from voxface.rigs.kinds.base import PlanDraft, RigKind, TargetName, truncate


class NameMapKind(RigKind):
    name = "name_map"

    def _state(self, draft: PlanDraft) -> tuple[dict[str, tuple[str, float]], set[str]]:
        """(the map keyed by lower-cased, stripped target name; the keys used so far)."""
        if self.name not in draft.state:
            lowered = {k.strip().lower(): v for k, v in draft.name_map.items()}
            draft.state[self.name] = (lowered, set())
        return draft.state[self.name]

    def rename_target(self, draft: PlanDraft, target: str) -> TargetName | None:
        if not draft.name_map:
            return None
        lowered, used = self._state(draft)
        mapped = draft.name_map.get(target)
        if mapped is None:
            mapped = lowered.get(target.strip().lower())
        if mapped is None:
            return None
        used.add(target.strip().lower())
        return TargetName(name=mapped[0], scale=mapped[1], via=MAPPED)

    def late_warnings(self, draft: PlanDraft) -> list[str]:
        if not draft.name_map:
            return []
        _, used = self._state(draft)
        unused = sorted(k for k in draft.name_map if k.strip().lower() not in used)
        if not unused:
            return []
        return [f"name map: {len(unused)} names match no morph target: {truncate(unused)}"]


KIND = NameMapKind()
