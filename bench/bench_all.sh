#!/usr/bin/env bash
# bench/bench_all.sh — every CPU speed figure of issue #9 in one run, written as markdown tables:
# the machine's floors (read bandwidth, f32 FMA peak: bench_ops), `janus bench` on a full-size
# random-weight Janus-Pro-1B at q4_0 and q8_0 (SigLIP + aligner, text prefill and decode, the CFG
# step loop at n = 1, 4 and 16, VQ decode, peak RSS), the step loop on each forced ISA path
# (JANUS_CPU_ISA) and with 1 thread, the kernel tables of bench_ops, and, when available,
# llama.cpp on the same LLM shapes side by side, and PyTorch.
#
# usage: bench/bench_all.sh [OUT.md]       (default bench/work/results.md; also printed)
# env:   THREADS=2
#        STEPS=576     image steps timed at n = 1 and 4 (the per-step cost grows with the context:
#                      fewer steps are extrapolated by janus bench and flatter the figure)
#        STEPS16=128   image steps timed at n = 16 (both janus.c and llama.cpp; janus.c also
#                      with the q8_0 K/V cache)
#        BENCH_N16_CLI=1 runs `janus generate -n 16 --kv-type q8_0` end to end (every step at its
#          real context, 16 VQ decodes: the 16-image time and peak RSS); 0 skips it (~8 min)
#        BENCH_DATA=dir holding the random checkpoint and its GGUFs (made here if missing;
#          default bench/work; /work/bench-data on the shared dev machine)
#        LLAMA_BIN=dir of an existing llama.cpp build (llama-bench and llama-batched-bench in it or
#          in its bin/): adds llama.cpp's figures for the same LLM shapes, on llama-architecture
#          GGUFs that bench/export_llama_gguf.py writes from the janus GGUFs (same weight bytes:
#          the text head, and the 16384-row image head). This repository never builds or
#          downloads llama.cpp; its commit is recorded when LLAMA_BIN is a git checkout.
#        PyTorch rows are added when python3 can import torch (bench/torch/*.py; Debian:
#          apt-get install python3-torch libopenblas0-pthread, so that libblas.so.3 is OpenBLAS).
#        BENCH_7B=1 also makes a full-size random 7B (make_random_checkpoint.py --size 7b: 15 GB,
#          then 5.3 GB as q4_0) and times it (32 steps extrapolated, text, peak RSS).
# The machine may be shared: each figure is one run; run twice and compare to see the noise.
set -eu
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
THREADS="${THREADS:-2}"
STEPS="${STEPS:-576}"
STEPS16="${STEPS16:-128}"
OUT="${1:-$work/results.md}"
OPS="${BENCH_OPS:-$root/build/bench/bench_ops}"
[ -x "$OPS" ] || { echo "no bench_ops at $OPS (build first, or set BENCH_OPS=)" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
GEN_PROMPT_TOKENS=40 # the prompt janus bench generates from, as llama.cpp's prompt length

# one `janus bench` run; prints its JSON line
jb() { "$JANUS" bench -t "$THREADS" "$@" 2>/dev/null | grep '^{'; }

{
  echo "# janus.c CPU benchmark"
  echo
  echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) CPUs, threads $THREADS, load before start $(cut -d' ' -f1-3 /proc/loadavg)"
  echo
  "$OPS" --threads "$THREADS" --what machine
} > "$tmp/head.md"

for t in q4_0 q8_0; do
  m=$(ensure_gguf "$t")
  echo "janus bench $t ..." >&2
  jb -m "$m" -n 1 --steps "$STEPS" > "$tmp/$t.n1.json"
  jb -m "$m" -n 4 --steps "$STEPS" --only gen > "$tmp/$t.n4.json"
  if [ "$t" = q4_0 ]; then
    jb -m "$m" -n 16 --steps "$STEPS16" --only gen > "$tmp/$t.n16.json"
    jb -m "$m" -n 16 --steps "$STEPS16" --only gen --kv-type q8_0 > "$tmp/$t.n16kvq8.json"
  fi
  for isa in avx512 avx2 scalar; do
    s=48; [ $isa = scalar ] && s=4
    JANUS_CPU_ISA=$isa jb --steps $s -m "$m" -n 1 --only gen > "$tmp/$t.$isa.json" || true
  done
  JANUS_CPU_ISA=avx512 "$JANUS" bench -t 1 --steps 48 -m "$m" -n 1 --only gen 2>/dev/null | grep '^{' > "$tmp/$t.t1.json" || true
