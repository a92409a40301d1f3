#!/usr/bin/env bash
# bench/bench_understand.sh — image question answering speed on a full-size random-weight
# Janus-Pro-1B: image encode (SigLIP-L + aligner), prefill tokens/s (600 tokens: one image plus a
# short question), decode tokens/s and peak RSS from `janus bench`, next to the PyTorch CPU
# baselines of SigLIP (bench/torch/torch_siglip.py) and of one LM step (torch_llama_decode.py,
# batch 1) in the same run.
#
# usage: bench/bench_understand.sh      env: TYPES="bf16 q8_0 q4_0" THREADS=2
set -eu
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
TYPES="${TYPES:-bf16 q8_0 q4_0}"
THREADS="${THREADS:-$(nproc)}"
echo "== janus.c (threads $THREADS)"
for t in $TYPES; do
  m=$(ensure_gguf "$t")
  printf "%-5s " "$t"
  "$JANUS" bench -m "$m" -t "$THREADS" --only vision,text --prefill 600 --decode 16 2>/dev/null
done
echo "== PyTorch $("$PYTHON" -c 'import torch; print(torch.__version__)') CPU baselines (threads $THREADS)"
# SigLIP in fp32 (bf16 on CPU is slower still); the LM step script needs an even batch (CFG pairs):
# its batch-2 step is an upper bound for one text row (it uses the 16384-row gen head where text
# decoding uses the 102400-row lm_head).
"$PYTHON" "$here/torch/torch_siglip.py" --dtype fp32 --reps 1 --threads "$THREADS"
for dt in fp32 bf16; do
  "$PYTHON" "$here/torch/torch_llama_decode.py" --batch 2 --dtype "$dt" --past 600 --steps 3 --reps 2 --threads "$THREADS"
done
