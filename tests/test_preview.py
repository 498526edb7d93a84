"""`animate --preview`: the rendered MP4 (frames, duration, mouth motion, the speech's own audio),
the contact sheet, audio stream copy, all-or-nothing writing, and the Blender engine.

Needs 'voxface[preview]' + pyrender and an offscreen OpenGL (tests/setup.sh installs
libosmesa6); skips when they are missing. Decoding uses the ffmpeg that imageio-ffmpeg ships."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from voxface.cli import main

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "assets/example.wav"
ASSET_FITME = Path(__file__).resolve().parents[1] / "assets" / "fitme.glb"
RPM = REPO.parent / "shared/assets/rigs/rpm_brunette.glb"

CLOSURES = {"P", "B", "M"}
OPEN_VOWELS = {"AA", "AY", "AE", "AO", "AW", "AH"}


def _preview_available() -> str | None:
    try:
        from voxface.exporters.preview import _import_pyrender, ffmpeg_exe

        ffmpeg_exe()
        _import_pyrender()
    except Exception as exc:  # MissingDependencyError, or no GL library
        return str(exc)
    return None


_MISSING = _preview_available()
pytestmark = pytest.mark.skipif(_MISSING is not None, reason=f"preview unavailable: {_MISSING}")


def ffmpeg() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def probe(path: Path) -> str:
    """`ffmpeg -i` 's description of the file (stderr)."""
    return subprocess.run([ffmpeg(), "-hide_banner", "-nostdin", "-i", str(path)],
                          capture_output=True, text=True).stderr


def container_duration(path: Path) -> float:
    h, m, s = re.search(r"Duration: (\d+):(\d+):([\d.]+)", probe(path)).groups()
    return int(h) * 3600 + int(m) * 60 + float(s)


def video_frames(path: Path) -> np.ndarray:
    """Every decoded video frame, [N, H, W, 3] uint8."""
    import imageio_ffmpeg

    gen = imageio_ffmpeg.read_frames(str(path))
    meta = next(gen)
    w, h = meta["size"]
    frames = [np.frombuffer(f, np.uint8).reshape(h, w, 3) for f in gen]
    return np.stack(frames)


def decoded_audio(path: Path, fmt: str = "s16le") -> np.ndarray:
    """The first audio stream decoded at its own rate and channel count (no resampling)."""
    out = subprocess.run([ffmpeg(), "-hide_banner", "-nostdin", "-loglevel", "error", "-i",
                          str(path), "-map", "0:a:0", "-f", fmt, "-"],
                         capture_output=True, check=True).stdout
    return np.frombuffer(out, {"s16le": np.int16, "s32le": np.int32}.get(fmt, np.float32))


def packet_hashes(path: Path) -> list[tuple[int, str]]:
    """(size, md5) of every packet of the first audio stream, copied, not decoded."""
    out = subprocess.run([ffmpeg(), "-hide_banner", "-nostdin", "-loglevel", "error", "-i",
                          str(path), "-map", "0:a:0", "-c", "copy", "-f", "framemd5", "-"],
                         capture_output=True, text=True, check=True).stdout
    rows = [ln.split(",") for ln in out.splitlines() if ln and not ln.startswith("#")]
    return [(int(r[4]), r[5].strip()) for r in rows]


def run_preview(tmp: Path, preview_name: str, *extra: str, audio: Path = EXAMPLE) -> tuple:
    out = tmp / "out"
    preview = tmp / preview_name
    rc = main([str(audio), "-o", str(out), "--format", "json", "--preview", str(preview), "-q",
               *extra])
    assert rc == 0
    doc = json.loads((out / f"{audio.stem}.json").read_text())
    return preview, doc


def phone_frame(doc: dict, labels: set[str], longest: bool = False) -> int:
    """The frame at the centre of the first (or longest) phone with one of `labels`."""
    phones = [p for p in doc["phones"] if p["phone"].rstrip("012") in labels]
    assert phones, f"no phone in {labels}"
    p = max(phones, key=lambda p: p["end"] - p["start"]) if longest else phones[0]
    return int(round((p["start"] + p["end"]) / 2 * doc["fps"]))