done

# what a user's `janus generate -n 1` costs end to end (its summary line: peak RSS, total time), q4_0
echo "janus generate -n 1 q4_0 ..." >&2
"$JANUS" generate -t "$THREADS" -m "$(ensure_gguf q4_0)" -n 1 -o "$tmp/generate.png" "a red fox in the snow" 2> "$tmp/generate.err" >/dev/null || true
sed -n 's/.*peak RSS \([0-9]*\) MiB | total \([0-9.]*\) s.*/{"peak_rss_mib":\1,"total_s":\2}/p' "$tmp/generate.err" | tail -1 > "$tmp/q4_0.cli.json"
# ... and 16 images with the q8_0 K/V cache (every step at its real context length, VQ included);
# BENCH_N16_CLI=0 skips it (~8 min on 2 Zen 3 cores)
if [ "${BENCH_N16_CLI:-1}" = 1 ]; then
  echo "janus generate -n 16 --kv-type q8_0 q4_0 ..." >&2
  "$JANUS" generate -t "$THREADS" -m "$(ensure_gguf q4_0)" -n 16 --kv-type q8_0 -o "$tmp/generate16-%02d.png" \
    "a red fox in the snow" 2> "$tmp/generate16.err" >/dev/null || true
  sed -n 's/.*peak RSS \([0-9]*\) MiB | total \([0-9.]*\) s.*/{"peak_rss_mib":\1,"total_s":\2}/p' "$tmp/generate16.err" | tail -1 > "$tmp/q4_0.cli16.json"
fi

if [ "${BENCH_7B:-0}" = 1 ]; then
  ck7="$work/janus-pro-7b-random" m7="$work/janus-pro-7b-random.q4_0.gguf"
  if [ ! -s "$m7" ]; then
    [ -s "$ck7/model.safetensors" ] || "$PYTHON" "$here/make_random_checkpoint.py" "$ck7" --size 7b --safetensors >&2
    "$JANUS" convert "$ck7" -o "$m7" --type q4_0 >/dev/null
  fi
  echo "janus bench 7B q4_0 ..." >&2
  jb -m "$m7" -n 1 --steps 32 --prefill 600 --decode 16 > "$tmp/7b.json" || true
fi

# llama.cpp on the same shapes: text prefill (600 tokens) and decode after that prompt (1 row),
# the CFG step loop as 2 (n = 1), 8 (n = 4) and 32 (n = 16) sequences after a 40-token prompt
llama_dir=""
if [ -n "${LLAMA_BIN:-}" ]; then
  for d in "$LLAMA_BIN" "$LLAMA_BIN/bin" "$LLAMA_BIN/build/bin"; do
    if [ -x "$d/llama-bench" ] && [ -x "$d/llama-batched-bench" ]; then llama_dir=$d; break; fi
  done
  [ -n "$llama_dir" ] || echo "LLAMA_BIN=$LLAMA_BIN has no llama-bench + llama-batched-bench: llama.cpp rows skipped" >&2
fi
if [ -n "$llama_dir" ]; then
  llama_rev=$(git -C "$LLAMA_BIN" rev-parse --short HEAD 2>/dev/null || echo "(commit unknown)")
  echo "$llama_rev" > "$tmp/llama.rev"
  for t in q4_0 q8_0; do
    for head in text image; do
      lm="$work/llama-1b-$head.$t.gguf"
      [ -s "$lm" ] || "$PYTHON" "$here/export_llama_gguf.py" "$(ensure_gguf "$t")" "$lm" --head $head
    done
    echo "llama.cpp $t ..." >&2
    "$llama_dir/llama-bench" -m "$work/llama-1b-text.$t.gguf" -t "$THREADS" -p 600 -n 0 -o json 2>/dev/null > "$tmp/llama.$t.pp.json" || true
    "$llama_dir/llama-batched-bench" -m "$work/llama-1b-text.$t.gguf" -t "$THREADS" -c 1024 -b 2048 -ub 512 \
      -npp 600 -ntg 32 -npl 1 2>/dev/null | grep '^|' > "$tmp/llama.$t.tg.md" || true
    for npl in 2 8 32; do
      [ $npl = 32 ] && [ $t = q8_0 ] && continue # n = 16 is timed at q4_0 only
      ntg=$STEPS; [ $npl = 32 ] && ntg=$STEPS16
      "$llama_dir/llama-batched-bench" -m "$work/llama-1b-image.$t.gguf" -t "$THREADS" \
        -c $(( npl * (GEN_PROMPT_TOKENS + ntg) + 64 )) -b 2048 -ub 512 -npp $GEN_PROMPT_TOKENS -ntg $ntg -npl $npl \
        2>/dev/null | grep '^|' > "$tmp/llama.$t.npl$npl.md" || true
    done
  done
