// voxface live page, served by `animate serve` (docs/live.md): microphone -> server -> head,
// and a text box that makes the head speak (the server's `say`).
//
// Microphone audio is captured at the device rate, brought to 16 kHz and sent in ~21 ms int16
// chunks; each frame is shown as soon as it arrives.
// Spoken text comes back as audio plus frames on the same timeline: the audio is scheduled on
// the AudioContext and each frame is shown when the audio reaches its timestamp.
//
// Test hooks: `?mic=1` starts the microphone at once; `?token=T` is sent in the hello;
// `?render=0` applies frames to the head without drawing it (software GL in a headless test
// browser otherwise starves its fake audio device);
// window.voxface.frames collects {t, jawOpen} of every frame received, window.voxface.applied
// the largest jawOpen influence put on the mesh.

import {
  Box3, Color, DirectionalLight, HemisphereLight, PerspectiveCamera, Scene, Vector3,
  WebGLRenderer, GLTFLoader,
} from './vendor/three-viewer.min.js';

const $ = (id) => document.getElementById(id);
const query = new URLSearchParams(location.search);
const state = { frames: [], applied: 0, errors: [], ready: false };
window.voxface = state;

let ws = null;
let names = null;
let ctx = null;
let latest = null;        // the newest frame (microphone: shown at once)
const spoken = [];        // frames of spoken text, shown when their audio plays
let sayBase = null;       // AudioContext time of timeline sample 0 for spoken audio
let pendingAudio = null;

function status(text) { $('status').textContent = text; }

function audioContext() {
  if (!ctx) ctx = new AudioContext({ sampleRate: 16000 });
  return ctx;
}

function findFace(root) {
  let best = null;
  let bestScore = -1;
  root.traverse((o) => {
    if (!o.isMesh || !o.morphTargetDictionary) return;
    const keys = Object.keys(o.morphTargetDictionary).map((n) => n.toLowerCase());
    const score = (keys.includes('jawopen') ? 1e9 : 0) + o.geometry.attributes.position.count;
    if (score > bestScore) { best = o; bestScore = score; }
  });
  return best;
}

function playSpoken(buffer) {
  const c = audioContext();
  const pcm = new Int16Array(buffer);
  const audio = c.createBuffer(1, pcm.length, 16000);
  const data = audio.getChannelData(0);
  for (let i = 0; i < pcm.length; i++) data[i] = pcm[i] / 32768;
  const start = pendingAudio.start / 16000;
  if (sayBase === null || sayBase + start < c.currentTime) sayBase = c.currentTime + 0.15 - start;
  const node = c.createBufferSource();
  node.buffer = audio;
  node.connect(c.destination);
  node.start(sayBase + start);
  pendingAudio = null;
}

