#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine (as root, or with sudo) and builds salut into build/.
# Idempotent: what is already there is kept. Then prepares the demo model in models/.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  build-essential cmake ninja-build pkg-config git curl ca-certificates strace
  python3 python3-venv python3-pip
  libssl-dev libcurl4-openssl-dev nlohmann-json3-dev libcli11-dev libspdlog-dev libfmt-dev
  libcpp-httplib-dev libasio-dev libpcre2-dev libutf8proc-dev libavahi-client-dev zlib1g-dev
  clang llvm libclang-rt-14-dev
  libgtest-dev libgmock-dev libbenchmark-dev
)

sudo_if_needed() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
for package in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo_if_needed apt-get update -qq
  sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Python tools live in .venv (Debian's system Python refuses pip installs, PEP 668).
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
stamp=.venv/.requirements.sha256
want=$(sha256sum requirements.txt | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "setup: installing Python packages"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -r requirements.txt
  echo "$want" > "$stamp"
fi

# Build (two jobs: the reference machines have two cores).
if [ ! -f build/build.ninja ]; then
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
fi
cmake --build build -j "${SALUT_JOBS:-2}"

# The demo model: a real MLX 4-bit model made from SmolLM2-135M-Instruct (see tools/README.md).
.venv/bin/python tools/make_demo_model.py --out models/SmolLM2-135M-Instruct-4bit

echo "setup: done. build/salut is ready; the demo model is in models/SmolLM2-135M-Instruct-4bit"
