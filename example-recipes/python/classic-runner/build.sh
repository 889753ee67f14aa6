#!/usr/bin/env bash
# Builds bo.classic-runner.wasm (never committed: it is large). Needs
# componentize-py 0.25.1: `pip install componentize-py==0.25.1`, or set
# COMPONENTIZE_PY to its path.
set -euo pipefail
cd "$(dirname "$0")"
"${COMPONENTIZE_PY:-componentize-py}" -d ../../../wit/recipe -w recipe componentize app -o bo.classic-runner.wasm
ls -l bo.classic-runner.wasm
