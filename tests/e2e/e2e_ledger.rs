//! The upload ledger under `wrangler dev`: the `Ledger` Durable Object (SQLite storage) counts
//! each subject's grants, however many requests arrive at once, and remembers used single-use
//! tokens across a restart on the same state directory.
use std::path::Path;
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use crate::support::{http, now_secs, post_json, random_hex, S3Store, TempDir, TestEnv, Worker};
use serde_json::{json, Value};

fn token(secret: &str, claims: &Value) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

/// `POST /v1/uploads` of `size` bytes with `token`: the status and the JSON body.
fn upload(worker: &Worker, token: &str, size: u64) -> (u16, Value) {
    let auth = format!("Bearer {token}");
    let body = json!({ "filename": "a.txt", "content_type": "text/plain", "size": size });
    let r = post_json(
        &worker.url("/v1/uploads"),
        &[("authorization", &auth)],
        &body,
    );
    (r.status, r.json())
}

fn usage(worker: &Worker, token: &str) -> Value {
    let auth = format!("Bearer {token}");
    let r = http(
        "GET",
        &worker.url("/v1/usage"),
        &[("authorization", &auth)],
        b"",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

/// Grants of the budget: 64 requests at once, exactly this many get a URL.
const BUDGET: u64 = 20;

#[test]
#[ignore = "end-to-end: needs s3s-fs and wrangler; run by make test"]
fn concurrent_grants_never_exceed_the_budget() {
    let budget = BUDGET.to_string();
    let env = TestEnv::start(&[("QUOTA_GRANTS_PER_HOUR", &budget)]);
    let alice = token(
        &env.jwt_secret,
        &json!({ "sub": "alice", "exp": now_secs() + 600 }),
    );
    let answers: Vec<(u64, u16, Value)> = thread::scope(|s| {
        let handles: Vec<_> = (1..=64u64)
            .map(|i| {
                let (worker, alice) = (&env.worker, &alice);
                s.spawn(move || {
                    let (status, body) = upload(worker, alice, i * 100);
                    (i * 100, status, body)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let granted: Vec<u64> = answers
        .iter()
        .filter(|(_, status, _)| *status == 200)
        .map(|(size, _, _)| *size)
        .collect();
    let statuses: Vec<u16> = answers.iter().map(|(_, status, _)| *status).collect();
    assert_eq!(
        granted.len() as u64,
        BUDGET,
        "{statuses:?}\n{}",
        env.worker.logs()
    );
    for (_, status, body) in answers.iter().filter(|(_, status, _)| *status != 200) {
        assert_eq!(*status, 429, "{body}");
        assert_eq!(body["error"]["code"], "quota_exceeded");
        assert_eq!(body["error"]["quota"]["remaining"], 0);
    }
    // The ledger counted exactly what was granted.
    let used = usage(&env.worker, &alice);
    assert_eq!(used["used"]["grants_hour"], BUDGET, "{used}");
    assert_eq!(
        used["used"]["bytes_day"],
        granted.iter().sum::<u64>(),
        "{used}"
    );
    let refused = upload(&env.worker, &alice, 1);
    assert_eq!(refused.0, 429, "{}", refused.1);

    // Another subject has a budget of its own.
    let bob = token(
        &env.jwt_secret,
        &json!({ "sub": "bob", "exp": now_secs() + 600 }),
    );
    let (status, body) = upload(&env.worker, &bob, 1);
    assert_eq!(status, 200, "{body}");
    assert_eq!(usage(&env.worker, &bob)["used"]["grants_hour"], 1);
    assert_eq!(usage(&env.worker, &alice)["used"]["grants_hour"], BUDGET);
}

/// A store, a JWT secret and the variables of a worker with `SINGLE_USE_TOKENS=true` and
/// `extra`, for workers started on a state directory of the test's own.
fn single_use_vars(extra: &[(&str, &str)]) -> (S3Store, String, Vec<(String, String)>) {
    let store = S3Store::start_default();
    let secret = random_hex(32);
    let mut vars = TestEnv::base_vars(&store, &secret);
    vars.push(("SINGLE_USE_TOKENS".to_owned(), "true".to_owned()));
    vars.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    (store, secret, vars)
}

#[test]
#[ignore = "end-to-end: needs s3s-fs and wrangler; run by make test"]
fn single_use_tokens_stay_used_across_a_restart() {
    let (_store, secret, vars) = single_use_vars(&[]);
    let refs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let state = TempDir::new("ledger-state");
    let once = token(
        &secret,
        &json!({ "sub": "alice", "exp": now_secs() + 600, "jti": random_hex(8) }),
    );

    let first = Worker::start_persisting(&refs, state.path());
    let (status, body) = upload(&first, &once, 10);
    assert_eq!(status, 200, "{body}\n{}", first.logs());
    let (status, body) = upload(&first, &once, 10);
    assert_eq!(
        (status, &body["error"]["reason"]),
        (401, &json!("replayed")),
        "{body}"
    );
    drop(first);

    // A new `wrangler dev` on the same state: the object's SQLite storage remembers.
    let second = Worker::start_persisting(&refs, state.path());
    let (status, body) = upload(&second, &once, 10);
    assert_eq!(
        (status, &body["error"]["reason"]),
        (401, &json!("replayed")),
        "{body}\n{}",
        second.logs()
    );
    let fresh = token(
        &secret,
        &json!({ "sub": "alice", "exp": now_secs() + 600, "jti": random_hex(8) }),
    );
    let (status, body) = upload(&second, &fresh, 10);
    assert_eq!(status, 200, "{body}");
}

/// The `json` of every ledger book stored under `state` (the SQLite files of the `Ledger`
/// objects), read with Python's `sqlite3` while `wrangler dev` may still run (WAL readers).
fn stored_books(state: &Path) -> String {
    stored(state, "SELECT json FROM book")
}

/// The first column of `query`'s rows in every `Ledger` object's SQLite file under `state`,
/// a line each.
fn stored(state: &Path, query: &str) -> String {
    let script = r#"
import glob, sqlite3, sys
for f in sorted(glob.glob(sys.argv[1] + "/**/*Ledger*/*.sqlite", recursive=True)):
    if f.endswith("metadata.sqlite"):
        continue
    db = sqlite3.connect("file:" + f + "?mode=ro", uri=True)
    try:
        for row in db.execute(sys.argv[2]):
            print(row[0])
    except sqlite3.OperationalError:
        pass
"#;
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(state)
        .arg(query)
        .output()
        .expect("python3 (for its sqlite3 module) runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
#[ignore = "end-to-end: needs s3s-fs and wrangler; run by make test"]
fn a_used_jti_is_removed_from_storage_after_its_expiry() {
    let (_store, secret, vars) = single_use_vars(&[("JWT_LEEWAY", "0")]);
    let refs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let state = TempDir::new("ledger-expiry");
    let worker = Worker::start_persisting(&refs, state.path());
    let jti = random_hex(8);
    let exp = now_secs() + 3;
    let once = token(&secret, &json!({ "sub": "alice", "exp": exp, "jti": jti }));
    let (status, body) = upload(&worker, &once, 10);
    assert_eq!(status, 200, "{body}\n{}", worker.logs());
    // Stored while the token lives (so the check below can see it)...
    assert!(
        stored_books(state.path()).contains(&jti),
        "the jti is not stored"
    );
    // ...and removed by the object's alarm once `exp` (plus no leeway) has passed, with no
    // request to the object in between.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let books = stored_books(state.path());
        if !books.contains(&jti) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the jti is still stored 20 s after its expiry: {books}\n{}",
            worker.logs()
        );
        thread::sleep(Duration::from_millis(500));
    }
    assert!(now_secs() > exp, "removed before its expiry");
}

/// A subject's multipart uploads through the worker, as a client makes them.
struct Uploader<'a> {
    env: &'a TestEnv,
    token: String,
}

impl<'a> Uploader<'a> {
    fn new(env: &'a TestEnv, sub: &str) -> Self {
        let token = token(
            &env.jwt_secret,
            &json!({ "sub": sub, "exp": now_secs() + 600 }),
        );
        Self { env, token }
    }

    /// `POST /v1/sign`, which must answer 200.
    fn sign(&self, body: Value) -> Value {
        let auth = format!("Bearer {}", self.token);
        let r = post_json(
            &self.env.worker.url("/v1/sign"),
            &[("authorization", &auth)],
            &body,
        );
        assert_eq!(r.status, 200, "{}", r.text());
        r.json()
    }

    /// Sends what the worker signed (a store URL or one of the worker's own).
    fn run(&self, grant: &Value, body: &[u8]) -> crate::support::HttpResponse {
        http(
            grant["method"].as_str().unwrap(),
            grant["url"].as_str().unwrap(),
            &[],
            body,
        )
    }

    /// The worker's create answer for an upload of `size` bytes of `name`.
    fn create(&self, name: &str, size: u64) -> crate::support::HttpResponse {
        self.run(
            &self.sign(json!({ "method": "POST", "key": name, "size": size })),
            b"",
        )
    }

    /// A created upload: (key, the client's upload id).
    fn created(&self, name: &str, size: u64) -> (String, String) {
        let r = self.create(name, size);
        assert_eq!(r.status, 200, "{}", r.text());
        let text = r.text();
        let field = |tag: &str| {
            let open = format!("<{tag}>");
            text.split(&open)
                .nth(1)
                .unwrap()
                .split('<')
                .next()
                .unwrap()
                .to_owned()
        };
        (field("Key"), field("UploadId"))
    }

    /// Part 1 of the upload with `body`.
    fn part(&self, key: &str, id: &str, body: &[u8]) {
        let grant =
            self.sign(json!({ "method": "PUT", "key": key, "uploadId": id, "partNumber": 1 }));
        assert_eq!(self.run(&grant, body).status, 200);
    }

    /// The worker's answer to completing (`POST`) or aborting (`DELETE`) the upload.
    fn finish(&self, method: &str, key: &str, id: &str) -> crate::support::HttpResponse {
        let grant = self.sign(json!({ "method": method, "key": key, "uploadId": id }));
        self.run(&grant, b"")
    }
}

/// `QUOTA_OPEN_MULTIPART` under `wrangler dev`: the Durable Object counts the uploads the
/// worker created and frees a place when the worker aborts or completes one.
#[test]
#[ignore = "end-to-end: needs s3s-fs and wrangler; run by make test"]
fn open_multipart_uploads_are_bounded_by_the_ledger() {
    let env = TestEnv::start(&[
        ("QUOTA_OPEN_MULTIPART", "1"),
        ("ALLOWED_CONTENT_TYPES", "application/octet-stream"),
    ]);
    let alice = Uploader::new(&env, "alice");
    let (key, id) = alice.created("a.bin", 1);
    let second = alice.create("a.bin", 1);
    assert_eq!(second.status, 429, "{}", second.text());
    assert_eq!(second.json()["error"]["reason"], "open_multipart");
    assert!(second.header("retry-after").is_some());
    assert_eq!(
        usage(&env.worker, &alice.token)["used"]["open_multipart"],
        1
    );
    // The worker aborts the first: its place is free again.
    assert_eq!(alice.finish("DELETE", &key, &id).status, 204);
    assert_eq!(
        usage(&env.worker, &alice.token)["used"]["open_multipart"],
        0
    );
    assert_eq!(alice.create("a.bin", 1).status, 200);
}

/// `MULTIPART_CLEANUP_GRACE` under `wrangler dev`: an upload left open is aborted at the store by
/// its subject's Durable Object alarm once its ticket expired plus the grace, and logged; an
/// upload completed in time is not touched.
#[test]
#[ignore = "end-to-end: needs s3s-fs and wrangler; run by make test"]
fn stale_multipart_uploads_are_aborted_by_the_ledger_alarm() {
    let env = TestEnv::start(&[
        ("MULTIPART_LIFETIME", "2"),
        ("MULTIPART_CLEANUP_GRACE", "1"),
        ("ALLOWED_CONTENT_TYPES", "application/octet-stream"),
    ]);
    let alice = Uploader::new(&env, "alice");
    let (stale_key, stale_id) = alice.created("stale.bin", 3);
    alice.part(&stale_key, &stale_id, b"abc");
    let (done_key, done_id) = alice.created("done.bin", 3);
    alice.part(&done_key, &done_id, b"abc");
    assert_eq!(alice.finish("POST", &done_key, &done_id).status, 200);

    let store_id = stale_id.rsplitn(5, '.').last().unwrap().to_owned();
    let files_of = |id: &str| {
        crate::e2e_multipart::walk(&env.store.root)
            .into_iter()
            .filter(|p| p.to_string_lossy().contains(id))
            .count()
    };
    assert!(
        files_of(&store_id) > 0,
        "the open upload's files are in the store"
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while files_of(&store_id) > 0 {
        assert!(
            Instant::now() < deadline,
            "the stale upload was not aborted within 30 s:\n{}",
            env.worker.logs()
        );
        thread::sleep(Duration::from_millis(250));
    }
    // Logged, with what was cleaned up.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !env.worker.logs().contains("multipart_cleaned_up") {
        assert!(Instant::now() < deadline, "{}", env.worker.logs());
        thread::sleep(Duration::from_millis(100));
    }
    let logs = env.worker.logs();
    let line = logs
        .lines()
        .find(|l| l.contains("multipart_cleaned_up"))
        .unwrap();
    assert!(
        line.contains(&store_id) && line.contains(&stale_key),
        "{line}"
    );
    assert!(!logs.contains("multipart_cleanup_failed"), "{logs}");
    assert!(!logs.contains(&env.store.secret_key));
    // The completed upload's object is still there.
    assert_eq!(
        env.store.read_object(&done_key).as_deref(),
        Some(&b"abc"[..])
    );
}

/// One request a webhook receiver got: its headers (lower-case names) and body.
type Hook = (Vec<(String, String)>, String);

/// A loopback webhook receiver that answers 500 to its first `failures` requests, then 200;
/// returns its URL and what it received.
fn webhook_receiver(failures: usize) -> (String, std::sync::Arc<std::sync::Mutex<Vec<Hook>>>) {
    use std::io::{Read, Write};
    // A port of the harness's, never one another test's process is about to bind.
    let listener = crate::support::listener();
    let url = format!(
        "http://127.0.0.1:{}/hooks/uploads",
        listener.local_addr().unwrap().port()
    );
    let got = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = std::sync::Arc::clone(&got);
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut stream = stream;
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let mut data = Vec::new();
            let mut buf = [0u8; 4096];
            // The head, then the body by its content-length.
            let (head, body) = loop {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break (String::new(), String::new()),
                    Ok(n) => data.extend_from_slice(&buf[..n]),
                }
                let Some(at) = data.windows(4).position(|w| w == b"\r\n\r\n") else {
                    continue;
                };
                let head = String::from_utf8_lossy(&data[..at]).into_owned();
                let len: usize = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse().unwrap_or(0))
                    })
                    .unwrap_or(0);
                while data.len() < at + 4 + len {
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => data.extend_from_slice(&buf[..n]),
                    }
                }
                let end = data.len().min(at + 4 + len);
                break (
                    head,
                    String::from_utf8_lossy(&data[at + 4..end]).into_owned(),
                );
            };
            let headers = head
                .lines()
                .skip(1)
                .filter_map(|l| l.split_once(':'))
                .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
                .collect();
            let n = {
                let mut g = seen.lock().unwrap();
                g.push((headers, body));
                g.len()
            };
            let status = if n <= failures {
                "500 Internal Server Error"
            } else {
                "200 OK"
            };
            let _ = stream.write_all(
                format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    .as_bytes(),
            );
        }
    });
    (url, got)
}

