#!/usr/bin/env bash
# Installs every build and test dependency from Debian 12 packages, then configures and
# builds the project into build/. Safe to run again: apt-get and cmake are incremental.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake ninja-build pkg-config git
  clang-14 llvm-14 lld-14
  libelf-dev libbpf-dev zlib1g-dev liburing-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libcli11-dev nlohmann-json3-dev libfmt-dev
  fuse3 attr acl e2fsprogs util-linux procps psmisc python3
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "setup: missing packages: ${missing[*]} (run as root to install them)" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The fuse module and its control filesystem (used to abort a dead connection).
if [[ $(id -u) -eq 0 ]]; then
  modprobe fuse 2>/dev/null || true
  if [[ -d /sys/fs/fuse/connections ]] && ! mountpoint -q /sys/fs/fuse/connections; then
    mount -t fusectl none /sys/fs/fuse/connections 2>/dev/null || true
  fi
fi

build_type=${FUSEBPF_BUILD_TYPE:-RelWithDebInfo}
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE="$build_type" -DFUSEBPF_EXCLUDE= >/dev/null
cmake --build build -j"$(nproc)"
