#!/usr/bin/env bash
# scripts/test.sh — install dependencies, build, run every test (ctest). With --sanitize: a
# separate clang ASan+UBSan build running the unit, ops, model and CLI tests (not the bf16/q8_0
# goldens, the install test, nor the server's load / nginx / browser / npm-client runs, which
# exercise external clients over the same server code test_cli_serve covers). With --tsan: a clang
# ThreadSanitizer build running the concurrency tests (sessions on one model in several threads).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
JOBS=$(nproc)
if [ "${1:-}" = "--tsan" ]; then
  cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang -DJANUS_TSAN=ON -DJANUS_CUDA=OFF \
    -DJANUS_BUILD_SHARED=OFF >/dev/null
  cmake --build build-tsan -j"$JOBS" --target test_model_session test_ops_shared_weights janus_cli
  TSAN_OPTIONS=halt_on_error=1 ctest --test-dir build-tsan -R 'test_model_session|test_ops_shared_weights' --output-on-failure
elif [ "${1:-}" = "--sanitize" ]; then
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang -DJANUS_SANITIZE=ON -DJANUS_CUDA=OFF >/dev/null
  cmake --build build-asan -j"$JOBS"
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --test-dir build-asan -L 'unit|ops|model|cli' -E 'golden_(bf16|q8_0)|cli_install|serve_(load|nginx|browser|npm)' \
      --output-on-failure -j"$JOBS"
else
  if [ -f tests/npm/package.json ] && command -v npm >/dev/null; then (cd tests/npm && npm install --no-audit --no-fund --silent) || true; fi
  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build build -j"$JOBS"
  ctest --test-dir build --output-on-failure -j"$JOBS"
fi
