#!/bin/sh
# adapt_table.sh — what pretraining buys with little labelled data: train the masked auto-encoder
# (or reuse given encoders), then compare a new final layer on each frozen encoder, fine-tuning it,
# the same network from scratch and a linear classifier on pixels: 1000 labels, 30 epochs at batch 32,
# and all 60000 labels, 30 epochs at batch 128 (Adam, lr 1e-3, constant; seed 1).
# Usage: [CLIP_VECTORS=vectors.vec] tools/adapt_table.sh [--rows-only] [BUILD_DIR]
#            [ENCODER.safetensors | NAME=ENCODER.safetensors ...]
#   A bare path is NAME=MAE; each NAME=FILE gives a row NAME: the probe (a new final layer on the
#   frozen codes) and fine-tuning, each at 1000 and 60000 labels (e.g. "plain AE=ae.safetensors").
#   --rows-only prints only the encoders' rows: no header, no scratch, pixel and CLIP rows.
#   CLIP_VECTORS (word vectors from `clgrad train sgns` on GCIDE) adds the CLIP-style zero-shot row.
#   Prints a Markdown table.
set -eu
rows_only=0
if [ "${1:-}" = "--rows-only" ]; then
    rows_only=1
    shift
fi
build=${1:-build}
[ $# -gt 0 ] && shift
out=$(mktemp -d)
if [ $# -eq 0 ]; then
    "$build/clgrad" train mae --out "$out/mae.safetensors" >"$out/mae.log"
    set -- "MAE=$out/mae.safetensors"
fi
acc() { "$build/clgrad" adapt "$@" --out "$out/a.safetensors" | sed -n 's/^done: test accuracy \([0-9.]*\);.*/\1/p'; }
few() { acc "$@" --labels 1000 --epochs 30 --batch 32; }
all() { acc "$@" --epochs 30; }
if [ $rows_only = 0 ]; then
    echo "| encoder | probe, 1000 labels | probe, 60000 | fine-tuned, 1000 | fine-tuned, 60000 |"
    echo "| --- | --- | --- | --- | --- |"
fi
# probe: a new final layer on the frozen codes; fine-tuned: the encoder trained too
for e in "$@"; do
    case $e in
    *=*) ename=${e%%=*} enc=${e#*=} ;;
    *) ename=MAE enc=$e ;;
    esac
    p1=$(few --from "$enc" --mode probe)
    p6=$(all --from "$enc" --mode probe)
    f1=$(few --from "$enc" --mode finetune)
    f6=$(all --from "$enc" --mode finetune)
    echo "| $ename | $p1 | $p6 | $f1 | $f6 |"
done
if [ $rows_only = 0 ]; then
    echo "| none: the same network from scratch | — | — | $(few --from none) | $(all --from none) |"
    echo "| none: a linear classifier on raw pixels | $(few --from pixels) | $(all --from pixels) | — | — |"
fi
# CLIP-style row: every training image paired with a caption of its class, then test images
# classified by the nearest class text (zero-shot: no labels at test time).
if [ $rows_only = 0 ] && [ -n "${CLIP_VECTORS:-}" ]; then
    "$build/clgrad" train clip --vectors "$CLIP_VECTORS" --out "$out/clip.safetensors" >"$out/clip.log"
    zs=$(sed -n 's/^done: zero-shot seen \([0-9.]*\) .*/\1/p' "$out/clip.log")
    echo "| CLIP-style image encoder, zero-shot by class texts (trained on 60000 captions) | — | $zs | — | — |"
fi
rm -rf "$out"
