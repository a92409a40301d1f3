#!/usr/bin/env bash
# tests/test_cli_serve.sh — `janus serve` over curl on loopback, on the tiny model: results equal
# the CLI's ([image, text] chat == `janus ask --image`, generation == `janus generate -s -n`),
# every error path answers with the right status and OpenAI's error shape, async jobs and
# cancellation, streams, a client that leaves cancels its work, the queue bound, and a graceful
# SIGTERM. Skips (77) when the server is not built, or curl / python3 are missing.
set -u
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
J=${JANUS_BIN:?}
FX=${JANUS_FIXTURES:?}/janus-tiny-a
TMP=${JANUS_TEST_TMP:?}/cli-serve
source "$here/util/check.sh"
source "$here/util/serve.sh"
source "$here/util/image_checks.sh"   # same_pixels / differ: PNG pixels, whatever the metadata
serve_available || { echo "skip: janus built without the server (libmicrohttpd-dev)"; exit 77; }
command -v curl >/dev/null || { echo "skip: curl missing"; exit 77; }
command -v python3 >/dev/null || { echo "skip: python3 missing"; exit 77; }
rm -rf "$TMP"; mkdir -p "$TMP"
trap '[ -n "${SERVE_PID:-}" ] && kill "$SERVE_PID" 2>/dev/null; [ -n "${S2_PID:-}" ] && kill "$S2_PID" 2>/dev/null' EXIT
M=$TMP/tiny.gguf
"$J" convert "$FX/models/tiny-a" -o "$M" --type f32 >/dev/null 2>&1 || { echo "FAIL convert"; exit 1; }
IMG=$FX/golden/tiny-a/images/img2_384x384.png
KEY=test-key-123

# json FILE EXPR: prints a Python expression over the parsed body `d`
json() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"; }
# req NAME WANT_STATUS CURL_ARGS...: the response body lands in $TMP/NAME.json
req() {
  local name="$1" want="$2"; shift 2
  local got; got=$(curl -s -o "$TMP/$name.json" -w '%{http_code}' -H "Authorization: Bearer $KEY" "$@")
  if [ "$got" != "$want" ]; then echo "FAIL: $name: HTTP $got, want $want"; head -c 300 "$TMP/$name.json" | sed 's/^/  body: /'; echo; fails=$((fails + 1)); return 1; fi
  echo "ok: $name (HTTP $got)"
}
# err NAME WANT_STATUS WANT_CODE CURL_ARGS...: an error in OpenAI's shape with that code
err() {
  local name="$1" want="$2" code="$3"; shift 3
  req "$name" "$want" "$@" || return
  local c; c=$(json "$TMP/$name.json" "d['error']['code'] if isinstance(d.get('error'), dict) and isinstance(d['error'].get('message'), str) and 'type' in d['error'] else 'NO-ERROR-SHAPE'" 2>/dev/null)
  [ "$c" = "$code" ] || { echo "FAIL: $name: error code '$c', want '$code'"; fails=$((fails + 1)); }
}
chat_body() { # chat_body FILE IMAGE_FILE TEXT MAX_TOKENS: an [image, text] message
  python3 - "$@" <<'PY'
import base64, json, sys
out, img, text, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
url = "data:image/png;base64," + base64.b64encode(open(img, "rb").read()).decode()
json.dump({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}},
                                                      {"type": "text", "text": text}]}], "max_tokens": n}, open(out, "w"))
PY
}

serve_start "$TMP/serve.log" -m "$M" -t 2 --api-key "$KEY" --allow-dir "$FX/golden/tiny-a/images" --max-body 2000000 --replica t1 || exit 1
U=$SERVE_URL
C=(-H "Content-Type: application/json")

# --- health, models, props
curl -s -o "$TMP/health.json" -w '%{http_code}' "$U/health" | grep -q 200 && [ "$(json "$TMP/health.json" "d['status']")" = ok ] &&
  echo "ok: /health without a key" || { echo "FAIL: /health"; fails=$((fails + 1)); }
req models 200 "$U/v1/models" && [ "$(json "$TMP/models.json" "d['data'][0]['id']")" = tiny-a ] || { echo "FAIL: model id"; fails=$((fails + 1)); }
req props 200 "$U/props" && [ "$(json "$TMP/props.json" "d['limits']['max_n']")" = 16 ] || { echo "FAIL: props"; fails=$((fails + 1)); }
req capabilities 200 "$U/v1/capabilities"

