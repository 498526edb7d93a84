"""Blender-side half of tests/test_blender.py: runs inside the bpy interpreter (.venv-blender),
does one job and writes what it saw as JSON for the test to assert on.

    python blender_checks.py inspect BLEND REPORT.json EXPORT.glb [ANIMATED.glb]
        open a .blend; report scene timing, sound strips, every shape-key F-curve, every
        armature's F-curves and the world rotation of each keyed pose bone at every frame;
        export the scene with Blender's own glTF exporter. With ANIMATED.glb (voxface's .glb),
        also import that with Blender's importer and report the same bones' world rotations
        at the same times, as Blender itself reads the glTF animation.
    python blender_checks.py addon CONFIG.json REPORT.json
        install and enable the add-on zip, import a rig, run the add-on's operators as CONFIG
        says, and report the keyframes each left on the shape keys.
"""

import json
import sys

import bpy


def _fcurves(key) -> tuple[str | None, dict]:
    """(action name, {shape key name: [[frame, value], ...]}) of a Key's assigned action."""
    ad = key.animation_data
    if ad is None or ad.action is None:
        return None, {}
    from bpy_extras.anim_utils import action_get_channelbag_for_slot

    bag = action_get_channelbag_for_slot(ad.action, ad.action_slot)
    out = {}
    for fc in bag.fcurves if bag is not None else ():
        block = fc.data_path.split('"')[1]
        out[block] = {"co": [list(k.co) for k in fc.keyframe_points],
                      "interpolation": sorted({k.interpolation for k in fc.keyframe_points})}
    return ad.action.name, out


def _scene_report(scene) -> dict:
    se = scene.sequence_editor
    strips = []
    for s in (se.strips_all if se is not None else ()):
        strips.append({"name": s.name, "type": s.type, "channel": s.channel,
                       "frame_start": s.frame_start, "frame_final_duration": s.frame_final_duration,
                       "filepath": bpy.path.abspath(s.sound.filepath) if s.type == "SOUND"
                       else None,
                       "raw_filepath": s.sound.filepath if s.type == "SOUND" else None})
    meshes = {}
    for ob in scene.objects:
        key = getattr(ob.data, "shape_keys", None)
        if key is not None:
            action, curves = _fcurves(key)
            meshes[ob.name] = {"action": action, "slot": key.animation_data.action_slot.name_display
                               if action else None, "curves": curves}
    return {"fps": scene.render.fps, "fps_base": scene.render.fps_base,
            "frame_start": scene.frame_start, "frame_end": scene.frame_end,
            "sync_mode": scene.sync_mode, "use_audio_scrub": scene.use_audio_scrub,
            "strips": strips, "meshes": meshes}


def _armature_report(scene) -> dict:
    """{armature: {action, slot, curves: {"path[index]": {co, interpolation}}, world: {bone:
    [[w, x, y, z] world rotation at frame 0, 1, ... frame_end]}}} for every armature object;
    world rotations only for bones with keys."""
    from bpy_extras.anim_utils import action_get_channelbag_for_slot

    out = {}
    for ob in scene.objects:
        if ob.type != "ARMATURE":
            continue
        ad = ob.animation_data
        action = ad.action if ad is not None else None
        curves, bones = {}, []
        bag = action_get_channelbag_for_slot(action, ad.action_slot) if action else None
        for fc in bag.fcurves if bag is not None else ():
            curves[f"{fc.data_path}[{fc.array_index}]"] = {
                "co": [list(k.co) for k in fc.keyframe_points],
                "interpolation": sorted({k.interpolation for k in fc.keyframe_points})}
            if fc.data_path.startswith("pose.bones[") and fc.data_path.split('"')[1] not in bones:
                bones.append(fc.data_path.split('"')[1])
        out[ob.name] = {"action": action.name if action else None,
                        "slot": ad.action_slot.name_display if action else None,
                        "curves": curves, "bones": bones}
    return out


def _world_rotations(scene, bones: dict, frames: list) -> dict:
    """{armature: {bone: [[w, x, y, z] per frame]}}: pose bones' world rotations at `frames`
    (float frames allowed)."""
    out = {arma: {b: [] for b in names} for arma, names in bones.items()}
    for frame in frames:
        scene.frame_set(int(frame // 1), subframe=float(frame % 1))
        for arma, names in bones.items():
            ob = scene.objects[arma]
            for b in names:
                m = (ob.matrix_world @ ob.pose.bones[b].matrix).to_3x3().normalized()
                out[arma][b].append(list(m.to_quaternion()))
    return out


def inspect(blend: str, report: str, glb: str, animated_glb: str | None = None) -> None:
    bpy.ops.wm.open_mainfile(filepath=blend)
    scene = bpy.context.scene
    out = _scene_report(scene)
    out["armatures"] = _armature_report(scene)
    keyed = {arma: a["bones"] for arma, a in out["armatures"].items() if a["bones"]}
    n = scene.frame_end - scene.frame_start + 1
    frames = [scene.frame_start + i for i in range(n)]
    out["bone_world"] = _world_rotations(scene, keyed, frames)
    scene.frame_set(scene.frame_start)
    bpy.ops.export_scene.gltf(filepath=glb, export_format="GLB")
    if animated_glb:
        fps = scene.render.fps / scene.render.fps_base
        bpy.ops.wm.read_factory_settings(use_empty=True)
        bpy.ops.import_scene.gltf(filepath=animated_glb)
        scene = bpy.context.scene
        # The importer keys glTF time t at frame t * (render.fps * render.fps_base).
        rate = scene.render.fps * scene.render.fps_base
        out["glb_bone_world"] = _world_rotations(
            scene, keyed, [(f - frames[0]) / fps * rate for f in frames])
    with open(report, "w") as f:
        json.dump(out, f)


def addon(config_path: str, report: str) -> None:
    with open(config_path) as f:
        cfg = json.load(f)
    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.ops.preferences.addon_install(filepath=cfg["zip"], overwrite=True)
    bpy.ops.preferences.addon_enable(module=cfg["module"])
    prefs = bpy.context.preferences.addons[cfg["module"]].preferences
    prefs.animate_path = cfg["animate"]
    bpy.ops.import_scene.gltf(filepath=cfg["rig"])
    out = {"panel": hasattr(bpy.types, "VIEW3D_PT_voxface_lipsync"), "runs": []}
    for run in cfg["runs"]:
        # Each run starts from no animation on the selected mesh, which is the active object.
        for ob in bpy.context.scene.objects:
            ob.select_set(ob.name in run["select"])
            key = getattr(ob.data, "shape_keys", None)
            if key is not None and key.animation_data is not None:
                key.animation_data_clear()
        bpy.context.view_layer.objects.active = bpy.data.objects[run["select"][0]]
        op = getattr(bpy.ops.voxface, run["operator"])
        result = op(**run["args"])
        out["runs"].append({"result": sorted(result), **_scene_report(bpy.context.scene)})
    with open(report, "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    {"inspect": inspect, "addon": addon}[sys.argv[1]](*sys.argv[2:])
