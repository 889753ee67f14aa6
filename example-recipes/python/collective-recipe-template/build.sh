#!/usr/bin/env bash
# Rebuilds collective.recipe.template.wasm (checked in: componentize-py output is
# large and slow to make). Needs `pip install componentize-py==0.25.1`.
set -euo pipefail
cd "$(dirname "$0")"
componentize-py -d ../../../wit/recipe -w recipe componentize app -o collective.recipe.template.wasm
