#!/usr/bin/env bash
# tests/test_cli_caption.sh — `janus caption` on the tiny model: a folder tree with mixed formats
# and a corrupt file, list files and stdin lists, a short video, sidecars, the hf format,
# --prefix/--suffix, resume after SIGKILL and torn-line repair, three shards against one run, and
# batched captions against --batch 1 and against `janus ask`. Exit codes as documented.
set -u
J=${JANUS_BIN:?}
FX=${JANUS_FIXTURES:?}/janus-tiny-a
TMP=${JANUS_TEST_TMP:?}/cli-caption
rm -rf "$TMP"; mkdir -p "$TMP"
. "$(dirname "$0")/util/check.sh"
command -v python3 >/dev/null || { echo "SKIP: python3 (reads the JSONL records) is not installed"; exit 77; }
IMG=$FX/golden/tiny-a/images
M=$TMP/tiny.gguf
"$J" convert "$FX/models/tiny-a" -o "$M" --type f32 >/dev/null 2>"$TMP/convert.err" || { cat "$TMP/convert.err"; echo "FAIL convert"; exit 1; }
expect() { # DESCRIPTION COMMAND... : a check that passes when the command succeeds
  local what="$1"; shift
  if "$@"; then echo "ok: $what"; else echo "FAIL: $what"; fails=$((fails + 1)); fi
}
# jq-like helper: prints field values of the records in a file, one per line ("path caption", ...)
fields() { # FILE FIELD...
  python3 - "$@" <<'PY'
import json, sys
for line in open(sys.argv[1], encoding="utf-8"):
    r = json.loads(line)
    print("\t".join(str(r.get(f, "")) for f in sys.argv[2:]))
PY
}
C="caption -m $M -n 6 -q"

# --- a tree: png, jpg, bmp (FFmpeg), a corrupt png, a text file and a hidden image (both ignored)
D=$TMP/data
mkdir -p "$D/a/b" "$D/empty"
cp "$IMG/img2_384x384.png" "$D/a/x.png"
cp "$IMG/img1_300x500.jpg" "$D/a/b/y.JPG"
cp "$IMG/img3_37x23.png" "$D/c.png"
cp "$IMG/img3_37x23.png" "$D/.hidden.png"
printf 'not an image at all' > "$D/corrupt.png"
echo notes > "$D/notes.txt"
python3 - "$D/d.bmp" <<'PY'
import struct, sys
w, h = 20, 12
row = b"".join(bytes(((x * 12) % 256, (y * 20) % 256, 128)) for y in [0] for x in range(w))
pad = (4 - (w * 3) % 4) % 4
pix = b"".join(bytes(b for x in range(w) for b in ((x * 12) % 256, (y * 20) % 256, 128)) + b"\0" * pad for y in range(h))
hdr = struct.pack("<2sIHHI", b"BM", 54 + len(pix), 0, 0, 54) + struct.pack("<IiiHHIIiiII", 40, w, h, 1, 24, 0, len(pix), 2835, 2835, 0, 0)
open(sys.argv[1], "wb").write(hdr + pix)
PY
check "folder with a corrupt file exits 4" 4 "$J" $C "$D" -o "$TMP/tree.jsonl"
fields "$TMP/tree.jsonl" path | sort > "$TMP/tree.paths" # records come in completion order
printf '%s\n' "$D/a/b/y.JPG" "$D/a/x.png" "$D/c.png" "$D/corrupt.png" "$D/d.bmp" > "$TMP/tree.want"
expect "folder: hidden and non-image files skipped" cmp -s "$TMP/tree.paths" "$TMP/tree.want"
expect "corrupt file: an error record naming it" grep -q '"path": "[^"]*corrupt.png", "error": "[^"]*corrupt.png' "$TMP/tree.jsonl"
expect "other items captioned" test "$(grep -c '"caption"' "$TMP/tree.jsonl")" = 4
cp "$TMP/tree.jsonl" "$TMP/tree.keep"
check "existing output refused" 2 "$J" $C "$D" -o "$TMP/tree.jsonl"
expect "refused run leaves the output as it was" cmp -s "$TMP/tree.jsonl" "$TMP/tree.keep"
check "--force replaces it" 4 "$J" $C "$D" -o "$TMP/tree.jsonl" --force
expect "--force: same records" test "$(fields "$TMP/tree.jsonl" path caption | sort)" = "$(fields "$TMP/tree.keep" path caption | sort)"