def check_video(preview: Path, doc: dict) -> np.ndarray:
    """Frame count, duration and the lips: returns the frames."""
    fps = doc["fps"]
    n_curves = len(doc["values"])
    frames = video_frames(preview)
    assert abs(len(frames) - n_curves) <= 1, (len(frames), n_curves)
    audio_s = sf.info(str(EXAMPLE)).duration
    assert abs(len(frames) / fps - audio_s) <= 1 / fps + 1e-6  # the video stream
    # the container (its Duration line has 10 ms resolution)
    assert abs(container_duration(preview) - audio_s) <= 1 / fps + 0.01
    assert "h264" in probe(preview) and f"{fps} fps" in probe(preview)

    # The mouth moves: a frame inside an M/B/P closure against one inside an open vowel
    # differ in the lower middle of the face (where the camera framing puts the mouth), and
    # more there than in the upper half.
    closed = frames[min(phone_frame(doc, CLOSURES), len(frames) - 1)].astype(np.int16)
    opened = frames[min(phone_frame(doc, OPEN_VOWELS, longest=True), len(frames) - 1)]
    diff = np.abs(closed - opened.astype(np.int16)).sum(-1)
    h, w = diff.shape
    mouth = diff[int(0.55 * h):int(0.95 * h), int(0.25 * w):int(0.75 * w)]
    upper = diff[:int(0.45 * h)]
    changed = (mouth > 40).mean()
    assert changed > 0.02, f"only {changed:.1%} of the mouth region changed"
    assert mouth.mean() > 2 * upper.mean()
    ys, xs = np.nonzero(diff > 40)
    assert ys.mean() > 0.5 * h and abs(xs.mean() - w / 2) < 0.15 * w
    return frames


@pytest.fixture(scope="module")
def fitme_preview(tmp_path_factory):
    # --no-head: the preview turns skinned heads with the animation's bones, which would move
    # the whole face between the frames `check_video` compares (head turns: test below)
    return run_preview(tmp_path_factory.mktemp("fitme"), "example.mp4", "--no-head")


def test_fitme_mp4_frames_duration_and_mouth(fitme_preview) -> None:
    preview, doc = fitme_preview
    frames = check_video(preview, doc)
    assert frames.shape[1:] == (512, 512, 3)
    assert not list(preview.parent.glob(".*.part")), "a temporary file was left behind"


def test_wav_audio_is_bit_exact_flac_in_mp4(fitme_preview) -> None:
    preview, _ = fitme_preview
    info = probe(preview)
    assert re.search(r"Audio: flac .*22050 Hz, mono", info), info
    ours = decoded_audio(preview)
    original, rate = sf.read(str(EXAMPLE), dtype="int16")
    assert rate == 22050
    assert np.array_equal(ours, original), "the MP4's audio is not the input's samples"


@pytest.mark.skipif(not RPM.is_file(), reason="../shared/assets/rigs/rpm_brunette.glb missing")
def test_ready_player_me_skinned_rig(tmp_path: Path) -> None:
    """A skinned avatar with textured materials."""
    preview, doc = run_preview(tmp_path, "rpm.mp4", "--rig", str(RPM), "--no-head")
    check_video(preview, doc)


def _scene(rig: Path | None = None, fps: float = 30.0):
    from voxface.pipeline import animate
    from voxface.exporters import preview as P

    anim = animate(EXAMPLE, transcript=EXAMPLE.with_suffix(".txt").read_text(),
                   rig_path=rig or ASSET_FITME, fps=fps)
    return anim, P.build_scene(P._animated_glb(anim), fps=fps, duration=anim.curves.duration)


def test_skinned_rig_preview_turns_the_head() -> None:
    """The head/neck rotations of the animated GLB pose the skinned fitme head every frame:
    where the head is turned furthest, the nose tip has moved by about the arc that turn
    gives it (its distance from the neck times the angle)."""
    anim, scene = _scene()
    head = next(s for s in scene.sets if s.name == "Head")
    assert head.skin_frames is not None and len(head.skin_frames) == scene.n_frames
    rot = anim.curves.extras["rotations"]
    ang = np.sqrt(sum(rot.column(n)[:scene.n_frames].astype(np.float64) ** 2
                      for n in ("HeadYaw", "HeadPitch", "HeadRoll")))
    f = int(np.argmax(ang))
    assert ang[f] > np.deg2rad(0.5)
    nose = int(np.argmax(head.view_pos[:, 2]))
    pf, nf = head.at(f)
    moved = np.linalg.norm(pf[nose] - head.view_pos[nose])
    assert moved > 0.5 * 0.1 * ang[f], (moved, np.rad2deg(ang[f]))  # >= half the arc at 10 cm
    np.testing.assert_allclose(np.linalg.norm(nf, axis=1), 1.0, atol=1e-4)
    eyes = [s for s in scene.sets if s.name.startswith("Eye")]
    assert eyes and all(s.skin_frames is not None for s in eyes)


