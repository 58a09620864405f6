#!/usr/bin/env bash
# `npm run bench` on a GPU machine: this project on the `webgpu` backend (Dawn) against PyTorch on CUDA,
# in one run there. The GPU machine has no Node.js, no npm registry and no Vulkan loader, so everything
# travels in `.gpu/` (scripts/gpu/prepare.sh and on-device.sh; see scripts/gpu/README.md).
#
#   scripts/gpu/bench.sh prepare    here: builds .gpu/ (Node, Dawn, Vulkan debs, the bundled bench, data)
#   scripts/gpu/bench.sh device [DIR]  there, from the project root, with .gpu/ copied beside it:
#                                   writes DIR/results-gpu.json (default DIR: reports/gpu) and prints the table
set -euo pipefail
cd "$(dirname "$0")/../.."

case "${1:-}" in
prepare)
  # The optional GPU packages, pinned (not saved: CPU machines do not need them).
  [ -d node_modules/webgpu ] && [ -d node_modules/@tensorflow/tfjs-backend-webgpu ] ||
    npm install --no-save webgpu@0.6.2 @tensorflow/tfjs-backend-webgpu@4.22.0
  npm run build
  scripts/gpu/prepare.sh .gpu
  # One CommonJS file (node_modules stays here); native addons stay outside: Dawn comes via DAWN_NODE,
  # OpenBLAS/koffi and Jupyter's zeromq are not used on that machine.
  npx esbuild scripts/bench.ts --bundle --platform=node --format=cjs --outfile=.gpu/bench.cjs \
    --external:koffi --external:zeromq --external:tslab --external:'*.node' --log-level=warning
  # The data sets, as the mirror serves them (checksums included).
  mirror=${DATA_MIRROR:?set DATA_MIRROR to a folder holding SHA256SUMS, mnist_sample.tgz and mnist_png.tgz}
  mkdir -p .gpu/datasets
  cp "$mirror/SHA256SUMS" "$mirror/mnist_sample.tgz" "$mirror/mnist_png.tgz" .gpu/datasets/
  du -sh .gpu
  echo "Next: copy .gpu/ to the GPU machine with the checkout, then run there: scripts/gpu/bench.sh device"
  ;;
device)
  # shellcheck disable=SC1091
  source .gpu/on-device.sh .gpu
  out=${2:-reports/gpu}
  mkdir -p "$out"
  DATA_MIRROR="$PWD/.gpu/datasets" TFJS_BACKEND=webgpu BENCH_DEVICE=cuda BENCH_PYTHON="$(command -v python3)" \
    BENCH_OUT="$out/results-gpu.json" node .gpu/bench.cjs
  ;;
*)
  sed -n '2,9p' "$0"
  exit 2
  ;;
esac
