#!/usr/bin/env bash
# Rebuilds bo.classic-runner.wasm, checked in (as the other prebuilt recipes are:
# componentize-py output is large and slow to make; commit a rebuild only when the
# runner changes, each copy is ~20 MB of history). Needs
# componentize-py 0.25.1: `pip install componentize-py==0.25.1`, or set
# COMPONENTIZE_PY to its path.
set -euo pipefail
cd "$(dirname "$0")"
"${COMPONENTIZE_PY:-componentize-py}" -d ../../../wit/recipe -w recipe componentize app -o bo.classic-runner.wasm
ls -l bo.classic-runner.wasm
