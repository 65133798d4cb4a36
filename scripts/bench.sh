#!/usr/bin/env bash
# `make bench`: presign-worker side by side with what users would deploy instead, measured in
# one run on this machine, printed as one table (also written to bench/out/table.md).
#
#   1. native    cargo bench --bench sigv4 / --bench jwt (criterion): our presign vs the
#                aws-sigv4 crate, our HS256 verify vs jsonwebtoken; their RESULT lines
#   2. runtime   each worker served by `workerd serve bench/workerd/NAME.capnp` on a free port of
#                127.0.0.1, checked once per target (answer shape, signature parameters, and a real
#                PUT to a local s3s-fs that must store the exact body and refuse another type or
#                size), then loaded with wrk (warm-ups excluded; rounds that interleave the
#                targets, the median round reported; the workerd process's CPU time per request
#                from /proc): our POST /v1/uploads with an HS256 token, the same with an ES256 and
#                an RS256 (RSA 2048) token verified with WebCrypto, the aws4fetch + jose and the
#                @aws-sdk + jose baselines (bench/workers, bundled here with `wrangler deploy
#                --dry-run --minify`), `rust-min` (bench/rust-min: the same job in about the
#                least Rust/wasm a worker can run, built here; no goal, the bound to read ours
#                against), our GET /healthz as the ceiling, and `floor`
#                (bench/workers/floor, plain JavaScript that only reads the same POST's body, logs
#                and answers fixed JSON: what the request costs any worker; not checked). The public-key tokens
#                go to a second workerd of our worker, bench/out/ours-jwks.capnp, which the driver
#                generates for the run (`driver.mjs issuer`: ours.capnp + env.capnp's bindings +
#                ISSUERS=bench with its JWK set inline, keys made with node:crypto), so that the
#                HS256 worker's config stays exactly ours.capnp; the public-key checks also require
#                a 401 for the same token with one signature byte changed; and `ours-budget`: our
#                full job again with the same HS256 token (sub alice: one subject), served by a
#                third workerd of our worker, bench/out/ours-ledger.capnp (`driver.mjs ledger`:
#                ours.capnp + env.capnp's bindings + QUOTA_BYTES_PER_DAY = 10^15, never reached,
#                and the LEDGER Durable Object namespace, class Ledger with SQL storage on local
#                disk in a fresh directory of this run), so that every grant is counted in one
#                object; its check also requires GET /v1/usage with the token to show the grant
#                counted (and the plain HS256 target's to show no ledger); `ours-c1` and
#                `ours-budget-c1` are the same two with one connection (wrk -t1 -c1): the latency of
#                one request alone, without waiting behind others for the subject's object
#   3. start-up  bundle sizes (raw, gzipped); workerd spawn → first answer of each worker; what
#                compiling and instantiating our wasm module adds to a trivial worker's start-up
#                in workerd (bench/workerd/probe-*.capnp); and the first requests of a fresh
#                workerd of ours, of each baseline (rust-min too) and of `floor` (`driver.mjs firstreq`: spawn →
#                accepting connections → ten full-job requests in a row on new connections;
#                spawn → first answer, and the first request's own latency against the tenth's)
#
# Environment: BENCH_DURATION (s, default 10) per run, BENCH_ROUNDS (3: every target is measured
# once per round, rounds interleave the targets), BENCH_WARMUP (s, 3), BENCH_CONNECTIONS (32),
# BENCH_THREADS (2), BENCH_STARTUP_ROUNDS (9), BENCH_CRITERION_ARGS (default "--warm-up-time 1 --measurement-time 3"),
# BENCH_SKIP_BUILD=1 (use build/ as it is), BENCH_SKIP_NATIVE=1 (no criterion run), BENCH_TARGETS
# (a space-separated subset of the workerd targets, e.g. "ours-c1 ours-budget-c1"),
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
for f in build/worker/index.wasm build/worker/shim.mjs; do
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

# --- the rust-min baseline: bench/rust-min, built like ours but by hand ------------------------
# (cargo, then wasm-bindgen --target web, wasm-opt -Oz, esbuild) into bench/dist/rust-min/, which
# bench/workerd/rust-min.capnp serves.
say "building bench/rust-min (the least Rust/wasm worker for the job)"
RUST_MIN=bench/dist/rust-min
rm -rf "$RUST_MIN"
mkdir -p "$RUST_MIN/gen"
cargo build --quiet --release --locked --target wasm32-unknown-unknown \
  --manifest-path bench/rust-min/Cargo.toml --target-dir target/rust-min ||
  die "building bench/rust-min failed"
