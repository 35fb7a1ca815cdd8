#!/bin/sh
# adapt_table.sh — what pretraining buys with little labelled data: train the masked auto-encoder
# (or reuse ENCODER), then compare a new final layer on the frozen encoder, fine-tuning, the same
# network from scratch and a linear classifier on pixels, at --labels 1000 and with all labels.
# Usage: [CLIP_VECTORS=vectors.vec] tools/adapt_table.sh [BUILD_DIR] [ENCODER.safetensors]   (prints a Markdown table)
set -eu
build=${1:-build}
enc=${2:-}
out=$(mktemp -d)
if [ -z "$enc" ]; then
    enc="$out/mae.safetensors"
    "$build/clgrad" train mae --out "$enc" >"$out/mae.log"
fi
acc() { "$build/clgrad" adapt "$@" --out "$out/a.safetensors" | sed -n 's/^done: test accuracy \([0-9.]*\);.*/\1/p'; }
row() {
    name=$1; shift
    few=$(acc "$@" --labels 1000 --epochs 30)
    all=$(acc "$@" --epochs 10)
    echo "| $name | $few | $all |"
}
echo "| model | 1000 labels (30 epochs) | 60000 labels (10 epochs) |"
echo "| --- | --- | --- |"
row "new final layer on the frozen MAE encoder" --from "$enc" --mode probe
row "fine-tuned MAE encoder" --from "$enc" --mode finetune
row "same network from scratch" --from none
row "linear classifier on raw pixels" --from pixels
# CLIP-style row (set CLIP_VECTORS to word vectors from `clgrad train sgns`): every training image paired
# with a caption of its class, then test images classified by the nearest class text (zero-shot).
if [ -n "${CLIP_VECTORS:-}" ]; then
    "$build/clgrad" train clip --vectors "$CLIP_VECTORS" --out "$out/clip.safetensors" >"$out/clip.log"
    zs=$(sed -n 's/^done: zero-shot seen \([0-9.]*\) .*/\1/p' "$out/clip.log")
    echo "| CLIP-style, class texts as keys (captions of all 60000 images' classes) | — | $zs |"
fi
rm -rf "$out"
