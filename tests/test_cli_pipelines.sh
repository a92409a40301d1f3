#!/usr/bin/env bash
# tests/test_cli_pipelines.sh — the `janus ask / generate / decode` contract on the tiny model:
# determinism across thread counts and batch sizes, output-file safety, and clear errors with the
# documented exit codes for bad input. (Numerical agreement with the official code is checked in
# test_model_golden.)
set -u
J=${JANUS_BIN:?}
FX=${JANUS_FIXTURES:?}/janus-tiny-a
T=${JANUS_TEST_TMP:?}/cli-pipelines
rm -rf "$T"; mkdir -p "$T"
fail=0
check() { # name expected_rc actual_rc
  if [ "$2" != "$3" ]; then echo "FAIL $1: exit $3, expected $2"; fail=1; else echo "ok   $1"; fi
}
M=$T/tiny.gguf
"$J" convert "$FX/models/tiny-a" -o "$M" --type f32 >/dev/null 2>"$T/convert.err" || { cat "$T/convert.err"; echo "FAIL convert"; exit 1; }

# --- generate: same seed, 1 vs 2 threads, identical pixels; image 0 of -n 3 == image of -n 1
"$J" generate -m "$M" -t 1 -s 7 -o "$T/t1.png" "a red fox" >/dev/null 2>"$T/g1.err"; check "generate -t 1" 0 $?
"$J" generate -m "$M" -t 2 -s 7 -o "$T/t2.png" "a red fox" >/dev/null 2>"$T/g2.err"; check "generate -t 2" 0 $?
"$J" generate -m "$M" -t 2 -s 7 -n 3 -o "$T/n3-%d.png" "a red fox" >"$T/n3.out" 2>"$T/g3.err"; check "generate -n 3" 0 $?
"$J" generate -m "$M" -t 2 -s 8 -o "$T/s8.png" "a red fox" >/dev/null 2>&1; check "generate seed 8" 0 $?
[ "$(wc -l < "$T/n3.out")" = 3 ] || { echo "FAIL -n 3 should print 3 paths"; fail=1; }
cmp -s "$T/t1.png" "$T/t2.png" && echo "ok   threads 1 vs 2 identical" || { echo "FAIL threads 1 vs 2 differ"; fail=1; }
# (pixels: the files differ in their index/n metadata)
px() { python3 "$JANUS_SOURCE_DIR/tests/util/imgfile.py" pixels "$1"; }
[ "$(px "$T/t1.png")" = "$(px "$T/n3-0.png")" ] && echo "ok   image 0 of -n 3 equals -n 1" || { echo "FAIL -n 3 image 0 differs from -n 1"; fail=1; }
cmp -s "$T/t1.png" "$T/s8.png" && { echo "FAIL different seeds gave the same image"; fail=1; } || echo "ok   seeds differ"
cmp -s "$T/n3-0.png" "$T/n3-1.png" && { echo "FAIL images 0 and 1 of a batch are identical"; fail=1; } || echo "ok   batch images differ"

# --- never overwrite without --force; an existing file survives a refused run
echo keep > "$T/exists.png"
"$J" generate -m "$M" -o "$T/exists.png" "x" >/dev/null 2>&1; rc=$?
[ "$rc" != 0 ] && [ "$(cat "$T/exists.png")" = keep ] && echo "ok   no overwrite without --force" || { echo "FAIL overwrite protection (rc $rc)"; fail=1; }
"$J" generate -m "$M" -o "$T/exists.png" --force "x" >/dev/null 2>&1; check "--force overwrites" 0 $?

# --- JPEG output
"$J" generate -m "$M" -o "$T/out.jpg" --quality 80 "x" >/dev/null 2>&1; check "jpeg output" 0 $?

# --- decode: golden tokens -> png
tr -d '[],' < "$FX/golden/tiny-a/vq_grid_b_blocks_tokens.json" > "$T/grid_b.txt"
"$J" decode -m "$M" --tokens "$T/grid_b.txt" -o "$T/grid_b.png" >/dev/null 2>"$T/d.err"; check "decode" 0 $?
echo "1 2 3" > "$T/short.txt"
"$J" decode -m "$M" --tokens "$T/short.txt" -o "$T/short.png" >/dev/null 2>"$T/d2.err"; check "decode wrong count" 3 $?
grep -q "expected a multiple of 576" "$T/d2.err" || { echo "FAIL decode count message"; fail=1; }

