#!/usr/bin/env bash
# tests/test_cli_chat.sh — `janus chat` through a pipe and the `janus ask` input options on the
# tiny model: the first chat answer to /image X + question equals `janus ask --image X question`,
# the second equals ask with the first turn as --turn history, /clear starts over, /save writes
# JSON; ask reads the question from stdin (-) and from -f FILE, --json parses, bad images fail
# before the model loads and a failing ask prints nothing on stdout.
set -u
J=${JANUS_BIN:?}
FX=${JANUS_FIXTURES:?}/janus-tiny-a
TMP=${JANUS_TEST_TMP:?}/cli-chat
rm -rf "$TMP"; mkdir -p "$TMP"
. "${JANUS_SOURCE_DIR:?}/tests/util/check.sh"
. "$JANUS_SOURCE_DIR/tests/util/image_checks.sh"
python3 -c 'import json' 2>/dev/null || { echo "python3 missing: skipped"; exit 77; }
M=$TMP/tiny.gguf
"$J" convert "$FX/models/tiny-a" -o "$M" --type f32 >/dev/null 2>&1 || { echo "FAIL: convert"; exit 1; }
I=$FX/golden/tiny-a/images/img2_384x384.png
I2=$FX/golden/tiny-a/images/img1_300x500.jpg

# --- the answers to compare against
check "ask" 0 "$J" ask -m "$M" -q -n 8 --image "$I" "What is this?"; cp "$TMP/out.txt" "$TMP/ask1.txt"
check "ask text-only" 0 "$J" ask -m "$M" -q -n 8 "Hello there"; cp "$TMP/out.txt" "$TMP/ask_text.txt"
answer1=$(cat "$TMP/ask1.txt")
check "ask with the first turn as history" 0 "$J" ask -m "$M" -q -n 8 --image "$I" --turn "<image_placeholder>
What is this?" "$answer1" "And the colours?"; cp "$TMP/out.txt" "$TMP/ask2.txt"

# --- chat through a pipe
printf '/image %s\nWhat is this?\nAnd the colours?\n/save %s\n/clear\nHello there\n/quit\nnot read\n' "$I" "$TMP/chat.json" > "$TMP/script.txt"
check "chat script" 0 sh -c "\"$J\" chat -m \"$M\" -n 8 < \"$TMP/script.txt\""
expect "3 answers" [ "$(wc -l < "$TMP/out.txt")" = 3 ]
expect "first answer equals janus ask" [ "$(sed -n 1p "$TMP/out.txt")" = "$answer1" ]
expect "second answer equals ask with --turn history" [ "$(sed -n 2p "$TMP/out.txt")" = "$(cat "$TMP/ask2.txt")" ]
expect "after /clear: a fresh conversation" [ "$(sed -n 3p "$TMP/out.txt")" = "$(cat "$TMP/ask_text.txt")" ]
expect "summary line" grep -q "total" "$TMP/err.txt"
expect "/save writes the transcript as JSON" python3 - "$TMP/chat.json" "$answer1" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))
ok = len(t["turns"]) == 2 and t["turns"][0]["assistant"] == sys.argv[2] and "What is this?" in t["turns"][0]["user"]
sys.exit(0 if ok else 1)
PY
check "chat --image equals /image" 0 sh -c "printf 'What is this?\n' | \"$J\" chat -m \"$M\" -q -n 8 --image \"$I\""
expect "chat --image answer" [ "$(cat "$TMP/out.txt")" = "$answer1" ]
check "chat: a bad /image and an unknown command are reported, the chat goes on" 1 sh -c "printf '/image %s\n/bogus\nHello there\n' \"$TMP/missing.png\" | \"$J\" chat -m \"$M\" -q -n 8"
expect "the chat went on" [ "$(cat "$TMP/out.txt")" = "$(cat "$TMP/ask_text.txt")" ]
expect "the missing image is named" grep -q "missing.png" "$TMP/err.txt"
check "chat: two images in one turn" 0 sh -c "printf '/image %s\n/image %s\nCompare them.\n' \"$I\" \"$I2\" | \"$J\" chat -m \"$M\" -q -n 4"
check "ask: two images" 0 "$J" ask -m "$M" -q -n 4 --image "$I" --image "$I2" "Compare them."
expect "two-image chat equals ask" [ "$(cat "$TMP/out.txt")" = "$(sh -c "printf '/image %s\n/image %s\nCompare them.\n' \"$I\" \"$I2\" | \"$J\" chat -m \"$M\" -q -n 4")" ]

