"""Build a .blend from a glTF rig, per-mesh shape key values and the audio. Runs inside Blender:

    python make_blend.py JOB.json                                   (PyPI `bpy` module)
    blender -b --factory-startup --python make_blend.py -- JOB.json  (a Blender install)

`voxface.exporters.blender` writes the job and runs this script in a subprocess, because bpy
needs its own Python (3.11, numpy < 2). JOB.json:

    {"rig": glTF path, "audio": path or null, "output": path ending .blend,
     "action": action name, "fps": frames per second, "duration": seconds,
     "tracks": [{"node": glTF node name, "targets": [shape key names],
                 "values": path of a float32 .npy [T, len(targets)]}, ...],
     "bones": [{"bone": glTF node name, "deltas": path of a float64 .npy [T, 4],
                "rest_world": [x, y, z, w], "parent_rest_world": [x, y, z, w] or null}, ...]}

Track values are exactly the morph weights voxface's animated .glb holds for that node, so the
.blend follows the rig the same way (ARKit names, --map, viseme solves, VRM binds). Row i is
frame i. The keying is the add-on's own code (voxface_lipsync.keying, next to this file).

Bone deltas are the .glb's head / neck / eye rotations as rotations about the glTF world axes
relative to the bone's rest (glTF xyzw, `voxface.rigs.head_pose.world_axis_deltas`), with the
rest world rotations of the bone and of its parent node (glTF xyzw). They are turned into
pose-bone rotations here (`_pose_rotations`), because Blender's glTF importer re-orients every
bone (its tip on local +Y) and may rest it in a guessed bind pose: only the world-space turn is
common to both programs. "bones" may be missing or empty.

Exit status: 0 done (last stdout line `voxface-blend: ok {json report}`); 3 bpy is not
importable; 4 bad input, with one stderr line `voxface-blend: input error: ...`; 1 otherwise.
"""

import json
import os
import re
import sys
from pathlib import Path

EXIT_NO_BPY, EXIT_INPUT = 3, 4


def _fail(code: int, message: str) -> int:
    kind = "input error" if code == EXIT_INPUT else "error"
    print(f"voxface-blend: {kind}: {message}", file=sys.stderr, flush=True)
    return code


def _object_for(scene, node: str, targets: list[str], taken: set):
    """The object Blender's glTF importer made for glTF node `node`: named after the node
    (Blender appends .001 on a clash), with every one of `targets` among its shape keys."""
    from voxface_lipsync.curves_io import TakeError

    def fits(ob) -> bool:
        key = ob.data.shape_keys if ob.type == "MESH" else None
        return key is not None and set(targets) <= set(key.key_blocks.keys())

    fitting = [ob for ob in scene.objects if fits(ob) and ob.name not in taken]
    for same in ([ob for ob in fitting if ob.name == node],
                 [ob for ob in fitting if re.sub(r"\.\d{3,}$", "", ob.name) == node]):
        if same:
            return same[0]
    raise TakeError(f"Blender's glTF import has no mesh object for node {node!r} with shape "
                    f"keys {', '.join(targets[:3])}, ...")


def _pose_bone_for(scene, bone: str):
    """(armature object, pose bone) that Blender's glTF importer made for glTF node `bone`."""
    from voxface_lipsync.curves_io import TakeError

    found = [(ob, ob.pose.bones[bone]) for ob in scene.objects
             if ob.type == "ARMATURE" and bone in ob.pose.bones]
    if len(found) != 1:
        where = "no armature" if not found else f"{len(found)} armatures"
        raise TakeError(f"Blender's glTF import has {where} with a bone {bone!r} to turn")
    return found[0]


def _qmul(a, b):
    """Hamilton products of w, x, y, z quaternions, broadcast over leading axes."""
    import numpy as np

    aw, ax, ay, az = np.moveaxis(a, -1, 0)
    bw, bx, by, bz = np.moveaxis(b, -1, 0)
    return np.stack([aw * bw - ax * bx - ay * by - az * bz,
                     aw * bx + ax * bw + ay * bz - az * by,
                     aw * by - ax * bz + ay * bw + az * bx,
                     aw * bz + ax * by - ay * bx + az * bw], axis=-1)


def _blender_rest(rest_world):
    """The Blender world rotation of a bone that Blender's glTF importer made from a node whose
    rest world rotation is `rest_world` (glTF xyzw): the change of basis from glTF's Y-up to
    Blender's Z-up, (x, y, z) -> (x, -z, y), which turns a rotation (w, x, y, z) into
    (w, x, -z, y), then the importer's turn of every bone frame by +90 degrees about its own X
    (its default bone heuristic: a Blender bone's tip is on its local +Y)."""
    import math

    from mathutils import Quaternion

    x, y, z, w = rest_world
    return Quaternion((w, x, -z, y)) @ Quaternion((1.0, 0.0, 0.0), math.pi / 2)


def _rotation(matrix):
    return matrix.to_3x3().normalized().to_quaternion()


