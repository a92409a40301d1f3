#!/usr/bin/env bash
# bench/bench_generate.sh — text-to-image speed on a full-size random-weight Janus-Pro-1B:
# seconds per image for n = 1 and n = 4 (and 16 with N16=1), step-loop image tokens/s, VQ decode
# time and peak RSS from `janus bench`, next to the PyTorch CPU baseline of the same step loop
# (bench/torch/torch_llama_decode.py, Debian's python3-torch) in the same run.
#
# usage: bench/bench_generate.sh        env: TYPES="bf16 q8_0 q4_0" STEPS=24 THREADS=2 N16=0
# Steps are timed over STEPS image tokens and extrapolated to 576 (the per-step cost grows
# slowly with the context: attention is a few % of a step at 1B).
set -eu
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
TYPES="${TYPES:-bf16 q8_0 q4_0}"
STEPS="${STEPS:-24}"
THREADS="${THREADS:-$(nproc)}"
echo "== janus.c (threads $THREADS, $STEPS timed steps extrapolated to 576)"
for t in $TYPES; do
  m=$(ensure_gguf "$t")
  for n in 1 4 $( [ "${N16:-0}" = 1 ] && echo 16 ); do
    only=gen; [ "$n" = 1 ] && only=gen,vq
    printf "%-5s n=%-2s " "$t" "$n"
    "$JANUS" bench -m "$m" -t "$THREADS" -n "$n" --steps "$STEPS" --only "$only" 2>/dev/null
  done
done
echo "== PyTorch $("$PYTHON" -c 'import torch; print(torch.__version__)') CPU baseline, same step (threads $THREADS)"
for b in 2 8; do
  for dt in fp32 bf16; do
    "$PYTHON" "$here/torch/torch_llama_decode.py" --batch "$b" --dtype "$dt" --past 300 --steps 3 --reps 2 --threads "$THREADS"
  done
done
