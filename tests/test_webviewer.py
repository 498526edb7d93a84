"""The web viewer (`animate view`), rendered by headless Chromium from a local static server:
the Ready Player Me avatar animated with known curves shows a closed mouth at 0 s and an open
one at 0.5 s, the page logs no errors, and playback follows the audio clock.

Needs the `chromium` package (tests/setup.sh installs it); without it these tests fail, unless
VOXFACE_ALLOW_NO_BROWSER=1 is set for a quick local run (then they skip).
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import re
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from voxface.cli import main
from voxface.core.curves import Curves
from voxface.core.names import ARKIT_52

from _chromium import Browser, find_chromium

RPM = Path(__file__).resolve().parents[2] / "shared/assets/rigs/rpm_brunette.glb"
DURATION, FPS = 3.0, 30.0


def open_mouth_curves() -> Curves:
    """Jaw closed at 0 s, fully open at 0.5 s, closed from 1 s to the end (with a little
    funnel); 3 s long so that playback can be watched for a while."""
    c = Curves.zeros(DURATION, FPS)
    v = c.values.copy()
    bump = np.sin(np.pi * np.minimum(c.times, 1.0)).clip(0, 1)
    v[:, ARKIT_52.index("jawOpen")] = bump
    v[:, ARKIT_52.index("mouthFunnel")] = 0.3 * bump
    return Curves(fps=FPS, names=c.names, values=v, duration=DURATION)


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """`animate view` output for an animated RPM avatar and a 1 s tone."""
    import soundfile as sf

    from voxface.rigs.gltf_rig import load_rig, write_animated_glb

    work = tmp_path_factory.mktemp("viewer")
    glb = write_animated_glb(load_rig(RPM), open_mouth_curves(), work / "speech.glb",
                             name="speech")
    rate = 16000
    tone = 0.2 * np.sin(2 * np.pi * 220 * np.arange(int(rate * DURATION)) / rate)
    sf.write(work / "speech.wav", tone.astype(np.float32), rate)
    out = work / "site"
    assert main(["view", str(out), "--glb", str(glb), "--audio", str(work / "speech.wav")]) == 0
    return out


@pytest.fixture(scope="module")
def server(site):
    """A static server on 127.0.0.1 (any free port) for the viewer folder; yields its URL."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(site)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def browser():
    exe = find_chromium()
    if exe is None:
        if os.environ.get("VOXFACE_ALLOW_NO_BROWSER"):
            pytest.skip("chromium not installed")
        pytest.fail("chromium not found on PATH: run tests/setup.sh (apt-get install chromium)")
    with Browser(exe, width=640, height=640) as b:
        yield b


def test_folder_is_self_contained(site):
    names = sorted(str(p.relative_to(site)) for p in site.rglob("*") if p.is_file())
    assert names == ["index.html", "speech.glb", "speech.wav", "vendor/LICENSE-three.txt",
                     "vendor/three-viewer.min.js", "viewer.js"]
    page = (site / "index.html").read_text(encoding="utf-8")
    script = (site / "viewer.js").read_text(encoding="utf-8")
    # Nothing is fetched from elsewhere: every src/href and import is relative.
    assert not re.search(r'(src|href)="(https?:)?//', page)
    assert re.findall(r"from '([^']+)'", script) == ["./vendor/three-viewer.min.js"]
    assert "python -m http.server" in page  # what to do when opened from file://
    assert "MIT" in (site / "vendor/LICENSE-three.txt").read_text(encoding="utf-8")


def _render(browser: Browser, url: str) -> np.ndarray:
    browser.open(url)
    title = browser.wait_title(lambda s: s == "ready" or s.startswith("error"))
    assert title == "ready", title
    return browser.screenshot()


def test_mouth_moves_between_times_and_no_errors(browser, server):
    closed = _render(browser, f"{server}/index.html?t=0&paused=1")
    opened = _render(browser, f"{server}/index.html?t=0.5&paused=1")
    assert browser.errors() == []
    rect = browser.evaluate("(() => { const r = document.getElementById('view')"
                            ".getBoundingClientRect();"
                            " return [r.left, r.top, r.right, r.bottom]; })()")
    x0, y0, x1, y1 = (int(round(v)) for v in rect)
    assert x1 - x0 > 300 and y1 - y0 > 200
    a = closed[y0:y1, x0:x1, :3].astype(np.int16)
    b = opened[y0:y1, x0:x1, :3].astype(np.int16)
    assert a.std() > 10  # something was drawn, not a blank canvas
    changed = np.abs(a - b).sum(axis=2) > 40
    ys, xs = np.nonzero(changed)
    # The open jaw changes a mouth-sized patch, and only in the middle of the face: the head is
    # framed centred, so changes sit in the central third horizontally.
    assert changed.sum() > 500, changed.sum()
    w = x1 - x0
    assert w / 3 < xs.min() and xs.max() < 2 * w / 3, (xs.min(), xs.max())


