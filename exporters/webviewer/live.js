// voxface live page, served by `animate serve` (docs/live.md). Two modes:
//
// - server (default): microphone -> server -> head, and a text box that makes the head speak
//   (the server's `say`). Microphone audio is captured at the device rate, brought to 16 kHz
//   and sent in ~21 ms int16 chunks; each frame is shown as soon as it arrives. Spoken text
//   comes back as audio plus frames on the same timeline: the audio is scheduled on the
//   AudioContext and each frame is shown when the audio reaches its timestamp.
// - in-browser (`?mode=browser`): microphone -> model -> head with no server round trip. The
//   page loads the bundled onnxruntime-web (vendor/, wasm only) and the server's model exported
//   as the streaming ONNX variant (/model.onnx, /model.json), feeds it the same 16 kHz audio
//   token by token with its key/value cache, as voxface.engine.neural.stream does, clips the
//   values to 0..1 and adds the non-verbal motion (blinks, gaze, head drift) rendered from the
//   seeded schedule the server computes once (/motion.json): the frames of `animate --engine
//   neural`. No text box in this mode (speech synthesis is the server's).
//
// Head and eye rotations of the frames (HeadYaw/Pitch/Roll, eye yaw/pitch, radians) turn the
// head's bones as the animated GLB export does (voxface.rigs.head_pose).
//
// `?seed=N` and `?nonverbal=0` choose the non-verbal motion in both modes (the hello's seed and
// nonverbal).
//
// Test hooks: `?mic=1` starts the microphone at once; `?token=T` is sent in the hello;
// `?render=0` applies frames to the head without drawing it (software GL in a headless test
// browser otherwise starves its fake audio device);
// window.voxface.frames collects {t, jawOpen} of every frame received or computed,
// window.voxface.applied the largest jawOpen influence put on the mesh, window.voxface.poses
// {t, rotations, bones: {head|neck|left|right: [x, y, z, w]}} of the frames put on the head
// (bone local quaternions), window.voxface.compute the milliseconds of each in-browser model
// step (50 ms of audio), window.voxface.delays the milliseconds from a microphone chunk's
// arrival in the page to the frames it completed, and window.voxface.runPcm(samples)
// (in-browser mode) runs a whole 16 kHz clip through a fresh stream and resolves to its frames
// [{arkit: [52], rotations: [9] or null}].

import {
  Box3, Color, DirectionalLight, HemisphereLight, PerspectiveCamera, Scene, Vector3,
  WebGLRenderer, GLTFLoader,
} from './vendor/three-viewer.min.js';

const $ = (id) => document.getElementById(id);
const query = new URLSearchParams(location.search);
const mode = query.get('mode') === 'browser' ? 'browser' : 'server';
const state = {
  mode, frames: [], applied: 0, errors: [], ready: false, poses: [], compute: [], delays: [],
  runPcm: null,
};
window.voxface = state;

let ws = null;
let names = null;
let ctx = null;
let latest = null;        // the newest frame (microphone: shown at once)
const spoken = [];        // frames of spoken text, shown when their audio plays
let sayBase = null;       // AudioContext time of timeline sample 0 for spoken audio
let pendingAudio = null;

function status(text) { $('status').textContent = text; }

// `?seed=N` (as `animate --seed`) and `?nonverbal=0` choose the non-verbal motion in both modes.
function seed() {
  const n = Number(query.get('seed') ?? 0);
  return Number.isInteger(n) && n >= 0 && n < 2 ** 32 ? n : 0;
}

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
    hello.seed = seed();
    if (query.get('nonverbal') === '0') hello.nonverbal = false;
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
        const frame = { t: m.t[i], arkit: m.arkit[i], rotations: m.rotations[i] };
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

// The browser's capture rate -> 16 kHz (box low-pass + linear interpolation), chunk by chunk:
// returns a function Float32Array (device rate) -> Float32Array (16 kHz, -1..1).
function resampler(ratio) {
  let carry = new Float32Array(0);
  let pos = 0;             // read position (input samples) of the next output sample in carry
  const width = Math.max(1, Math.round(ratio));
  return (chunk) => {
    const x = new Float32Array(carry.length + chunk.length);
    x.set(carry);
    x.set(chunk, carry.length);
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
    return Float32Array.from(out, (v) => Math.max(-1, Math.min(1, v)));
  };
}

