//! The upload ledger: its rules (`presign_worker::ledger`) property-tested against a plain model
//! (a list of every grant and used `jti`, summed afresh for each question), and the API's use of
//! it through `Service::handle_with` with a fake ledger that keeps real books in memory.
use presign_worker::api::{Response, Service};
use presign_worker::ledger::{Ask, Book, Budget, Call, Limits, Outcome, Reply, Upload, Usage};
use proptest::prelude::*;
use serde_json::{json, Value};

use crate::api_support::{created_upload, hs256, request, request_with, service_from, FakeLedger};

/// Everything ever granted, and every `jti` used: the model the book must agree with.
#[derive(Default)]
struct Model {
    grants: Vec<(u64, u64, bool)>,
    jtis: Vec<(String, u64)>,
    /// Open multipart uploads: (id, open until); closed ones are removed.
    opens: Vec<(String, u64)>,
}

impl Model {
    /// Bytes and grants of the windows at `now`: a grant at `t` counts while
    /// `t / 60 > now / 60 - 1440` (day) or `- 60` (hour).
    fn usage(&self, now: u64) -> Usage {
        let minute = now / 60;
        let mut u = Usage::default();
        for &(t, bytes, grant) in &self.grants {
            if t / 60 + 1440 > minute {
                u.bytes_day += bytes;
            }
            if grant && t / 60 + 60 > minute {
                u.grants_hour += 1;
            }
        }
        u.open_multipart = self.opens.iter().filter(|(_, until)| *until >= now).count() as u64;
        u
    }

    fn fits(&self, ask: &Ask, now: u64) -> Option<Budget> {
        let u = self.usage(now);
        if ask
            .limits
            .bytes_per_day
            .is_some_and(|l| u.bytes_day + ask.bytes > l)
        {
            return Some(Budget::BytesPerDay);
        }
        let g = u64::from(ask.grant);
        if ask
            .limits
            .grants_per_hour
            .is_some_and(|l| u.grants_hour + g > l)
        {
            return Some(Budget::GrantsPerHour);
        }
        if let (Some(l), Some((id, _))) = (ask.limits.open_multipart, &ask.open) {
            let open = self.opens.iter().filter(|(_, u)| *u >= now).count() as u64;
            let again = self.opens.iter().any(|(o, _)| o == id);
            if !again && open >= l {
                return Some(Budget::OpenMultipart);
            }
        }
        None
    }
}

fn usage_of(u: &Usage, budget: Budget) -> u64 {
    match budget {
        Budget::BytesPerDay => u.bytes_day,
        Budget::GrantsPerHour => u.grants_hour,
        Budget::OpenMultipart => u.open_multipart,
    }
}

#[derive(Debug, Clone)]
struct Step {
    advance: u64,
    bytes: u64,
    grant: bool,
    jti: Option<(u8, u64)>,
    bytes_limit: Option<u64>,
    grants_limit: Option<u64>,
    /// An upload to open (its id, its lifetime), with the budget.
    open: Option<(u8, u64)>,
    open_limit: Option<u64>,
    /// An upload to close first.
    close: Option<u8>,
}

