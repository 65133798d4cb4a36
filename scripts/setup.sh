#!/usr/bin/env bash
# Installs everything presign-worker needs to build, run and test, and skips what is
# already present at the right version. Safe to run again; called by `make dev`,
# `make test` and `.ci/run`.
#
#   scripts/setup.sh            toolchain target, cargo tools, npm packages (also demo/'s, the
#                               pages of `make dev`, own package.json and lockfile)
#   scripts/setup.sh --browser  also Chromium and tests/browser's npm packages (browser test),
#                               openssl, and schemathesis from PyPI in .venv/ (API contract test)
#   scripts/setup.sh --bench    also wrk and the npm packages of the JavaScript baselines
#                               (bench/package.json, own lockfile; for `make bench`)
set -euo pipefail
cd "$(dirname "$0")/.."

S3S_FS_VERSION=0.14.1
say() { printf '[setup] %s\n' "$*" >&2; }

# Version of a crate as locked in Cargo.lock (first match).
locked_version() {
  awk -v n="$1" '$0 == "name = \"" n "\"" { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock
}

# `cargo install NAME VERSION [extra args]` unless that exact version is installed.
cargo_tool() {
  local name=$1 version=$2; shift 2
  if cargo install --list | grep -qx "$name v$version:"; then
    return 0
  fi
  say "installing $name $version (compiles from source, a few minutes)"
  cargo install --quiet "$name" --version "$version" "$@"
}

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi
for c in clippy rustfmt; do
  rustup component list --installed | grep -q "^$c" || rustup component add "$c"
done

# wasm-bindgen-cli must equal the wasm-bindgen crate in Cargo.lock (`--locked` fails here).
cargo_tool wasm-bindgen-cli "$(locked_version wasm-bindgen)"
cargo_tool worker-build "$(locked_version worker)"
cargo_tool s3s-fs "$S3S_FS_VERSION" --features binary

# npm packages (wrangler, workerd, esbuild, binaryen). `npm ci` (which deletes node_modules,
# under any running wrangler) only when package-lock.json changed since the last install or a
# tool is missing. npm's own node_modules/.package-lock.json never equals package-lock.json,
# hence our stamp.
NPM_STAMP=node_modules/.presign-worker-package-lock.json
npm_ok() {
  cmp -s package-lock.json "$NPM_STAMP" 2>/dev/null || return 1
  for t in wrangler esbuild wasm-opt; do
    [ -x "node_modules/.bin/$t" ] || return 1
  done
}
if ! npm_ok; then
  say "installing npm packages"
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json "$NPM_STAMP"
fi

apt_install() {
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing ${missing[*]} from Debian"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}
# npm packages with a package.json and lockfile of their own, in DIR, like the main npm step
# above: `npm ci` only when DIR/package-lock.json changed since the last install there or one of
# PACKAGES is missing.
#   npm_dir DIR WHAT PACKAGE...
npm_dir() {
  local dir=$1 what=$2 p ok=1
  shift 2
  local stamp=$dir/node_modules/.presign-worker-package-lock.json
  cmp -s "$dir/package-lock.json" "$stamp" 2>/dev/null || ok=""
  for p in "$@"; do
    [ -f "$dir/node_modules/$p/package.json" ] || ok=""
  done
  [ -n "$ok" ] && return 0
  say "installing the npm packages of $what ($dir)"
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  cp "$dir/package-lock.json" "$stamp"
}
# The baselines of `make bench` (aws4fetch, @aws-sdk, jose): bench/, only with --bench.
bench_npm() { npm_dir bench "the benchmark" aws4fetch jose @aws-sdk/client-s3 @aws-sdk/s3-request-presigner; }
# The browser tests' packages (Uppy 6, playwright-core, esbuild): tests/browser, with --browser.
browser_npm() { npm_dir tests/browser "the browser test" @uppy/core @uppy/aws-s3 playwright-core esbuild; }
# The demo pages of `make dev` (Uppy 6 Dashboard, esbuild; demo/serve.mjs bundles them): always.
npm_dir demo "the demo pages" @uppy/core @uppy/dashboard @uppy/aws-s3 esbuild

# schemathesis (PyPI), the schema-driven fuzzer of tests/e2e/e2e_schemathesis.rs, pinned, in a
# virtual environment of its own (.venv/, git-ignored; no system-wide pip install); only when
# that version is not there yet.
SCHEMATHESIS_VERSION=4.32.5
schemathesis_install() {
  local st=.venv/bin/schemathesis
  if [ -x "$st" ] && "$st" --version 2>/dev/null | grep -qx "schemathesis, version $SCHEMATHESIS_VERSION"; then
    return 0
  fi
  python3 -m venv --help >/dev/null 2>&1 || apt_install python3-venv
  say "installing schemathesis $SCHEMATHESIS_VERSION from PyPI (.venv)"
  [ -x .venv/bin/pip ] || python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
}

for arg in "$@"; do
  case "$arg" in
    # The test suite: Chromium and Uppy for the browser test, openssl for the JWKS tests' keys,
    # schemathesis for the API contract test.
    --browser) apt_install chromium openssl; browser_npm; schemathesis_install ;;
    --bench) apt_install wrk; bench_npm ;;
    *) say "unknown option $arg"; exit 2 ;;
  esac
done
say "ready"