def test_playback_follows_the_audio_clock(browser, server):
    # Software GL draws a few frames a second here (fewer under load), so rather than racing
    # the wall clock: play, pause mid-way, and check the frame drawn is at the audio's time.
    browser.open(f"{server}/index.html?t=0.1&paused=1")
    assert browser.wait_title(lambda s: s == "ready" or s.startswith("error")) == "ready"
    probe = ("(() => { const a = document.getElementById('audio');"
             " return [a.paused, a.currentTime, document.getElementById('clock').textContent];"
             " })()")
    browser.evaluate("document.getElementById('play').click()")
    deadline = time.monotonic() + 20
    while browser.evaluate(probe)[1] < 0.3 and time.monotonic() < deadline:
        time.sleep(0.02)
    browser.evaluate("document.getElementById('play').click()")
    paused, audio_time, label = state = browser.evaluate(probe)
    assert paused and 0.3 <= audio_time < DURATION, state  # it played, and stopped mid-way

    def drawn_at_audio_time(state) -> bool:  # the label is written with each frame drawn
        return abs(float(state[2].split("/")[0]) - state[1]) <= 0.006

    while not drawn_at_audio_time(state) and time.monotonic() < deadline:
        time.sleep(0.05)
        state = browser.evaluate(probe)
    assert drawn_at_audio_time(state), state
    assert browser.errors() == []


def test_file_url_says_how_to_serve(browser, site):
    # Chromium blocks module scripts on file:// pages; the page must say what to do instead.
    browser.open((site / "index.html").as_uri())
    deadline = time.monotonic() + 20
    text = ""
    while "http.server" not in text and time.monotonic() < deadline:
        time.sleep(0.1)
        text = browser.evaluate("document.getElementById('message').hidden ? ''"
                                " : document.getElementById('message').textContent") or ""
    assert "python -m http.server" in text
    browser.errors()  # the blocked script is reported, as expected; drop it


def test_view_finds_the_glb_and_its_audio(site, capsys):
    # animate's output folder: one .glb, and the audio of the same stem beside it.
    work = site.parent
    assert main(["view", str(work)]) == 0
    assert "http.server" in capsys.readouterr().err
    page = (work / "index.html").read_text(encoding="utf-8")
    config = json.loads(re.search(r'id="voxface-config">(.*?)</script>', page).group(1))
    assert config == {"glb": "speech.glb", "audio": "speech.wav", "clip": "speech",
                      "title": "speech"}


def test_view_plays_the_source_audio_recorded_in_the_json(tmp_path, capsys):
    """An output folder holds no audio: `view` takes the input audio the run recorded in
    <stem>.json (source_audio, relative to the folder), so the page is not silent."""
    import shutil

    repo = Path(__file__).resolve().parents[1]
    (tmp_path / "in").mkdir()
    for name in ("example.wav", "example.txt"):
        shutil.copy(repo / "assets" / name, tmp_path / "in" / name)
    out = tmp_path / "out"
    assert main([str(tmp_path / "in/example.wav"), "-o", str(out), "-q", "--fps", "15",
                 "--format", "glb,json"]) == 0
    doc = json.loads((out / "example.json").read_text(encoding="utf-8"))
    assert doc["source_audio"] == "../in/example.wav"
    capsys.readouterr()
    assert main(["view", str(out)]) == 0
    assert "plays silently" not in capsys.readouterr().err
    page = (out / "index.html").read_text(encoding="utf-8")
    config = json.loads(re.search(r'id="voxface-config">(.*?)</script>', page).group(1))
    assert config["audio"] == "example.wav"
    assert (out / "example.wav").read_bytes() == (repo / "assets/example.wav").read_bytes()


def test_view_rejects_bad_input(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["view", str(empty)]) == 2
    assert "no .glb" in capsys.readouterr().err
    # The rig itself carries no animation.
    assert main(["view", str(tmp_path / "out"), "--glb", str(RPM)]) == 2
    assert "holds no animation" in capsys.readouterr().err
    text = tmp_path / "speech.txt"
    text.write_text("hello")
    glb = tmp_path / "a.glb"
    from voxface.rigs.gltf_rig import load_rig, write_animated_glb

    write_animated_glb(load_rig(RPM), open_mouth_curves(), glb)
    assert main(["view", str(tmp_path / "out"), "--glb", str(glb), "--audio", str(text)]) == 2
    err = capsys.readouterr().err
    assert "browsers cannot play .txt audio" in err and err.count("\n") == 1
