#!/bin/sh
# install-deps.sh — install every Debian package clgrad, its tests and its data need.
# Idempotent and non-interactive; uses sudo when not run as root.
# --reference also installs PyTorch (python3-torch, ~1 GB) for tools/torch_compare.py and
# tools/torch_mlp_reference.py, and JAX (CPU build, from PyPI with pip, ~300 MB) into the virtual
# environment ${CLGRAD_REF_VENV:-$HOME/.venvs/clgrad-ref} for tools/scaling.sh; tests and CI
# need neither.
# --checkers also installs what CI's checking stages use: clang with libFuzzer (tools/fuzz.sh)
# and Oclgrind, the memory- and race-checking OpenCL device (tools/oclgrind-check.sh).
set -eu

REF=0
PKGS="build-essential pkg-config meson ninja-build python3 \
ocl-icd-opencl-dev opencl-headers ocl-icd-libopencl1 clinfo \
pocl-opencl-icd mesa-opencl-icd \
libclblast-dev libcmocka-dev zlib1g-dev libdeflate-dev libpng-dev libjansson-dev \
libopenblas-dev fasttext libopenmpi-dev openmpi-bin \
dataset-fashion-mnist dict-gcide"
for opt in "$@"; do
    case "$opt" in
    --reference) PKGS="$PKGS python3-torch python3-numpy python3-venv python3-pip"; REF=1 ;;
    --checkers) PKGS="$PKGS clang libclang-rt-dev oclgrind" ;;
    *) echo "install-deps: unknown option '$opt' (--reference, --checkers)" >&2; exit 2 ;;
    esac
done

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
else
    echo "install-deps: installing:$missing"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    # shellcheck disable=SC2086
    $SUDO apt-get install -y -qq --no-install-recommends $missing
fi

# JAX is not packaged by Debian: a virtual environment of its own (comparison runs only; the
# library never uses it).  Kept if jax already imports there.
if [ "$REF" = 1 ]; then
    venv=${CLGRAD_REF_VENV:-$HOME/.venvs/clgrad-ref}
    if "$venv/bin/python" -c 'import jax' 2>/dev/null; then
        echo "install-deps: jax present in $venv"
    else
        echo "install-deps: installing jax (CPU) into $venv"
        mkdir -p "$(dirname "$venv")"
        /usr/bin/python3 -m venv "$venv"
        "$venv/bin/python" -m pip install -q --upgrade pip
        "$venv/bin/python" -m pip install -q jax jaxlib
        "$venv/bin/python" -c 'import jax; print("install-deps: jax", jax.__version__)'
    fi
fi