fi

"$PYTHON" - "$tmp" "$STEPS" "$STEPS16" > "$tmp/janus.md" <<'PY'
import json, os, sys
d, steps, steps16 = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def j(name):
    try:
        return json.loads(open(os.path.join(d, name)).read().strip().splitlines()[-1])
    except Exception:
        return None
def batched(name):
    """llama-batched-bench's markdown row: (T_PP s, T_TG s, npl, ntg)"""
    try:
        rows = [l for l in open(os.path.join(d, name)) if l.startswith("|") and l.split("|")[1].strip().isdigit()]
        c = [x.strip() for x in rows[-1].split("|")[1:-1]]
        return float(c[4]), float(c[6]), int(c[2]), int(c[1])
    except Exception:
        return None
def llama_pp(t):
    try:
        for r in json.load(open(os.path.join(d, f"llama.{t}.pp.json"))):
            if r.get("n_prompt") == 600:
                return r["avg_ts"]
    except Exception:
        return None
def f(v, fmt):
    return "–" if v is None else fmt % v
have_llama = os.path.exists(os.path.join(d, "llama.rev"))
def step_ms(t, key):
    r = j(f"{t}.{key}.json")
    return r["gen_step_s"] * 1e3 if r else None
def llama_step_ms(t, npl):
    b = batched(f"llama.{t}.npl{npl}.md")
    return b[1] / b[3] * 1e3 if b else None
def llama_tg(t):
    b = batched(f"llama.{t}.tg.md")
    return b[3] / b[1] if b else None
def ratio(ours, theirs, higher_better):
    if ours is None or theirs is None or not ours or not theirs:
        return "–"
    return "%.2f×" % ((ours / theirs) if higher_better else (theirs / ours))
rows = [
    (f"image step loop n=1 (2 CFG rows), ms/step, {steps} steps", lambda t: step_ms(t, "n1"), lambda t: llama_step_ms(t, 2), 0, "%.1f"),
    (f"image step loop n=4 (8 rows), ms/step, {steps} steps", lambda t: step_ms(t, "n4"), lambda t: llama_step_ms(t, 8), 0, "%.1f"),
    (f"image step loop n=16 (32 rows), ms/step, first {steps16} steps", lambda t: step_ms(t, "n16"), lambda t: llama_step_ms(t, 32), 0, "%.1f"),
    ("text prefill, tok/s (600 tokens)", lambda t: (j(f"{t}.n1.json") or {}).get("prefill_tok_per_s"), llama_pp, 1, "%.1f"),
    ("text decode after 600 tokens, tok/s (102400 vocab)", lambda t: (j(f"{t}.n1.json") or {}).get("decode_tok_per_s"), llama_tg, 1, "%.1f"),
]
for t in ("q4_0", "q8_0"):
    if have_llama:
        print(f"| {t}: janus.c vs llama.cpp (same LLM shape and weight bytes) | janus.c | llama.cpp | janus.c better by |\n|---|---|---|---|")
    else:
        print(f"| {t}: janus.c | janus.c |\n|---|---|")
    for label, ours, theirs, hb, fmt in rows:
        o = ours(t)
        if t == "q8_0" and "n=16" in label:
            continue
        if have_llama:
            th = theirs(t)
            print(f"| {label} | {f(o, fmt)} | {f(th, fmt)} | {ratio(o, th, hb)} |")
        else:
            print(f"| {label} | {f(o, fmt)} |")
    print()