let micOn = false;
let micCtx = null;
let engine = null;        // in-browser mode: the BrowserStream the microphone feeds
async function startMic() {
  if (micOn) return;
  audioContext().resume();
  const stream = await navigator.mediaDevices.getUserMedia({
    audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false },
  });
  // Capture at the device's own rate and bring it to 16 kHz here: a MediaStream source in a
  // 16 kHz context is not resampled reliably.
  micCtx = new AudioContext();
  await micCtx.resume();
  const to16k = resampler(micCtx.sampleRate / 16000);
  const source = micCtx.createMediaStreamSource(stream);
  // An AudioWorklet copies the capture off the audio thread (a ScriptProcessor runs on the
  // main thread and glitches when rendering keeps it busy); chunks queue, they are not lost.
  const worklet = 'class Tap extends AudioWorkletProcessor { process(inputs) { ' +
    'const ch = inputs[0] && inputs[0][0]; if (ch) this.port.postMessage(ch.slice(0)); ' +
    'return true; } } registerProcessor("voxface-tap", Tap);';
  await micCtx.audioWorklet.addModule(
    URL.createObjectURL(new Blob([worklet], { type: 'text/javascript' })));
  const tap = new AudioWorkletNode(micCtx, 'voxface-tap');
  let pending = [];
  let pendingLength = 0;
  tap.port.onmessage = (e) => {
    pending.push(e.data);
    pendingLength += e.data.length;
    if (pendingLength < 1024) return;   // ~21 ms at 48 kHz per chunk
    const x = new Float32Array(pendingLength);
    let at = 0;
    for (const p of pending) { x.set(p, at); at += p.length; }
    pending = [];
    pendingLength = 0;
    const pcm16k = to16k(x);
    if (!pcm16k.length) return;
    if (mode === 'browser') {
      const t0 = performance.now();
      engine.feed(pcm16k).then((batch) => {
        if (batch.values.length && state.delays.length < 100000) state.delays.push(performance.now() - t0);
        receive(batch);
      }).catch(fail);
    } else if (ws && ws.readyState === WebSocket.OPEN) {
      ws.send(Int16Array.from(pcm16k, (v) => v * 32767).buffer);
    }
  };
  source.connect(tap);
  micOn = true;
  $('mic').textContent = 'Microphone on';
  status(mode === 'browser' ? 'listening (in-browser model)' : 'listening');
}

function fail(e) { state.errors.push(String(e)); status(`error: ${e.message || e}`); }

// Python's round() (half to even), for the frame count of a stream (Curves.n_frames_for).
function roundHalfEven(x) {
  const r = Math.round(x);
  return (Math.abs(x % 1) === 0.5 && r % 2 !== 0) ? r - 1 : r;
}

// The streaming model in the page: voxface.engine.neural.stream.StreamingLipsync over the
// exported step graph (one 50 ms token per call; window = padded samples [800 k, 800 k + 2160)
// of the stream, which starts with left_pad zeros; caches fed back). Values are clipped to
// 0..1 as the live session and the offline pipeline do.
class BrowserStream {
  constructor(ort, session, meta) {
    this.ort = ort;
    this.session = session;
    this.meta = meta;
    this.width = meta.names.length;
    this.chain = Promise.resolve();
    this.reset();
  }

  reset() {
    const m = this.meta;
    this.buf = new Float32Array(Math.max(m.left_pad, 1 << 15));
    this.len = m.left_pad;     // padded samples held, from padded index `base`
    this.base = 0;
    this.received = 0;
    this.tokens = 0;
    this.emitted = 0;
    const size = m.cache_shape.reduce((a, b) => a * b, 1);
    this.k = new this.ort.Tensor('float32', new Float32Array(size), m.cache_shape);
    this.v = new this.ort.Tensor('float32', new Float32Array(size), m.cache_shape);
    this.valid = new this.ort.Tensor('float32', new Float32Array(m.cache_shape[2]),
      [m.cache_shape[2]]);
  }

