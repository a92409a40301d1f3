#!/usr/bin/env bash
# tests/test_cli_serve_nginx.sh — two `janus serve` replicas behind nginx on loopback, configured by
# docs/nginx-janus.conf (ports substituted): requests spread over both, async job ids and file URLs
# route back to the replica that holds them, streams pass through unbuffered. Skips (77) without
# the server build, nginx, curl or python3.
set -u
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
J=${JANUS_BIN:?}
FX=${JANUS_FIXTURES:?}/janus-tiny-a
TMP=${JANUS_TEST_TMP:?}/cli-serve-nginx
CONF=${JANUS_SOURCE_DIR:-$here/..}/docs/nginx-janus.conf
source "$here/util/serve.sh"
serve_available || { echo "skip: janus built without the server (libmicrohttpd-dev)"; exit 77; }
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || { echo "skip: nginx missing (apt-get install nginx-light)"; exit 77; }
command -v curl >/dev/null && command -v python3 >/dev/null || { echo "skip: curl or python3 missing"; exit 77; }
rm -rf "$TMP"; mkdir -p "$TMP"
R1= R2= NG=
trap 'for p in $R1 $R2 $NG; do kill "$p" 2>/dev/null; done' EXIT
fails=0
M=$TMP/tiny.gguf
"$J" convert "$FX/models/tiny-a" -o "$M" --type f32 >/dev/null 2>&1 || { echo "FAIL convert"; exit 1; }
serve_start "$TMP/r1.log" -m "$M" -t 1 --replica r1 || exit 1; R1=$SERVE_PID; P1=${SERVE_URL##*:}
serve_start "$TMP/r2.log" -m "$M" -t 1 --replica r2 || exit 1; R2=$SERVE_PID; P2=${SERVE_URL##*:}
PN=$(python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
sed -e "s/127.0.0.1:8081/127.0.0.1:$P1/g; s/127.0.0.1:8082/127.0.0.1:$P2/g; s/127.0.0.1:8080/127.0.0.1:$PN/" "$CONF" > "$TMP/janus.conf"
user=""; [ "$(id -u)" = 0 ] && user="user root;"
cat > "$TMP/nginx.conf" <<CONFEOF
$user
worker_processes 1;
daemon off;
pid $TMP/nginx.pid;
error_log $TMP/nginx-error.log;
events { worker_connections 256; }
http {
  access_log $TMP/nginx-access.log;
  client_body_temp_path $TMP/body; proxy_temp_path $TMP/proxy; fastcgi_temp_path $TMP/fcgi;
  uwsgi_temp_path $TMP/uwsgi; scgi_temp_path $TMP/scgi;
  include $TMP/janus.conf;
}
CONFEOF
"$NGINX" -p "$TMP" -c "$TMP/nginx.conf" 2>"$TMP/nginx.out" & NG=$!
U=http://127.0.0.1:$PN
for i in $(seq 50); do curl -sf -o /dev/null "$U/health" && break; sleep 0.1; done
curl -sf -o /dev/null "$U/health" && echo "ok: nginx in front of two replicas" || { echo "FAIL: nginx did not start"; cat "$TMP/nginx.out" "$TMP/nginx-error.log"; exit 1; }

# async jobs land on both replicas; every status poll reaches the replica that owns the job
ids=()
for i in 1 2 3 4; do ids+=("$(curl -s -H 'Content-Type: application/json' -d "{\"prompt\":\"fox $i\",\"seed\":$i,\"response_format\":\"url\"}" "$U/v1/jobs/images" | python3 -c "import json,sys; print(json.load(sys.stdin)['id'])")"); done
printf '%s\n' "${ids[@]}" | grep -q -- '-r1-' && printf '%s\n' "${ids[@]}" | grep -q -- '-r2-' &&
  echo "ok: jobs spread over both replicas (${ids[*]})" || { echo "FAIL: jobs not spread: ${ids[*]}"; fails=$((fails + 1)); }
for id in "${ids[@]}"; do
  st=""
  for i in $(seq 200); do
    code=$(curl -s -o "$TMP/st.json" -w '%{http_code}' "$U/v1/jobs/$id")
    [ "$code" = 200 ] || { st="HTTP $code"; break; }
    st=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['status'])" "$TMP/st.json"); [ "$st" = done ] && break; sleep 0.2
  done
  [ "$st" = done ] || { echo "FAIL: job $id: $st"; fails=$((fails + 1)); continue; }
  url=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['result']['data'][0]['url'])" "$TMP/st.json")
  case "$url" in "$U"/v1/files/*) ;; *) echo "FAIL: file URL $url does not point at nginx"; fails=$((fails + 1));; esac
  curl -sf -o "$TMP/img.png" "$url" && [ "$(head -c 4 "$TMP/img.png" | od -An -c | tr -d ' ')" = '211PNG' ] ||
    { echo "FAIL: $url"; fails=$((fails + 1)); }
done
[ $fails = 0 ] && echo "ok: every job polled and its file fetched through nginx"
# a stream passes through unbuffered: progress events, then the image
curl -sN -H 'Content-Type: application/json' -d '{"prompt":"fox","stream":true}' "$U/v1/images/generations" > "$TMP/stream.txt"
grep -q 'image_generation.progress' "$TMP/stream.txt" && grep -q 'image_generation.completed' "$TMP/stream.txt" && tail -c 20 "$TMP/stream.txt" | grep -q '\[DONE\]' &&
  echo "ok: streamed generation through nginx" || { echo "FAIL: stream through nginx"; fails=$((fails + 1)); }
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' -d '{"messages":[{"role":"user","content":"hi"}],"max_tokens":4}' "$U/v1/chat/completions")
[ "$code" = 200 ] && echo "ok: chat through nginx" || { echo "FAIL: chat through nginx: HTTP $code"; fails=$((fails + 1)); }
kill "$NG"; wait "$NG" 2>/dev/null; NG=
for p in $R1 $R2; do kill -TERM "$p"; wait "$p" || { echo "FAIL: replica exit $?"; fails=$((fails + 1)); }; done
R1= R2=
[ $fails = 0 ] && rm -rf "$TMP"
exit $((fails > 0))
