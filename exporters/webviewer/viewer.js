// voxface web viewer: plays the animated GLB's morph animation in sync with its audio.
//
// The audio element is the clock: every frame the AnimationMixer is set to audio.currentTime
// (not advanced by frame deltas), so the face follows the sound through pauses, seeks and slow
// frames without drifting. Without audio a wall clock stands in.
//
// Test hook: `?t=SECONDS&paused=1` seeks there, renders, and then sets document.title to
// 'ready' (or 'error: ...' when something failed), so a headless browser can take a screenshot.

import {
  AnimationMixer, Box3, Color, DirectionalLight, HemisphereLight, PerspectiveCamera, Scene,
  Vector3, WebGLRenderer, GLTFLoader, OrbitControls,
} from './vendor/three-viewer.min.js';

// The mouth shapes the plot shows, when the rig has them (name, colour).
const PLOT_SHAPES = [
  ['jawOpen', '#f05a5a'], ['mouthClose', '#5ad27a'], ['mouthFunnel', '#5a9cf0'],
  ['mouthPucker', '#f0a83c'], ['mouthSmileLeft', '#c77cf0'], ['mouthLowerDownLeft', '#4fd6d6'],
];
const PLOT_RATE = 60; // curve samples per second of animation

const $ = (id) => document.getElementById(id);
const config = JSON.parse($('voxface-config').textContent);
const query = new URLSearchParams(location.search);
const fixedTime = query.has('t') ? Number(query.get('t')) : null;
const startPaused = query.get('paused') === '1';

function showMessage(text) {
  const box = $('message');
  box.textContent = text;
  box.hidden = false;
}

function fail(err) {
  const text = (err && err.message) ? err.message : String(err);
  showMessage(`Could not play: ${text}`);
  document.title = `error: ${text}`;
  console.error(err);
}
window.addEventListener('error', (e) => fail(e.error || e.message));
window.addEventListener('unhandledrejection', (e) => fail(e.reason));

/** Playback position in seconds: the audio's currentTime, or a wall clock when there is none. */
class Clock {
  constructor(audio, duration, onEnded) {
    this.audio = audio;
    this.duration = duration;
    this.onEnded = onEnded;
    this.playing = false;
    this.base = 0; // position while paused, or where the wall clock started
    this.startedAt = 0;
    if (audio) {
      audio.addEventListener('ended', () => {
        this.playing = false;
        this.base = this.duration;
        this.onEnded();
      });
    }
  }

  time() {
    if (!this.playing) return this.base;
    if (this.audio) return this.audio.currentTime;
    const t = this.base + (performance.now() - this.startedAt) / 1000;
    if (t >= this.duration) {
      this.playing = false;
      this.base = this.duration;
      this.onEnded();
    }
    return Math.min(t, this.duration);
  }

  async play() {
    if (this.base >= this.duration - 1e-3) this.base = 0; // at the end: play from the start
    if (this.audio) {
      this.audio.currentTime = this.base;
      await this.audio.play();
    } else {
      this.startedAt = performance.now();
    }
    this.playing = true;
  }

  pause() {
    this.base = this.time();
    this.playing = false;
    if (this.audio) this.audio.pause();
  }

  seek(t) {
    const clamped = Math.min(Math.max(t, 0), this.duration);
    if (this.audio) this.audio.currentTime = clamped;
    this.base = clamped;
    this.startedAt = performance.now();
  }
}

/** The mesh that carries the face: morph targets including jawOpen; the largest such mesh
 *  (teeth and tongue carry jawOpen too). Falls back to any mesh with morph targets. */
function findFace(root) {
  let best = null;
  let bestScore = -1;
  root.traverse((o) => {
    if (!o.isMesh || !o.morphTargetDictionary) return;
    const names = Object.keys(o.morphTargetDictionary).map((n) => n.toLowerCase());
    const score = (names.includes('jawopen') ? 1e9 : 0) + o.geometry.attributes.position.count;
    if (score > bestScore) {
      best = o;
      bestScore = score;
    }
  });
  return best;
}

