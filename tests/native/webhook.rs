//! Completion webhooks: the Standard Webhooks signature against an independent implementation
//! (Python's `hmac` and `base64`, following the specification), the ledger's outbox, and the
//! event a worker-run completion queues.
use std::process::Command;

use presign_worker::ledger::{Book, Call};
use presign_worker::webhook;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// The signature Python computes for the message, per the specification: HMAC-SHA256 under
/// the base64-decoded secret (after `whsec_`) of `id.timestamp.body`, base64, prefixed `v1,`.
fn python_signature(id: &str, timestamp: u64, body: &str) -> Option<String> {
    let script = r#"
import base64, hashlib, hmac, sys
secret, msg_id, ts, body = sys.argv[1:5]
key = base64.b64decode(secret.split("_", 1)[1])
mac = hmac.new(key, f"{msg_id}.{ts}.{body}".encode(), hashlib.sha256).digest()
print("v1," + base64.b64encode(mac).decode())
"#;
    let out = Command::new("python3")
        .args(["-c", script, SECRET, id, &timestamp.to_string(), body])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

#[test]
fn signatures_match_an_independent_implementation() {
    use base64::Engine as _;
    let key = base64::engine::general_purpose::STANDARD
        .decode(SECRET.trim_start_matches("whsec_"))
        .unwrap();
    let cases = [
        (
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1_614_265_330,
            r#"{"test": 2432232314}"#,
        ),
        ("msg_x", 0, ""),
        (
            "msg_ü",
            1_767_225_600,
            "{\"key\":\"alice/ü ñ.bin\",\"size\":5}",
        ),
    ];
    let mut checked = 0;
    for (id, ts, body) in cases {
        let Some(theirs) = python_signature(id, ts, body) else {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "python3 is needed for this test in CI"
            );
            eprintln!("python3 not found: skipped");
            return;
        };
        assert_eq!(webhook::signature(&key, id, ts, body), theirs, "{id}");
        checked += 1;
    }
    assert_eq!(checked, 3);
    let h = webhook::headers(&key, "msg_x", 7, "{}");
    let names: Vec<&str> = h.iter().map(|(n, _)| *n).collect();
    assert_eq!(
        names,
        [
            "content-type",
            "webhook-id",
            "webhook-timestamp",
            "webhook-signature"
        ]
    );
}

#[test]
fn the_outbox_keeps_an_event_until_delivered_or_given_up() {
    let t0 = 1_767_225_600u64;
    let mut book = Book::default();
    book.answer(&Call::Enqueue("m1".into(), "{}".into(), t0), t0);
    // The same id again (a retried completion) is not queued twice.
    book.answer(
        &Call::Enqueue("m1".into(), "{\"other\":1}".into(), t0 + 1),
        t0 + 1,
    );
    let due = book.deliveries(t0);
    assert_eq!(due.len(), 1);
    assert_eq!((due[0].1.body.as_str(), due[0].1.attempts), ("{}", 0));
    assert_eq!(book.next_expiry(), Some(t0));
    book.answer(&Call::Retry("m1".into(), Some(t0 + 5)), t0);
    assert!(book.deliveries(t0 + 4).is_empty());
    assert_eq!(book.deliveries(t0 + 5)[0].1.attempts, 1);
    assert_eq!(book.next_expiry(), Some(t0 + 5));
    book.answer(&Call::Delivered("m1".into()), t0 + 5);
    assert!(book.deliveries(t0 + 5).is_empty());
    assert!(book.is_empty(), "{book:?}");
    // Given up: out of the outbox, counted as failed, the last 20 kept.
    for i in 0..25 {
        let id = format!("m{i}");
        book.answer(&Call::Enqueue(id.clone(), "{}".into(), t0), t0 + i);
        book.answer(&Call::Retry(id, None), t0 + i);
    }
    let presign_worker::ledger::Reply::Usage(usage) = book.answer(&Call::Usage, t0 + 30) else {
        panic!("usage");
    };
    assert_eq!((usage.webhooks_pending, usage.webhooks_failed), (0, 20));
}

/// The README's verification snippet, run with Node.js on messages the worker signs: it accepts
/// them, and refuses a changed body or an old timestamp.
#[test]
fn the_readmes_verification_snippet_accepts_what_the_worker_signs() {
    use base64::Engine as _;
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = readme
        .find("```js\n  import { createHmac, timingSafeEqual } from 'node:crypto'")
        .expect("the snippet in the README");
    let code = &readme[start + "```js\n".len()..];
    let code = &code[..code.find("```").unwrap()];
    let key = base64::engine::general_purpose::STANDARD
        .decode(SECRET.trim_start_matches("whsec_"))
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let body = r#"{"type":"upload.completed","data":{"key":"alice/ü.bin"}}"#;
    let message = |ts: u64, body: &str| {
        let h: serde_json::Map<String, serde_json::Value> =
            webhook::headers(&key, "msg_readme", ts, body)
                .into_iter()
                .map(|(n, v)| (n.to_owned(), v.into()))
                .collect();
        serde_json::Value::Object(h).to_string()
    };
    let script = format!(
        "{code}\nconst b = {body:?};\nconsole.log(JSON.stringify([verify({good}, b), verify({good}, b + ' '), verify({old}, b)]))\n",
        good = message(now, body),
        old = message(now - 3600, body),
        body = body,
    );
    let Some(stdout) =
        crate::api_support::node_output("readme-webhook", &script, &[("WEBHOOK_SECRET", SECRET)])
    else {
        return;
    };
    assert_eq!(stdout.trim(), "[true,false,false]");
}