@pytest.mark.skipif(not RPM.is_file(), reason="../shared/assets/rigs/rpm_brunette.glb missing")
def test_ready_player_me_textures_and_vertex_colours_are_sampled() -> None:
    """RPM's base colour textures reach the renderer (per-pixel, with UVs), and the frame's
    eyes show their iris: dark pixels inside the bright eyeballs."""
    from voxface.exporters import preview as P

    _, scene = _scene(RPM)
    textured = [(s.name, dp) for s in scene.sets for dp in s.prims if dp.texture is not None]
    assert {n for n, _ in textured} >= {"EyeLeft", "EyeRight", "Wolf3D_Head"}
    for _, dp in textured:
        assert dp.uv is not None and dp.uv.shape == (len(dp.used), 2)
        assert scene.textures[dp.texture].shape[2] == 4
    _, fitme = _scene()
    assert any(dp.vcol is not None for s in fitme.sets for dp in s.prims)
    r = P.GLRenderer(scene, 256)
    try:
        img = r.frame(0).astype(np.float32)
    finally:
        r.close()
    assert img.std() > 20


def test_contact_sheet_png(tmp_path: Path) -> None:
    from PIL import Image

    preview, doc = run_preview(tmp_path, "sheet.png", "--preview-size", "256")
    n = len(doc["phones"])
    cols = min(8, n)
    rows = (n + cols - 1) // cols
    with Image.open(preview) as im:
        assert im.format == "PNG"
        assert im.size == (cols * 256, rows * (256 + 16))
        px = np.asarray(im.convert("RGB")).astype(np.int16)
    # tiles differ from each other (the mouth moves between phones)
    tile0 = px[16:16 + 256, :256]
    tile1 = px[16:16 + 256, 256:512]
    assert np.abs(tile0 - tile1).mean() > 0.2


@pytest.mark.parametrize("codec,suffix,args", [
    ("flac", ".flac", ["-c:a", "flac"]),
    ("opus", ".opus", ["-c:a", "libopus", "-b:a", "48k"]),
    ("mp3", ".mp3", ["-c:a", "libmp3lame", "-b:a", "128k"]),
])
def test_compressed_audio_is_copied_not_reencoded(codec: str, suffix: str, args: list[str],
                                                  tmp_path: Path) -> None:
    audio = tmp_path / f"speech{suffix}"
    subprocess.run([ffmpeg(), "-hide_banner", "-loglevel", "error", "-i", str(EXAMPLE),
                    *args, str(audio)], check=True)
    (tmp_path / "speech.txt").write_text((REPO / "assets/example.txt").read_text())
    preview, doc = run_preview(tmp_path, "speech.mp4", audio=audio)
    assert re.search(rf"Audio: {codec}\b", probe(preview)), probe(preview)
    src, ours = packet_hashes(audio), packet_hashes(preview)
    assert ours == src, f"{codec} packets changed: {len(ours)} vs {len(src)}"


@pytest.mark.parametrize("suffix,codec", [(".mp4", "flac"), (".mov", "pcm_s24le")])
def test_24_bit_stereo_48k_wav_is_bit_exact(suffix: str, codec: str, tmp_path: Path) -> None:
    """Any rate, channel count and bit depth: no resampling, no downmix, no requantising."""
    audio = tmp_path / "speech.wav"
    mono, rate = sf.read(str(EXAMPLE), dtype="float64")
    stereo = np.stack([mono, -0.5 * mono], axis=1)
    sf.write(str(audio), stereo, rate, subtype="PCM_24")
    subprocess.run([ffmpeg(), "-hide_banner", "-loglevel", "error", "-y", "-i", str(audio),
                    "-ar", "48000", "-c:a", "pcm_s24le", str(tmp_path / "s48.wav")], check=True)
    audio = tmp_path / "s48.wav"
    (tmp_path / "s48.txt").write_text((REPO / "assets/example.txt").read_text())
    preview, _ = run_preview(tmp_path, f"s48{suffix}", "--fps", "15", audio=audio)
    assert re.search(rf"Audio: {codec}\b.*48000 Hz, stereo, s32 \(24 bit\)", probe(preview)), \
        probe(preview)
    assert np.array_equal(decoded_audio(preview, "s32le"), decoded_audio(audio, "s32le"))


