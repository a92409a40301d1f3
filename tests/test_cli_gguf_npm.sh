#!/usr/bin/env bash
# tests/test_cli_gguf_npm.sh — interoperability: a third-party GGUF parser (Hugging Face's npm
# @huggingface/gguf, installed by `npm ci` in tests/npm) must open what `janus convert` writes and
# see our metadata and tensors (tests/npm/check_gguf.mjs). Skips (77) when node or the package is
# not installed.
set -u
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
JANUS_BIN="${JANUS_BIN:-janus}"
FIX="${JANUS_FIXTURES:-$here/fixtures}"
TMP="${JANUS_TEST_TMP:-/tmp}/gguf-npm"
command -v node >/dev/null 2>&1 || { echo "skip: node not installed"; exit 77; }
[ -d "$here/npm/node_modules/@huggingface/gguf" ] || { echo "skip: run 'npm ci' in tests/npm"; exit 77; }
node -e 'process.exit(parseInt(process.versions.node) >= 20 ? 0 : 1)' || { echo "skip: node < 20"; exit 77; }
[ -x "$JANUS_BIN" ] || { echo "FAIL: JANUS_BIN ($JANUS_BIN) is not executable"; exit 1; }
rm -rf "$TMP" && mkdir -p "$TMP" || exit 1
fail=0
for type in bf16 q8_0 q4_0 f16 f32; do
  out="$TMP/tiny-a.$type.gguf"
  if ! "$JANUS_BIN" convert "$FIX/janus-tiny-a/models/tiny-a" -o "$out" --type "$type" >/dev/null 2>"$TMP/err.txt"; then
    echo "FAIL: convert --type $type: $(cat "$TMP/err.txt")"; fail=1; continue
  fi
  (cd "$here/npm" && node check_gguf.mjs "$out" 260 "$type") || { echo "FAIL: @huggingface/gguf check ($type)"; fail=1; }
done
out="$TMP/tiny-a.keep.gguf"
"$JANUS_BIN" convert "$FIX/janus-tiny-a/models/tiny-a-safetensors" -o "$out" --keep-unused >/dev/null 2>&1 &&
  (cd "$here/npm" && node check_gguf.mjs "$out" 420 bf16) || { echo "FAIL: --keep-unused file"; fail=1; }
rm -rf "$TMP"
[ $fail = 0 ] && echo "ok: @huggingface/gguf opens every converted file"
exit $fail
