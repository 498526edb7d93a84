"""Every kind of avatar people bring, animated from real curves (the bundled example run through
the pipeline): VRM 0.x and 1.0, Oculus-viseme-only, partial ARKit, custom names with --map,
quantized / sparse / NORMAL+TANGENT targets, several primitives, instanced meshes, .gltf with
external buffers and data URIs. Test rigs are built by tests/rigfactory.py from the real Ready
Player Me head; every input and every output passes the Khronos validator with 0 errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import rigfactory as F
from voxface.engine.coarticulation import VISEME_OF, constraint_weights
from voxface.core.curves import Curves
from voxface.engine import poses as P
from voxface.core.names import ARKIT_52, OCULUS_15
from voxface.core.errors import InputError
from voxface.rigs.gltf_rig import load_rig, write_animated_glb
from voxface.rigs.inspect import inspect_rig, inspect_rig_text
from voxface.rigs.retarget import (VISEME_POSES, lip_closure, load_name_map, parse_name_map,
                                   plan_rig, solve_visemes, solve_weights)
from voxface.rigs.vrm import read_vrm

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "assets/example.wav"


@pytest.fixture(scope="module")
def speech():
    """The bundled example through the real pipeline: (Animation, curves)."""
    from voxface.pipeline import animate

    anim = animate(EXAMPLE, transcript=EXAMPLE.with_suffix(".txt").read_text())
    return anim


@pytest.fixture(scope="module")
def rigs(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("rigs")
    subset = F.speech_arkit_subset()
    custom, mapping = F.custom_named(d / "custom.glb")
    (d / "custom.json").write_text(json.dumps(mapping))
    return {
        "partial": F.partial_arkit(d / "partial.glb"),
        "partial_gltf": F.partial_arkit(d / "partial.gltf", gltf=True),
        "oculus": F.oculus_only(d / "oculus.glb"),
        "vrm1": F.vrm1(d / "vrm1.vrm"),
        "vrm0": F.vrm0(d / "vrm0.vrm"),
        "perfect_sync": F.vrm1_perfect_sync(d / "perfect_sync.vrm"),
        "quantized": F.build_head(d / "quantized.glb", subset, quantized=True,
                                  normal_targets=True, tangents=True),
        "sparse": F.build_head(d / "sparse.glb", subset, sparse=True, normal_targets=True),
        "multi_primitive": F.build_head(d / "multi.glb", subset, primitives=3),
        "instanced": F.build_head(d / "instanced.glb", subset + ["viseme_aa"], nodes=2,
                                  node_weights={1: [0.0] * len(subset) + [0.4]}),
        "custom": custom,
    }


KINDS = ["partial", "partial_gltf", "oculus", "vrm1", "vrm0", "perfect_sync", "quantized",
         "sparse", "multi_primitive", "instanced", "custom"]
MOUTH = {"oculus": "oculus", "vrm1": "vrm", "vrm0": "vrm"}


def _map_for(kind: str, rigs: dict[str, Path]):
    return load_name_map(rigs["custom"].with_suffix(".json")) if kind == "custom" else None


def _frames(speech, labels: set[str]) -> np.ndarray:
    """Frame indices inside phones whose base label is in `labels`."""
    c = speech.curves
    t = c.times
    mask = np.zeros(c.n_frames, bool)
    for p in speech.alignment.phones:
        if P.split_stress(p.label)[0] in labels:
            mask |= (t >= p.start) & (t < p.end)
    return np.flatnonzero(mask)


# ---------------------------------------------------------------------------------------------
# Every kind: valid in, valid out, the right mode


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_animates_to_a_valid_file(kind: str, rigs, speech, tmp_path: Path,
                                             validate_glb) -> None:
    source = rigs[kind]
    report = validate_glb(source)
    assert report["numErrors"] == 0, report["messages"]  # the factory builds valid rigs

    rig = load_rig(source)
    plan = plan_rig(rig, speech.curves.names, name_map=_map_for(kind, rigs))
    assert plan.mouth == MOUTH.get(kind, "arkit")
    out = write_animated_glb(rig, speech.curves, tmp_path / f"{kind}.glb", plan=plan)
    report = validate_glb(out)
    assert report["numErrors"] == 0, report["messages"]

    doc, _ = F.read_glb(out)
    src = rig.document
    for key in ("nodes", "meshes", "extensionsUsed", "extensionsRequired", "extensions"):
        assert doc.get(key) == src.get(key) or key in ("meshes",), key
    assert [m["primitives"] for m in doc["meshes"]] == [m["primitives"] for m in src["meshes"]]
    anim = doc["animations"][-1]
    nodes = {c["target"]["node"] for c in anim["channels"]}
    assert nodes == {n for m in rig.meshes for n in m.nodes}
    times = np.arange(speech.curves.n_frames) / speech.curves.fps
    assert doc["accessors"][anim["samplers"][0]["input"]]["count"] == times.size


# ---------------------------------------------------------------------------------------------
# Viseme-only (Oculus)


def test_oculus_only_rig_gets_visemes_solved_from_arkit(rigs, speech, tmp_path: Path) -> None:
    rig = load_rig(rigs["oculus"])
    plan = plan_rig(rig, ARKIT_52)
    assert {d.via for d in plan.drives} == {"Oculus viseme solve"}
    assert any("Oculus visemes" in w for w in plan.warnings)
    out = write_animated_glb(rig, speech.curves, tmp_path / "oculus.glb", plan=plan)
    w = F.animated_weights(out, "Head")
    col = {n: i for i, n in enumerate(F.target_names_of(out, "Head"))}
    assert w.shape == (speech.curves.n_frames, 15)
    assert w.min() >= 0.0 and w.max() <= 1.0 + 1e-6

    # Closures kept: every frame the engine holds a P/B/M closure shows viseme_PP at ~1 and
    # the open visemes near 0.
    closure, contact = constraint_weights(speech.alignment, speech.curves.fps,
                                          speech.curves.n_frames)
    held = np.flatnonzero(closure >= 1.0)
    assert held.size >= 10
    assert w[held, col["viseme_PP"]].min() > 0.9
    for v in ("viseme_aa", "viseme_O", "viseme_E", "viseme_I", "viseme_U"):
        assert w[held, col[v]].max() < 0.1, v
    # viseme_PP's peaks are inside the M/B/P phones (or the closure holds around them).
    pmb = set(_frames(speech, {"P", "B", "M"})) | set(held)
    pmb |= {f + d for f in pmb for d in (-1, 1)}  # the hold's one-frame ramp
    peaks = np.flatnonzero(w[:, col["viseme_PP"]] >= 0.99 * w[:, col["viseme_PP"]].max())
    assert peaks.size and set(peaks) <= pmb
    # F/V contact shows viseme_FF.
    assert w[np.flatnonzero(contact >= 1.0), col["viseme_FF"]].mean() > 0.5
    # Open vowels: viseme_aa leads during AA/AE; the rounded U during UW.
    aa = _frames(speech, {"AA", "AE"})
    others = [col[v] for v in ("viseme_E", "viseme_I", "viseme_O", "viseme_U")]
    assert w[aa, col["viseme_aa"]].mean() > w[aa][:, others].mean(axis=0).max()
    uw = _frames(speech, {"UW"})
    assert w[uw, col["viseme_U"]].mean() > 0.5
    # Silence before the speech: viseme_sil.
    first = speech.alignment.phones[0].start
    lead = np.flatnonzero(speech.curves.times < first - 0.15)
    assert lead.size >= 5 and w[0, col["viseme_sil"]] > 0.9
    assert np.all(np.argmax(w[lead], axis=1) == col["viseme_sil"])
    # A frame exactly at rest is all viseme_sil.
    rest = Curves(fps=60.0, names=ARKIT_52, values=P.REST_POSE[None, :], duration=0.0)
    at_rest = solve_visemes(rest)
    assert at_rest["viseme_sil"][0] == 1.0
    assert all(v[0] == 0.0 for k, v in at_rest.items() if k != "viseme_sil")


def test_viseme_poses_come_from_the_phone_table() -> None:
    """One definition: each viseme's pose is the mean of its monophthong phones' poses."""
    pp = np.mean([P.TARGETS[P.PHONE_ID[p]] for p in ("P", "B", "M")], axis=0)
    np.testing.assert_allclose(VISEME_POSES["viseme_PP"], pp)
    aa = np.mean([P.TARGETS[P.PHONE_ID[p]] for p in ("AA", "AE", "AH")], axis=0)
    np.testing.assert_allclose(VISEME_POSES["viseme_aa"], aa)
    assert set(VISEME_POSES) == set(OCULUS_15) == set(VISEME_OF.values())
    # Each phone's own pose, given as a frame, is explained mostly by its own viseme.
    for vis in ("viseme_PP", "viseme_FF", "viseme_aa", "viseme_U", "viseme_I", "viseme_O"):
        frame = VISEME_POSES[vis][None, :].astype(np.float32)
        got = solve_visemes(Curves(fps=60.0, names=ARKIT_52, values=frame, duration=0.0))
        best = max((v for v in OCULUS_15 if v != "viseme_sil"), key=lambda v: got[v][0])
        assert best == vis, (vis, {k: round(float(x[0]), 2) for k, x in got.items()})


def test_solver_is_exact_nnls() -> None:

    from scipy.optimize import nnls

    rng = np.random.default_rng(1)
    basis = rng.uniform(0, 1, (24, 14)) * (rng.uniform(0, 1, (24, 14)) < 0.4)
    x = rng.uniform(0, 0.6, (10800, 24))
    ridge = 0.01
    got = solve_weights(x, basis, ridge=ridge, upper=np.inf)  # three minutes at 60 fps
    a_aug = np.vstack([basis, np.sqrt(ridge) * np.eye(14)])
    for t in range(0, 10800, 27):
        ref = nnls(a_aug, np.concatenate([x[t], np.zeros(14)]))[0]
        np.testing.assert_allclose(got[t], ref, atol=1e-9)
    assert np.all(solve_weights(x[:50], basis) <= 1.0)


def test_lip_closure_reads_the_engine_constraint(speech) -> None:
    closure, _ = constraint_weights(speech.alignment, speech.curves.fps, speech.curves.n_frames)
    c = lip_closure(speech.curves.values)
    assert c[closure >= 1.0].min() > 0.9
    silent = speech.curves.times < speech.alignment.phones[0].start - 0.15
    assert c[silent].max() == 0.0  # rest is not a closure


# ---------------------------------------------------------------------------------------------
# VRM


@pytest.mark.parametrize("kind,version", [("vrm1", "1.0"), ("vrm0", "0.x")])
def test_vrm_vowels_and_blinks_follow_the_binds(kind: str, version: str, rigs, speech,
                                                tmp_path: Path) -> None:
    rig = load_rig(rigs[kind])
    info = read_vrm(rig.document)
    assert info.version == version and not info.problems
    assert {e.preset for e in info.expressions} >= {"aa", "ih", "ou", "ee", "oh", "blink"}
    # Real curves plus a blink ramp on both eyes.
    values = speech.curves.values.copy()
    ramp = np.linspace(0, 1, speech.curves.n_frames, dtype=np.float32)
    values[:, ARKIT_52.index("eyeBlinkLeft")] = ramp
    values[:, ARKIT_52.index("eyeBlinkRight")] = ramp[::-1]
    curves = Curves(fps=speech.curves.fps, names=ARKIT_52, values=values,
                    duration=speech.curves.duration)
    plan = plan_rig(rig, curves.names)
    assert plan.mouth == "vrm"
    out = write_animated_glb(rig, curves, tmp_path / f"{kind}.glb", plan=plan)
    w = F.animated_weights(out, "Face")
    col = {n: i for i, n in enumerate(F.target_names_of(out, "Face"))}
    vowel = {v: w[:, col[t]] for v, t in F.VRM1_VOWEL_TARGET.items()}

    # blinkLeft / blinkRight (both bound) follow eyeBlinkLeft / Right exactly.
    np.testing.assert_allclose(w[:, col["Fcl_EYE_Close_L"]], ramp, atol=1e-6)
    np.testing.assert_allclose(w[:, col["Fcl_EYE_Close_R"]], ramp[::-1], atol=1e-6)
    # Emotions are not speech: held at the default.
    assert np.all(w[:, col["Fcl_MTH_Joy"]] == 0.0)
    # 'aa' leads in the AA/AE vowels, 'ou' in UW, and nothing opens in a closure.
    aa = _frames(speech, {"AA", "AE"})
    assert vowel["aa"][aa].mean() > max(vowel[v][aa].mean() for v in ("ih", "ou", "ee", "oh"))
    uw = _frames(speech, {"UW"})
    assert vowel["ou"][uw].mean() > max(vowel[v][uw].mean() for v in ("aa", "ih", "ee", "oh"))
    closure, _ = constraint_weights(speech.alignment, curves.fps, curves.n_frames)
    held = closure >= 1.0
    assert max(v[held].max() for v in vowel.values()) < 0.1
    assert vowel["aa"].max() > 0.5
    # The 'oh' bind has weight 0.8 (VRM 0.x: 80 of 100): the target is 0.8 x the preset.
    plan_oh = [d for d in plan.drives if d.target == col["Fcl_MTH_O"]]
    assert [d.weight for d in plan_oh] == [pytest.approx(F.VRM_OH_WEIGHT)]
    assert vowel["oh"].max() <= F.VRM_OH_WEIGHT + 1e-6


def test_vrm_perfect_sync_custom_expressions_drive_by_arkit_name(rigs, speech,
                                                                 tmp_path: Path) -> None:
    rig = load_rig(rigs["perfect_sync"])
    plan = plan_rig(rig, ARKIT_52)
    assert plan.mouth == "arkit"
    assert {d.via for d in plan.drives} == {"VRM expression (ARKit)"}
    out = write_animated_glb(rig, speech.curves, tmp_path / "ps.glb", plan=plan)
    w = F.animated_weights(out, "Face")
    names = F.target_names_of(out, "Face")
    np.testing.assert_array_equal(w[:, names.index("Fcl_PS_jawOpen")],
                                  speech.curves.column("jawOpen"))
    # The blink preset is not driven on top of the ARKit-named blink expressions.
    assert len([d for d in plan.drives if d.target == names.index("Fcl_PS_eyeBlinkLeft")]) == 1


def test_vrm_with_broken_binds_is_reported_not_fatal(rigs, speech, tmp_path: Path,
                                                    validate_glb) -> None:
    doc, blob = F.read_glb(rigs["vrm0"])
    groups = doc["extensions"]["VRM"]["blendShapeMaster"]["blendShapeGroups"]
    groups[1]["binds"].append({"mesh": 7, "index": 0, "weight": 100})
    groups[2]["binds"].append({"mesh": 0, "index": 99, "weight": 100})
    b = F.GltfBuilder()
    b.doc, b.blob = {k: v for k, v in doc.items() if k != "buffers"}, bytearray(blob)
    path = b.save_glb(tmp_path / "broken.vrm")
    rig = load_rig(path)
    plan = plan_rig(rig, ARKIT_52)
    problems = [w for w in plan.warnings if w.startswith("VRM:")]
    assert len(problems) == 2 and "mesh 7 does not exist" in problems[0]
    out = write_animated_glb(rig, speech.curves, tmp_path / "broken.glb", plan=plan)
    assert validate_glb(out)["numErrors"] == 0


# ---------------------------------------------------------------------------------------------
# Partial ARKit, custom names, geometry variants


def test_partial_arkit_drives_what_exists_and_reports_the_rest(rigs, speech,
                                                               tmp_path: Path) -> None:
    rig = load_rig(rigs["partial"])
    plan = plan_rig(rig, ARKIT_52)
    assert plan.missing == tuple(n for n in ARKIT_52 if n in F.PARTIAL_DROPPED)
    (line,) = plan.warnings
    assert line.startswith("rig lacks 12 ARKit shapes: eyeLookDownLeft, ")
    out = write_animated_glb(rig, speech.curves, tmp_path / "partial.glb", plan=plan)
    w = F.animated_weights(out, "Head")
    for t, name in enumerate(F.target_names_of(out, "Head")):
        np.testing.assert_array_equal(w[:, t], speech.curves.column(name))


@pytest.mark.parametrize("kind", ["quantized", "sparse", "multi_primitive", "instanced",
                                  "partial_gltf"])
def test_geometry_variants_get_the_curves_exactly(kind: str, rigs, speech,
                                                  tmp_path: Path) -> None:
    rig = load_rig(rigs[kind])
    out = write_animated_glb(rig, speech.curves, tmp_path / f"{kind}.glb")
    doc, _ = F.read_glb(out)
    assert len(doc["buffers"]) == 1 and "uri" not in doc["buffers"][0]
    for image in doc.get("images", []):
        assert "uri" not in image and image["mimeType"] == "image/png"
    names = F.target_names_of(out, "Head")
    nodes = ["Head", "Head.1"] if kind == "instanced" else ["Head"]
    for node in nodes:
        w = F.animated_weights(out, node)
        for t, name in enumerate(names):
            if name in ARKIT_52:
                np.testing.assert_array_equal(w[:, t], speech.curves.column(name))
            else:  # viseme_aa on the instanced rig: the node's own default, else the mesh's
                assert np.all(w[:, t] == (0.4 if node == "Head.1" else 0.0))
    if kind == "instanced":
        anim = doc["animations"][-1]
        assert len(anim["channels"]) == 2
        assert len({s["output"] for s in anim["samplers"]}) == 2  # different defaults


def test_custom_names_through_a_map(rigs, speech, tmp_path: Path) -> None:
    rig = load_rig(rigs["custom"])
    with pytest.raises(InputError, match="no morph target matches an ARKit blendshape name"):
        plan_rig(rig, ARKIT_52)  # without the map nothing matches
    mapping = load_name_map(rigs["custom"].with_suffix(".json"))
    assert mapping["Mouth_Smile_L"] == ("mouthSmileLeft", 0.8)
    plan = plan_rig(rig, ARKIT_52, name_map=mapping)
    assert plan.missing == ()
    assert plan.warnings == ("name map: 1 names match no morph target: Not_On_This_Rig",)
    out = write_animated_glb(rig, speech.curves, tmp_path / "custom.glb", name_map=mapping)
    w = F.animated_weights(out, "Head")
    names = F.target_names_of(out, "Head")
    np.testing.assert_array_equal(w[:, names.index("Jaw_Open")], speech.curves.column("jawOpen"))
    np.testing.assert_allclose(w[:, names.index("Mouth_Smile_L")],
                               0.8 * speech.curves.column("mouthSmileLeft"), rtol=1e-6)
    text = inspect_rig(rig, plan)
    assert "Mouth_Smile_L" in text and "mouthSmileLeft x0.8" in text and "[map]" in text


def test_name_map_errors() -> None:
    with pytest.raises(InputError, match="neither an ARKit blendshape nor an Oculus viseme"):
        parse_name_map({"A": "jawOpn"})
    with pytest.raises(InputError, match="scale must be a number"):
        parse_name_map({"A": {"arkit": "jawOpen", "scale": "big"}})
    with pytest.raises(InputError, match="must be a JSON object"):
        parse_name_map(["jawOpen"])
    # Names are canonicalised; visemes are allowed.
    assert parse_name_map({"a": "JAWOPEN", "b": "vrc.v_aa"}) == {
        "a": ("jawOpen", 1.0), "b": ("viseme_aa", 1.0)}


def test_map_to_visemes_and_vrchat_names(speech, tmp_path: Path, validate_glb) -> None:
    """VRChat viseme names (vrc.v_pp ...) are Oculus visemes; a map can also point at one."""
    vrc = {v: "vrc.v_" + n for v, n in zip(OCULUS_15, (
        "sil", "pp", "ff", "th", "dd", "kk", "ch", "ss", "nn", "rr", "aa", "e", "ih", "oh",
        "ou"))}
    rig = load_rig(F.build_head(tmp_path / "vrc.glb", vrc))
    plan = plan_rig(rig, ARKIT_52)
    assert plan.mouth == "oculus" and len(plan.drives) == 15
    rig2 = load_rig(F.build_head(tmp_path / "mth.glb", {"viseme_aa": "MTH_A",
                                                         "viseme_PP": "MTH_M"}))
    plan2 = plan_rig(rig2, ARKIT_52, name_map={"MTH_A": ("viseme_aa", 1.0),
                                               "MTH_M": ("viseme_PP", 1.0)})
    assert plan2.mouth == "oculus" and {d.channel for d in plan2.drives} == {
        "oculus:viseme_aa", "oculus:viseme_PP"}
    out = write_animated_glb(rig2, speech.curves, tmp_path / "mth_out.glb", plan=plan2)
    assert validate_glb(out)["numErrors"] == 0


def test_rpm_keeps_arkit_and_leaves_visemes(speech) -> None:
    rig = load_rig(F.RPM)
    plan = plan_rig(rig, ARKIT_52)
    assert plan.mouth == "arkit" and plan.missing == () and plan.warnings == ()
    assert len(plan.drives) == 4 * 52
    assert {d.via for d in plan.drives} == {"ARKit direct"}


# ---------------------------------------------------------------------------------------------
# Inputs we cannot use, or that are already broken


def test_meshopt_required_is_refused_clearly(tmp_path: Path) -> None:
    doc, blob = F.read_glb(F.build_head(tmp_path / "m.glb", ["jawOpen"]))
    doc["extensionsUsed"] = doc["extensionsRequired"] = ["EXT_meshopt_compression"]
    b = F.GltfBuilder()
    b.doc, b.blob = {k: v for k, v in doc.items() if k != "buffers"}, bytearray(blob)
    path = b.save_glb(tmp_path / "meshopt.glb")
    with pytest.raises(InputError, match="EXT_meshopt_compression.*decompress it first"):
        load_rig(path)


def test_input_with_validation_errors_is_carried_not_crashed(speech, tmp_path: Path,
                                                             validate_glb) -> None:
    """A rig whose POSITION bounds are wrong (a common exporter bug) still animates; the
    output has the input's errors and no new ones."""
    doc, blob = F.read_glb(F.build_head(tmp_path / "ok.glb", F.speech_arkit_subset()))
    pos = doc["meshes"][0]["primitives"][0]["attributes"]["POSITION"]
    doc["accessors"][pos]["max"] = [9.0, 9.0, 9.0]
    b = F.GltfBuilder()
    b.doc, b.blob = {k: v for k, v in doc.items() if k != "buffers"}, bytearray(blob)
    bad = b.save_glb(tmp_path / "bad_bounds.glb")
    before = validate_glb(bad)
    assert before["numErrors"] > 0
    out = write_animated_glb(load_rig(bad), speech.curves, tmp_path / "out.glb")
    after = validate_glb(out)
    assert {m["code"] for m in after["messages"] if m["severity"] == 0} == \
        {m["code"] for m in before["messages"] if m["severity"] == 0}
    assert after["numErrors"] == before["numErrors"]


