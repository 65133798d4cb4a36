#!/usr/bin/env bash
# `make test` (and `.ci/run`): everything, from a fresh clone.
#
#   setup          scripts/setup.sh --browser (toolchain target, cargo tools, npm packages,
#                  the demo pages' npm packages, Chromium, openssl, the browser test's npm
#                  packages, schemathesis in .venv/)
#   fmt            cargo fmt --check
#   clippy         native, all targets, warnings are errors
#   clippy-wasm32  library and binaries for wasm32-unknown-unknown
#   build          the worker bundle (scripts/build.sh), needed by the end-to-end tests
#   test           unit tests (src/), tests/native and tests/e2e, i.e. every target but the benches,
#                  with -- --include-ignored: the end-to-end tests are #[ignore]d so that a
#                  bare `cargo test` stays fast and self-contained
#   bench-check    the benches, each benchmark run once (cargo test --bench '*'; criterion's
#                  command line refuses --include-ignored, hence the separate step)
#   doctest        documentation examples (not part of --all-targets)
#   doc            the API documentation builds without warnings (broken or private links)
#
# Prints which step failed and stops there. SKIP="fmt clippy" skips steps by name (local use).
set -euo pipefail
cd "$(dirname "$0")/.."

export WRANGLER_SEND_METRICS=false
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-auto}

CURRENT=""
STARTED=$SECONDS
DONE=()

on_exit() {
  local rc=$?
  if [ "$rc" -ne 0 ] && [ -n "$CURRENT" ]; then
    printf '\n==> FAILED at step "%s" (exit code %d). Steps passed: %s\n' \
      "$CURRENT" "$rc" "${DONE[*]:-none}" >&2
  fi
}
trap on_exit EXIT

step() {
  local name=$1
  shift
  if [[ " ${SKIP:-} " == *" $name "* ]]; then
    printf '\n==> [%s] skipped (SKIP)\n' "$name" >&2
    return 0
  fi
  CURRENT=$name
  local t0=$SECONDS
  printf '\n==> [%s] %s\n' "$name" "$*" >&2
  "$@"
  printf '==> [%s] ok (%ds)\n' "$name" $((SECONDS - t0)) >&2
  DONE+=("$name")
}

step setup bash scripts/setup.sh --browser
step fmt cargo fmt --all -- --check
step clippy cargo clippy --all-targets -- -D warnings
step clippy-wasm32 cargo clippy --lib --bins --target wasm32-unknown-unknown -- -D warnings
step build bash scripts/build.sh
step test cargo test --lib --bins --tests --examples -- --include-ignored
step bench-check cargo test --bench '*'
step doctest cargo test --doc
step doc env RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --lib
CURRENT=""

printf '\n==> all steps passed in %ds: %s\n' $((SECONDS - STARTED)) "${DONE[*]}" >&2
if [ -n "${SKIP:-}" ]; then
  printf '==> skipped on request: %s\n' "$SKIP" >&2
fi
if [ -f build/sizes.txt ]; then
  printf '==> worker bundle size:\n' >&2
  cat build/sizes.txt >&2
fi
