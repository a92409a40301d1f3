#!/usr/bin/env bash
# bench/bench_caption.sh — `janus caption` throughput (images/min) on a full-size random-weight
# Janus-Pro-1B with fixed-length captions (random weights rarely end a sentence, so every caption
# runs to --max-tokens) for --batch 1, 4, 8; next to a loop of `janus ask` calls (the model loaded
# each time) and, where PyTorch is installed, its CPU baseline of the same work composed from
# bench/torch/ (SigLIP encode + decode steps; its prefill is not measured there). Each caption run
# reports its own encode + prefill time (janus caption -v), so "time per image / (encode +
# prefill per image)" shows how close batched decoding comes to free.
#
# usage: bench/bench_caption.sh
# env:   TYPES="q4_0 q8_0" BATCHES="1 4 8" N_IMAGES=8 TOKENS=64 N_ASK=2 THREADS=$(nproc)
#        BENCH_WORK=DIR  where the random checkpoint and its GGUFs live [bench/work]
#        MODEL=FILE      time this model instead (TYPES then only labels the rows)
set -eu
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
if [ -n "${BENCH_WORK:-}" ]; then work=$BENCH_WORK; ckpt=$work/janus-pro-1b-random; fi
TYPES="${TYPES:-q4_0 q8_0}"
BATCHES="${BATCHES:-1 4 8}"
N_IMAGES="${N_IMAGES:-8}"
TOKENS="${TOKENS:-64}"
N_ASK="${N_ASK:-2}"
THREADS="${THREADS:-$(nproc)}"
PROMPT="Describe this image in detail."
tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench-caption.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# N_IMAGES different 384x384 noise PNGs (content does not change the cost)
"$PYTHON" - "$tmp/images" "$N_IMAGES" <<'PY'
import os, random, struct, sys, zlib
out, n = sys.argv[1], int(sys.argv[2])
os.makedirs(out, exist_ok=True)
chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
for i in range(n):
    rnd = random.Random(i)
    raw = b"".join(b"\0" + bytes(rnd.getrandbits(8) for _ in range(384 * 3)) for _ in range(384))
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 384, 384, 8, 2, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(raw, 1)) + chunk(b"IEND", b"")
    open(os.path.join(out, "img%03d.png" % i), "wb").write(png)
PY

# A checkpoint made before make_random_checkpoint.py numbered its added tokens without a hole
# encodes <image_placeholder> as another id than its GGUF says, and every image question fails.
caption_gguf() { # TYPE -> path of the random model, checked to encode <image_placeholder> as its GGUF says
  local m; m=$(ensure_gguf "$1")
  if [ "$("$JANUS" tokenize -m "$m" "<image_placeholder>")" != 100581 ]; then
    echo "$m: made by an older make_random_checkpoint.py (added-token ids with a hole); delete $ckpt and its GGUFs to remake them" >&2
    exit 2
  fi
  echo "$m"
}
echo "== janus caption: $N_IMAGES images, $TOKENS-token captions, threads $THREADS ($(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg))"
printf "| %-5s | %-10s | %10s | %9s | %15s | %8s | %12s |\n" type run images/min s/image "encode+prefill" ratio "decode step"
printf "|-------|------------|------------|-----------|-----------------|----------|--------------|\n"
for t in $TYPES; do
  if [ -n "${MODEL:-}" ]; then m=$MODEL; else m=$(caption_gguf "$t"); fi
  for b in $BATCHES; do
    "$JANUS" caption -m "$m" "$tmp/images" -n "$TOKENS" -b "$b" -t "$THREADS" -q -v -o "$tmp/out.jsonl" --force \
      2> "$tmp/stats.txt" || { cat "$tmp/stats.txt" >&2; exit 1; }
    stats=$(grep '^{' "$tmp/stats.txt" | tail -1)
    # time per image against its own encode + prefill, and the seconds of one decode step (all rows)
    "$PYTHON" -c 'import json, sys; s, t, b = json.loads(sys.argv[1]), sys.argv[2], int(sys.argv[3])
n, secs = s["items"], s["seconds"]; ep = (s["encode_s"] + s["prefill_s"]) / n
steps = max(1.0, s["tokens_decoded"] / min(b, n))
print("| %-5s | batch %-4d | %10.2f | %9.2f | %13.2f s | %7.2fx | %10.3f s |" % (t, b, 60 * n / secs, secs / n, ep, (secs / n) / ep, s["decode_s"] / steps))' "$stats" "$t" "$b"
  done
  # the one-shot way: one process per image, the model loaded each time
  t0=$(date +%s%N)
  for i in $(seq 0 $((N_ASK - 1))); do
    "$JANUS" ask -m "$m" -t "$THREADS" -n "$TOKENS" --image "$(printf '%s/images/img%03d.png' "$tmp" "$i")" "$PROMPT" >/dev/null 2>&1
  done
  t1=$(date +%s%N)
  "$PYTHON" -c 'import sys; n,s,t=int(sys.argv[1]),float(sys.argv[2]),sys.argv[3]
print("| %-5s | ask loop   | %10.2f | %9.2f | %15s | %8s | %12s |" % (t, 60*n/s, s/n, "-", "-", "-"))' "$N_ASK" "$(( (t1 - t0) / 1000000 ))e-3" "$t"
done

if "$PYTHON" -c 'import torch' 2>/dev/null; then
  echo "== PyTorch CPU baseline (threads $THREADS): per image one SigLIP encode + $TOKENS decode steps at past 600"
  "$PYTHON" "$here/torch/torch_siglip.py" --dtype fp32 --reps 1 --threads "$THREADS"
  "$PYTHON" "$here/torch/torch_llama_decode.py" --batch 2 --dtype fp32 --past 600 --steps 3 --reps 2 --threads "$THREADS"
else
  echo "== PyTorch baseline skipped: python3 has no torch here (bench/torch/ needs it)"
fi
