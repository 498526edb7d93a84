"""Render preview frames of a rig with Blender's Workbench engine. Runs inside Blender:

    python render_preview.py JOB.json                                   (PyPI `bpy` module)
    blender -b --factory-startup --python render_preview.py -- JOB.json  (a Blender install)

`voxface.exporters.preview` (`animate --preview out.mp4 --preview-engine blender`) writes the job,
runs this in a subprocess (bpy needs its own Python, see `voxface.exporters.blender`), then
encodes the PNGs and muxes the audio itself, as it does for its pyrender frames. JOB.json:

    {"rig": glTF path, "out_dir": folder for the PNGs (created), "size": pixels (square),
     "frames": [frame index, ...]  (PNG k = frame frames[k], named %06d.png),
     "tracks": [{"node": glTF node name, "targets": [shape key names],
                 "values": path of a float32 .npy [T, len(targets)]}, ...],
     "camera_pose": 4x4 camera-to-world in glTF space (Y up, looking down -Z),
     "yfov": radians, "znear": metres, "zfar": metres}

The track values are the morph weights of voxface's animated .glb (`exporters.blender.rig_tracks`),
as for `--format blend`. Each frame sets the shape key values and renders a still; the rig is
imported with Blender's glTF importer (skinned meshes stay in their rest pose). The camera is
voxface's own framing converted from glTF's Y-up to Blender's Z-up.

Exit status: 0 done (last stdout line `voxface-blend: ok {json report}`); 3 bpy is not
importable; 4 bad input, with one stderr line `voxface-blend: input error: ...`; 1 otherwise.
"""

import os
import sys
import time

# The job runner, exit codes and error line are make_blend.py's, beside this file.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_blend import EXIT_INPUT, EXIT_NO_BPY, _fail, run_job  # noqa: E402,F401


def _base_color(mat):
    """(RGBA factor, has an image texture) of a glTF-imported material's Principled BSDF."""
    if not mat.use_nodes or mat.node_tree is None:
        return tuple(mat.diffuse_color), False
    for node in mat.node_tree.nodes:
        if node.type == "BSDF_PRINCIPLED":
            sock = node.inputs["Base Color"]
            return tuple(sock.default_value), bool(sock.is_linked)
    return tuple(mat.diffuse_color), False


def _setup_scene(scene, job: dict) -> None:
    import bpy
    import mathutils

    size = int(job["size"])
    scene.render.engine = "BLENDER_WORKBENCH"
    scene.render.resolution_x = scene.render.resolution_y = size
    scene.render.resolution_percentage = 100
    scene.render.image_settings.file_format = "PNG"
    scene.render.image_settings.color_mode = "RGB"
    scene.render.film_transparent = False
    scene.display.render_aa = "8"
    scene.view_settings.view_transform = "Standard"  # plain sRGB, as the pyrender preview
    shading = scene.display.shading
    shading.light = "STUDIO"
    shading.color_type = "TEXTURE"  # image textures where a material has one, else its colour
    shading.show_specular_highlight = True
    shading.show_cavity = False
    shading.show_object_outline = False
    if scene.world is None:
        scene.world = bpy.data.worlds.new("voxface_preview")
    scene.world.color = (0.022, 0.023, 0.027)  # the pyrender preview's background, linear
    # Workbench draws a material's viewport colour: give it the glTF base colour.
    for mat in bpy.data.materials:
        rgba, _textured = _base_color(mat)
        mat.diffuse_color = rgba
        mat.roughness = 0.6

    cam_data = bpy.data.cameras.new("voxface_preview")
    cam_data.sensor_fit = "VERTICAL"
    cam_data.angle_y = float(job["yfov"])
    cam_data.clip_start = float(job["znear"])
    cam_data.clip_end = float(job["zfar"])
    cam = bpy.data.objects.new("voxface_preview", cam_data)
    scene.collection.objects.link(cam)
    scene.camera = cam
    # glTF (x, y, z) is Blender (x, -z, y); both cameras look down their local -Z with +Y up.
    y_up_to_z_up = mathutils.Matrix(((1, 0, 0, 0), (0, 0, -1, 0), (0, 1, 0, 0), (0, 0, 0, 1)))
    cam.matrix_world = y_up_to_z_up @ mathutils.Matrix(job["camera_pose"])


def render(job: dict) -> dict:
    import bpy
    import numpy as np
    from make_blend import _object_for, import_rig

    import_rig(job["rig"])
    scene = bpy.context.scene
    tracks, taken = [], set()
    for track in job["tracks"]:
        values = np.load(track["values"])
        ob = _object_for(scene, track["node"], track["targets"], taken)
        taken.add(ob.name)
        blocks = [ob.data.shape_keys.key_blocks[name] for name in track["targets"]]
        for b in blocks:  # weights outside 0..1 (retargeting scales) must not be clamped
            b.slider_min = min(b.slider_min, -10.0)
            b.slider_max = max(b.slider_max, 10.0)
        tracks.append((blocks, values))
    _setup_scene(scene, job)
    os.makedirs(job["out_dir"], exist_ok=True)
    t0 = time.perf_counter()
    for k, frame in enumerate(job["frames"]):
        for blocks, values in tracks:
            row = values[min(int(frame), len(values) - 1)]
            for b, v in zip(blocks, row):
                b.value = float(v)
        scene.render.filepath = os.path.join(job["out_dir"], f"{k:06d}.png")
        bpy.ops.render.render(write_still=True)
    return {"frames": len(job["frames"]), "seconds": round(time.perf_counter() - t0, 3),
            "objects": sorted(taken)}


def main(argv: list) -> int:
    return run_job(argv, "render_preview.py", render)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
