"""Make `assets/fitme_ict.npz`, the compact slice of the ICT FaceKit model the fitme builder needs.

    python -m tools.fitme_data [--src ../shared/assets/models/ict_facekit] [-o assets/fitme_ict.npz]

The full model (../shared/assets/models/ict_facekit/ict_facekit.npz, 23 MB, 100 identity
components, dense expression deltas) stays outside the repository; users get this derived file
(MIT, USC ICT: see assets/ICT_FACEKIT_LICENSE) inside the package. What it keeps:

| array | shape | what |
|---|---|---|
| `neutral` | [V,3] f32 | neutral vertices, metres (the model's centimetres x 0.01) |
| `uv` | [T,2] f32 | texture coordinates |
| `face_v`, `face_uv` | [F,4] i32 | quads / triangles (-1 as 4th index), into `neutral` / `uv` |
| `face_group` | [F] i16 | index into `group_names` |
| `expr_names` | [E] str | the model's expression names (`_L`/`_R` halves) |
| `expr_idx`, `expr_val`, `expr_ptr` | CSR | per expression: moved vertices and their deltas in 1e-5 m (int16); offsets below THRESHOLD dropped (scan noise far from the moving region) |
| `id_val` | [K,V,3] i16 | the first K identity principal components in 1e-5 m (1 unit = 1 standard deviation) |
| `landmarks` | [68] i32 | the model's 68 facial landmarks (dlib order) |

Vertices of the lacrimal fluid, eye blend and eye occlusion layers are dropped: they are
textured overlays in the original and read as grey films without their textures.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT.parent / "shared" / "assets" / "models" / "ict_facekit"
OUT = ROOT / "assets" / "fitme_ict.npz"
N_IDENTITY = 20
UNIT = 1e-5  # m per int16 step
THRESHOLD = 1e-4  # m; expression offsets smaller than this are scan noise or invisible
DROP = ("M_LacrimalFluid", "M_EyeBlend", "M_EyeOcclusion")
KEEP_EXPR_SKIP = ("PupilDilate_L", "PupilDilate_R", "cheekRaiser_L", "cheekRaiser_R")


def _q(a: np.ndarray) -> np.ndarray:
    q = np.round(np.asarray(a, np.float64) / UNIT)
    assert np.abs(q).max() < 32767, "delta out of int16 range"
    return q.astype(np.int16)


def make(src: Path = SRC, out: Path = OUT) -> Path:
    z = np.load(src / "ict_facekit.npz")
    mats = [str(m) for m in z["material_names"]]
    fm = z["face_material"]
    keep_f = ~np.isin(fm, [mats.index(m) for m in DROP])
    fv, fuv, fm = z["face_v"][keep_f], z["face_uv"][keep_f], fm[keep_f]
    used = np.unique(fv[fv >= 0])
    remap = -np.ones(len(z["neutral"]), np.int64)
    remap[used] = np.arange(len(used))
    fv = np.where(fv >= 0, remap[np.maximum(fv, 0)], -1).astype(np.int32)
    usedt = np.unique(fuv[fuv >= 0])
    remapt = -np.ones(len(z["uv"]), np.int64)
    remapt[usedt] = np.arange(len(usedt))
    fuv = np.where(fuv >= 0, remapt[np.maximum(fuv, 0)], -1).astype(np.int32)
    neutral = (z["neutral"][used].astype(np.float64) * 0.01).astype(np.float32)
    names, idx, val, ptr = [], [], [], [0]
    for i, n in enumerate(z["expression_names"]):
        if str(n) in KEEP_EXPR_SKIP:
            continue
        d = z["expression_deltas"][i][used].astype(np.float64) * 0.01
        moved = np.nonzero(np.linalg.norm(d, axis=1) >= THRESHOLD)[0]
        names.append(str(n))
        idx.append(moved.astype(np.int32))
        val.append(_q(d[moved]))
        ptr.append(ptr[-1] + len(moved))
    ident = np.stack([_q(z["identity_deltas"][k][used].astype(np.float64) * 0.01)
                      for k in range(N_IDENTITY)])
    vi = json.loads((src / "vertex_indices.json").read_text())
    lm = remap[np.asarray(vi["idx_to_landmark_verts"], np.int64)]
    assert np.all(lm >= 0)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        out, neutral=neutral, uv=z["uv"][usedt].astype(np.float32), face_v=fv, face_uv=fuv,
        face_group=fm.astype(np.int16), group_names=np.array(mats),
        expr_names=np.array(names), expr_idx=np.concatenate(idx), expr_val=np.concatenate(val),
        expr_ptr=np.asarray(ptr, np.int64), id_val=ident, landmarks=lm.astype(np.int32),
        unit=np.float64(UNIT))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--src", type=Path, default=SRC, help="folder with ict_facekit.npz")
    ap.add_argument("-o", "--out", type=Path, default=OUT)
    a = ap.parse_args(argv)
    p = make(a.src, a.out)
    print(f"{p}: {p.stat().st_size:,} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
