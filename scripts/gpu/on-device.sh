#!/usr/bin/env bash
# Sourced on the GPU machine, from the project root:  source .gpu/on-device.sh [DIR]
# Unpacks the Vulkan loader and GL dispatch libraries, points the loader at NVIDIA's Vulkan driver, and
# unpacks Node.js (first on PATH) and Dawn's addon (exported as DAWN_NODE) to /tmp/gpu-node.
dir=${1:-.gpu}
for f in "$dir"/debs/*.deb; do dpkg -x "$f" /; done
ldconfig
# Where NVIDIA's container runtime puts the driver's manifests; without libglvnd the driver is not found.
for icd in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json; do
  if [ -f "$icd" ]; then export VK_DRIVER_FILES=$icd; break; fi
done
for egl in /usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json /usr/share/glvnd/egl_vendor.d/10_nvidia.json; do
  if [ -f "$egl" ]; then export __EGL_VENDOR_LIBRARY_FILENAMES=$egl; break; fi
done
mkdir -p /tmp/gpu-node
[ -x /tmp/gpu-node/node ] || { xz -dc "$dir/node.xz" > /tmp/gpu-node/node && chmod +x /tmp/gpu-node/node; }
[ -f /tmp/gpu-node/dawn.node ] || xz -dc "$dir/dawn.node.xz" > /tmp/gpu-node/dawn.node
export DAWN_NODE=/tmp/gpu-node/dawn.node
export PATH=/tmp/gpu-node:$PATH
echo "node $(node --version); VK_DRIVER_FILES=${VK_DRIVER_FILES:-unset}"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || true
