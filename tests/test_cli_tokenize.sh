#!/usr/bin/env bash
# tests/test_cli_tokenize.sh — the `janus tokenize` command-line contract: text/ids on the command
# line, JSONL in both directions (all 433 corpus records of the DeepSeek-LLM tokenizer against the
# Rust library's ids_transformers / decoded / decoded_skip_special), --model with a converted GGUF,
# and exit codes (2 usage, 3 bad tokenizer or input line). The exhaustive tokenizer checks are in
# tests/test_unit_tokenizer.c.
set -u
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
JANUS_BIN="${JANUS_BIN:-janus}"
FIX="${JANUS_FIXTURES:-$here/fixtures}"
TMP="${JANUS_TEST_TMP:-/tmp}/cli-tokenize"
[ -x "$JANUS_BIN" ] || { echo "FAIL: JANUS_BIN ($JANUS_BIN) is not executable"; exit 1; }
rm -rf "$TMP" && mkdir -p "$TMP/ds" || exit 1
source "$(dirname "${BASH_SOURCE[0]}")/util/check.sh"
same() { # same DESCRIPTION GOT WANT
  if [ "$2" = "$3" ]; then echo "ok: $1"; else echo "FAIL: $1: got '$2', want '$3'"; fails=$((fails + 1)); fi
}

DSDIR="$FIX/tokenizers/deepseek_llm_7b_base_recon"
gzip -dc "$DSDIR/tokenizer.json.gz" >"$TMP/ds/tokenizer.json" || { echo "FAIL: gunzip"; exit 1; }
cp "$DSDIR/tokenizer_config.json" "$TMP/ds/"
DS="$TMP/ds/tokenizer.json"
VEC="$FIX/tokenizers/vectors/deepseek_llm_7b_base_recon.jsonl"

# --- command-line text and ids (spec §2.2 test vector)
check "encode args" 0 "$JANUS_BIN" tokenize --tokenizer "$DS" --add-special "Hello," "how are you?"
same "encode args: ids" "$(cat "$TMP/out.txt")" "100000 17464 11 946 418 340 30"
check "encode without BOS" 0 "$JANUS_BIN" tokenize --tokenizer "$DS" "Hello world"
same "encode without BOS: ids" "$(cat "$TMP/out.txt")" "17464 1843"
check "decode args" 0 "$JANUS_BIN" tokenize --tokenizer "$DS" --decode 100000 17464 11 946 418 340 30
same "decode args: text" "$(cat "$TMP/out.txt")" "<｜begin▁of▁sentence｜>Hello, how are you?"
check "decode --skip-special" 0 "$JANUS_BIN" tokenize --tokenizer "$DS" --decode --skip-special "100000,17464,1843"
same "decode --skip-special: text" "$(cat "$TMP/out.txt")" "Hello world"

# --- JSONL over the whole corpus
check "jsonl encode (corpus)" 0 "$JANUS_BIN" tokenize --tokenizer "$DS" --add-special --jsonl "$FIX/tokenizers/vectors/corpus.jsonl"
cp "$TMP/out.txt" "$TMP/ids.jsonl"
grep -o '"ids_transformers":\[[^]]*\]' "$VEC" | sed 's/^"ids_transformers":/{"ids":/; s/$/}/' >"$TMP/want_ids.jsonl"
if cmp -s "$TMP/ids.jsonl" "$TMP/want_ids.jsonl" && [ "$(wc -l <"$TMP/ids.jsonl")" = 433 ]; then
  echo "ok: jsonl ids == ids_transformers for 433 records"
else
  echo "FAIL: jsonl ids differ from ids_transformers"; diff "$TMP/ids.jsonl" "$TMP/want_ids.jsonl" | head -6; fails=$((fails + 1))
fi
check "jsonl encode from stdin" 0 sh -c "\"$JANUS_BIN\" tokenize --tokenizer \"$DS\" --add-special --jsonl < \"$FIX/tokenizers/vectors/corpus.jsonl\""
cmp -s "$TMP/out.txt" "$TMP/ids.jsonl" && echo "ok: stdin == file" || { echo "FAIL: stdin output differs"; fails=$((fails + 1)); }
# decode: the vector records carry "ids" (other members are skipped)
check "jsonl decode" 0 "$JANUS_BIN" tokenize --tokenizer "$DS" --decode --jsonl "$VEC"
cp "$TMP/out.txt" "$TMP/dec.jsonl"
check "jsonl decode --skip-special" 0 "$JANUS_BIN" tokenize --tokenizer "$DS" --decode --skip-special --jsonl "$TMP/ids.jsonl"
cp "$TMP/out.txt" "$TMP/dec_skip.jsonl"
if command -v jq >/dev/null 2>&1; then
  # jq re-serializes both sides, so only the decoded strings are compared, not escaping choices
  jq -c '{text: .decoded}' "$VEC" >"$TMP/want_dec.jsonl"; jq -c . "$TMP/dec.jsonl" >"$TMP/got_dec.jsonl"
  cmp -s "$TMP/got_dec.jsonl" "$TMP/want_dec.jsonl" && echo "ok: jsonl decode == decoded (433)" ||
    { echo "FAIL: jsonl decode differs"; diff "$TMP/got_dec.jsonl" "$TMP/want_dec.jsonl" | head -6; fails=$((fails + 1)); }
  jq -c '{text: .decoded_skip_special}' "$VEC" >"$TMP/want_skip.jsonl"; jq -c . "$TMP/dec_skip.jsonl" >"$TMP/got_skip.jsonl"
  cmp -s "$TMP/got_skip.jsonl" "$TMP/want_skip.jsonl" && echo "ok: jsonl decode --skip-special == decoded_skip_special (433)" ||
    { echo "FAIL: jsonl decode --skip-special differs"; diff "$TMP/got_skip.jsonl" "$TMP/want_skip.jsonl" | head -6; fails=$((fails + 1)); }
  # escaping: control characters, quotes, backslashes, U+2028 survive a round trip
  printf '{"text":"a\\"b\\\\c\\u0001\\u007f\\u2028\\t\\nd"}\n' >"$TMP/esc.jsonl"
  "$JANUS_BIN" tokenize --tokenizer "$DS" --jsonl "$TMP/esc.jsonl" | "$JANUS_BIN" tokenize --tokenizer "$DS" --decode --jsonl >"$TMP/esc_out.jsonl"
  same "escaping round trip" "$(jq -c . "$TMP/esc_out.jsonl")" "$(jq -c . "$TMP/esc.jsonl")"
  same "escaped output" "$(cat "$TMP/esc_out.jsonl")" '{"text":"a\"b\\c\u0001\u007f\u2028\t\nd"}'
