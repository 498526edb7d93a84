"""Targets named after a curve: exactly (`jawOpen`, "ARKit direct"; or a non-ARKit curve name,
"name"), or ignoring case, surrounding space and a `prefix.` / `prefix:` / `prefix|` namespace
(`JawOpen`, `blendShape1.jawOpen`, "case-insensitive"). When any of them is a speech shape (jaw,
lips, tongue), the mouth is driven by these names."""

from __future__ import annotations

from voxface.core.names import canonical_arkit
from voxface.core.rigplan import CASE, DIRECT, NAME, Drive
from voxface.rigs.kinds.base import SPEECH_SHAPES, PlanDraft, RigKind, TargetName


def strip_namespace(name: str) -> str | None:
    """'blendShape1.jawOpen' -> 'jawOpen', 'Face:jawOpen' -> 'jawOpen'; None without one."""
    for sep in (".", ":", "|"):
        if sep in name:
            return name.rsplit(sep, 1)[1]
    return None


class ArkitKind(RigKind):
    name = "arkit"
    mouth = "arkit"

    def match(self, draft: PlanDraft, mesh: int, index: int, target: TargetName) -> bool:
        effective, via = target.name, target.via
        j = draft.column.get(effective.strip().lower())
        if j is None and via is None:  # a mapped name is taken as given, never un-prefixed
            bare = strip_namespace(effective)
            if bare is not None and bare.strip().lower() in draft.column:
                j = draft.column[bare.strip().lower()]
                via = CASE
        if j is None:
            return False
        if via is None:
            if draft.names[j] == effective:
                via = DIRECT if canonical_arkit(effective) == effective else NAME
            else:
                via = CASE
        draft.add(Drive(mesh=mesh, target=index, channel=draft.names[j], weight=target.scale,
                        via=via))
        return True

    def claims_mouth(self, draft: PlanDraft) -> bool:
        return bool(draft.direct & set(SPEECH_SHAPES))


KIND = ArkitKind()
