#!/usr/bin/env bash
# tests/test_cli_install.sh — `cmake --install` gives a usable library: a program using only
# janus.h builds against the installed tree through pkg-config (shared library) and through the
# CMake package (find_package(janus), static archives), and runs.
set -u
B=$(dirname "${JANUS_BIN:?}")
S=${JANUS_SOURCE_DIR:?}
T=${JANUS_TEST_TMP:?}/install
rm -rf "$T"; mkdir -p "$T"
cmake --install "$B" --prefix "$T/prefix" >/dev/null || { echo "FAIL cmake --install"; exit 1; }
fail=0
export PKG_CONFIG_PATH="$T/prefix/lib/pkgconfig"
if ! pkg-config --exists janus 2>"$T/pc-missing.err"; then
  # janus.pc requires the .pc files of its dependencies (e.g. oniguruma from libonig-dev)
  echo "skip pkg-config consumer: $(head -1 "$T/pc-missing.err")"
else
cc -std=c11 -o "$T/describe_pc" "$S/samples/describe_image.c" $(pkg-config --cflags --libs janus) 2>"$T/pc.err" \
  || { cat "$T/pc.err"; echo "FAIL pkg-config build"; fail=1; }
if [ -x "$T/describe_pc" ]; then
  LD_LIBRARY_PATH="$T/prefix/lib" "$T/describe_pc" >/dev/null 2>&1; rc=$?
  [ $rc = 2 ] && echo "ok   pkg-config (shared) consumer runs" || { echo "FAIL pkg-config consumer exit $rc"; fail=1; }
  LD_LIBRARY_PATH="$T/prefix/lib" "$T/describe_pc" "$T/missing.gguf" x.png >/dev/null 2>"$T/run.err"; rc=$?
  [ $rc = 3 ] && grep -q missing.gguf "$T/run.err" && echo "ok   missing model: exit 3 with the path" || { echo "FAIL missing model rc $rc"; fail=1; }
fi
fi
mkdir -p "$T/consumer"
cp "$S/samples/generate_image.c" "$T/consumer/"
cat > "$T/consumer/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.20)
project(consumer C)
find_package(janus REQUIRED)
add_executable(gen generate_image.c)
target_link_libraries(gen PRIVATE janus::janus_static)
CM
if cmake -S "$T/consumer" -B "$T/consumer/build" -DCMAKE_PREFIX_PATH="$T/prefix" -DJANUS_CUDA=OFF >"$T/cm.log" 2>&1 &&
   cmake --build "$T/consumer/build" >>"$T/cm.log" 2>&1; then
  "$T/consumer/build/gen" >/dev/null 2>&1; rc=$?
  [ $rc = 2 ] && echo "ok   find_package(janus) consumer runs" || { echo "FAIL cmake consumer exit $rc"; fail=1; }
else
  tail -20 "$T/cm.log"; echo "FAIL find_package(janus) consumer build"; fail=1
fi
exit $fail