# ---------------------------------------------------------------------------------------------
# Command line


def test_cli_map_and_warnings(rigs, tmp_path: Path, capsys, validate_glb) -> None:
    from voxface.cli import main

    rc = main([str(EXAMPLE), "--rig", str(rigs["oculus"]), "-o", str(tmp_path / "o"),
               "--format", "glb"])
    err = capsys.readouterr().err
    assert rc == 0, err
    assert "animate: warning: rig has no ARKit mouth shapes: the mouth is driven through its " \
           "15 Oculus visemes" in err
    assert validate_glb(tmp_path / "o/example.glb")["numErrors"] == 0

    rc = main([str(EXAMPLE), "--rig", str(rigs["custom"]), "--map",
               str(rigs["custom"].with_suffix(".json")), "-o", str(tmp_path / "c"),
               "--format", "glb", "-q"])
    err = capsys.readouterr().err
    assert rc == 0, err
    assert err.strip() == "animate: warning: name map: 1 names match no morph target: " \
                          "Not_On_This_Rig"
    w = F.animated_weights(tmp_path / "c/example.glb", "Head")
    assert w[:, F.target_names_of(rigs["custom"], "Head").index("Jaw_Open")].max() > 0.3

    rc = main([str(EXAMPLE), "--rig", str(rigs["vrm1"]), "-o", str(tmp_path / "v"),
               "--format", "glb", "-q"])
    assert rc == 0
    assert "VRM 1.0 vowel presets" in capsys.readouterr().err

    bad_map = tmp_path / "bad.json"
    bad_map.write_text("{not json")
    rc = main([str(EXAMPLE), "--rig", str(rigs["custom"]), "--map", str(bad_map),
               "-o", str(tmp_path / "x")])
    err = capsys.readouterr().err
    assert rc == 2 and "bad.json: name map is not valid JSON" in err and "\n" == err[-1]
    assert err.count("\n") == 1


