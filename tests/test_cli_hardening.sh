#!/usr/bin/env bash
# tests/test_cli_hardening.sh — hostile and unlucky inputs at the command line (docs/robustness.md):
# special files (FIFO, socket, device, directory) named as inputs are refused without blocking;
# `convert` never replaces one of its own inputs, writes OUT.gguf.partial (locked: a concurrent
# writer is refused, a stale one from a killed run is replaced), and removes it on SIGINT/SIGTERM;
# --dump refuses a non-empty directory; a full disk names the path.
set -u
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
JANUS_BIN="${JANUS_BIN:-janus}"
FIX="${JANUS_FIXTURES:-$here/fixtures}"
TMP="${JANUS_TEST_TMP:-/tmp}/cli-hardening-$$"
[ -x "$JANUS_BIN" ] || { echo "FAIL: JANUS_BIN ($JANUS_BIN) is not executable"; exit 1; }
rm -rf "$TMP" && mkdir -p "$TMP" || exit 1
source "$here/util/check.sh"
contains() { # contains DESCRIPTION FILE TEXT
  if grep -qF -- "$3" "$2"; then echo "ok: $1"; else echo "FAIL: $1: '$3' not in $2"; head -5 "$2"; fails=$((fails + 1)); fi
}
absent() { # absent DESCRIPTION PATH...
  local what="$1"; shift
  for p in "$@"; do [ -e "$p" ] && { echo "FAIL: $what: $p exists"; fails=$((fails + 1)); return; }; done
  echo "ok: $what"
}

