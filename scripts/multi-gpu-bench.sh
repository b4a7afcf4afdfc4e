#!/usr/bin/env bash
# Issue 8: the same runs on real NCCL ranks (one GPU per rank) and emulated on GPU 0 of this
# machine, for the mistral-small-24b shape at TP = number of GPUs. Needs a multi-GPU machine and
# the bundle from `scripts/device-bundle.sh build/tests/test_cuda_backend build/app/cli/fairkv`.
# Writes a markdown table (tokens equal?, tok/s measured vs emulated, speedups, step difference)
# to $OUT/multi-gpu-benchmark.md and a session file with the measured runs to $OUT/multi-gpu.fkv.
#   usage: scripts/multi-gpu-bench.sh [LAYERS]   (default 8 layers: host memory holds fp32 weights)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-out/device/bin}
[ -x "$BIN/fairkv" ] || tar -xJf out/device/bundle.tar.xz -C out/device # the bundle travels packed
OUT=${OUT:-/tmp/multi-gpu}
LAYERS=${1:-8}
export LD_LIBRARY_PATH=$PWD/out/device/lib:/usr/local/cuda/lib64:/usr/local/cuda/extras/CUPTI/lib64:${LD_LIBRARY_PATH:-}
export NCCL_NVLS_ENABLE=0 # NVLink multicast stays off on the lent machines (KINDS.md)
mkdir -p "$OUT/json"
GPUS=$(nvidia-smi -L | wc -l)
[ "$GPUS" -ge 2 ] || { echo "this machine has $GPUS GPU(s): the measured runs need 2 or more" >&2; exit 1; }
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | head -1
# Logits parity of NCCL ranks against the CPU backend (2 ranks on 2 GPUs are "measured" there).
"$BIN/test_cuda_backend" 2>&1 | grep -E "QINFO|FAIL|Totals"
for batch in 16 64; do
  for budget in 512 2048; do
    for placement in uniform fairkv-assign fairkv-copy; do
      for mode in measured emulated; do
        name="$mode-b$batch-B$budget-$placement"
        extra=()
        [ "$mode" = emulated ] && extra+=(--emulate)
        [ "$mode" = measured ] && [ "$batch$budget$placement" = "642048fairkv-copy" ] && extra+=(--session "$OUT/multi-gpu.fkv")
        "$BIN/fairkv" run --model mistral-small-24b --layers "$LAYERS" --ranks "$GPUS" --backend cuda \
          --compress ada-snapkv --budget "$budget" --batch "$batch" --prompt-len $((2 * budget)) --decode 12 \
          --placement "$placement" --json "$OUT/json/$name.json" "${extra[@]}" > /dev/null
      done
    done
  done
done
python3 - "$OUT" "$GPUS" "$LAYERS" <<'PY'
import json, statistics, sys
out, gpus, layers = sys.argv[1], int(sys.argv[2]), sys.argv[3]
rows = ["| batch | budget | placement | tokens equal | measured tok/s | emulated tok/s | measured speedup | emulated speedup | step measured / emulated |",
        "|---|---|---|---|---|---|---|---|---|"]
for batch in (16, 64):
    for budget in (512, 2048):
        base = {}
        for placement in ("uniform", "fairkv-assign", "fairkv-copy"):
            m = json.load(open(f"{out}/json/measured-b{batch}-B{budget}-{placement}.json"))
            e = json.load(open(f"{out}/json/emulated-b{batch}-B{budget}-{placement}.json"))
            assert m["timing"] == "measured" and e["timing"] == "emulated", (m["timing"], e["timing"])
            if placement == "uniform":
                base = {"m": m["tokens_per_s"], "e": e["tokens_per_s"]}
            sm, se = statistics.median(m["step_ms"]), statistics.median(e["step_ms"])
            rows.append(f"| {batch} | {budget} | {placement} | {'yes' if m['tokens'] == e['tokens'] else 'NO'} | "
                        f"{m['tokens_per_s']:.0f} | {e['tokens_per_s']:.0f} | {m['tokens_per_s'] / base['m']:.3f} | "
                        f"{e['tokens_per_s'] / base['e']:.3f} | {sm:.3f} / {se:.3f} ({100 * (sm / se - 1):+.1f}%) |")
text = (f"# Real NCCL ranks vs emulation: mistral-small-24b, TP = {gpus}, {layers} layers\n\n"
        "Measured: one GPU and host thread per rank, NCCL all-reduce, step timed on rank 0's stream. Emulated: the same "
        "ranks one after another on GPU 0, composed with the modelled all-reduce. Ada-SnapKV, prompt = 2 x budget, 12 "
        "decode steps (planners: one calibration step under uniform). Target: emulated step within 10% of measured.\n\n"
        + "\n".join(rows) + "\n")
open(f"{out}/multi-gpu-benchmark.md", "w").write(text)
print(text)
PY
