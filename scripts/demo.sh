#!/usr/bin/env bash
# The main job, end to end (run by `make demo` after `make build`): make the demo model, list
# the devices, show its placement, run it once, benchmark it, and compare latency and outputs
# with ONNX Runtime on the same input with the same thread count.
set -euo pipefail
cd "$(dirname "$0")/.."

UNIHAL=${UNIHAL:-build/bin/unihal}
PYTHON=${PYTHON:-.venv/bin/python}
MODEL=${DEMO_MODEL:-models/demo_resnet.onnx}
WORK=${DEMO_WORK_DIR:-out/demo}
THREADS=${DEMO_THREADS:-$(nproc)}
ITERATIONS=${DEMO_ITERATIONS:-50}
WARMUP=${DEMO_WARMUP:-5}

fail() { echo "demo: error: $*" >&2; exit 1; }
step() { printf '\n== %s\n' "$*"; }

[[ -x "$UNIHAL" ]] || fail "$UNIHAL is missing; run 'make build' first"
[[ -x "$PYTHON" ]] || fail "$PYTHON is missing; run 'make setup' first"
mkdir -p "$WORK"

if [[ ! -f "$MODEL" ]]; then
  step "making the demo model"
  "$PYTHON" scripts/model_zoo.py --out-dir "$(dirname "$MODEL")" "$(basename "$MODEL" .onnx)"
fi

step "unihal devices"
"$UNIHAL" devices

step "unihal plan ($MODEL: where each node runs with sim-npu preferred, then cpu)"
# The simulated NPU (edge-34) runs int8/fp16 only, so this float32 model falls back to cpu whole;
# every node's reason says why.
"$UNIHAL" plan "$MODEL" --devices sim-npu,cpu --sim-npu edge-34

step "unihal run ($MODEL, one random image)"
"$PYTHON" -c "import numpy as np, sys
np.save(sys.argv[1], np.random.default_rng(42).random((1, 3, 224, 224), dtype=np.float32))" \
  "$WORK/image.npy"
"$UNIHAL" run "$MODEL" --input "image=$WORK/image.npy" --output-dir "$WORK/outputs"

step "unihal bench ($ITERATIONS iterations after $WARMUP warm-up, $THREADS threads)"
"$UNIHAL" bench "$MODEL" --input "image=$WORK/image.npy" --threads "$THREADS" \
  --iterations "$ITERATIONS" --warmup "$WARMUP" --json | tee "$WORK/bench.json"

if ! "$PYTHON" -c "import onnxruntime" 2>/dev/null; then
  step "ONNX Runtime is not installed in $PYTHON; skipping the comparison"
  exit 0
fi

step "ONNX Runtime on the same model, input and thread count"
"$PYTHON" - "$MODEL" "$WORK" "$ITERATIONS" "$WARMUP" <<'PY'
import json
import statistics
import sys
import time

import numpy as np
import onnxruntime as ort

model, work, iterations, warmup = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
bench = json.load(open(f"{work}/bench.json"))
threads = bench["threads"]  # the thread count unihal actually used
options = ort.SessionOptions()
options.intra_op_num_threads = threads
options.inter_op_num_threads = 1
options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
feed = {"image": np.load(f"{work}/image.npy")}
for _ in range(warmup):
    session.run(None, feed)
samples = []
for _ in range(iterations):
    start = time.perf_counter()
    session.run(None, feed)
    samples.append((time.perf_counter() - start) * 1e3)
ort_p50 = statistics.median(samples)
ours_p50 = bench["latency_ms"]["p50"]

expected = session.run(None, feed)[0]
ours = np.load(f"{work}/outputs/prob.npy")
if ours.shape != expected.shape:
    sys.exit(f"demo: error: unihal's output has shape {ours.shape}, ONNX Runtime's {expected.shape}")
max_abs_diff = float(np.max(np.abs(ours.astype(np.float64) - expected)))
same_top1 = int(np.argmax(ours)) == int(np.argmax(expected))

print(f"threads            {threads}")
print(f"unihal p50         {ours_p50:8.3f} ms")
print(f"ONNX Runtime p50   {ort_p50:8.3f} ms  (onnxruntime {ort.__version__})")
print(f"ratio unihal/ORT   {ours_p50 / ort_p50:8.3f}  (lower is better; target <= 0.9)")
print(f"outputs max |diff| {max_abs_diff:.3g}  top-1 {'agrees' if same_top1 else 'DIFFERS'}")
if not (max_abs_diff <= 1e-4 and same_top1):
    sys.exit("demo: error: unihal's output differs from ONNX Runtime's")
PY
