"""The rig plan: how every morph target of a rig follows a set of curves (a value, no logic).

`voxface.rigs.retarget.plan_rig` makes one (walking the rig-kind adapters of
`voxface.rigs.kinds`), the pipeline keeps it in the `Animation`, and every consumer (the GLB
writer, the .blend, the preview, `animate rig inspect`) reads the same one;
`voxface.rigs.retarget.plan_channels` computes the channels its drives read.

The VRM expression types live here too, because a plan made for a VRM file carries them
(`RigPlan.vrm`); `voxface.rigs.vrm` reads them from a file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

# How a target is driven (Drive.via); `animate rig inspect` prints these.
DIRECT = "ARKit direct"
CASE = "case-insensitive"
MAPPED = "map"
VRM_CUSTOM = "VRM expression (ARKit)"
VRM_PRESET = "VRM preset"
VISEME_SOLVE = "Oculus viseme solve"
NAME = "name"  # a non-ARKit curve name matched exactly (e.g. the Khronos models' own names)


# ----------------------------------------------------------------------------------------------
# VRM expressions (normalised to the VRM 1.0 vocabulary, see voxface.rigs.vrm)


@dataclass(frozen=True)
class VrmBind:
    """One morph bind: target `index` of file mesh `mesh` set to `weight` (0..1) times the
    expression's weight; `node` restricts it to one node (VRM 1.0), None = every node."""

    mesh: int
    index: int
    weight: float
    node: int | None = None


@dataclass(frozen=True)
class VrmExpression:
    """A VRM expression. `preset` is the VRM 1.0 preset name, or None for a custom one."""

    name: str
    preset: str | None
    binds: tuple[VrmBind, ...]
    is_binary: bool = False


@dataclass(frozen=True)
class VrmInfo:
    """The expressions of a VRM file. version: '0.x' or '1.0'."""

    version: str
    expressions: tuple[VrmExpression, ...]
    problems: tuple[str, ...] = ()

    def preset(self, name: str) -> VrmExpression | None:
        """The preset expression `name` (VRM 1.0 spelling) if the file binds it to anything."""
        for e in self.expressions:
            if e.preset == name and e.binds:
                return e
        return None


# ----------------------------------------------------------------------------------------------
# The plan


@dataclass(frozen=True)
class Drive:
    """Target `target` of file mesh `mesh` gets `weight` x channel `channel` (summed with any
    other drive of the same target). node: only on that node (VRM 1.0 binds), None = all."""

    mesh: int
    target: int
    channel: str
    weight: float
    via: str
    node: int | None = None


@dataclass(frozen=True)
class DerivedChannel:
    """A channel computed from the curves: a solve output or a linear mix of curve names."""

    kind: str                                    # 'oculus' | 'vrm-vowel' | 'linear'
    key: str = ""                                # viseme / vowel name for the solves
    terms: tuple[tuple[str, float], ...] = ()    # (curve name, coefficient) for 'linear'
    binary: bool = False                         # VRM isBinary: 0 or 1 at 0.5


@dataclass(frozen=True)
class RigPlan:
    """How every morph target of a rig follows a set of curves.

    Attributes:
        names: the curve names it was made for.
        drives: every (mesh, target) <- channel link.
        mouth: 'arkit' (named shapes), 'oculus' (viseme solve), 'vrm' (VRM vowel solve) or
            'none'.
        missing: ARKit shapes among the curves that drive nothing on the rig.
        unmatched_curves: curve names that drive nothing (ARKit or not).
        warnings: one-line notes for the user (missing shapes, VRM binds that point nowhere,
            map entries that match no target).
        vrm: the VRM expressions, for VRM files.
        name_map: the map used ({} when none).
        derived: channel name -> how it is computed, for every channel that is not a curve.
    """

    names: tuple[str, ...]
    drives: tuple[Drive, ...]
    mouth: str
    missing: tuple[str, ...]
    unmatched_curves: tuple[str, ...]
    warnings: tuple[str, ...]
    vrm: VrmInfo | None = None
    name_map: Mapping[str, tuple[str, float]] = field(default_factory=dict)
    derived: Mapping[str, DerivedChannel] = field(default_factory=dict)

    @property
    def driven_meshes(self) -> tuple[int, ...]:
        return tuple(sorted({d.mesh for d in self.drives}))

    def drives_of(self, mesh: int) -> tuple[Drive, ...]:
        return tuple(d for d in self.drives if d.mesh == mesh)

    def describe(self, rig) -> str:
        """One line: '3 meshes driven (Head 52, Teeth 6); mouth: ...'. `rig`: anything with
        `mesh(index).name` (a `voxface.rigs.gltf_rig.Rig`)."""
        parts = []
        for m in self.driven_meshes:
            name = rig.mesh(m).name
            parts.append(f"{name} {len({d.target for d in self.drives_of(m)})}")
        text = f"{len(parts)} meshes driven ({', '.join(parts)})"
        if self.mouth == "oculus":
            text += "; mouth through Oculus visemes (solved per frame)"
        elif self.mouth == "vrm":
            text += f"; mouth through VRM {self.vrm.version} vowel presets (solved per frame)"
        if self.missing:
            text += f"; no target for {len(self.missing)}: {', '.join(self.missing[:6])}"
            text += ", ..." if len(self.missing) > 6 else ""
        return text
