"""Tests of the procedural default rig `fitme` (rigs/fitme.py) and its shipped asset."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from voxface.engine.names import ARKIT_52, OCULUS_15
from voxface.rigs import fitme_geom as G
from voxface.rigs.fitme import IDENTITY_NAMES, build_fitme
from voxface.rigs.render import load_glb

ROOT = Path(__file__).resolve().parents[1]
ASSET = ROOT / "assets" / "fitme.glb"


@pytest.fixture(scope="module")
def fresh(tmp_path_factory) -> Path:
    p = tmp_path_factory.mktemp("fitme") / "fitme.glb"
    build_fitme(p)
    return p


@pytest.fixture(scope="module")
def meshes(fresh):
    """{mesh name: (positions [N,3], {target: dpos [N,3]})} of the fresh build."""
    from pygltflib import GLTF2

    from voxface.rigs.render import _read_accessor

    g = GLTF2().load(str(fresh))
    blob = g.binary_blob()
    out = {}
    for m in g.meshes:
        prim = m.primitives[0]
        pos = _read_accessor(g, blob, prim.attributes.POSITION)
        names = (m.extras or {}).get("targetNames", [])
        tg = {n: _read_accessor(g, blob, t["POSITION"] if isinstance(t, dict) else t.POSITION)
              for n, t in zip(names, prim.targets or [])}
        out[m.name] = (pos, tg)
    return out


def test_shipped_asset_is_a_fresh_build(fresh):
    assert ASSET.exists(), "assets/fitme.glb missing: build it with build_fitme('assets/fitme.glb')"
    assert ASSET.read_bytes() == fresh.read_bytes(), "assets/fitme.glb is stale or the build is not deterministic"


def test_build_is_deterministic(fresh, tmp_path):
    p = tmp_path / "again.glb"
    build_fitme(p)
    assert p.read_bytes() == fresh.read_bytes()


def test_size_and_vertex_count(fresh, meshes):
    assert fresh.stat().st_size <= 5 * 1024 * 1024
    n = sum(len(pos) for pos, _ in meshes.values())
    assert 5_000 <= n <= 30_000


def test_target_names(meshes):
    head = meshes["Head"][1]
    for name in list(ARKIT_52) + list(OCULUS_15):
        assert name in head, name
    assert sum(n.startswith("id_") for n in head) >= 10
    assert set(IDENTITY_NAMES) <= set(head)
    for m in ("Teeth", "Tongue"):
        for name in ("jawOpen", "jawForward", "jawLeft", "jawRight", "tongueOut"):
            assert name in meshes[m][1], (m, name)
    for side in ("Left", "Right"):
        for d in ("Up", "Down", "In", "Out"):
            assert f"eyeLook{d}{side}" in meshes[f"Eye{side}"][1]


def test_every_target_moves(meshes):
    for mesh, (_, targets) in meshes.items():
        for name, d in targets.items():
            assert np.abs(d).max() > 1e-4, (mesh, name)  # > 0.1 mm somewhere


def test_validator_has_no_errors(fresh):
    vdir = Path(os.environ.get("VOXFACE_GLTF_VALIDATOR_DIR", "/tmp/npmv"))
    node = shutil.which("node")
    if node is None or not (vdir / "node_modules" / "gltf-validator").exists():
        pytest.skip("node or gltf-validator not installed (set VOXFACE_GLTF_VALIDATOR_DIR)")
    js = ("const v=require('gltf-validator');const fs=require('fs');"
          "v.validateBytes(new Uint8Array(fs.readFileSync(process.argv[1])))"
          ".then(r=>console.log(JSON.stringify(r.issues)))")
    res = subprocess.run([node, "-e", js, str(fresh)], cwd=vdir, capture_output=True, text=True, timeout=300)
    issues = json.loads(res.stdout)
    errors = [m for m in issues["messages"] if m["severity"] == 0]
    assert issues["numErrors"] == 0, errors[:5]


def test_jaw_open_moves_lower_lip_and_teeth(meshes):
    pos, tg = meshes["Head"]
    d = tg["jawOpen"]
    m_y = -0.068
    # lower lip: front-most vertices just below the mouth line
    front = pos[:, 2] > np.percentile(pos[:, 2], 97)
    lower_lip = front & (pos[:, 1] < m_y - 0.004) & (pos[:, 1] > m_y - 0.015) & (np.abs(pos[:, 0]) < 0.01)
    upper_lip = front & (pos[:, 1] > m_y + 0.003) & (pos[:, 1] < m_y + 0.012) & (np.abs(pos[:, 0]) < 0.01)
    assert lower_lip.sum() > 3 and upper_lip.sum() > 3
    assert d[lower_lip, 1].mean() < -0.025  # several cm down
    assert abs(d[upper_lip, 1].mean()) < 0.004
    tpos, ttg = meshes["Teeth"]
    dt = ttg["jawOpen"]
    low, high = tpos[:, 1] < m_y - 0.003, tpos[:, 1] > m_y + 0.003  # lower / upper arch
    assert dt[low, 1].mean() < -0.015 and np.abs(dt[high]).max() < 1e-6
    # jawOpen + mouthClose seals the lips: lip contact gap is small again
    closed = pos + d + tg["mouthClose"]
    gap = closed[upper_lip, 1].min() - closed[lower_lip, 1].max()
    assert gap < 0.004


def test_eye_blink_closes_lids(meshes):
    pos, tg = meshes["Head"]
    eye = G.eye_center(1)
    d = tg["eyeBlinkLeft"]
    moved = np.linalg.norm(d, axis=1) > 1e-4
    rel = pos - eye
    upper = moved & (rel[:, 1] > 0.002) & (np.linalg.norm(rel, axis=1) < G.R_LID + 0.002)
    assert upper.sum() > 10 and d[upper, 1].mean() < -0.002  # upper lid comes down
    # closed: every ray from the front hits lid skin before the eyeball -> lid vertices in front of
    # the cornea cover the opening (no vertex of the lid shell is inside the eyeball's front cap)
    closed = pos + d
    near = (np.linalg.norm(closed - eye, axis=1) < G.R_LID + 0.001) & (closed[:, 2] > eye[2] + 0.008)
    r = np.linalg.norm(closed[near] - eye, axis=1)
    assert near.sum() > 50 and r.min() > G.R_EYE
    # and the eyeball itself is not moved by a blink
    assert "eyeBlinkLeft" not in meshes["EyeLeft"][1]


def test_identity_bakes_and_expressions_still_work(tmp_path):
    p = tmp_path / "id.glb"
    build_fitme(p, {"id_jawWidth": 1.0, "id_noseLength": 0.5})
    from voxface.rigs.render import load_glb as _load

    ms = {m.name.split("/")[0]: m for m in _load(p)}
    base = {m.name.split("/")[0]: m for m in load_glb(ASSET)}
    assert not np.allclose(ms["Head"].pos, base["Head"].pos)
    assert np.abs(ms["Head"].targets["jawOpen"][0]).max() > 0.02
    with pytest.raises(KeyError):
        build_fitme(tmp_path / "bad.glb", {"id_nope": 1.0})


def test_render_preview_smoke():
    pytest.importorskip("PIL")
    from voxface.rigs.render import render_rig

    img = render_rig(ASSET, {"jawOpen": 1.0}, size=96)
    assert img.shape == (96, 96, 3) and img.dtype == np.uint8
    assert img.std() > 10
