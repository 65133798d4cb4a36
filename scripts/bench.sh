#!/usr/bin/env bash
# `make bench`: presign-worker side by side with what users would deploy instead, measured in
# one run on this machine, printed as one table (also written to bench/out/table.md).
#
#   1. native    cargo bench --bench sigv4 / --bench jwt (criterion): our presign vs the
#                aws-sigv4 crate, our HS256 verify vs jsonwebtoken; their RESULT lines
#   2. runtime   each worker served by `workerd serve bench/workerd/NAME.capnp` on a free port of
#                127.0.0.1, checked once (answer shape, signature parameters, and a real PUT to a
#                local s3s-fs that must store the exact body and refuse another type or size),
#                then loaded with wrk (warm-ups excluded; rounds that interleave the targets, the
#                median round reported): our POST /v1/uploads, the aws4fetch +
#                jose and the @aws-sdk + jose baselines (bench/workers, bundled here with
#                `wrangler deploy --dry-run --minify`), and our GET /healthz as the ceiling
#   3. start-up  bundle sizes (raw, gzipped); workerd spawn → first answer of each worker; and
#                what compiling and instantiating our wasm module adds to a trivial worker's
#                start-up in workerd (bench/workerd/probe-*.capnp)
#
# Environment: BENCH_DURATION (s, default 10) per run, BENCH_ROUNDS (3: every target is measured
# once per round, rounds interleave the targets), BENCH_WARMUP (s, 3), BENCH_CONNECTIONS (32),
# BENCH_THREADS (2), BENCH_STARTUP_ROUNDS (9), BENCH_CRITERION_ARGS (default "--warm-up-time 1 --measurement-time 3"),
# BENCH_SKIP_BUILD=1 (use build/ as it is), BENCH_SKIP_NATIVE=1 (no criterion run),
# BENCH_TARGET_DIR (cargo's target directory for the criterion benches, default target/bench).
# Every process started here is stopped on exit. Logs of the last run: bench/out/.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export WRANGLER_SEND_METRICS=false

DURATION=${BENCH_DURATION:-10}
WARMUP=${BENCH_WARMUP:-3}
CONNECTIONS=${BENCH_CONNECTIONS:-32}
THREADS=${BENCH_THREADS:-2}
CRITERION_ARGS=${BENCH_CRITERION_ARGS:---warm-up-time 1 --measurement-time 3}
STARTUP_ROUNDS=${BENCH_STARTUP_ROUNDS:-9}
ROUNDS=${BENCH_ROUNDS:-3}
OUT=bench/out
WORKERD=node_modules/.bin/workerd
DRIVER=(node bench/driver.mjs)