# --- list file (relative to the list's folder, '#' comments, CRLF) and the same list on stdin
printf '# images\r\na/x.png\r\n./c.png\r\n\r\na/b/y.JPG\r\n' > "$D/list.txt"
check "@list" 0 "$J" $C "@$D/list.txt" -o "$TMP/list.jsonl"
fields "$TMP/list.jsonl" path | sort > "$TMP/list.paths"
printf '%s\n' "$D/a/b/y.JPG" "$D/a/x.png" "$D/c.png" > "$TMP/list.want"
expect "@list: paths relative to the list" cmp -s "$TMP/list.paths" "$TMP/list.want"
(cd "$D" && "$J" $C - -o "$TMP/stdin.jsonl" < list.txt); check "stdin list" 0 test $? = 0
expect "stdin list: the same captions" test "$(fields "$TMP/stdin.jsonl" caption | sort)" = "$(fields "$TMP/list.jsonl" caption | sort)"
expect "captions do not depend on the folder they were listed from" \
  test "$(grep -F "$D/c.png" "$TMP/tree.jsonl" | sed 's/.*"caption"/"caption"/; s/, "n_tokens".*//')" = \
       "$(grep -F '"c.png"' "$TMP/stdin.jsonl" | sed 's/.*"caption"/"caption"/; s/, "n_tokens".*//')"
check "missing list file exits 3" 3 "$J" $C "@$TMP/missing.txt"
printf 'a/x.png\n%s\n' "$TMP/missing.png" > "$TMP/withmissing.txt"
check "list naming a missing file exits 4" 4 "$J" $C "@$TMP/withmissing.txt" -o "$TMP/wm.jsonl"
expect "missing file: an error record" grep -q '"error": ".*missing.png' "$TMP/wm.jsonl"

# --- usage and model errors
check "no input" 2 "$J" caption -m "$M"
check "no model" 2 "$J" caption "$D"
check "bad --shard" 2 "$J" $C "$D" --shard 3/3
check "--resume with --force" 2 "$J" $C "$D" -o "$TMP/x.jsonl" --resume --force
check "--every with --frames" 2 "$J" $C "$D" --every 1 --frames 2
check "unknown option" 2 "$J" $C "$D" --bogus
check "missing model exits 3" 3 "$J" caption -m "$TMP/missing.gguf" "$D"
expect "a refused run creates no output" test ! -e "$TMP/x.jsonl"

