#!/usr/bin/env bash
# scripts/fuzz.sh — builds the libFuzzer targets (tests/fuzz, clang, ASan+UBSan) and runs each for
# FUZZ_SECONDS seconds on its seed corpus (tests/fuzz/corpus/<name>) plus the inputs earlier runs
# found (FUZZ_WORK/<name>). Any crash, sanitizer report, leak, timeout or out-of-memory fails the
# run; the input that caused it is kept in FUZZ_WORK/artifacts/ (turn it into a fix and a
# regression input: tests/fuzz/corpus/<name>/regress-<what>, see docs/robustness.md).
#
# usage: scripts/fuzz.sh [--ci] [--build-only] [--list] [TARGET...]     (TARGET: gguf, zip, ...)
#   --ci          fresh work directory (removed afterwards), logs printed only for failing targets
#   --build-only  configure + build, run nothing
# env: FUZZ_SECONDS (30), FUZZ_JOBS (targets run at once, 2), FUZZ_BUILD_DIR (build-fuzz),
#      FUZZ_WORK (FUZZ_BUILD_DIR/fuzz-work), FUZZ_RSS_MB (2048), FUZZ_TIMEOUT (per input, 25 s),
#      CC (clang).
set -u
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ci=0 build_only=0 list=0
targets=()
for a in "$@"; do
  case "$a" in
    --ci) ci=1 ;;
    --build-only) build_only=1 ;;
    --list) list=1 ;;
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $a" >&2; exit 2 ;;
    *) targets+=("${a#fuzz_}") ;;
  esac
done
seconds="${FUZZ_SECONDS:-30}"
jobs="${FUZZ_JOBS:-2}"
build="${FUZZ_BUILD_DIR:-$root/build-fuzz}"
work="${FUZZ_WORK:-$build/fuzz-work}"
rss="${FUZZ_RSS_MB:-2048}"
per_input="${FUZZ_TIMEOUT:-25}"
cc="${CC:-clang}"
if [ $ci = 1 ]; then work="$(mktemp -d "${TMPDIR:-/tmp}/janus-fuzz-ci.XXXXXX")"; trap 'rm -rf "$work"' EXIT; fi

command -v "$cc" >/dev/null || { echo "fuzz.sh: $cc not found (libFuzzer needs clang)" >&2; exit 2; }
t0=$(date +%s)
mkdir -p "$build"
cmake -S "$root" -B "$build" -DCMAKE_C_COMPILER="$cc" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DJANUS_FUZZ=ON \
  -DJANUS_CUDA=OFF -DJANUS_BUILD_TESTS=OFF -DJANUS_BUILD_SHARED=OFF >"$build/fuzz-configure.log" 2>&1 \
  || { cat "$build/fuzz-configure.log"; echo "fuzz.sh: configure failed" >&2; exit 1; }
all=($(sed 's/^fuzz_//' "$build/fuzz_targets.txt"))
if [ $list = 1 ]; then printf '%s\n' "${all[@]}"; exit 0; fi
[ ${#targets[@]} = 0 ] && targets=("${all[@]}")
for t in "${targets[@]}"; do
  printf '%s\n' "${all[@]}" | grep -qx "$t" || { echo "fuzz.sh: no target '$t' (have: ${all[*]})" >&2; exit 2; }
done
cmake --build "$build" -j"${FUZZ_BUILD_JOBS:-2}" --target $(printf 'fuzz_%s ' "${targets[@]}") >"$build/fuzz-build.log" 2>&1 \
  || { tail -40 "$build/fuzz-build.log"; echo "fuzz.sh: build failed" >&2; exit 1; }
echo "fuzz.sh: built ${#targets[@]} targets in $(( $(date +%s) - t0 )) s"
[ $build_only = 1 ] && exit 0

mkdir -p "$work/artifacts" "$work/logs"
export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:allocator_may_return_null=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"

run_one() { # run_one NAME -> exit status of the fuzzer; log in $work/logs/NAME.log
  local t="$1" dict=() seeds="$root/tests/fuzz/corpus/$1"
  mkdir -p "$work/$t"
  [ -f "$root/tests/fuzz/dict/$t.dict" ] && dict=(-dict="$root/tests/fuzz/dict/$t.dict")
  "$build/tests/fuzz/fuzz_$t" -max_total_time="$seconds" -timeout="$per_input" -rss_limit_mb="$rss" \
    -malloc_limit_mb="$rss" -print_final_stats=1 -artifact_prefix="$work/artifacts/$t-" "${dict[@]}" \
    "$work/$t" "$seeds" >"$work/logs/$t.log" 2>&1
}
summary() { # summary NAME STATUS
  local log="$work/logs/$1.log"
  local execs rate
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  printf '%-18s %-6s %12s execs %8s exec/s\n' "$1" "$2" "${execs:-?}" "${rate:-?}"
}

echo "fuzz.sh: ${#targets[@]} targets x ${seconds} s, $jobs at a time (work: $work)"
declare -A pid_of
failed=()
running=0
next=0
while [ $next -lt ${#targets[@]} ] || [ $running -gt 0 ]; do
  while [ $running -lt "$jobs" ] && [ $next -lt ${#targets[@]} ]; do
    t="${targets[$next]}"
    run_one "$t" &
    pid_of[$!]="$t"
    running=$((running + 1))
    next=$((next + 1))
  done
  wait -n -p done_pid; rc=$?
  t="${pid_of[$done_pid]}"
  running=$((running - 1))
  if [ $rc = 0 ]; then
    summary "$t" ok
  else
    summary "$t" FAIL
    failed+=("$t")
    echo "---- fuzz_$t (exit $rc): last lines of $work/logs/$t.log"
    grep -E "ERROR|SUMMARY|==[0-9]+==|runtime error|Test unit written|deadly signal|timeout|out-of-memory" "$work/logs/$t.log" | head -20
    ls "$work/artifacts/$t-"* 2>/dev/null | sed 's/^/  finding: /'
  fi
done
echo "fuzz.sh: done in $(( $(date +%s) - t0 )) s"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz.sh: FAILED: ${failed[*]}"
  if [ $ci = 1 ]; then mkdir -p "$root/fuzz-findings" && cp "$work/artifacts/"* "$root/fuzz-findings/" 2>/dev/null \
    && echo "fuzz.sh: findings copied to $root/fuzz-findings/"; fi
  exit 1
fi
echo "fuzz.sh: no findings"
