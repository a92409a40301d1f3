#!/usr/bin/env bash
# tests/test_cli_serve_browser.sh — headless Chromium against the page of `janus serve`
# (tests/npm/serve_browser.mjs): generate an image, ask about it, screenshot. Skips (77) without the
# server build, node >= 20, playwright-core (npm ci in tests/npm) or Debian's chromium.
set -u
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
J=${JANUS_BIN:?}
FX=${JANUS_FIXTURES:?}/janus-tiny-a
TMP=${JANUS_TEST_TMP:?}/cli-serve-browser
CHROMIUM=${JANUS_CHROMIUM:-/usr/bin/chromium}
source "$here/util/serve.sh"
serve_available || { echo "skip: janus built without the server (libmicrohttpd-dev)"; exit 77; }
command -v node >/dev/null && node -e 'process.exit(parseInt(process.versions.node) >= 20 ? 0 : 1)' || { echo "skip: node >= 20 missing"; exit 77; }
[ -d "$here/npm/node_modules/playwright-core" ] || { echo "skip: run 'npm ci' in tests/npm"; exit 77; }
[ -x "$CHROMIUM" ] || { echo "skip: $CHROMIUM missing (apt-get install chromium)"; exit 77; }
command -v curl >/dev/null || { echo "skip: curl missing"; exit 77; }
rm -rf "$TMP"; mkdir -p "$TMP"
trap '[ -n "${SERVE_PID:-}" ] && kill "$SERVE_PID" 2>/dev/null' EXIT
M=$TMP/tiny.gguf
"$J" convert "$FX/models/tiny-a" -o "$M" --type f32 >/dev/null 2>&1 || { echo "FAIL convert"; exit 1; }
serve_start "$TMP/serve.log" -m "$M" -t 2 || exit 1
(cd "$here/npm" && HOME="$TMP" node serve_browser.mjs "$SERVE_URL" "$TMP/screenshot.png" "$CHROMIUM"); rc=$?
serve_stop || { echo "FAIL: server exit $?"; rc=1; }
SERVE_PID=
# the screenshot stays for inspection when the test fails
[ $rc = 0 ] && { cp "$TMP/screenshot.png" "${JANUS_TEST_TMP}/serve-browser-screenshot.png"; rm -rf "$TMP"; }
exit $rc
