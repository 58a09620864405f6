#!/usr/bin/env bash
# The webgpu tests on a GPU machine, in one run there: the same checks `npm test` runs on the software
# adapter (synchronous reads, the automatic choice taking the hardware adapter, the backend comparisons
# against cpu, a short fit), bundled with Node.js and Dawn since that machine has neither.
#
#   scripts/gpu/check.sh prepare    here: builds .gpu/ (Node, Dawn, Vulkan debs, the bundled tests)
#   scripts/gpu/check.sh device [DIR]  there, from the project root, with .gpu/ copied beside it:
#                                   prints the results and writes them to DIR/webgpu-check.txt
#                                   (default DIR: reports/gpu)
#   scripts/gpu/check.sh local      here: the bundled tests on this machine's adapter (a rehearsal)
#
# The notebooks need Jupyter and the tslab kernel, which that machine lacks: they are left out there.
set -euo pipefail
cd "$(dirname "$0")/../.."
# Tests whose names mention webgpu, except the notebook runs.
PATTERN='^(?!notebook ).*webgpu'
TESTS=(webgpu engine loss-kernels)

run_tests() {
  # CI=true: where webgpu cannot start, the tests fail instead of skipping.
  local files=()
  for t in "${TESTS[@]}"; do files+=(".gpu/tests/$t.cjs"); done
  CI=true node --test --test-reporter=spec --test-name-pattern="$PATTERN" "${files[@]}" 2>&1 |
    grep -v '^Warning: max' | tee "$1"
}

case "${1:-}" in
prepare)
  [ -d node_modules/webgpu ] && [ -d node_modules/@tensorflow/tfjs-backend-webgpu ] ||
    npm install --no-save --no-audit --no-fund webgpu@0.6.2 @tensorflow/tfjs-backend-webgpu@4.22.0
  scripts/gpu/prepare.sh .gpu
  mkdir -p .gpu/tests
  for t in "${TESTS[@]}"; do
    # One CommonJS file per test file; Dawn comes via DAWN_NODE; OpenBLAS (koffi) and Jupyter stay here.
    npx esbuild "test/$t.test.ts" --bundle --platform=node --format=cjs --outfile=".gpu/tests/$t.cjs" \
      --external:koffi --external:zeromq --external:tslab --external:'*.node' --external:./notebook-checks --log-level=error
  done
  # The wasm backend's binaries, found beside the bundle (the automatic choice falls back to wasm on a
  # machine whose only adapter is a software one, as in `local`).
  cp node_modules/@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm{,-simd}.wasm .gpu/tests/
  du -sh .gpu
  echo "Next: copy .gpu/ to the GPU machine with the checkout, then run there: scripts/gpu/check.sh device"
  ;;
device)
  # shellcheck disable=SC1091
  source .gpu/on-device.sh .gpu
  out=${2:-reports/gpu}
  mkdir -p "$out"
  run_tests "$out/webgpu-check.txt"
  ;;
local)
  DAWN_NODE=${DAWN_NODE:-$PWD/node_modules/webgpu/dist/linux-x64/dawn.node} run_tests /tmp/webgpu-check.txt
  ;;
*)
  sed -n '2,12p' "$0"
  exit 2
  ;;
esac