function morphIndex(mesh, name) {
  const lower = name.toLowerCase();
  for (const [key, index] of Object.entries(mesh.morphTargetDictionary)) {
    if (key.toLowerCase() === lower) return index;
  }
  return -1;
}

/** Sample the plotted shapes by running the mixer, so the plot shows exactly what renders. */
function sampleCurves(mixer, face, duration) {
  const shapes = PLOT_SHAPES
    .map(([name, colour]) => ({ name, colour, index: morphIndex(face, name) }))
    .filter((s) => s.index >= 0);
  const n = Math.max(2, Math.ceil(duration * PLOT_RATE) + 1);
  for (const s of shapes) s.values = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    mixer.setTime(Math.min(i / PLOT_RATE, clipEnd(duration)));
    for (const s of shapes) s.values[i] = face.morphTargetInfluences[s.index];
  }
  return shapes;
}

// The mixer loops, so time == duration would wrap to frame 0; stay a hair before the end.
function clipEnd(duration) {
  return Math.max(0, duration - 1e-4);
}

class Plot {
  constructor(canvas, shapes, duration) {
    this.canvas = canvas;
    this.shapes = shapes;
    this.duration = duration;
    this.background = document.createElement('canvas');
    this.resize();
    window.addEventListener('resize', () => this.resize());
    $('legend').replaceChildren(...shapes.map((s) => {
      const item = document.createElement('span');
      item.innerHTML = `<i style="background:${s.colour}"></i>${s.name}`;
      return item;
    }));
  }

  resize() {
    const ratio = window.devicePixelRatio || 1;
    const w = Math.max(1, Math.round(this.canvas.clientWidth * ratio));
    const h = Math.max(1, Math.round(this.canvas.clientHeight * ratio));
    this.canvas.width = this.background.width = w;
    this.canvas.height = this.background.height = h;
    // The curves never change: draw them once per size, and only the playhead per frame.
    const g = this.background.getContext('2d');
    g.fillStyle = '#1d2026';
    g.fillRect(0, 0, w, h);
    g.strokeStyle = '#3a3f48';
    g.lineWidth = 1;
    for (const v of [0, 0.5, 1]) {
      const y = this.y(v);
      g.beginPath();
      g.moveTo(0, y);
      g.lineTo(w, y);
      g.stroke();
    }
    g.lineWidth = 1.5 * ratio;
    for (const s of this.shapes) {
      g.strokeStyle = s.colour;
      g.beginPath();
      s.values.forEach((v, i) => {
        const x = this.x(i / PLOT_RATE);
        if (i === 0) g.moveTo(x, this.y(v));
        else g.lineTo(x, this.y(v));
      });
      g.stroke();
    }
  }

  x(t) {
    return (this.duration > 0 ? t / this.duration : 0) * this.canvas.width;
  }

  y(v) {
    const pad = 4 * (window.devicePixelRatio || 1);
    return pad + (1 - v) * (this.canvas.height - 2 * pad);
  }

  draw(t) {
    const g = this.canvas.getContext('2d');
    g.drawImage(this.background, 0, 0);
    g.strokeStyle = '#ffffff';
    g.lineWidth = window.devicePixelRatio || 1;
    const x = Math.round(this.x(t)) + 0.5;
    g.beginPath();
    g.moveTo(x, 0);
    g.lineTo(x, this.canvas.height);
    g.stroke();
  }
}

async function loadAudio(url) {
  // Play from a Blob, not the URL: static servers such as `python -m http.server` do not
  // answer range requests, and Chromium cannot seek media served without them.
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  const audio = $('audio');
  audio.src = URL.createObjectURL(await response.blob());
  await new Promise((resolve, reject) => {
    audio.addEventListener('loadedmetadata', resolve, { once: true });
    audio.addEventListener('error', () => reject(new Error(`${url}: the browser cannot decode it`)),
      { once: true });
  });
  return audio;
}