# --- a file converted with --keep-unused (VQ encoder, attn_pool, ...) loads and decodes the same
"$J" convert "$FX/models/tiny-a" -o "$T/keep.gguf" --type f32 --keep-unused >/dev/null 2>&1; check "convert --keep-unused" 0 $?
"$J" decode -m "$T/keep.gguf" --tokens "$T/grid_b.txt" -o "$T/grid_b_keep.png" >/dev/null 2>"$T/dk.err"; check "decode with --keep-unused model" 0 $?
cmp -s "$T/grid_b.png" "$T/grid_b_keep.png" && echo "ok   --keep-unused model gives the same image" || { echo "FAIL --keep-unused image differs"; fail=1; }

# --- ask: greedy answer, deterministic across threads
"$J" ask -m "$M" -t 1 --image "$FX/golden/tiny-a/images/img2_384x384.png" -n 8 "What is this?" > "$T/a1.txt" 2>/dev/null; check "ask" 0 $?
"$J" ask -m "$M" -t 2 --image "$FX/golden/tiny-a/images/img2_384x384.png" -n 8 "What is this?" > "$T/a2.txt" 2>/dev/null; check "ask -t 2" 0 $?
cmp -s "$T/a1.txt" "$T/a2.txt" && echo "ok   ask threads 1 vs 2 identical" || { echo "FAIL ask differs across threads"; fail=1; }
"$J" ask -m "$M" -n 4 "Hello there" > /dev/null 2>&1; check "ask text-only" 0 $?

# --- errors: usage (2) and input format (3)
"$J" ask -m "$M" > /dev/null 2>&1; check "ask without question" 2 $?
"$J" ask -m "$M" --bogus x "q" > /dev/null 2>&1; check "ask unknown flag" 2 $?
"$J" generate -m "$M" --temp 0 "x" > /dev/null 2>&1; check "generate --temp 0" 2 $?
"$J" ask -m "$T/missing.gguf" "q" > /dev/null 2>&1; check "missing model" 3 $?
"$J" ask -m "$M" --image "$T/missing.png" "q" > /dev/null 2>"$T/e1"; check "missing image" 3 $?
grep -q "missing.png" "$T/e1" || { echo "FAIL missing image message names the file"; fail=1; }
head -c 100 "$FX/golden/tiny-a/images/img0_640x427.png" > "$T/trunc.png"
"$J" ask -m "$M" --image "$T/trunc.png" "q" > /dev/null 2>&1; check "truncated png" 3 $?
printf 'not an image at all' > "$T/garbage.png"
"$J" ask -m "$M" --image "$T/garbage.png" "q" > /dev/null 2>&1; check "garbage image" 3 $?
# a PNG header claiming 0x0 and one claiming 100000x100000 (IHDR with a valid CRC)
mkpng() { # w h out
  python3 - "$@" <<'PY' 2>/dev/null || printf '\x89PNG\r\n\x1a\n' > "$3"
import struct, sys, zlib
w, h, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
open(out, "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b""))
PY
}
mkpng 0 0 "$T/zero.png"; "$J" ask -m "$M" --image "$T/zero.png" "q" > /dev/null 2>&1; check "0x0 image" 3 $?
mkpng 100000 100000 "$T/huge.png"; "$J" ask -m "$M" --image "$T/huge.png" "q" > /dev/null 2>"$T/e2"; check "100000x100000 image" 3 $?
"$J" ask -m "$M" --image "$FX/golden/tiny-a/images/img2_384x384.png" --image "$FX/golden/tiny-a/images/img2_384x384.png" "<image_placeholder> one tag" > /dev/null 2>&1; check "tag/image count mismatch" 2 $?
long=$(yes "word" | head -n 17000 | tr '\n' ' ')
"$J" ask -m "$M" -n 1 "$long" > /dev/null 2>"$T/e3"; check "prompt longer than context" 2 $?
grep -q "context" "$T/e3" || { echo "FAIL context message"; fail=1; }
# an answer cut at --max-tokens (or the context end) says so on stderr and in JSON
"$J" ask -m "$M" --max-tokens 2 "Hello" > /dev/null 2>"$T/e4"; check "ask cut at max-tokens" 0 $?
grep -q 'cut off' "$T/e4" && echo "ok   cut-off notice" || { echo "FAIL no notice for a cut answer"; fail=1; }
"$J" ask -m "$M" --max-tokens 2 --json "Hello" 2>/dev/null | grep -q '"finish_reason":"length"' && echo "ok   finish_reason length" ||
  { echo "FAIL finish_reason"; fail=1; }
exit $fail
