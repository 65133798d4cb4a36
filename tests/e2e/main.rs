//! The end-to-end tests, one test binary: real processes on loopback (an `s3s-fs` store,
//! `wrangler dev` serving the built worker, headless Chromium), started by the harness in
//! `support`.
//!
//! Every test is `#[ignore]`d, so that a bare `cargo test` stays fast and self-contained;
//! `make test` runs them with `--include-ignored` after `scripts/setup.sh --browser` and
//! `scripts/build.sh`. One module: `cargo test --test e2e e2e_worker:: -- --include-ignored`.
#![cfg(not(target_arch = "wasm32"))]

mod support;

mod doctor_cli;
mod e2e_bounded;
mod e2e_browser;
mod e2e_demo;
mod e2e_jwks;
mod e2e_ledger;
mod e2e_multipart;
mod e2e_receipt;
mod e2e_schemathesis;
mod e2e_worker;
mod sigv4_s3s;
mod smoke_worker;
mod store_s3s;
