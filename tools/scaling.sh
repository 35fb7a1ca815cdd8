#!/bin/sh
# scaling.sh — scaling curves of #17: MLP training samples/s against batch and width, and square
# GEMM GFLOP/s, for clgrad (build/bench_scaling) beside JAX/XLA on the CPU (tools/jax_scaling.py)
# and host OpenBLAS, measured point by point in alternating order in one sitting.
# Usage: tools/scaling.sh [OUT_DIR]        (run from anywhere; OUT_DIR default build/scaling)
#   OUT_DIR/raw.csv      every measurement (round, then bench_scaling's columns), machine header
#   OUT_DIR/scaling.csv  per point: median over the rounds of the per-round medians, their range
#   OUT_DIR/stderr.log   the two sides' messages
#   tools/scaling.svg    the three panels (SCALING_SVG=path to write elsewhere)
# Environment: SCALING_ROUNDS (3), SCALING_DEVICE (auto; any --device spec), SCALING_TIME
#   (seconds per point, 1), SCALING_NOTE (a line for the header and the picture, e.g. "quiet
#   machine"), BUILD_DIR (build), CLGRAD_REF_PYTHON (a python with jax; default
#   ${CLGRAD_REF_VENV:-$HOME/.venvs/clgrad-ref}/bin/python, made by install-deps.sh --reference,
#   else python3).  Without an importable jax only clgrad and OpenBLAS are measured.
# Every round runs each point on each side in turn (clgrad, [OpenBLAS,] JAX; the order reversed
# in even rounds), so slow drift of the machine's load falls on all sides alike.
# OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are unset for the run (they slow OpenBLAS here).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/build/scaling}
build=${BUILD_DIR:-$root/build}
rounds=${SCALING_ROUNDS:-3}
dev=${SCALING_DEVICE:-auto}
t=${SCALING_TIME:-1}
svg=${SCALING_SVG:-$root/tools/scaling.svg}
bench=$build/bench_scaling
venv=${CLGRAD_REF_VENV:-$HOME/.venvs/clgrad-ref}
py=${CLGRAD_REF_PYTHON:-}
if [ -z "$py" ]; then
    if [ -x "$venv/bin/python" ]; then py=$venv/bin/python; else py=python3; fi
fi
case "$rounds" in ''|*[!0-9]*|0) echo "scaling: SCALING_ROUNDS must be a positive integer, got '$rounds'" >&2; exit 2 ;; esac
[ -x "$bench" ] || { echo "scaling: $bench not built (ninja -C $build)" >&2; exit 1; }

blas_env="OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE-<unset>} OPENBLAS_L2_SIZE=${OPENBLAS_L2_SIZE-<unset>}"
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE

jax=1
if ! "$py" -c 'import jax' 2>/dev/null; then
    jax=0
    echo "scaling: jax is not importable with $py: measuring clgrad and OpenBLAS only (tools/install-deps.sh --reference installs it)" >&2
fi
blas=1
if ! "$bench" --impl openblas --gemm 16 --time 0.01 >/dev/null 2>&1; then
    blas=0
    echo "scaling: bench_scaling has no OpenBLAS: no OpenBLAS line" >&2
fi

mkdir -p "$out"
raw=$out/raw.csv
log=$out/stderr.log
tmp=$raw.tmp.$$
fifo=$(mktemp -d "${TMPDIR:-/tmp}/scaling.XXXXXX")
pids="" stopped=0
cleanup() { # closing the request pipes ends the servers; on an interruption they are killed
    exec 3>&- 4<&- 5>&- 6<&-
    for p in $pids; do
        if [ $stopped = 1 ]; then kill "$p" 2>/dev/null || true; fi
        wait "$p" 2>/dev/null || true
    done
    rm -rf "$fifo" "$tmp"
}
trap cleanup EXIT
trap 'stopped=1; exit 130' INT TERM
trap 'exit 141' PIPE
{
    echo "# clgrad scaling curves (#17), tools/scaling.sh, $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "# cpu: $(lscpu | sed -n 's/^Model name: *//p' | head -n 1), $(nproc) CPUs online, $(lscpu | sed -n 's/^Thread(s) per core: *//p') thread(s) per core"
    echo "# load average at start: $(cut -d ' ' -f 1-3 /proc/loadavg)"
    "$bench" --device "$dev" --info
    echo "# openblas: $(pkg-config --modversion openblas 2>/dev/null || echo '?'); caller's $blas_env, unset for the run"
    if [ $jax = 1 ]; then "$py" "$root/tools/jax_scaling.py" --info; else echo "# jax: not importable ($py)"; fi
    echo "# rounds: $rounds, about ${t}s per point, sides alternating point by point (reversed in even rounds)"
    if [ -n "${SCALING_NOTE:-}" ]; then echo "# note: $SCALING_NOTE"; fi
    echo "round,kind,batch,size,impl,median,min,max,unit,chunks"
} >"$tmp"

