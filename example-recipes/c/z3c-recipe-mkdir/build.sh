#!/usr/bin/env bash
# Rebuilds z3c.recipe.mkdir.wasm (checked in); see ../componentize.sh for what it needs.
set -euo pipefail
cd "$(dirname "$0")"
../componentize.sh z3c.recipe.mkdir.wasm mkdir.c