fn step() -> impl Strategy<Value = Step> {
    (
        prop_oneof![0..5u64, 0..120u64, 0..7200u64, 80_000..90_000u64],
        0..60u64,
        any::<bool>(),
        proptest::option::of((0..6u8, 0..4000u64)),
        proptest::option::of(1..200u64),
        proptest::option::of(1..8u64),
        (
            proptest::option::of((0..8u8, 0..4000u64)),
            proptest::option::of(1..4u64),
            proptest::option::of(0..8u8),
        ),
    )
        .prop_map(
            |(advance, bytes, grant, jti, bytes_limit, grants_limit, (open, open_limit, close))| {
                Step {
                    advance,
                    bytes,
                    grant,
                    jti,
                    bytes_limit,
                    grants_limit,
                    open,
                    open_limit,
                    close,
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    /// Every answer of the book is the model's: granted exactly when no budget breaks and the
    /// `jti` is unused, the usage it reports, and a `retry_after` that is the shortest wait
    /// after which the same ask fits.
    #[test]
    fn book_agrees_with_the_model(steps in proptest::collection::vec(step(), 1..60)) {
        let mut book = Book::default();
        let mut model = Model::default();
        let mut now = 1_767_225_600u64;
        for s in steps {
            now += s.advance;
            if let Some(c) = s.close {
                let id = format!("upload-{c}");
                book.answer(&presign_worker::ledger::Call::Close(id.clone()), now);
                model.opens.retain(|(o, _)| *o != id);
            }
            model.opens.retain(|(_, u)| *u >= now);
            let ask = Ask {
                bytes: s.bytes,
                grant: s.grant,
                jti: s.jti.map(|(j, life)| (format!("jti-{j}"), now + life)),
                open: s.open.map(|(o, life)| (format!("upload-{o}"), now + life)),
                cleanup: None,
                upload: None,
                link: None,
                limits: Limits {
                    bytes_per_day: s.bytes_limit,
                    grants_per_hour: s.grants_limit,
                    open_multipart: s.open_limit,
                },
            };
            let replayed = ask
                .jti
                .as_ref()
                .is_some_and(|(j, _)| model.jtis.iter().any(|(m, until)| m == j && *until >= now));
            let out = book.reserve(&ask, now);
            if replayed {
                prop_assert_eq!(out, Outcome::Replayed);
            } else if model.fits(&ask, now).is_some() {
                let Outcome::Exceeded { budget, retry_after, usage } = out else {
                    return Err(TestCaseError::fail(format!("{out:?}, expected a refusal")));
                };
                prop_assert_eq!(usage, model.usage(now));
                let (limit, amount) = match budget {
                    Budget::BytesPerDay => (s.bytes_limit, s.bytes),
                    Budget::GrantsPerHour => (s.grants_limit, u64::from(s.grant)),
                    Budget::OpenMultipart => (s.open_limit, 1),
                };
                // The budget named is one the ask breaks.
                prop_assert!(limit.is_some_and(|l| usage_of(&model.usage(now), budget) + amount > l));
                match retry_after {
                    None => prop_assert!(limit.is_some_and(|l| amount > l)),
                    Some(r) => {
                        // The model has no later grants: the same ask, asked r seconds later.
                        prop_assert!(model.fits(&ask, now + r).is_none(), "still over after {r}s");
                        prop_assert!(r == 0 || model.fits(&ask, now + r - 1).is_some(), "{r}s is not the shortest wait");
                    }
                }
            } else {
                model.grants.push((now, s.bytes, s.grant));
                if let Some(j) = &ask.jti {
                    model.jtis.push(j.clone());
                }
                if let Some((id, until)) = &ask.open {
                    model.opens.retain(|(o, _)| o != id);
                    model.opens.push((id.clone(), *until));
                }
                prop_assert_eq!(out, Outcome::Granted { usage: model.usage(now) });
            }
            prop_assert_eq!(book.usage(now), model.usage(now));
            // What the book forgets is what the model no longer counts.
            let later = now + s.advance;
            let mut pruned = book.clone();
            pruned.prune(later);
            prop_assert_eq!(pruned.usage(later), model.usage(later));
            for (j, _) in &model.jtis {
                let kept = model.jtis.iter().any(|(m, until)| m == j && *until >= later);
                prop_assert_eq!(pruned.has_jti(j), kept);
            }
        }
    }
}

/// A book stays bounded: a day of one grant a minute holds at most a day of buckets, and
/// expired `jti`s are forgot; `next_expiry` names when the first record goes.
#[test]
fn records_expire() {
    let mut book = Book::default();
    let t0 = 1_767_225_600u64;
    let ask = Ask {
        bytes: 1,
        grant: true,
        jti: Some(("a".into(), t0 + 600)),
        open: None,
        cleanup: None,
        upload: None,
        link: None,
        limits: Limits::default(),
    };
    assert!(matches!(book.reserve(&ask, t0), Outcome::Granted { .. }));
    assert_eq!(book.next_expiry(), Some(t0 + 601));
    assert_eq!(book.reserve(&ask, t0 + 600), Outcome::Replayed);
    book.prune(t0 + 601);
    assert!(!book.has_jti("a"));
    assert_eq!(book.next_expiry(), Some(t0 + 86_400));
    book.prune(t0 + 86_400);
    assert!(book.is_empty());
    assert_eq!(book.next_expiry(), None);
}

const SECRET: &str = "ledger-test-secret-0123456789-abcdefghij";
const NOW: u64 = 1_767_225_600;

fn service(extra: &[(&str, &str)]) -> Service {
    let base: &[(&str, &str)] = &[
        ("TARGET_UPLOADS_KIND", "custom"),
        ("TARGET_UPLOADS_ENDPOINT", "http://127.0.0.1:9000"),
        ("TARGET_UPLOADS_BUCKET", "uploads"),
        ("S3_ACCESS_KEY_ID", "AKIDTEST"),
        ("S3_SECRET_ACCESS_KEY", "s3-secret-0123456789"),
        ("JWT_SECRET", SECRET),
        ("ALLOWED_CONTENT_TYPES", "*/*"),
    ];
    service_from(&[base, extra].concat())
}

/// `method path` with a JSON `body` and a token of `claims`, answered by `svc` at `NOW`
/// with `ledger` (`None`: `Service::handle`, which has none).
fn send_to(
    svc: &Service,
    ledger: Option<&FakeLedger>,
    route: (&str, &str),
    claims: &Value,
    body: &Value,
) -> (Response, Value) {
    let auth = format!("Bearer {}", hs256(SECRET, claims));
    let headers = [
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
    ];
    let body = body.to_string();
    let resp = match ledger {
        Some(l) => {
            l.now.set(NOW);
            request_with(svc, l, route, &headers, body.as_bytes(), NOW * 1000)
        }
        None => request(svc, route.0, route.1, &headers, body.as_bytes(), NOW * 1000),
    };
    let json = serde_json::from_str(&resp.body).unwrap_or(Value::Null);
    (resp, json)
}

fn send(
    svc: &Service,
    ledger: &FakeLedger,
    method: &str,
    path: &str,
    claims: &Value,
    body: &Value,
) -> (Response, Value) {
    send_to(svc, Some(ledger), (method, path), claims, body)
}

fn upload(svc: &Service, ledger: &FakeLedger, claims: &Value, size: u64) -> (Response, Value) {
    let body = json!({ "filename": "a.txt", "content_type": "text/plain", "size": size });
    send(svc, ledger, "POST", "/v1/uploads", claims, &body)
}

fn header<'a>(resp: &'a Response, name: &str) -> Option<&'a str> {
    resp.headers
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.as_str())
}