# Each side is one long-lived process answering "IMPL KIND ARG" lines with CSV lines and ".":
# bench_scaling on fds 3 (requests) and 4 (answers), jax_scaling.py on 5 and 6.
: >"$log"
mkfifo "$fifo/c.in" "$fifo/c.out"
"$bench" --serve --device "$dev" --time "$t" <"$fifo/c.in" >"$fifo/c.out" 2>>"$log" &
pids="$pids $!"
exec 3>"$fifo/c.in" 4<"$fifo/c.out"
if [ $jax = 1 ]; then
    mkfifo "$fifo/j.in" "$fifo/j.out"
    "$py" "$root/tools/jax_scaling.py" --serve --time "$t" <"$fifo/j.in" >"$fifo/j.out" 2>>"$log" &
    pids="$pids $!"
    exec 5>"$fifo/j.in" 6<"$fifo/j.out"
fi

# One point on one side: its CSV lines, prefixed with the round, appended to the raw file.
side() { # round impl kind arg
    if [ "$2" = jax ]; then wfd=5 rfd=6; else wfd=3 rfd=4; fi
    echo "$2 $3 $4" >&$wfd
    got=0 answered=0
    while IFS= read -r line <&$rfd; do
        if [ "$line" = . ]; then answered=1; break; fi
        echo "$1,$line" >>"$tmp"
        got=1
    done
    if [ $answered = 0 ]; then
        echo "scaling: the $2 side stopped during $3 $4 (see $log)" >&2
        exit 1
    fi
    [ $got = 1 ] || echo "scaling: round $1: $2 $3 $4 gave no result (see $log)" >&2
    # a BLAS's or XLA's idle workers spin for a while after a call: let them settle before
    # the other side runs
    sleep 0.2
}

# batch sweep at W=256, width sweep at B=128 (W=256 is the batch sweep's B=128 point), GEMMs
points="mlp:32,256 mlp:64,256 mlp:128,256 mlp:256,256 mlp:512,256 mlp:1024,256
mlp:128,128 mlp:128,512 mlp:128,1024 mlp:128,2048 mlp:128,4096
gemm:256 gemm:512 gemm:1024 gemm:2048"
t0=$(date +%s)
r=1
while [ "$r" -le "$rounds" ]; do
    for p in $points; do
        kind=${p%%:*} arg=${p#*:}
        sides=clgrad
        [ "$kind" = gemm ] && [ $blas = 1 ] && sides="$sides openblas"
        [ $jax = 1 ] && sides="$sides jax"
        if [ $((r % 2)) = 0 ]; then sides=$(echo "$sides" | tr ' ' '\n' | sed -n '1!G;h;$p' | tr '\n' ' '); fi
        for s in $sides; do
            side "$r" "$s" "$kind" "$arg"
        done
    done
    echo "scaling: round $r of $rounds done ($(($(date +%s) - t0)) s)" >&2
    r=$((r + 1))
done
echo "# load average at end: $(cut -d ' ' -f 1-3 /proc/loadavg), $(($(date +%s) - t0)) s" >>"$tmp"
mv "$tmp" "$raw"
python3 "$root/tools/scaling_plot.py" "$raw" "$out/scaling.csv" "$svg"
echo "scaling: $raw, $out/scaling.csv, $svg" >&2
