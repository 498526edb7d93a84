"""Live streaming (voxface.live, docs/live.md): the session and the server give the offline
neural result frame for frame; malformed messages get errors and never stop the server;
limits, token and idle time hold; Live Link Face UDP packets decode back into the curves."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from voxface.core.alignment import Alignment
from voxface.core.errors import InputError
from voxface.core.names import ARKIT_52, LIVE_LINK_EXTRAS
from voxface.engine.nonverbal import NonverbalOptions, motion_schedule, nonverbal_motion
from voxface.exporters.livelink import (
    LIVE_LINK_UDP_NAMES,
    decode_udp_packet,
    encode_udp_packet,
)

torch = pytest.importorskip("torch")
pytest.importorskip("websockets")

from voxface.live.client import listen  # noqa: E402
from voxface.live.protocol import Limits  # noqa: E402
from voxface.live.server import ServerThread, check_bind  # noqa: E402
from voxface.live.session import LiveSession, load_model  # noqa: E402
from voxface.live.udp import parse_address, play_curves  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "assets" / "example.wav"


@pytest.fixture(scope="module")
def offline():
    """`animate --engine neural` on the example clip, in-process (the pipeline's result)."""
    from voxface.pipeline import animate

    return animate(EXAMPLE, engine="neural")


@pytest.fixture(scope="module")
def server():
    with ServerThread(limits=Limits(max_sessions=4, idle_s=2.0, max_message=8192)) as st:
        yield st


def _run(coro):
    return asyncio.run(coro)


def test_nonverbal_motion_does_not_depend_on_length_without_phones() -> None:
    opts = NonverbalOptions(seed=3)
    short = nonverbal_motion(Alignment((), (), 7.0, "neural"), fps=60, options=opts)
    long = nonverbal_motion(Alignment((), (), 30.0, "neural"), fps=60, options=opts)
    part = nonverbal_motion(Alignment((), (), 30.0, "neural"), fps=60, options=opts,
                            n_frames=200, start_frame=250)
    assert short.keys() == long.keys() and "HeadYaw" in short and "eyeBlinkLeft" in short
    for k in short:
        np.testing.assert_array_equal(short[k], long[k][:short[k].shape[0]], err_msg=k)
        np.testing.assert_array_equal(part[k], long[k][250:450], err_msg=k)
    assert long["eyeBlinkLeft"].max() > 0.9  # blinks happen


def test_session_equals_offline_with_random_chunks(offline) -> None:
    session = LiveSession(load_model())
    x = offline.audio.samples
    rng = np.random.default_rng(0)
    batches, i = [], 0
    while i < x.shape[0]:
        n = int(rng.integers(1, 1200))
        batches.append(session.feed((x[i:i + n] * 32767).astype(np.int16) if i % 2 else
                                    x[i:i + n]))
        i += n
    batches.append(session.flush())
    arkit = np.concatenate([b.arkit for b in batches])
    # int16 chunks are quantised: the same quantisation as a 16-bit file, ~3e-5 of full scale
    assert arkit.shape == offline.curves.values.shape
    np.testing.assert_allclose(arkit, offline.curves.values, atol=2e-3)
    rot = np.concatenate([b.rotations for b in batches])
    np.testing.assert_allclose(rot, offline.curves.extras["rotations"].values, atol=1e-6)
    starts = [b.start for b in batches if len(b)]
    assert starts == sorted(starts) and batches[-1].samples == x.shape[0]


def test_server_output_equals_offline(server, offline) -> None:
    """End to end: float32 chunks of 10 ms through the WebSocket = offline frames."""
    r = _run(listen(server.url, offline.audio.samples, chunk_ms=10, fmt="f32"))
    assert r.errors == [] and r.end["frames"] == offline.curves.n_frames
    np.testing.assert_allclose(r.arkit, offline.curves.values, atol=2e-5)
    np.testing.assert_allclose(r.rotations, offline.curves.extras["rotations"].values,
                               atol=2e-5)
    np.testing.assert_allclose(r.t, np.arange(offline.curves.n_frames) / 60, atol=1e-6)
    # visemes: the retargeter's per-frame solve of the same curves; quiet frames are sil
    from voxface.rigs.retarget import solve_visemes

    solved = solve_visemes(offline.curves)
    np.testing.assert_allclose(r.visemes, np.stack([solved[v] for v in r.ready["visemes"]], 1),
                               atol=1e-4)
    jaw = r.arkit[:, ARKIT_52.index("jawOpen")]
    assert jaw.max() > 0.2
    assert r.visemes[jaw < np.percentile(jaw, 10), 0].mean() > 0.5
    assert r.response_ms.size > 0 and np.all(r.response_ms >= 0)


def test_malformed_messages_get_errors_and_the_server_stays_up(server, offline) -> None:
    from websockets.asyncio.client import connect

    async def fuzz():
        async with connect(server.url) as ws:
            await ws.send(json.dumps({"type": "hello", "format": "s16"}))
            assert json.loads(await ws.recv())["type"] == "ready"
            codes = []
            for bad in (b"\x01\x02\x03", "{", "[1, 2]", '{"type": "zap"}', '{"say": 5}',
                        '{"type": "hello"}', b"\x00" * 10000, "x" * 9000):
                await ws.send(bad)
                codes.append(json.loads(await ws.recv())["code"])
            await ws.send('{"type": "ping"}')
            assert json.loads(await ws.recv())["type"] == "pong"
            return codes

    codes = _run(fuzz())
    assert codes == ["bad_audio", "bad_json", "bad_message", "bad_message", "bad_message",
                     "bad_message", "too_large", "too_large"]

    async def no_hello():
        async with connect(server.url) as ws:
            await ws.send(b"\x00\x00")
            msg = json.loads(await ws.recv())
            await ws.wait_closed()
            return msg["code"]

    assert _run(no_hello()) == "no_hello"
    # NaN floats are refused, the session goes on
    r = _run(listen(server.url, np.full(800, np.nan, np.float32), fmt="f32"))
    assert [e["code"] for e in r.errors] == ["bad_audio"] * 3  # 3 chunks of 320 or less
    # and a well-formed session afterwards gets every frame
    r = _run(listen(server.url, offline.audio.samples[:16000], chunk_ms=20))
    assert r.errors == [] and r.arkit.shape[0] == 61


def test_limits_token_and_idle() -> None:
    from websockets.asyncio.client import connect

    with ServerThread(token="s3cret", limits=Limits(max_sessions=1, idle_s=0.5)) as st:
        async def scenario():
            with pytest.raises(Exception, match="wrong token"):
                await listen(st.url, np.zeros(1600, np.float32))
            r = await listen(st.url, np.zeros(1600, np.float32), token="s3cret")
            assert r.arkit.shape[0] == 7
            async with connect(st.url) as first:
                await first.send(json.dumps({"type": "hello", "token": "s3cret"}))
                assert json.loads(await first.recv())["type"] == "ready"
                async with connect(st.url) as second:
                    assert json.loads(await second.recv())["code"] == "busy"
                t0 = time.monotonic()
                assert json.loads(await first.recv())["code"] == "idle"
                assert 0.3 < time.monotonic() - t0 < 3.0

        _run(scenario())
    with pytest.raises(InputError, match="--token"):
        check_bind("0.0.0.0", None)
    check_bind("127.0.0.1", None)
    check_bind("0.0.0.0", "t")


def test_say_returns_audio_and_frames(server) -> None:
    from voxface.phonemes import espeak

    if not espeak.available():
        pytest.skip("espeak-ng not installed")
    r = _run(listen(server.url, None, say="Pick a big apple."))
    assert r.errors == [] and r.audio.shape[0] > 8000
    # the frames cover the spoken audio (+ its silent tail) exactly, and the mouth moves
    assert r.arkit.shape[0] == int(round(r.audio.shape[0] / 16000 * 60)) + 1
    assert r.arkit[:, ARKIT_52.index("jawOpen")].max() > 0.15


def test_livelink_udp_packet_round_trip() -> None:
    values = np.linspace(-0.5, 1.0, 61).astype(np.float32)
    packet = encode_udp_packet(values, frame=1234, subject="Face", device_id="dev")
    assert packet[0] == 6 and len(packet) == 1 + 4 + 3 + 4 + 4 + 16 + 1 + 61 * 4
    back = decode_udp_packet(packet)
    assert (back.device_id, back.subject, back.frame, back.rate) == ("dev", "Face", 1234,
                                                                     (60, 1))
    np.testing.assert_array_equal(back.values, values)
    assert LIVE_LINK_UDP_NAMES[15:17] == ("jawLeft", "jawRight")  # ARKit order, not the CSV's
    for bad in (b"", packet[:-1], b"\x05" + packet[1:], packet[:1] + b"\xff" * 4 + packet[5:]):
        with pytest.raises(ValueError):
            decode_udp_packet(bad)
    assert parse_address("10.0.0.2:11111") == ("10.0.0.2", 11111)
    assert parse_address("localhost") == ("localhost", 11111)
    with pytest.raises(InputError):
        parse_address("host:notaport")


def _udp_listener():
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(5)
    return sock


def _drain(sock, n: int) -> list:
    packets = []
    while len(packets) < n:
        try:
            packets.append(decode_udp_packet(sock.recvfrom(65536)[0]))
        except socket.timeout:
            break
    return packets


def test_play_curves_over_udp_decodes_to_the_curves(offline) -> None:
    sock = _udp_listener()
    try:
        t0 = time.monotonic()
        sent = play_curves(offline.curves, *sock.getsockname(), realtime=True)
        took = time.monotonic() - t0
        packets = _drain(sock, sent)
    finally:
        sock.close()
    n = offline.curves.n_frames
    assert sent == n and len(packets) == n
    assert took >= (n - 1) / 60 - 0.05  # played at the speed of speech
    values = np.stack([p.values for p in sorted(packets, key=lambda p: p.frame)])
    np.testing.assert_allclose(values[:, :52], offline.curves.values, atol=1e-7)
    np.testing.assert_allclose(values[:, 52:], offline.curves.extras["rotations"].values,
                               atol=1e-7)
    assert [p.frame for p in sorted(packets, key=lambda p: p.frame)] == list(range(n))


def test_server_sends_livelink_packets(offline) -> None:
    sock = _udp_listener()
    try:
        with ServerThread(livelink=sock.getsockname()) as st:
            r = _run(listen(st.url, offline.audio.samples, chunk_ms=20))
        packets = _drain(sock, r.arkit.shape[0])
    finally:
        sock.close()
    assert len(packets) == r.arkit.shape[0] and {p.subject for p in packets} == {"voxface"}
    values = np.stack([p.values for p in sorted(packets, key=lambda p: p.frame)])
    np.testing.assert_allclose(values[:, :52], r.arkit, atol=2e-5)
    np.testing.assert_allclose(values[:, 52:], r.rotations, atol=2e-5)
    assert tuple(r.ready["rotations"]) == LIVE_LINK_EXTRAS


def test_cli_serve_and_listen(tmp_path: Path) -> None:
    """`animate serve` in a subprocess, `animate listen` against it; usage errors exit 2."""
    animate = [sys.executable, "-m", "voxface.cli"]
    bad = subprocess.run(animate + ["serve", "--host", "0.0.0.0"], capture_output=True,
                         text=True, timeout=60)
    assert bad.returncode == 2 and "--token" in bad.stderr
    proc = subprocess.Popen(animate + ["serve", "--port", "0"], stderr=subprocess.PIPE,
                            text=True)
    try:
        line = proc.stderr.readline()
        assert "listening on ws://" in line, line
        url = line.split("listening on ")[1].split()[0]
        out = tmp_path / "frames.json"
        res = subprocess.run(animate + ["listen", url, str(EXAMPLE), "-o", str(out)],
                             capture_output=True, text=True, timeout=120)
        assert res.returncode == 0, res.stderr
        doc = json.loads(out.read_text())
        assert len(doc["arkit"]) == len(doc["t"]) == len(doc["rotations"]) > 200
        assert doc["names"]["arkit"] == list(ARKIT_52)
        assert doc["latency_ms"]["response"]["n"] > 0 and "p95" in res.stderr
        missing = subprocess.run(animate + ["listen", url, str(tmp_path / "no.wav")],
                                 capture_output=True, text=True, timeout=60)
        assert missing.returncode == 2 and "no.wav" in missing.stderr
        assert proc.poll() is None  # still serving
    finally:
        proc.terminate()
        proc.wait(10)


def test_protocol_parsers_only_raise_protocol_errors() -> None:
    """Whatever arrives, the parsers answer with a value or a ProtocolError (which the server
    turns into an error message), never another exception."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from voxface.live.protocol import (
        ProtocolError,
        decode_pcm,
        parse_command,
        parse_hello,
    )

    json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats()
                               | st.text(max_size=20),
                               lambda inner: st.lists(inner, max_size=4)
                               | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                               max_leaves=12)
    texts = st.text(max_size=200) | json_values.map(json.dumps) | st.dictionaries(
        st.sampled_from(["type", "say", "text", "format", "seed", "version", "token",
                         "nonverbal", "visemes", "subject", "sample_rate"]),
        json_values | st.sampled_from(["hello", "say", "end", "ping", "s16", "f32"]),
        max_size=6).map(json.dumps)

    @settings(max_examples=300, deadline=None)
    @given(texts, st.binary(max_size=64), st.sampled_from(["s16", "f32"]))
    def check(text, data, fmt):
        for call in (lambda: parse_hello(text), lambda: parse_command(text, Limits()),
                     lambda: parse_hello(data), lambda: decode_pcm(data, fmt)):
            try:
                call()
            except ProtocolError:
                pass

    check()


def _best_r(got: np.ndarray, ref: np.ndarray, *, max_shift: int = 120,
            min_overlap: int = 150) -> float:
    """Largest Pearson r between got[k] and ref[k + s] over shifts |s| <= max_shift frames
    (the browser's capture starts at an unknown point of the fake microphone's file)."""
    best = -1.0
    for shift in range(-max_shift, max_shift + 1):
        lo, hi = max(0, -shift), min(got.shape[0], ref.shape[0] - shift)
        if hi - lo >= min_overlap:
            best = max(best, float(np.corrcoef(got[lo:hi], ref[lo + shift:hi + shift])[0, 1]))
    return best


def _check_head_pose(poses: list[dict]) -> None:
    """The bone rotations the live page set for the frames it showed are those of the
    animated GLB export for the same rotation values (`rigs.head_pose.rotation_tracks` on the
    page's head, fitme: head and neck bones; its eyes are morphed meshes, so the eye bones stay
    at rest in both), and the head really moved."""
    from voxface.assets import asset_path
    from voxface.core.curves import Curves
    from voxface.rigs.gltf_io import parse_glb
    from voxface.rigs.head_pose import find_head_bones, rotation_tracks

    assert len(poses) >= 30, f"{len(poses)} poses applied"
    rot = np.array([p["rotations"] for p in poses], np.float32)
    assert np.abs(rot[:, :3]).max() > 1e-3, "no head motion in the frames"
    doc, _ = parse_glb(Path(asset_path("fitme.glb")).read_bytes())
    bones = find_head_bones(doc)
    curves = Curves(fps=60.0, names=LIVE_LINK_EXTRAS, values=rot, duration=(len(rot) - 1) / 60)
    tracks = dict(rotation_tracks(doc, curves, bones=bones,
                                  skip=(bones.left_eye, bones.right_eye)))
    names = {bones.head: "head", bones.neck: "neck"}
    assert set(tracks) == set(names)
    for node, want in tracks.items():
        got = np.array([p["bones"][names[node]] for p in poses])
        sign = np.sign(np.sum(got * want, axis=1, keepdims=True))  # q and -q: one rotation
        np.testing.assert_allclose(got * sign, want, atol=1e-6)
    assert all(set(p["bones"]) == {"head", "neck"} for p in poses)
    head = np.array([p["bones"]["head"] for p in poses])
    angle = 2 * np.degrees(np.arccos(np.clip(np.abs(head[:, 3]), 0, 1)))
    print(f"live page: head bone turned up to {angle.max():.2f} degrees over {len(poses)} "
          "frames")


def test_live_page_microphone_and_text_box(tmp_path: Path, offline) -> None:
    """The live page served by the server, in headless Chromium whose fake microphone plays a
    WAV: the frames the page receives follow the offline neural curves of that WAV (jawOpen
    r >= 0.95 after aligning start times; the browser captures at 48 kHz and the page
    resamples, so not bit-equal), and the head and neck bones take the frames' head rotations as
    the GLB export does; then the text box makes the head speak (spoken audio and its frames
    come back and the head's jawOpen morph follows them)."""
    sys.path.insert(0, str(Path(__file__).parent))
    import soundfile as sf
    from _chromium import Browser, find_chromium

    from voxface.core.audio import resample
    from voxface.phonemes import espeak

    exe = find_chromium()
    if exe is None or not espeak.available():
        pytest.skip("needs chromium and espeak-ng")
    # 1 s of silence first: the page opens the device before its capture runs, and the speech
    # must all fall inside what it captures. The reference is the offline model on the same.
    speech = np.concatenate([np.zeros(16000, np.float32), offline.audio.samples])
    ref = load_model().infer(speech)[:, ARKIT_52.index("jawOpen")]
    wav = tmp_path / "mic.wav"
    sf.write(wav, resample(speech, 16000, 48000), 48000, subtype="PCM_16")
    flags = ("--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
             f"--use-file-for-fake-audio-capture={wav}%noloop")
    n_ref = ref.shape[0]
    with ServerThread() as st, Browser(exe, width=320, height=320, extra_flags=flags) as b:
        # render=0: software WebGL at 60 fps would starve the fake audio device on a busy
        # machine (glitches in the capture); the text-box part below renders.
        b.open(f"http://127.0.0.1:{st.port}/?mic=1&render=0")
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and (b.evaluate(
                "window.voxface ? window.voxface.frames.length : 0") or 0) < n_ref + 60:
            time.sleep(0.25)
        mic = json.loads(b.evaluate("JSON.stringify(window.voxface.frames)"))
        assert len(mic) >= n_ref, f"{len(mic)} frames from the microphone"
        np.testing.assert_allclose(np.diff([f["t"] for f in mic]), 1 / 60, atol=1e-5)
        got = np.array([f["jawOpen"] for f in mic])
        r = _best_r(got, ref)
        print(f"live page: microphone jawOpen r = {r:.3f} over {len(mic)} frames")
        assert r >= 0.95, f"jawOpen r = {r:.3f}"
        _check_head_pose(json.loads(b.evaluate("JSON.stringify(window.voxface.poses)")))
        # the text box: reload without the microphone, type, press Say
        b.open(f"http://127.0.0.1:{st.port}/")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not b.evaluate(
                "window.voxface && window.voxface.ready"):
            time.sleep(0.25)
        b.evaluate("document.getElementById('text').value = 'Pick a big apple.';"
                   "document.getElementById('say').click()")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not b.evaluate(
                "window.voxface.applied > 0.06 && window.voxface.frames.length >= 50"):
            time.sleep(0.25)
        said = json.loads(b.evaluate("JSON.stringify(window.voxface.frames)"))
        applied = b.evaluate("window.voxface.applied")
        errors = b.evaluate("JSON.stringify(window.voxface.errors)")
    assert errors == "[]", errors
    # Real-face amplitudes (issue 17): "Pick a big apple." opens the jaw to ~0.1 of the morph
    # (~4 mm on fitme), so "moved" means clearly above the still face's ~0.01.
    assert len(said) >= 50 and max(f["jawOpen"] for f in said) > 0.06
    assert applied > 0.06  # the head's jawOpen morph followed the spoken frames


def _fake_mic(tmp_path: Path, speech: np.ndarray) -> tuple[str, ...]:
    """Chromium flags for a fake microphone playing 16 kHz `speech` (written at 48 kHz, the
    device rate, so the page does the resampling)."""
    import soundfile as sf

    from voxface.core.audio import resample

    wav = tmp_path / "mic.wav"
    sf.write(wav, resample(speech, 16000, 48000), 48000, subtype="PCM_16")
    return ("--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
            f"--use-file-for-fake-audio-capture={wav}%noloop")


# The channels the non-verbal motion never touches (engine.nonverbal.apply_nonverbal leaves
# mouth shapes alone): the model's own output.
_SPEECH_CHANNELS = [i for i, n in enumerate(ARKIT_52)
                    if n.startswith(("jaw", "mouth", "cheekPuff", "tongue"))]


def test_live_page_in_browser_mode_equals_offline(tmp_path: Path, offline) -> None:
    """The live page's in-browser mode (`?mode=browser`: the streaming ONNX model in
    onnxruntime-web and the non-verbal motion rendered in the page, no server session) in
    headless Chromium: (1) a 16 kHz clip run through the page's stream gives the frames of
    offline `animate --engine neural` on it (52 curves and 9 rotations, frame for frame, to
    float32 round-off); (2) with a fake microphone playing the clip at
    48 kHz, the frames the page computes follow the offline jawOpen (r >= 0.95 after aligning
    start times); the head's jawOpen morph follows them."""
    sys.path.insert(0, str(Path(__file__).parent))
    from _chromium import Browser, find_chromium

    exe = find_chromium()
    if exe is None:
        pytest.skip("needs chromium")
    pytest.importorskip("onnx")
    samples = offline.audio.samples.astype(np.float32)
    speech = np.concatenate([np.zeros(16000, np.float32), samples])  # as the server-mode test
    ref = load_model().infer(speech)[:, ARKIT_52.index("jawOpen")]
    flags = _fake_mic(tmp_path, speech)
    with ServerThread() as st, Browser(exe, width=320, height=320, extra_flags=flags) as b:
        b.open(f"http://127.0.0.1:{st.port}/?mode=browser&render=0")
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not b.evaluate(
                "window.voxface && (window.voxface.ready || window.voxface.errors.length)"):
            time.sleep(0.25)
        assert b.evaluate("window.voxface.ready"), b.evaluate(
            "JSON.stringify(window.voxface.errors)")
        frames = b.evaluate(f"window.voxface.runPcm({json.dumps(samples.tolist())})",
                            await_promise=True, timeout=120)
        compute = b.evaluate("window.voxface.compute")
        got = np.array([f["arkit"] for f in frames])
        rot = np.array([f["rotations"] for f in frames])
        assert got.shape == (offline.curves.n_frames, 52), got.shape
        speech_err = float(np.abs(got[:, _SPEECH_CHANNELS] - offline.curves.values[
            :, _SPEECH_CHANNELS]).max())
        err = float(np.abs(got - offline.curves.values).max())
        rot_err = float(np.abs(rot - offline.curves.extras["rotations"].values).max())
        print(f"in-browser stream vs offline: max |diff| mouth/jaw {speech_err:.2e}, all 52 "
              f"{err:.2e}, rotations {rot_err:.2e} rad over {got.shape[0]} frames; model step "
              f"{np.median(compute):.2f} ms median per 50 ms token "
              f"({np.median(compute) / 5:.2f} ms per 10 ms of audio)")
        assert speech_err < 2e-4 and err < 2e-4, (speech_err, err)
        assert rot_err < 1e-6, rot_err  # float64 in the page, float32 offline
        assert np.abs(rot[:, 0]).max() > 1e-3 and np.abs(rot[:, 3]).max() > 1e-3  # head, gaze
        # 12 s of near-silence with seed 7 (blinks need a longer clip than the example's
        # 3.6 s): the page's motion = the live session's (offline by test_session_equals_...)
        quiet = (1e-3 * np.random.default_rng(7).standard_normal(12 * 16000)).astype(np.float32)
        b.open(f"http://127.0.0.1:{st.port}/?mode=browser&render=0&seed=7")
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not b.evaluate(
                "window.voxface && (window.voxface.ready || window.voxface.errors.length)"):
            time.sleep(0.25)
        frames = b.evaluate(f"window.voxface.runPcm({json.dumps(quiet.tolist())})",
                            await_promise=True, timeout=120)
        session = LiveSession(load_model(), seed=7, visemes=False)
        want = [session.feed(quiet), session.flush()]
        want_a = np.concatenate([w.arkit for w in want])
        want_r = np.concatenate([w.rotations for w in want])
        got = np.array([f["arkit"] for f in frames])
        assert got.shape == want_a.shape
        np.testing.assert_allclose(got, want_a, atol=2e-4)
        np.testing.assert_allclose([f["rotations"] for f in frames], want_r, atol=1e-6)
        assert got[:, ARKIT_52.index("eyeBlinkLeft")].max() > 0.9  # a blink, matched
        # the microphone, through the page's resampler and the same stream
        b.open(f"http://127.0.0.1:{st.port}/?mode=browser&mic=1&render=0")
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and (b.evaluate(
                "window.voxface ? window.voxface.frames.length : 0") or 0) < ref.shape[0] + 60:
            time.sleep(0.25)
        mic = json.loads(b.evaluate("JSON.stringify(window.voxface.frames)"))
        applied = b.evaluate("window.voxface.applied")
        errors = b.evaluate("JSON.stringify(window.voxface.errors)")
        delays = b.evaluate("window.voxface.delays")
        poses = json.loads(b.evaluate("JSON.stringify(window.voxface.poses)"))
    assert errors == "[]", errors
    _check_head_pose(poses)  # the in-page motion turns the head as the GLB export would
    print("in-browser mode: chunk arrival -> its frames p50 / p95 / max "
          + " / ".join(f"{v:.1f}" for v in np.percentile(delays, [50, 95, 100])) + " ms")
    assert len(mic) >= ref.shape[0], f"{len(mic)} frames from the microphone"
    np.testing.assert_allclose(np.diff([f["t"] for f in mic]), 1 / 60, atol=1e-9)
    r = _best_r(np.array([f["jawOpen"] for f in mic]), ref)
    print(f"in-browser mode: microphone jawOpen r = {r:.3f} over {len(mic)} frames")
    assert r >= 0.95, f"jawOpen r = {r:.3f}"
    assert applied > 0.06  # the head's jawOpen morph followed the computed frames


def test_live_page_serves_runtime_and_model() -> None:
    """`animate serve` serves the in-browser mode's files from the package: onnxruntime-web
    (the wasm stored gzipped: sent with Content-Encoding gzip to clients that take it, plain
    otherwise), its licence, and the server's model as the streaming ONNX variant with its
    metadata; the exported step gives the session's frames."""
    import gzip
    import urllib.error
    import urllib.request

    from voxface.exporters.webview import WEBVIEWER_DIR
    from voxface.live.server import _PAGE

    for name, _ in _PAGE.values():  # every page file is in the package (vendor/* package-data)
        assert name is None or (WEBVIEWER_DIR / name).is_file(), name
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    with ServerThread() as st:
        base = f"http://127.0.0.1:{st.port}"

        def get(path, **headers):
            with urllib.request.urlopen(urllib.request.Request(base + path, headers=headers),
                                        timeout=60) as r:
                return r.headers, r.read()

        h, zipped = get("/vendor/ort-wasm-simd-threaded.wasm", **{"Accept-Encoding": "gzip"})
        assert h["Content-Encoding"] == "gzip" and h["Content-Type"] == "application/wasm"
        h, plain = get("/vendor/ort-wasm-simd-threaded.wasm")
        assert h["Content-Encoding"] is None and plain[:4] == b"\0asm"
        assert gzip.decompress(zipped) == plain
        assert "MIT" in get("/vendor/LICENSE-onnxruntime.txt")[1].decode()
        meta = json.loads(get("/model.json")[1])
        onnx_bytes = get("/model.onnx")[1]
        motion = json.loads(get("/motion.json?seed=5&seconds=30")[1])
        for bad in ("seed=-1", "seed=x", "seconds=0", "seconds=1e9", "seconds=nan"):
            with pytest.raises(urllib.error.HTTPError) as err:
                get(f"/motion.json?{bad}")
            assert err.value.code == 400 and b"motion.json" in err.value.read()
    assert motion == json.loads(json.dumps(motion_schedule(NonverbalOptions(seed=5), 30.0)))
    # a server that cannot export (no onnx) says why, and the live page shows that line
    with ServerThread() as st:
        st.server.browser_model.error = "RuntimeError: the in-browser mode needs the onnx package"
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(f"http://127.0.0.1:{st.port}/model.onnx", timeout=60)
        assert err.value.code == 503 and b"needs the onnx package" in err.value.read()
    assert meta["names"] == list(ARKIT_52) and meta["variant"] == "stream"
    assert meta["window_samples"] == 2160 and meta["cache_shape"][2] == 23
    # one step of the served model = the first token of a live session on the same audio
    rng = np.random.default_rng(0)
    pcm = (0.1 * rng.standard_normal(1280 + 800)).astype(np.float32)
    sess = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    window = np.concatenate([np.zeros(meta["left_pad"], np.float32), pcm])[:2160][None]
    zeros = np.zeros(meta["cache_shape"], np.float32)
    frames = sess.run(["frames"], {"window": window, "k_cache": zeros, "v_cache": zeros,
                                   "valid": np.zeros(meta["cache_shape"][2], np.float32)})[0]
    live = LiveSession(load_model(), nonverbal=False, visemes=False).feed(pcm)
    np.testing.assert_allclose(np.clip(frames, 0, 1), live.arkit[:3], atol=1e-5)
