"""Run the Khronos glTF validator (npm `gltf-validator`) on a file, through node.

This is a test and debugging aid, not a runtime dependency: nothing in the animation path
imports it. The validator is the reference for "is this a valid glTF 2.0 asset", so every GLB
voxface writes is checked with it in the test suite.

Where the package is looked for, in order:
  1. `$VOXFACE_GLTF_VALIDATOR_DIR` (a directory containing `node_modules/gltf-validator`),
  2. `<repo>/.cache/npm`,
  3. `/tmp/npmv`.
Install it with: `npm install --prefix .cache/npm gltf-validator`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from voxface.core.errors import MissingDependencyError

ENV_VAR = "VOXFACE_GLTF_VALIDATOR_DIR"
_REPO_ROOT = Path(__file__).resolve().parents[1]
_DEFAULT_DIRS = (_REPO_ROOT / ".cache" / "npm", Path("/tmp/npmv"))

# Reads the asset, resolves external resources relative to it (so a .gltf with its .bin and
# images is validated whole), prints the report as JSON. maxIssues 0 = unlimited, so the
# message list is complete, not just the first 100.
_SCRIPT = r"""
const fs = require('fs');
const path = require('path');
const validator = require(process.argv[1]);
const file = process.argv[2];
const data = new Uint8Array(fs.readFileSync(file));
validator.validateBytes(data, {
  uri: path.basename(file),
  maxIssues: 0,
  writeTimestamp: false,
  externalResourceFunction: (uri) => new Promise((resolve, reject) => {
    const p = path.resolve(path.dirname(file), decodeURIComponent(uri));
    fs.readFile(p, (err, buf) => err ? reject(err.toString()) : resolve(new Uint8Array(buf)));
  }),
}).then(
  (report) => { process.stdout.write(JSON.stringify(report)); },
  (err) => { process.stderr.write(String(err)); process.exit(3); },
);
"""


def find_validator() -> Path:
    """Return the `node_modules/gltf-validator` directory, or raise MissingDependencyError."""
    candidates: list[Path] = []
    env = os.environ.get(ENV_VAR)
    if env:
        candidates.append(Path(env))
    candidates.extend(_DEFAULT_DIRS)
    for base in candidates:
        pkg = base / "node_modules" / "gltf-validator"
        if (pkg / "package.json").is_file():
            return pkg
    raise MissingDependencyError(
        f"gltf-validator not found (looked in {', '.join(str(c) for c in candidates)}); "
        f"install it with `npm install --prefix .cache/npm gltf-validator` or set {ENV_VAR}")


def validate_gltf(path: str | os.PathLike, *, timeout: float = 120.0) -> dict:
    """Validate a .gltf or .glb with the Khronos validator.

    Returns:
        dict with `numErrors`, `numWarnings`, `numInfos`, `numHints` (ints), `messages` (list of
        dicts with `code`, `message`, `severity` (0 error, 1 warning, 2 info, 3 hint), `pointer`),
        and `report`, the validator's full report.
    Raises:
        MissingDependencyError: node or the npm package is not installed.
        RuntimeError: the validator could not run on the file (e.g. unknown format).
    """
    node = shutil.which("node")
    if node is None:
        raise MissingDependencyError("node is not on PATH; the glTF validator needs Node.js")
    pkg = find_validator()
    proc = subprocess.run([node, "-e", _SCRIPT, str(pkg), str(Path(path).resolve())],
                          capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"{path}: gltf-validator failed: {proc.stderr.strip()[:500]}")
    report = json.loads(proc.stdout)
    issues = report.get("issues", {})
    return {
        "numErrors": int(issues.get("numErrors", 0)),
        "numWarnings": int(issues.get("numWarnings", 0)),
        "numInfos": int(issues.get("numInfos", 0)),
        "numHints": int(issues.get("numHints", 0)),
        "messages": list(issues.get("messages", [])),
        "report": report,
    }
