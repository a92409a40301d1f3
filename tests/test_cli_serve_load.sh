#!/usr/bin/env bash
# tests/test_cli_serve_load.sh — bounded load on loopback (tests/npm/serve_load.mjs): 16 concurrent
# clients mix chat with an image and image generation for JANUS_SERVE_LOAD_S seconds (default 25; in-flight requests finish after it)
# on the tiny model; zero failures, /health answers (< 2 s) throughout, RSS grows at most
# JANUS_SERVE_LOAD_RSS_MB (default 64) past the warm-up. Skips (77) without the server or node >= 20.
set -u
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
J=${JANUS_BIN:?}
FX=${JANUS_FIXTURES:?}/janus-tiny-a
TMP=${JANUS_TEST_TMP:?}/cli-serve-load
source "$here/util/serve.sh"
serve_available || { echo "skip: janus built without the server (libmicrohttpd-dev)"; exit 77; }
command -v node >/dev/null && node -e 'process.exit(parseInt(process.versions.node) >= 20 ? 0 : 1)' || { echo "skip: node >= 20 missing"; exit 77; }
command -v curl >/dev/null || { echo "skip: curl missing"; exit 77; }
rm -rf "$TMP"; mkdir -p "$TMP"
trap '[ -n "${SERVE_PID:-}" ] && kill "$SERVE_PID" 2>/dev/null' EXIT
M=$TMP/tiny.gguf
"$J" convert "$FX/models/tiny-a" -o "$M" --type f32 >/dev/null 2>&1 || { echo "FAIL convert"; exit 1; }
serve_start "$TMP/serve.log" -m "$M" -t 2 --chat-batch 8 || exit 1
node "$here/npm/serve_load.mjs" --url "$SERVE_URL" --pid "$SERVE_PID" --image "$FX/golden/tiny-a/images/img2_384x384.png" \
  --clients 16 --seconds "${JANUS_SERVE_LOAD_S:-25}" --images-every 3 --rss-growth-mb "${JANUS_SERVE_LOAD_RSS_MB:-64}"; rc=$?
serve_stop || { echo "FAIL: server exit $?"; rc=1; }
SERVE_PID=
grep -c '" 200 ' "$TMP/serve.log" | sed 's/^/access log: 200 lines: /'
[ $rc = 0 ] && rm -rf "$TMP"
exit $rc
