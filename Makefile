# presign-worker. The two commands of the README:
#   make dev    run the worker locally (wrangler dev on 127.0.0.1:8787 + s3s-fs store)
#   make test   everything CI runs (.ci/run): fmt, clippy (native + wasm32), build, tests
.PHONY: dev test setup build fmt clippy bench clean

dev:
	bash scripts/dev.sh

test:
	bash scripts/test.sh

setup:
	bash scripts/setup.sh

build:
	bash scripts/build.sh

fmt:
	cargo fmt --all

clippy:
	cargo clippy --all-targets -- -D warnings
	cargo clippy --lib --bins --target wasm32-unknown-unknown -- -D warnings

# Benchmarks: one table, native (criterion) and in workerd against the JavaScript baselines
# of bench/ (scripts/bench.sh; README, Benchmarks).
bench:
	bash scripts/bench.sh

# Build output and wrangler state; keeps target/, node_modules/, .dev.vars and .local/.
clean:
	rm -rf build .wrangler
