"""What every rig-kind adapter shares: the adapter interface and the plan under construction.

`voxface.rigs.retarget.plan_rig` makes one `PlanDraft` and walks the adapters of
`voxface.rigs.kinds.KINDS`, in that order, through four stages:

1. per target (every mesh, every target, in file order): the first adapter whose `rename_target`
   answers gives the name the target is treated as (a `--map` entry); then the adapters'
   `match` are asked in order until one takes the target;
2. per rig: every adapter's `add_rig_drives` (drives decided from the whole file, e.g. VRM
   custom expressions named after ARKit shapes);
3. the mouth: the first adapter whose `claims_mouth` is true drives it (`drive_mouth`) and
   says how in `mouth_note`; when none does, nothing moves the mouth;
4. every adapter's `add_late_drives` (drives that defer to the mouth, e.g. VRM eye presets),
   then, after the plan's own notes, every adapter's `late_warnings`.

An adapter overrides only the hooks its kind needs; the defaults do nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from voxface.core.errors import InputError
from voxface.core.names import ARKIT_52, ARKIT_INDEX, canonical_arkit
from voxface.core.rigplan import DerivedChannel, Drive, VrmInfo
from voxface.engine import poses as P

# The ARKit shapes the phone poses move: if a rig has any of them, its mouth is driven by name.
SPEECH_SHAPES: tuple[str, ...] = tuple(n for n in ARKIT_52 if P.COLUMN_GROUP[ARKIT_INDEX[n]] >= 0)

# How many names a one-line message lists before it says "... (+N more)".
LIST_LIMIT = 12


def printable(name: str) -> str:
    """A name from the file as it may appear in a one-line message: quoted with escapes
    (repr) when it holds a line break or another non-printable character."""
    return name if name.isprintable() else repr(name)


def truncate(items: Sequence[str], limit: int = LIST_LIMIT) -> str:
    """'a, b, c, ... (+N more)': at most `limit` names, each `printable`."""
    items = [printable(str(i)) for i in items]
    text = ", ".join(items[:limit])
    if len(items) > limit:
        text += f", ... (+{len(items) - limit} more)"
    return text


def no_match_error(rig, names: Sequence[str]) -> InputError:
    """The one-line error for curves that drive nothing on `rig` (a `gltf_rig.Rig`), listing
    its targets per mesh."""
    per_mesh = "; ".join(f"{printable(m.name)}: {truncate(m.target_names)}"
                         + (" (unnamed in file)" if not m.named_in_file else "")
                         for m in rig.meshes)
    if any(canonical_arkit(n) for n in names):
        what = "an ARKit blendshape name"
    else:
        what = f"any of the {len(names)} curve names ({truncate(names, 6)})"
    hint = ""
    if what.startswith("an ARKit"):
        hint = ("; it has no Oculus visemes or VRM expressions either; map its names with "
                "--map names.json (see `animate rig inspect`)")
    return InputError(f"no morph target matches {what}; the rig has targets: {per_mesh}{hint}",
                      path=rig.path)


@dataclass(frozen=True)
class TargetName:
    """The name a target is matched as: `name` (its own, or a `--map` entry's), times
    `scale`; `via` is set when a rename decided it (Drive.via), else None."""

    name: str
    scale: float = 1.0
    via: str | None = None


@dataclass
class PlanDraft:
    """The plan while the adapters build it (see the module doc for the stages).

    Attributes:
        rig: the `gltf_rig.Rig` being planned.
        names: the curve names, in column order.
        name_map: the `--map` entries (target -> (name, scale)), {} when none.
        column: lower-cased, stripped curve name -> first column holding it.
        arkit_curves: the canonical ARKit names among the curves.
        drives: the drives so far, in the order they will appear in the plan.
        taken: (mesh, target) pairs some drive already sets.
        derived: channel -> how it is computed, for channels that are not curves.
        warnings: warnings so far (the plan's notes are put in front at the end).
        vrm: the file's VRM expressions, once the VRM adapter has read them.
        direct: ARKit shapes driven by name (stages 1-2), fixed before the mouth stage.
        mouth: 'arkit' / 'oculus' / 'vrm' / 'none', set in the mouth stage.
        state: per-adapter scratch space, keyed by the adapter's name.
    """

    rig: object
    names: tuple[str, ...]
    name_map: dict[str, tuple[str, float]]
    column: dict[str, int] = field(default_factory=dict)
    arkit_curves: set[str] = field(default_factory=set)
    drives: list[Drive] = field(default_factory=list)
    taken: set[tuple[int, int]] = field(default_factory=set)
    derived: dict[str, DerivedChannel] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    vrm: VrmInfo | None = None
    direct: set[str] = field(default_factory=set)
    mouth: str = "none"
    state: dict[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for j, n in enumerate(self.names):
            self.column.setdefault(n.strip().lower(), j)
        self.arkit_curves = {canonical_arkit(n) for n in self.names} - {None}

    @property
    def is_arkit(self) -> bool:
        """Whether the curves hold any ARKit shape (engine output does)."""
        return bool(self.arkit_curves)

    def add(self, drive: Drive, *, take: bool = True) -> None:
        """Append a drive; `take` marks its target taken (later name / viseme drives skip
        taken targets; VRM binds add to a target without taking it)."""
        self.drives.append(drive)
        if take:
            self.taken.add((drive.mesh, drive.target))

    def arkit_of(self, drive: Drive) -> str | None:
        """The ARKit shape a drive follows one-to-one (its curve, or a one-term mix), or None."""
        spec = self.derived.get(drive.channel)
        if spec is not None:
            terms = spec.terms
            return terms[0][0] if spec.kind == "linear" and len(terms) == 1 else None
        return canonical_arkit(drive.channel)


class RigKind:
    """One kind of rig the planner understands (ARKit names, a name map, Oculus visemes, ...).

    Subclasses set `name` and override the hooks they need (see the module doc for when each
    is called); `mouth` is the RigPlan.mouth value when the adapter drives the mouth.
    """

    name: str = ""
    mouth: str = ""
    # True when the mouth this adapter drives is solved from every speech shape (so none of
    # them counts as missing), False when it follows named shapes.
    solves_speech: bool = False

    def rename_target(self, draft: PlanDraft, target: str) -> TargetName | None:
        """Stage 1: the name target `target` is treated as, or None to leave it alone."""
        return None

    def match(self, draft: PlanDraft, mesh: int, index: int, target: TargetName) -> bool:
        """Stage 1: take target `index` of file mesh `mesh` (add a drive or note it for a
        later stage) and return True, or return False to let the next adapter try."""
        return False

    def add_rig_drives(self, draft: PlanDraft) -> None:
        """Stage 2: drives decided from the whole file."""

    def claims_mouth(self, draft: PlanDraft) -> bool:
        """Stage 3: whether this adapter drives the mouth (the first that claims it does)."""
        return False

    def drive_mouth(self, draft: PlanDraft) -> None:
        """Stage 3: add the mouth's drives (called only on the adapter that claimed it)."""

    def mouth_note(self, draft: PlanDraft) -> str | None:
        """Stage 3: the note that says how the mouth is driven, or None for no note."""
        return None

    def add_late_drives(self, draft: PlanDraft) -> None:
        """Stage 4: drives that defer to everything above."""

    def late_warnings(self, draft: PlanDraft) -> list[str]:
        """Stage 4: warnings listed after the plan's notes (e.g. unused map entries)."""
        return []

