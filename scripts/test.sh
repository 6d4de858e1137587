#!/usr/bin/env bash
# Install everything the tests need, then run the linters, the type checker, the layering
# contracts and the whole test suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh test
export PATH="$PWD/.venv/bin:$PATH"
echo "== ruff" >&2
ruff check src tests bench
ruff format --check src tests bench
echo "== mypy" >&2
mypy
echo "== import-linter" >&2
lint-imports --no-cache
echo "== pytest" >&2
pytest "$@"
