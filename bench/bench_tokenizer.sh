#!/usr/bin/env bash
# bench/bench_tokenizer.sh — tokenizer encode throughput, janus (C) vs Hugging Face `tokenizers`
# (Rust, official npm binding 0.23.2), measured in the same run on the same inputs, single-threaded.
#
# usage: bench/bench_tokenizer.sh [BUILD_DIR] [TOKENIZER...]
#   BUILD_DIR  CMake build directory holding bench/bench_tokenizer (default: build)
#   TOKENIZER  names under tests/fixtures/tokenizers (default: all five)
# env: BIG_MB (size of the one-call text, default 10), REPS (corpus passes, default 3)
#
# For each tokenizer: (1) every corpus line encoded as its own call, REPS times; (2) one text of
# ~BIG_MB MB (corpus lines joined by "\n", repeated) in one call. HF also reports corpus-batch (one
# encodeBatch call over all lines, RAYON_NUM_THREADS=1): its speed without the binding's per-call
# cost. MB/s counts UTF-8 input bytes. Token counts of both sides must agree (printed).
# Needs node + npm (the npm package is installed into bench/npm on first use).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
build="${1:-$root/build}"
shift || true
names=("$@")
[ ${#names[@]} -eq 0 ] && names=(deepseek_llm_7b_base_recon deepseek_v3 llama3 qwen3 gpt4o)
BIG_MB="${BIG_MB:-10}"
REPS="${REPS:-3}"
bin="$build/bench/bench_tokenizer"
[ -x "$bin" ] || bin="$build/bench_tokenizer"
[ -x "$bin" ] || { echo "bench_tokenizer not found in $build (cmake --build $build --target bench_tokenizer)" >&2; exit 2; }
command -v node >/dev/null || { echo "node is not installed" >&2; exit 2; }
if [ ! -d "$here/npm/node_modules/tokenizers" ]; then
  (cd "$here/npm" && npm install --no-audit --no-fund --prefer-offline >&2)
fi
corpus="$root/tests/fixtures/tokenizers/vectors/corpus.jsonl"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
printf '%-28s %-14s %10s %10s %10s\n' tokenizer mode janus_MB/s hf_MB/s speedup
for n in "${names[@]}"; do
  d="$root/tests/fixtures/tokenizers/$n"
  mkdir -p "$tmp/$n"
  gzip -dc "$d/tokenizer.json.gz" >"$tmp/$n/tokenizer.json"
  cp "$d/tokenizer_config.json" "$tmp/$n/"
  "$bin" "$tmp/$n/tokenizer.json" "$corpus" "$BIG_MB" "$REPS" >"$tmp/$n/janus.txt" 2>"$tmp/$n/janus.err"
  RAYON_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false node "$here/tokenizer_hf.mjs" "$tmp/$n/tokenizer.json" "$corpus" "$BIG_MB" "$REPS" \
    >"$tmp/$n/hf.txt" 2>"$tmp/$n/hf.err"
  val() { sed -n "s|^$1 $2 .*$3=\([0-9.]*\).*|\1|p" "$4"; }
  for mode in corpus-lines big-text; do
    j=$(val janus "$mode" 'MB/s' "$tmp/$n/janus.txt"); h=$(val hf "$mode" 'MB/s' "$tmp/$n/hf.txt")
    jt=$(val janus "$mode" tokens "$tmp/$n/janus.txt"); ht=$(val hf "$mode" tokens "$tmp/$n/hf.txt")
    [ "$jt" = "$ht" ] || echo "WARNING: $n $mode: token counts differ (janus $jt, hf $ht)" >&2
    printf '%-28s %-14s %10s %10s %9.1fx\n' "$n" "$mode" "$j" "$h" "$(awk -v a="$j" -v b="$h" 'BEGIN{print (b > 0 ? a / b : 0)}')"
  done
  hb=$(val hf corpus-batch 'MB/s' "$tmp/$n/hf.txt"); j=$(val janus corpus-lines 'MB/s' "$tmp/$n/janus.txt")
  printf '%-28s %-14s %10s %10s %9.1fx\n' "$n" "lines/hf-batch" "$j" "$hb" "$(awk -v a="$j" -v b="$hb" 'BEGIN{print (b > 0 ? a / b : 0)}')"
done
