"""Put a take onto shape keys as keyframes, and set up the scene's timing and sound.

Used by the add-on's operators and by voxface's `.blend` exporter (which runs this same code in
a Blender subprocess), so both produce identical actions. Works with Blender 5.x slotted actions
and falls back to the legacy `Action.fcurves` API (Blender < 4.4).
"""

from __future__ import annotations

import math
import os

import bpy
import numpy as np

from .curves_io import Take, TakeError

# Keys are per frame already, so LINEAR reproduces the samples exactly and matches glTF's
# LINEAR sampler; Blender's default BEZIER would overshoot between frames.
_LINEAR = bpy.types.Keyframe.bl_rna.properties["interpolation"].enum_items["LINEAR"].value


def shape_key_sets(objects) -> list:
    """The distinct shape-key datablocks (`bpy.types.Key`) of the mesh objects given, in order.

    Objects that share one mesh share its Key; it is listed once."""
    keys = []
    for ob in objects:
        key = getattr(ob.data, "shape_keys", None) if ob is not None else None
        if key is not None and len(key.key_blocks) > 1 and key not in keys:
            keys.append(key)
    return keys


def match_shape_keys(key, names, name_map=None) -> list[tuple[int, str]]:
    """(column, shape key name) for each take column that drives a shape key of `key`.

    A column named N drives the shape key `name_map[N]` if the map has N, else the shape key
    named N; both lookups ignore case. The basis (reference) key is never driven.
    """
    name_map = name_map or {}
    blocks = {kb.name.lower(): kb.name for kb in key.key_blocks if kb != key.reference_key}
    pairs, used = [], {}
    for col, name in enumerate(names):
        target = blocks.get(name_map.get(name.lower(), name).lower())
        if target is None:
            continue
        if target in used:
            raise TakeError(f"curves {names[used[target]]!r} and {name!r} both map to shape key "
                            f"{target!r} of {key.user.name!r}")
        used[target] = col
        pairs.append((col, target))
    return pairs


def key_take(keys, take: Take, *, action_name: str, frame_start: float, scene_fps: float,
             name_map=None) -> dict[str, int]:
    """Keyframe every matched shape key of `keys` with the take's values.

    Row i of the take lands on frame `frame_start + take.times[i] * scene_fps`, one LINEAR key
    per row. One new action named `action_name` holds it all: one slot per Key (Blender >= 4.4,
    so the glTF exporter writes one animation driving every mesh), or one action per Key on
    older Blender. An action already on a Key is replaced (it stays in the file, unassigned).

    Returns {mesh name: number of shape keys keyed}; raises TakeError when nothing matches.
    """
    matched = [(key, match_shape_keys(key, take.names, name_map)) for key in keys]
    matched = [(key, pairs) for key, pairs in matched if pairs]
    if not matched:
        some = sorted({kb.name for key in keys for kb in key.key_blocks[1:]})[:8]
        raise TakeError(f"no shape key matches the take's curves (e.g. {take.names[:3]}); "
                        f"shape keys here: {some or 'none'}; use a name map for other names")
    frames = frame_start + take.times * scene_fps
    layered = hasattr(bpy.types, "ActionSlot")
    action = bpy.data.actions.new(action_name) if layered else None
    report = {}
    for key, pairs in matched:
        ad = key.animation_data or key.animation_data_create()
        if layered:
            ad.action = action
            ad.action_slot = action.slots.new(id_type="KEY", name=key.user.name)
        else:
            ad.action = bpy.data.actions.new(action_name)
        for col, block in pairs:
            path = f'key_blocks["{bpy.utils.escape_identifier(block)}"].value'
            if layered:
                fc = action.fcurve_ensure_for_datablock(key, path)
            else:
                fc = ad.action.fcurves.new(path)
            points = np.empty((len(frames), 2), dtype=np.float32)
            points[:, 0] = frames
            points[:, 1] = take.values[:, col]
            fc.keyframe_points.add(len(frames))
            fc.keyframe_points.foreach_set("co", points.ravel())
            fc.keyframe_points.foreach_set("interpolation", [_LINEAR] * len(frames))
            fc.update()
        report[key.user.name] = len(pairs)
    return report


def scene_fps(scene) -> float:
    """The scene's frame rate in frames per second (render.fps / render.fps_base)."""
    return scene.render.fps / scene.render.fps_base


def set_scene_timing(scene, fps: float, frame_start: int, duration: float) -> None:
    """Set the scene to `fps` frames per second covering `duration` seconds from frame_start.

    Blender stores the rate as an integer over a float base; 29.97 becomes 30 / 1.001.
    """
    whole = round(fps)
    if abs(fps - whole) < 1e-6:
        scene.render.fps, scene.render.fps_base = int(whole), 1.0
    else:
        scene.render.fps = int(math.ceil(fps))
        scene.render.fps_base = scene.render.fps / fps
    scene.frame_start = int(frame_start)
    scene.frame_end = int(frame_start) + max(1, int(round(duration * fps)))


def add_sound_strip(scene, audio_path: str, *, frame_start: int, name: str):
    """Add `audio_path` to the scene's sequencer at frame_start, replacing a strip of the same
    name, and make playback follow it (audio sync, scrubbing plays sound). Returns the strip."""
    if not os.path.isfile(audio_path):
        raise TakeError(f"{audio_path}: no such audio file")
    se = scene.sequence_editor or scene.sequence_editor_create()
    # Blender 5 renamed the sequencer's `sequences` collection to `strips`.
    strips = se.strips if hasattr(se, "strips") else se.sequences
    old = strips.get(name)
    if old is not None:
        strips.remove(old)
    channel = 1 + max((s.channel for s in strips), default=0)
    strip = strips.new_sound(name, audio_path, channel, int(frame_start))
    scene.use_audio_scrub = True
    scene.sync_mode = "AUDIO_SYNC"
    return strip
