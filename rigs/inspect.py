"""`animate rig inspect RIG [--map names.json]`: what voxface sees in a rig and how it drives it.

For each mesh with morph targets: its targets, which ones are driven, by what channel and by
which rule (ARKit direct / case-insensitive / map / VRM preset / VRM expression (ARKit) /
Oculus viseme solve), and which are left at their default weight; then the ARKit shapes the
rig lacks and any warning the animation would print.
"""

from __future__ import annotations

import os
from pathlib import Path

from voxface.core.errors import InputError
from voxface.core.names import ARKIT_52
from voxface.core.rigplan import RigPlan
from voxface.rigs.gltf_rig import Rig, load_rig
from voxface.rigs.retarget import load_name_map, plan_rig

_MOUTH = {
    "arkit": "ARKit shapes, by name",
    "oculus": "Oculus visemes, solved from the ARKit pose of every frame",
    "vrm": "VRM vowel presets (aa ih ou ee oh), solved from the ARKit pose of every frame",
    "none": "nothing (no ARKit mouth shape, viseme or VRM vowel)",
}


def _channel_text(plan: RigPlan, channel: str, weight: float) -> str:
    text = channel
    if channel.startswith("oculus:"):
        text = channel[len("oculus:"):]
    if weight != 1.0:
        text += f" x{weight:g}"
    return text


def inspect_rig(rig: Rig, plan: RigPlan | None = None, *,
                name_map: dict | None = None) -> str:
    """The inspection report for a loaded rig, as text (one trailing newline)."""
    if plan is None:
        plan = plan_rig(rig, ARKIT_52, name_map=name_map)
    lines = [f"rig: {rig.path}"]
    if plan.vrm is not None:
        n_bound = sum(1 for e in plan.vrm.expressions if e.binds)
        lines.append(f"format: VRM {plan.vrm.version} ({len(plan.vrm.expressions)} expressions, "
                     f"{n_bound} with morph binds)")
    lines.append(f"mouth: {_MOUTH[plan.mouth]}")
    if plan.name_map:
        lines.append(f"name map: {len(plan.name_map)} entries")
    for mesh in rig.meshes:
        drives = plan.drives_of(mesh.index)
        nodes = ", ".join(str(n) for n in mesh.nodes) or "none"
        lines.append("")
        lines.append(f"mesh {mesh.name!r} (mesh {mesh.index}, nodes {nodes}): "
                     f"{mesh.n_targets} targets"
                     + ("" if mesh.named_in_file else " (unnamed in file)"))
        by_target: dict[int, list] = {}
        for d in drives:
            by_target.setdefault(d.target, []).append(d)
        width = max((len(n) for n in mesh.target_names), default=0)
        if by_target:
            lines.append(f"  driven ({len(by_target)}):")
        # Targets named exactly after their curve: one line, not one each.
        plain = [t for t in sorted(by_target) if len(by_target[t]) == 1
                 and by_target[t][0].weight == 1.0 and by_target[t][0].node is None
                 and by_target[t][0].channel == mesh.target_names[t]]
        for via in dict.fromkeys(by_target[t][0].via for t in plain):
            same = [mesh.target_names[t] for t in plain if by_target[t][0].via == via]
            lines.append(f"    [{via}] {len(same)}: " + ", ".join(same))
        for t in sorted(by_target):
            if t in plain:
                continue
            ds = by_target[t]
            source = " + ".join(_channel_text(plan, d.channel, d.weight)
                                + (f" (node {d.node})" if d.node is not None else "")
                                for d in ds)
            via = ", ".join(dict.fromkeys(d.via for d in ds))
            lines.append(f"    {mesh.target_names[t]:<{width}}  <- {source}  [{via}]")
        rest = [n for t, n in enumerate(mesh.target_names) if t not in by_target]
        if rest:
            lines.append(f"  not driven ({len(rest)}, held at their default weight): "
                         + ", ".join(rest))
        if not mesh.nodes:
            lines.append("  (no node uses this mesh: nothing of it is shown)")
    lines.append("")
    if plan.missing:
        lines.append(f"ARKit shapes with no target ({len(plan.missing)}): "
                     + ", ".join(plan.missing))
    else:
        lines.append("ARKit shapes with no target: none")
    for w in plan.warnings:
        lines.append(f"warning: {w}")
    return "\n".join(lines) + "\n"


def inspect_rig_text(path: str | os.PathLike, *, name_map_path: str | os.PathLike | None = None,
                     ) -> str:
    """Load `path` (and the map) and return `inspect_rig`'s report.

    A rig nothing can drive is still reported (its targets, and the reason), not refused.
    """
    name_map = load_name_map(name_map_path) if name_map_path is not None else None
    rig = load_rig(Path(path))
    try:
        plan = plan_rig(rig, ARKIT_52, name_map=name_map)
    except InputError as exc:
        lines = [f"rig: {rig.path}", "mouth: nothing", ""]
        for mesh in rig.meshes:
            lines.append(f"mesh {mesh.name!r} (mesh {mesh.index}): {mesh.n_targets} targets, "
                         f"none driven: " + ", ".join(mesh.target_names))
        lines += ["", f"error: {exc}"]
        return "\n".join(lines) + "\n"
    return inspect_rig(rig, plan)
