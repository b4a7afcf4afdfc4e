#!/usr/bin/env bash
# Builds the project and starts the demo: a 4-rank Ada-SnapKV decode of the `tiny` model on the CPU
# backend (the GUI, fairkv-studio, takes this over when it lands). Extra arguments go to `fairkv run`.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/build.sh
mkdir -p out
exec ./build/app/cli/fairkv run --model tiny --ranks 4 --compress ada-snapkv --budget 64 --batch 4 \
  --prompt-len 512 --decode 16 --json out/demo.json "$@"
