#!/bin/sh
# coldstart.sh — wall time of clgrad commands cold (empty kernel caches) and warm (the same caches, second run).
#
# usage: tools/coldstart.sh [-r ROUNDS] [--meson-test] [BUILD_DIR] ['clgrad ARGS' ...]
#
# Each round, for each command: a fresh, empty POCL_CACHE_DIR, CLGRAD_CACHE_DIR, MESA_SHADER_CACHE_DIR
# and XDG_CACHE_HOME (temp folders), the command run once (cold), then again with the same folders
# (warm); rounds alternate cold and warm runs so that drift in the machine's load hits both alike.
# Prints per command the median cold and warm seconds and their difference (what the caches save;
# `clgrad bench` reports the part of it before the first MLP step as "time to first MLP step").
# A command is a string whose first word `clgrad` means BUILD_DIR/clgrad; default commands:
#   clgrad train mlp --epochs 1 --device 0:0
#   clgrad train mae --epochs 1 --train-limit 10000
#   clgrad bench --quick --device 0:0
# --meson-test: the one command `meson test -C BUILD_DIR` instead (the whole test suite cold and warm;
# default 1 round).  Commands run in a temp folder (their outputs land there, never over your files);
# their logs are kept in a temp folder whose name is printed.  Timings are of a shared machine:
# compare medians of several rounds, run on a quiet machine for numbers to report.
set -eu

rounds=
meson_mode=0
while [ $# -gt 0 ]; do
    case $1 in
    -r|--rounds) [ $# -ge 2 ] || { echo "coldstart.sh: $1 needs a number" >&2; exit 2; }
        rounds=$2; shift 2 ;;
    --meson-test) meson_mode=1; shift ;;
    -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    --) shift; break ;;
    -*) echo "coldstart.sh: unknown option $1" >&2; exit 2 ;;
    *) break ;;
    esac
done
build=${1:-build}
[ $# -gt 0 ] && shift
case ${rounds:=$([ $meson_mode = 1 ] && echo 1 || echo 3)} in
''|*[!0-9]*|0) echo "coldstart.sh: rounds must be a positive integer, got '$rounds'" >&2; exit 2 ;;
esac
[ -x "$build/clgrad" ] || { echo "coldstart.sh: no $build/clgrad (build first: meson setup $build && ninja -C $build)" >&2; exit 2; }
build=$(cd "$build" && pwd)

work=$(mktemp -d "${TMPDIR:-/tmp}/clgrad-coldstart.XXXXXX")
logs=$(mktemp -d "${TMPDIR:-/tmp}/clgrad-coldstart-logs.XXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'rm -rf "$logs"; exit 130' INT
trap 'rm -rf "$logs"; exit 143' TERM

if [ $meson_mode = 1 ]; then
    set -- "meson test -C '$build'"
elif [ $# -eq 0 ]; then
    set -- "clgrad train mlp --epochs 1 --device 0:0" "clgrad train mae --epochs 1 --train-limit 10000" \
        "clgrad bench --quick --device 0:0"
fi

now() { date +%s.%N; }

# run I ROUND KIND CMD: one timed run of command I in its cache folders; appends its seconds to
# $work/tI.KIND (or "fail" when it exits non-zero, its log kept).  POSIX sh has no locals: _names.
run() {
    _i=$1 _r=$2 _kind=$3 _cmd=$4
    _c=$work/c$_i.r$_r
    mkdir -p "$_c/pocl" "$_c/clgrad" "$_c/mesa" "$_c/xdg" "$_c/cwd"
    case $_cmd in clgrad\ *) _cmd="$build/$_cmd" ;; esac
    _log=$logs/cmd$_i.round$_r.$_kind.log
    _t0=$(now)
    if (cd "$_c/cwd" && POCL_CACHE_DIR=$_c/pocl CLGRAD_CACHE_DIR=$_c/clgrad MESA_SHADER_CACHE_DIR=$_c/mesa \
        XDG_CACHE_HOME=$_c/xdg sh -c "$_cmd") >"$_log" 2>&1; then
        _t1=$(now)
        echo "$_t0 $_t1" | awk '{ printf "%.3f\n", $2 - $1 }' >>"$work/t$_i.$_kind"
    else
        echo "coldstart.sh: command $_i ($_kind, round $_r) failed, see $_log" >&2
        echo fail >>"$work/t$_i.$_kind"
    fi
}

# median FILE: the median of its numbers, "fail" if any run failed
median() {
    if grep -q fail "$1"; then echo fail; return; fi
    sort -g "$1" | awk '{ v[NR] = $1 } END { printf "%.2f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

n=$#
r=1
while [ $r -le "$rounds" ]; do
    i=1
    for cmd in "$@"; do
        echo "round $r/$rounds: [$i/$n] $cmd" >&2
        run "$i" "$r" cold "$cmd"
        run "$i" "$r" warm "$cmd"
        rm -rf "$work/c$i.r$r"
        i=$((i + 1))
    done
    r=$((r + 1))
done

printf '\n%-8s %-8s %-9s  %s   (seconds, medians of %d rounds; logs in %s)\n' cold warm cold-warm command \
    "$rounds" "$logs"
i=1
for cmd in "$@"; do
    c=$(median "$work/t$i.cold")
    w=$(median "$work/t$i.warm")
    d=$(echo "$c $w" | awk '$1 == "fail" || $2 == "fail" { print "-"; next } { printf "%.2f", $1 - $2 }')
    printf '%-8s %-8s %-9s  %s\n' "$c" "$w" "$d" "$cmd"
    i=$((i + 1))
done
