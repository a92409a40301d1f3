#!/usr/bin/env bash
# tests/test_cli_generate_options.sh — `janus generate` as users of sd.cpp / A1111 expect it, on the
# tiny model: --index K is pixel-identical to image K of the batch, -s -1 picks a seed that is
# printed, stored and reproduces the image, A1111-style metadata in PNG and JPEG, the negative
# prompt changes the image while the default unconditional row stays the official one, output
# names, the output folder checked before the model loads, refused flags explained, --json, the
# banner and the timing summary, SIGTERM keeps the written images. (Prompt files:
# test_cli_prompt_file.sh.)
set -u
J=${JANUS_BIN:?}
FX=${JANUS_FIXTURES:?}/janus-tiny-a
TMP=${JANUS_TEST_TMP:?}/cli-generate-options
rm -rf "$TMP"; mkdir -p "$TMP"
. "$JANUS_SOURCE_DIR/tests/util/check.sh"
. "$JANUS_SOURCE_DIR/tests/util/image_checks.sh"
python3 -c 'import json, zlib' 2>/dev/null || { echo "python3 missing: skipped"; exit 77; }
M=$TMP/tiny.gguf
"$J" convert "$FX/models/tiny-a" -o "$M" --type f32 >/dev/null 2>&1 || { echo "FAIL: convert"; exit 1; }
G() { "$J" generate -m "$M" -q "$@"; }

# --- --index K: exactly image K of the batch, and stdout names path, seed and index
check "batch of 3" 0 G -s 7 -n 3 -o "$TMP/b-%d.png" "a red fox"
expect "stdout: path, seed, index per line" grep -qxF "$TMP/b-2.png	seed=7	index=2" "$TMP/out.txt"
check "--index 2 of 3" 0 G -s 7 -n 3 --index 2 -o "$TMP/k2.png" "a red fox"
expect "--index line" grep -qxF "$TMP/k2.png	seed=7	index=2" "$TMP/out.txt"
same_pixels "--index 2 equals image 2 of the batch" "$TMP/k2.png" "$TMP/b-2.png"
differ "--index 2 differs from image 0" "$TMP/k2.png" "$TMP/b-0.png"
expect "index key" [ "$($IMG text "$TMP/k2.png" index)" = 2 ]
expect "n key" [ "$($IMG text "$TMP/k2.png" n)" = 3 ]
check "--index beyond -n" 2 G -n 2 --index 2 -o "$TMP/bad.png" "x"

# --- -s -1: a random seed, printed and stored, that reproduces the image
check "-s -1" 0 G -s -1 -o "$TMP/r.png" "a red fox"
seed=$(sed -n 's/.*	seed=\([0-9]*\).*/\1/p' "$TMP/out.txt")
expect "random seed printed" [ -n "$seed" ]
expect "random seed stored" [ "$($IMG text "$TMP/r.png" seed)" = "$seed" ]
check "rerun with the printed seed" 0 G -s "$seed" -o "$TMP/r2.png" "a red fox"
same_pixels "the printed seed reproduces the image" "$TMP/r.png" "$TMP/r2.png"
check "-s -1 again" 0 G -s -1 -o "$TMP/r3.png" "a red fox"
expect "two random seeds differ" [ "$($IMG text "$TMP/r3.png" seed)" != "$seed" ]

# --- metadata: A1111 "parameters" in PNG (with the other keys) and in a JPEG COM segment
check "png with negative prompt" 0 G -s 5 --cfg-scale 4 --negative-prompt "blurry" -o "$TMP/meta.png" "a cat"
params=$($IMG text "$TMP/meta.png" parameters)
for want in "a cat" "Negative prompt: blurry" "Steps: 576" "CFG scale: 4" "Seed: 5" "Size: 384x384" "Model: tiny-a" "Version: janus.c"; do
  case "$params" in *"$want"*) echo "ok: parameters has '$want'";; *) echo "FAIL: parameters lacks '$want': $params"; fails=$((fails + 1));; esac
done
for key in prompt seed cfg temperature index n model software negative_prompt; do
  expect "png key $key" $IMG text "$TMP/meta.png" "$key" >/dev/null
done
check "jpeg" 0 G -s 5 --cfg-scale 4 --negative-prompt "blurry" -o "$TMP/meta.jpg" "a cat"
expect "jpeg COM holds the same parameters" [ "$($IMG text "$TMP/meta.jpg" parameters)" = "$params" ]

# --- negative prompt: changes the image; without it the unconditional row is the official pad row
check "default, dumped" 0 G -s 3 --dump "$TMP/dump-default" -o "$TMP/neg0.png" "a red fox"
check "negative, dumped" 0 G -s 3 --negative-prompt "green grass" --dump "$TMP/dump-neg" -o "$TMP/neg1.png" "a red fox"
differ "the negative prompt changes the image" "$TMP/neg0.png" "$TMP/neg1.png"
check "golden prompt, dumped" 0 G --dump "$TMP/dump-golden" -o "$TMP/golden.png" "A close-up photo of a sunflower blooming in the sun with a bee on it."
expect "default unconditional row equals the official one" python3 - "$FX/golden/tiny-a/gen_ids.json" "$TMP/dump-golden/input_ids_uncond.json" <<'PY'
import json, sys
want = json.load(open(sys.argv[1]))["tokens_cond_uncond"][1]
sys.exit(0 if json.load(open(sys.argv[2])) == want else 1)
PY
expect "negative prompt replaces the unconditional row" python3 - "$TMP/dump-default/input_ids_uncond.json" "$TMP/dump-neg/input_ids_uncond.json" "$TMP/dump-neg/input_ids_cond.json" <<'PY'
import json, sys
default, neg, cond = (json.load(open(p)) for p in sys.argv[1:4])
pad = default[1]
sys.exit(0 if neg != default and neg != cond and pad not in neg[1:-1] else 1)
PY
check "empty negative prompt" 2 G --negative-prompt "" -o "$TMP/e.png" "x"