def test_cli_rig_inspect(rigs, capsys) -> None:
    from voxface.cli import main

    assert main(["rig", "inspect", str(rigs["vrm1"])]) == 0
    out = capsys.readouterr().out
    assert "format: VRM 1.0" in out and "mouth: VRM vowel presets" in out
    assert "Fcl_MTH_A" in out and "<- vrm:aa" in out and "[VRM preset]" in out
    assert "Fcl_MTH_O" in out and "vrm:oh x0.8" in out
    assert "not driven (1, held at their default weight): Fcl_MTH_Joy" in out

    assert main(["rig", "inspect", str(rigs["custom"]), "--map",
                 str(rigs["custom"].with_suffix(".json"))]) == 0
    out = capsys.readouterr().out
    assert "Jaw_Open" in out and "<- jawOpen  [map]" in out
    assert "ARKit shapes with no target: none" in out

    assert main(["rig", "inspect", str(rigs["oculus"])]) == 0
    out = capsys.readouterr().out
    assert "mouth: Oculus visemes" in out and "[Oculus viseme solve]" in out

    assert main(["rig", "inspect", str(rigs["partial"])]) == 0
    out = capsys.readouterr().out
    assert "ARKit shapes with no target (12): eyeLookDownLeft" in out

    # A rig nothing drives is reported (exit 0), with the reason.
    text = inspect_rig_text(rigs["custom"])
    assert "none driven" in text and "error:" in text and "--map" in text


