"""voxface lipsync: speech animation onto shape keys, in Blender.

Two operators, in the 3D Viewport sidebar (N) under "Lipsync":

- Import speech animation: voxface JSON curves or a Live Link Face CSV onto the shape keys of
  the active object (and the other selected objects), matched by name ignoring case, with an
  optional JSON name map for rigs not named after ARKit: the file `animate --map` takes,
  {"shape key": "curve name" | {"arkit": "curve name", "scale": number}}.
- Animate from audio: runs voxface's `animate` command (found on PATH, or set in the add-on
  preferences) on an audio file and transcript with `--format json`, then imports the result
  and adds the audio to the sequencer.

`animate blender-addon -o lipsync_addon.zip` writes this package as an installable zip.
"""

# No `from __future__ import annotations`: Blender reads the property annotations of the
# classes below as live objects when registering them.
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import bpy
from bpy.props import BoolProperty, StringProperty
from bpy_extras.io_utils import ImportHelper

from .curves_io import TakeError, read_name_map, read_take
from .keying import add_sound_strip, key_take, scene_fps, set_scene_timing, shape_key_sets

bl_info = {
    "name": "voxface lipsync",
    "author": "voxface",
    "version": (0, 1, 0),
    "blender": (4, 2, 0),
    "location": "3D Viewport > Sidebar > Lipsync",
    "description": "ARKit speech animation onto shape keys: import voxface JSON or Live Link "
                   "Face CSV, or animate from audio with voxface's `animate`",
    "category": "Animation",
}

AUDIO_GLOB = "*.wav;*.flac;*.ogg;*.opus;*.mp3;*.aif;*.aiff"


def _targets(context) -> list:
    """The active object first, then the other selected objects."""
    objects = [context.active_object] + [o for o in context.selected_objects
                                         if o != context.active_object]
    return shape_key_sets(o for o in objects if o is not None and o.type == "MESH")


def _apply(context, take_path: str, *, name_map: str, set_scene: bool, audio: str | None,
           action_name: str) -> str:
    """Key the take in `take_path` onto the target shape keys; returns a one-line summary.

    Keys start at the scene's start frame. With `set_scene`, the scene gets the take's frame
    rate and a frame range covering it; otherwise keys are placed by time at the scene's rate.
    """
    scene = context.scene
    take = read_take(take_path)
    mapping = read_name_map(bpy.path.abspath(name_map)) if name_map else None
    keys = _targets(context)
    if not keys:
        raise TakeError("select a mesh object with shape keys")
    if set_scene:
        set_scene_timing(scene, take.fps, scene.frame_start, take.duration)
    report = key_take(keys, take, action_name=action_name, frame_start=scene.frame_start,
                      scene_fps=scene_fps(scene), name_map=mapping)
    if audio:
        add_sound_strip(scene, audio, frame_start=scene.frame_start,
                        name=Path(audio).name)
    meshes = ", ".join(f"{m} {n}" for m, n in report.items())
    return f"keyed {len(take.times)} frames on {meshes} shape keys"


def _preferences(context):
    addon = context.preferences.addons.get(__package__)
    return addon.preferences if addon is not None else None


def find_animate(context) -> str | None:
    """The `animate` executable: the add-on preference if set, else `animate` on PATH."""
    prefs = _preferences(context)
    if prefs is not None and prefs.animate_path:
        return bpy.path.abspath(prefs.animate_path)
    return shutil.which("animate")


class VoxfaceLipsyncPreferences(bpy.types.AddonPreferences):
    bl_idname = __package__

    animate_path: StringProperty(
        name="animate command",
        description="Path of voxface's `animate` executable (empty: look it up on PATH)",
        subtype="FILE_PATH",
        default="",
    )

    def draw(self, context):
        self.layout.prop(self, "animate_path")
        found = find_animate(context)
        self.layout.label(text=f"Using: {found}" if found else
                          "`animate` not found: pip install voxface, or set its path above")


