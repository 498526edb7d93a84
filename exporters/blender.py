"""Blender output: a `.blend` scene (`--format blend`) and the lipsync add-on zip.

bpy is not a voxface dependency: PyPI's `bpy` 5.0.1 needs Python 3.11 and numpy < 2, and voxface
runs on numpy 2. So Blender work runs in a subprocess of a separate interpreter, and data
crosses as files: the curves as voxface JSON, the rig and audio by path, the result as a .blend.
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

from voxface.engine.pipeline import Animation
from voxface.errors import InputError, MissingDependencyError, VoxfaceError

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
    """Write a .blend: the rig imported with Blender's glTF importer, one action named after
    the audio stem keying every ARKit shape key at the curves' fps (one slot per driven mesh),
    scene fps and frame range 0 .. T-1 set, and the audio as a sound strip at frame 0.

    Args:
        anim: the pipeline's result; needs `anim.rig` (the rig is re-imported from its path).
        path: output file; written whole or not at all.
    """
    if anim.rig is None:
        raise InputError("--format blend needs a rig; none was loaded")
    audio = anim.audio.path.resolve() if anim.audio.path is not None else None
    # Blender saves into the output's own folder (so the sound's relative path stays right
    # after the rename) under a name ending .blend, which Blender expects.
    staged = path.with_name(path.name + ".blend")
    try:
        with tempfile.TemporaryDirectory(prefix="voxface_blend_") as tmp:
            from voxface.exporters.json_curves import write_json

            curves = Path(tmp) / "curves.json"
            write_json(anim, curves)
            job = Path(tmp) / "job.json"
            job.write_text(json.dumps({
                "rig": str(Path(anim.rig.path).resolve()),
                "curves": str(curves),
                "audio": str(audio) if audio is not None else None,
                "output": str(staged.resolve()),
                "action": audio.stem if audio is not None else "speech",
            }), encoding="utf-8")
            run_job(ADDON_DIR / "make_blend.py", str(job))
        os.replace(staged, path)
    finally:
        staged.unlink(missing_ok=True)


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
    (fixed timestamps), written to a temporary file and renamed."""
    out = Path(path)
    if out.is_dir():
        raise InputError("is a directory, expected a .zip path", path=out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".part", dir=out.parent)
    os.close(fd)
    try:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
            for src in addon_files():
                info = zipfile.ZipInfo(f"{ADDON_PACKAGE}/{src.name}", (1980, 1, 1, 0, 0, 0))
                info.external_attr = 0o644 << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, src.read_bytes())
        os.replace(tmp, out)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return out