# --- a short video (YUV4MPEG: 23 frames at 10 fps, 0 .. 2.2 s), read through FFmpeg
python3 - "$TMP/clip.y4m" <<'PY'
import sys
w, h, fps, n = 64, 48, 10, 23
with open(sys.argv[1], "wb") as f:
    f.write(b"YUV4MPEG2 W%d H%d F%d:1 Ip A1:1 C420jpeg\n" % (w, h, fps))
    for i in range(n):
        f.write(b"FRAME\n" + bytes(((x * 4 + i * 11) % 256) for x in range(w)) * h
                + bytes([(i * 37) % 256]) * (w * h // 4) + bytes([(255 - i * 20) % 256]) * (w * h // 4))
PY
if "$J" ask -m "$M" -n 1 --image "$TMP/clip.y4m" --at 1 "q" >/dev/null 2>"$TMP/video.err"; then
  check "video --every 1" 0 "$J" $C "$TMP/clip.y4m" -o "$TMP/v1.jsonl"
  expect "video --every 1: frames at 0, 1, 2 s" test "$(fields "$TMP/v1.jsonl" frame_time | sort -n | tr '\n' ' ')" = "0.0 1.0 2.0 "
  check "video --frames 3" 0 "$J" $C "$TMP/clip.y4m" --frames 3 -o "$TMP/v3.jsonl"
  expect "video --frames 3: first, middle, last frame" test "$(fields "$TMP/v3.jsonl" frame_time | sort -n | tr '\n' ' ')" = "0.0 1.1 2.2 "
  "$J" ask -m "$M" -n 6 --image "$TMP/clip.y4m" --at 1 "Describe this image in detail." > "$TMP/v_ask.txt" 2>/dev/null
  expect "video frame caption equals janus ask --at" python3 - "$TMP/v1.jsonl" "$TMP/v_ask.txt" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
ask = open(sys.argv[2], "rb").read().decode("utf-8", "replace")[:-1]
sys.exit(0 if [r["caption"] for r in recs if r["frame_time"] == 1.0] == [ask] else 1)
PY
  check "video sidecars" 0 "$J" $C "$TMP/clip.y4m" --sidecar
  expect "video sidecar per frame" test -f "$TMP/clip_2.000s.txt"
else
  echo "SKIP: video cases (this build reads no video: $(head -c 200 "$TMP/video.err"))"
fi

# --- sidecars: beside each image, atomic, never replacing one without --force; hf format
S=$TMP/side
cp -r "$D" "$S"; rm -f "$S/corrupt.png" "$S/list.txt"
echo "mine" > "$S/c.txt"
check "--sidecar" 0 "$J" $C "$S" --sidecar -o "$TMP/side.jsonl"
expect "sidecar holds the caption" test "$(cat "$S/a/x.txt")" = "$(fields "$TMP/side.jsonl" path caption | grep -F "$S/a/x.png" | cut -f2)"
expect "existing sidecar kept" test "$(cat "$S/c.txt")" = mine
expect "no temporary files left" test -z "$(find "$S" -name '*janus-tmp*')"
check "--sidecar again: all done" 0 "$J" caption -m "$M" -n 6 "$S" --sidecar
expect "sidecar-only rerun skips what has a sidecar" grep -q "4 items, 4 already done, 0 to caption" "$TMP/err.txt"
check "--sidecar --force" 0 "$J" $C "$S" --sidecar --force --sidecar-ext .caption
expect "--sidecar-ext" test -f "$S/a/b/y.caption"
check "--format hf" 4 "$J" $C "$D" --format hf -o "$TMP/metadata.jsonl"
fields "$TMP/metadata.jsonl" file_name | sort > "$TMP/hf.names"
printf '%s\n' a/b/y.JPG a/x.png c.png d.bmp > "$TMP/hf.want"
expect "hf: file_name relative to the folder, no error records" cmp -s "$TMP/hf.names" "$TMP/hf.want"
expect "hf: text is the caption" test "$(fields "$TMP/metadata.jsonl" text | sort)" = "$(fields "$TMP/tree.keep" caption | grep . | sort)"
expect "hf: the error on stderr" grep -q "corrupt.png" "$TMP/err.txt"

# --- prefix / suffix
check "--prefix --suffix" 0 "$J" $C "$D/c.png" --prefix "sks photo, " --suffix " [end]" -o "$TMP/ps.jsonl"
expect "prefix + caption + suffix" test "$(fields "$TMP/ps.jsonl" caption)" = "sks photo, $(fields "$TMP/tree.keep" path caption | grep -F "$D/c.png" | cut -f2) [end]"
check "prompt placeholders" 0 "$J" $C "$D/c.png" --prompt "File {name}, stem {stem}, in {folder}." -o "$TMP/ph.jsonl"
"$J" ask -m "$M" -n 6 --image "$D/c.png" "File c.png, stem c, in data." > "$TMP/ph_ask.txt" 2>/dev/null
expect "placeholders expanded as janus ask sees them" python3 - "$TMP/ph.jsonl" "$TMP/ph_ask.txt" <<'PY'
import json, sys
r = json.loads(open(sys.argv[1], encoding="utf-8").readline())
sys.exit(0 if r["caption"] == open(sys.argv[2], "rb").read().decode("utf-8", "replace")[:-1] else 1)
PY

# --- many items (copies under distinct names) for resume, shards and batching
B=$TMP/many
mkdir -p "$B"
for i in $(seq -w 1 24); do
  case $((10#$i % 4)) in 0) src=img0_640x427.png;; 1) src=img1_300x500.jpg;; 2) src=img2_384x384.png;; 3) src=img3_37x23.png;; esac
  ext=${src##*.}; cp "$IMG/$src" "$B/item$i.$ext"
done
# batch 8 == batch 1 == janus ask (greedy)
check "--batch 1" 0 "$J" caption -m "$M" -n 12 -q "$B" --batch 1 -o "$TMP/b1.jsonl"
check "--batch 8" 0 "$J" caption -m "$M" -n 12 -q "$B" --batch 8 -o "$TMP/b8.jsonl"
expect "batch 8 captions equal batch 1" test "$(fields "$TMP/b8.jsonl" path caption n_tokens | sort)" = "$(fields "$TMP/b1.jsonl" path caption n_tokens | sort)"
for i in 01 02 03; do
  f=$(ls "$B"/item$i.*)
  "$J" ask -m "$M" -n 12 --image "$f" "Describe this image in detail." > "$TMP/ask$i.txt" 2>/dev/null
  expect "batch 8 caption of item$i equals janus ask" python3 - "$TMP/b8.jsonl" "$f" "$TMP/ask$i.txt" <<'PY'
import json, sys
cap = [json.loads(l)["caption"] for l in open(sys.argv[1], encoding="utf-8") if json.loads(l)["path"] == sys.argv[2]]
ask = open(sys.argv[3], "rb").read().decode("utf-8", "replace")[:-1]
sys.exit(0 if cap == [ask] else 1)
PY
done
# three shards: disjoint, and together the single run
for k in 0 1 2; do check "--shard $k/3" 0 "$J" caption -m "$M" -n 12 -q "$B" --shard $k/3 -o "$TMP/s$k.jsonl"; done
expect "every shard has work" test -s "$TMP/s0.jsonl" -a -s "$TMP/s1.jsonl" -a -s "$TMP/s2.jsonl"
expect "three shards concatenated = one run" test "$(cat "$TMP"/s[012].jsonl > "$TMP/s.jsonl"; fields "$TMP/s.jsonl" path caption | sort)" = "$(fields "$TMP/b1.jsonl" path caption | sort)"
# the shard of an item depends on its path relative to the input, not where the data is mounted
cp -r "$B" "$TMP/elsewhere"
"$J" caption -m "$M" -n 12 -q "$TMP/elsewhere" --shard 1/3 -o "$TMP/s1b.jsonl" 2>/dev/null
expect "shards agree across mount points" test "$(fields "$TMP/s1b.jsonl" path | xargs -n1 basename | sort)" = "$(fields "$TMP/s1.jsonl" path | xargs -n1 basename | sort)"
if command -v parallel >/dev/null; then
  parallel --will-cite -j 3 "$J" caption -m "$M" -n 12 -q "$B" --shard {}/3 -o "$TMP/p{}.jsonl" ::: 0 1 2
  expect "GNU parallel shards = one run" test "$(cat "$TMP"/p[012].jsonl | python3 -c 'import json,sys; [print(json.loads(l)["path"], json.loads(l)["caption"]) for l in sys.stdin]' | sort)" = "$(fields "$TMP/b1.jsonl" path caption | tr '\t' ' ' | sort)"
else
  echo "SKIP: GNU parallel is not installed (recipe in docs/caption.md)"
fi

# --- resume: SIGKILL mid-run, then --resume: every item exactly once, no torn line
"$J" caption -m "$M" -n 40 -q "$B" --batch 2 -t 1 -o "$TMP/kill.jsonl" 2>/dev/null &
pid=$!
for _ in $(seq 1 400); do [ -s "$TMP/kill.jsonl" ] && break; sleep 0.02; done
kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
n_before=$(wc -l < "$TMP/kill.jsonl")
expect "killed run left some records ($n_before of 24)" test "$n_before" -ge 1 -a "$n_before" -lt 24
check "--resume after SIGKILL" 0 "$J" caption -m "$M" -n 40 -q "$B" --batch 2 -o "$TMP/kill.jsonl" --resume
check "uninterrupted reference run" 0 "$J" caption -m "$M" -n 40 -q "$B" --batch 2 -o "$TMP/ref.jsonl"
expect "resumed: one record per item, equal to an uninterrupted run" \
  test "$(fields "$TMP/kill.jsonl" path caption | sort)" = "$(fields "$TMP/ref.jsonl" path caption | sort)"
# a torn last line (a crash in the middle of a write) is cut off and its item redone
head -n 5 "$TMP/ref.jsonl" > "$TMP/torn.jsonl"
sed -n 6p "$TMP/ref.jsonl" | head -c 40 >> "$TMP/torn.jsonl"
check "--resume repairs a torn line" 0 "$J" caption -m "$M" -n 40 "$B" --batch 2 -o "$TMP/torn.jsonl" --resume
expect "torn line reported" grep -q "torn last line" "$TMP/err.txt"
expect "repaired: valid JSONL equal to an uninterrupted run" \
  test "$(fields "$TMP/torn.jsonl" path caption | sort)" = "$(fields "$TMP/ref.jsonl" path caption | sort)"
check "--resume with nothing left" 0 "$J" caption -m "$M" -n 40 "$B" -o "$TMP/torn.jsonl" --resume
expect "nothing left: nothing appended" test "$(wc -l < "$TMP/torn.jsonl")" = 24

echo "$fails failures"
[ "$fails" = 0 ]
