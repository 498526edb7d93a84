#!/usr/bin/env bash
# Rebuilds vendor/three-viewer.min.js (the parts of three.js the viewer imports, one minified ES
# module) and vendor/LICENSE-three.txt from the npm registry. Run by hand after changing
# vendor_entry.js or the pinned versions; the built files are committed and shipped with the
# package, so neither users nor tests need npm. Idempotent.
set -euo pipefail
THREE_VERSION=0.187.0
ESBUILD_VERSION=0.25.10
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
echo "wrote $here/vendor/three-viewer.min.js ($(wc -c < "$here/vendor/three-viewer.min.js") bytes)"
