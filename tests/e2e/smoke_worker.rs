//! Smoke test of the end-to-end harness: an s3s-fs store and `wrangler dev` serving the built
//! worker start on free ports, answer, and are cleaned up.
use crate::support::{self, get, http, TestEnv};

#[test]
#[ignore = "end-to-end: needs s3s-fs/wrangler, run by make test"]
fn healthz_and_unknown_path() {
    let env = TestEnv::start(&[]);

    let res = get(&env.worker.url("/healthz"));
    assert_eq!(res.status, 200, "{}", res.text());
    assert!(
        res.header("content-type")
            .is_some_and(|v| v.starts_with("application/json")),
        "{:?}",
        res.headers
    );
    assert_eq!(res.json(), serde_json::json!({ "status": "ok" }));

    let res = http("GET", &env.worker.url("/no/such/path"), &[], b"");
    assert_eq!(res.status, 404, "{}", res.text());
    let body = res.json();
    assert_eq!(body["error"]["code"], "not_found", "{body}");
    assert!(body["error"]["message"].is_string(), "{body}");

    // The store answers S3 requests (an unsigned request is refused, not dropped).
    let res = get(&format!("{}/{}/", env.store.endpoint, env.store.bucket));
    assert!(res.status >= 400, "{} {}", res.status, res.text());
}

#[test]
#[ignore = "end-to-end: needs s3s-fs/wrangler, run by make test"]
fn processes_are_stopped_on_drop() {
    let env = TestEnv::start(&[]);
    let (worker_port, store_port) = (env.worker.port, env.store.port);
    assert!(support::port_open(worker_port) && support::port_open(store_port));
    drop(env);
    assert!(!support::port_open(worker_port), "wrangler still listening");
    assert!(!support::port_open(store_port), "s3s-fs still listening");
}