print("| janus.c only (full-size random 1B) | q4_0 | q8_0 |\n|---|---|---|")
other = [(f"one image end to end at n=1 (prefill + 576 steps + VQ), s", "n1", lambda r: r["gen_image_s"], "%.1f"),
         (f"per image at n=4 (prefill + 576 steps), s", "n4", lambda r: r["gen_image_s"], "%.1f"),
         ("SigLIP-L + aligner, one image, s", "n1", lambda r: r["vision_s"], "%.2f"),
         ("VQ decoder, one image, s", "n1", lambda r: r["vq_decode_s"], "%.2f"),
         ("peak RSS n=1 (all phases), MiB", "n1", lambda r: r["peak_rss_mib"], "%.0f"),
         ("peak RSS n=4 (generation only), MiB", "n4", lambda r: r["peak_rss_mib"], "%.0f")]
for label, key, get, fmt in other:
    cells = []
    for t in ("q4_0", "q8_0"):
        r = j(f"{t}.{key}.json")
        cells.append(f(get(r) if r else None, fmt))
    print(f"| {label} | {cells[0]} | {cells[1]} |")
rc = j("q4_0.cli.json")
if rc:
    print(f"\n`janus generate -n 1` q4_0 (the CLI, 576 steps + VQ): {rc['total_s']:.1f} s in all, "
          f"peak RSS {rc['peak_rss_mib']:.0f} MiB")
r16 = j("q4_0.n16.json")
if r16:
    print(f"\nn=16 q4_0 ({steps16} steps timed, extrapolated to 576): {r16['gen_image_s']:.1f} s per image without VQ, "
          f"prefill {r16['gen_prefill_s']:.2f} s, peak RSS {r16['peak_rss_mib']:.0f} MiB")
r16q = j("q4_0.n16kvq8.json")
if r16q:
    print(f"n=16 q4_0 with `--kv-type q8_0` (same steps): {r16q['gen_image_s']:.1f} s per image without VQ, "
          f"{r16q['gen_step_s'] * 1e3:.1f} ms per step, peak RSS {r16q['peak_rss_mib']:.0f} MiB")
rc16 = j("q4_0.cli16.json")
if rc16:
    print(f"\n`janus generate -n 16 --kv-type q8_0` q4_0 (the CLI, 576 steps at their real context + 16 VQ decodes): "
          f"{rc16['total_s']:.1f} s in all = {rc16['total_s'] / 16:.1f} s per image, peak RSS {rc16['peak_rss_mib']:.0f} MiB")
r7 = j("7b.json")
if r7:
    print(f"\n7B q4_0 (full-size random): {r7['gen_step_s'] * 1e3:.1f} ms per CFG step (32 steps timed), "
          f"{r7['gen_image_s']:.0f} s per image with VQ, prefill {r7['prefill_tok_per_s']:.1f} tok/s, "
          f"decode {r7['decode_tok_per_s']:.2f} tok/s, SigLIP {r7['vision_s']:.2f} s, peak RSS {r7['peak_rss_mib']:.0f} MiB")
print("\n| step loop n=1 per forced path, ms per step (48 steps) | q4_0 | q8_0 |\n|---|---|---|")
for isa in ("avx512", "avx2", "scalar", "t1"):
    label = "AVX-512, 1 thread" if isa == "t1" else f"JANUS_CPU_ISA={isa}" + (" (4 steps)" if isa == "scalar" else "")
    cells = []
    for t in ("q4_0", "q8_0"):
        r = j(f"{t}.{isa}.json")
        cells.append(f(r["gen_step_s"] * 1e3 if r else None, "%.1f"))
    print(f"| {label} | {cells[0]} | {cells[1]} |")
PY

{
  cat "$tmp/head.md"
  echo
  if [ -s "$tmp/llama.rev" ]; then
    echo "llama.cpp $(cat "$tmp/llama.rev") ($llama_dir), llama-bench / llama-batched-bench, default f16 K/V cache;"
    echo "janus.c: default f16 K/V cache."
    echo
  fi
  cat "$tmp/janus.md"
  echo
  "$OPS" --threads "$THREADS" --what matmul,attention
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
