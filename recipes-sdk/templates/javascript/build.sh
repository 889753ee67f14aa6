#!/usr/bin/env bash
# Builds __NAME__.wasm. Needs Node.js and `npm install @bytecodealliance/componentize-js@0.23.0`.
set -euo pipefail
cd "$(dirname "$0")"
npx componentize-js --wit wit --world-name recipe --disable http fetch-event -o __NAME__.wasm recipe.js
