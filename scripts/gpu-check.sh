#!/usr/bin/env bash
# The CUDA path in one command (issue 11): build with `--features cuda`, run the CUDA parity
# tests, time one learner update step on the GPU beside the CPU figures, train briefly on the
# GPU, and print one summary. Meant for a machine with an NVIDIA GPU, its driver (nvidia-smi)
# and the CUDA toolkit (nvcc); sized to finish within ten minutes.
#
#   scripts/gpu-check.sh            # logs in $OUT (default /tmp/vecsim-gpu-check)
#
# Exit code: 0 when every step passed, 1 otherwise (the summary says which step failed).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/vecsim-gpu-check}
mkdir -p "$OUT"
SUMMARY="$OUT/summary.txt"
: >"$SUMMARY"
failed=0

note() { echo "$*" | tee -a "$SUMMARY"; }

# step NAME TIMEOUT_S COMMAND...: runs COMMAND with a time limit, its output in $OUT/NAME.log.
step() {
    local name=$1 limit=$2
    shift 2
    local t0=$SECONDS
    if timeout "$limit" "$@" >"$OUT/$name.log" 2>&1; then
        note "ok      $name ($((SECONDS - t0)) s)"
        return 0
    fi
    local rc=$?
    note "FAILED  $name (exit $rc after $((SECONDS - t0)) s; last lines of $OUT/$name.log:)"
    tail -n 15 "$OUT/$name.log" | sed 's/^/        /' | tee -a "$SUMMARY"
    failed=1
    return 1
}

# rate LOG LABEL: the update-steps/s figure on the line of LOG starting with LABEL.
rate() { grep -E "^ +$2" "$1" | grep -oE '[0-9]+\.[0-9]+ update-steps/s' | head -n1 | cut -d' ' -f1; }

note "vecsim GPU check, $(date -u +%Y-%m-%dT%H:%M:%SZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
if ! command -v nvidia-smi >/dev/null || ! nvidia-smi >/dev/null 2>&1; then
    note "FAILED  no working nvidia-smi: this machine has no usable NVIDIA GPU; the CUDA path stays unverified"
    exit 1
fi
note "gpu     $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | head -n1)"
if ! command -v nvcc >/dev/null; then
    for d in /usr/local/cuda/bin /usr/local/cuda-*/bin; do
        [ -x "$d/nvcc" ] && export PATH="$d:$PATH" && break
    done
fi
if ! command -v nvcc >/dev/null; then
    note "FAILED  no nvcc: install the CUDA toolkit (dfdx compiles its kernels with it); the CUDA path stays unverified"
    exit 1
fi
note "nvcc    $(nvcc --version | tail -n1)"

step build 330 cargo build --release --features cuda --bin vecsim || exit 1
step parity-tests 240 cargo test --release --features cuda -p vecsim-learn --lib cuda
BIN=target/release/vecsim

# One update step of all 8 agents, anchor shapes: gemm on the CPU, dfdx on the CPU, dfdx on CUDA.
if step bench-cpu 120 "$BIN" bench train-step --dfdx --steps 5 && step bench-cuda 120 "$BIN" bench train-step --device cuda --steps 30; then
    gemm=$(rate "$OUT/bench-cpu.log" "gemm backend")
    dcpu=$(rate "$OUT/bench-cpu.log" "dfdx backend")
    dgpu=$(rate "$OUT/bench-cuda.log" "dfdx backend")
    note "rates   update-steps/s: gemm cpu ${gemm:-?}, dfdx cpu ${dcpu:-?}, dfdx cuda:0 ${dgpu:-?}"
    if [ -n "${gemm:-}" ] && [ -n "${dgpu:-}" ]; then
        note "ratio   dfdx cuda:0 / gemm cpu $(awk -v a="$dgpu" -v b="$gemm" 'BEGIN { printf "%.2f", a / b }') (target >= 5)"
    fi
fi

# A short training run on the GPU and the same on the CPU through dfdx: both must finish; their
# curves agree up to float rounding, not bit for bit (different kernels).
if step train-cuda 150 "$BIN" train tests/fixtures/train-small.toml --policy maddpg --episodes 3 --device cuda \
    --checkpoint "$OUT/train-cuda" --force && step train-cpu 150 "$BIN" train tests/fixtures/train-small.toml \
    --policy maddpg --episodes 3 --backend dfdx --device cpu --checkpoint "$OUT/train-cpu" --force; then
    note "curve   cuda: $(tail -n1 "$OUT/train-cuda/curve.csv")"
    note "curve   cpu:  $(tail -n1 "$OUT/train-cpu/curve.csv")"
    step eval-cuda 60 "$BIN" run tests/fixtures/train-small.toml --policy maddpg --checkpoint "$OUT/train-cuda" --device cuda
fi

if [ "$failed" = 0 ]; then note "RESULT  all steps passed"; else note "RESULT  some steps failed (see above)"; fi
exit "$failed"
