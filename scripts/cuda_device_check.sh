#!/usr/bin/env bash
# scripts/cuda_device_check.sh — everything about the CUDA backend that needs a GPU, in one go, for
# a session that has one (issue 14). Writes a plain-text report (default: cuda-device-check.txt, or
# $OUT/cuda-device-check.txt when $OUT is set) and exits 0 if every step that ran passed.
#
#   1. configure + build with CUDA ON (Release, -Werror as always; CUDAARCHS=native if unset)
#   2. nvidia-smi, the backend's own description (GEMM precision, cuDNN or not)
#   3. ctest -L cuda (smoke/op sweep incl. tensor-core and cuDNN passes, GPU sampler == CPU
#      sampler, graph replay == eager, the tiny-a goldens on cuda in f32 and bf16)
#   4. compute-sanitizer (memcheck, racecheck for the sampler) on the CUDA test executables
#   5. janus bench --backend cuda on a full-size random Janus-Pro-1B (bf16 and q8_0): n = 1 and
#      16, f32 GEMMs and JANUS_CUDA_GEMM=bf16, cuDNN on and off
#
# usage: scripts/cuda_device_check.sh        env: BUILD=build-cuda JOBS=$(nproc) STEPS=64
#        MODEL_DIR=dir with janus-pro-1b-random.{bf16,q8_0}.gguf (else bench/work/ via bench/common.sh,
#        which needs python3 + torch to make the random checkpoint once); SKIP_BENCH=1 to skip 5.
set -u
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
BUILD="${BUILD:-build-cuda}"
JOBS="${JOBS:-$(nproc)}"
STEPS="${STEPS:-64}"
report="${OUT:-$root}/cuda-device-check.txt"
mkdir -p "$(dirname "$report")"
: >"$report"
fail=0
log() { echo "$*" | tee -a "$report"; }
run() { # run NAME CMD...: runs, appends output, records pass/fail
  local name="$1"; shift
  log "== $name: $*"
  local t0=$(date +%s)
  "$@" >>"$report" 2>&1
  local rc=$?
  log "-- $name: rc=$rc ($(( $(date +%s) - t0 )) s)"
  [ $rc -eq 0 ] || fail=1
  return $rc
}

log "# janus.c CUDA device check, $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD 2>/dev/null)"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version,compute_cap --format=csv | tee -a "$report"

export CUDAARCHS="${CUDAARCHS:-native}"
run configure cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DJANUS_CUDA=ON || { log "configure failed"; exit 1; }
run build cmake --build "$BUILD" -j"$JOBS" || { log "build failed"; exit 1; }

# the device and the engine choices the backend makes (test_cuda_smoke prints them first)
run describe bash -c "'$BUILD/tests/test_cuda_smoke' 2>&1 | head -n 1"

# 3. the CUDA tests (a skip here means no device was seen: that is a failure on this machine)
run ctest-cuda ctest --test-dir "$BUILD" -L cuda --output-on-failure
if grep -q "Skipped" "$report"; then log "!! some CUDA tests were skipped on a machine that should have a GPU"; fail=1; fi
run ctest-cuda-bf16-gemm env JANUS_CUDA_GEMM=bf16 ctest --test-dir "$BUILD" -R 'test_cuda_(sample|graph)' --output-on-failure
run ctest-rest ctest --test-dir "$BUILD" -L 'unit|ops' --output-on-failure

# 4. compute-sanitizer
cs="$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null)"
if [ -n "$cs" ]; then
  for t in test_cuda_smoke test_cuda_sample test_cuda_graph; do
    run "memcheck $t" "$cs" --tool memcheck --leak-check full --error-exitcode 9 "$BUILD/tests/$t"
  done
  run "racecheck test_cuda_sample" "$cs" --tool racecheck --error-exitcode 9 "$BUILD/tests/test_cuda_sample"
  run "synccheck test_cuda_sample" "$cs" --tool synccheck --error-exitcode 9 "$BUILD/tests/test_cuda_sample"
else
  log "!! compute-sanitizer not found: step 4 not run"
fi

# 5. benchmarks on a full-size random 1B
if [ "${SKIP_BENCH:-0}" != 1 ]; then
  J="$BUILD/janus"
  for t in bf16 q8_0; do
    m="${MODEL_DIR:+$MODEL_DIR/janus-pro-1b-random.$t.gguf}"
    if [ -z "$m" ] || [ ! -s "$m" ]; then
      m=$(JANUS="$J" bash -c "source bench/common.sh && ensure_gguf $t" 2>>"$report") || { log "!! no $t model (set MODEL_DIR or install python3-torch)"; fail=1; continue; }
    fi
    for n in 1 16; do
      run "bench $t n=$n f32" "$J" bench -m "$m" --backend cuda -n "$n" --steps "$STEPS"
      run "bench $t n=$n gemm=bf16" env JANUS_CUDA_GEMM=bf16 "$J" bench -m "$m" --backend cuda -n "$n" --steps "$STEPS"
    done
    run "bench $t vq cudnn=off" env JANUS_CUDNN=OFF "$J" bench -m "$m" --backend cuda --only vq
    run "bench $t vq cudnn=on" env JANUS_CUDNN=ON "$J" bench -m "$m" --backend cuda --only vq
  done
fi

log "# result: $([ $fail -eq 0 ] && echo PASS || echo FAIL)  (report: $report)"
exit $fail
