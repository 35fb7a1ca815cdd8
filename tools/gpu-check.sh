#!/usr/bin/env bash
# gpu-check.sh — run clgrad's device tests and benchmarks on a machine that has a GPU driver but
# none of clgrad's dependencies (no package registry), e.g. a lent NVIDIA machine.
#
#   here:   tools/gpu-check.sh pack
#           builds build-gpu/ (release, no OpenBLAS) and fills .gpu-pack/ with the shared
#           libraries it needs (ICD loader, CLBlast, cmocka, libpng, jansson) and the Fashion-MNIST files.
#   there:  tools/gpu-check.sh run OUTDIR [DEVICE] [SECONDS]
#           with build-gpu and .gpu-pack carried beside the working tree.  DEVICE (default
#           NVIDIA) selects devices as CLGRAD_TEST_DEVICES and --device do (name substring or
#           P:D); SECONDS (default 420) is the time budget the steps share.
#
# `run` finds the driver first: where no ICD file under /etc/OpenCL/vendors names NVIDIA's, it
# looks for libnvidia-opencl.so.1 (ldconfig, /usr/local/nvidia, /usr/lib*) and writes an
# nvidia.icd for it, beside copies of the other ICD files, into a folder that OCL_ICD_VENDORS then
# names.  Every step writes OUTDIR/NN-step.log; OUTDIR/summary.txt lists each step with its exit
# status and seconds.  Steps: `clgrad devices --check`, every test binary on
# DEVICE, `clgrad bench --quick`, bench_gemm, 2 epochs of the MLP on Fashion-MNIST, and
# `clgrad tune --quick` (into a fresh cache dir, after the others: the defaults are measured).
set -uo pipefail
cd "$(dirname "$0")/.."

pack() {
    set -e
    rm -rf build-gpu .gpu-pack
    meson setup build-gpu -Dopenblas=disabled -Dbuildtype=release >/dev/null
    ninja -C build-gpu >/dev/null
    mkdir -p .gpu-pack/lib .gpu-pack/fashion-mnist
    for l in libOpenCL.so.1 libclblast.so.1 libcmocka.so.0 libpng16.so.16 libjansson.so.4; do
        p=$(ldconfig -p | awk -v l="$l" '$1 == l && /x86-64/ && !n++ { print $NF }')
        [ -n "$p" ] || { echo "gpu-check: $l not found (run tools/install-deps.sh)" >&2; exit 1; }
        cp -L "$p" .gpu-pack/lib/
    done
    cp /usr/share/datasets/fashion-mnist/*.gz .gpu-pack/fashion-mnist/ 2>/dev/null || true
    du -sh build-gpu .gpu-pack
    echo "carry: build-gpu .gpu-pack; then: tools/gpu-check.sh run \$OUT"
}

find_icd() {
    local icds
    icds=$(ls /etc/OpenCL/vendors/*.icd 2>/dev/null | tr '\n' ' ')
    echo "ICD files: ${icds:-none}"
    if [ -n "$icds" ] && grep -qil nvidia $icds; then
        return
    fi
    local lib
    lib=$(ldconfig -p 2>/dev/null | awk '$1 == "libnvidia-opencl.so.1" && !n++ { print $NF }')
    if [ -z "$lib" ]; then
        lib=$(find /usr/local/nvidia /usr/lib/x86_64-linux-gnu /usr/lib64 /usr/lib \
              -maxdepth 3 -name 'libnvidia-opencl.so.1' 2>/dev/null | awk '!n++')
    fi
    if [ -z "$lib" ]; then
        echo "no NVIDIA ICD file and no libnvidia-opencl.so.1 found"
        return
    fi
    local dir
    dir=$(mktemp -d)
    [ -n "$icds" ] && cp $icds "$dir/"
    echo "$lib" >"$dir/nvidia.icd"
    export OCL_ICD_VENDORS="$dir"
    echo "no NVIDIA ICD file; $lib added through OCL_ICD_VENDORS=$dir"
}

run() {
    local out=$1 dev=${2:-NVIDIA} budget=${3:-420}
    mkdir -p "$out"
    [ -x build-gpu/clgrad ] || { echo "gpu-check: build-gpu/clgrad missing (pack, then carry it)"; exit 1; }
    export LD_LIBRARY_PATH="$PWD/.gpu-pack/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    export CLGRAD_CACHE_DIR="${CLGRAD_CACHE_DIR:-$(mktemp -d)}"
    local start=$SECONDS n=0
    {
        echo "host: $(uname -srm); $(nproc) cores"
        command -v nvidia-smi >/dev/null && nvidia-smi -L
        find_icd
    } >"$out/summary.txt" 2>&1
    step() { # step NAME SECONDS CMD...
        local name=$1 limit=$2
        shift 2
        local left=$((budget - (SECONDS - start)))
        [ "$limit" -gt "$left" ] && limit=$left
        n=$((n + 1))
        local log
        log=$(printf '%s/%02d-%s.log' "$out" "$n" "$name")
        if [ "$limit" -le 5 ]; then
            echo "$(printf '%-28s' "$name") skipped (budget spent)" >>"$out/summary.txt"
            return
        fi
        local t0=$SECONDS rc
        timeout "$limit" "$@" >"$log" 2>&1
        rc=$?
        echo "$(printf '%-28s' "$name") rc=$rc $((SECONDS - t0)) s" >>"$out/summary.txt"
    }
    step devices 60 build-gpu/clgrad devices --check
    for t in build-gpu/tests/test_*; do
        [ -f "$t" ] && [ -x "$t" ] || continue
        step "$(basename "$t")" 120 env CLGRAD_TEST_DEVICES="$dev" "$t"
    done
    step bench 120 build-gpu/clgrad bench --device "$dev" --quick --json "$out/bench.json"
    step bench_gemm 90 build-gpu/bench_gemm --device "$dev" --rounds 3
    step train_mlp 90 build-gpu/clgrad train mlp --device "$dev" --epochs 2 \
        --data .gpu-pack/fashion-mnist --out "$out/mlp.safetensors"
    step tune 90 build-gpu/clgrad tune --device "$dev" --quick
    cat "$out/summary.txt"
}

case "${1:-}" in
pack) pack ;;
run) shift; [ $# -ge 1 ] || { echo "usage: tools/gpu-check.sh run OUTDIR [DEVICE] [SECONDS]"; exit 2; }; run "$@" ;;
*) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
