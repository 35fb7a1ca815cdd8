#!/bin/sh
# dist-cli.sh MPIRUN CLGRAD — clgrad under `mpirun -n 2` as a user runs it, on synthetic MNIST-format
# data: a run trains and writes once (rank 0), a global batch the ranks do not divide is refused,
# simclr refuses several ranks, and a failure on one rank (a device spec that matches nothing, data
# that cannot be read) ends every rank with a non-zero status and a message naming the rank within
# seconds (timeout 60 turns a hang into a failure); bench reports the gradient exchange rows; train
# sgns writes its vectors once and refuses --resume across ranks.
set -u
MPIRUN=$1
CLGRAD=$2
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
run() { timeout 60 "$MPIRUN" --allow-run-as-root --oversubscribe "$@"; }
fail() { echo "FAIL: $*"; exit 1; }

python3 - "$T" <<'PY'
import struct, sys
d = sys.argv[1]
def write(split, n):
    with open(f"{d}/{split}-images-idx3-ubyte", "wb") as f:
        f.write(struct.pack(">IIII", 0x803, n, 28, 28))
        f.write(bytes(((i * 7 + p * 13) % 251) if p % 28 < (i % 10) * 2 + 4 else 0 for i in range(n) for p in range(784)))
    with open(f"{d}/{split}-labels-idx1-ubyte", "wb") as f:
        f.write(struct.pack(">II", 0x801, n))
        f.write(bytes(i % 10 for i in range(n)))
write("train", 512)
write("t10k", 128)
PY

# a run: one report, one set of outputs, same loss as one process
run -n 2 "$CLGRAD" train mlp --data "$T" --epochs 1 --batch 64 --out "$T/m2.safetensors" >"$T/out" 2>"$T/err" ||
    { cat "$T/out" "$T/err"; fail "mpirun -n 2 train mlp"; }
[ "$(grep -c '^epoch  1 ' "$T/out")" = 1 ] || { cat "$T/out"; fail "expected one report (rank 0's)"; }
[ -s "$T/m2.safetensors" ] && [ -s "$T/m2.csv" ] || fail "no checkpoint or log written"
"$CLGRAD" train mlp --data "$T" --epochs 1 --batch 64 --out "$T/m1.safetensors" >"$T/out1" 2>&1 || fail "one process"
l1=$(cut -d, -f2 "$T/m1.csv" | tail -n 1)
l2=$(cut -d, -f2 "$T/m2.csv" | tail -n 1)
python3 -c "import sys; a, b = float(sys.argv[1]), float(sys.argv[2]); sys.exit(abs(a - b) > 1e-4 * max(1, abs(a)))" "$l1" "$l2" ||
    fail "train loss of 2 ranks $l2 vs one process $l1"
echo "ok: 2 ranks train loss $l2, one process $l1"

# bench under mpirun: the gradient exchange rows of both models, positive and finite, once (rank 0)
run -n 2 "$CLGRAD" bench --quick --json "$T/b.json" >"$T/out" 2>"$T/err" || { cat "$T/out" "$T/err"; fail "mpirun -n 2 bench"; }
[ "$(grep -c 'MLP grads .* x2: exchange' "$T/out")" = 1 ] || { cat "$T/out"; fail "bench: expected one exchange row (rank 0's)"; }
python3 - "$T/b.json" <<'PY' || fail "bench --json rows"
import json, math, sys
m = {x["key"]: x for x in json.load(open(sys.argv[1]))["metrics"]}
for model in ("mlp", "mae"):
    for k in ("ms", "staging_ms", "mpi_ms", "algbw", "busbw", "mpi_busbw"):
        x = m[f"dist/{model}_grads_{k}"]
        assert x["status"] == "ok" and x["section"] == "distributed", x
        for v in (x["median"], x["min"], x["max"]):
            assert math.isfinite(v) and v > 0, x
print("ok: bench exchange rows:", ", ".join(f"{k} {m[k]['median']:.3g} {m[k]['unit']}" for k in ("dist/mlp_grads_ms", "dist/mae_grads_ms", "dist/mae_grads_busbw")))
PY

# errors every rank agrees on
run -n 2 "$CLGRAD" train mlp --data "$T" --epochs 1 --batch 63 --out "$T/x.safetensors" >"$T/out" 2>"$T/err" &&
    fail "--batch 63 over 2 ranks accepted"
grep -q "not a multiple of the 2 ranks" "$T/err" || { cat "$T/err"; fail "no message for --batch 63"; }
run -n 2 "$CLGRAD" train simclr --data "$T" --epochs 1 --out "$T/x.safetensors" >"$T/out" 2>"$T/err" &&
    fail "train simclr over 2 ranks accepted"
grep -q "run it as one process" "$T/err" || { cat "$T/err"; fail "no message for simclr"; }

# one rank fails: every rank ends, non-zero, quickly, naming the rank
check_fault() {
    what=$1
    shift
    t0=$(date +%s)
    run "$@" >"$T/out" 2>"$T/err"
    rc=$?
    dt=$(($(date +%s) - t0))
    [ "$rc" -ne 0 ] || fail "$what: exit status 0"
    [ "$rc" -ne 124 ] || fail "$what: hung (killed by timeout 60)"
    [ "$dt" -le 30 ] || fail "$what: took $dt s"
    grep -q "rank 1 of 2" "$T/err" || { cat "$T/err"; fail "$what: no message naming rank 1"; }
    echo "ok: $what: exit status $rc after ${dt} s"
}
check_fault "bad device on rank 1" -n 2 "$CLGRAD" train mlp --data "$T" --epochs 1 --batch 64 --device 0:0,9:9 \
    --out "$T/x.safetensors"
check_fault "unreadable data on rank 1" -n 1 "$CLGRAD" train mlp --data "$T" --epochs 1 --batch 64 \
    --out "$T/x.safetensors" : -n 1 "$CLGRAD" train mlp --data "$T/none" --epochs 1 --batch 64 --out "$T/x.safetensors"
[ ! -e "$T/x.safetensors" ] || fail "a failed run wrote its checkpoint"

# word vectors across ranks: one .vec (rank 0), one progress report; --resume refused
python3 -c "
import random
r = random.Random(3); w = 'king queen man woman red green blue crown rules the'.split()
open('$T/c.txt', 'w').write(''.join(' '.join(r.choice(w) for _ in range(8)) + '\n' for _ in range(600)))"
run -n 2 "$CLGRAD" train sgns --corpus "$T/c.txt" --out "$T/v.vec" --dim 16 --min-count 1 --epochs 2 --sync-words 500 \
    >"$T/out" 2>"$T/err" || { cat "$T/err"; fail "mpirun -n 2 train sgns"; }
[ "$(head -n 1 "$T/v.vec")" = "10 16" ] || fail "train sgns: no vectors written"
[ "$(grep -c '^sgns: 10 words x 16 dims, 2 ranks' "$T/err")" = 1 ] || { cat "$T/err"; fail "train sgns: expected one summary"; }
run -n 2 "$CLGRAD" train sgns --corpus "$T/c.txt" --out "$T/w.vec" --resume "$T/v.vec" >"$T/out" 2>"$T/err" &&
    fail "train sgns --resume across ranks accepted"
grep -q "does not run across ranks" "$T/err" || { cat "$T/err"; fail "no message for sgns --resume"; }
echo "ok: train sgns across 2 ranks"
echo "PASS"
