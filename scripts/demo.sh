#!/usr/bin/env bash
# scripts/demo.sh [MODEL_DIR_OR_GGUF] — install dependencies, build the CLI, convert the model (the
# bundled tiny random-weight fixture when none is given), then generate an image and answer a
# question about it. Real weights: a Hugging Face download of deepseek-ai/Janus-Pro-1B or -7B
# (hf download deepseek-ai/Janus-Pro-1B --local-dir DIR), or a .gguf. Prints only the steps and
# the results; apt and compiler output go to build/demo-build.log.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p build out
LOG=build/demo-build.log
: > "$LOG"
step() { printf '\n== %s\n' "$*"; }
quietly() { # label command...: runs it with its output in the log; on failure shows the log's end
  local label="$1" t0=$SECONDS; shift
  printf '%s… ' "$label"
  if "$@" >>"$LOG" 2>&1; then
    printf 'done in %d s\n' $((SECONDS - t0))
  else
    printf 'failed; the end of %s:\n' "$LOG"
    tail -n 30 "$LOG"
    exit 1
  fi
}

echo "This demo installs the build dependencies with apt (sudo when not root), builds the janus"
echo "command, then generates an image and answers a question about it. Log: $LOG"

step "1/4 dependencies"
quietly "installing packages with apt (only those missing)" ./scripts/install-deps.sh

step "2/4 build"
quietly "configuring" cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
quietly "building" cmake --build build -j"$(nproc)" --target janus_cli

step "3/4 model"
SRC=${1:-tests/fixtures/janus-tiny-a/models/tiny-a}
if [ -f "$SRC" ]; then
  MODEL=$SRC
  echo "using $MODEL"
else
  MODEL=out/$(basename "$SRC").gguf
  if [ -f "$MODEL" ]; then echo "using $MODEL (converted earlier)"
  else quietly "converting $SRC to $MODEL" ./build/janus convert "$SRC" -o "$MODEL"; fi
fi

step "4/4 generate an image, then ask about it"
PROMPT="A close-up photo of a sunflower blooming in the sun with a bee on it."
echo "prompt: $PROMPT"
./build/janus generate -m "$MODEL" -s 42 --force -o out/demo.png "$PROMPT" >/dev/null
echo "image:  out/demo.png"
echo "question: Describe this image."
printf 'answer: '
./build/janus ask -m "$MODEL" -q --image out/demo.png -n 32 "Describe this image."
if [ -z "${1:-}" ]; then
  echo
  echo "(random tiny model: the image is noise and the answer gibberish; pass a real model to see real output)"
fi
