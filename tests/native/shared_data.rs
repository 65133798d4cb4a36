//! Test data from the workplace's read-only `../shared/` folder (the AWS SigV4 suite, JWT
//! vectors). Missing data is a skip (with a notice) on a developer's machine and a failure
//! when `CI=true`: CI must never pass by skipping.

use std::path::PathBuf;

use serde_json::Value;

/// `../shared/<rel>` when it exists; `None` after a skip notice when it does not (panics under
/// `CI=true`).
pub fn shared_path(rel: &str) -> Option<PathBuf> {
    let path = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/")).join(rel);
    if path.exists() {
        return Some(path);
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!(
            "test data missing at {} (CI=true: not skipping)",
            path.display()
        );
    }
    eprintln!("SKIPPED: test data not found at {}", path.display());
    None
}

/// A JSON file of `../shared/jwt-vectors/`, as for [`shared_path`].
pub fn jwt_vector(rel: &str) -> Option<Value> {
    let path = shared_path(&format!("jwt-vectors/{rel}"))?;
    let text = std::fs::read_to_string(&path).expect("read the vector file");
    Some(serde_json::from_str(&text).expect("vector file is JSON"))
}
