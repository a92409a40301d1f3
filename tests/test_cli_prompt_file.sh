#!/usr/bin/env bash
# tests/test_cli_prompt_file.sh — `janus generate --prompt-file` on the tiny model: all prompts in
# one process, batched together, give exactly the images of separate runs (2 prompts x 2 images in
# batches of 3 images, so the second prompt's images are split over two requests: one beside the
# first prompt's, one after them); %p/%d names; prompts from stdin; an empty file is bad input.
set -u
J=${JANUS_BIN:?}
FX=${JANUS_FIXTURES:?}/janus-tiny-a
TMP=${JANUS_TEST_TMP:?}/cli-prompt-file
rm -rf "$TMP"; mkdir -p "$TMP"
. "$JANUS_SOURCE_DIR/tests/util/check.sh"
. "$JANUS_SOURCE_DIR/tests/util/image_checks.sh"
python3 -c 'import json, zlib' 2>/dev/null || { echo "python3 missing: skipped"; exit 77; }
M=$TMP/tiny.gguf
"$J" convert "$FX/models/tiny-a" -o "$M" --type f32 >/dev/null 2>&1 || { echo "FAIL: convert"; exit 1; }
G() { "$J" generate -m "$M" -q "$@"; }

printf 'a red fox\n\n  a blue bird  \r\n' > "$TMP/prompts.txt"
check "--prompt-file" 0 G -s 11 -n 2 --batch 3 --prompt-file "$TMP/prompts.txt" -o "$TMP/pf-%p-%d.png"
expect "4 lines, with the prompt number" [ "$(grep -c '	prompt=[0-1]$' "$TMP/out.txt")" = 4 ]
p=0
for prompt in "a red fox" "a blue bird"; do
  check "separate run $p" 0 G -s 11 -n 2 -o "$TMP/sep-$p-%d.png" "$prompt"
  for k in 0 1; do same_pixels "prompt $p image $k: batch equals separate run" "$TMP/pf-$p-$k.png" "$TMP/sep-$p-$k.png"; done
  p=$((p + 1))
done
check "--prompt-file from stdin, -o without %p" 0 sh -c "printf 'a red fox\na blue bird\n' | \"$J\" generate -m \"$M\" -q -s 11 --index 1 -n 2 --prompt-file - -o \"$TMP/stdin.png\""
same_pixels "stdin prompt file, --index" "$TMP/stdin-1.png" "$TMP/sep-1-1.png"
: > "$TMP/empty.txt"
check "empty prompt file" 3 G --prompt-file "$TMP/empty.txt" -o "$TMP/e-%p.png"
check "prompt and --prompt-file" 2 G --prompt-file "$TMP/prompts.txt" "x"
[ "$fails" = 0 ] && echo "all ok" || echo "$fails failure(s)"
exit $((fails > 0))
