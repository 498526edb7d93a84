"""The neural engine: a small streaming transformer from 16 kHz PCM to the 52 ARKit curves.

It needs no transcript and no aligner. It is trained to imitate the rule engine (the teacher:
alignment + `voxface.engine.coarticulation.curves_from_alignment`) on speech whose transcript
is known. Modules:
- `features`: the log-mel front end, in torch, so it exports with the model.
- `model`: the regressor (`LipsyncRegressor`), its config, checkpoint save/load (strict).
- `stream`: `StreamingLipsync`, feed PCM chunks of any size, get frames as soon as the
  look-ahead allows; identical (<= 1e-4) to offline inference.
- `infer`: offline inference and the engine choice.

Training (`tools/neural/`: dataset, augmentation, `animate train`, metrics) is a developer
tool in the source checkout; ONNX and CoreML export (`animate export-model`) is
`voxface.exporters.model_export`.

torch is imported only by these modules; nothing outside this package imports them at module
level, so the core stays light. Install the extra with `pip install 'voxface[neural]'`.
"""

from __future__ import annotations

from voxface.assets import asset_path

DEFAULT_WEIGHTS = "lipsync_regressor.pt"


def available() -> bool:
    """True when torch is installed (the `neural` extra); does not import it."""
    import importlib.util

    return importlib.util.find_spec("torch") is not None


def weights_path():
    """Path of the checkpoint the engine loads: $VOXFACE_NEURAL_WEIGHTS when set, else the
    shipped assets/lipsync_regressor.pt."""
    import os

    return os.environ.get("VOXFACE_NEURAL_WEIGHTS") or asset_path(DEFAULT_WEIGHTS)