# strip = true drops the target_features section wasm-bindgen would read; wasm-opt gets
# rustc's wasm32 features explicitly instead.
wasm-bindgen --target web --out-dir "$RUST_MIN/gen" --out-name rust_min \
  target/rust-min/wasm32-unknown-unknown/release/rust_min.wasm 2>"$OUT/rust-min-bindgen.log" ||
  { cat "$OUT/rust-min-bindgen.log" >&2; die "wasm-bindgen (rust-min) failed"; }
node_modules/.bin/wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int \
  --enable-sign-ext --enable-mutable-globals "$RUST_MIN/gen/rust_min_bg.wasm" -o "$RUST_MIN/index.wasm" ||
  die "wasm-opt (rust-min) failed"
cp bench/rust-min/shim.js "$RUST_MIN/gen/shim.js"
node_modules/.bin/esbuild "$RUST_MIN/gen/shim.js" --bundle --format=esm --platform=neutral \
  --external:./index.wasm --external:cloudflare:workers --log-level=warning --outfile="$RUST_MIN/shim.mjs" ||
  die "esbuild (rust-min) failed"

# --- start-up in workerd: the three workers and the wasm probes ---------------------------------
say "timing workerd start-up ($STARTUP_ROUNDS runs of each, interleaved)"
"${DRIVER[@]}" startup "$STARTUP_ROUNDS" \
  none=bench/workerd/probe-none.capnp \
  compile=bench/workerd/probe-compile.capnp \
  instantiate=bench/workerd/probe-instantiate.capnp \
  ours=bench/workerd/ours.capnp \
  aws4fetch=bench/workerd/aws4fetch.capnp \
  sdk=bench/workerd/sdk.capnp >"$OUT/startup.json"
# The first requests of a fresh workerd: spawn → accepting connections (worker loaded, its top
# level evaluated) → ten full-job requests in a row (HS256 token), the first and the tenth timed.
say "timing the first full-job requests of a fresh workerd ($STARTUP_ROUNDS runs of each, interleaved)"
"${DRIVER[@]}" firstreq "$STARTUP_ROUNDS" \
  ours=bench/workerd/ours.capnp \
  aws4fetch=bench/workerd/aws4fetch.capnp \
  sdk=bench/workerd/sdk.capnp \
  rust-min=bench/workerd/rust-min.capnp \
  floor=bench/workerd/floor.capnp >"$OUT/firstreq.json"

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
# The workers run side by side, one workerd each (ours twice: HS256 only, and with the bench
# identity provider); every round loads each target once, in a rotating order, so that changes in
# the machine's background load hit all of them alike.
# Targets (what wrk loads) → workerd process and token algorithm. ours-es256 and ours-rs256 are
# our worker again, in its own workerd whose config adds the bench identity provider.
# ours-budget is our worker with a budget, in a workerd whose config adds the ledger.
declare -A PROC=([ours]=ours [healthz]=ours [ours-budget]=ours-ledger [ours-es256]=ours-jwks
  [ours-rs256]=ours-jwks [aws4fetch]=aws4fetch [sdk]=sdk [rust-min]=rust-min [floor]=floor
  [ours-c1]=ours [ours-budget-c1]=ours-ledger)
declare -A ALG=([ours]=HS256 [ours-budget]=HS256 [ours-es256]=ES256 [ours-rs256]=RS256
  [aws4fetch]=HS256 [sdk]=HS256 [rust-min]=HS256)
# What the check asks GET /v1/usage to show (driver.mjs check): the grant counted, or no ledger.
declare -A USAGE=([ours]=none [ours-budget]=ledger)
export BENCH_ISSUER_KEYS="$RUN_DIR/issuer-keys.json"
say "ours-jwks: ES256 and RS256 keys of the bench issuer, $OUT/ours-jwks.capnp"
"${DRIVER[@]}" issuer "$BENCH_ISSUER_KEYS" "$OUT/ours-jwks.capnp" || die "driver.mjs issuer failed"
# The ledger's Durable Object storage: a fresh directory of this run (removed on exit).
mkdir -p "$RUN_DIR/ledger"
say "ours-ledger: the budget's Durable Object on local disk ($RUN_DIR/ledger), $OUT/ours-ledger.capnp"
"${DRIVER[@]}" ledger "$OUT/ours-ledger.capnp" || die "driver.mjs ledger failed"
WORKERDS=(ours ours-ledger ours-jwks aws4fetch sdk rust-min floor)
declare -A BASE=() WPID=()
for name in "${WORKERDS[@]}"; do
  capnp=bench/workerd/$name.capnp
  args=()
  case $name in
    ours-jwks) capnp=$OUT/ours-jwks.capnp ;;
    ours-ledger)
      capnp=$OUT/ours-ledger.capnp
      args=(--directory-path "ledger-disk=$RUN_DIR/ledger")
      ;;
  esac
  port=$("${DRIVER[@]}" port)
  BASE[$name]="http://127.0.0.1:$port"
  say "$name: workerd serve $capnp on ${BASE[$name]}"
  "$WORKERD" serve "$capnp" --socket-addr "http=127.0.0.1:$port" "${args[@]}" \
    >"$RUN_DIR/workerd-$name.log" 2>&1 &
  wpid=$!
  PIDS+=("$wpid")
  WPID[$name]=$wpid
  "${DRIVER[@]}" wait "${BASE[$name]}/healthz" 20000 "$wpid" >/dev/null ||
    { tail -n 20 "$RUN_DIR/workerd-$name.log" >&2; die "workerd ($name) did not answer"; }
