"""Build a .blend from a glTF rig, voxface curves JSON and the audio. Runs inside Blender:

    python make_blend.py JOB.json                                   (PyPI `bpy` module)
    blender -b --factory-startup --python make_blend.py -- JOB.json  (a Blender install)

JOB.json is {"rig": glTF path, "curves": voxface JSON path, "audio": path or null,
"output": path ending .blend, "action": action name}. `voxface.exporters.blender` writes the job
and runs this script in a subprocess, because bpy needs its own Python (3.11, numpy < 2).

The keying is the add-on's own code (voxface_lipsync.keying, next to this file), so a .blend
made here and an animation imported with the add-on are built the same way.

Exit status: 0 done (last stdout line `voxface-blend: ok {json report}`); 3 bpy is not
importable; 4 bad input, with one stderr line `voxface-blend: input error: ...`; 1 otherwise.
"""

import json
import os
import sys
from pathlib import Path

EXIT_NO_BPY, EXIT_INPUT = 3, 4


def _fail(code: int, message: str) -> int:
    kind = "input error" if code == EXIT_INPUT else "error"
    print(f"voxface-blend: {kind}: {message}", file=sys.stderr, flush=True)
    return code


def build(job: dict) -> dict:
    """Import the rig, key the curves onto its shape keys, add the sound, save. Returns
    {mesh name: shape keys keyed}."""
    import bpy

    from voxface_lipsync.curves_io import TakeError, read_take
    from voxface_lipsync.keying import (add_sound_strip, key_take, scene_fps, set_scene_timing,
                                        shape_key_sets)

    take = read_take(job["curves"])
    bpy.ops.wm.read_factory_settings(use_empty=True)
    # The original rig, not voxface's animated .glb: Blender's importer would turn that file's
    # animation into actions named and sampled its own way; keying here gives exact values on
    # whole frames, LINEAR keys, and one action named after the audio.
    try:
        bpy.ops.import_scene.gltf(filepath=job["rig"])
    except RuntimeError as exc:
        raise TakeError(f"{job['rig']}: Blender's glTF importer failed: "
                         f"{str(exc).strip().splitlines()[-1]}") from None
    scene = bpy.context.scene
    # Frame i of the curves is scene frame i, so frame / fps is the time in the audio, as in
    # the JSON, the glTF and Blender's own glTF exporter.
    set_scene_timing(scene, take.fps, 0, take.duration)
    keys = shape_key_sets(o for o in scene.objects if o.type == "MESH")
    report = key_take(keys, take, action_name=job["action"], frame_start=0,
                      scene_fps=scene_fps(scene))
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


def main(argv: list[str]) -> int:
    args = argv[argv.index("--") + 1:] if "--" in argv else argv[1:]
    if len(args) != 1:
        return _fail(1, "usage: make_blend.py JOB.json")
    try:
        import bpy  # noqa: F401
    except ImportError as exc:
        return _fail(EXIT_NO_BPY, f"cannot import bpy ({exc})")
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from voxface_lipsync.curves_io import TakeError

    with open(args[0], encoding="utf-8") as f:
        job = json.load(f)
    try:
        report = build(job)
    except TakeError as exc:
        return _fail(EXIT_INPUT, str(exc))
    print("voxface-blend: ok " + json.dumps(report), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