/// Whether Python's `hmac` (an implementation independent of the worker's) finds `signature`
/// valid for the message under `secret`, per the Standard Webhooks specification.
fn python_verifies(secret: &str, id: &str, timestamp: &str, body: &str, signature: &str) -> bool {
    let script = r#"
import base64, hashlib, hmac, sys
secret, msg_id, ts, body, sig = sys.argv[1:6]
key = base64.b64decode(secret.split("_", 1)[1])
mac = base64.b64encode(hmac.new(key, f"{msg_id}.{ts}.{body}".encode(), hashlib.sha256).digest()).decode()
ok = any(hmac.compare_digest(s.split(",", 1)[1], mac) for s in sig.split(" ") if s.startswith("v1,"))
sys.exit(0 if ok else 1)
"#;
    Command::new("python3")
        .args(["-c", script, secret, id, timestamp, body, signature])
        .status()
        .expect("python3 (the independent check of the signatures)")
        .success()
}

/// `WEBHOOK_URL` under `wrangler dev`: a completed upload is announced to a receiver that fails
/// twice, then accepts: it gets the event three times with one `webhook-id` and valid
/// signatures, and the client's answer never waited for it.
#[test]
#[ignore = "end-to-end: needs s3s-fs and wrangler; run by make test"]
fn a_completion_webhook_is_retried_until_the_receiver_takes_it() {
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let (url, got) = webhook_receiver(2);
    let env = TestEnv::start(&[
        ("WEBHOOK_URL", &url),
        ("WEBHOOK_SECRET", SECRET),
        ("WEBHOOK_RETRY_BASE", "1"),
        ("ALLOWED_CONTENT_TYPES", "application/octet-stream"),
    ]);
    let alice = Uploader::new(&env, "alice");
    let (key, id) = alice.created("hooked.bin", 3);
    alice.part(&key, &id, b"abc");
    let r = alice.finish("POST", &key, &id);
    assert_eq!(r.status, 200, "{}", r.text());

    let deadline = Instant::now() + Duration::from_secs(30);
    while got.lock().unwrap().len() < 3 {
        assert!(
            Instant::now() < deadline,
            "{} deliveries:\n{}",
            got.lock().unwrap().len(),
            env.worker.logs()
        );
        thread::sleep(Duration::from_millis(100));
    }
    // No fourth once it was taken.
    thread::sleep(Duration::from_secs(3));
    let got = got.lock().unwrap().clone();
    assert_eq!(got.len(), 3, "{got:?}");
    let header = |h: &[(String, String)], n: &str| {
        h.iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let first_id = header(&got[0].0, "webhook-id");
    assert!(first_id.starts_with("msg_"), "{first_id}");
    for (headers, body) in &got {
        assert_eq!(header(headers, "webhook-id"), first_id);
        assert_eq!(header(headers, "content-type"), "application/json");
        let ts = header(headers, "webhook-timestamp");
        let sig = header(headers, "webhook-signature");
        assert!(
            python_verifies(SECRET, &first_id, &ts, body, &sig),
            "{sig} for {body}"
        );
        assert!(!python_verifies(
            SECRET,
            &first_id,
            &ts,
            &format!("{body} "),
            &sig
        ));
        let event: Value = serde_json::from_str(body).unwrap();
        assert_eq!(event["type"], "upload.completed");
        assert_eq!(
            (
                event["data"]["key"].as_str(),
                event["data"]["size"].as_u64()
            ),
            (Some(key.as_str()), Some(3))
        );
        assert_eq!(
            (event["data"]["sub"].as_str(), event["data"]["iss"].as_str()),
            (Some("alice"), Some("local"))
        );
    }
    // Written a moment after the deliveries: waited for, then counted.
    let logs = env.worker.logs_when(|logs| {
        logs.matches("\"webhook_failed\"").count() >= 2
            && logs.matches("\"webhook_delivered\"").count() >= 1
    });
    assert_eq!(logs.matches("\"webhook_failed\"").count(), 2, "{logs}");
    assert_eq!(logs.matches("\"webhook_delivered\"").count(), 1, "{logs}");
    assert!(!logs.contains("MfKQ9r8"), "the secret in the logs");
    assert_eq!(
        usage(&env.worker, &alice.token)["used"]["webhooks_pending"],
        0
    );
}

/// `DELETE_UNCOMPLETED_AFTER` under `wrangler dev`: the ledger's alarm deletes what was
/// granted and uploaded but never completed, keeps what was completed, gives the bytes of
/// both uncompleted grants back to the budget, and logs each.
#[test]
#[ignore = "end-to-end: needs s3s-fs and wrangler; run by make test"]
fn uncompleted_uploads_are_deleted_by_the_ledger_alarm() {
    let env = TestEnv::start(&[
        ("URL_TTL", "2"),
        // A completion once the deletion is due is refused: time enough to complete kept.txt.
        ("DELETE_UNCOMPLETED_AFTER", "5"),
        ("QUOTA_BYTES_PER_DAY", "1000"),
        (
            "RECEIPT_SECRET",
            "e2e-cleanup-receipt-secret-0123456789abcdef",
        ),
        ("ALLOWED_CONTENT_TYPES", "text/plain"),
    ]);
    let alice = Uploader::new(&env, "alice");
    let put = |name: &str, body: &[u8]| {
        let grant = alice.sign(json!({ "method": "PUT", "key": name, "size": body.len(), "contentType": "text/plain" }));
        let r = crate::e2e_multipart::send(&grant, body);
        assert_eq!(r.status, 200, "{}", r.text());
        grant["key"].as_str().unwrap().to_owned()
    };
    let kept = put("kept.txt", b"abc");
    let auth = format!("Bearer {}", alice.token);
    let r = post_json(
        &env.worker.url("/v1/uploads/complete"),
        &[("authorization", &auth)],
        &json!({ "key": kept }),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let lost = put("lost.txt", b"xyz");
    let never = alice.sign(
        json!({ "method": "PUT", "key": "never.txt", "size": 4, "contentType": "text/plain" }),
    );
    let never = never["key"].as_str().unwrap().to_owned();
    let used = &usage(&env.worker, &alice.token)["used"];
    assert_eq!(
        (&used["bytes_day"], &used["uploads_uncompleted"]),
        (&json!(10), &json!(2))
    );

    let deadline = Instant::now() + Duration::from_secs(30);
    while env.store.read_object(&lost).is_some()
        || env.worker.logs().matches("upload_cleaned_up").count() < 2
    {
        assert!(
            Instant::now() < deadline,
            "the uncompleted upload was not deleted within 30 s:\n{}",
            env.worker.logs()
        );
        thread::sleep(Duration::from_millis(250));
    }
    assert_eq!(env.store.read_object(&kept).as_deref(), Some(&b"abc"[..]));
    let logs = env.worker.logs();
    let line = |key: &str| {
        logs.lines()
            .find(|l| l.contains("upload_cleaned_up") && l.contains(key))
            .unwrap_or_else(|| panic!("no cleanup line for {key}:\n{logs}"))
            .to_owned()
    };
    assert!(line(&lost).contains("\"deleted\""), "{}", line(&lost));
    assert!(
        line(&never).contains("nothing_uploaded"),
        "{}",
        line(&never)
    );
    assert!(!logs.contains("upload_cleanup_failed"), "{logs}");
    assert!(!logs.contains(&env.store.secret_key));
    let used = &usage(&env.worker, &alice.token)["used"];
    assert_eq!(
        (&used["bytes_day"], &used["uploads_uncompleted"]),
        (&json!(3), &json!(0))
    );
}

/// Each granted upload is a row of its own in the object's SQLite storage (a call reads and
/// writes only its own), and a subject keeps at most 1000 (`MAX_UPLOADS`): past it, the
/// oldest are forgotten.
#[test]
#[ignore = "end-to-end: needs s3s-fs and wrangler; run by make test"]
fn granted_uploads_are_stored_a_row_each_and_bounded() {
    let (_store, secret, mut vars) = single_use_vars(&[]);
    vars.retain(|(k, _)| k != "SINGLE_USE_TOKENS");
    vars.push(("QUOTA_BYTES_PER_DAY".into(), "1000000".into()));
    let refs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let state = TempDir::new("ledger-rows");
    let worker = Worker::start_persisting(&refs, state.path());
    let alice = token(&secret, &json!({ "sub": "alice", "exp": now_secs() + 600 }));
    let grants = 1010;
    thread::scope(|s| {
        for t in 0..8 {
            let (worker, alice) = (&worker, &alice);
            s.spawn(move || {
                for _ in (t..grants).step_by(8) {
                    let (status, body) = upload(worker, alice, 1);
                    assert_eq!(status, 200, "{body}");
                }
            });
        }
    });
    let used = &usage(&worker, &alice)["used"];
    assert_eq!(
        (&used["bytes_day"], &used["uploads_uncompleted"]),
        (&json!(grants), &json!(1000))
    );
    assert_eq!(
        stored(state.path(), "SELECT COUNT(*) FROM uploads").trim(),
        "1000"
    );
    assert!(
        !stored_books(state.path()).contains("uploads"),
        "records in the book row"
    );
}