done
declare -A TOKEN=()
for t in ours ours-budget ours-es256 ours-rs256 aws4fetch sdk rust-min; do
  p=${PROC[$t]}
  say "$t: checking one answer (${ALG[$t]} token) and its URL against s3s-fs${USAGE[$t]:+, GET /v1/usage (ledger: ${USAGE[$t]})}"
  "${DRIVER[@]}" check "$t" "${BASE[$p]}" "$S3_PORT" "$RUN_DIR/s3" "${ALG[$t]}" ${USAGE[$t]:+"${USAGE[$t]}"} >"$OUT/check-$t.json" ||
    { tail -n 20 "$RUN_DIR/workerd-$p.log" >&2; die "$t gave a wrong answer: not benchmarked"; }
  TOKEN[$t]=$("${DRIVER[@]}" token "${ALG[$t]}")
done
url_of() {
  case $1 in
    healthz) printf '%s/healthz' "${BASE[ours]}" ;;
    *) printf '%s/v1/uploads' "${BASE[${PROC[$1]}]}" ;;
  esac
}
# The floor gets the full job's request as it is (its token is not checked).
TOKEN[floor]=${TOKEN[ours]}
# The one-connection targets: the same requests as their namesakes.
TOKEN[ours-c1]=${TOKEN[ours]}
TOKEN[ours-budget-c1]=${TOKEN[ours-budget]}
token_of() { [ "$1" = healthz ] || printf '%s' "${TOKEN[$1]}"; }
# CPU time (user + system, clock ticks) of a process so far, all its threads.
HZ=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
# Busy and idle ticks of the whole machine so far (all cores; idle includes iowait).
machine_ticks() { awk '/^cpu /{print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6}' /proc/stat; }

BUSY=()
# run TARGET SECONDS LOG [--latency]: one bounded wrk run (targets *-c1: one thread, one
# connection).
run() {
  local target=$1 secs=$2 log=$3 threads=$THREADS connections=$CONNECTIONS
  shift 3
  case $target in *-c1) threads=1 connections=1 ;; esac
  BENCH_TOKEN=$(token_of "$target") timeout $((secs + 30)) \
    wrk -t"$threads" -c"$connections" -d"${secs}s" --timeout 5s "$@" \
    -s bench/wrk/job.lua "$(url_of "$target")" >"$log" 2>&1
}

TARGETS=(ours ours-budget ours-es256 ours-rs256 healthz aws4fetch sdk rust-min floor ours-c1 ours-budget-c1)
# BENCH_TARGETS="ours-c1 ours-budget-c1" measures only those (a quick look at one change; the
# table then leaves the others' rows out or marks them missing).
if [ -n "${BENCH_TARGETS:-}" ]; then read -r -a TARGETS <<<"$BENCH_TARGETS"; fi
for t in "${TARGETS[@]}"; do
  say "$t: warm-up ${WARMUP}s (excluded)"
  run "$t" "$WARMUP" "$OUT/warmup-$t.log" || true
done
for r in $(seq 1 "$ROUNDS"); do
  # Rotate the order each round.
  k=$(((r - 1) % ${#TARGETS[@]}))
  order=("${TARGETS[@]:$k}" "${TARGETS[@]:0:$k}")
  for t in "${order[@]}"; do
    log="$OUT/wrk-$t-$r.log"
    BUSY+=("$(pgrep -c -x rustc 2>/dev/null || true)")
    wpid=${WPID[${PROC[$t]}]}
    before=$(cpu_ticks "$wpid")
    read -r busy0 idle0 < <(machine_ticks)
    if ! run "$t" "$DURATION" "$log" --latency; then
      cat "$log" >&2
      FAILED+=("wrk-$t-$r")
      continue
    fi
    # CPU time of the workerd serving the target and of the machine, over the run (read by
    # driver.mjs report).
    after=$(cpu_ticks "$wpid")
    read -r busy1 idle1 < <(machine_ticks)
    printf 'CPU {"ticks":%d,"hz":%d,"machine_busy":%d,"machine_idle":%d}\n' \
      "$((after - before))" "$HZ" "$((busy1 - busy0))" "$((idle1 - idle0))" >>"$log"
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
for name in "${WORKERDS[@]}"; do
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