def _pose_rotations(ob, pose_bone, track: dict, deltas):
    """Pose-bone rotations (w, x, y, z, [T, 4]) that turn `pose_bone` by `deltas`.

    `deltas` (glTF xyzw [T, 4]) turn the bone about glTF world axes, relative to its rest and to
    its parent's motion; in Blender's axes a delta d is d_b = (w, x, -z, y). With M the bone's
    Blender world rotation in the glTF rest pose (`_blender_rest`) and B its pose rotation
    there, the key B M^-1 d_b M makes its world rotation (parent's delta) d_b M: the glTF's
    world orientation, in Blender's frame, with the importer's bone axes.

    The rest comes from the glTF (`track["rest_world"]`, `track["parent_rest_world"]`) and the
    armature's rest bones, not from the imported pose: a rig that brings its own animation is
    imported posed at that animation's first frame.
    """
    import numpy as np
    from voxface_lipsync.curves_io import TakeError

    m = _blender_rest(track["rest_world"])
    bone = pose_bone.bone
    if bone.parent is not None:
        if track.get("parent_rest_world") is None:
            raise TakeError(f"bone {bone.name!r}: a parent bone in Blender, none in the glTF")
        rel = _rotation(bone.parent.matrix_local.inverted() @ bone.matrix_local)
        b = rel.inverted() @ _blender_rest(track["parent_rest_world"]).inverted() @ m
    else:
        b = _rotation(bone.matrix_local).inverted() @ _rotation(ob.matrix_world).inverted() @ m
    x, y, z, w = np.moveaxis(np.asarray(deltas, np.float64), -1, 0)
    d_b = np.stack([w, x, -z, y], axis=-1)
    left = np.asarray(b @ m.inverted(), np.float64)
    q = _qmul(_qmul(left, d_b), np.asarray(m, np.float64))
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    # Continuous signs, so LINEAR interpolation between keys takes the short way.
    flip = np.cumsum(np.r_[0, (np.sum(q[1:] * q[:-1], axis=1) < 0)]) % 2 == 1
    q[flip] = -q[flip]
    if q[0] @ np.asarray(b, np.float64) < 0:  # the same hemisphere as the rest pose
        q = -q
    return q


def import_rig(path: str) -> None:
    """An empty scene with the glTF rig at `path` imported (Blender's importer, default
    settings); TakeError naming the file when the importer fails."""
    import bpy
    from voxface_lipsync.curves_io import TakeError

    bpy.ops.wm.read_factory_settings(use_empty=True)
    try:
        bpy.ops.import_scene.gltf(filepath=path)
    except RuntimeError as exc:
        raise TakeError(f"{path}: Blender's glTF importer failed: "
                        f"{str(exc).strip().splitlines()[-1]}") from None


def build(job: dict) -> dict:
    """Import the rig, key the tracks onto its shape keys and the bone deltas onto its pose
    bones, time the scene, add the sound, save. Returns {object name: shape keys keyed,
    armature object name: [bones keyed]}."""
    import bpy
    import numpy as np
    from voxface_lipsync.curves_io import TakeError
    from voxface_lipsync.keying import (add_sound_strip, key_bone_rotations, key_values,
                                        new_action, scene_fps, set_scene_timing)

    # The original rig, not voxface's animated .glb: for an animated skinned mesh, Blender's
    # importer adds a second copy of the object to carry the animation.
    import_rig(job["rig"])
    scene = bpy.context.scene
    # Frame i is scene frame i, so frame / fps is the time in the audio, as in the JSON, the
    # glTF and what Blender's glTF exporter writes.
    set_scene_timing(scene, job["fps"], 0, job["duration"])
    action = new_action(job["action"])
    report, keyed, taken = {}, {}, set()
    for track in job["tracks"]:
        values = np.load(track["values"])
        ob = _object_for(scene, track["node"], track["targets"], taken)
        taken.add(ob.name)
        key = ob.data.shape_keys
        if key.name in keyed:  # nodes sharing one mesh share its shape keys: key them once
            continue
        frames = np.arange(len(values), dtype=np.float64) * scene_fps(scene) / job["fps"]
        key_values(key, action, track["targets"], frames, values)
        keyed[key.name] = ob.name
        report[ob.name] = len(track["targets"])
    for track in job.get("bones") or ():
        ob, pose_bone = _pose_bone_for(scene, track["bone"])
        quats = _pose_rotations(ob, pose_bone, track, np.load(track["deltas"]))
        frames = np.arange(len(quats), dtype=np.float64) * scene_fps(scene) / job["fps"]
        key_bone_rotations(ob, action, pose_bone.name, frames, quats)
        report.setdefault(ob.name, []).append(pose_bone.name)
    if job.get("audio"):
        add_sound_strip(scene, job["audio"], frame_start=0, name=Path(job["audio"]).name)
    scene.frame_current = 0
    # No `.blend1` backup beside the output when the second save below overwrites the first.
    bpy.context.preferences.filepaths.save_version = 0
    bpy.ops.wm.save_as_mainfile(filepath=job["output"], check_existing=False)
    # Blender's default for the files it saves: the sound is found relative to the .blend.
    bpy.ops.file.make_paths_relative()
    bpy.ops.wm.save_mainfile(check_existing=False)
    return report


def run_job(argv: list[str], script: str, work) -> int:
    """Run one Blender job: read JOB.json (the one argument after `--`), call `work(job)`,
    print `voxface-blend: ok <report JSON>`; map failures to this module's exit codes.
    Shared by every job script in this folder."""
    args = argv[argv.index("--") + 1:] if "--" in argv else argv[1:]
    if len(args) != 1:
        return _fail(1, f"usage: {script} JOB.json")
    try:
        import bpy  # noqa: F401
    except ImportError as exc:
        return _fail(EXIT_NO_BPY, f"cannot import bpy ({exc})")
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from voxface_lipsync.curves_io import TakeError

    with open(args[0], encoding="utf-8") as f:
        job = json.load(f)
    try:
        report = work(job)
    except TakeError as exc:
        return _fail(EXIT_INPUT, str(exc))
    print("voxface-blend: ok " + json.dumps(report), flush=True)
    return 0


def main(argv: list[str]) -> int:
    return run_job(argv, "make_blend.py", build)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
