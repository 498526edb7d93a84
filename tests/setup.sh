#!/usr/bin/env bash
# Installs what the tests need on a fresh Debian machine: system packages (espeak-ng for exact
# phone-time speech, ffmpeg), a virtual environment with the test extras in .venv, and the
# Khronos glTF validator from npm in .cache/npm. Idempotent: re-running skips what is there.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v espeak-ng >/dev/null || need_apt+=(espeak-ng)
ldconfig -p | grep -q libespeak-ng.so.1 || need_apt+=(libespeak-ng1)
command -v node >/dev/null || need_apt+=(nodejs npm)
if [ ${#need_apt[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check -e '.[test]'

if [ ! -f .cache/npm/node_modules/gltf-validator/package.json ]; then
  mkdir -p .cache/npm
  (cd .cache/npm && npm install --silent --no-audit --no-fund gltf-validator@2.0.0-dev.3.10 >/dev/null)
fi
