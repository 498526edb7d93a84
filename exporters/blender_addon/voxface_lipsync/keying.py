"""Put curves onto shape keys as keyframes, and set up the scene's timing and sound.

Used by the add-on's operators and by voxface's `.blend` exporter (make_blend.py, in a Blender
subprocess), so both build actions the same way. Works with Blender 5.x slotted actions
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
# Slotted actions (Blender 4.4+): one action can animate several datablocks, one slot each.
_LAYERED = hasattr(bpy.types, "ActionSlot")


def shape_key_sets(objects) -> list:
    """The distinct shape-key datablocks (`bpy.types.Key`) of the mesh objects given, in order.

    Objects that share one mesh share its Key; it is listed once."""
    keys = []
    for ob in objects:
        key = getattr(ob.data, "shape_keys", None) if ob is not None else None
        if key is not None and len(key.key_blocks) > 1 and key not in keys:
            keys.append(key)
    return keys


def match_shape_keys(key, names, name_map=None) -> list[tuple[int, str, float]]:
    """(column, shape key name, scale) for every shape key of `key` that a take column drives.

    A shape key in `name_map` ({shape key lower-cased: (curve name, scale)}, see
    `curves_io.read_name_map`) follows that curve times the scale; any other follows the curve
    of its own name. Names match ignoring case. The basis (reference) key is never driven.
    """
    name_map = name_map or {}
    columns = {}
    for j, name in enumerate(names):
        columns.setdefault(name.strip().lower(), j)
    pairs = []
    for kb in key.key_blocks:
        if kb == key.reference_key:
            continue
        curve, scale = name_map.get(kb.name.lower(), (kb.name, 1.0))
        col = columns.get(curve.strip().lower())
        if col is None and kb.name.lower() in name_map:
            raise TakeError(f"name map: shape key {kb.name!r} follows {curve!r}, which the take "
                            f"has no curve for (it has {', '.join(names[:4])}, ...)")
        if col is not None:
            pairs.append((col, kb.name, scale))
    return pairs


def new_action(name: str):
    """An empty action for `key_values`."""
    return bpy.data.actions.new(name)


def key_values(key, action, blocks, frames: np.ndarray, values: np.ndarray) -> None:
    """Key shape keys `blocks` of `key` (a `bpy.types.Key`) with `values`, replacing its action.

    Args:
        key: the shape-key datablock; an action already on it stays in the file, unassigned.
        action: from `new_action`; Blender >= 4.4 gives each Key its own slot in it (so the glTF
            exporter writes one animation for all meshes), older Blender a copy per Key.
        blocks: shape key names, one per column of `values`.
        frames: float [T], the frame of each row (fractional frames allowed).
        values: float [T, len(blocks)], shape key values.
    """
    ad = key.animation_data or key.animation_data_create()
    if _LAYERED:
        ad.action = action
        ad.action_slot = action.slots.new(id_type="KEY", name=key.user.name)
    else:
        ad.action = action if action.users == 0 else bpy.data.actions.new(action.name)
    points = np.empty((len(frames), 2), dtype=np.float32)
    points[:, 0] = frames
    linear = [_LINEAR] * len(frames)
    for j, block in enumerate(blocks):
        path = f'key_blocks["{bpy.utils.escape_identifier(block)}"].value'
        if _LAYERED:
            fc = action.fcurve_ensure_for_datablock(key, path)
        else:
            fc = ad.action.fcurves.new(path)
        points[:, 1] = values[:, j]
        fc.keyframe_points.add(len(frames))
        fc.keyframe_points.foreach_set("co", points.ravel())
        fc.keyframe_points.foreach_set("interpolation", linear)
        fc.update()


def key_bone_rotations(ob, action, bone: str, frames: np.ndarray, quats: np.ndarray) -> None:
    """Key pose bone `bone` of armature object `ob` with quaternions, in `action`.

    The bone is switched to QUATERNION rotation mode and gets one LINEAR key per row on each of
    its four `rotation_quaternion` channels. Blender >= 4.4: the armature object gets one slot
    in `action` (shared by all its bones), so one action animates shape keys and bones and the
    glTF exporter writes one animation; older Blender: the object's own copy of the action.

    Args:
        ob: an ARMATURE object.
        action: from `new_action`.
        bone: pose bone name.
        frames: float [T], the frame of each row.
        quats: float [T, 4] pose-space (`matrix_basis`) rotations, Blender's w, x, y, z.
    """
    ad = ob.animation_data or ob.animation_data_create()
    if _LAYERED:
        if ad.action != action or ad.action_slot is None:
            ad.action = action
            ad.action_slot = action.slots.new(id_type="OBJECT", name=ob.name)
    elif ad.action is None or ad.action.name != action.name:
        ad.action = action if action.users == 0 else bpy.data.actions.new(action.name)
    ob.pose.bones[bone].rotation_mode = "QUATERNION"
    path = f'pose.bones["{bpy.utils.escape_identifier(bone)}"].rotation_quaternion'
    points = np.empty((len(frames), 2), dtype=np.float32)
    points[:, 0] = frames
    linear = [_LINEAR] * len(frames)
    for i in range(4):
        if _LAYERED:
            fc = action.fcurve_ensure_for_datablock(ob, path, index=i, group_name=bone)
        else:
            fc = ad.action.fcurves.new(path, index=i, action_group=bone)
        points[:, 1] = quats[:, i]
        fc.keyframe_points.add(len(frames))
        fc.keyframe_points.foreach_set("co", points.ravel())
        fc.keyframe_points.foreach_set("interpolation", linear)
        fc.update()


def key_take(keys, take: Take, *, action_name: str, frame_start: float, scene_fps: float,
             name_map=None) -> dict[str, int]:
    """Keyframe the shape keys of `keys` that the take's curves drive (`match_shape_keys`).

    Row i of the take lands on frame `frame_start + take.times[i] * scene_fps`, one LINEAR key
    per row, in one new action named `action_name` (see `key_values`).

    Returns {mesh name: number of shape keys keyed}; raises TakeError when nothing matches.
    """
    matched = [(key, match_shape_keys(key, take.names, name_map)) for key in keys]
    matched = [(key, pairs) for key, pairs in matched if pairs]
    if not matched:
        some = sorted({kb.name for key in keys for kb in key.key_blocks[1:]})[:8]
        raise TakeError(f"no shape key matches the take's curves (e.g. {take.names[:3]}); "
                        f"shape keys here: {some or 'none'}; use a name map for other names")
    frames = frame_start + take.times * scene_fps
    action = new_action(action_name)
    report = {}
    for key, pairs in matched:
        cols = [c for c, _, _ in pairs]
        scales = np.array([s for _, _, s in pairs], dtype=np.float32)
        key_values(key, action, [b for _, b, _ in pairs], frames, take.values[:, cols] * scales)
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