  append(x) {
    if (this.len + x.length > this.buf.length) {
      const grown = new Float32Array(2 * (this.len + x.length));
      grown.set(this.buf.subarray(0, this.len));
      this.buf = grown;
    }
    this.buf.set(x, this.len);
    this.len += x.length;
  }

  // 16 kHz float PCM -> a promise of the frames it completes ({start, values: [k][52]}).
  feed(pcm) {
    this.received += pcm.length;
    this.append(pcm);
    this.chain = this.chain.then(() => this.run(null));
    return this.chain;
  }

  // End of stream: zero padding as offline, the frame count of the offline run.
  flush() {
    this.chain = this.chain.then(async () => {
      const m = this.meta;
      const nFrames = roundHalfEven((this.received / m.sample_rate) * m.fps) + 1;
      const nTokens = Math.ceil(nFrames / m.frames_per_token);
      const need = m.samples_per_token * (nTokens - 1) + m.window_samples - this.base;
      if (need > this.len) this.append(new Float32Array(need - this.len));
      const out = await this.run(nTokens);
      const keep = nFrames - this.emitted + out.values.length;
      this.emitted = nFrames;
      out.values = out.values.slice(0, Math.max(0, keep));
      return out;
    });
    return this.chain;
  }

  async run(limit) {
    const m = this.meta;
    const start = this.emitted;
    const values = [];
    while (limit === null || this.tokens < limit) {
      const at = m.samples_per_token * this.tokens - this.base;
      if (at + m.window_samples > this.len) break;
      const window = new this.ort.Tensor('float32', this.buf.slice(at, at + m.window_samples),
        [1, m.window_samples]);
      const t0 = performance.now();
      const out = await this.session.run({
        window, k_cache: this.k, v_cache: this.v, valid: this.valid,
      });
      if (state.compute.length < 100000) state.compute.push(performance.now() - t0);
      this.k = out.next_k_cache;
      this.v = out.next_v_cache;
      this.valid = out.next_valid;
      const f = out.frames.data;
      for (let i = 0; i < m.frames_per_token; i++) {
        values.push(Array.from(f.subarray(i * this.width, (i + 1) * this.width),
          (v) => Math.min(1, Math.max(0, v))));
      }
      this.tokens += 1;
    }
    const drop = m.samples_per_token * this.tokens - this.base;
    if (drop > 0) {
      this.buf.copyWithin(0, drop, this.len);
      this.len -= drop;
      this.base += drop;
    }
    this.emitted += values.length;
    return { start, values };
  }
}

// Frames computed in the page: shown as soon as they exist (as microphone frames from the
// server are).
function receive(batch) {
  const jaw = names.indexOf('jawOpen');
  const fps = engine.meta.fps;
  batch.values.forEach((values, i) => {
    const t = (batch.start + i) / fps;
    const frame = withMotion(batch.start + i, values);
    state.frames.push({ t, jawOpen: frame.arkit[jaw] });
    latest = { t, ...frame };
  });
  // Extend the motion schedule a minute before it runs out.
  const t = (batch.start + batch.values.length) / fps;
  if (motion && !motionLoading && t > motion.s.duration - 60) {
    motionLoading = true;
    loadMotion(motion.s.seed, Math.min(2 * motion.s.duration, 4 * 3600 + 60))
      .then((s) => motion.update(s)).catch(fail).finally(() => { motionLoading = false; });
  }
}

let motion = null;        // in-browser mode: the Motion renderer (null: nonverbal=0)
let motionLoading = false;
let nameIndex = null;
function withMotion(i, values) {
  return motion ? motion.apply(i, values, nameIndex) : { arkit: values, rotations: null };
}

// -- non-verbal motion in the page (in-browser mode) --------------------------------------
// engine.nonverbal.nonverbal_motion without phones, rendered per frame from the seeded
// schedule the server computes once (/motion.json: numpy's random streams are not reproduced
// here): blinks, head drift, gaze (eyeLook* and eye rotations), combined with the model's
// values as apply_nonverbal does. No brow raises or nods: they follow stressed vowels, which
// the neural engine without a transcript does not have.

const clip01 = (v) => Math.min(1, Math.max(0, v));