# --- chat [image, text] == janus ask --image IMG "text"
chat_body "$TMP/chat.body" "$IMG" "What is this?" 12
"$J" ask -m "$M" --image "$IMG" -n 12 "What is this?" 2>/dev/null | head -c -1 > "$TMP/ask.txt"
req chat 200 "${C[@]}" --data-binary @"$TMP/chat.body" "$U/v1/chat/completions" &&
  python3 -c "import json,sys; sys.stdout.write(json.load(open(sys.argv[1]))['choices'][0]['message']['content'])" "$TMP/chat.json" > "$TMP/chat.txt"
cmp -s "$TMP/ask.txt" "$TMP/chat.txt" && echo "ok: chat [image, text] equals janus ask --image" ||
  { echo "FAIL: chat differs from janus ask"; od -c "$TMP/ask.txt" | head -3; od -c "$TMP/chat.txt" | head -3; fails=$((fails + 1)); }
[ "$(json "$TMP/chat.json" "d['usage']['completion_tokens']")" = 12 ] && [ "$(json "$TMP/chat.json" "d['choices'][0]['finish_reason']")" = length ] &&
  echo "ok: usage and finish_reason" || { echo "FAIL: usage/finish_reason"; fails=$((fails + 1)); }
ask_prompt=$("$J" ask -m "$M" --image "$IMG" -n 12 --json "What is this?" 2>/dev/null | python3 -c "import json,sys; print(json.load(sys.stdin)['prompt_tokens'])")
[ -n "$ask_prompt" ] && [ "$(json "$TMP/chat.json" "d['usage']['prompt_tokens']")" = "$ask_prompt" ] &&
  [ "$(json "$TMP/chat.json" "d['usage']['total_tokens']")" = $((ask_prompt + 12)) ] &&
  echo "ok: usage.prompt_tokens ($ask_prompt) equals janus ask's prompt" || { echo "FAIL: usage.prompt_tokens"; fails=$((fails + 1)); }
# a local path under --allow-dir gives the same answer
python3 -c "import json,sys; json.dump({'messages':[{'role':'user','content':[{'type':'image_url','image_url':{'url':'file://'+sys.argv[1]}},{'type':'text','text':'What is this?'}]}],'max_tokens':12}, open(sys.argv[2],'w'))" "$IMG" "$TMP/local.body"
req chat-local 200 "${C[@]}" --data-binary @"$TMP/local.body" "$U/v1/chat/completions" &&
  [ "$(json "$TMP/chat-local.json" "d['choices'][0]['message']['content']")" = "$(json "$TMP/chat.json" "d['choices'][0]['message']['content']")" ] &&
  echo "ok: --allow-dir path" || { echo "FAIL: --allow-dir path answer"; fails=$((fails + 1)); }
# text-only, a stop sequence cuts the answer
"$J" ask -m "$M" -n 16 "Hello there" 2>/dev/null | head -c -1 > "$TMP/ask2.txt"
req chat-text 200 "${C[@]}" -d '{"messages":[{"role":"system","content":"ignored"},{"role":"user","content":"Hello there"}],"max_tokens":16}' "$U/v1/chat/completions"
python3 -c "import json,sys; sys.stdout.write(json.load(open(sys.argv[1]))['choices'][0]['message']['content'])" "$TMP/chat-text.json" > "$TMP/chat2.txt"
cmp -s "$TMP/ask2.txt" "$TMP/chat2.txt" && echo "ok: text-only chat equals janus ask" || { echo "FAIL: text-only chat differs"; fails=$((fails + 1)); }
stop=$(python3 -c "import sys; t=open(sys.argv[1],encoding='utf-8',errors='replace').read(); print(t[3:5] if len(t) > 5 else '')" "$TMP/ask2.txt")
if [ -n "$stop" ]; then
  python3 -c "import json,sys; json.dump({'messages':[{'role':'user','content':'Hello there'}],'max_tokens':16,'stop':[sys.argv[1]]}, open(sys.argv[2],'w'))" "$stop" "$TMP/stop.body"
  req chat-stop 200 "${C[@]}" --data-binary @"$TMP/stop.body" "$U/v1/chat/completions" &&
    python3 - "$TMP/chat-stop.json" "$TMP/ask2.txt" "$stop" <<'PY' && echo "ok: stop sequence" || { echo "FAIL: stop sequence"; fails=$((fails + 1)); }
