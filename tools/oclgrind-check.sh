#!/bin/sh
# oclgrind-check.sh — run op test suites on Oclgrind with race and memory checking; fail on any finding.
#
# usage: tools/oclgrind-check.sh [BUILD_DIR] [SUITE[:TEST_PATTERN] ...]
#
# Each entry runs build/tests/test_SUITE under `oclgrind --data-races --uninitialized` (Oclgrind
# simulates one GPU-type device: our GPU paths, local-memory kernels and CLBlast, run there), with
# only the cmocka tests matching TEST_PATTERN ('*' and '?') where one is given.  The run fails
# (exit 1) on a test failure, a timeout, or any Oclgrind report (out-of-bounds access, data race,
# uninitialized value, barrier divergence, ...) not listed in tests/oclgrind.supp.  Reports and
# test output of each entry are kept in $OCLGRIND_CHECK_LOGS (default BUILD_DIR/oclgrind-check).
# Then, where the Fashion-MNIST files are ($CLGRAD_DATA, default /usr/share/datasets/fashion-mnist),
# `clgrad train mlp --hidden 4000,4000` on the 128 MiB device must fail at planning, naming the
# size asked for and the size available, and write no file.
#
# With no SUITE given, the default subset below: about 7 minutes on this 2-core machine when quiet
# (measured: 119 s without elementwise, misc and io, which took 80 s, 2 s and 1 s), up to about
# 8 minutes with other jobs beside it; the whole op suite set takes about 40 minutes on the
# simulator.  Why these:
#   program, device        every program builds for the GPU-type device; GPU-only device lists;
#                          the kernel_stores path gives the driver's bits
#   reduce:test_sum, test_mean, test_*softmax*   the local-memory work-group reductions
#                          (clg_wg_sum) and row softmax; not the 2^20-term sums (test_sum_large,
#                          test_reduce_styles: 6 of reduce's 6.5 minutes)
#   loss, optim            the loss kernels' row reductions, the device-flagged bad label, and
#                          the Adam/SGD updates and clipping over the parameter arena
#   elementwise            activations, broadcasting ops and bias_act's fused column sums
#   misc, io               quick (1-2 s): the remaining small kernels; the file readers
#   graph:test_autodiff_*  the seeded backward pass through the pooled activations (fills,
#                          views of one buffer: where Oclgrind's bookkeeping needs our help)
#   graph:test_arena_*     parameter arenas (optimizer state in one buffer, params as views)
#   graph:test_plan_exceeds_device_memory   the 128 MiB device: plan too large, clear error
#   gemm:test_matmul_block the packed GEMM sized to the device's 32 KiB of local memory (it
#                          failed with CL_OUT_OF_RESOURCES before)
#   gemm:test_clblast      CLBlast, the GPU default GEMM, on its direct kernels
#   gemm:test_linear_matches_unfused, graph:test_fused_loss   the fusions of #17: the bias and
#                          relu in the GEMM kernels' stores (default, local, simple and tiled
#                          paths: 92 s), bias_act's backward from the output, and cross-entropy's
#                          gradient written by its forward (1 s)
#   random:test_augment*, models:test_nt_xent*, test_simclr_model, test_clip_model
#                          the contrastive models: on-device augmentation, NT-Xent, a SimCLR and a
#                          CLIP model's forward and training steps (about 2 minutes together; the
#                          SimCLR test first failed here: Oclgrind's GEMM broke the float ties of a
#                          tiny random network's parallel projections another way than PoCL did,
#                          and the test's reference now counts such near-ties either way)
# Left out for time (each passed with no unsuppressed finding when run whole here): the rest of
# reduce and graph (6-7 min each), models (3 min), random (2-3 min), embed (4 min), gemm
# (13 min) and sgns (4 min; its Hogwild races, suppressed, pass the report cap, see
# OCLGRIND_CHECK_MAX_ERRORS).
#
# Environment: OCLGRIND (default: oclgrind), OCLGRIND_CHECK_TIMEOUT (seconds per entry, default
# 600), OCLGRIND_CHECK_MAX_ERRORS (Oclgrind's report cap, default 100000; reaching it counts as a
# finding, since what lies past it is unknown: sgns's intended races pass it), OCLGRIND_CHECK_LOGS.
# Needs python3 (it parses Oclgrind's reports).
set -u