class Motion {
  constructor(schedule) { this.update(schedule); }

  update(schedule) {
    this.s = schedule;
    this.starts = schedule.saccades.starts;
    this.dst = schedule.saccades.dst;
  }

  // Index of the last element of `a` (increasing) <= x, or -1.
  static last(a, x) {
    let lo = 0;
    let hi = a.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (a[mid] <= x) lo = mid + 1; else hi = mid;
    }
    return lo - 1;
  }

  // Frame i: {shapes: {ARKit name: 0..1}, rotations: [9] radians (LIVE_LINK_EXTRAS order)}.
  frame(i) {
    const s = this.s;
    const t = i / s.fps;
    const shapes = {};
    const rotations = [0, 0, 0, 0, 0, 0, 0, 0, 0];
    if (s.blinks.length) {
      // engine.nonverbal._bump: a raised-cosine bump per blink, the largest one wins.
      let v = 0;
      const near = 0.1;   // s: any blink whose bump can reach t (rise, fall < 0.1 s)
      for (let k = Math.max(0, Motion.last(s.blinks, t - near)); k < s.blinks.length; k++) {
        const c = s.blinks[k];
        if (c > t + near) break;
        const tt = t - c;
        const x = clip01(tt < 0 ? 1 + tt / s.blink_rise_s : 1 - tt / s.blink_fall_s);
        v = Math.max(v, 0.5 - 0.5 * Math.cos(Math.PI * x));
      }
      shapes.eyeBlinkLeft = shapes.eyeBlinkRight = clip01(v);
    }
    if (s.drift_phases.length) {
      const ph = s.drift_phases;
      const drift = [0, 1, 2].map((k) => [0.11 + 0.03 * k, 0.27 + 0.05 * k]
        .reduce((sum, f, j) => sum + Math.sin(2 * Math.PI * f * t + ph[2 * k + j]) / (j + 1), 0));
      rotations[0] = s.drift_rad * s.strength * drift[1] / 1.5;          // HeadYaw
      rotations[1] = 0.4 * s.drift_rad * s.strength * drift[0] / 1.5;    // HeadPitch
      rotations[2] = 0.5 * s.drift_rad * s.strength * drift[2] / 1.5;    // HeadRoll
    }
    if (this.starts.length) {
      let yaw = 0;
      let pitch = 0;
      const k = Motion.last(this.starts, t);
      if (k >= 0) {
        const src = k > 0 ? this.dst[k - 1] : [0, 0];
        const dst = this.dst[k];
        let w = clip01((t - this.starts[k]) / s.saccade_s);
        w = w * w * (3 - 2 * w);
        yaw = src[0] + (dst[0] - src[0]) * w;
        pitch = src[1] + (dst[1] - src[1]) * w;
      }
      // Live Link's eye angles have the opposite signs of yaw/pitch here (nonverbal.py).
      rotations[3] = rotations[6] = -yaw;
      rotations[4] = rotations[7] = -pitch;
      const g = s.eye_look_per_rad;
      shapes.eyeLookOutLeft = shapes.eyeLookInRight = clip01(yaw * g);
      shapes.eyeLookInLeft = shapes.eyeLookOutRight = clip01(-yaw * g);
      shapes.eyeLookUpLeft = shapes.eyeLookUpRight = clip01(pitch * g);
      shapes.eyeLookDownLeft = shapes.eyeLookDownRight = clip01(-pitch * g);
    }
    return { shapes, rotations };
  }

  // Model values [52] of frame i -> {arkit, rotations} with the motion added (max).
  apply(i, values, nameIndex) {
    const m = this.frame(i);
    const arkit = values.slice();
    for (const [name, v] of Object.entries(m.shapes)) {
      const j = nameIndex[name];
      if (j !== undefined) arkit[j] = clip01(Math.max(arkit[j], v));
    }
    return { arkit, rotations: m.rotations };
  }
}

async function loadMotion(seed, seconds) {
  const r = await fetch(`motion.json?seed=${seed}&seconds=${seconds}`);
  if (!r.ok) throw new Error(`motion.json: ${(await r.text()).trim()}`);
  return r.json();
}