say() { printf '[bench] %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

PIDS=()
RUN_DIR=""
FAILED=()

stop_pid() {
  local pid=$1
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  local keep=() p
  for p in "${PIDS[@]}"; do [ "$p" = "$pid" ] || keep+=("$p"); done
  PIDS=("${keep[@]}")
}
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  local pid
  for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
  if [ -n "$RUN_DIR" ]; then rm -rf "$RUN_DIR"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- preparation --------------------------------------------------------------------------------
bash scripts/setup.sh --bench
command -v wrk >/dev/null || die "wrk not found (scripts/setup.sh --bench installs it)"
[ -x "$WORKERD" ] || die "$WORKERD not found (scripts/setup.sh installs it)"
[ -d bench/node_modules ] || die "bench/node_modules missing (scripts/setup.sh --bench installs it)"
if [ -z "${BENCH_SKIP_BUILD:-}" ]; then
  bash scripts/build.sh
fi
for f in build/index_bg.wasm build/index.js build/worker/shim.mjs; do
  [ -f "$f" ] || die "$f missing: run scripts/build.sh"
done

rm -rf "$OUT"
mkdir -p "$OUT"
RUN_DIR=$(mktemp -d "${TMPDIR:-/tmp}/presign-bench.XXXXXX")
DATE=$(date -u +%Y-%m-%dT%H:%M:%SZ)

# --- 1. native ----------------------------------------------------------------------------------
# `cargo bench` builds the `presign` binary with the release profile's panic = "abort" and the
# library for the bench harness with unwind, into files of the same name (cargo warns about the
# collision): whichever is written last breaks the other link ("requires panic strategy abort").
# Hence panic = unwind for this build, in a target directory of its own (target/bench) so that
# it neither invalidates nor races the release builds of target/ (the first run compiles it all).
BENCH_TARGET_DIR=${BENCH_TARGET_DIR:-$ROOT/target/bench}
if [ -z "${BENCH_SKIP_NATIVE:-}" ]; then
  for b in sigv4 jwt; do
    say "cargo bench --bench $b -- $CRITERION_ARGS (log: $OUT/native-$b.log)"
    # shellcheck disable=SC2086 # CRITERION_ARGS is a list of arguments
    if CARGO_TARGET_DIR="$BENCH_TARGET_DIR" CARGO_PROFILE_RELEASE_PANIC=unwind \
      cargo bench --bench "$b" -- $CRITERION_ARGS >"$OUT/native-$b.log" 2>&1; then
      grep '^RESULT' "$OUT/native-$b.log" >&2 || { say "no RESULT line from $b"; FAILED+=("native-$b"); }
    else
      tail -n 20 "$OUT/native-$b.log" >&2
      say "cargo bench --bench $b failed"
      FAILED+=("native-$b")
    fi
  done
fi

# --- bundles of the baselines -------------------------------------------------------------------
for n in aws4fetch sdk; do
  say "bundling bench/workers/$n (wrangler deploy --dry-run --minify)"
  rm -rf "bench/dist/$n"
  node_modules/.bin/wrangler deploy --dry-run --minify --outdir "$ROOT/bench/dist/$n" \
    -c "bench/workers/$n/wrangler.toml" >"$OUT/bundle-$n.log" 2>&1 ||
    { cat "$OUT/bundle-$n.log" >&2; die "bundling $n failed"; }
  [ -f "bench/dist/$n/worker.js" ] || die "bench/dist/$n/worker.js was not written"
done

# --- start-up in workerd: the three workers and the wasm probes ---------------------------------
say "timing workerd start-up ($STARTUP_ROUNDS runs of each, interleaved)"
"${DRIVER[@]}" startup "$STARTUP_ROUNDS" \
  none=bench/workerd/probe-none.capnp \
  compile=bench/workerd/probe-compile.capnp \
  instantiate=bench/workerd/probe-instantiate.capnp \
  ours=bench/workerd/ours.capnp \
  aws4fetch=bench/workerd/aws4fetch.capnp \
  sdk=bench/workerd/sdk.capnp >"$OUT/startup.json"

# --- the store that checks the URLs -------------------------------------------------------------
S3_PORT=$("${DRIVER[@]}" port)
mkdir -p "$RUN_DIR/s3/uploads"
s3s-fs --host 127.0.0.1 --port "$S3_PORT" \
  --access-key "$("${DRIVER[@]}" binding S3_ACCESS_KEY_ID)" \
  --secret-key "$("${DRIVER[@]}" binding S3_SECRET_ACCESS_KEY)" \
  "$RUN_DIR/s3" >"$OUT/s3s-fs.log" 2>&1 &
PIDS+=($!)
"${DRIVER[@]}" wait "http://127.0.0.1:$S3_PORT/" 10000 "${PIDS[-1]}" >/dev/null || die "s3s-fs did not start"

# --- 2. runtime ---------------------------------------------------------------------------------
# The three workers run side by side (one workerd each); every round loads each target once, in
# a rotating order, so that changes in the machine's background load hit all of them alike.
declare -A BASE=()
for name in ours aws4fetch sdk; do
  port=$("${DRIVER[@]}" port)
  BASE[$name]="http://127.0.0.1:$port"
  say "$name: workerd serve bench/workerd/$name.capnp on ${BASE[$name]}"
  "$WORKERD" serve "bench/workerd/$name.capnp" --socket-addr "http=127.0.0.1:$port" \
    >"$RUN_DIR/workerd-$name.log" 2>&1 &
  wpid=$!
  PIDS+=("$wpid")
  "${DRIVER[@]}" wait "${BASE[$name]}/healthz" 20000 "$wpid" >/dev/null ||
    { tail -n 20 "$RUN_DIR/workerd-$name.log" >&2; die "workerd ($name) did not answer"; }
  say "$name: checking one answer and its URL against s3s-fs"
  "${DRIVER[@]}" check "$name" "${BASE[$name]}" "$S3_PORT" "$RUN_DIR/s3" >"$OUT/check-$name.json" ||
    { tail -n 20 "$RUN_DIR/workerd-$name.log" >&2; die "$name gave a wrong answer: not benchmarked"; }
done
TOKEN=$("${DRIVER[@]}" token)
url_of() {
  case $1 in
    healthz) printf '%s/healthz' "${BASE[ours]}" ;;
    *) printf '%s/v1/uploads' "${BASE[$1]}" ;;
  esac
}
token_of() { [ "$1" = healthz ] || printf '%s' "$TOKEN"; }

