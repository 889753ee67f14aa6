#!/usr/bin/env bash
# Benchmarks bo beside zc.buildout 6 and uv, on this machine, in one run.
# Usage: bash bench/run.sh [--quick] [--only SCENARIO...] [--slapos CHECKOUT]   (prints the table)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
WORK=${BO_BENCH_DIR:-$ROOT/target/bench}
mkdir -p "$WORK"

# Peers, in a private venv (from PyPI).
if [ ! -x "$WORK/venv/bin/buildout" ]; then
  python3 -m venv "$WORK/venv"
  "$WORK/venv/bin/pip" install -q zc.buildout==6.0.1 zc.recipe.egg==6.0.0 uv
fi

# bo, release, and the example recipes as components.
rustup target add wasm32-wasip2 >/dev/null 2>&1 || true
cargo build --release -q -p bo   # also builds and bundles the example recipes

"$WORK/venv/bin/python" bench/bench.py --bo "$ROOT/target/release/bo" \
  --recipes "$ROOT/target/bundled-recipes/wasm32-wasip2/release" \
  --venv "$WORK/venv" --work "$WORK" "$@"

echo
echo "Recipe start (in process, Rust components):"
cargo bench -q -p bo --bench recipe_start 2>/dev/null | grep '^|'
