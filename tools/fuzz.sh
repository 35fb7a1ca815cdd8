#!/usr/bin/env bash
# fuzz.sh — build the libFuzzer harnesses of tests/fuzz with clang and run each for a bounded time.
#
#   tools/fuzz.sh [SECONDS [HARNESS...]]      e.g. tools/fuzz.sh 30,  tools/fuzz.sh 600 vec
#
# Harnesses: idx safetensors vec gcide tune captions (all by default), run one after the other on one core each.
# Each builds straight from the reader's sources (no meson, no OpenCL driver needed):
#   clang -fsanitize=fuzzer,address,undefined, UBSan fatal, libFuzzer's leak check on.
# Seeds come from tests/fuzz/corpus/<name>/ (never modified); new inputs go to $FUZZ_OUT/corpus/<name>/.
# A crash, leak, timeout (one input > 10 s) or out-of-memory (> 2 GiB) saves its reproducer as
# $FUZZ_OUT/crashes/<name>/crash-… (or leak-, timeout-, oom-) and makes the script exit 1 after the
# other harnesses ran.  Reproduce one with: $FUZZ_OUT/fuzz_<name> $FUZZ_OUT/crashes/<name>/crash-…
# Environment: CLANG (default clang), FUZZ_OUT (default build-fuzz), FUZZ_ARGS (more libFuzzer flags).
set -euo pipefail
cd "$(dirname "$0")/.."

secs=${1:-30}
shift || true
if ! [[ "$secs" =~ ^[1-9][0-9]*$ ]]; then
    echo "fuzz.sh: SECONDS must be a positive integer, got '$secs'" >&2
    exit 2
fi
all=(idx safetensors vec gcide tune captions launches)
names=("$@")
[ ${#names[@]} -gt 0 ] || names=("${all[@]}")

CLANG=${CLANG:-clang}
out=${FUZZ_OUT:-build-fuzz}
command -v "$CLANG" >/dev/null || { echo "fuzz.sh: $CLANG not found (Debian: apt-get install clang libclang-rt-dev)" >&2; exit 2; }

cflags=(-g -O1 -std=gnu11 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
        -fno-omit-frame-pointer -Wall -Wextra -Wno-unused-parameter -Werror
        -D_GNU_SOURCE -DCL_TARGET_OPENCL_VERSION=120 -DCL_USE_DEPRECATED_OPENCL_1_2_APIS
        -Iinclude -Isrc -Itools/clgrad -Itests/fuzz)
lib=(src/status.c src/io_file.c)
# the IDX reader's one-call gzip path (src/io_idx.c), where meson would build it too
deflate=
pkg-config --exists libdeflate 2>/dev/null && deflate="-DCLG_HAVE_LIBDEFLATE $(pkg-config --libs libdeflate)"

sources() {
    case "$1" in
    idx) echo src/io_idx.c "${lib[@]}" -lz $deflate ;;
    safetensors) echo src/io_safetensors.c "${lib[@]}" -ljansson -lm ;;
    vec) echo src/io_vec.c "${lib[@]}" -lm ;;
    gcide) echo tools/clgrad/gcide.c -lz ;;
    tune) echo src/tune.c "${lib[@]}" ;;
    captions) echo tools/clgrad/captions.c tools/clgrad/gcide.c src/io_vec.c "${lib[@]}" -lz -lm ;;
    launches) echo src/launch_list.c "${lib[@]}" -lOpenCL ;;
    *) return 1 ;;
    esac
}

mkdir -p "$out"
# src/internal.h includes the generated clg_kernels.h (program and kernel ids; the targets use
# none of them, so the files' order here does not matter: meson's cl_files list sets it in builds)
python3 tools/embed_cl.py "$out/cl_sources.c" "$out/clg_kernels.h" cl/*.cl
cflags+=(-I"$out")
failed=()
for n in "${names[@]}"; do
    if ! src=$(sources "$n"); then
        echo "fuzz.sh: unknown harness '$n' (known: ${all[*]})" >&2
        exit 2
    fi
    exe="$out/fuzz_$n"
    echo "== fuzz_$n: build"
    # shellcheck disable=SC2086
    "$CLANG" "${cflags[@]}" "tests/fuzz/fuzz_$n.c" $src -o "$exe"
    mkdir -p "$out/corpus/$n" "$out/crashes/$n"
    dict=()
    [ -f "tests/fuzz/$n.dict" ] && dict=(-dict="tests/fuzz/$n.dict")
    echo "== fuzz_$n: ${secs} s"
    # shellcheck disable=SC2086
    if ! "$exe" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=16384 -print_final_stats=1 \
            "${dict[@]}" -artifact_prefix="$out/crashes/$n/" ${FUZZ_ARGS:-} \
            "$out/corpus/$n" "tests/fuzz/corpus/$n" >"$out/fuzz_$n.log" 2>&1; then
        failed+=("$n")
        tail -n 60 "$out/fuzz_$n.log"
        echo "fuzz.sh: fuzz_$n FAILED; reproducer(s):" >&2
        ls -1 "$out/crashes/$n" >&2 || true
    fi
    grep -E '^(#[0-9]+[[:space:]]+DONE|stat::number_of_executed_units|stat::average_exec_per_sec|Done )' "$out/fuzz_$n.log" || true
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz.sh: crashes in: ${failed[*]} (reproducers under $out/crashes/)" >&2
    exit 1
fi
echo "fuzz.sh: no crash in ${names[*]} (${secs} s each)"