else
  echo "skip: jq not installed, decoded text comparison skipped"
fi

# --- tiny-a tokenizer.json with its tokenizer_config.json (BOS 996), and the same through a GGUF
TINY="$FIX/janus-tiny-a/models/tiny-a"
check "tiny-a encode" 0 "$JANUS_BIN" tokenize --tokenizer "$TINY/tokenizer.json" --add-special "Hello world"
same "tiny-a ids" "$(cat "$TMP/out.txt")" "996 39 68 75 561 522 78 81 738"
if "$JANUS_BIN" convert "$TINY" -o "$TMP/tiny.gguf" >/dev/null 2>"$TMP/convert.err"; then
  check "gguf encode" 0 "$JANUS_BIN" tokenize -m "$TMP/tiny.gguf" --add-special "Hello world"
  same "gguf ids" "$(cat "$TMP/out.txt")" "996 39 68 75 561 522 78 81 738"
  check "gguf decode" 0 "$JANUS_BIN" tokenize --model "$TMP/tiny.gguf" --decode 996 39 68 75 561 522 78 81 738
  same "gguf text" "$(cat "$TMP/out.txt")" "<｜begin▁of▁sentence｜>Hello world"
else
  echo "skip: janus convert failed, --model part not run: $(head -1 "$TMP/convert.err")"
fi

# --- usage errors: exit 2
check "no tokenizer" 2 "$JANUS_BIN" tokenize "hello"
check "unknown option" 2 "$JANUS_BIN" tokenize --tokenizer "$DS" --bogus
check "bad id" 2 "$JANUS_BIN" tokenize --tokenizer "$DS" --decode 12 abc
check "decode without ids" 2 "$JANUS_BIN" tokenize --tokenizer "$DS" --decode
check "--skip-special without --decode" 2 "$JANUS_BIN" tokenize --tokenizer "$DS" --skip-special hi
check "both --model and --tokenizer" 2 "$JANUS_BIN" tokenize --tokenizer "$DS" -m x.gguf hi
check "--help" 0 "$JANUS_BIN" tokenize --help

# --- bad tokenizer / input: exit 3
check "missing tokenizer.json" 3 "$JANUS_BIN" tokenize --tokenizer "$TMP/nope.json" hi
printf '{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["a b"]}}' >"$TMP/bad.json"
check "malformed tokenizer.json" 3 "$JANUS_BIN" tokenize --tokenizer "$TMP/bad.json" hi
grep -q "model.merges\[0\]" "$TMP/err.txt" && echo "ok: error names the field" || { echo "FAIL: error: $(cat "$TMP/err.txt")"; fails=$((fails + 1)); }
check "missing gguf" 3 "$JANUS_BIN" tokenize -m "$TMP/nope.gguf" hi
printf '{"text": "ok"}\n{"text": 5}\n' >"$TMP/badline.jsonl"
check "bad jsonl line" 3 "$JANUS_BIN" tokenize --tokenizer "$DS" --jsonl "$TMP/badline.jsonl"
grep -q "line 2" "$TMP/err.txt" && echo "ok: error names the line" || { echo "FAIL: error: $(cat "$TMP/err.txt")"; fails=$((fails + 1)); }
printf '{"text": "bad \xff byte"}\n' >"$TMP/badutf.jsonl"
check "invalid UTF-8 text" 3 "$JANUS_BIN" tokenize --tokenizer "$DS" --jsonl "$TMP/badutf.jsonl"
printf '{"text": "\\ud800"}\n' >"$TMP/surrogate.jsonl"
check "lone surrogate" 3 "$JANUS_BIN" tokenize --tokenizer "$DS" --jsonl "$TMP/surrogate.jsonl"
printf '{"ids": [1, -2]}\n' >"$TMP/negid.jsonl"
check "negative id" 3 "$JANUS_BIN" tokenize --tokenizer "$DS" --decode --jsonl "$TMP/negid.jsonl"
check "missing jsonl file" 3 "$JANUS_BIN" tokenize --tokenizer "$DS" --jsonl "$TMP/none.jsonl"

if [ "$fails" -ne 0 ]; then echo "$fails check(s) failed"; exit 1; fi
echo "all tokenize CLI checks passed"