# --- flags as in sd.cpp / llama.cpp
check "-p" 0 G -s 7 -p "a red fox" -o "$TMP/p.png"
same_pixels "-p equals the positional prompt" "$TMP/p.png" "$TMP/b-0.png"
check "-- ends options" 0 G -s 7 -o "$TMP/dash.png" -- "-a prompt with a dash"
check "--steps refused" 2 G --steps 20 "x"
expect "--steps says why" grep -q "576" "$TMP/err.txt"
check "-W refused" 2 G -W 512 "x"
expect "-W says why" grep -q "384x384" "$TMP/err.txt"

# --- output names: %03d, the default never collides, the folder is checked before loading
check "%03d" 0 G -n 2 -o "$TMP/z-%03d.png" "x"
expect "%03d names" [ -f "$TMP/z-000.png" ] && [ -f "$TMP/z-001.png" ]
check "bad %" 2 G -o "$TMP/z-%s.png" "x"
mkdir -p "$TMP/cwd"
: > "$TMP/cwd/out-6.jpg"
(cd "$TMP/cwd" && "$J" generate -m "$M" -q "x" >/dev/null 2>&1 && "$J" generate -m "$M" -q "x" >/dev/null 2>&1)
expect "default names take the next free number" [ -f "$TMP/cwd/out-7.png" ] && [ -f "$TMP/cwd/out-8.png" ]
check "missing output folder, before the model" 2 "$J" generate -m "$TMP/no-such-model.gguf" -o "$TMP/no-such-dir/x.png" "x"
expect "the message names the folder" grep -q "no-such-dir" "$TMP/err.txt"
: > "$TMP/a-file"
check "output folder is a file" 2 G -o "$TMP/a-file/x.png" "x"

# --- --json: one object per image
check "--json" 0 G --json -s 9 -n 2 -o "$TMP/j-%d.png" "x"
expect "JSON lines parse" python3 - "$TMP/out.txt" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
ok = len(rows) == 2 and [r["index"] for r in rows] == [0, 1] and all(r["seed"] == 9 and r["path"].endswith(".png") for r in rows)
sys.exit(0 if ok else 1)
PY

# --- stderr: the first line names the backend, the last is the timing summary; -q is silent
check "banner and summary" 0 "$J" generate -m "$M" --backend auto -o "$TMP/v.png" "x"
expect "first stderr line: backend, device, threads" sh -c "head -n 1 '$TMP/err.txt' | grep -q 'backend cpu (.*), [0-9]* CPU threads'"
expect "summary line" sh -c "tail -n 1 '$TMP/err.txt' | grep -q 's/step.*VQ decode.*total'"
expect "decode progress" grep -q "decode 1/1" "$TMP/err.txt"
check "-q" 0 G -o "$TMP/q.png" "x"
expect "-q prints nothing on stderr" [ ! -s "$TMP/err.txt" ]
check "decode summary" 0 "$J" decode -m "$M" --tokens "$TMP/dump-golden/image_tokens.json" -o "$TMP/dec.png"
same_pixels "decode of the dumped tokens equals the image" "$TMP/dec.png" "$TMP/golden.png"
# --- SIGTERM after the first image: the written images stay, every one named on stdout, no
# temporary file left, exit 128 + 15
mkdir -p "$TMP/sig"
"$J" generate -m "$M" -q -n 3 -o "$TMP/sig/s-%d.png" "x" > "$TMP/sig.out" 2>"$TMP/sig.err" &
pid=$!
for _ in $(seq 600); do [ -s "$TMP/sig.out" ] && break; sleep 0.1; done
kill -TERM "$pid" 2>/dev/null; wait "$pid"; rc=$?
if [ "$rc" = 143 ]; then
  expect "SIGTERM: each written image is on stdout" [ "$(wc -l < "$TMP/sig.out")" = "$(ls "$TMP/sig" | grep -c '^s-[0-2].png$')" ]
  expect "SIGTERM: no temporary file" [ "$(ls -A "$TMP/sig" | grep -vc '^s-[0-2].png$')" = 0 ]
  expect "SIGTERM: says how many were written" grep -q "interrupted" "$TMP/sig.err"
elif [ "$rc" = 0 ]; then echo "ok: SIGTERM came after the run ended (nothing to check)"
else echo "FAIL: SIGTERM: exit $rc"; fails=$((fails + 1)); fi
[ "$fails" = 0 ] && echo "all ok" || echo "$fails failure(s)"
exit $((fails > 0))
