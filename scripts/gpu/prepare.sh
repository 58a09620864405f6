#!/usr/bin/env bash
# Fills a folder to take to a GPU machine that has a GPU driver but no Node.js and no Vulkan loader:
# this Node.js binary, Dawn's addon from the `webgpu` npm package, the Vulkan loader and the GL dispatch
# libraries NVIDIA's Vulkan driver needs (Debian packages, unpacked there by on-device.sh).
#   scripts/gpu/prepare.sh [DIR]     (DIR defaults to .gpu, git-ignored)
set -euo pipefail
cd "$(dirname "$0")/../.."
dir=${1:-.gpu}
mkdir -p "$dir/debs"
# Compressed, so that the folder stays small to copy.
[ -f "$dir/node.xz" ] || xz -T2 -6 -c "$(readlink -f "$(command -v node)")" > "$dir/node.xz"
dawn=node_modules/webgpu/dist/linux-x64/dawn.node
[ -f "$dawn" ] || { echo "prepare: $dawn is missing: npm install --no-save webgpu@0.6.2 @tensorflow/tfjs-backend-webgpu@4.22.0" >&2; exit 1; }
[ -f "$dir/dawn.node.xz" ] || xz -T2 -6 -c "$dawn" > "$dir/dawn.node.xz"
if ! ls "$dir"/debs/libvulkan1_*.deb >/dev/null 2>&1; then
  # amd64 packages from this machine's apt sources, with private package lists (nothing here changes).
  lists=$(mktemp -d); mkdir -p "$lists/partial"
  o=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 "-oDir::State::Lists=$lists")
  apt-get "${o[@]}" update >/dev/null
  (cd "$dir/debs" && apt-get "${o[@]}" download libvulkan1 libglvnd0 libgl1 libglx0 libegl1 libgles2 libopengl0 >/dev/null)
  rm -rf "$lists"
fi
cp scripts/gpu/on-device.sh "$dir/"
du -sh "$dir"
