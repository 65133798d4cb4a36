//! The native tests, one test binary: known-answer, differential and property tests of the
//! signer and the verifier, the JSON API through `Service::handle` / `Service::serve`, the
//! OpenAPI document against the implementation, and the `presign` command line. They need
//! nothing but cargo (and `../shared/` for the published vectors, see `shared_data`).
//!
//! `cargo test --test native` runs them all; `cargo test --test native api::` one module.
#![cfg(not(target_arch = "wasm32"))]

mod api_support;
mod shared_data;

mod api;
mod api_fuzz;
mod api_jwks;
mod grants;
mod jwt_attacks;
mod jwt_cli;
mod jwt_differential;
mod jwt_fuzz;
mod jwt_jwk;
mod jwt_vectors;
mod ledger;
mod multipart;
mod openapi;
mod receipt;
mod receipt_ed25519;
mod sigv4_aws_docs;
mod sigv4_differential;
mod sigv4_suite;
mod url_cli;
mod webhook;
