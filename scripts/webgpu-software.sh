#!/usr/bin/env bash
# Installs what the `webgpu` backend needs to run without a GPU, for tests: a software WebGPU adapter
# (Mesa's lavapipe Vulkan driver) and the optional npm packages `webgpu` (Dawn) and
# `@tensorflow/tfjs-backend-webgpu`. Run as root on Debian, from anywhere; `npm test` and `npm start` run
# it when they are root (scripts/setup.mjs), and CI runs it (.ci/run).
#
# Debian 12's own Mesa (22.3) is refused by Dawn ("Vulkan shaderUniform*ArrayDynamicIndexing required"), so
# on bookworm the newer Mesa comes from bookworm-backports, added on the mirror that apt already uses.
#
#   scripts/webgpu-software.sh          install what is missing (a second run does nothing)
#   scripts/webgpu-software.sh apt      only the Mesa part (before node_modules exists)
#   scripts/webgpu-software.sh check    exit 0 when everything is in place, else say what is missing
set -euo pipefail
cd "$(dirname "$0")/.."

MESA_MIN=24 # the oldest Mesa major version known to give Dawn a usable lavapipe adapter (22.3 is refused)
NPM_PACKAGES=(webgpu@0.6.2 @tensorflow/tfjs-backend-webgpu@4.22.0)

mesa_major() { dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null | sed -n 's/^\([0-9]*\)\..*/\1/p'; }
have_mesa() { local v; v=$(mesa_major); [[ -n "$v" && "$v" -ge $MESA_MIN ]] && dpkg-query -W libvulkan1 >/dev/null 2>&1; }
have_npm() { [[ -f node_modules/webgpu/package.json && -f node_modules/@tensorflow/tfjs-backend-webgpu/package.json ]]; }

if [[ "${1:-}" == check ]]; then
  missing=()
  have_mesa || missing+=("Mesa >= $MESA_MIN lavapipe (mesa-vulkan-drivers, libvulkan1)")
  have_npm || missing+=("npm packages ${NPM_PACKAGES[*]}")
  if ((${#missing[@]})); then echo "missing: ${missing[*]}"; exit 1; fi
  exit 0
fi

if ! have_mesa; then
  [[ $(id -u) -eq 0 ]] || { echo "webgpu-software: run as root to install Mesa's lavapipe (apt-get)" >&2; exit 1; }
  command -v apt-get >/dev/null || { echo "webgpu-software: needs apt-get (Debian)" >&2; exit 1; }
  export DEBIAN_FRONTEND=noninteractive
  codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
  target=()
  if [[ "$codename" == bookworm ]]; then
    target=(-t bookworm-backports)
    if ! grep -rqsE '(^|[[:space:]])bookworm-backports([[:space:]]|$)' /etc/apt/sources.list /etc/apt/sources.list.d/; then
      # The mirror of the entry that serves bookworm itself (deb822 .sources files, or one-line .list files).
      uri=$(awk '
        FNR == 1 { take() }
        /^URIs:/ { uris = $2 } /^Suites:/ { suites = $0 }
        function take() { if (uris != "" && suites ~ /[[:space:]]bookworm([[:space:]]|$)/ && !found) { print uris; found = 1 } uris = ""; suites = "" }
        /^[[:space:]]*$/ { take() }
        END { take() }
      ' /etc/apt/sources.list.d/*.sources 2>/dev/null)
      if [[ -z "$uri" ]]; then
        uri=$(grep -hsE '^deb[[:space:]]' /etc/apt/sources.list /etc/apt/sources.list.d/*.list |
          sed 's/\[[^]]*\]//' | awk '$3 == "bookworm" { print $2; exit }')
      fi
      [[ -n "$uri" ]] || { echo "webgpu-software: found no apt entry for bookworm to take the mirror from" >&2; exit 1; }
      echo "webgpu-software: adding bookworm-backports from $uri"
      printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$uri" \
        > /etc/apt/sources.list.d/bookworm-backports.sources
    fi
  fi
  apt-get update
  apt-get install -y --no-install-recommends "${target[@]}" mesa-vulkan-drivers libvulkan1
  have_mesa || { echo "webgpu-software: Mesa $(mesa_major) installed, but Dawn needs $MESA_MIN or newer" >&2; exit 1; }
fi

if [[ "${1:-}" == apt ]]; then echo "webgpu-software: Mesa $(mesa_major) lavapipe is installed"; exit 0; fi

if ! have_npm; then
  echo "webgpu-software: npm install --no-save ${NPM_PACKAGES[*]}"
  npm install --no-save --no-audit --no-fund "${NPM_PACKAGES[@]}"
fi
echo "webgpu-software: Mesa $(mesa_major) lavapipe and ${NPM_PACKAGES[*]} are installed"
