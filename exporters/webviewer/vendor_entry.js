// The parts of three.js the viewer uses, bundled by build_vendor.sh into one minified ES module
// (vendor/three-viewer.min.js) that ships with the package: no CDN at run time.
export {
  AnimationMixer, Box3, Color, DirectionalLight, HemisphereLight, PerspectiveCamera, Scene,
  Vector3, WebGLRenderer,
} from 'three';
export { GLTFLoader } from 'three/examples/jsm/loaders/GLTFLoader.js';
export { OrbitControls } from 'three/examples/jsm/controls/OrbitControls.js';