# A private copy of the tiny model directory: small files copied, the weights symlinked (a broken
# refusal could then at worst replace the link, never the fixture).
M="$TMP/model"
mkdir -p "$M"
for f in "$FIX"/janus-tiny-a/models/tiny-a/*; do
  case "$f" in *.bin) ln -s "$f" "$M/" ;; *) cp "$f" "$M/" ;; esac
done
G="$TMP/tiny.gguf"
check "convert the tiny model" 0 "$JANUS_BIN" convert "$M" -o "$G"
absent "no temp file after a successful convert" "$G.partial"

# ---- convert --force -o naming one of its own inputs
sum_cfg="$(cksum < "$M/config.json")"
check "-o config.json of MODEL_DIR refused" 2 "$JANUS_BIN" convert "$M" -o "$M/config.json" --force
contains "names the input" "$TMP/err.txt" "config.json"
[ "$(cksum < "$M/config.json")" = "$sum_cfg" ] && echo "ok: input untouched" || { echo "FAIL: config.json changed"; fails=$((fails + 1)); }
check "-o the weights (through a symlink) refused" 2 "$JANUS_BIN" convert "$M" -o "$M/pytorch_model.bin" --force
ln "$M/config.json" "$TMP/hardlink.json"
check "-o a hard link of an input refused" 2 "$JANUS_BIN" convert "$M" -o "$TMP/hardlink.json" --force
[ -L "$M/pytorch_model.bin" ] && echo "ok: weights link untouched" || { echo "FAIL: weights link replaced"; fails=$((fails + 1)); }

# ---- output is a directory
mkdir -p "$TMP/outdir"
check "-o DIR refused" 2 "$JANUS_BIN" convert "$M" -o "$TMP/outdir" --force
contains "says it is a directory" "$TMP/err.txt" "is a directory"

# ---- stale and locked temp files
head -c 12345 /dev/urandom > "$TMP/stale.gguf.partial"
check "a stale OUT.partial (SIGKILLed run) is taken over" 0 "$JANUS_BIN" convert "$M" -o "$TMP/stale.gguf"
absent "stale temp removed" "$TMP/stale.gguf.partial"
cmp -s "$TMP/stale.gguf" "$G" && echo "ok: output complete" || { echo "FAIL: output after stale temp differs"; fails=$((fails + 1)); }
: > "$TMP/locked.gguf.partial"
flock "$TMP/locked.gguf.partial" sleep 20 &
locker=$!
for _ in $(seq 100); do flock -n "$TMP/locked.gguf.partial" true 2>/dev/null || break; sleep 0.05; done
check "a locked OUT.partial (concurrent convert) is refused" 2 "$JANUS_BIN" convert "$M" -o "$TMP/locked.gguf"
contains "says another process writes it" "$TMP/err.txt" "another process"
absent "no output from the refused run" "$TMP/locked.gguf"
kill "$locker" 2>/dev/null; wait "$locker" 2>/dev/null
ln -s "$TMP/victim" "$TMP/link.gguf.partial"
echo precious > "$TMP/victim"
check "a symlink at OUT.partial is not written through" 3 "$JANUS_BIN" convert "$M" -o "$TMP/link.gguf"
[ "$(cat "$TMP/victim")" = precious ] && echo "ok: symlink target untouched" || { echo "FAIL: victim changed"; fails=$((fails + 1)); }

# ---- SIGINT / SIGTERM during convert removes the temp file
for sig in INT TERM; do
  caught=0
  for attempt in 1 2 3 4 5; do
    out="$TMP/sig-$sig-$attempt.gguf"
    "$JANUS_BIN" convert "$M" -o "$out" --type f32 >/dev/null 2>&1 &
    pid=$!
    while kill -0 "$pid" 2>/dev/null && [ ! -e "$out.partial" ]; do :; done
    if kill -"$sig" "$pid" 2>/dev/null && [ ! -e "$out" ]; then
      wait "$pid"; rc=$?
      if [ ! -e "$out" ]; then caught=1; break; fi
    else
      wait "$pid"
    fi
  done
  if [ $caught = 0 ]; then
    echo "ok: SIG$sig: convert always finished before the signal (not checked)"
    continue
  fi
  want=$((128 + $(kill -l "$sig")))
  [ "$rc" = "$want" ] && echo "ok: SIG$sig: died of the signal (exit $rc)" || { echo "FAIL: SIG$sig: exit $rc, want $want"; fails=$((fails + 1)); }
  absent "SIG$sig: temp file removed, no output" "$out.partial" "$out"
done

# ---- special files as inputs: refused at once (timeout: a blocking open would hang)
mkfifo "$TMP/fifo.gguf"
check "FIFO as model (info)" 3 timeout 20 "$JANUS_BIN" info "$TMP/fifo.gguf"
contains "says FIFO" "$TMP/err.txt" "FIFO"
check "FIFO as model (ask)" 3 timeout 20 "$JANUS_BIN" ask -m "$TMP/fifo.gguf" "hi"
check "FIFO as image" 3 timeout 20 "$JANUS_BIN" ask -m "$G" --image "$TMP/fifo.gguf" -n 1 "hi"
contains "image FIFO named" "$TMP/err.txt" "fifo.gguf"
check "FIFO as --tokens" 3 timeout 20 "$JANUS_BIN" decode -m "$G" --tokens "$TMP/fifo.gguf" -o "$TMP/d.png"
contains "tokens FIFO says FIFO" "$TMP/err.txt" "FIFO"
check "device as model" 3 timeout 20 "$JANUS_BIN" info /dev/zero
contains "says device" "$TMP/err.txt" "device"
check "directory as model" 3 timeout 20 "$JANUS_BIN" info "$TMP/outdir"
contains "says directory" "$TMP/err.txt" "is a directory"
check "directory as image" 3 timeout 20 "$JANUS_BIN" ask -m "$G" --image "$TMP/outdir" -n 1 "hi"
contains "image: says directory" "$TMP/err.txt" "is a directory"
if command -v python3 >/dev/null; then
  python3 -c "import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])" "$TMP/sock.gguf" 2>/dev/null
  if [ -S "$TMP/sock.gguf" ]; then
    check "socket as model" 3 timeout 20 "$JANUS_BIN" info "$TMP/sock.gguf"
    contains "says socket" "$TMP/err.txt" "socket"
  fi
fi
rm -f "$TMP/fifo.gguf"
cp -r "$M" "$TMP/model2" && rm -f "$TMP/model2/pytorch_model.bin" && mkfifo "$TMP/model2/pytorch_model.bin"
check "FIFO as the weights" 3 timeout 20 "$JANUS_BIN" convert "$TMP/model2" -o "$TMP/x.gguf"
absent "no output from it" "$TMP/x.gguf" "$TMP/x.gguf.partial"
# (config.json and tokenizer.json are read by api/convert.c and api/tokenizer_api.c; see
# docs/robustness.md for their status)

# ---- --dump DIR
mkdir -p "$TMP/dump"
echo keep > "$TMP/dump/notes.txt"
check "--dump into a non-empty directory refused" 2 "$JANUS_BIN" ask -m "$G" -n 1 --dump "$TMP/dump" "hi"
contains "says not empty" "$TMP/err.txt" "not empty"
[ "$(cat "$TMP/dump/notes.txt")" = keep ] && echo "ok: user file untouched" || { echo "FAIL: dump dir file changed"; fails=$((fails + 1)); }
check "--dump into a new directory works" 0 "$JANUS_BIN" ask -m "$G" -n 1 -t 1 --dump "$TMP/dump-new" "hi"
[ -s "$TMP/dump-new/input_ids.json" ] && echo "ok: dump written" || { echo "FAIL: no dump"; fails=$((fails + 1)); }

# ---- a full disk names the path (needs a small tmpfs: root in a container may not mount)
mkdir -p "$TMP/full"
if mount -t tmpfs -o size=1m tmpfs "$TMP/full" 2>/dev/null; then
  check "convert onto a full disk" 1 "$JANUS_BIN" convert "$M" -o "$TMP/full/x.gguf"
  contains "ENOSPC message" "$TMP/err.txt" "No space left on device"
  contains "names the file" "$TMP/err.txt" "$TMP/full/x.gguf"
  absent "nothing left on the full disk" "$TMP/full/x.gguf" "$TMP/full/x.gguf.partial"
  umount "$TMP/full"
else
  echo "ok: full-disk check skipped (cannot mount a tmpfs here; tests/test_unit_io_hardening.c covers /dev/full)"
fi

rm -rf "$TMP"
[ $fails = 0 ] && echo "all ok"
exit $((fails > 0))
