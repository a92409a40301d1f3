# tests/util/image_checks.sh — shared by the CLI shell tests that compare written images (source
# it after check.sh, with JANUS_SOURCE_DIR set): expect runs a condition, same_pixels / differ
# compare the pixels of two PNGs (their metadata may differ), all counting failures in $fails.
IMG="python3 ${JANUS_SOURCE_DIR:?}/tests/util/imgfile.py"
px() { $IMG pixels "$1"; }
expect() { # expect DESCRIPTION COMMAND...: the command must succeed
  local what="$1"; shift
  if "$@"; then echo "ok: $what"; else echo "FAIL: $what"; fails=$((fails + 1)); fi
}
same_pixels() { # same_pixels DESCRIPTION A.png B.png
  if [ "$(px "$2")" = "$(px "$3")" ]; then echo "ok: $1"; else echo "FAIL: $1"; fails=$((fails + 1)); fi
}
differ() { # differ DESCRIPTION A.png B.png
  if [ "$(px "$2")" != "$(px "$3")" ]; then echo "ok: $1"; else echo "FAIL: $1"; fails=$((fails + 1)); fi
}