def test_viseme_and_vowel_solves_in_pieces_equal_one_piece(speech, monkeypatch) -> None:
    """Long curves are fitted SOLVE_FRAMES frames at a time (memory bound); every frame's fit
    is independent, so pieces give the numbers of one whole solve."""
    from voxface.rigs import retarget

    whole = retarget.solve_visemes(speech.curves), retarget.solve_vrm_vowels(speech.curves)
    monkeypatch.setattr(retarget, "SOLVE_FRAMES", 37)
    parts = retarget.solve_visemes(speech.curves), retarget.solve_vrm_vowels(speech.curves)
    for a, b in zip(whole, parts):
        assert a.keys() == b.keys()
        for k in a:
            np.testing.assert_allclose(b[k], a[k], rtol=0, atol=1e-6, err_msg=k)


@pytest.mark.parametrize("kind", ["oculus", "vrm1", "custom"])
def test_blend_tracks_follow_the_rig_plan(kind: str, rigs, speech, tmp_path: Path) -> None:
    """`--format blend` keys the morph weights of the animated GLB (exporters.blender.rig_tracks,
    no Blender needed to check): the same plan as the GLB, --map, viseme solve and VRM binds
    included."""
    import dataclasses

    from voxface.exporters.blender import rig_tracks

    rig = load_rig(rigs[kind])
    name_map = _map_for(kind, rigs)
    anim = dataclasses.replace(speech, rig=rig, name_map=name_map)
    tracks = rig_tracks(anim, name="x")
    out = write_animated_glb(rig, speech.curves, tmp_path / "x.glb", name_map=name_map)
    assert tracks
    for node, targets, values in tracks:
        w = F.animated_weights(out, node)
        names = F.target_names_of(out, F.read_glb(out)[0]["meshes"][0]["name"])
        for k, t in enumerate(targets):
            np.testing.assert_array_equal(values[:, k], w[:, names.index(t)])
    driven = {t for _, targets, _ in tracks for t in targets}
    if kind == "oculus":
        assert {"viseme_aa", "viseme_PP"} <= driven
    elif kind == "vrm1":
        assert set(F.VRM1_VOWEL_TARGET.values()) <= driven
    else:
        assert "Jaw_Open" in driven and "Mouth_Smile_L" in driven