def test_failure_leaves_nothing(tmp_path: Path, monkeypatch) -> None:
    from voxface.exporters import preview as P

    calls = {"n": 0}
    real = P.GLRenderer.frame

    def broken(self, i):
        calls["n"] += 1
        if calls["n"] > 5:
            raise RuntimeError("GPU on fire")
        return real(self, i)

    monkeypatch.setattr(P.GLRenderer, "frame", broken)
    out = tmp_path / "out"
    rc = main([str(EXAMPLE), "-o", str(out), "--preview", str(tmp_path / "p.mp4"), "-q"])
    assert rc == 1 and calls["n"] > 5
    assert not (tmp_path / "p.mp4").exists()
    assert sorted(p.name for p in out.iterdir()) == []  # no outputs, no .part files
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_bad_preview_paths_fail_fast(tmp_path: Path, capsys) -> None:
    rc = main([str(EXAMPLE), "-o", str(tmp_path), "--preview", str(tmp_path / "p.avi")])
    assert rc == 2 and ".mp4" in capsys.readouterr().err
    rc = main([str(EXAMPLE), "-o", str(tmp_path), "--preview", str(tmp_path / "no/p.mp4")])
    assert rc == 2 and "does not exist" in capsys.readouterr().err
    text = tmp_path / "speech.png"  # a transcript oddly named: the preview must not clobber it
    text.write_text("hello")
    rc = main([str(EXAMPLE), "-o", str(tmp_path / "out"), "--transcript", str(text),
               "--preview", str(text)])
    assert rc == 2 and "overwrite" in capsys.readouterr().err
    assert text.read_text() == "hello"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "speech.png"]


def test_docs_first_example_creates_outdir_and_one_engine_label(tmp_path: Path,
                                                                 capsys) -> None:
    """docs/preview.md's first example: `-o out --preview out/speech.mp4` with no out/ yet
    (-o is created before the preview path is checked). A video and a contact sheet name
    the renderer the same way on the progress line."""
    labels = []
    for out, name in ((tmp_path / "out", "speech.mp4"), (tmp_path / "out2", "speech.png")):
        assert not out.exists()
        rc = main([str(EXAMPLE), "-o", str(out), "--preview", str(out / name), "--format",
                   "json", "--fps", "15", "--preview-size", "64"])
        err = capsys.readouterr().err
        assert rc == 0, err
        assert (out / name).is_file() and (out / "example.json").is_file()
        labels.append(re.search(r"fps rendered \(([^)]*)\)", err).group(1))
    assert labels[0] == labels[1] and labels[0].startswith("pyrender/"), labels


def test_audio_plan_table() -> None:
    from voxface.exporters.preview import audio_plan

    assert audio_plan({"codec": "aac"}).how == "copy"
    assert audio_plan({"codec": "opus"}).how == "copy"
    assert audio_plan({"codec": "flac", "sample_fmt": "s16"}).how == "copy"
    assert audio_plan({"codec": "pcm_s16le", "sample_fmt": "s16"}).args == (
        "-c:a", "flac", "-sample_fmt", "s16")
    assert audio_plan({"codec": "pcm_s24le", "sample_fmt": "s32"}).args[-1] == "s32"
    assert audio_plan({"codec": "pcm_f32le", "sample_fmt": "flt"}).how == "flac"
    assert audio_plan({"codec": "vorbis", "sample_fmt": "fltp"}).how == "aac"
    assert audio_plan({"codec": "aac"}, "alac").how == "alac"
    assert audio_plan({"codec": "pcm_s16le", "sample_fmt": "s16"}, container="mov").how == "copy"
    assert audio_plan({"codec": "flac", "sample_fmt": "s16"}, container="mov").how == "alac"
    assert audio_plan({"codec": "opus", "sample_fmt": "fltp"}, container="mov").how == "aac"


def _blender_missing() -> str | None:
    try:
        from voxface.exporters.blender import find_blender

        find_blender()
    except Exception as exc:
        return str(exc)
    return None


