#!/usr/bin/env bash
# Stages binaries from build/ for the GPU machine (Ubuntu 24.04, CUDA 13, no Qt) in out/device:
# bin/ holds the test programs and fairkv, lib/ the shared libraries that machine lacks.
# There: LD_LIBRARY_PATH=out/device/lib:/usr/local/cuda/lib64:/usr/local/cuda/extras/CUPTI/lib64
set -euo pipefail
cd "$(dirname "$0")/.."
out=out/device
rm -rf "$out"; mkdir -p "$out/bin" "$out/lib"
bins=("$@")
[ ${#bins[@]} -gt 0 ] || bins=(build/tests/test_cupti build/app/cli/fairkv)
for bin in "${bins[@]}"; do
  [ -f "$bin" ] || { echo "missing $bin" >&2; exit 1; }
  cp "$bin" "$out/bin/"
  ldd "$bin" | awk '/=> \// {print $3}' | while read -r lib; do
    case "$(basename "$lib")" in
      libc.so*|libm.so*|libpthread.so*|libdl.so*|librt.so*|ld-linux*|libgcc_s.so*|libstdc++.so*) ;;
      libcuda.so*|libcudart.so*|libcupti.so*|libcublas*|libnccl.so*) ;; # the GPU machine has these
      *) cp -Ln "$lib" "$out/lib/" 2>/dev/null || true ;;
    esac
  done
done
du -sh "$out"