#[test]
fn off_unless_configured_or_asked() {
    let svc = service(&[]);
    let ledger = FakeLedger::default();
    let alice = json!({ "sub": "alice", "exp": NOW + 600 });
    for _ in 0..3 {
        assert_eq!(upload(&svc, &ledger, &alice, 100).0.status, 200);
    }
    assert_eq!(ledger.calls.get(), 0, "no ledger call without budgets");
    // A token that narrows a budget the operator left open is held to it.
    let narrowed = json!({ "sub": "alice", "exp": NOW + 600, "quota_bytes_per_day": 150 });
    assert_eq!(upload(&svc, &ledger, &narrowed, 100).0.status, 200);
    assert_eq!(upload(&svc, &ledger, &narrowed, 100).0.status, 429);
}

#[test]
fn bytes_budget_with_retry_after_and_what_is_left() {
    let svc = service(&[("QUOTA_BYTES_PER_DAY", "1000")]);
    let ledger = FakeLedger::default();
    let alice = json!({ "sub": "alice", "exp": NOW + 600 });
    assert_eq!(upload(&svc, &ledger, &alice, 600).0.status, 200);
    let (resp, body) = upload(&svc, &ledger, &alice, 600);
    assert_eq!(resp.status, 429, "{body}");
    assert_eq!(body["error"]["code"], "quota_exceeded");
    assert_eq!(body["error"]["reason"], "bytes_per_day");
    assert_eq!(
        body["error"]["quota"],
        json!({ "budget": "bytes_per_day", "limit": 1000, "used": 600, "remaining": 400, "retry_after": 86_400 })
    );
    assert_eq!(header(&resp, "retry-after"), Some("86400"));
    // What is left still fits; another subject has its own budget.
    assert_eq!(upload(&svc, &ledger, &alice, 400).0.status, 200);
    let bob = json!({ "sub": "bob", "exp": NOW + 600 });
    assert_eq!(upload(&svc, &ledger, &bob, 1000).0.status, 200);
    // A claim narrows, never widens.
    let wider = json!({ "sub": "carol", "exp": NOW + 600, "quota_bytes_per_day": 5000 });
    assert_eq!(upload(&svc, &ledger, &wider, 1001).0.status, 429);
    // Larger than the whole budget: no Retry-After, it never fits.
    let (resp, body) = upload(
        &svc,
        &ledger,
        &json!({ "sub": "dave", "exp": NOW + 600 }),
        1001,
    );
    assert_eq!(resp.status, 429);
    assert_eq!(header(&resp, "retry-after"), None, "{body}");
    // A refused request reserves nothing: the policy refuses before the ledger is asked.
    let calls = ledger.calls.get();
    let (resp, _) = send(
        &svc,
        &ledger,
        "POST",
        "/v1/uploads",
        &alice,
        &json!({ "filename": "../", "content_type": "text/plain", "size": 1 }),
    );
    assert_eq!(resp.status, 422);
    assert_eq!(ledger.calls.get(), calls);
}

