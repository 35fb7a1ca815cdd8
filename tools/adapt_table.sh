#!/bin/sh
# adapt_table.sh — what pretraining buys with little labelled data: train the masked auto-encoder
# (or reuse given encoders), then compare a new final layer on each frozen encoder, fine-tuning it,
# the same network from scratch and a linear classifier on pixels: 1000 labels, 30 epochs at batch 32,
# and all 60000 labels, 30 epochs at batch 128 (Adam, lr 1e-3, constant; seed 1).
# Usage: [CLIP_VECTORS=vectors.vec] tools/adapt_table.sh [--rows-only] [BUILD_DIR]
#            [ENCODER.safetensors | NAME=ENCODER.safetensors ...]
#   A bare path is NAME=MAE; each NAME=FILE gives the rows "... frozen NAME encoder" and
#   "fine-tuned NAME encoder" (e.g. "plain AE=ae.safetensors" "denoising AE (σ 0.3)=dae.safetensors").
#   --rows-only prints only the encoders' rows: no header, no scratch and pixel rows.
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
row() {
    name=$1; shift
    few=$(acc "$@" --labels 1000 --epochs 30 --batch 32)
    all=$(acc "$@" --epochs 30)
    echo "| $name | $few | $all |"
}
if [ $rows_only = 0 ]; then
    echo "| model | 1000 labels (batch 32, 30 epochs) | 60000 labels (batch 128, 30 epochs) |"
    echo "| --- | --- | --- |"
fi
for e in "$@"; do
    case $e in
    *=*) ename=${e%%=*} enc=${e#*=} ;;
    *) ename=MAE enc=$e ;;
    esac
    row "new final layer on the frozen $ename encoder" --from "$enc" --mode probe
    row "fine-tuned $ename encoder" --from "$enc" --mode finetune
done
if [ $rows_only = 0 ]; then
    row "same network from scratch" --from none
    row "linear classifier on raw pixels" --from pixels
fi
# CLIP-style row: every training image paired with a caption of its class, then test images
# classified by the nearest class text (zero-shot, no labels at test time).
if [ $rows_only = 0 ] && [ -n "${CLIP_VECTORS:-}" ]; then
    "$build/clgrad" train clip --vectors "$CLIP_VECTORS" --out "$out/clip.safetensors" >"$out/clip.log"
    zs=$(sed -n 's/^done: zero-shot seen \([0-9.]*\) .*/\1/p' "$out/clip.log")
    echo "| CLIP-style, class texts as keys (captions of all 60000 images' classes) | — | $zs |"
fi
rm -rf "$out"
