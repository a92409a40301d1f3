#!/usr/bin/env bash
# tests/test_cli_serve_npm.sh — the official `openai` npm client against `janus serve` on loopback
# (tests/npm/serve_openai.mjs): results equal the CLI's for the same inputs. Skips (77) without the
# server build, node >= 20 or `npm ci` in tests/npm.
set -u
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
J=${JANUS_BIN:?}
FX=${JANUS_FIXTURES:?}/janus-tiny-a
TMP=${JANUS_TEST_TMP:?}/cli-serve-npm
source "$here/util/serve.sh"
serve_available || { echo "skip: janus built without the server (libmicrohttpd-dev)"; exit 77; }
command -v node >/dev/null && node -e 'process.exit(parseInt(process.versions.node) >= 20 ? 0 : 1)' || { echo "skip: node >= 20 missing"; exit 77; }
[ -d "$here/npm/node_modules/openai" ] || { echo "skip: run 'npm ci' in tests/npm"; exit 77; }
command -v curl >/dev/null || { echo "skip: curl missing"; exit 77; }
rm -rf "$TMP"; mkdir -p "$TMP"
trap '[ -n "${SERVE_PID:-}" ] && kill "$SERVE_PID" 2>/dev/null' EXIT
M=$TMP/tiny.gguf
IMG=$FX/golden/tiny-a/images/img2_384x384.png
"$J" convert "$FX/models/tiny-a" -o "$M" --type f32 >/dev/null 2>&1 || { echo "FAIL convert"; exit 1; }
"$J" ask -m "$M" --image "$IMG" -n 12 "What is this?" 2>/dev/null | head -c -1 > "$TMP/ask.txt"
"$J" generate -m "$M" -s 7 -n 2 -o "$TMP/cli-%d.png" "a red fox" >/dev/null 2>&1 || { echo "FAIL generate"; exit 1; }
serve_start "$TMP/serve.log" -m "$M" -t 2 --api-key npm-key || exit 1
(cd "$here/npm" && node serve_openai.mjs "$SERVE_URL" npm-key "$IMG" "$TMP/ask.txt" "$TMP/cli-0.png" "$TMP/cli-1.png"); rc=$?
serve_stop || { echo "FAIL: server exit $?"; rc=1; }
SERVE_PID=
[ $rc = 0 ] && rm -rf "$TMP"
exit $rc
