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
# no block of 8 or more lines repeated in the package (imports, docstrings, comments and
# signatures aside): a helper needed twice goes in one place (docs/architecture.md)
pylint --disable=all --enable=duplicate-code --min-similarity-lines=8 --ignore-imports=yes \
    --ignore-docstrings=yes --ignore-comments=yes --ignore-signatures=yes facesight
python -m pytest -q