#[test]
fn grants_budget_counts_new_uploads_of_every_route() {
    let svc = service(&[("QUOTA_GRANTS_PER_HOUR", "2")]);
    let ledger = FakeLedger::default();
    let alice = json!({ "sub": "alice", "exp": NOW + 600 });
    assert_eq!(upload(&svc, &ledger, &alice, 1).0.status, 200);
    let (resp, body) = send(
        &svc,
        &ledger,
        "POST",
        "/v1/sign",
        &alice,
        &json!({ "method": "POST", "key": "big.bin", "size": 1 }),
    );
    assert_eq!(resp.status, 200, "{body}");
    let (resp, body) = send(
        &svc,
        &ledger,
        "POST",
        "/v1/sign",
        &alice,
        &json!({ "method": "PUT", "key": "c.txt", "size": 1 }),
    );
    assert_eq!(resp.status, 429, "{body}");
    assert_eq!(body["error"]["reason"], "grants_per_hour");
    assert_eq!(header(&resp, "retry-after"), Some("3600"));
    // Parts of a granted upload are no new grant.
    let ok = hs256(SECRET, &json!({ "sub": "alice", "exp": NOW + 600 }));
    let other = service(&[]);
    let (key, id) = created_upload(&other, &ok, "/uploads/", ("big.bin", 1), NOW * 1000);
    let part = json!({ "method": "PUT", "key": key, "uploadId": id, "partNumber": 1 });
    let (resp, body) = send(&svc, &ledger, "POST", "/v1/sign", &alice, &part);
    assert_eq!(resp.status, 200, "{body}");
}

#[test]
fn single_use_tokens_grant_once() {
    let svc = service(&[("SINGLE_USE_TOKENS", "true")]);
    let ledger = FakeLedger::default();
    let once = json!({ "sub": "alice", "exp": NOW + 600, "jti": "t-1" });
    assert_eq!(upload(&svc, &ledger, &once, 1).0.status, 200);
    let (resp, body) = upload(&svc, &ledger, &once, 1);
    assert_eq!(resp.status, 401, "{body}");
    assert_eq!(body["error"]["code"], "invalid_token");
    assert_eq!(body["error"]["reason"], "replayed");
    // A download with it is a replay too; another jti is not.
    let (resp, _) = send(
        &svc,
        &ledger,
        "POST",
        "/v1/downloads",
        &once,
        &json!({ "key": "alice/x" }),
    );
    assert_eq!(resp.status, 401);
    let other = json!({ "sub": "alice", "exp": NOW + 600, "jti": "t-2" });
    assert_eq!(upload(&svc, &ledger, &other, 1).0.status, 200);
    // Without jti (or exp) a single-use token cannot be honoured.
    let (resp, body) = upload(
        &svc,
        &ledger,
        &json!({ "sub": "alice", "exp": NOW + 600 }),
        1,
    );
    assert_eq!(
        (resp.status, body["error"]["reason"].as_str()),
        (401, Some("missing_claim"))
    );
    // The claim turns it on for one token when the operator did not.
    let svc = service(&[]);
    let claimed = json!({ "sub": "bob", "exp": NOW + 600, "jti": "t-3", "single_use": true });
    assert_eq!(upload(&svc, &ledger, &claimed, 1).0.status, 200);
    assert_eq!(upload(&svc, &ledger, &claimed, 1).0.status, 401);
    let (resp, body) = upload(
        &svc,
        &ledger,
        &json!({ "sub": "bob", "exp": NOW + 600, "single_use": "yes" }),
        1,
    );
    assert_eq!(
        (resp.status, body["error"]["reason"].as_str()),
        (401, Some("invalid_claim"))
    );
}

#[test]
fn unreachable_ledger_fails_closed() {
    let svc = service(&[("QUOTA_BYTES_PER_DAY", "1000")]);
    let ledger = FakeLedger::default();
    ledger.down.set(true);
    let alice = json!({ "sub": "alice", "exp": NOW + 600 });
    let (resp, body) = upload(&svc, &ledger, &alice, 1);
    assert_eq!(resp.status, 503);
    assert_eq!(body["error"]["code"], "ledger_unavailable");
    assert_eq!(header(&resp, "retry-after"), Some("5"));
    assert!(
        !resp.body.contains("X-Amz-Signature"),
        "no URL leaves: {body}"
    );
    // `handle` has no ledger at all: the same refusal.
    let body = json!({ "filename": "a.txt", "content_type": "text/plain", "size": 1 });
    let (resp, _) = send_to(&svc, None, ("POST", "/v1/uploads"), &alice, &body);
    assert_eq!(resp.status, 503);
}

