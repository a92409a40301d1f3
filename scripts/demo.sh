#!/usr/bin/env bash
# scripts/demo.sh [MODEL_DIR_OR_GGUF] — install dependencies, build, convert the model (the bundled
# tiny random-weight fixture when none is given), then generate an image and answer a question
# about it. Real weights: a Hugging Face download of deepseek-ai/Janus-Pro-1B or -7B, or a .gguf.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)"
SRC=${1:-tests/fixtures/janus-tiny-a/models/tiny-a}
mkdir -p out
if [ -f "$SRC" ]; then
  MODEL=$SRC
else
  MODEL=out/$(basename "$SRC").gguf
  [ -f "$MODEL" ] || ./build/janus convert "$SRC" -o "$MODEL"
fi
./build/janus info "$MODEL" | sed -n 1,12p   # (sed reads everything: no SIGPIPE under pipefail)
./build/janus generate -m "$MODEL" -s 42 --force -o out/demo.png "A close-up photo of a sunflower blooming in the sun with a bee on it."
./build/janus ask -m "$MODEL" --image out/demo.png -n 32 "Describe this image."
if [ -z "${1:-}" ]; then
  echo "(random tiny model: the image is noise and the answer gibberish; pass a real model to see real output)" >&2
fi
