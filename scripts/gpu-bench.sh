#!/usr/bin/env bash
# Issue 6's GPU check-and-measure in one go.
#   here (CI image, builds):        scripts/gpu-bench.sh bundle [BASE_REF]
#   on the GPU machine (no Qt):     scripts/gpu-bench.sh run [OUT_DIR [PARTS]]
# `run` unpacks the bundle, runs the GPU tests (CUDA backend against the CPU, CUPTI tags), then the
# benchmarks: ragged decode attention against the HBM ceiling (gpu-benchmark.md), the 8B step
# against its floor, emulated TP and CUPTI overhead (gpu-decode-benchmark.md), the decode GEMMs
# against the read ceiling (gemm-benchmark.md), the Ada-SnapKV
# selection on host and GPU (selection-benchmark.md), what a timing event costs a stream
# (event-benchmark.md), and the engine's own decode step
# (engine-runs.txt). Tables go to OUT_DIR (default $OUT or
# /tmp/gpu-bench) and to stdout; copy them to docs/. PARTS (comma-separated, default all) picks
# what runs: tests, attention, decode, gemm, selection, events, engine (and gemm-sweep,
# every-algo, prefetch, tuned, overlap, engine-gemm, cli, live and ab, only when named); the whole run takes about
# ten minutes, at the device tool's limit for one command.
# A/B: `bundle BASE_REF` also builds the attention and step benchmarks of BASE_REF (a commit or
# branch, in build-base/ from a worktree) as fairkv-bench-gpu-base and fairkv-bench-gpu-decode-base;
# the part `ab` then alternates them with this tree's, two rounds (AB_ROUNDS), and prints the target cells of
# each (device time is scarce: one call compares a change with what it changes).
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in
bundle)
  ./scripts/build.sh
  base=()
  if [ -n "${2:-}" ]; then
    src=build-base/src
    rm -rf build-base/bin && mkdir -p build-base/bin
    git worktree remove --force "$src" 2>/dev/null || rm -rf "$src"
    git worktree add --detach "$src" "$2" >/dev/null
    cmake -S "$src" -B build-base/build -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build build-base/build -j"$(nproc)" --target fairkv-bench-gpu fairkv-bench-gpu-decode
    for b in fairkv-bench-gpu fairkv-bench-gpu-decode; do
      cp "build-base/build/bench/$b" "build-base/bin/$b-base"
      base+=("build-base/bin/$b-base")
    done
    git worktree remove --force "$src"
  fi
  ./scripts/device-bundle.sh build/tests/test_cuda_backend build/tests/test_cupti build/bench/fairkv-bench-gpu \
    build/bench/fairkv-bench-gpu-decode build/bench/fairkv-bench-gemm build/bench/fairkv-bench-selection \
    build/bench/fairkv-bench-events build/app/cli/fairkv "${base[@]}"
  cp scripts/gpu-bench.sh out/device/
  ;;