# ---------------------------------------------------------------------------------------------
# Rig kinds are adapters in a registry


def test_kind_registry_order() -> None:
    """plan_rig asks the adapters in this order: a map renames first, names match before a
    target can count as a viseme, and the mouth goes to ARKit names, then visemes, then VRM."""
    from voxface.rigs import kinds as rig_kinds

    assert [k.name for k in rig_kinds.KINDS] == ["name_map", "arkit", "oculus", "vrm"]
    assert [k.mouth for k in rig_kinds.KINDS if k.mouth] == ["arkit", "oculus", "vrm"]


def test_a_new_rig_kind_is_one_adapter(tmp_path: Path, monkeypatch) -> None:
    """A kind added to the registry takes part in planning with no change to plan_rig: here a
    rig whose jaw target is called 'Kiefer' (German) is driven at half the jawOpen curve, which
    then also counts as a named speech shape (mouth 'arkit', jawOpen not missing)."""
    from voxface.core.rigplan import Drive
    from voxface.rigs import retarget
    from voxface.rigs.kinds.base import RigKind

    class German(RigKind):
        name = "german"

        def match(self, draft, mesh, index, target):
            if target.name != "Kiefer" or "jawopen" not in draft.column:
                return False
            draft.add(Drive(mesh=mesh, target=index, channel="jawOpen", weight=0.5,
                            via="German"))
            return True

    path = F.build_head(tmp_path / "kiefer.glb", {"jawOpen": "Kiefer",
                                                  "eyeBlinkLeft": "eyeBlinkLeft"})
    rig = load_rig(path)
    before = plan_rig(rig, ARKIT_52)
    assert before.mouth == "none" and "jawOpen" in before.missing
    monkeypatch.setattr(retarget, "KINDS", retarget.KINDS + (German(),))
    after = plan_rig(rig, ARKIT_52)
    (jaw,) = [d for d in after.drives if d.via == "German"]
    assert (jaw.channel, jaw.weight, rig.meshes[0].target_names[jaw.target]) == \
        ("jawOpen", 0.5, "Kiefer")
    assert after.mouth == "arkit" and "jawOpen" not in after.missing


def test_rig_plan_is_a_core_value() -> None:
    """voxface.core.rigplan (the plan's types) loads nothing from the rest of voxface."""
    import subprocess
    import sys

    code = ("import sys, voxface.core.rigplan; print(sorted(m for m in sys.modules if "
            "m.startswith('voxface.') and not m.startswith('voxface.core')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"
