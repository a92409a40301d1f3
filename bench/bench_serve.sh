#!/usr/bin/env bash
# bench/bench_serve.sh — throughput of `janus serve` on the full-size random Janus-Pro-1B: requests
# per minute for chat (an image + a question, MAX_TOKENS-token answers) and for image generation
# (n = 1 per request), each at CLIENTS concurrent clients, measured with the load script the tests
# use (tests/npm/serve_load.mjs: requests started for SECONDS, in-flight ones finish after it;
# requests/min count the whole run). Writes a markdown table.
#
# usage: bench/bench_serve.sh [OUT.md]     (default bench/work/serve.md; also printed)
# env:   TYPE=q4_0  CLIENTS="1 4 16"  SECONDS_CHAT=90  SECONDS_IMAGES=60  MAX_TOKENS=64
#        THREADS=$(nproc)  CHAT_BATCH=16  MAX_N=16   BENCH_DATA as in bench/common.sh
set -eu
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
TYPE="${TYPE:-q4_0}"
CLIENTS="${CLIENTS:-1 4 16}"
SECONDS_CHAT="${SECONDS_CHAT:-90}"
SECONDS_IMAGES="${SECONDS_IMAGES:-60}"
MAX_TOKENS="${MAX_TOKENS:-64}"
THREADS="${THREADS:-$(nproc)}"
CHAT_BATCH="${CHAT_BATCH:-16}"
MAX_N="${MAX_N:-16}"
OUT="${1:-$work/serve.md}"
command -v node >/dev/null || { echo "node is needed (tests/npm/serve_load.mjs)" >&2; exit 2; }
J=$JANUS
source "$root/tests/util/serve.sh"
serve_available || { echo "this janus was built without the server" >&2; exit 2; }
tmp=$(mktemp -d)
trap '[ -n "${SERVE_PID:-}" ] && kill "$SERVE_PID" 2>/dev/null; rm -rf "$tmp"' EXIT
m=$(ensure_gguf "$TYPE")
"$PYTHON" - "$tmp/img.png" <<'PY'
import random, struct, sys, zlib
def chunk(t, d):
    return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
rnd = random.Random(7)
raw = b"".join(b"\0" + bytes(rnd.getrandbits(8) for _ in range(384 * 3)) for _ in range(384))
png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 384, 384, 8, 2, 0, 0, 0))
open(sys.argv[1], "wb").write(png + chunk(b"IDAT", zlib.compress(raw, 1)) + chunk(b"IEND", b""))
PY
serve_start "$tmp/serve.log" -m "$m" -t "$THREADS" --chat-batch "$CHAT_BATCH" --max-n "$MAX_N" --max-tokens 4096 --timeout 600 || exit 1
for mix in chat images; do
  secs=$SECONDS_CHAT; [ $mix = images ] && secs=$SECONDS_IMAGES
  for c in $CLIENTS; do
    echo "$mix, $c client(s), ${secs} s ..." >&2
    node "$root/tests/npm/serve_load.mjs" --url "$SERVE_URL" --pid "$SERVE_PID" --image "$tmp/img.png" --mix $mix \
      --clients "$c" --seconds "$secs" --max-tokens "$MAX_TOKENS" --rss-growth-mb 100000 --timeout-s 1800 --json "$tmp/$mix.$c.json" >&2 || true
  done
done
serve_stop || true
SERVE_PID=
"$PYTHON" - "$tmp" "$CLIENTS" > "$OUT" <<PY
import json, os, sys
d, clients = sys.argv[1], sys.argv[2].split()
print("# janus serve throughput")
print()
print("$(date -u '+%Y-%m-%d %H:%M UTC'), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) CPUs, "
      "-t $THREADS, full-size random Janus-Pro-1B $TYPE, chat: one 384x384 image + a question, $MAX_TOKENS-token answers; "
      "images: n = 1 per request")
print()
print("| requests | clients | completed | requests/min | p50 s | p95 s | failures | server RSS peak, MiB |")
print("|---|---|---|---|---|---|---|---|")
for mix in ("chat", "images"):
    for c in clients:
        try:
            r = json.load(open(os.path.join(d, f"{mix}.{c}.json")))
        except Exception:
            print(f"| {mix} | {c} | – | – | – | – | – | – |")
            continue
        s = r[mix]
        print(f"| {mix} | {c} | {s['n']} | {s['per_min']} | {s['p50_ms'] / 1e3:.1f} | {s['p95_ms'] / 1e3:.1f} | "
              f"{r['failures']} | {r['rss_mb']['peak']:.0f} |")
PY
cat "$OUT"
