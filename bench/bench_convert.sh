#!/usr/bin/env bash
# bench/bench_convert.sh — times `janus convert` on a full-size random-weight Janus-Pro-1B
# checkpoint (4.18 GB of bf16 in one torch.save pytorch_model.bin; made once by
# bench/make_random_checkpoint.py and cached in bench/work/, which git ignores).
# Reports wall time, input MB/s and peak RSS (GNU time) for --type bf16 and q8_0; deletes outputs.
#
# usage: bench/bench_convert.sh [path/to/janus]   (default: build/janus)
#   env: TYPES="bf16 q8_0"  KEEP=1 (keep the .gguf outputs)  PYTHON=/usr/bin/python3
set -eu
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
janus="${1:-$root/build/janus}"
work="$here/work"
ckpt="$work/janus-pro-1b-random"
PYTHON="${PYTHON:-/usr/bin/python3}"
TYPES="${TYPES:-bf16 q8_0}"
[ -x "$janus" ] || { echo "no janus binary at $janus (build first or pass its path)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "needs GNU time (/usr/bin/time, apt install time)" >&2; exit 2; }
mkdir -p "$work"
if [ ! -s "$ckpt/pytorch_model.bin" ] || [ ! -s "$ckpt/tokenizer.json" ]; then
  echo "making $ckpt (once; ~4.2 GB, needs python3 + torch and ~10 GB RAM)..." >&2
  "$PYTHON" "$here/make_random_checkpoint.py" "$ckpt" >&2
fi
in_bytes=$(stat -c %s "$ckpt/pytorch_model.bin")
printf "input: %s (%.2f GB)\n" "$ckpt/pytorch_model.bin" "$(echo "$in_bytes / 1000000000" | bc -l)"
printf "%-6s %10s %10s %12s %14s\n" type "wall s" "MB/s in" "out MB" "peak RSS MB"
for t in $TYPES; do
  out="$work/bench.$t.gguf"
  rm -f "$out"
  # drop nothing from the page cache (not allowed here): the first run may read from disk, later ones from cache
  /usr/bin/time -v "$janus" convert "$ckpt" -o "$out" --type "$t" --force >/dev/null 2>"$work/time.$t.txt" || {
    echo "convert --type $t failed:" >&2; tail -5 "$work/time.$t.txt" >&2; exit 1; }
  wall=$(grep "Elapsed (wall clock)" "$work/time.$t.txt" | awk '{print $NF}' | awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
  rss=$(grep "Maximum resident set size" "$work/time.$t.txt" | awk '{print $NF}')
  out_bytes=$(stat -c %s "$out")
  printf "%-6s %10.1f %10.0f %12.0f %14.0f\n" "$t" "$wall" "$(echo "$in_bytes / 1000000 / $wall" | bc -l)" \
    "$(echo "$out_bytes / 1000000" | bc -l)" "$(echo "$rss / 1024" | bc -l)"
  [ "${KEEP:-0}" = 1 ] || rm -f "$out"
done