function connect() {
  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/`;
  ws = new WebSocket(url);
  ws.binaryType = 'arraybuffer';
  ws.onopen = () => {
    const hello = { type: 'hello', version: 1, format: 's16', sample_rate: 16000 };
    if (query.get('token')) hello.token = query.get('token');
    ws.send(JSON.stringify(hello));
    // The server closes sessions idle for its idle_s (30 s): keep this one while the page is open.
    setInterval(() => { if (ws.readyState === WebSocket.OPEN) ws.send('{"type": "ping"}'); }, 10000);
  };
  ws.onmessage = (ev) => {
    if (typeof ev.data !== 'string') {
      if (pendingAudio) playSpoken(ev.data);
      return;
    }
    const m = JSON.parse(ev.data);
    if (m.type === 'ready') {
      names = m.arkit;
      state.ready = true;
      for (const id of ['mic', 'text', 'say']) $(id).disabled = false;
      status('connected');
      if (query.get('mic') === '1') startMic().catch((e) => status(`microphone: ${e.message}`));
    } else if (m.type === 'frames') {
      const jaw = names.indexOf('jawOpen');
      for (let i = 0; i < m.t.length; i++) {
        const frame = { t: m.t[i], arkit: m.arkit[i] };
        state.frames.push({ t: m.t[i], jawOpen: m.arkit[i][jaw] });
        if (m.t[i] >= spokenFrom && m.t[i] < spokenUntil) spoken.push(frame);
        else latest = frame;
      }
    } else if (m.type === 'audio') {
      pendingAudio = m;
      if (m.start / 16000 >= spokenUntil) spokenFrom = m.start / 16000;  // a new utterance
      spokenUntil = (m.start + m.n) / 16000 + 0.15;
      if (sayBase === null) sayBase = audioContext().currentTime + 0.15 - m.start / 16000;
    } else if (m.type === 'error') {
      state.errors.push(m);
      status(`error: ${m.message}`);
    }
  };
  ws.onclose = () => { status('disconnected'); state.ready = false; };
}
let spokenFrom = 0;
let spokenUntil = 0;   // timeline seconds of the spoken audio (its frames wait for it)

let micOn = false;
let micCtx = null;
async function startMic() {
  if (micOn) return;
  audioContext().resume();
  const stream = await navigator.mediaDevices.getUserMedia({
    audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false },
  });
  // Capture at the device's own rate and bring it to 16 kHz here (box low-pass + linear
  // interpolation): a MediaStream source in a 16 kHz context is not resampled reliably.
  micCtx = new AudioContext();
  await micCtx.resume();
  const ratio = micCtx.sampleRate / 16000;
  const source = micCtx.createMediaStreamSource(stream);
  // An AudioWorklet copies the capture off the audio thread (a ScriptProcessor runs on the
  // main thread and glitches when rendering keeps it busy); chunks queue, they are not lost.
  const worklet = 'class Tap extends AudioWorkletProcessor { process(inputs) { ' +
    'const ch = inputs[0] && inputs[0][0]; if (ch) this.port.postMessage(ch.slice(0)); ' +
    'return true; } } registerProcessor("voxface-tap", Tap);';
  await micCtx.audioWorklet.addModule(
    URL.createObjectURL(new Blob([worklet], { type: 'text/javascript' })));
  const tap = new AudioWorkletNode(micCtx, 'voxface-tap');
  let carry = new Float32Array(0);
  let pos = 0;             // read position (input samples) of the next output sample in carry
  let pending = [];
  let pendingLength = 0;
  tap.port.onmessage = (e) => {
    pending.push(e.data);
    pendingLength += e.data.length;
    if (pendingLength < 1024) return;   // ~21 ms at 48 kHz per message sent
    const x = new Float32Array(carry.length + pendingLength);
    x.set(carry);
    let at = carry.length;
    for (const p of pending) { x.set(p, at); at += p.length; }
    pending = [];
    pendingLength = 0;
    const width = Math.max(1, Math.round(ratio));
    const out = [];
    while (pos + width + 1 < x.length) {
      const i = Math.floor(pos);
      const f = pos - i;
      let a = 0;
      let b = 0;
      for (let k = 0; k < width; k++) { a += x[i + k]; b += x[i + k + 1]; }
      out.push(((1 - f) * a + f * b) / width);
      pos += ratio;
    }
    const keep = Math.floor(pos);
    carry = x.slice(keep);
    pos -= keep;
    const pcm = new Int16Array(out.length);
    for (let i = 0; i < out.length; i++) pcm[i] = Math.max(-1, Math.min(1, out[i])) * 32767;
    if (ws && ws.readyState === WebSocket.OPEN && pcm.length) ws.send(pcm.buffer);
  };
  source.connect(tap);
  micOn = true;
  $('mic').textContent = 'Microphone on';
  status('listening');
}

async function main() {
  $('mic').onclick = () => startMic().catch((e) => status(`microphone: ${e.message}`));
  $('controls').onsubmit = (ev) => {
    ev.preventDefault();
    const text = $('text').value.trim();
    if (text && ws && ws.readyState === WebSocket.OPEN) {
      audioContext().resume();
      ws.send(JSON.stringify({ type: 'say', text }));
    }
  };
  connect();
  const gltf = await new GLTFLoader().loadAsync('head.glb');
  const canvas = $('view');
  const renderer = new WebGLRenderer({ canvas, antialias: true });
  const scene = new Scene();
  scene.background = new Color(0x2b2f36);
  scene.add(gltf.scene);
  scene.add(new HemisphereLight(0xffffff, 0x50545c, 2.2));
  const face = findFace(gltf.scene);
  const meshes = [];
  gltf.scene.traverse((o) => { if (o.isMesh && o.morphTargetDictionary) meshes.push(o); });
  gltf.scene.updateMatrixWorld(true);
  const box = new Box3().setFromObject(face);
  const size = box.getSize(new Vector3());
  const center = box.getCenter(new Vector3());
  const camera = new PerspectiveCamera(30, 1, size.length() / 100, size.length() * 100);
  const distance = (Math.max(size.y, size.x) * 1.35) / (2 * Math.tan((camera.fov * Math.PI) / 360));
  camera.position.set(center.x, center.y, center.z + distance);
  camera.lookAt(center);
  const key = new DirectionalLight(0xffffff, 1.6);
  key.position.set(center.x + distance, center.y + distance, center.z + 2 * distance);
  scene.add(key);

  // Morph target index of each ARKit name on each mesh, found once names are known.
  let lookup = null;
  function apply(frame) {
    if (!lookup) {
      lookup = meshes.map((mesh) => {
        const lower = {};
        for (const [k, i] of Object.entries(mesh.morphTargetDictionary)) lower[k.toLowerCase()] = i;
        return names.map((n) => lower[n.toLowerCase()] ?? -1);
      });
    }
    meshes.forEach((mesh, k) => {
      lookup[k].forEach((index, j) => { if (index >= 0) mesh.morphTargetInfluences[index] = frame.arkit[j]; });
    });
    const jaw = face.morphTargetDictionary.jawOpen;
    if (jaw !== undefined) state.applied = Math.max(state.applied, face.morphTargetInfluences[jaw]);
  }

  function render() {
    if (names) {
      if (spoken.length && ctx) {
        const now = ctx.currentTime - sayBase;
        let frame = null;
        while (spoken.length && spoken[0].t <= now) frame = spoken.shift();
        if (frame) apply(frame);
      } else if (latest) {
        apply(latest);
        latest = null;
      }
    }
    const w = canvas.clientWidth;
    const h = canvas.clientHeight;
    if (canvas.width !== w || canvas.height !== h) {
      renderer.setSize(w, h, false);
      camera.aspect = w / Math.max(1, h);
      camera.updateProjectionMatrix();
    }
    if (query.get('render') !== '0') renderer.render(scene, camera);
  }
  renderer.setAnimationLoop(render);
  document.title = 'voxface live';
}

main().catch((e) => { state.errors.push(String(e)); status(`error: ${e.message || e}`); });
