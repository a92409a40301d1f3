# tests/util/serve.sh — start/stop `janus serve` for the server tests (source it; needs J=janus binary).
# serve_available: 0 when this janus was built with the server (libmicrohttpd found).
serve_available() { "$J" serve --help >/dev/null 2>&1; }
# serve_start LOG ARGS...: starts the server on a free loopback port; sets SERVE_PID and SERVE_URL
# once /health answers 200 (at most ~20 s). Returns 1 (and prints the log) on failure.
serve_start() {
  local log="$1"; shift
  "$J" serve --port 0 "$@" 2>"$log" &
  SERVE_PID=$!
  local port="" i
  for i in $(seq 200); do
    [ -z "$port" ] && port=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$log" | head -1 | sed 's/.*://')
    if [ -n "$port" ] && curl -sf -o /dev/null "http://127.0.0.1:$port/health"; then
      SERVE_URL="http://127.0.0.1:$port"; return 0
    fi
    kill -0 "$SERVE_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "server did not start:"; sed 's/^/  log: /' "$log" | tail -20
  kill "$SERVE_PID" 2>/dev/null; wait "$SERVE_PID" 2>/dev/null
  return 1
}
# serve_stop: SIGTERM and wait; returns the server's exit code.
serve_stop() { kill -TERM "$SERVE_PID" 2>/dev/null; wait "$SERVE_PID"; }