here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build}
[ $# -gt 0 ] && shift
case $build in /*) ;; *) build=$here/$build ;; esac
if [ $# -eq 0 ]; then
    set -- program device reduce:test_sum reduce:test_mean 'reduce:test_*softmax*' loss optim \
        elementwise misc io 'graph:test_autodiff_*' 'graph:test_arena_*' \
        graph:test_plan_exceeds_device_memory graph:test_fused_loss gemm:test_matmul_block gemm:test_clblast \
        gemm:test_linear_matches_unfused \
        'random:test_augment*' 'models:test_nt_xent*' models:test_simclr_model models:test_clip_model
fi
oclgrind=${OCLGRIND:-oclgrind}
limit=${OCLGRIND_CHECK_TIMEOUT:-600}
max_errors=${OCLGRIND_CHECK_MAX_ERRORS:-100000}
logs=${OCLGRIND_CHECK_LOGS:-$build/oclgrind-check}
supp=$here/tests/oclgrind.supp

if ! command -v "$oclgrind" >/dev/null 2>&1; then
    echo "oclgrind-check: '$oclgrind' not found (Debian: apt-get install oclgrind)" >&2
    exit 1
fi
mkdir -p "$logs" || exit 1
cache=$(mktemp -d "${TMPDIR:-/tmp}/clgrad-oclgrind-cache.XXXXXX") || exit 1
trap 'rm -rf "$cache"' EXIT INT TERM

status=0
total_start=$(date +%s)
for entry in "$@"; do
    suite=${entry%%:*}
    pattern=
    [ "$suite" != "$entry" ] && pattern=${entry#*:}
    exe=$build/tests/test_$suite
    tag=$(printf '%s' "$entry" | tr -c 'A-Za-z0-9_.-' '_')
    if [ ! -x "$exe" ]; then
        echo "oclgrind-check: $exe not built" >&2
        status=1
        continue
    fi
    start=$(date +%s)
    rm -f "$logs/$tag.oclgrind"
    # Oclgrind replaces the platform list with its own device; -cl-opt-disable because its
    # interpreter does not know LLVM's freeze instruction ("Unsupported instruction: freeze");
    # CI unset: the harness wants two devices under CI=true; a fresh binary cache per run.
    env -u CI CLGRAD_TEST_DEVICES=Oclgrind CLGRAD_BUILD_OPTIONS=-cl-opt-disable CLGRAD_CL_DIR= \
        CLGRAD_CACHE_DIR="$cache" CLGRAD_TEST_FILTER="$pattern" \
        timeout "$limit" "$oclgrind" --data-races --uninitialized --max-errors "$max_errors" \
        --log "$logs/$tag.oclgrind" "$exe" >"$logs/$tag.out" 2>&1
    rc=$?
    secs=$(( $(date +%s) - start ))
    summary=$(python3 - "$logs/$tag.oclgrind" "$supp" <<'EOF'
import sys

log_path, supp_path = sys.argv[1], sys.argv[2]
supp = []
with open(supp_path) as f:
    for line in f:
        line = line.strip()
        if line and not line.startswith("#"):
            parts = [p.strip() for p in line.split("|", 2)]
            if len(parts) != 3:
                sys.exit("oclgrind-check: bad line in %s: %s" % (supp_path, line))
            supp.append(parts)
try:
    text = open(log_path, errors="replace").read()
except FileNotFoundError:
    text = ""
found = suppressed = 0
shown = []
for block in text.split("\n\n"):
    lines = [l for l in block.split("\n") if l.strip()]
    if not lines:
        continue
    head = lines[0]
    if head.startswith("Oclgrind:"):  # e.g. "1000 errors generated - suppressing further errors"
        found += 1
        shown.append(block.strip())
        continue
    kernel = next((l.split("Kernel:", 1)[1].strip() for l in lines if l.strip().startswith("Kernel:")), "")
    instr = " ".join(l.strip() for l in lines[1:])
    if any(head.startswith(m) and kernel == k and s in instr for m, k, s in supp):
        suppressed += 1
        continue
    found += 1
    if len(shown) < 5:
        shown.append(block.strip())
print("%d %d" % (found, suppressed))
for b in shown:
    print(b)
    print()
EOF
)
    found=$(printf '%s\n' "$summary" | head -n 1 | cut -d' ' -f1)
    suppressed=$(printf '%s\n' "$summary" | head -n 1 | cut -d' ' -f2)
    verdict=ok
    if [ "$rc" -eq 124 ]; then
        verdict="TIMEOUT after ${limit}s"
    elif [ "$rc" -ne 0 ]; then
        verdict="TESTS FAILED (exit $rc)"
    elif ! grep -q '^\[==========\] [1-9][0-9]* test(s) run' "$logs/$tag.out"; then
        verdict="NO TEST RAN (pattern '$pattern'?)"
    fi
    if [ -z "$found" ]; then
        verdict="$verdict; REPORT PARSING FAILED"
        found=1
    elif [ "$found" -gt 0 ]; then
        verdict="$verdict; $found UNSUPPRESSED FINDING(S)"
    fi
    printf 'oclgrind-check: %-45s %4ss  findings %s (suppressed %s)  %s\n' "$entry" "$secs" "$found" \
        "${suppressed:-0}" "$verdict"
    if [ "$verdict" != ok ]; then
        status=1
        grep -E '^\[  (FAILED|ERROR) |^ERROR:|^\[   LINE' "$logs/$tag.out" | head -n 20
        printf '%s\n' "$summary" | tail -n +2 | head -n 60
        echo "  (full output: $logs/$tag.out, reports: $logs/$tag.oclgrind)"
    fi
done
# The out-of-device-memory path for real: an MLP whose plan (305 MiB with Adam) exceeds the
# simulated 128 MiB must stop at planning with the sizes asked for and available, writing nothing.
data=${CLGRAD_DATA:-/usr/share/datasets/fashion-mnist}
if [ -x "$build/clgrad" ] && [ -d "$data" ]; then
    out=$(mktemp -d "${TMPDIR:-/tmp}/clgrad-oclgrind-oom.XXXXXX") || exit 1
    env -u CI CLGRAD_BUILD_OPTIONS=-cl-opt-disable CLGRAD_CACHE_DIR="$cache" timeout "$limit" "$oclgrind" \
        "$build/clgrad" train mlp --data "$data" --hidden 4000,4000 --device Oclgrind --train-limit 256 --epochs 1 \
        --out "$out/m.safetensors" >"$logs/cli-oom.out" 2>&1
    rc=$?
    left=$(ls -A "$out")
    rm -rf "$out"
    if [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && grep -q 'needs [0-9]* bytes.*has 134217728 bytes (128.0 MiB) of global memory' \
        "$logs/cli-oom.out" && [ -z "$left" ]; then
        echo "oclgrind-check: cli: model over device memory                     clear error, nothing written  ok"
    else
        echo "oclgrind-check: cli: model over device memory: exit $rc, files left: '${left}'  FAILED"
        cat "$logs/cli-oom.out"
        status=1
    fi
else
    echo "oclgrind-check: cli: model over device memory: skipped (no $build/clgrad or no data in $data)"
fi
echo "oclgrind-check: $# entries in $(( $(date +%s) - total_start ))s: $([ $status -eq 0 ] && echo passed || echo FAILED)"
exit $status