#[test]
fn usage_shows_the_subject_its_own() {
    let svc = service(&[
        ("QUOTA_BYTES_PER_DAY", "1000"),
        ("QUOTA_GRANTS_PER_HOUR", "10"),
    ]);
    let ledger = FakeLedger::default();
    let alice = json!({ "sub": "alice", "exp": NOW + 600 });
    assert_eq!(upload(&svc, &ledger, &alice, 300).0.status, 200);
    let (resp, body) = send(&svc, &ledger, "GET", "/v1/usage", &alice, &json!(null));
    assert_eq!(resp.status, 200, "{body}");
    assert_eq!(
        body["limits"],
        json!({ "bytes_per_day": 1000, "grants_per_hour": 10, "open_multipart": null })
    );
    assert_eq!(
        body["used"],
        json!({ "bytes_day": 300, "grants_hour": 1, "open_multipart": 0, "webhooks_pending": 0,
                "webhooks_failed": 0, "uploads_uncompleted": 1 })
    );
    assert_eq!(
        body["remaining"],
        json!({ "bytes_per_day": 700, "grants_per_hour": 9, "open_multipart": null })
    );
    let (_, body) = send(
        &svc,
        &ledger,
        "GET",
        "/v1/usage",
        &json!({ "sub": "bob", "exp": NOW + 600 }),
        &json!(null),
    );
    assert_eq!(
        body["used"],
        json!({ "bytes_day": 0, "grants_hour": 0, "open_multipart": 0, "webhooks_pending": 0,
                "webhooks_failed": 0, "uploads_uncompleted": 0 })
    );
    let (resp, _) = send(&svc, &ledger, "POST", "/v1/usage", &alice, &json!({}));
    assert_eq!(resp.status, 405);
}

#[test]
fn usage_answers_a_cors_preflight() {
    let svc = service(&[("CORS_ALLOWED_ORIGINS", "https://app.example.com")]);
    let ledger = FakeLedger::default();
    let preflight = |origin: &str| {
        let headers = [
            ("origin", origin),
            ("access-control-request-method", "GET"),
            ("access-control-request-headers", "authorization"),
        ];
        request_with(
            &svc,
            &ledger,
            ("OPTIONS", "/v1/usage"),
            &headers,
            b"",
            NOW * 1000,
        )
    };
    let r = preflight("https://app.example.com");
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(
        header(&r, "access-control-allow-origin"),
        Some("https://app.example.com")
    );
    assert_eq!(
        header(&r, "access-control-allow-headers"),
        Some("authorization, content-type")
    );
    assert_eq!(preflight("https://evil.example").status, 403);
    assert_eq!(ledger.calls.get(), 0);
}

#[test]
fn the_budget_belongs_to_the_verifying_issuer_not_to_an_iss_claim() {
    // An HMAC token's `iss` is whatever its holder wrote (no JWT_ISSUER here): a new `iss` per
    // token must not open a new budget. The ledger is named by the issuer that verified the
    // token (its scope), and the subject.
    let svc = service(&[("QUOTA_GRANTS_PER_HOUR", "2")]);
    let ledger = FakeLedger::default();
    for (i, status) in [200, 200, 429, 429].into_iter().enumerate() {
        let claims = json!({ "sub": "alice", "exp": NOW + 600, "iss": format!("made-up-{i}") });
        let (resp, body) = upload(&svc, &ledger, &claims, 10);
        assert_eq!(resp.status, status, "token {i}: {body}");
    }
}