BUSY=()
# run TARGET SECONDS LOG [--latency]: one bounded wrk run.
run() {
  local target=$1 secs=$2 log=$3
  shift 3
  BENCH_TOKEN=$(token_of "$target") timeout $((secs + 30)) \
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"${secs}s" --timeout 5s "$@" \
    -s bench/wrk/job.lua "$(url_of "$target")" >"$log" 2>&1
}

TARGETS=(ours healthz aws4fetch sdk)
for t in "${TARGETS[@]}"; do
  say "$t: warm-up ${WARMUP}s (excluded)"
  run "$t" "$WARMUP" "$OUT/warmup-$t.log" || true
done
for r in $(seq 1 "$ROUNDS"); do
  # Rotate the order each round.
  order=("${TARGETS[@]:$(((r - 1) % 4))}" "${TARGETS[@]:0:$(((r - 1) % 4))}")
  for t in "${order[@]}"; do
    log="$OUT/wrk-$t-$r.log"
    BUSY+=("$(pgrep -c -x rustc 2>/dev/null || true)")
    if ! run "$t" "$DURATION" "$log" --latency; then
      cat "$log" >&2
      FAILED+=("wrk-$t-$r")
      continue
    fi
    line=$(sed -n 's/^WRK //p' "$log")
    if [ -z "$line" ]; then
      FAILED+=("wrk-$t-$r")
    elif ! printf '%s' "$line" | grep -q '"status":0,'; then
      say "$t: some answers were not 2xx (see $log)"
      FAILED+=("non2xx-$t-$r")
    fi
    say "round $r/$ROUNDS $t: $(grep -E 'Requests/sec' "$log" | tr -s ' ')"
  done
done
for name in ours aws4fetch sdk; do
  tail -n 3 "$RUN_DIR/workerd-$name.log" >"$OUT/workerd-$name.tail.log"
done

# --- 3. the table -------------------------------------------------------------------------------
busy=$(printf '%s,' "${BUSY[@]}")
cat >"$OUT/meta.json" <<EOF
{"date": "$DATE", "threads": $THREADS, "connections": $CONNECTIONS, "duration": $DURATION,
 "warmup": $WARMUP, "rounds": $ROUNDS, "criterion_args": "$CRITERION_ARGS",
 "rustc_running": [${busy%,}], "load_average": "$(cut -d' ' -f1-3 /proc/loadavg)"}
EOF
echo >&2
"${DRIVER[@]}" report "$OUT" | tee "$OUT/table.md"
if [ ${#FAILED[@]} -gt 0 ]; then
  say "incomplete: ${FAILED[*]} (logs in $OUT/)"
  exit 1
fi