import json, sys
d = json.load(open(sys.argv[1])); full = open(sys.argv[2], encoding="utf-8", errors="replace").read()
got = d["choices"][0]["message"]["content"]
sys.exit(0 if got == full[:full.find(sys.argv[3])] and d["choices"][0]["finish_reason"] == "stop" else 1)
PY
fi
# streamed chat: chunks, then [DONE]; the deltas add up to the answer
curl -sN -H "Authorization: Bearer $KEY" "${C[@]}" --data-binary @<(python3 -c "import json,sys; d=json.load(open(sys.argv[1])); d['stream']=True; print(json.dumps(d))" "$TMP/chat.body") "$U/v1/chat/completions" > "$TMP/stream.txt"
python3 - "$TMP/stream.txt" "$TMP/ask.txt" <<'PY' && echo "ok: streamed chat" || { echo "FAIL: streamed chat"; head -c 400 "$TMP/stream.txt"; fails=$((fails + 1)); }
import json, sys
lines = [l[6:] for l in open(sys.argv[1], encoding="utf-8").read().split("\n") if l.startswith("data: ")]
assert lines[-1] == "[DONE]", lines[-1]
chunks = [json.loads(l) for l in lines[:-1]]
assert all(c["object"] == "chat.completion.chunk" for c in chunks)
text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
assert text == open(sys.argv[2], encoding="utf-8").read(), (text, )
assert chunks[-1]["choices"][0]["finish_reason"] == "length"
PY

# --- generation == janus generate -s 7 -n 2 (the same pixels; the CLI's text chunks differ)
"$J" generate -m "$M" -s 7 -n 2 -o "$TMP/cli-%d.png" "a red fox" >/dev/null 2>&1
req gen 200 "${C[@]}" -d '{"prompt":"a red fox","n":2,"seed":7,"size":"384x384"}' "$U/v1/images/generations" &&
  python3 -c "
import base64, json, sys
d = json.load(open(sys.argv[1]))
for i, x in enumerate(d['data']): open(sys.argv[2] + '/srv-%d.png' % i, 'wb').write(base64.b64decode(x['b64_json']))" "$TMP/gen.json" "$TMP"
same_pixels "generation image 0 equals janus generate -s 7 -n 2" "$TMP/cli-0.png" "$TMP/srv-0.png"
same_pixels "generation image 1 equals janus generate -s 7 -n 2" "$TMP/cli-1.png" "$TMP/srv-1.png"
# response_format=url serves the same file; jpeg output is a JPEG
req gen-url 200 "${C[@]}" -d '{"prompt":"a red fox","seed":7,"response_format":"url"}' "$U/v1/images/generations" &&
  curl -s -H "Authorization: Bearer $KEY" -o "$TMP/url.png" "$(json "$TMP/gen-url.json" "d['data'][0]['url']")"
same_pixels "response_format url serves the image" "$TMP/url.png" "$TMP/cli-0.png"
req gen-negative 200 "${C[@]}" -d '{"prompt":"a red fox","seed":7,"negative_prompt":"blurry"}' "$U/v1/images/generations" &&
  python3 -c "
import base64, json, sys
open(sys.argv[2], 'wb').write(base64.b64decode(json.load(open(sys.argv[1]))['data'][0]['b64_json']))" "$TMP/gen-negative.json" "$TMP/neg.png"
"$J" generate -m "$M" -s 7 --negative-prompt blurry -o "$TMP/cli-neg.png" "a red fox" >/dev/null 2>&1 &&
  same_pixels "negative_prompt equals janus generate --negative-prompt" "$TMP/neg.png" "$TMP/cli-neg.png" ||
  differ "negative_prompt changes the image" "$TMP/neg.png" "$TMP/cli-0.png"
# streamed generation: progress events up to 576, then the image, then [DONE]
curl -sN -H "Authorization: Bearer $KEY" "${C[@]}" -d '{"prompt":"a red fox","seed":7,"stream":true,"output_format":"jpeg"}' "$U/v1/images/generations" > "$TMP/gstream.txt"
python3 - "$TMP/gstream.txt" <<'PY' && echo "ok: streamed generation" || { echo "FAIL: streamed generation"; head -c 300 "$TMP/gstream.txt"; fails=$((fails + 1)); }
import base64, json, sys
lines = [l[6:] for l in open(sys.argv[1]).read().split("\n") if l.startswith("data: ")]
assert lines[-1] == "[DONE]"
ev = [json.loads(l) for l in lines[:-1]]
prog = [e for e in ev if e["type"] == "image_generation.progress"]
done = [e for e in ev if e["type"] == "image_generation.completed"]
assert len(prog) >= 2 and all(e["total_steps"] == 576 for e in prog), len(prog)
assert [e["step"] for e in prog] == sorted(e["step"] for e in prog)
assert len(done) == 1 and base64.b64decode(done[0]["b64_json"])[:3] == b"\xff\xd8\xff"
PY

