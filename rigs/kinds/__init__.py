"""Rig kinds as adapters: the registry `voxface.rigs.retarget.plan_rig` walks.

Each module here is one kind of rig (see `base` for the adapter interface and the stages).
`KINDS` is the order they are asked in, in every stage: a `--map` entry renames a target
before anything matches it; a target named after a curve is driven by name before it can count
as an Oculus viseme; and the mouth goes to named ARKit speech shapes, else Oculus visemes, else
VRM vowel presets. Adding a kind = one module with a `KIND` adapter + its line below.
"""

from __future__ import annotations

from voxface.rigs.kinds import arkit, name_map, oculus, vrm
from voxface.rigs.kinds.base import RigKind

KINDS: tuple[RigKind, ...] = (
    name_map.KIND,   # --map names.json: renames targets
    arkit.KIND,      # targets named after curves (ARKit or any), exact / case / namespace
    oculus.KIND,     # Oculus / VRChat visemes, solved from the ARKit mouth pose
    vrm.KIND,        # VRM 0.x / 1.0 expressions: ARKit-named customs, vowels, eye presets
)
