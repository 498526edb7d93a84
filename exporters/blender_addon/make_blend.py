"""Build a .blend from a glTF rig, per-mesh shape key values and the audio. Runs inside Blender:

    python make_blend.py JOB.json                                   (PyPI `bpy` module)
    blender -b --factory-startup --python make_blend.py -- JOB.json  (a Blender install)

`voxface.exporters.blender` writes the job and runs this script in a subprocess, because bpy
needs its own Python (3.11, numpy < 2). JOB.json:

    {"rig": glTF path, "audio": path or null, "output": path ending .blend,
     "action": action name, "fps": frames per second, "duration": seconds,
     "tracks": [{"node": glTF node name, "targets": [shape key names],
                 "values": path of a float32 .npy [T, len(targets)]}, ...]}

Track values are exactly the morph weights voxface's animated .glb holds for that node, so the
.blend follows the rig the same way (ARKit names, --map, viseme solves, VRM binds). Row i is
frame i. The keying is the add-on's own code (voxface_lipsync.keying, next to this file).

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


def build(job: dict) -> dict:
    """Import the rig, key the tracks onto its shape keys, time the scene, add the sound,
    save. Returns {object name: shape keys keyed}."""
    import bpy
    import numpy as np
    from voxface_lipsync.curves_io import TakeError
    from voxface_lipsync.keying import (add_sound_strip, key_values, new_action, scene_fps,
                                        set_scene_timing)

    bpy.ops.wm.read_factory_settings(use_empty=True)
    # The original rig, not voxface's animated .glb: for an animated skinned mesh, Blender's
    # importer adds a second copy of the object to carry the animation.
    try:
        bpy.ops.import_scene.gltf(filepath=job["rig"])
    except RuntimeError as exc:
        raise TakeError(f"{job['rig']}: Blender's glTF importer failed: "
                        f"{str(exc).strip().splitlines()[-1]}") from None
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
