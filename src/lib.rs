//! presign-worker: S3-compatible presigned URLs handed out from the edge, authorised by a JWT.
//!
//! The crate is a pure core that compiles and is tested natively, plus a thin wasm32 adapter:
//!
//! - [`sigv4`]: AWS Signature Version 4 (canonical request, string to sign, signing key,
//!   presigned URLs and header signing) with S3's encoding rules.
//! - [`jwt`]: JWT verification (HMAC, RSA, ECDSA, EdDSA) with a `Validation` allow-list.
//! - [`jwks`]: identity providers' keys from JWK sets (fetch rules, cache, rotation).
//! - [`store`]: the worker's own multipart control requests to the store, sans IO.
//! - [`ledger`]: per-subject budgets and single-use token ids (kept in a Durable Object).
//!
//! The core never reads the clock or randomness: time and random bytes are arguments.
#![forbid(unsafe_code)]
#![warn(missing_docs, rust_2018_idioms, unreachable_pub)]
#![cfg_attr(
    not(test),
    warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod api;
pub mod config;
pub mod jwks;
pub mod jwt;
pub mod ledger;
pub mod policy;
pub mod sigv4;
pub mod store;
pub mod webhook;

#[cfg(target_arch = "wasm32")]
mod adapter;
/// The upload ledger's Durable Object side (exports to `src/shim.js`).
#[cfg(target_arch = "wasm32")]
pub mod durable;
