#!/usr/bin/env bash
# bench/bench_all.sh — every CPU speed figure of issue #9 in one run, written as one markdown table:
# the machine's floors (read bandwidth, f32 FMA peak: bench_ops), `janus bench` on a full-size
# random-weight Janus-Pro-1B at q4_0 and q8_0 (SigLIP + aligner, text prefill and decode, the CFG
# step loop at n = 1 and 4, VQ decode, peak RSS), the step loop on each forced ISA path
# (JANUS_CPU_ISA), the kernel table of bench_ops, and, when available, llama.cpp and PyTorch.
#
# usage: bench/bench_all.sh [OUT.md]       (default bench/work/results.md; also printed)
# env:   THREADS=2  STEPS=24 (timed image steps, extrapolated to 576 by janus bench)
#        BENCH_DATA=dir holding the random checkpoint and its GGUFs (made here if missing;
#          default bench/work; /work/bench-data on the shared dev machine)
#        LLAMA_BIN=dir of an existing llama.cpp build (llama-bench inside) and LLAMA_MODEL=a
#          llama-architecture GGUF of the same LM shape: adds llama.cpp's prefill/decode rows
#          (this repository never builds or downloads llama.cpp)
#        PyTorch rows are added when python3 can import torch (bench/torch/*.py).
# The machine may be shared: each figure is one run; run twice and compare to see the noise.
set -eu
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
THREADS="${THREADS:-2}"
STEPS="${STEPS:-24}"
OUT="${1:-$work/results.md}"
OPS="${BENCH_OPS:-$root/build/bench/bench_ops}"
[ -x "$OPS" ] || { echo "no bench_ops at $OPS (build first, or set BENCH_OPS=)" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# one `janus bench` run; prints its JSON line
jb() { "$JANUS" bench -t "$THREADS" --steps "$STEPS" "$@" 2>/dev/null | grep '^{'; }

{
  echo "# janus.c CPU benchmark"
  echo
  echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) CPUs, threads $THREADS, load before start $(cut -d' ' -f1-3 /proc/loadavg)"
  echo
  "$OPS" --threads "$THREADS" --what machine
} > "$tmp/head.md"

for t in q4_0 q8_0; do
  m=$(ensure_gguf "$t")
  jb -m "$m" -n 1 > "$tmp/$t.n1.json"
  jb -m "$m" -n 4 --only gen > "$tmp/$t.n4.json"
  for isa in avx512 avx2 scalar; do
    s=$STEPS; [ $isa = scalar ] && s=4
    JANUS_CPU_ISA=$isa "$JANUS" bench -t "$THREADS" --steps $s -m "$m" -n 1 --only gen 2>/dev/null | grep '^{' > "$tmp/$t.$isa.json" || true
  done
  JANUS_CPU_ISA=avx512 "$JANUS" bench -t 1 --steps "$STEPS" -m "$m" -n 1 --only gen 2>/dev/null | grep '^{' > "$tmp/$t.t1.json" || true
done

"$PYTHON" - "$tmp" > "$tmp/janus.md" <<'PY'
import json, os, sys
d = sys.argv[1]
def j(name):
    p = os.path.join(d, name)
    try:
        return json.loads(open(p).read().strip().splitlines()[-1])
    except Exception:
        return None
def f(v, fmt):
    return "–" if v is None else fmt % v
rows = [("image step loop n=1, ms per CFG step", "n1", lambda r: r["gen_step_s"] * 1e3, "%.1f"),
        ("image step loop n=4, ms per step (8 rows)", "n4", lambda r: r["gen_step_s"] * 1e3, "%.1f"),
        ("one image end to end at n=1 (prefill + 576 steps), s", "n1", lambda r: r["gen_image_s"], "%.1f"),
        ("per image at n=4, s", "n4", lambda r: r["gen_image_s"], "%.1f"),
        ("text prefill, tok/s (600 tokens)", "n1", lambda r: r["prefill_tok_per_s"], "%.1f"),
        ("text decode, tok/s (102400 vocab)", "n1", lambda r: r["decode_tok_per_s"], "%.1f"),
        ("SigLIP-L + aligner, one image, s", "n1", lambda r: r["vision_s"], "%.2f"),
        ("VQ decoder, one image, s", "n1", lambda r: r["vq_decode_s"], "%.2f"),
        ("peak RSS n=1, MiB", "n1", lambda r: r["peak_rss_mib"], "%.0f")]
print("| janus.c (full-size random 1B) | q4_0 | q8_0 |\n|---|---|---|")
for label, key, get, fmt in rows:
    cells = []
    for t in ("q4_0", "q8_0"):
        r = j(f"{t}.{key}.json")
        cells.append(f(get(r) if r else None, fmt))
    print(f"| {label} | {cells[0]} | {cells[1]} |")
print("\n| step loop n=1 per forced path, ms per step | q4_0 | q8_0 |\n|---|---|---|")
for isa in ("avx512", "avx2", "scalar", "t1"):
    label = "AVX-512, 1 thread" if isa == "t1" else f"JANUS_CPU_ISA={isa}"
    cells = []
    for t in ("q4_0", "q8_0"):
        r = j(f"{t}.{isa}.json")
        cells.append(f(r["gen_step_s"] * 1e3 if r else None, "%.1f"))
    print(f"| {label} | {cells[0]} | {cells[1]} |")
PY

{
  cat "$tmp/head.md"
  cat "$tmp/janus.md"
  echo
  "$OPS" --threads "$THREADS" --what matmul,attention
  if [ -n "${LLAMA_BIN:-}" ] && [ -x "$LLAMA_BIN/llama-bench" ] && [ -n "${LLAMA_MODEL:-}" ]; then
    echo
    echo "llama.cpp $(git -C "$LLAMA_BIN" rev-parse --short HEAD 2>/dev/null || echo '(commit unknown)'), $LLAMA_MODEL:"
    echo
    "$LLAMA_BIN/llama-bench" -m "$LLAMA_MODEL" -t "$THREADS" -p 600 -n 32 -o md 2>/dev/null || echo "(llama-bench failed)"
  fi
  if "$PYTHON" -c 'import torch' 2>/dev/null; then
    echo
    echo "PyTorch $("$PYTHON" -c 'import torch; print(torch.__version__, torch.__config__.show().count("BLAS"))' 2>/dev/null) CPU baselines:"
    echo
    echo '```'
    "$PYTHON" "$here/torch/torch_llama_decode.py" --batch 2 --dtype fp32 --past 300 --steps 3 --reps 2 --threads "$THREADS" 2>&1 | tail -3
    "$PYTHON" "$here/torch/torch_siglip.py" --dtype fp32 --reps 1 --threads "$THREADS" 2>&1 | tail -3
    echo '```'
  else
    echo
    echo "(PyTorch baseline skipped: python3 cannot import torch)"
  fi
} > "$OUT"
cat "$OUT"