async function startBrowserMode() {
  status('loading the model...');
  const ort = await import('./vendor/ort.wasm.bundle.min.mjs');
  // One thread, no proxy worker: the page needs no cross-origin isolation, and the wasm comes
  // from this server's vendor/ (nothing is fetched from anywhere else).
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.proxy = false;
  // Only the binary's URL: a path prefix would make it fetch a separate Emscripten glue
  // module, which the bundle already holds.
  ort.env.wasm.wasmPaths = { wasm: new URL('vendor/ort-wasm-simd-threaded.wasm', location.href).href };
  // The server says why when it cannot export the model (503 with a one-line reason).
  const load = (path, how) => fetch(path).then((r) => (r.ok ? how(r)
    : r.text().then((t) => { throw new Error(`${path}: ${t.trim() || r.status}`); })));
  const [meta, model] = await Promise.all([
    load('model.json', (r) => r.json()), load('model.onnx', (r) => r.arrayBuffer()),
  ]);
  const session = await ort.InferenceSession.create(model, {
    executionProviders: ['wasm'], graphOptimizationLevel: 'all',
  });
  names = meta.names;
  nameIndex = Object.fromEntries(names.map((n, j) => [n, j]));
  if (query.get('nonverbal') !== '0') motion = new Motion(await loadMotion(seed(), 600));
  engine = new BrowserStream(ort, session, meta);
  state.runPcm = async (samples) => {
    const s = new BrowserStream(ort, session, meta);
    const a = await s.feed(Float32Array.from(samples));
    const b = await s.flush();
    return a.values.concat(b.values).map((v, i) => withMotion(i, v));
  };
  state.ready = true;
  $('mic').disabled = false;
  status('in-browser model ready');
  if (query.get('mic') === '1') startMic().catch((e) => status(`microphone: ${e.message}`));
}

// -- head and eye rotations (voxface.rigs.head_pose, in plain JS: quaternions [x, y, z, w]) --

const NECK_SHARE = 0.4;   // head_pose.NECK_SHARE: the neck's part of the head rotation
const BONE_NAMES = {
  head: ['head', 'jbipchead'],
  neck: ['neck', 'neck01', 'neck1', 'jbipcneck'],
  left: ['eyeleft', 'lefteye', 'eyel', 'leye', 'lefteyeball', 'eyeballleft', 'jadjlfaceeye'],
  right: ['eyeright', 'righteye', 'eyer', 'reye', 'righteyeball', 'eyeballright', 'jadjrfaceeye'],
};
const ROT_INDEX = { head: [0, 1, 2], left: [3, 4, 5], right: [6, 7, 8] };  // yaw, pitch, roll

function qmul(a, b) {
  const [ax, ay, az, aw] = a;
  const [bx, by, bz, bw] = b;
  return [aw * bx + ax * bw + ay * bz - az * by, aw * by - ax * bz + ay * bw + az * bx,
    aw * bz + ax * by - ay * bx + az * bw, aw * bw - ax * bx - ay * by - az * bz];
}
const qinv = (q) => [-q[0], -q[1], -q[2], q[3]];
function qaxis(axis, angle) {
  const q = [0, 0, 0, Math.cos(0.5 * angle)];
  q[axis] = Math.sin(0.5 * angle);
  return q;
}
function qpow(q, share) {   // the rotation `share` of the way: from_rotvec(share * rotvec(q))
  const s = q[3] < 0 ? -1 : 1;
  const v = [s * q[0], s * q[1], s * q[2]];
  const n = Math.hypot(...v);
  if (n < 1e-12) return [0, 0, 0, 1];
  const half = share * Math.atan2(n, s * q[3]);
  const k = Math.sin(half) / n;
  return [v[0] * k, v[1] * k, v[2] * k, Math.cos(half)];
}
function boneKey(name) {
  let key = name.trim().toLowerCase().split('|').pop();
  if (key.includes(':')) key = key.split(':').pop();
  return key.replace(/[^a-z0-9]/g, '').replace(/^(mixamorig\d*|bip0*1)/, '');
}

