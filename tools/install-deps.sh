#!/bin/sh
# install-deps.sh — install every Debian package clgrad, its tests and its data need.
# Idempotent and non-interactive; uses sudo when not run as root.
# --reference also installs PyTorch (python3-torch, ~1 GB) for tools/torch_compare.py and
# tools/torch_mlp_reference.py; tests and CI do not need it.
set -eu

PKGS="build-essential pkg-config meson ninja-build python3 \
ocl-icd-opencl-dev opencl-headers ocl-icd-libopencl1 clinfo \
pocl-opencl-icd mesa-opencl-icd oclgrind \
libclblast-dev libcmocka-dev zlib1g-dev libpng-dev \
libopenblas-dev fasttext \
dataset-fashion-mnist dict-gcide"
if [ "${1:-}" = "--reference" ]; then
    PKGS="$PKGS python3-torch python3-numpy"
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi

missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done

if [ -z "$missing" ]; then
    echo "install-deps: all packages present"
    exit 0
fi

echo "install-deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
