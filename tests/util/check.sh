# tests/util/check.sh — shared by the shell tests (source it after setting TMP): check runs a
# command and compares its exit code, counting failures in $fails; its stdout/stderr land in
# $TMP/out.txt and $TMP/err.txt for further checks.
fails=0
check() { # check DESCRIPTION WANT_EXIT COMMAND...
  local what="$1" want="$2"; shift 2
  "$@" >"$TMP/out.txt" 2>"$TMP/err.txt"; local got=$?
  if [ "$got" != "$want" ]; then
    echo "FAIL: $what: exit $got, want $want"; sed 's/^/  stderr: /' "$TMP/err.txt" | head -5; fails=$((fails + 1))
  else
    echo "ok: $what (exit $got)"
  fi
}