# --- async jobs: 202 + id; status with step/576; done with the result; cancel
req job 202 "${C[@]}" -d '{"prompt":"a red fox","seed":7}' "$U/v1/jobs/images"
JOB=$(json "$TMP/job.json" "d['id']")
case "$JOB" in img-t1-*) echo "ok: job id carries the replica ($JOB)";; *) echo "FAIL: job id '$JOB'"; fails=$((fails + 1));; esac
for i in $(seq 100); do
  curl -s -H "Authorization: Bearer $KEY" "$U/v1/jobs/$JOB" > "$TMP/jobst.json"
  st=$(json "$TMP/jobst.json" "d['status']"); [ "$st" = done ] && break; sleep 0.2
done
[ "$st" = done ] && python3 -c "
import base64, json, sys
d = json.load(open(sys.argv[1])); assert d['step'] == 576 and d['total_steps'] == 576
open(sys.argv[2], 'wb').write(base64.b64decode(d['result']['data'][0]['b64_json']))" "$TMP/jobst.json" "$TMP/job.png" &&
  echo "ok: job done" || { echo "FAIL: job result (status $st)"; fails=$((fails + 1)); }
same_pixels "the job's image equals the CLI's" "$TMP/job.png" "$TMP/cli-0.png"
# a job cancelled while queued or running ends cancelled (16 images: it is still running when the
# cancel arrives, unless the machine is very fast; then the check says so and is skipped)
req job2 202 "${C[@]}" -d '{"prompt":"a red fox","n":16}' "$U/v1/jobs/images"
JOB2=$(sed -n 's/^{"id":"\([^"]*\)".*/\1/p' "$TMP/job2.json")
req cancel 200 -X POST "$U/v1/jobs/$JOB2/cancel"
at_cancel=$(json "$TMP/cancel.json" "d['status']")
for i in $(seq 100); do
  st=$(curl -s -H "Authorization: Bearer $KEY" "$U/v1/jobs/$JOB2" | python3 -c "import json,sys; print(json.load(sys.stdin)['status'])")
  [ "$st" = cancelled ] || [ "$st" = done ] && break; sleep 0.1
done
if [ "$at_cancel" = done ]; then echo "skip: job finished before its cancel arrived"
elif [ "$st" = cancelled ]; then echo "ok: job cancelled while $at_cancel"
else echo "FAIL: job status after cancel while $at_cancel: $st"; fails=$((fails + 1)); fi
err job-unknown 404 job_not_found "$U/v1/jobs/img-t1-nope"

# --- a client that leaves cancels its generation
curl -s -m 0.7 -H "Authorization: Bearer $KEY" "${C[@]}" -d '{"prompt":"slow","n":8}' "$U/v1/images/generations" >/dev/null 2>&1
for i in $(seq 50); do
  [ "$(curl -s "$U/health" | python3 -c "import json,sys; print(json.load(sys.stdin)['running'])")" = 0 ] && break; sleep 0.1
done
[ "$i" -lt 50 ] && echo "ok: a departed client's generation is cancelled" || { echo "FAIL: work continues after the client left"; fails=$((fails + 1)); }