run)
  out=${2:-${OUT:-/tmp/gpu-bench}}
  parts=",${3:-tests,attention,decode,gemm,selection,events,engine},"
  want() { [[ $parts == *",$1,"* ]]; }
  mkdir -p "$out"
  tar -xJf out/device/bundle.tar.xz -C out/device
  export LD_LIBRARY_PATH=$PWD/out/device/lib:/usr/local/cuda/lib64:/usr/local/cuda/extras/CUPTI/lib64:${LD_LIBRARY_PATH:-}
  bin=out/device/bin
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
  status=0
  if want tests; then
    for t in test_cuda_backend test_cupti; do
      "$bin/$t" > "$out/$t.log" 2>&1 || status=1
      grep -E "^(FAIL|Totals)" "$out/$t.log"
    done
  fi
  [ $status -eq 0 ] || { echo "GPU tests failed: see $out/*.log; not measuring" >&2; exit 1; }
  if want attention; then "$bin/fairkv-bench-gpu" --out "$out/gpu-benchmark.md" > /dev/null; fi
  if want decode; then "$bin/fairkv-bench-gpu-decode" --out "$out/gpu-decode-benchmark.md" > /dev/null; fi
  if want gemm; then "$bin/fairkv-bench-gemm" --out "$out/gemm-benchmark.md" > /dev/null; fi
  # Not in the default run: cuBLASLt's algorithms with split-K, reduction and swizzling swept.
  if want gemm-sweep; then "$bin/fairkv-bench-gemm" --sweep --out "$out/gemm-sweep.md" > /dev/null; fi
  # Nor this: every cuBLASLt algorithm and tile size screened against the heuristic's best.
  if want every-algo; then "$bin/fairkv-bench-gemm" --every-algo --out "$out/gemm-every-algo.md" > /dev/null; fi
  # Not in the default run either: the 8B step with L2 prefetch variants against the same step without.
  if want prefetch; then "$bin/fairkv-bench-gpu-decode" --sections prefetch --out "$out/prefetch.md" > /dev/null; fi
  # Nor this: the 8B step with each product's cuBLASLt configuration chosen by timing the step.
  if want tuned; then "$bin/fairkv-bench-gpu-decode" --sections tuned --out "$out/tuned.md" > /dev/null; fi
  # Nor this: the 8B step with and without early starts, on cublasGemmEx and on the engine's GEMM choice.
  if want overlap; then "$bin/fairkv-bench-gpu-decode" --sections overlap --out "$out/overlap.md"; fi
  # Only when named: this tree's attention and step benchmarks against the base build's (`bundle
  # BASE_REF`), alternating, two rounds; the target cells of each run, then the full tables in OUT/ab.
  if want ab; then
    [ -x "$bin/fairkv-bench-gpu-base" ] || { echo "the bundle has no base build: scripts/gpu-bench.sh bundle BASE_REF" >&2; exit 2; }
    mkdir -p "$out/ab"
    for r in $(seq "${AB_ROUNDS:-2}"); do
      for v in base new; do
        s=""; [ $v = base ] && s=-base
        "$bin/fairkv-bench-gpu$s" --out "$out/ab/attention-$v-$r.md" > /dev/null
        echo "attention, $v, round $r (kernel µs, split-KV µs, % of copy):"
        grep -E "^\| gqa \| (16|64) \| (512|1024|2048) |^\| per-query-head \| 16 \| 512 " "$out/ab/attention-$v-$r.md" \
          | awk -F'|' '{print "  "$2,$3,$4,$8,$9,$11}'
      done
    done
    for r in $(seq "${AB_ROUNDS:-2}"); do
      for v in base new; do
        s=""; [ $v = base ] && s=-base
        "$bin/fairkv-bench-gpu-decode$s" --sections 8b --out "$out/ab/step-$v-$r.md" > /dev/null
        echo "8B step, $v, round $r (step ms, step / floor, attention ms):"
        grep -E "^\| (1|16|64) \| (512|2048) \|" "$out/ab/step-$v-$r.md" | awk -F'|' '{print "  "$2,$3,$6,$9,$12}'
      done
    done
  fi
  if want selection; then "$bin/fairkv-bench-selection" --out "$out/selection-benchmark.md" > /dev/null; fi
  if want events; then "$bin/fairkv-bench-events" --out "$out/event-benchmark.md" > /dev/null; fi
  # The engine's own decode step (fairkv run: synthetic llama-3.1-8b weights, 8 layers, batch 16,
  # Ada-SnapKV), one line per run as fairkv prints it; CUPTI on and off alternate.
  engine() { echo "fairkv run --model llama-3.1-8b --backend cuda $*"
    "$bin/fairkv" run --model llama-3.1-8b --backend cuda "$@" 2>&1 \
    | grep -E "^(prefill|attention per step|decode GEMMs)"; }
  # Only when named (the default run is near the command's limit already): the decode GEMMs chosen
  # per shape (--gemm auto, the default) against cublasGemmEx for every product, alternating.
  if want engine-gemm; then {
    for i in 1 2; do
      for g in cublas auto; do
        engine --batch 16 --layers 8 --prompt-len 1024 --budget 512 --decode 32 --gemm $g
        engine --batch 1 --layers 8 --prompt-len 1024 --budget 512 --decode 32 --gemm $g
      done
    done
  } > "$out/engine-gemm.txt"; fi
  if want engine; then {
    for i in 1 2; do
      engine --batch 16 --layers 8 --prompt-len 1024 --budget 512 --decode 32
      engine --batch 16 --layers 8 --prompt-len 1024 --budget 512 --decode 32 --session "$out/engine-traced-$i.fkv"
    done
    for p in uniform fairkv-assign fairkv-copy; do
      engine --batch 16 --layers 8 --prompt-len 4096 --budget 2048 --decode 16 --ranks 4 --placement $p
    done
    for p in uniform fairkv-assign fairkv-copy; do
      engine --batch 16 --layers 4 --prompt-len 2048 --budget 512 --decode 16 --ranks 8 --units per-query-head --placement $p
    done
  } > "$out/engine-runs.txt"; fi
  # Only when named: the CLI end to end on the CUDA backend, as a user on a GPU server runs it (a
  # session of emulated TP runs, a plan from one run's stats, the planned placement run, the
  # session listed, compared, reported and its trace exported; a checkpoint written by make-model
  # in bf16 run; an out-of-memory run refused), every command's exit status logged.
  if want cli; then {
    cli() { echo "\$ fairkv $*"; "$bin/fairkv" "$@" 2>&1 | tail -n 14; echo "exit ${PIPESTATUS[0]}"; }
    s="$out/cli.fkv" c=$(mktemp -d) # OUT takes 8 files: the session and the HTML report go there
    rm -f "$s" "$s-wal" "$s-shm" # an OUT_DIR used before holds an earlier run's session
    common=(--model llama-3.1-8b --layers 4 --backend cuda --ranks 4 --batch 16 --prompt-len 2048 --budget 512 --decode 8)
    cli run "${common[@]}" --placement uniform --session "$s" --label uniform --json "$c/uniform.json" --stats "$c/stats.json"
    cli run "${common[@]}" --placement fairkv-copy --session "$s" --label fairkv-copy
    cli plan --stats "$c/stats.json" --ranks 4 --planner fairkv-assign --json "$c/plan.json"
    cli run "${common[@]}" --placement "$c/plan.json" --session "$s" --label planned
    cli sessions "$s"
    cli compare "$s" 1 2
    cli report "$s" --runs 1,2,3 --out "$c/report.html"
    cli report "$s" --runs 1,2,3 --out "$c/report.csv"
    cli export-trace "$s" 2 --out "$c/trace.json"
    cli make-model --shape tiny --dtype BF16 --out "$c/tiny-bf16"
    cli check-model "$c/tiny-bf16"
    cli run --model "$c/tiny-bf16" --backend cuda --batch 2 --prompt-len 300 --budget 64 --decode 4 --json "$c/tiny.json"
    cli run --model llama-3.1-8b --backend cuda --batch 64 --prompt-len 32768 --budget 512 --decode 1
    cp "$c/report.html" "$out/cli-report.html"
  } > "$out/cli.txt"; fi
  # Only when named: a placement installed live (fairkv-copy planned after one calibration step,
  # its KV moved between ranks) against the same placement from a fresh prefill (its --json fed
  # back as --placement), twice each: per-step times and per-rank attention of each.
  if want live; then {
    l=$(mktemp -d)
    common=(--model llama-3.1-8b --layers 4 --backend cuda --ranks 4 --batch 16 --prompt-len 2048 --budget 512 --decode 16)
    for i in 1 2; do
      "$bin/fairkv" run "${common[@]}" --placement fairkv-copy --json "$l/live.json" > "$l/live.txt" 2>&1
      "$bin/fairkv" run "${common[@]}" --placement "$l/live.json" --json "$l/fresh.json" > "$l/fresh.txt" 2>&1
      for v in live fresh; do
        echo "$v, round $i:"; grep -E "^(decode|attention per step|plan|   [0-9])" "$l/$v.txt" | sed 's/^/  /'
        python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print('  step_ms', ' '.join('%.3f' % x for x in r['step_ms']))" "$l/$v.json"
      done
    done
  } > "$out/live.txt" 2>&1; fi
  # Only what this run wrote: an OUT_DIR used before may hold other parts' older tables.
  for part in attention:gpu-benchmark.md decode:gpu-decode-benchmark.md gemm:gemm-benchmark.md gemm-sweep:gemm-sweep.md every-algo:gemm-every-algo.md prefetch:prefetch.md tuned:tuned.md overlap:overlap.md \
              selection:selection-benchmark.md events:event-benchmark.md engine-gemm:engine-gemm.txt engine:engine-runs.txt cli:cli.txt live:live.txt; do
    if want "${part%%:*}"; then cat "$out/${part#*:}"; fi
  done
  ;;
*)
  echo "usage: scripts/gpu-bench.sh bundle | run [OUT_DIR [PARTS]]" >&2
  exit 2
  ;;
esac
