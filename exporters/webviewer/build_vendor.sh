#!/usr/bin/env bash
# Rebuilds vendor/three-viewer.min.js (the parts of three.js the viewer imports, one minified ES
# module) and vendor/LICENSE-three.txt from the npm registry, and the live page's onnxruntime-web
# (its in-browser mode): the wasm-only ES module build with the Emscripten glue inside
# (ort.wasm.bundle.min.mjs) and its one WebAssembly binary, stored gzipped
# (ort-wasm-simd-threaded.wasm.gz, 3.8 MB instead of 14.8; `animate serve` sends it with
# Content-Encoding: gzip), plus LICENSE-onnxruntime.txt. Run by hand after changing
# vendor_entry.js or the pinned versions; the built files are committed and shipped with the
# package, so neither users nor tests need npm. Idempotent.
set -euo pipefail
THREE_VERSION=0.187.0
ESBUILD_VERSION=0.25.10
ORT_VERSION=1.31.1
here="$(cd "$(dirname "$0")" && pwd)"
npm_dir="$here/../../.cache/npm-three"
mkdir -p "$npm_dir"
if [ "$(node -p "try{require('$npm_dir/node_modules/three/package.json').version}catch(e){''}")" != "$THREE_VERSION" ] \
   || [ ! -x "$npm_dir/node_modules/.bin/esbuild" ]; then
  (cd "$npm_dir" && npm install --silent --no-audit --no-fund \
     "three@$THREE_VERSION" "esbuild@$ESBUILD_VERSION" >/dev/null)
fi
NODE_PATH="$npm_dir/node_modules" "$npm_dir/node_modules/.bin/esbuild" "$here/vendor_entry.js" \
  --bundle --format=esm --minify --target=es2020 --legal-comments=eof --log-level=warning \
  --banner:js="/* three.js r$(cut -d. -f2 <<< "$THREE_VERSION") (MIT, see LICENSE-three.txt) - GLTFLoader, OrbitControls; bundled by voxface build_vendor.sh */" \
  --outfile="$here/vendor/three-viewer.min.js"
cp "$npm_dir/node_modules/three/LICENSE" "$here/vendor/LICENSE-three.txt"

ort_dir="$here/../../.cache/npm-ort"
mkdir -p "$ort_dir"
if [ "$(node -p "try{require('$ort_dir/node_modules/onnxruntime-web/package.json').version}catch(e){''}")" != "$ORT_VERSION" ]; then
  (cd "$ort_dir" && npm install --silent --no-audit --no-fund "onnxruntime-web@$ORT_VERSION" >/dev/null)
fi
ort="$ort_dir/node_modules/onnxruntime-web/dist"
cp "$ort/ort.wasm.bundle.min.mjs" "$here/vendor/ort.wasm.bundle.min.mjs"
# -n: no name or time stamp in the header, so a rebuild gives the same bytes.
gzip -9 -n -c "$ort/ort-wasm-simd-threaded.wasm" > "$here/vendor/ort-wasm-simd-threaded.wasm.gz"
# The npm package carries no licence file; the project's (MIT) is in its source repository.
{ echo "onnxruntime-web $ORT_VERSION (https://www.npmjs.com/package/onnxruntime-web), from"
  echo "https://github.com/microsoft/onnxruntime (LICENSE; third-party notices in that"
  echo "repository's ThirdPartyNotices.txt)."
  echo
  cat <<'MIT'
MIT License

Copyright (c) Microsoft Corporation

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
MIT
} > "$here/vendor/LICENSE-onnxruntime.txt"
echo "wrote $here/vendor/ort.wasm.bundle.min.mjs ($(wc -c < "$here/vendor/ort.wasm.bundle.min.mjs") bytes), ort-wasm-simd-threaded.wasm.gz ($(wc -c < "$here/vendor/ort-wasm-simd-threaded.wasm.gz") bytes)"
echo "wrote $here/vendor/three-viewer.min.js ($(wc -c < "$here/vendor/three-viewer.min.js") bytes)"