# --- ask: the question from stdin and from a file, -p
check "ask - (stdin)" 0 sh -c "printf 'What is this?\n' | \"$J\" ask -m \"$M\" -q -n 8 --image \"$I\" -"
expect "stdin question" [ "$(cat "$TMP/out.txt")" = "$answer1" ]
printf 'What is this?\n' > "$TMP/q.txt"
check "ask -f" 0 "$J" ask -m "$M" -q -n 8 --image "$I" -f "$TMP/q.txt"
expect "file question" [ "$(cat "$TMP/out.txt")" = "$answer1" ]
check "ask -p" 0 "$J" ask -m "$M" -q -n 8 --image "$I" -p "What is this?"
expect "-p question" [ "$(cat "$TMP/out.txt")" = "$answer1" ]
check "ask -f missing" 3 "$J" ask -m "$M" -q -f "$TMP/missing.txt"
check "ask: question twice" 2 "$J" ask -m "$M" -q -f "$TMP/q.txt" "again"

# --- ask --json
check "ask --json" 0 "$J" ask -m "$M" -q -n 8 --image "$I" --json "What is this?"
expect "JSON parses, answer as in text mode" python3 - "$TMP/out.txt" "$answer1" <<'PY'
import json, sys
lines = open(sys.argv[1]).read().splitlines()
o = json.loads(lines[0])
ok = len(lines) == 1 and o["answer"] == sys.argv[2] and o["tokens"] >= 1 and o["prompt_tokens"] > 576 and "total_s" in o["timings"]
sys.exit(0 if ok else 1)
PY

# --- on a terminal (a pty): history recall with the up arrow (libedit builds only)
if "$J" chat --help | grep -q "history (libedit)"; then
  expect "chat on a terminal: the up arrow recalls the last question" python3 - "$J" "$M" "$I" "$TMP/tty.json" <<'PY'
import json, os, pty, select, sys, time
j, model, img, save = sys.argv[1:5]
pid, fd = pty.fork()
if pid == 0:
    os.execv(j, [j, "chat", "-m", model, "-n", "4", "--image", img])
buf = b""
def until(pat, timeout=60):
    global buf
    end = time.time() + timeout
    while pat not in buf:
        r, _, _ = select.select([fd], [], [], max(0.0, end - time.time()))
        if not r:
            raise SystemExit("timeout waiting for %r; got %r" % (pat, buf[-300:]))
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            raise SystemExit("chat exited; got %r" % buf[-300:])
        buf += chunk
    buf = buf[buf.index(pat) + len(pat):]
until(b"> [image] ")
os.write(fd, b"What is this?\r")
until(b"\n> ")
os.write(fd, b"\x1b[A\r")  # up arrow: the same question again, from the history
until(b"\n> ")
os.write(fd, ("/save %s\r" % save).encode())
until(b"> ")
os.write(fd, b"/quit\r")
os.waitpid(pid, 0)
t = json.load(open(save))
users = [x["user"] for x in t["turns"]]
sys.exit(0 if len(users) == 2 and all("What is this?" in u for u in users) else 1)
PY
else
  echo "skip: janus chat built without libedit (no line editing to test)"
fi

# --- failures: images before the model, nothing on stdout
check "bad image fails before the model loads" 3 "$J" ask -m "$TMP/no-such-model.gguf" --image "$TMP/missing.png" "q"
expect "the message names the image" grep -q "missing.png" "$TMP/err.txt"
expect "nothing on stdout" [ ! -s "$TMP/out.txt" ]
printf 'not an image' > "$TMP/garbage.png"
check "chat: bad --image before the model" 3 "$J" chat -m "$TMP/no-such-model.gguf" --image "$TMP/garbage.png"
check "ask --json failure" 3 "$J" ask -m "$M" --json --image "$TMP/garbage.png" "q"
expect "nothing on stdout (--json)" [ ! -s "$TMP/out.txt" ]
[ "$fails" = 0 ] && echo "all ok" || echo "$fails failure(s)"
exit $((fails > 0))