# --- errors
err bad-json 400 invalid_json "${C[@]}" -d '{"messages": [' "$U/v1/chat/completions"
err not-object 400 invalid_json "${C[@]}" -d '[1,2]' "$U/v1/chat/completions"
err messages-type 400 invalid_value "${C[@]}" -d '{"messages":"hi"}' "$U/v1/chat/completions"
err no-messages 400 missing_field "${C[@]}" -d '{}' "$U/v1/chat/completions"
err temp-type 400 invalid_type "${C[@]}" -d '{"messages":[{"role":"user","content":"x"}],"temperature":"hot"}' "$U/v1/chat/completions"
err temp-range 400 invalid_value "${C[@]}" -d '{"messages":[{"role":"user","content":"x"}],"temperature":-1}' "$U/v1/chat/completions"
err max-tokens 400 invalid_value "${C[@]}" -d '{"messages":[{"role":"user","content":"x"}],"max_tokens":0}' "$U/v1/chat/completions"
err last-assistant 400 invalid_value "${C[@]}" -d '{"messages":[{"role":"user","content":"x"},{"role":"assistant","content":"y"}]}' "$U/v1/chat/completions"
err bad-role 400 invalid_value "${C[@]}" -d '{"messages":[{"role":"wizard","content":"x"}]}' "$U/v1/chat/completions"
err literal-tag 400 invalid_value "${C[@]}" -d '{"messages":[{"role":"user","content":"<image_placeholder> hi"}]}' "$U/v1/chat/completions"
err bad-base64 400 invalid_base64 "${C[@]}" -d '{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,@@@@"}}]}]}' "$U/v1/chat/completions"
err not-image 400 invalid_image "${C[@]}" -d "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:image/png;base64,$(printf 'hello, not an image' | base64 -w0)\"}}]}]}" "$U/v1/chat/completions"
head -c 200 "$IMG" > "$TMP/trunc.png"
err truncated-png 400 invalid_image "${C[@]}" -d "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:image/png;base64,$(base64 -w0 "$TMP/trunc.png")\"}}]}]}" "$U/v1/chat/completions"
err remote-url 400 remote_url_refused "${C[@]}" -d '{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://example.com/a.png"}}]}]}' "$U/v1/chat/completions"
err outside-dir 400 local_path_refused "${C[@]}" -d '{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"file:///etc/passwd"}}]}]}' "$U/v1/chat/completions"
err dotdot 400 local_path_refused "${C[@]}" -d "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\",\"image_url\":{\"url\":\"$FX/golden/tiny-a/images/../../../models/tiny-a/config.json\"}}]}]}" "$U/v1/chat/completions"
err bad-part 400 invalid_value "${C[@]}" -d '{"messages":[{"role":"user","content":[{"type":"audio"}]}]}' "$U/v1/chat/completions"
err size 400 unsupported_size "${C[@]}" -d '{"prompt":"x","size":"512x512"}' "$U/v1/images/generations"
grep -q 384x384 "$TMP/size.json" && echo "ok: the size error names 384x384" || { echo "FAIL: size message"; fails=$((fails + 1)); }
err n-big 400 invalid_value "${C[@]}" -d '{"prompt":"x","n":17}' "$U/v1/images/generations"
err n-type 400 invalid_type "${C[@]}" -d '{"prompt":"x","n":"two"}' "$U/v1/images/generations"
err no-prompt 400 missing_field "${C[@]}" -d '{"n":1}' "$U/v1/images/generations"
err resp-format 400 invalid_value "${C[@]}" -d '{"prompt":"x","response_format":"gif"}' "$U/v1/images/generations"
err seed-neg 400 invalid_type "${C[@]}" -d '{"prompt":"x","seed":-3}' "$U/v1/images/generations"
head -c 3000000 /dev/zero | tr '\0' 'a' > "$TMP/big.body"
err big-body 413 body_too_large "${C[@]}" --data-binary @"$TMP/big.body" "$U/v1/chat/completions"
err big-chunked 413 body_too_large "${C[@]}" -H "Transfer-Encoding: chunked" --data-binary @"$TMP/big.body" "$U/v1/chat/completions"
err unknown-route 404 not_found "$U/v1/nothing"
err wrong-method 405 method_not_allowed "$U/v1/chat/completions"
code=$(curl -s -o "$TMP/nokey.json" -w '%{http_code}' "$U/v1/models"); [ "$code" = 401 ] && grep -q invalid_api_key "$TMP/nokey.json" &&
  echo "ok: missing API key is 401" || { echo "FAIL: missing key: HTTP $code"; fails=$((fails + 1)); }
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer wrong" "$U/v1/models"); [ "$code" = 401 ] &&
  echo "ok: wrong API key is 401" || { echo "FAIL: wrong key: HTTP $code"; fails=$((fails + 1)); }
code=$(curl -s -o /dev/null -w '%{http_code}' "$U/"); [ "$code" = 200 ] && echo "ok: the page needs no key" || { echo "FAIL: page HTTP $code"; fails=$((fails + 1)); }
curl -s -D "$TMP/hdr.txt" -o /dev/null -H "Authorization: Bearer $KEY" "$U/v1/models"
grep -qi '^access-control-allow-origin' "$TMP/hdr.txt" && { echo "FAIL: CORS header without --cors"; fails=$((fails + 1)); } || echo "ok: no CORS without --cors"
grep -q '"GET /v1/models" 200' "$TMP/serve.log" && grep -q '"POST /v1/chat/completions" 400' "$TMP/serve.log" &&
  echo "ok: access log" || { echo "FAIL: access log lines"; fails=$((fails + 1)); }

