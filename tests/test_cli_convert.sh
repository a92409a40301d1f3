#!/usr/bin/env bash
# tests/test_cli_convert.sh — the `janus convert` / `janus info` command-line contract: output path
# on stdout, exit codes (0 ok, 2 usage, 3 bad input), --force, --type, info --all. The byte-level
# checks of the conversion itself and the hostile inputs are in tests/test_unit_ckpt.c.
set -u
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
JANUS_BIN="${JANUS_BIN:-janus}"
FIX="${JANUS_FIXTURES:-$here/fixtures}"
TMP="${JANUS_TEST_TMP:-/tmp}/cli-convert"
[ -x "$JANUS_BIN" ] || { echo "FAIL: JANUS_BIN ($JANUS_BIN) is not executable"; exit 1; }
rm -rf "$TMP" && mkdir -p "$TMP" || exit 1
M="$FIX/janus-tiny-a/models/tiny-a"
source "$(dirname "${BASH_SOURCE[0]}")/util/check.sh"
contains() { # contains DESCRIPTION FILE TEXT
  if grep -qF -- "$3" "$2"; then echo "ok: $1"; else echo "FAIL: $1: '$3' not in $2"; head -5 "$2"; fails=$((fails + 1)); fi
}

out="$TMP/tiny.gguf"
check "convert" 0 "$JANUS_BIN" convert "$M" -o "$out"
[ "$(cat "$TMP/out.txt")" = "$out" ] && echo "ok: stdout is the output path" || { echo "FAIL: stdout: $(cat "$TMP/out.txt")"; fails=$((fails + 1)); }
[ -s "$out" ] || { echo "FAIL: no output file"; fails=$((fails + 1)); }
ls "$TMP" | grep -q '\.partial' && { echo "FAIL: temporary file left"; fails=$((fails + 1)); }
sum1="$(cksum < "$out")"

check "info" 0 "$JANUS_BIN" info "$out"
contains "info shows the architecture" "$TMP/out.txt" "janus-pro"
contains "info lists tensors" "$TMP/out.txt" "lm.embed_tokens.weight"
contains "info totals" "$TMP/out.txt" "total: 260 tensors"
contains "info abbreviates long strings" "$TMP/out.txt" "(37865 bytes)"
check "info --all" 0 "$JANUS_BIN" info "$out" --all
contains "info --all prints long strings in full" "$TMP/out.txt" "using natural language.\""
contains "info --all prints long arrays in full" "$TMP/out.txt" '"<|Assistant|>", "<end_of_image>"]'

check "refuse to overwrite without --force" 2 "$JANUS_BIN" convert "$M" -o "$out"
contains "says --force" "$TMP/err.txt" "--force"
[ "$(cksum < "$out")" = "$sum1" ] && echo "ok: existing file untouched" || { echo "FAIL: existing file changed"; fails=$((fails + 1)); }
check "--force --type q8_0" 0 "$JANUS_BIN" convert "$M" -o "$out" --force --type q8_0 -v
contains "-v reports" "$TMP/err.txt" "done in"
check "info q8_0" 0 "$JANUS_BIN" info "$out"
contains "q8_0 tensors listed" "$TMP/out.txt" "q8_0"
contains "file type q8_0" "$TMP/out.txt" "file type: 7 (q8_0)"

check "bad --type" 2 "$JANUS_BIN" convert "$M" -o "$TMP/x.gguf" --type q5_k
check "unknown option" 2 "$JANUS_BIN" convert "$M" -o "$TMP/x.gguf" --frobnicate
check "missing -o" 2 "$JANUS_BIN" convert "$M"
check "missing MODEL_DIR" 2 "$JANUS_BIN" convert
check "convert --help" 0 "$JANUS_BIN" convert --help
check "missing model dir" 3 "$JANUS_BIN" convert "$TMP/nope" -o "$TMP/x.gguf"
mkdir -p "$TMP/empty"
check "dir without weights" 3 "$JANUS_BIN" convert "$TMP/empty" -o "$TMP/x.gguf"
contains "names the missing files" "$TMP/err.txt" "config.json"
check "output directory missing" 3 "$JANUS_BIN" convert "$M" -o "$TMP/no/such/dir/x.gguf"
[ -e "$TMP/x.gguf" ] && { echo "FAIL: output left by a failed convert"; fails=$((fails + 1)); }
check "info: missing file" 3 "$JANUS_BIN" info "$TMP/nope.gguf"
head -c 1000 /dev/urandom > "$TMP/garbage.gguf"
check "info: garbage" 3 "$JANUS_BIN" info "$TMP/garbage.gguf"
check "info: no file" 2 "$JANUS_BIN" info
rm -rf "$TMP"
[ $fails = 0 ] && echo "all ok"
exit $((fails > 0))