// The bones to turn: head (+ neck), and eyes unless gaze morph targets (eyeLook*) already turn
// the eyeballs, as the GLB export decides (head_pose.eyes_turned_by_morphs; fitme's eyes are
// morphed meshes, so only its head and neck bones turn).
function findBones(root, meshes) {
  const found = {};
  root.traverse((o) => {
    if (!o.isBone) return;
    const key = boneKey(o.name);
    for (const [role, keys] of Object.entries(BONE_NAMES)) {
      if (keys.includes(key) && !found[role]) found[role] = o;
    }
  });
  if (found.neck && !found.head) delete found.neck;
  const gazeMorphs = meshes.some((m) => Object.keys(m.morphTargetDictionary)
    .some((n) => n.toLowerCase().startsWith('eyelook')));
  if (gazeMorphs) { delete found.left; delete found.right; }
  root.updateMatrixWorld(true);
  let facesMinusZ = false;
  if (found.head && found.left && found.right) {
    const p = (o) => new Vector3().setFromMatrixPosition(o.matrixWorld);
    const eyes = p(found.left).add(p(found.right)).multiplyScalar(0.5).sub(p(found.head));
    facesMinusZ = eyes.z < 0 && Math.abs(eyes.z) > Math.abs(eyes.x);
  }
  const bones = {};
  for (const [role, bone] of Object.entries(found)) {
    const w = bone.quaternion.clone();
    bone.getWorldQuaternion(w);
    const r = bone.quaternion;
    bones[role] = { bone, rest: [r.x, r.y, r.z, r.w], world: [w.x, w.y, w.z, w.w] };
  }
  return { bones, facesMinusZ };
}

// Live Link angles -> the face-frame delta Ry(-yaw) Rx(pitch) Rz(-roll) (head_pose.face_delta).
function faceDelta(yaw, pitch, roll, facesMinusZ) {
  let d = qmul(qmul(qaxis(1, -yaw), qaxis(0, pitch)), qaxis(2, -roll));
  if (facesMinusZ) {
    const turn = qaxis(1, Math.PI);
    d = qmul(qmul(turn, d), qinv(turn));
  }
  return d;
}

// Set the bones for one frame's rotations [9] (LIVE_LINK_EXTRAS order); returns the local
// quaternions it set: rest * (W^-1 D W), W the bone's rest world rotation.
function poseBones(rig, rotations) {
  const out = {};
  const deltas = {};
  if (rig.bones.head) {
    const [y, p, r] = ROT_INDEX.head.map((i) => rotations[i]);
    const d = faceDelta(y, p, r, rig.facesMinusZ);
    if (rig.bones.neck) {
      deltas.neck = qpow(d, NECK_SHARE);
      deltas.head = qpow(d, 1 - NECK_SHARE);
    } else {
      deltas.head = d;
    }
  }
  for (const role of ['left', 'right']) {
    if (!rig.bones[role]) continue;
    const [y, p, r] = ROT_INDEX[role].map((i) => rotations[i]);
    deltas[role] = faceDelta(y, p, r, rig.facesMinusZ);
  }
  for (const [role, d] of Object.entries(deltas)) {
    const b = rig.bones[role];
    const q = qmul(b.rest, qmul(qmul(qinv(b.world), d), b.world));
    const n = Math.hypot(...q);
    b.bone.quaternion.set(q[0] / n, q[1] / n, q[2] / n, q[3] / n);
    out[role] = q.map((v) => v / n);
  }
  return out;
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
  if (mode === 'browser') {
    // No server session: the text box needs the server's speech synthesis.
    $('text').placeholder = 'Text needs the server mode (link on the right)';
    $('modeLink').textContent = 'server mode';
    $('modeLink').href = `?${new URLSearchParams([...query].filter(([k]) => k !== 'mode'))}`;
    startBrowserMode().catch(fail);
  } else {
    $('modeLink').href = `?${new URLSearchParams([...query, ['mode', 'browser']])}`;
    connect();
  }
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
  const rig = findBones(gltf.scene, meshes);
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
    if (frame.rotations && state.poses.length < 100000) {
      state.poses.push({ t: frame.t, rotations: frame.rotations, bones: poseBones(rig, frame.rotations) });
    }
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

main().catch(fail);