# --- graceful SIGTERM: a running request completes, then exit 0
curl -s -o "$TMP/last.json" -w '%{http_code}' -H "Authorization: Bearer $KEY" "${C[@]}" -d '{"prompt":"a red fox","seed":7}' "$U/v1/images/generations" > "$TMP/last.code" &
CURL=$!
for i in $(seq 200); do [ "$(curl -s "$U/health" | python3 -c "import json,sys; print(json.load(sys.stdin)['running'])")" = 1 ] && break; sleep 0.05; done
serve_stop; rc=$?
wait $CURL
[ "$rc" = 0 ] && echo "ok: SIGTERM exits 0" || { echo "FAIL: exit $rc after SIGTERM"; tail -5 "$TMP/serve.log"; fails=$((fails + 1)); }
[ "$(cat "$TMP/last.code")" = 200 ] && echo "ok: the running request finished during shutdown" || { echo "FAIL: request during shutdown: HTTP $(cat "$TMP/last.code")"; fails=$((fails + 1)); }
SERVE_PID=

# --- queue bound: 503 + Retry-After; CORS on; no local paths without --allow-dir
serve_start "$TMP/serve2.log" -m "$M" -t 1 --max-queue 1 --cors http://localhost:9999 --grace 0 --timeout 2 --max-conn 4 || exit 1
S2_PID=$SERVE_PID; U2=$SERVE_URL
for i in 1 2 3 4; do curl -s -D "$TMP/q$i.hdr" -o /dev/null "${C[@]}" -d '{"prompt":"x","n":2}' "$U2/v1/jobs/images"; done
grep -l '^HTTP/1.1 503' "$TMP"/q*.hdr | head -1 | xargs -r grep -qi '^Retry-After:' && echo "ok: full queue is 503 + Retry-After" ||
  { echo "FAIL: no 503 with Retry-After from a full queue"; fails=$((fails + 1)); }
curl -s -D "$TMP/cors.hdr" -o /dev/null "$U2/v1/models"; grep -qi '^access-control-allow-origin: http://localhost:9999' "$TMP/cors.hdr" &&
  echo "ok: --cors" || { echo "FAIL: --cors header"; fails=$((fails + 1)); }
code=$(curl -s -o /dev/null -w '%{http_code}' -X OPTIONS "$U2/v1/chat/completions"); [ "$code" = 204 ] && echo "ok: CORS preflight" || { echo "FAIL: preflight HTTP $code"; fails=$((fails + 1)); }
code=$(curl -s -o "$TMP/nodir.json" -w '%{http_code}' "${C[@]}" -d "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\",\"image_url\":{\"url\":\"$IMG\"}}]}]}" "$U2/v1/chat/completions")
[ "$code" = 400 ] && grep -q allow-dir "$TMP/nodir.json" && echo "ok: local paths refused without --allow-dir" || { echo "FAIL: local path without --allow-dir: HTTP $code"; fails=$((fails + 1)); }
# a slow client (half a request line, then nothing) is dropped after --timeout; meanwhile the
# connection limit leaves room for others
python3 - "${U2##*:}" <<'PY' && echo "ok: a slow client is dropped after --timeout" || { echo "FAIL: slow client kept"; fails=$((fails + 1)); }
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
s.settimeout(10)
t0 = time.time()
try:
    data = s.recv(100)
except socket.timeout:
    sys.exit(1)
sys.exit(0 if time.time() - t0 < 8 else 1)
PY
SERVE_PID=$S2_PID; serve_stop; rc=$?; S2_PID=; SERVE_PID=
[ "$rc" = 0 ] && echo "ok: SIGTERM with queued jobs and --grace 0 exits 0" || { echo "FAIL: exit $rc"; fails=$((fails + 1)); }

# --- bad flags
check "serve without -m" 2 "$J" serve
check "serve bad --port" 2 "$J" serve -m "$M" --port 70000
check "serve missing model" 3 "$J" serve -m "$TMP/missing.gguf" --port 0

[ $fails = 0 ] && rm -rf "$TMP"
exit $((fails > 0))
