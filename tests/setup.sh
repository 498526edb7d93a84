#!/usr/bin/env bash
# Installs what the tests need on a fresh Debian machine: system packages (espeak-ng for exact
# phone-time speech, node/npm, chromium, OSMesa), a virtual environment in .venv with the test
# extras (ffmpeg comes with them: imageio-ffmpeg ships its own binary, no system ffmpeg needed),
# pyrender and Ray, the Khronos glTF validator from npm in .cache/npm (where
# voxface.rigs.validator looks; $VOXFACE_GLTF_VALIDATOR_DIR overrides it), and Blender's bpy in
# its own .venv-blender. Idempotent: re-running skips what is there.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v espeak-ng >/dev/null || need_apt+=(espeak-ng)
ldconfig -p | grep -q libespeak-ng.so.1 || need_apt+=(libespeak-ng1)
command -v node >/dev/null || need_apt+=(nodejs npm)
# Headless Chromium renders the web viewer in tests/test_webviewer.py.
command -v chromium >/dev/null || need_apt+=(chromium)
# OSMesa (llvmpipe) for `animate --preview`'s offscreen pyrender rendering in tests/test_preview.py.
ldconfig -p | grep -q libOSMesa.so || need_apt+=(libosmesa6)
if [ ${#need_apt[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check -e '.[test]'
# pyrender 0.1.45 pins PyOpenGL==3.1.0 (no OSMesa core contexts); '.[test]' brought its other
# dependencies and PyOpenGL 3.1.10 through the 'preview' extra, so it goes in without its own.
.venv/bin/pip install -q --disable-pip-version-check --no-deps pyrender==0.1.45
# Ray for the `animate batch --backend ray` test; optional: the test skips without it.
.venv/bin/pip install -q --disable-pip-version-check -e '.[ray]' \
  || echo "setup: Ray could not be installed; tests/test_batch.py's Ray test will skip" >&2

if [ ! -f .cache/npm/node_modules/gltf-validator/package.json ]; then
  mkdir -p .cache/npm
  (cd .cache/npm && npm install --silent --no-audit --no-fund gltf-validator@2.0.0-dev.3.10 >/dev/null)
fi

# Blender's Python module for --format blend and tests/test_blender.py, in its own venv: PyPI's
# bpy 5.0.1 needs Python 3.11 and numpy < 2, which the main environment (numpy 2) cannot hold.
BPY_PYTHON=$(command -v python3.11 || true)
if [ -z "$BPY_PYTHON" ] && python3 -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
  BPY_PYTHON=$(command -v python3)
fi
if [ -n "$BPY_PYTHON" ]; then
  [ -x .venv-blender/bin/python ] || "$BPY_PYTHON" -m venv .venv-blender
  .venv-blender/bin/python -c 'import bpy, sys; sys.exit(bpy.app.version != (5, 0, 1))' \
      >/dev/null 2>&1 || .venv-blender/bin/pip install -q --disable-pip-version-check bpy==5.0.1
else
  echo "setup.sh: no Python 3.11 here, so no .venv-blender; tests/test_blender.py will skip" >&2
fi
