"""Blender-side half of tests/test_blender.py: runs inside the bpy interpreter (.venv-blender),
does one job and writes what it saw as JSON for the test to assert on.

    python blender_checks.py inspect BLEND REPORT.json EXPORT.glb
        open a .blend; report scene timing, sound strips and every shape-key F-curve; export
        the scene with Blender's own glTF exporter.
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


def inspect(blend: str, report: str, glb: str) -> None:
    bpy.ops.wm.open_mainfile(filepath=blend)
    out = _scene_report(bpy.context.scene)
    bpy.ops.export_scene.gltf(filepath=glb, export_format="GLB")
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
