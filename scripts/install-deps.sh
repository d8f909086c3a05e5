#!/usr/bin/env bash
# Installs every build and test dependency of gangsched from Debian's packages. Idempotent: when all
# packages are present it does nothing (no apt-get update, no network).
#   scripts/install-deps.sh              the build and test dependencies below
#   scripts/install-deps.sh PKG ...      just these packages, the same way (e.g. the image tools)
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config ccache git
  libcpp-httplib-dev libssl-dev nlohmann-json3-dev libsimdjson-dev libboost-graph-dev
  prometheus-cpp-dev libspdlog-dev libyaml-cpp-dev libexpected-dev catch2
  clang-format curl
  coinor-cbc python3-matplotlib  # placement report: CBC optimum, plots (sim/)
  python3-yaml  # scripts/demo-drive.py (make run, make demo, the demo_drive test)
)
if [ $# -gt 0 ]; then PACKAGES=("$@"); fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
