"""VRM avatars (0.x `VRM` extension and 1.0 `VRMC_vrm`): their expressions and morph binds.

A `.vrm` file is a GLB. Its face is animated through *expressions*: named presets (the five
vowels, blinks, eye looks, emotions) and custom ones, each a list of binds that set a morph
target of a mesh to some weight. voxface reads those binds and writes the animation on the bound
morph targets, so the file plays in any glTF viewer, and a VRM runtime sees the same targets move.

The two versions say the same thing differently:

| | VRM 0.x (`extensions.VRM.blendShapeMaster`) | VRM 1.0 (`extensions.VRMC_vrm.expressions`) |
|---|---|---|
| vowels | presetName a, i, u, e, o | preset aa, ih, ou, ee, oh |
| blinks | blink, blink_l, blink_r | blink, blinkLeft, blinkRight |
| looks | lookup, lookdown, lookleft, lookright | lookUp, lookDown, lookLeft, lookRight |
| emotions | joy, angry, sorrow, fun, neutral | happy, angry, sad, relaxed, surprised, neutral |
| custom | presetName unknown, by `name` | `expressions.custom.<name>` |
| bind | {mesh: mesh index, index, weight 0..100} | {node: node index, index, weight 0..1} |

Everything here is normalised to the 1.0 vocabulary: preset names as in 1.0, weights in 0..1,
and each bind resolved to (mesh index, node index or None = every node using the mesh).
A bind that points at nothing is reported in `VrmInfo.problems` and skipped, never fatal.
The types (`VrmInfo`, `VrmExpression`, `VrmBind`) are values of the core
(`voxface.core.rigplan`), since a rig plan carries them.
"""

from __future__ import annotations

from voxface.core.rigplan import VrmBind, VrmExpression, VrmInfo

# VRM 0.x presetName -> VRM 1.0 preset name.
PRESETS_0_TO_1: dict[str, str] = {
    "a": "aa", "i": "ih", "u": "ou", "e": "ee", "o": "oh",
    "blink": "blink", "blink_l": "blinkLeft", "blink_r": "blinkRight",
    "lookup": "lookUp", "lookdown": "lookDown", "lookleft": "lookLeft", "lookright": "lookRight",
    "joy": "happy", "angry": "angry", "sorrow": "sad", "fun": "relaxed", "neutral": "neutral",
    "surprised": "surprised",
}
VOWELS: tuple[str, ...] = ("aa", "ih", "ou", "ee", "oh")


def read_vrm(document: dict) -> VrmInfo | None:
    """The VRM expressions of a glTF document, or None when it is not a VRM."""
    ext = document.get("extensions") or {}
    if not isinstance(ext, dict):
        return None
    if isinstance(ext.get("VRMC_vrm"), dict):
        return _read_vrm1(document, ext["VRMC_vrm"])
    if isinstance(ext.get("VRM"), dict):
        return _read_vrm0(document, ext["VRM"])
    return None


def _targets_of_mesh(document: dict, mesh: int) -> int:
    """Number of morph targets of file mesh `mesh` (0 when it has none)."""
    mesh_doc = (document.get("meshes") or [])[mesh]
    prims = mesh_doc.get("primitives") if isinstance(mesh_doc, dict) else None
    return max((len(p.get("targets") or []) for p in prims if isinstance(p, dict)), default=0) \
        if isinstance(prims, list) else 0


def _number(value: object, default: float) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) \
        else default


def _read_vrm0(document: dict, vrm: dict) -> VrmInfo:
    problems: list[str] = []
    meshes = document.get("meshes") or []
    out = []
    master = vrm.get("blendShapeMaster") or {}
    groups = master.get("blendShapeGroups") if isinstance(master, dict) else None
    for g, group in enumerate(groups if isinstance(groups, list) else []):
        if not isinstance(group, dict):
            continue
        preset_name = str(group.get("presetName") or "unknown").lower()
        preset = PRESETS_0_TO_1.get(preset_name)
        name = str(group.get("name") or preset_name)
        binds = []
        binds_raw = group.get("binds")
        for b, bind in enumerate(binds_raw if isinstance(binds_raw, list) else []):
            where = f"VRM blendShapeGroups[{g}] ({name}) binds[{b}]"
            if not isinstance(bind, dict):
                problems.append(f"{where}: not an object")
                continue
            mesh, index = bind.get("mesh"), bind.get("index")
            if not (isinstance(mesh, int) and 0 <= mesh < len(meshes)):
                problems.append(f"{where}: mesh {mesh!r} does not exist")
                continue
            if not (isinstance(index, int) and 0 <= index < _targets_of_mesh(document, mesh)):
                problems.append(f"{where}: mesh {mesh} has no morph target {index!r}")
                continue
            weight = _number(bind.get("weight"), 100.0) / 100.0  # 0.x weights are 0..100
            binds.append(VrmBind(mesh=mesh, index=index, weight=weight))
        out.append(VrmExpression(name=name, preset=preset, binds=tuple(binds),
                                 is_binary=bool(group.get("isBinary", False))))
    return VrmInfo(version="0.x", expressions=tuple(out), problems=tuple(problems))


def _read_vrm1(document: dict, vrm: dict) -> VrmInfo:
    problems: list[str] = []
    nodes = document.get("nodes") or []
    out = []
    expressions = vrm.get("expressions") or {}
    if not isinstance(expressions, dict):
        expressions = {}
    for kind in ("preset", "custom"):
        table = expressions.get(kind) or {}
        if not isinstance(table, dict):
            continue
        for name, expr in table.items():
            if not isinstance(expr, dict):
                continue
            binds = []
            binds_raw = expr.get("morphTargetBinds")
            for b, bind in enumerate(binds_raw if isinstance(binds_raw, list) else []):
                where = f"VRMC_vrm expressions.{kind}.{name}.morphTargetBinds[{b}]"
                if not isinstance(bind, dict):
                    problems.append(f"{where}: not an object")
                    continue
                node, index = bind.get("node"), bind.get("index")
                if not (isinstance(node, int) and 0 <= node < len(nodes)):
                    problems.append(f"{where}: node {node!r} does not exist")
                    continue
                mesh = nodes[node].get("mesh") if isinstance(nodes[node], dict) else None
                if not isinstance(mesh, int):
                    problems.append(f"{where}: node {node} has no mesh")
                    continue
                if not (0 <= mesh < len(document.get("meshes") or [])
                        and isinstance(index, int)
                        and 0 <= index < _targets_of_mesh(document, mesh)):
                    problems.append(f"{where}: mesh {mesh} has no morph target {index!r}")
                    continue
                binds.append(VrmBind(mesh=mesh, index=index, node=node,
                                     weight=_number(bind.get("weight"), 1.0)))
            out.append(VrmExpression(name=name, preset=name if kind == "preset" else None,
                                     binds=tuple(binds),
                                     is_binary=bool(expr.get("isBinary", False))))
    return VrmInfo(version="1.0", expressions=tuple(out), problems=tuple(problems))
