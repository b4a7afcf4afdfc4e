#!/usr/bin/env bash
# Builds the project and starts FairKV Studio with the CPU demo run (4 ranks, Ada-SnapKV, tiny
# model). Without a display it runs the same demo headless with the CLI and says so.
# Extra arguments go to fairkv-studio (for example a session file to open).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/build.sh
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  if [ $# -gt 0 ]; then exec ./build/app/fairkv-studio "$@"; fi
  exec ./build/app/fairkv-studio --demo
fi
echo "no display found: running the demo with the CLI instead (fairkv-studio needs a desktop)" >&2
mkdir -p out
exec ./build/app/cli/fairkv run --model tiny --ranks 4 --compress ada-snapkv --budget 64 --batch 4 \
  --prompt-len 512 --decode 16 --json out/demo.json --session out/demo.fkv
