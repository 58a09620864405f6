#!/usr/bin/env bash
# Everything of the GPU path on a machine with an NVIDIA GPU and its driver but no Node.js, no npm registry,
# no Vulkan loader and no Jupyter, in one run there: the benchmark (webgpu against PyTorch on CUDA), the
# chapter's notebooks on webgpu through the tslab kernel, TensorFlow.js's op suite on webgpu and the webgpu
# tests. Everything it needs travels in `.gpu/` (git-ignored), made here by `prepare`.
#
#   scripts/gpu/run.sh prepare        here: fills .gpu/ (needs DATA_MIRROR; about 60 MB)
#   scripts/gpu/run.sh device OUT     there, from the project root with .gpu/ beside it: writes into OUT
#                                     log.txt, results-gpu.json, the executed notebooks (notebooks.tar.gz),
#                                     the op suite's webgpu results (suite-webgpu.json) and a CPU profile
#                                     of a small training step (dispatch.cpuprofile, scripts/gpu/dispatch.ts)
#   scripts/gpu/run.sh local OUT      here: the device part on this machine (a rehearsal on the software
#                                     adapter; the bench is left out, as it needs PyTorch with CUDA)
# Each part has its own time limit (GPU_DISPATCH_S, GPU_BENCH_S, GPU_NOTEBOOKS_S, GPU_SUITE_S, GPU_TESTS_S), so that one
# that hangs leaves the others their time; the results come back part by part into OUT. GPU_BENCH_ARGS
# goes to the bench (default "--warmup=1 --runs=2"; empty for the full counts).
set -uo pipefail
cd "$(dirname "$0")/../.."
# GPU_NOTEBOOKS and GPU_PARTS (dispatch bench notebooks suite tests) choose fewer, e.g. for a second try.
read -ra NOTEBOOKS <<<"${GPU_NOTEBOOKS:-04_mnist_basics 04b_training_a_digit_classifier 04c_all_ten_digits}"
PARTS=" ${GPU_PARTS:-dispatch bench notebooks suite tests} "
TESTS=(webgpu engine loss-kernels)

prepare() {
  set -e
  : "${DATA_MIRROR:?set DATA_MIRROR to a folder holding SHA256SUMS, mnist_sample.tgz and mnist_png.tgz}"
  [ -d node_modules/webgpu ] && [ -d node_modules/@tensorflow/tfjs-backend-webgpu ] ||
    npm install --no-save --no-audit --no-fund webgpu@0.6.2 @tensorflow/tfjs-backend-webgpu@4.22.0
  npm run build --silent
  scripts/gpu/prepare.sh .gpu
  node scripts/gpu/pack-modules.mjs .gpu/modules.tar.xz
  # The scripts that run there as single files; packages come from the unpacked node_modules.
  local js; js=$(mktemp -d)
  local common=(--bundle --platform=node --format=cjs --packages=external --log-level=error)
  npx esbuild scripts/bench.ts "${common[@]}" --outfile="$js/bench.cjs"
  npx esbuild scripts/gpu/dispatch.ts "${common[@]}" --outfile="$js/dispatch.cjs"
  # The test files' import of the notebook checks (Jupyter) stays out: the notebooks run separately.
  for t in "${TESTS[@]}"; do npx esbuild "test/$t.test.ts" "${common[@]}" --external:./notebook-checks --outfile="$js/$t.test.cjs"; done
  npx tsx scripts/test-tfjs.ts --bundle-only "$js/suite.cjs"
  cp -r node_modules/jasmine-core "$js/"
  tar -cf .gpu/js.tar.xz -I 'xz -T2 -9' -C "$js" .
  rm -rf "$js"
  mkdir -p .gpu/datasets
  cp "$DATA_MIRROR/SHA256SUMS" "$DATA_MIRROR/mnist_sample.tgz" "$DATA_MIRROR/mnist_png.tgz" .gpu/datasets/
  du -sh .gpu
}

# Runs one part with a time limit, its output into the log; says how it ended.
part() {
  local name=$1 limit=$2; shift 2
  [[ $PARTS == *" $name "* ]] || return 0
  local t0=$SECONDS
  echo "== $name (limit ${limit} s)" >>"$LOG"
  # A shell function runs through this script again, so that `timeout` can stop it with all it started.
  if [ "$(type -t "$1")" = function ]; then set -- bash "$0" run-part "$@"; fi
  timeout -k 10 "$limit" "$@" >>"$LOG" 2>&1
  local rc=$?
  echo "== $name: exit $rc after $((SECONDS - t0)) s" >>"$LOG"
  echo "$name: exit $rc after $((SECONDS - t0)) s"
  return $rc
}

