# bench/common.sh — shared by the bench scripts: the full-size random-weight Janus-Pro-1B
# checkpoint (made once by make_random_checkpoint.py, cached in $BENCH_DATA, default bench/work/,
# git-ignored) and its conversions. Random weights cost exactly what real ones cost. Without
# PyTorch the checkpoint is written as model.safetensors by plain Python (--safetensors).
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
JANUS="${JANUS:-$root/build/janus}"
PYTHON="${PYTHON:-/usr/bin/python3}"
work="${BENCH_DATA:-$here/work}"
ckpt="$work/janus-pro-1b-random"
mkdir -p "$work"
[ -x "$JANUS" ] || { echo "no janus binary at $JANUS (build first, or set JANUS=)" >&2; exit 2; }

ensure_checkpoint() {
  if { [ ! -s "$ckpt/pytorch_model.bin" ] && [ ! -s "$ckpt/model.safetensors" ]; } || [ ! -s "$ckpt/tokenizer.json" ]; then
    local fmt=""
    "$PYTHON" -c 'import torch' 2>/dev/null || fmt=--safetensors
    echo "making $ckpt (once; ~4.2 GB${fmt:+, safetensors without torch})..." >&2
    "$PYTHON" "$here/make_random_checkpoint.py" "$ckpt" $fmt >&2
  fi
}

# prints the path of the converted model of type $1, converting once
ensure_gguf() {
  local out="$work/janus-pro-1b-random.$1.gguf"
  if [ ! -s "$out" ]; then
    ensure_checkpoint
    "$JANUS" convert "$ckpt" -o "$out" --type "$1" >/dev/null
  fi
  echo "$out"
}
