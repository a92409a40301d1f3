#!/usr/bin/env bash
# tests/test_cli_faults.sh — a backend failure in the middle of a request (JANUS_FAULT_OP=N makes
# the N-th op of every cpu backend instance fail, engine/backend.h) reaches the caller: `ask`,
# `generate` and `decode` exit 1 with the backend's message, print nothing on stdout and leave no
# output file (and an existing one untouched). Also --mem-limit refusals and --kv-type.
set -u
J=${JANUS_BIN:?}
FX=${JANUS_FIXTURES:?}/janus-tiny-a
TMP=${JANUS_TEST_TMP:?}/cli-faults
rm -rf "$TMP"; mkdir -p "$TMP"
. "$(dirname "$0")/util/check.sh"
M=$TMP/tiny.gguf
"$J" convert "$FX/models/tiny-a" -o "$M" --type f32 >/dev/null 2>&1 || { echo "FAIL convert"; exit 1; }
IMG=$FX/golden/tiny-a/images/img0_640x427.png
no_stdout() { if [ -s "$TMP/out.txt" ]; then echo "FAIL: $1 printed on stdout"; fails=$((fails + 1)); fi; }
names_fault() {
  if grep -q "injected fault" "$TMP/err.txt"; then echo "ok: $1 names the failure"
  else echo "FAIL: $1: no backend message"; sed 's/^/  stderr: /' "$TMP/err.txt" | head -3; fails=$((fails + 1)); fi
}
# early faults (the image encoder, the prompt) and late ones (the decode / step loop). A streamed
# answer may have printed part of itself before a late fault; an early fault prints nothing.
for n in 5 300; do
  JANUS_FAULT_OP=$n check "ask, fault at op $n" 1 "$J" ask -m "$M" --image "$IMG" --max-tokens 8 "What is this?"
  [ "$n" = 5 ] && no_stdout "ask (op $n)"; names_fault "ask (op $n)"
done
for n in 5 400; do
  JANUS_FAULT_OP=$n check "generate, fault at op $n" 1 "$J" generate -m "$M" -s 1 -o "$TMP/gen-$n.png" "a fox"
  no_stdout "generate (op $n)"; names_fault "generate (op $n)"
  if [ -e "$TMP/gen-$n.png" ]; then echo "FAIL: generate left $TMP/gen-$n.png"; fails=$((fails + 1)); fi
done
# decode: a token file, the fault inside the VQ decoder; an existing output survives
"$J" generate -m "$M" -s 1 -o "$TMP/ref.png" --dump "$TMP/dump" "a fox" >/dev/null 2>&1 || { echo "FAIL generate"; exit 1; }
tr -d '[],' < "$TMP/dump/image_tokens.json" > "$TMP/tokens.txt"
echo keep > "$TMP/existing.png"
JANUS_FAULT_OP=20 check "decode, fault at op 20" 1 "$J" decode -m "$M" --tokens "$TMP/tokens.txt" -o "$TMP/dec.png"
no_stdout "decode"; names_fault "decode"
if [ -e "$TMP/dec.png" ]; then echo "FAIL: decode left its output"; fails=$((fails + 1)); fi
JANUS_FAULT_OP=20 check "decode over an existing file (--force), fault" 1 "$J" decode -m "$M" --tokens "$TMP/tokens.txt" -o "$TMP/existing.png" --force
[ "$(cat "$TMP/existing.png")" = keep ] && echo "ok: existing output untouched" || { echo "FAIL: existing output changed"; fails=$((fails + 1)); }
# --mem-limit: refused before anything is allocated, with the numbers, nothing on stdout, no file
check "generate -n 4 over --mem-limit" 1 "$J" generate -m "$M" -n 4 --mem-limit 64K -o "$TMP/lim.png" "a fox"
no_stdout "generate --mem-limit"
grep -q "memory limit" "$TMP/err.txt" && echo "ok: the refusal names the limit" || { echo "FAIL: no memory-limit message"; fails=$((fails + 1)); }
if ls "$TMP"/lim*.png >/dev/null 2>&1; then echo "FAIL: generate over the limit left a file"; fails=$((fails + 1)); fi
check "ask over --mem-limit" 1 "$J" ask -m "$M" --image "$IMG" --mem-limit 64K "What is this?"
no_stdout "ask --mem-limit"
check "--mem-limit with a bad size" 2 "$J" generate -m "$M" --mem-limit 12Q "a fox"
check "generate within --mem-limit, f32 K/V cache" 0 "$J" generate -m "$M" -s 1 --mem-limit 1G --kv-type f32 -o "$TMP/kv32.png" "a fox"
check "--kv-type with a bad type" 2 "$J" ask -m "$M" --kv-type f8 "What is this?"
# a batch whose f16 cache (3.0 MiB) is over the limit but whose q8_0 cache (1.8 MiB) is not: the
# refusal says so, and the q8_0 run then fits and writes its 4 images
check "generate -n 4 over --mem-limit, f16 cache" 1 "$J" generate -m "$M" -n 4 -s 1 --mem-limit 2400K -o "$TMP/q8-%d.png" "a fox"
grep -q -- "--kv-type q8_0 all 8 rows fit" "$TMP/err.txt" && echo "ok: the refusal suggests the q8_0 cache" || { echo "FAIL: no q8_0 hint"; sed 's/^/  stderr: /' "$TMP/err.txt" | head -3; fails=$((fails + 1)); }
check "generate -n 4 within --mem-limit, q8_0 cache" 0 "$J" generate -m "$M" -n 4 -s 1 --mem-limit 2400K --kv-type q8_0 -o "$TMP/q8-%d.png" "a fox"
[ "$(ls "$TMP"/q8-*.png 2>/dev/null | wc -l)" = 4 ] && echo "ok: 4 images with the q8_0 cache" || { echo "FAIL: q8_0 run did not write 4 images"; fails=$((fails + 1)); }
# and without the fault the same commands work
check "decode without a fault" 0 "$J" decode -m "$M" --tokens "$TMP/tokens.txt" -o "$TMP/dec.png"
[ "$fails" = 0 ] && { rm -rf "$TMP"; echo "all fault-injection checks passed"; exit 0; }
echo "$fails check(s) failed"; exit 1
