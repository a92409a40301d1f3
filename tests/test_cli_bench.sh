#!/usr/bin/env bash
# tests/test_cli_bench.sh — `janus bench` on the tiny model: every phase reports a positive figure
# in its JSON line, more decode tokens than prompt tokens works (it read past the prompt's ids
# once), each K/V cache type runs, and bad flags are usage errors.
set -u
J=${JANUS_BIN:?}
FX=${JANUS_FIXTURES:?}/janus-tiny-a
TMP=${JANUS_TEST_TMP:?}/cli-bench
rm -rf "$TMP"; mkdir -p "$TMP"
. "$(dirname "$0")/util/check.sh"
M=$TMP/tiny.gguf
"$J" convert "$FX/models/tiny-a" -o "$M" --type f32 >/dev/null 2>&1 || { echo "FAIL convert"; exit 1; }
positive() { # positive WHAT FIELD... : each JSON field of stdout's last line is > 0
  local what=$1; shift
  python3 - "$TMP/out.txt" "$@" <<'PY' && echo "ok: $what reports $*" || { echo "FAIL: $what"; fails=$((fails + 1)); }
import json, sys
r = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
bad = [f for f in sys.argv[2:] if not (isinstance(r.get(f), (int, float)) and r[f] > 0)]
if bad:
    print("  fields not positive:", bad, r)
    sys.exit(1)
PY
}
check "bench, every phase" 0 "$J" bench -m "$M" -t 2 --steps 4 -q
positive "bench" vision_s prefill_tok_per_s decode_tok_per_s vq_decode_s gen_step_s gen_image_s peak_rss_mib
check "bench --prefill 4 --decode 40 (more decode tokens than prompt tokens)" 0 "$J" bench -m "$M" --only text --prefill 4 --decode 40 -q
positive "short prompt, long decode" prefill_tok_per_s decode_tok_per_s
for kv in f32 bf16 f16; do
  check "bench --kv-type $kv, 2 images" 0 "$J" bench -m "$M" --only gen -n 2 --steps 3 --kv-type $kv -q
  positive "--kv-type $kv" gen_step_s
done
check "bench --only nonsense" 2 "$J" bench -m "$M" --only nonsense
check "bench --kv-type f8" 2 "$J" bench -m "$M" --kv-type f8
check "bench without a model" 2 "$J" bench
[ "$fails" = 0 ] && { rm -rf "$TMP"; echo "all bench checks passed"; exit 0; }
echo "$fails check(s) failed"; exit 1