notebooks() {
  # Side by side, each in its own kernel, so that a slow one leaves the others their time. The executed
  # notebooks and their logs reach OUT as one archive, renewed as each ends.
  local dir; dir=$(mktemp -d)/notebooks
  mkdir -p "$dir"
  # Stopped at the part's limit, this shell waits for the runners below to write what they have.
  trap 'true' TERM
  for nb in "${NOTEBOOKS[@]}"; do
    (
      # Stopped at the part's limit, the runner writes the cells done so far: wait for it, then pack.
      trap 'true' TERM
      t0=$SECONDS
      TFJS_BACKEND=${NOTEBOOK_BACKEND:-webgpu} node scripts/gpu/run-notebook.mjs "notebooks/$nb.ipynb" "$dir/$nb.ipynb" >"$dir/$nb.log" 2>&1
      echo "$nb: exit $? after $((SECONDS - t0)) s" | tee -a "$dir/$nb.log"
      tar -czf "$OUTDIR/.notebooks-$nb.tar.gz" -C "$dir/.." notebooks && mv "$OUTDIR/.notebooks-$nb.tar.gz" "$OUTDIR/notebooks.tar.gz"
    ) &
  done
  wait
  cat "$dir"/*.log
}

suite() {
  # The specs the committed list excludes (they never end on webgpu) are not run.
  local exclude
  exclude=$(node -e 'console.log(JSON.stringify(require("./test/tfjs-webgpu-failures.json").excluded.map((e) => e.name)))')
  TFJS_SUITE_EXCLUDE=$exclude node "$JS/suite.cjs" webgpu "$OUTDIR/suite-webgpu.json"
}

tests() {
  local files=()
  for t in "${TESTS[@]}"; do files+=("$JS/$t.test.cjs"); done
  # CI=true: where webgpu cannot start, the tests fail instead of skipping.
  CI=true node --test --test-reporter=spec --test-name-pattern='^(?!notebook ).*webgpu' "${files[@]}"
}

device() {
  export OUTDIR LOG JS
  OUTDIR=$(mkdir -p "$1" && cd "$1" && pwd)
  LOG=$OUTDIR/log.txt
  JS=$PWD/.gpu/js # inside the project, so that the bundles find node_modules
  # shellcheck disable=SC1091
  source .gpu/on-device.sh .gpu >>"$LOG" 2>&1
  tar -xJf .gpu/modules.tar.xz
  mkdir -p "$JS" && tar -xJf .gpu/js.tar.xz -C "$JS"
  rm -rf node_modules/jasmine-core && mv "$JS/jasmine-core" node_modules/
  export DATA_MIRROR=$PWD/.gpu/datasets
  node -e 'require("fastbook-ts").initBackend("webgpu").then((b) => console.log(require("fastbook-ts").describeBackend(b)))' >>"$LOG" 2>&1
  # First, alone on the GPU, the per-op costs (with a CPU profile of the step) and the benchmark; then the
  # rest side by side (none of it is timed).
  part dispatch "${GPU_DISPATCH_S:-60}" env TFJS_BACKEND=webgpu node --cpu-prof --cpu-prof-dir="$OUTDIR" --cpu-prof-name=dispatch.cpuprofile "$JS/dispatch.cjs"
  # One untimed and two timed epochs a case: on an H200 the full counts took longer than 240 s.
  # The results file is renewed after each case, so a bench stopped at its limit keeps what it measured.
  part bench "${GPU_BENCH_S:-300}" env TFJS_BACKEND=webgpu BENCH_DEVICE="${BENCH_DEVICE:-cuda}" BENCH_PYTHON="$(command -v python3)" \
    BENCH_OUT="$OUTDIR/results-gpu.json" node "$JS/bench.cjs" ${GPU_BENCH_ARGS---warmup=1 --runs=2}
  part notebooks "${GPU_NOTEBOOKS_S:-200}" notebooks &
  part suite "${GPU_SUITE_S:-200}" suite &
  part tests "${GPU_TESTS_S:-150}" tests &
  wait
}

case "${1:-}" in
prepare) prepare ;;
run-part) shift; "$@" ;;
device) device "${2:?give an output folder}" ;;
local)
  # On this machine's software adapter, with its own node_modules; the bench needs CUDA and is left out.
  export OUTDIR LOG JS
  OUTDIR=$(mkdir -p "${2:?give an output folder}" && cd "$2" && pwd); LOG=$OUTDIR/log.txt; JS=$PWD/.gpu/js
  mkdir -p "$JS" && tar -xJf .gpu/js.tar.xz -C "$JS" --exclude=./jasmine-core
  part notebooks "${GPU_NOTEBOOKS_S:-900}" notebooks
  part suite "${GPU_SUITE_S:-1800}" suite
  part tests "${GPU_TESTS_S:-900}" tests
  ;;
*) sed -n '2,14p' "$0"; exit 2 ;;
esac
