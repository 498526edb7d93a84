"""Blender output: a `.blend` scene (`--format blend`) and the lipsync add-on zip.

bpy is not a voxface dependency: PyPI's `bpy` 5.0.1 needs Python 3.11 and numpy < 2, and voxface
runs on numpy 2. So Blender work runs in a subprocess of a separate interpreter, and data
crosses as files: a JSON job naming the rig and audio, the shape key values and bone rotations
as .npy arrays, the result as a .blend.
The interpreter is, first found:

1. `$VOXFACE_BLENDER_PYTHON` (a Python with bpy installed, or a `blender` executable);
2. `.venv-blender/bin/python` in the voxface source checkout, then in the working directory;
3. `blender` on PATH, run as `blender -b --factory-startup --python ...`.

The Blender-side code lives in `blender_addon/`: the add-on package `voxface_lipsync` (readers,
keying, operators) and `make_blend.py`, the job script that builds the .blend with the add-on's
own keying code.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from voxface.core.animation import Animation
from voxface.core.errors import InputError, MissingDependencyError, VoxfaceError
from voxface.core.fileio import atomic_path
from voxface.exporters.base import rig_plan
from voxface.rigs.gltf_rig import animation_arrays
from voxface.rigs.head_pose import rest_world_rotation, world_axis_deltas

ADDON_DIR = Path(__file__).resolve().parent / "blender_addon"
ADDON_PACKAGE = "voxface_lipsync"
ENV_VAR = "VOXFACE_BLENDER_PYTHON"
INSTALL_HINT = "python3.11 -m venv .venv-blender && .venv-blender/bin/pip install bpy==5.0.1"
_REPO = Path(__file__).resolve().parents[1]  # the checkout root for a source/editable install
_VENV_PYTHONS = (".venv-blender/bin/python", ".venv-blender/Scripts/python.exe")
# make_blend.py's exit codes.
_EXIT_NO_BPY, _EXIT_INPUT = 3, 4


def find_blender() -> list[str]:
    """The command prefix that runs a Python script inside Blender; append the script path,
    then its arguments (see `blender_command`).

    Raises MissingDependencyError (exit 2 in the CLI) saying how to install bpy when none of
    the places in the module docstring has one.
    """
    env = os.environ.get(ENV_VAR)
    if env:
        exe = Path(env)
        if not (exe.is_file() and os.access(exe, os.X_OK)):
            raise MissingDependencyError(f"{ENV_VAR}={env} is not an executable file; point it "
                                         "at a Python that has bpy, or at `blender`")
        return _prefix(exe)
    for root in dict.fromkeys((_REPO, Path.cwd().resolve())):
        for rel in _VENV_PYTHONS:
            if (root / rel).is_file():
                return [str(root / rel)]
    blender = shutil.which("blender")
    if blender:
        return _prefix(Path(blender))
    raise MissingDependencyError(
        f"--format blend needs Blender's Python module (bpy, Python 3.11): run `{INSTALL_HINT}` "
        f"in the voxface checkout or the working directory, or set {ENV_VAR} to a Python with "
        "bpy, or put `blender` on PATH")


def _prefix(exe: Path) -> list[str]:
    if exe.name.lower().startswith("blender"):
        # --python-exit-code: an uncaught exception in the script fails the process.
        return [str(exe), "-b", "--factory-startup", "--python-exit-code", "1", "--python"]
    return [str(exe)]


def blender_command(script: str | Path, *args: str) -> list[str]:
    """argv that runs `script` with `args` inside Blender (bpy Python or `blender -b`)."""
    prefix = find_blender()
    if len(prefix) > 1:  # a `blender` executable: the script's own arguments follow `--`
        return [*prefix, str(script), "--", *args]
    return [*prefix, str(script), *args]


def check_blender() -> None:
    """Fail fast, before the pipeline runs, when `--format blend` cannot be written."""
    find_blender()


def write_blend(anim: Animation, path: Path) -> None:
    """Write a .blend: the rig imported with Blender's glTF importer; one action named after
    the audio stem, with a slot per driven mesh and a LINEAR F-curve per driven shape key keyed
    on every frame, and, when the .glb turns head / neck / eye bones, a slot for their armature
    with a LINEAR quaternion key per frame on each of those pose bones; scene fps and frame
    range 0 .. T-1; the audio as a sound strip at frame 0.

    The keyed values are the morph weights and bone rotations of the animated .glb
    (`rig_tracks`, `bone_tracks`), so the .blend drives the rig exactly as `--format glb` does,
    retargeting (`--map`, visemes) and nods / gaze included.

    Args:
        anim: the pipeline's result; needs `anim.rig` (the rig is re-imported from its path).
        path: output file; written whole or not at all.
    """
    if anim.rig is None:
        raise InputError("--format blend needs a rig; none was loaded")
    audio = anim.audio.path.resolve() if anim.audio.path is not None else None
    action = audio.stem if audio is not None else "speech"
    # Blender saves into the output's own folder (so the sound's relative path stays right
    # after the rename) under a name ending .blend, which Blender expects, and that does not
    # exist yet (saving over a file makes Blender keep a .blend1 backup of it). It is then
    # moved onto `path`, the exporter table's temporary, which core.fileio renames into place.
    staged = path.with_name(path.name + ".blend")
    try:
        with tempfile.TemporaryDirectory(prefix="voxface_blend_") as tmp:
            weight_tracks, rotation_tracks = _glb_tracks(anim, action)
            tracks, bones = [], []
            for i, (node, targets, values) in enumerate(weight_tracks):
                np.save(Path(tmp) / f"track{i}.npy", values)
                tracks.append({"node": node, "targets": targets,
                               "values": str(Path(tmp) / f"track{i}.npy")})
            for i, track in enumerate(rotation_tracks):
                np.save(Path(tmp) / f"bone{i}.npy", track["deltas"])
                bones.append({**track, "deltas": str(Path(tmp) / f"bone{i}.npy")})
            job = Path(tmp) / "job.json"
            job.write_text(json.dumps({
                "rig": str(Path(anim.rig.path).resolve()),
                "audio": str(audio) if audio is not None else None,
                "output": str(staged.resolve()),
                "action": action,
                "fps": anim.curves.fps,
                "duration": anim.curves.duration,
                "tracks": tracks,
                "bones": bones,
            }), encoding="utf-8")
            run_job(ADDON_DIR / "make_blend.py", str(job))
        os.replace(staged, path)
    finally:
        staged.unlink(missing_ok=True)


def rig_tracks(anim: Animation, *, name: str = "speech") -> list[tuple[str, list[str], np.ndarray]]:
    """The morph weights voxface's animated .glb holds, per animated node, driven targets only.

    Read back from the GLB that `--format glb` writes (same rig, curves and name map), so the
    two outputs cannot disagree. Returns [(node name, target names, float32 [T, n])], where
    row i is frame i of the curves.
    """
    return _glb_tracks(anim, name)[0]


def bone_tracks(anim: Animation, *, name: str = "speech") -> list[dict]:
    """The head / neck / eye bone rotations voxface's animated .glb holds, as world-axis deltas.

    Read back from the GLB's `rotation` channels (see `voxface.rigs.head_pose`) and turned into
    rotations about the rig's world axes relative to each bone's rest
    (`head_pose.world_axis_deltas`), which do not depend on how another program orients its
    bones. Returns one dict per rotated bone: "bone" (node name), "deltas" (float64 [T, 4]
    xyzw), "rest_world" (its rest world rotation, xyzw) and "parent_rest_world" (its parent
    node's, None for a root node); [] when the GLB turns no bone (a rig without those bones,
    `--no-head --no-gaze`).
    """
    return _glb_tracks(anim, name)[1]


def _glb_tracks(anim: Animation, name: str):
    """(rig_tracks, bone_tracks): the animation `--format glb` writes, taken from the GLB
    writer before it is serialised (`gltf_rig.animation_arrays`, with the run's one rig plan)."""
    rig, curves = anim.rig, anim.curves
    plan = rig_plan(anim)
    doc, arrays = animation_arrays(rig, curves, plan=plan, name=name)
    nodes = doc["nodes"]
    animation = doc["animations"][-1]  # the writer appends ours last

    def output(channel: dict) -> np.ndarray:  # float32
        return arrays[animation["samplers"][channel["sampler"]]["output"]]

    weight_tracks, rotation_tracks = [], []
    for channel in animation["channels"]:
        node = channel["target"]["node"]
        if channel["target"]["path"] == "rotation":  # head / neck / eye bones
            quats = output(channel).reshape(-1, 4).astype(np.float64)
            parent = next((i for i, n in enumerate(nodes) if node in n.get("children", ())),
                          None)
            rotation_tracks.append({
                "bone": nodes[node].get("name") or f"Node_{node}",  # as Blender names it
                "deltas": world_axis_deltas(doc, node, quats),
                "rest_world": rest_world_rotation(doc, node).tolist(),
                "parent_rest_world": None if parent is None
                else rest_world_rotation(doc, parent).tolist()})
            continue
        mesh = rig.mesh(nodes[node]["mesh"])
        weights = output(channel).reshape(-1, mesh.n_targets)
        driven = sorted({d.target for d in plan.drives_of(mesh.index)
                         if d.node is None or d.node == node})
        weight_tracks.append((nodes[node].get("name") or mesh.name,
                              [mesh.target_names[t] for t in driven], weights[:, driven].copy()))
    return weight_tracks, rotation_tracks


def run_job(script: Path, *args: str) -> str:
    """Run a Blender-side script; returns its stdout. Maps its failures onto our errors:
    no bpy -> MissingDependencyError, bad input -> InputError, else VoxfaceError."""
    cmd = blender_command(script, *args)
    # PYTHONPATH/PYTHONHOME of our interpreter would shadow Blender's own packages.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    ours = [ln.split(":", 2)[-1].strip() for ln in proc.stderr.splitlines()
            if ln.startswith("voxface-blend:")]
    if proc.returncode == 0 and "voxface-blend: ok" in proc.stdout:
        return proc.stdout
    if proc.returncode == _EXIT_NO_BPY:
        raise MissingDependencyError(f"{cmd[0]} cannot import bpy: run `{INSTALL_HINT}`")
    if proc.returncode == _EXIT_INPUT and ours:
        raise InputError(ours[-1])
    tail = " | ".join(ln for ln in proc.stderr.strip().splitlines()[-3:])
    raise VoxfaceError(f"Blender job {script.name} failed (exit {proc.returncode}): "
                       f"{tail or 'no output'}")


def addon_files() -> list[Path]:
    """The add-on package's source files, sorted."""
    return sorted((ADDON_DIR / ADDON_PACKAGE).glob("*.py"))


def build_addon_zip(path: str | Path) -> Path:
    """Write the add-on as a zip Blender installs (Preferences > Add-ons > Install from Disk):
    one folder `voxface_lipsync/` holding the package. Byte-identical for the same sources
    (fixed timestamps), written whole or not at all (`voxface.core.fileio.atomic_path`)."""
    out = Path(path)
    if out.is_dir():
        raise InputError("is a directory, expected a .zip path", path=out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for src in addon_files():
            info = zipfile.ZipInfo(f"{ADDON_PACKAGE}/{src.name}", (1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, src.read_bytes())
    return out
