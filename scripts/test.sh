#!/usr/bin/env bash
# Install facesight with its test extras into .venv, then lint, type-check and test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
. .venv/bin/activate
ruff check facesight tests bench scripts
ruff format --check facesight tests bench scripts
mypy facesight scripts/data
lint-imports
python -m pytest -q
