#!/usr/bin/env bash
# Builds the worker bundle (build/worker/shim.mjs + build/worker/index.wasm) with worker-build,
# using the locally installed wasm-bindgen, esbuild and wasm-opt (worker-build would otherwise
# try to download them from GitHub), and our own entry module src/shim.js (CUSTOM_SHIM: it
# reads the request body in JavaScript and calls the wasm synchronously; see its header).
# Prints the raw and gzipped sizes.
# Run scripts/setup.sh first (make dev / make test do).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '[build] %s\n' "$*" >&2; }

WASM_BINDGEN_BIN=$(command -v wasm-bindgen || true)
if [ -z "$WASM_BINDGEN_BIN" ]; then
  say "wasm-bindgen not found: run scripts/setup.sh"
  exit 1
fi
for tool in esbuild wasm-opt; do
  if [ ! -x "node_modules/.bin/$tool" ]; then
    say "node_modules/.bin/$tool not found: run scripts/setup.sh"
    exit 1
  fi
done
if ! command -v worker-build >/dev/null; then
  say "worker-build not found: run scripts/setup.sh"
  exit 1
fi

say "worker-build --release"
# Nothing of an earlier build's layout left behind (worker-build only replaces what it writes).
rm -rf build
WASM_BINDGEN_BIN="$WASM_BINDGEN_BIN" \
ESBUILD_BIN="$PWD/node_modules/.bin/esbuild" \
WASM_OPT_BIN="$PWD/node_modules/.bin/wasm-opt" \
CUSTOM_SHIM="$PWD/src/shim.js" \
  worker-build --release

# Sizes of what is uploaded (wrangler.toml's main and what it imports): the wasm module and the
# JavaScript around it. worker-build also writes build/index.js, a one-line re-export that is
# not uploaded.
shopt -s nullglob
files=(build/worker/*.wasm build/worker/*.mjs)
if [ ${#files[@]} -eq 0 ]; then
  say "no output in build/"
  exit 1
fi
total_raw=0
total_gz=0
{
  printf '%-34s %10s %10s\n' file bytes gzipped
  for f in "${files[@]}"; do
    raw=$(wc -c <"$f")
    gz=$(gzip -9 -c "$f" | wc -c)
    total_raw=$((total_raw + raw))
    total_gz=$((total_gz + gz))
    printf '%-34s %10d %10d\n' "$f" "$raw" "$gz"
  done
  printf '%-34s %10d %10d  (%.1f KB = %.1f KiB gzipped)\n' total "$total_raw" "$total_gz" \
    "$(awk "BEGIN { print $total_gz / 1000 }")" "$(awk "BEGIN { print $total_gz / 1024 }")"
} | tee build/sizes.txt