@pytest.mark.skipif(_blender_missing() is not None, reason="no bpy (.venv-blender) here")
def test_blender_workbench_engine(tmp_path: Path) -> None:
    # 20 fps keeps Blender's per-frame render calls to ~70 frames
    preview, doc = run_preview(tmp_path, "example.mp4", "--preview-engine", "blender",
                               "--preview-size", "256", "--fps", "20")
    frames = video_frames(preview)
    assert abs(len(frames) - len(doc["values"])) <= 1
    assert np.array_equal(decoded_audio(preview), sf.read(str(EXAMPLE), dtype="int16")[0])
    closed = frames[min(phone_frame(doc, CLOSURES), len(frames) - 1)].astype(np.int16)
    opened = frames[min(phone_frame(doc, OPEN_VOWELS, longest=True), len(frames) - 1)]
    assert (np.abs(closed - opened).sum(-1) > 40).mean() > 0.005


@pytest.mark.skipif(not RPM.is_file(), reason="../shared/assets/rigs/rpm_brunette.glb missing")
def test_blended_vertices_are_the_same_for_every_encoding(tmp_path: Path) -> None:
    """The CPU morph blend reads sparse accessors, KHR_mesh_quantization, split primitives and
    .gltf + .bin alike: the same head in each encoding poses to the same vertices on every
    frame, and every kind (VRM too) renders."""
    import rigfactory as F

    from voxface.exporters import preview as P
    from voxface.pipeline import animate

    subset = F.speech_arkit_subset()
    rigs = {
        "plain": F.build_head(tmp_path / "plain.glb", subset, normal_targets=True),
        "sparse": F.build_head(tmp_path / "sparse.glb", subset, sparse=True,
                               normal_targets=True),
        "quantized": F.build_head(tmp_path / "q.glb", subset, quantized=True,
                                  normal_targets=True),
        "multi": F.build_head(tmp_path / "multi.glb", subset, primitives=3,
                              normal_targets=True),
        "gltf": F.build_head(tmp_path / "sep.gltf", subset, gltf=True, normal_targets=True),
        "vrm1": F.vrm1(tmp_path / "v.vrm"),
    }
    text = (REPO / "assets/example.txt").read_text()
    posed = {}
    for kind, rig in rigs.items():
        anim = animate(EXAMPLE, transcript=text, rig_path=rig)
        scene = P.build_scene(P._animated_glb(anim), fps=anim.curves.fps,
                              duration=anim.curves.duration)
        assert any(vs.animated for vs in scene.sets), kind
        frames = [0, scene.n_frames // 3, scene.n_frames // 2, scene.n_frames - 1]
        posed[kind] = [np.concatenate([vs.at(i)[0] for vs in scene.sets]) for i in frames]
        r = P.GLRenderer(scene, 64)
        try:
            img = r.frame(frames[1])
        finally:
            r.close()
        assert img.shape == (64, 64, 3) and img.std() > 5, kind
    span = np.ptp(posed["plain"][0], axis=0).max()
    for kind in ("sparse", "multi", "gltf"):
        for a, b in zip(posed["plain"], posed[kind]):
            assert np.allclose(a, b, atol=1e-6 * span), kind
    for a, b in zip(posed["plain"], posed["quantized"]):
        assert np.abs(a - b).max() < 2e-3 * span  # 16-bit positions, 8-bit normals
    # the mouth moves in the preview geometry
    assert np.abs(posed["plain"][1] - posed["plain"][0]).max() > 1e-3 * span


def test_sheet_frames_without_phones_are_evenly_spaced() -> None:
    from types import SimpleNamespace

    from voxface.core.alignment import Interval
    from voxface.exporters.preview import sheet_frames

    curves = SimpleNamespace(fps=60.0, n_frames=301)
    silent = SimpleNamespace(curves=curves, alignment=SimpleNamespace(phones=()))
    frames = [i for i, _ in sheet_frames(silent)]
    assert len(frames) == 24 and frames[0] == 0 and frames[-1] == 300
    spoken = SimpleNamespace(curves=curves, alignment=SimpleNamespace(phones=(
        Interval("sil", 0.0, 0.5), Interval("M", 0.5, 0.6), Interval("AA1", 0.6, 0.9))))
    assert sheet_frames(spoken) == [(33, "M 0.55s"), (45, "AA1 0.75s")]