async function main() {
  if (config.title) $('name').textContent = config.title;
  const [gltf, audio] = await Promise.all([
    new GLTFLoader().loadAsync(config.glb),
    config.audio ? loadAudio(config.audio) : Promise.resolve(null),
  ]);
  const clip = gltf.animations.find((a) => a.name === config.clip) || gltf.animations[0];
  if (!clip) throw new Error(`${config.glb} holds no animation`);
  const duration = clip.duration;

  const canvas = $('view');
  const renderer = new WebGLRenderer({ canvas, antialias: true, preserveDrawingBuffer: true });
  renderer.setPixelRatio(window.devicePixelRatio || 1);
  const scene = new Scene();
  scene.background = new Color(0x2b2f36);
  scene.add(gltf.scene);
  scene.add(new HemisphereLight(0xffffff, 0x50545c, 2.2));

  const mixer = new AnimationMixer(gltf.scene);
  mixer.clipAction(clip).play();
  const face = findFace(gltf.scene);
  if (!face) throw new Error(`${config.glb} has no mesh with morph targets`);

  // Frame the face from the front (glTF's +Z), at rest pose.
  mixer.setTime(0);
  gltf.scene.updateMatrixWorld(true);
  const box = new Box3().setFromObject(face);
  const size = box.getSize(new Vector3());
  const center = box.getCenter(new Vector3());
  const camera = new PerspectiveCamera(30, 1, size.length() / 100, size.length() * 100);
  const distance = (Math.max(size.y, size.x) * 1.35) / (2 * Math.tan((camera.fov * Math.PI) / 360));
  camera.position.set(center.x, center.y, center.z + distance);
  const key = new DirectionalLight(0xffffff, 1.6);
  key.position.set(center.x + distance, center.y + distance, center.z + 2 * distance);
  key.target.position.copy(center);
  scene.add(key, key.target);
  const controls = new OrbitControls(camera, canvas);
  controls.target.copy(center);
  controls.update();

  const plot = new Plot($('plot'), sampleCurves(mixer, face, duration), duration);
  const play = $('play');
  const scrub = $('scrub');
  const clock = new Clock(audio, duration, () => { play.textContent = 'Play'; });
  scrub.max = String(duration);
  scrub.step = String(1 / PLOT_RATE);
  let scrubbing = false;
  scrub.addEventListener('pointerdown', () => { scrubbing = true; });
  window.addEventListener('pointerup', () => { scrubbing = false; });
  scrub.addEventListener('input', () => clock.seek(Number(scrub.value)));
  const toggle = async () => {
    if (clock.playing) {
      clock.pause();
      play.textContent = 'Play';
    } else {
      await clock.play();
      play.textContent = 'Pause';
    }
  };
  play.addEventListener('click', () => toggle().catch(fail));
  window.addEventListener('keydown', (e) => {
    if (e.code === 'Space' && e.target === document.body) {
      e.preventDefault();
      toggle().catch(fail);
    }
  });
  play.disabled = scrub.disabled = false;

  function resize() {
    const w = canvas.clientWidth;
    const h = canvas.clientHeight;
    if (canvas.width !== Math.round(w * renderer.getPixelRatio())
        || canvas.height !== Math.round(h * renderer.getPixelRatio())) {
      renderer.setSize(w, h, false);
      camera.aspect = w / Math.max(1, h);
      camera.updateProjectionMatrix();
    }
  }

  function render() {
    const t = clock.time();
    mixer.setTime(Math.min(t, clipEnd(duration)));
    resize();
    controls.update();
    renderer.render(scene, camera);
    plot.draw(t);
    if (!scrubbing) scrub.value = String(t);
    $('clock').textContent = `${t.toFixed(2)} / ${duration.toFixed(2)} s`;
  }
  // Draw once before anything can start playing: the first frame compiles the shaders, which
  // can take seconds on software GL and would otherwise eat the start of the speech.
  render();
  renderer.setAnimationLoop(render);

  if (fixedTime !== null) {
    clock.seek(fixedTime);
    if (!startPaused) await toggle();
    // Two frames: the first renders at the new time, the second makes sure it was presented.
    let frames = 0;
    await new Promise((resolve) => {
      const wait = () => (++frames >= 2 ? resolve() : requestAnimationFrame(wait));
      requestAnimationFrame(wait);
    });
    document.title = 'ready';
  } else {
    document.title = config.title ? `${config.title} - voxface` : 'voxface';
  }
}

main().catch(fail);