/// Stale multipart uploads (`MULTIPART_CLEANUP_GRACE`): due at their time, kept until closed
/// (aborted or completed), postponed when the abort failed, and the alarm is set for them.
#[test]
fn stale_uploads_are_due_until_closed() {
    use presign_worker::ledger::{Call, Stale};
    let t0 = 1_767_225_600u64;
    let stale = |at| Stale {
        at,
        target: "uploads".into(),
        key: "alice/1/a.bin".into(),
    };
    let ask = |id: &str, at| Ask {
        cleanup: Some((id.to_owned(), stale(at))),
        ..Ask::default()
    };
    let mut book = Book::default();
    assert!(matches!(
        book.reserve(&ask("u1", t0 + 100), t0),
        Outcome::Granted { .. }
    ));
    assert!(matches!(
        book.reserve(&ask("u2", t0 + 200), t0),
        Outcome::Granted { .. }
    ));
    assert_eq!(book.next_expiry(), Some(t0 + 100));
    assert!(book.due(t0 + 99).is_empty());
    assert_eq!(book.due(t0 + 100), vec![("u1".to_owned(), stale(t0 + 100))]);
    // Pruning never forgets one: only closing does.
    book.prune(t0 + 10_000);
    assert_eq!(book.due(t0 + 10_000).len(), 2);
    book.answer(&Call::Postpone("u1".into(), t0 + 10_300), t0 + 10_000);
    assert_eq!(
        book.due(t0 + 10_000),
        vec![("u2".to_owned(), stale(t0 + 200))]
    );
    book.answer(&Call::Close("u2".into()), t0 + 10_000);
    assert_eq!(book.next_expiry(), Some(t0 + 10_300));
    book.answer(&Call::Close("u1".into()), t0 + 10_300);
    assert!(book.is_empty(), "{book:?}");
    // A book written before the cleanup existed still reads.
    let old: Book = serde_json::from_str(r#"{"buckets":{},"jtis":{}}"#).unwrap();
    assert!(old.is_empty());
}

/// The upload of `key` granted at `at`, of 100 bytes of text/plain, with a deletion at
/// `delete_at`.
fn granted(key: &str, at: u64, delete_at: Option<u64>) -> presign_worker::ledger::Upload {
    presign_worker::ledger::Upload {
        target: "uploads".into(),
        key: key.into(),
        size: 100,
        exact: true,
        content_type: "text/plain".into(),
        checksum: Some(("sha256".into(), "c2hh".into())),
        granted_at: at,
        delete_at,
        until: at + 86_400,
        charged: (0, 0),
        multipart: None,
        completed: None,
        given_back: false,
    }
}

fn completion(key: &str, size: u64, etag: &str) -> presign_worker::ledger::Completion {
    presign_worker::ledger::Completion {
        target: "uploads".into(),
        key: key.into(),
        size,
        content_type: "Text/Plain".into(),
        checksum: None,
        etag: etag.into(),
        multipart: None,
        webhook: Some((format!("msg_{etag}"), "{}".into())),
    }
}

/// A grant is remembered with what it cost; a completion is checked against it and recorded
/// once; an upload removed uncompleted gives its bytes back, a completed one does not.
#[test]
fn granted_uploads_are_checked_recorded_and_refunded() {
    use presign_worker::ledger::Verdict;
    let t0 = 1_767_225_600u64;
    let mut book = Book::default();
    let ask = |key: &str, at| Ask {
        bytes: 100,
        grant: true,
        upload: Some(granted(key, at, Some(at + 600))),
        limits: Limits {
            bytes_per_day: Some(1000),
            ..Limits::default()
        },
        ..Ask::default()
    };
    assert!(matches!(
        book.reserve(&ask("a", t0), t0),
        Outcome::Granted { .. }
    ));
    assert!(matches!(
        book.reserve(&ask("b", t0 + 120), t0 + 120),
        Outcome::Granted { .. }
    ));
    assert_eq!(book.upload("uploads", "a").unwrap().charged, (t0 / 60, 100));
    assert_eq!(book.usage(t0 + 120).uploads_uncompleted, 2);
    assert_eq!(book.next_expiry(), Some(t0 + 600));

    // Not what was granted: refused, nothing recorded, nothing queued.
    let reply = book.answer(&Call::Complete(completion("a", 99, "e1")), t0 + 130);
    let Reply::Completion(Verdict::Differs { fields, .. }) = reply else {
        panic!("{reply:?}")
    };
    assert_eq!(
        fields.iter().map(|f| f.0.as_str()).collect::<Vec<_>>(),
        ["size"]
    );
    assert!(book.deliveries(t0 + 130).is_empty());
    let mut wrong_sum = completion("a", 100, "e1");
    wrong_sum.checksum = Some(("sha256".into(), "b3RoZXI=".into()));
    let reply = book.answer(&Call::Complete(wrong_sum), t0 + 130);
    assert!(
        matches!(reply, Reply::Completion(Verdict::Differs { .. })),
        "{reply:?}"
    );
    // Another algorithm than the granted one is not compared.
    let mut crc = completion("a", 100, "e1");
    crc.checksum = Some(("crc32".into(), "AAAAAA==".into()));
    let reply = book.answer(&Call::Complete(crc), t0 + 130);
    assert!(
        matches!(
            reply,
            Reply::Completion(Verdict::Completed { granted: Some(_) })
        ),
        "{reply:?}"
    );
    assert_eq!(book.deliveries(t0 + 130).len(), 1);
    // Again: the same verdict, no second event; its deletion is off.
    let reply = book.answer(&Call::Complete(completion("a", 100, "e1")), t0 + 140);
    assert!(matches!(
        reply,
        Reply::Completion(Verdict::Completed { .. })
    ));
    assert_eq!(book.deliveries(t0 + 140).len(), 1);
    assert_eq!(
        book.upload("uploads", "a").unwrap().completed.as_deref(),
        Some("e1")
    );
    assert_eq!(
        book.deletions(t0 + 10_000)
            .iter()
            .map(|u| u.key.as_str())
            .collect::<Vec<_>>(),
        ["b"]
    );
    // A key no grant is remembered for: completed, without a grant to check.
    let reply = book.answer(&Call::Complete(completion("zz", 5, "e9")), t0 + 140);
    assert_eq!(
        reply,
        Reply::Completion(Verdict::Completed { granted: None })
    );

    // Removing: the completed one keeps its bytes counted, the other gives them back.
    assert_eq!(book.usage(t0 + 150).bytes_day, 200);
    book.answer(&Call::Removed("uploads".into(), "a".into(), None), t0 + 150);
    assert_eq!(book.usage(t0 + 150).bytes_day, 200);
    book.answer(
        &Call::PostponeDelete("uploads".into(), "b".into(), t0 + 900),
        t0 + 720,
    );
    assert!(book.deletions(t0 + 899).is_empty());
    book.answer(&Call::Removed("uploads".into(), "b".into(), None), t0 + 900);
    assert_eq!(book.usage(t0 + 900).bytes_day, 100);
    assert!(book.upload("uploads", "b").is_none());
    // A pending deletion outlives the record's time; a completed record does not.
    let mut book = Book::default();
    book.reserve(&ask("c", t0), t0);
    book.answer(
        &Call::PostponeDelete("uploads".into(), "c".into(), t0 + 200_000),
        t0 + 700,
    );
    book.prune(t0 + 100_000);
    assert!(book.upload("uploads", "c").is_some());
    let _ = Upload::id("uploads", "c");
}

/// Aborting a multipart upload gives back the bytes of that upload's grant only: not those of
/// a later grant of the same key (a PUT granted after the create), which would then be stored
/// without being counted.
#[test]
fn an_abort_refunds_its_own_grant_not_a_later_one_of_the_same_key() {
    let t0 = 1_767_225_600u64;
    let limits = Limits {
        bytes_per_day: Some(1000),
        ..Limits::default()
    };
    let mut book = Book::default();
    // A multipart grant of 0 bytes, its upload created at the store as "store-1".
    let create = Ask {
        upload: Some(granted("k", t0, None)),
        link: Some((Upload::id("uploads", "k"), "store-1".into(), t0 + 3_600)),
        limits,
        ..Ask::default()
    };
    let Outcome::Granted { .. } = book.reserve(&create, t0) else {
        panic!("create refused")
    };
    // Then a single PUT of the whole budget to the same key.
    let put = Ask {
        bytes: 1000,
        grant: true,
        upload: Some(granted("k", t0 + 60, None)),
        limits,
        ..Ask::default()
    };
    let Outcome::Granted { .. } = book.reserve(&put, t0 + 60) else {
        panic!("put refused")
    };
    assert_eq!(book.usage(t0 + 60).bytes_day, 1000);
    // The multipart upload is aborted: the PUT's bytes stay counted, its record stays.
    book.answer(
        &Call::Removed("uploads".into(), "k".into(), Some("store-1".into())),
        t0 + 120,
    );
    assert_eq!(book.usage(t0 + 120).bytes_day, 1000);
    assert!(book.upload("uploads", "k").is_some());
    let again = Ask {
        bytes: 1,
        ..put.clone()
    };
    assert!(matches!(
        book.reserve(&again, t0 + 180),
        Outcome::Exceeded {
            budget: Budget::BytesPerDay,
            ..
        }
    ));
    // Its own abort still gives its bytes back.
    let mut book = Book::default();
    let create = Ask {
        bytes: 700,
        grant: true,
        ..create
    };
    book.reserve(&create, t0);
    book.answer(
        &Call::Removed("uploads".into(), "k".into(), Some("store-1".into())),
        t0 + 120,
    );
    assert_eq!(book.usage(t0 + 120).bytes_day, 0);
}

/// A refund after the grant's minute left the day's window takes nothing off: those bytes no
/// longer count, and taking them off a later minute would free another grant's.
#[test]
fn a_refund_after_the_day_never_frees_a_newer_grant() {
    let t0 = 1_767_225_600u64;
    let day = 86_400;
    let limits = Limits {
        bytes_per_day: Some(1000),
        ..Limits::default()
    };
    let mut book = Book::default();
    let mut old = granted("old", t0, None);
    old.until = t0 + day + 3_600;
    old.multipart = Some("store-1".into());
    let first = Ask {
        bytes: 1000,
        grant: true,
        upload: Some(old),
        limits,
        ..Ask::default()
    };
    let Outcome::Granted { .. } = book.reserve(&first, t0) else {
        panic!("first refused")
    };
    // A day and two minutes later the first grant has left the window: a second one fits.
    let later = t0 + day + 120;
    let second = Ask {
        bytes: 1000,
        grant: true,
        upload: Some(granted("new", later, None)),
        limits,
        ..Ask::default()
    };
    let Outcome::Granted { .. } = book.reserve(&second, later) else {
        panic!("second refused")
    };
    // The first one's multipart upload is cleaned up: the second's bytes stay counted.
    book.answer(
        &Call::Removed("uploads".into(), "old".into(), Some("store-1".into())),
        later + 60,
    );
    assert_eq!(book.usage(later + 60).bytes_day, 1000);
    let third = Ask {
        bytes: 1,
        upload: Some(granted("third", later + 120, None)),
        ..second
    };
    assert!(matches!(
        book.reserve(&third, later + 120),
        Outcome::Exceeded {
            budget: Budget::BytesPerDay,
            ..
        }
    ));
}

/// A single-use token whose life (`exp` + leeway) has ended by the ledger's clock is refused:
/// the book keeps a `jti` only that long, so it could not tell a second use from a first.
#[test]
fn a_single_use_token_that_reaches_the_ledger_after_its_end_is_refused() {
    let t0 = 1_767_225_600u64;
    let mut book = Book::default();
    let use_once = Ask {
        jti: Some(("j1".into(), t0 + 10)),
        ..Ask::default()
    };
    assert!(matches!(
        book.reserve(&use_once, t0),
        Outcome::Granted { .. }
    ));
    assert_eq!(book.reserve(&use_once, t0 + 10), Outcome::Replayed);
    // Past its end the book has forgotten it: a late call must not be granted again.
    assert_eq!(book.reserve(&use_once, t0 + 11), Outcome::Expired);
    assert_eq!(book.reserve(&use_once, t0 + 12), Outcome::Expired);
    // A fresh token reaching the ledger after its end is refused as well.
    let late = Ask {
        jti: Some(("j2".into(), t0 + 10)),
        ..Ask::default()
    };
    assert_eq!(book.reserve(&late, t0 + 11), Outcome::Expired);
}

/// A completion that reaches the ledger once the upload's deletion is due is refused: the
/// alarm may be deleting the object at that moment, and a receipt for it would then name an
/// object that is gone.
#[test]
fn a_completion_after_the_deletion_came_due_is_refused() {
    use presign_worker::ledger::Verdict;
    let t0 = 1_767_225_600u64;
    let mut book = Book::default();
    for key in ["early", "late"] {
        let ask = Ask {
            bytes: 100,
            grant: true,
            upload: Some(granted(key, t0, Some(t0 + 600))),
            ..Ask::default()
        };
        assert!(matches!(book.reserve(&ask, t0), Outcome::Granted { .. }));
    }
    let early = book.answer(&Call::Complete(completion("early", 100, "e1")), t0 + 599);
    assert!(
        matches!(early, Reply::Completion(Verdict::Completed { .. })),
        "{early:?}"
    );
    let late = book.answer(&Call::Complete(completion("late", 100, "e2")), t0 + 600);
    let Reply::Completion(Verdict::Differs { fields, .. }) = late else {
        panic!("{late:?}")
    };
    assert_eq!(
        fields.iter().map(|f| f.0.as_str()).collect::<Vec<_>>(),
        ["late"]
    );
    assert!(
        book.deliveries(t0 + 600).len() == 1,
        "only the early one is announced"
    );
    assert_eq!(book.deletions(t0 + 600).len(), 1);
}

/// A book remembers at most `MAX_UPLOADS` grants, forgetting completed ones first.
#[test]
fn a_book_remembers_a_bounded_number_of_uploads() {
    use presign_worker::ledger::MAX_UPLOADS;
    let t0 = 1_767_225_600u64;
    let mut book = Book::default();
    let ask = |key: String, at| Ask {
        upload: Some(granted(&key, at, None)),
        bytes: 1,
        grant: true,
        ..Ask::default()
    };
    book.reserve(&ask("first".into(), t0), t0);
    book.reserve(&ask("done".into(), t0 + 1), t0 + 1);
    book.answer(&Call::Complete(completion("done", 100, "e")), t0 + 1);
    for i in 0..MAX_UPLOADS {
        book.reserve(&ask(format!("k{i}"), t0 + 2), t0 + 2);
    }
    assert!(
        book.upload("uploads", "done").is_none(),
        "completed ones go first"
    );
    assert!(book.upload("uploads", "first").is_none(), "then the oldest");
    assert!(book.upload("uploads", "k0").is_some());
    assert_eq!(book.usage(t0 + 2).uploads_uncompleted, MAX_UPLOADS as u64);
}
