"""The exporter protocol: what one output format declares, and what every exporter may assume.

An `Exporter` writes one file from an `Animation` to a path it is handed. That path is always a
temporary sibling of the final file (`voxface.core.fileio.write_all` renames every output of a
run into place only when all of them were written), so an exporter just writes its bytes
there; it never renames anything into place itself, and may fail half-way without harm.

Each exporter declares what it reads, so callers load and check only what is needed:

* `needs`: the `Animation` fields it reads beyond the curves: "rig" (the loaded rig and its
  plan, `anim.rig` / `anim.plan`), "alignment" (phones and words), "visemes" (the Oculus
  viseme track). `check_needs` turns a missing one into a one-line InputError.
* `check`: called before the pipeline runs with the final path and the exporter's options, so
  a missing optional dependency (MissingDependencyError) or an unusable path (InputError)
  fails fast instead of after the alignment.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from voxface.core.animation import Animation
from voxface.core.errors import InputError
from voxface.rigs.retarget import plan_rig

NEEDS = ("rig", "alignment", "visemes")


@dataclass(frozen=True)
class Output:
    """One output of a run: the exporter's name, the final path, and its options (None: the
    exporter's defaults; e.g. a `voxface.exporters.preview.PreviewOptions`)."""

    format: str
    path: Path
    options: Any = None


# write(anim, temporary path, the Output it stands for) -> a progress detail or None. The
# Output may be left out (None): the exporter's defaults, the path as the final name.
WriteFn = Callable[..., "str | None"]
# check(final path or None when not known yet, options or None); raises on a problem.
CheckFn = Callable[["Path | None", Any], None]


@dataclass(frozen=True)
class Exporter:
    """One output format.

    Attributes:
        name: the `--format` name.
        suffix: appended to the audio stem: OUTDIR/<stem><suffix> (the preview's path is the
            user's own `--preview PATH`; its suffix here is only the default).
        write: writes the file, see `WriteFn`; returns a detail for the progress line or None.
        description: one line for `--help`.
        default: written without being named in --format (niche formats would clutter every
            output folder otherwise).
        needs: the Animation fields it reads, from NEEDS.
        check: the fail-fast check, see the module docstring.
        listed: a `--format` choice (False: asked for by its own option, like `--preview`).
        stage: reported as its own progress stage (slow outputs), else inside 'export'.
    """

    name: str
    suffix: str
    write: WriteFn
    description: str
    default: bool = True
    needs: tuple[str, ...] = ()
    check: CheckFn | None = None
    listed: bool = True
    stage: str | None = None

    def __post_init__(self) -> None:
        unknown = set(self.needs) - set(NEEDS)
        if unknown:
            raise ValueError(f"exporter {self.name}: unknown needs {sorted(unknown)}")

    @property
    def needs_rig(self) -> bool:
        return "rig" in self.needs


def check_needs(exporter: Exporter, anim: Animation) -> None:
    """InputError when `anim` lacks something `exporter` reads (e.g. a rig that was not
    loaded, or no viseme track)."""
    for need in exporter.needs:
        if getattr(anim, need) is None:
            raise InputError(f"{exporter.name} output needs {'a ' if need == 'rig' else ''}"
                             f"{need}; none was computed")


def rig_plan(anim: Animation):
    """The rig plan the pipeline made for `anim.rig` (`anim.plan`; see `voxface.pipeline`).

    An Animation built by hand with a rig but no plan is planned here once, and the plan is
    kept on it, so every output of the run still shares one plan.
    """
    if anim.plan is None:
        if anim.rig is None:
            raise InputError("this output needs a rig; none was loaded")
        anim.plan = plan_rig(anim.rig, anim.curves.names, name_map=anim.name_map)
    return anim.plan
