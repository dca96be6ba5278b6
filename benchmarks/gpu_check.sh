#!/usr/bin/env bash
# The checks that need a GPU, as one script for a short lease on a CUDA machine (CI has none):
# the CUDA tests, the training-throughput benchmark (MFU), sweep design's time estimate against a sweep run
# (STEP_SECONDS) and the demo on the GPU. Logs go to $OUT
# (default ./gpu-check). Runs from a source checkout with the machine's own torch: PYTHONPATH=src.
set -u
OUT=${OUT:-gpu-check}
mkdir -p "$OUT"
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
py=${PYTHON:-python3}
step() { echo "== $1 ($(date +%T))"; }

step environment
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
  $py -c "import sys, torch, numpy, scipy, pandas; print(sys.version.split()[0], 'torch', torch.__version__,
'numpy', numpy.__version__, 'scipy', scipy.__version__, 'pandas', pandas.__version__, 'cuda', torch.cuda.is_available())"
} 2>&1 | tee "$OUT/env.txt"

step "CUDA tests"
timeout 150 $py -m pytest -q -p no:cacheprovider tests/test_cuda.py 2>&1 | tee "$OUT/pytest.log"

step "training throughput (torch.compile)"
timeout 110 $py benchmarks/train_throughput.py --device cuda 2>&1 | tee "$OUT/throughput.txt"

step "sweep design's time estimate against sweep run (default: these tiny runs eager; then all compiled)"
timeout 60 $py benchmarks/step_overhead.py --device cuda 2>&1 | tee "$OUT/step_overhead.txt"
timeout 120 $py benchmarks/step_overhead.py --device cuda --compile 2>&1 | tee -a "$OUT/step_overhead.txt"

step "demo on the GPU"
start=$(date +%s)
timeout 120 $py -m isoflop demo --out "$OUT/demo" --no-progress 2>&1 | tee "$OUT/demo.txt"
echo "demo: $(( $(date +%s) - start )) s" | tee -a "$OUT/demo.txt"
cp "$OUT/demo/summary.json" "$OUT/demo_summary.json" 2>/dev/null; rm -rf "$OUT/demo"
step done
