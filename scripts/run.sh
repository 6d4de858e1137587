#!/usr/bin/env bash
# Install everything, then run the PBX with the reference deployment's configuration and a
# state folder under the working tree. Extra arguments go to `switchboard serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh run
exec .venv/bin/switchboard serve --config-dir examples/reference --state-dir state "$@"
