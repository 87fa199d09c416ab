#!/usr/bin/env bash
# Installs, idempotently, what unihal needs on Debian 12: the build's Debian packages and a
# local .venv with pinned PyPI packages. Safe to run again; does nothing when all is present.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBIAN_PACKAGES=(
  build-essential cmake ninja-build pkg-config git
  libprotobuf-dev protobuf-compiler libonnx-dev
  libdnnl-dev ocl-icd-opencl-dev opencl-headers libcli11-dev libfmt-dev nlohmann-json3-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libjpeg62-turbo-dev libpng-dev libtiff-dev libwebp-dev libopenjp2-7-dev
  libomp-dev
  python3-venv
)

missing=()
for pkg in "${DEBIAN_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Python: the first python3 on PATH (it may not be Debian's), pinned packages.
PYTHON=${PYTHON:-python3}
REQUIREMENTS=scripts/requirements.txt
STAMP=.venv/.requirements.stamp
if [[ ! -x .venv/bin/python ]]; then
  echo "setup: creating .venv with $($PYTHON --version)"
  $PYTHON -m venv .venv
fi
if [[ ! -f $STAMP ]] || ! cmp -s "$REQUIREMENTS" "$STAMP"; then
  echo "setup: installing Python packages from $REQUIREMENTS"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -r "$REQUIREMENTS"
  cp "$REQUIREMENTS" "$STAMP"
fi