class VOXFACE_OT_import_speech(bpy.types.Operator, ImportHelper):
    """Import voxface JSON curves or a Live Link Face CSV onto the selected shape keys"""

    bl_idname = "voxface.import_speech"
    bl_label = "Import speech animation"
    bl_options = {"REGISTER", "UNDO"}

    filter_glob: StringProperty(default="*.json;*.csv", options={"HIDDEN"})
    name_map: StringProperty(
        name="Name map", subtype="FILE_PATH", default="",
        description='Optional JSON {"shape key": "curve name"} for non-ARKit shape keys (the '
                    'file `animate --map` takes)')
    set_scene: BoolProperty(
        name="Set scene frame rate and range", default=True,
        description="Give the scene the take's frame rate and a range that covers it")
    audio: StringProperty(
        name="Audio", subtype="FILE_PATH", default="",
        description="Audio to add to the sequencer (empty: the JSON's audio file, if it is "
                    "next to the JSON)")

    @classmethod
    def poll(cls, context):
        return bool(_targets(context))

    def execute(self, context):
        audio = bpy.path.abspath(self.audio) if self.audio else None
        try:
            if audio is None and self.filepath.lower().endswith(".json"):
                named = read_take(self.filepath).audio
                beside = Path(self.filepath).parent / named if named else None
                audio = str(beside) if beside is not None and beside.is_file() else None
            msg = _apply(context, self.filepath, name_map=self.name_map,
                         set_scene=self.set_scene, audio=audio,
                         action_name=Path(self.filepath).stem)
        except TakeError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        self.report({"INFO"}, msg)
        return {"FINISHED"}


class VOXFACE_OT_animate_audio(bpy.types.Operator, ImportHelper):
    """Run voxface's `animate` on an audio file and import the animation onto the selected
    shape keys"""

    bl_idname = "voxface.animate_audio"
    bl_label = "Animate from audio"
    bl_options = {"REGISTER", "UNDO"}

    filter_glob: StringProperty(default=AUDIO_GLOB, options={"HIDDEN"})
    text: StringProperty(
        name="Transcript", default="",
        description="What is said (empty: the transcript file, else a sidecar <audio>.txt/.lab, "
                    "else recognition without a transcript, lower quality)")
    transcript: StringProperty(name="Transcript file", subtype="FILE_PATH", default="")
    name_map: StringProperty(
        name="Name map", subtype="FILE_PATH", default="",
        description='Optional JSON {"shape key": "curve name"} for non-ARKit shape keys (the '
                    'file `animate --map` takes)')
    add_sound: BoolProperty(name="Add audio to the sequencer", default=True)

    @classmethod
    def poll(cls, context):
        return bool(_targets(context))

    def execute(self, context):
        exe = find_animate(context)
        if not exe or not os.path.isfile(exe):
            self.report({"ERROR"}, f"voxface `animate` not found ({exe or 'not on PATH'}): "
                                   "pip install voxface, or set its path in the add-on "
                                   "preferences")
            return {"CANCELLED"}
        audio = bpy.path.abspath(self.filepath)
        # Curves at the scene's own rate, so every key lands on a whole frame.
        cmd = [exe, audio, "--format", "json", "--fps", f"{scene_fps(context.scene):.6g}", "-q"]
        if self.text.strip():
            cmd += ["--text", self.text]
        elif self.transcript:
            cmd += ["--transcript", bpy.path.abspath(self.transcript)]
        with tempfile.TemporaryDirectory(prefix="voxface_") as tmp:
            proc = subprocess.run(cmd + ["-o", tmp], capture_output=True, text=True)
            if proc.returncode != 0:
                lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
                self.report({"ERROR"}, lines[-1] if lines else
                            f"animate failed with exit code {proc.returncode}")
                return {"CANCELLED"}
            try:
                msg = _apply(context, str(Path(tmp) / f"{Path(audio).stem}.json"),
                             name_map=self.name_map, set_scene=True,
                             audio=audio if self.add_sound else None,
                             action_name=Path(audio).stem)
            except TakeError as exc:
                self.report({"ERROR"}, str(exc))
                return {"CANCELLED"}
        self.report({"INFO"}, msg)
        return {"FINISHED"}


class VIEW3D_PT_voxface_lipsync(bpy.types.Panel):
    bl_label = "Speech animation"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "Lipsync"

    def draw(self, context):
        col = self.layout.column()
        keys = _targets(context)
        if keys:
            col.label(text=f"{len(keys)} shape key set(s): "
                           + ", ".join(k.user.name for k in keys), icon="SHAPEKEY_DATA")
        else:
            col.label(text="Select a mesh with shape keys", icon="INFO")
        col.operator(VOXFACE_OT_import_speech.bl_idname, icon="IMPORT")
        col.operator(VOXFACE_OT_animate_audio.bl_idname, icon="SOUND")
        if find_animate(context) is None:
            col.label(text="`animate` not found: see add-on preferences", icon="ERROR")


_CLASSES = (VoxfaceLipsyncPreferences, VOXFACE_OT_import_speech, VOXFACE_OT_animate_audio,
            VIEW3D_PT_voxface_lipsync)


def register():
    for cls in _CLASSES:
        bpy.utils.register_class(cls)


def unregister():
    for cls in reversed(_CLASSES):
        bpy.utils.unregister_class(cls)
