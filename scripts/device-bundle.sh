#!/usr/bin/env bash
# Stages binaries from build/ for the GPU machine (Ubuntu 24.04, CUDA 13, no Qt) and packs them
# into out/device/bundle.tar.xz (the device tool carries at most 64 MiB with the tree; Qt's ICU
# data alone is 30 MiB unpacked). Scripts written to out/device after this travel along.
# There: tar -xJf out/device/bundle.tar.xz -C out/device, then bin/ holds the programs and lib/ the
# shared libraries that machine lacks:
#   LD_LIBRARY_PATH=out/device/lib:/usr/local/cuda/lib64:/usr/local/cuda/extras/CUPTI/lib64
set -euo pipefail
cd "$(dirname "$0")/.."
out=out/device
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
rm -rf "$out"; mkdir -p "$out" "$stage/bin" "$stage/lib"
bins=("$@")
[ ${#bins[@]} -gt 0 ] || bins=(build/tests/test_cupti build/app/cli/fairkv)
for bin in "${bins[@]}"; do
  [ -f "$bin" ] || { echo "missing $bin" >&2; exit 1; }
  cp "$bin" "$stage/bin/" && strip --strip-unneeded "$stage/bin/$(basename "$bin")"
  ldd "$bin" | awk '/=> \// {print $3}' | while read -r lib; do
    case "$(basename "$lib")" in
      libc.so*|libm.so*|libpthread.so*|libdl.so*|librt.so*|ld-linux*|libgcc_s.so*|libstdc++.so*) ;;
      libcuda.so*|libcudart.so*|libcupti.so*|libcublas*|libnccl.so*) ;; # the GPU machine has these
      *) cp -Ln "$lib" "$stage/lib/" 2>/dev/null || true ;;
    esac
  done
done
tar -cJf "$out/bundle.tar.xz" -C "$stage" bin lib
du -sh "$out/bundle.tar.xz"
