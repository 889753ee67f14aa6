#!/usr/bin/env bash
# Rebuilds hexagonit.recipe.download.wasm (checked in: componentize-js output is
# large and slow to make). Needs Node.js and
# `npm install @bytecodealliance/componentize-js@0.23.0` (here or in a parent).
set -euo pipefail
cd "$(dirname "$0")"
npx componentize-js --wit ../../../wit/recipe --world-name recipe --disable http fetch-event \
  -o hexagonit.recipe.download.wasm recipe.js
