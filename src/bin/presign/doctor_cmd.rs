//! `presign doctor`: what the real store enforces, tested with the worker's own configuration.
//!
//! A presigned URL is only as strict as the store that checks it. The doctor signs URLs the way
//! the worker does, sends them to the configured store (and requests that break them), and
//! prints what the store accepted or refused. Objects it writes live under
//! `presign-doctor/<random>/` and are deleted at the end.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use presign_worker::config::{Access, Config, TargetConfig};
use presign_worker::sigv4::{Bucket, Method, ObjectRequest, Signer};
use serde_json::json;

use crate::opts::{wants_help, Opts};

const HELP: &str = "\
usage: presign doctor [--target NAME] [--config wrangler.toml] [--vars .dev.vars]
                      [--env NAME] [--from-environment] [--json]

Tests what the configured store really enforces, with the worker's configuration: the
[vars] of wrangler.toml (of [env.NAME] with --env), overlaid by .dev.vars (as `wrangler dev`
does), or the process environment alone with --from-environment. For each target (or the one
named) it prints a table:

  signature       a valid URL is accepted, a tampered signature refused
  expiry          an expired URL is refused
  content-type    a body with another content type than the signed one is refused
  content-length  a body of another size than the signed one is refused
  copy-source     an unsigned x-amz-copy-source header added to a signed PUT is refused
                  (a store that executes it lets a client copy any object the worker's
                  credentials can read: give the worker write-only credentials)
  overwrite       a PUT signed with If-None-Match: * onto an existing key is refused (412)
  cors            the bucket answers a preflight for each CORS_ALLOWED_ORIGINS origin, with
                  ETag exposed (browsers upload straight to the bucket)
  clock           the store's Date header against this machine's clock

Objects are written under presign-doctor/<random>/ and deleted afterwards. Exit code 0 when
every check passed, 1 when one failed, 2 for usage or configuration errors.";

/// What a check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// The store enforces it.
    Ok,
    /// The store does not enforce it.
    Fail,
    /// Not tested (nothing to test, or an earlier step failed).
    Skipped,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Fail => "FAIL",
            Self::Skipped => "skipped",
        }
    }
}

/// One row of the doctor's table.
struct Check {
    name: &'static str,
    outcome: Outcome,
    detail: String,
}

fn check(name: &'static str, outcome: Outcome, detail: impl Into<String>) -> Check {
    Check {
        name,
        outcome,
        detail: detail.into(),
    }
}

/// An HTTP answer, reduced to what the checks look at.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The status, and S3's error code when the body has one.
    fn describe(&self) -> String {
        let text = String::from_utf8_lossy(&self.body);
        match text
            .split_once("<Code>")
            .and_then(|(_, rest)| rest.split_once("</Code>"))
        {
            Some((code, _)) => format!("{} {code}", self.status),
            None => self.status.to_string(),
        }
    }

    fn refused(&self) -> bool {
        (400..500).contains(&self.status)
    }
}

/// One target's store, signed for as the worker signs.
struct Store {
    name: String,
    bucket: Bucket,
    /// Signs the uploads (and the deletes) of the checks, as the worker's uploads.
    write: Signer,
    /// Signs the downloads, as the worker's.
    read: Signer,
    agent: ureq::Agent,
    prefix: String,
    written: Vec<String>,
}

impl Store {
    fn new(t: &TargetConfig) -> Result<Self, String> {
        let bucket = t.bucket.clone();
        let write = t.signer(Access::Write).map_err(|e| e.to_string())?;
        let read = t.signer(Access::Read).map_err(|e| e.to_string())?;
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(20)))
            .build()
            .into();
        Ok(Self {
            name: t.name.clone(),
            bucket,
            write,
            read,
            agent,
            prefix: format!("presign-doctor/{}", unique()),
            written: Vec::new(),
        })
    }

    fn key(&self, name: &str) -> String {
        format!("{}/{name}", self.prefix)
    }

    /// A presigned URL signed at `at` (Unix seconds) for `expires` seconds.
    fn url(
        &self,
        method: Method,
        key: &str,
        headers: &[(&str, &str)],
        expires: u32,
        at: u64,
    ) -> Result<String, String> {
        let req = ObjectRequest {
            method,
            key,
            query: &[],
            headers,
        };
        // Signed as the worker signs: downloads with the read credentials, the rest with the
        // write ones.
        let signer = if method == Method::Get {
            &self.read
        } else {
            &self.write
        };
        signer
            .presign(&self.bucket, &req, expires, at)
            .map(|p| p.url)
            .map_err(|e| e.to_string())
    }

    fn send(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Answer, String> {
        let mut req = ureq::http::Request::builder().method(method).uri(url);
        for (n, v) in headers {
            req = req.header(*n, *v);
        }
        let req = req.body(body.to_vec()).map_err(|e| e.to_string())?;
        let resp = self
            .agent
            .run(req)
            .map_err(|e| format!("the store could not be reached: {e}"))?;
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let body = resp
            .into_body()
            .with_config()
            .limit(1 << 20)
            .read_to_vec()
            .unwrap_or_default();
        Ok(Answer {
            status,
            headers,
            body,
        })
    }

    /// A signed PUT of `body` under `key` with the content type and length signed, as the
    /// worker's `/v1/uploads` grants; `extra` headers are sent but not signed.
    fn put(
        &mut self,
        key: &str,
        content_type: &str,
        body: &[u8],
        extra: &[(&str, &str)],
    ) -> Result<Answer, String> {
        let len = body.len().to_string();
        let signed = [
            ("content-type", content_type),
            ("content-length", len.as_str()),
        ];
        let url = self.url(Method::Put, key, &signed, 300, now())?;
        let mut headers = vec![("content-type", content_type)];
        headers.extend_from_slice(extra);
        self.written.push(key.to_owned());
        self.send("PUT", &url, &headers, body)
    }

    fn get(&self, key: &str) -> Result<Answer, String> {
        let url = self.url(Method::Get, key, &[], 300, now())?;
        self.send("GET", &url, &[], b"")
    }

    /// Deletes what the checks wrote; the keys that could not be deleted.
    fn clean_up(&self) -> Vec<String> {
        let mut left = Vec::new();
        for key in &self.written {
            let deleted = self
                .url(Method::Delete, key, &[], 300, now())
                .and_then(|url| self.send("DELETE", &url, &[], b""));
            match deleted {
                Ok(a) if a.status == 204 || a.status == 200 || a.status == 404 => {}
                _ => left.push(key.clone()),
            }
        }
        left
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A name no other run uses (not a secret: the time and the process id).
fn unique() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{nanos:x}-{:x}", std::process::id())
}

/// Runs every check against one target's store.
fn run_checks(store: &mut Store, origins: &[String]) -> Vec<Check> {
    let mut checks = Vec::new();
    let probe = store.key("probe.txt");
    // The baseline: a valid URL must work, or nothing else can be told.
    let first = match store.put(&probe, "text/plain", b"hello", &[]) {
        Ok(a) => a,
        Err(e) => {
            checks.push(check("signature", Outcome::Fail, e));
            return checks;
        }
    };
    if first.status != 200 {
        checks.push(check(
            "signature",
            Outcome::Fail,
            format!(
                "a valid signed PUT was refused ({}): check the endpoint, bucket and credentials",
                first.describe()
            ),
        ));
        return checks;
    }
    checks.push(signature_check(store, &probe));
    checks.push(expiry_check(store));
    checks.push(mismatch_check(
        store,
        "content-type",
        "image/png",
        b"12345",
        "text/plain",
        b"12345",
    ));
    checks.push(mismatch_check(
        store,
        "content-length",
        "text/plain",
        b"12345",
        "text/plain",
        b"123456",
    ));
    checks.push(copy_source_check(store));
    checks.push(overwrite_check(store, &probe));
    checks.push(cors_check(store, &probe, origins));
    checks.push(clock_check(&first));
    checks
}

fn signature_check(store: &Store, probe: &str) -> Check {
    let outcome = store
        .url(Method::Get, probe, &[], 300, now())
        .and_then(|url| {
            // The last hex digit of the signature, changed.
            let mut tampered = url.clone();
            let last = tampered.pop().unwrap_or('0');
            tampered.push(if last == '0' { '1' } else { '0' });
            Ok((
                store.send("GET", &url, &[], b"")?,
                store.send("GET", &tampered, &[], b"")?,
            ))
        });
    match outcome {
        Ok((good, bad)) if good.status == 200 && bad.refused() => check(
            "signature",
            Outcome::Ok,
            format!(
                "valid URL 200, tampered signature refused ({})",
                bad.describe()
            ),
        ),
        Ok((good, bad)) => check(
            "signature",
            Outcome::Fail,
            format!(
                "valid URL {}, tampered signature {}: the store does not check signatures",
                good.describe(),
                bad.describe()
            ),
        ),
        Err(e) => check("signature", Outcome::Fail, e),
    }
}

fn expiry_check(store: &Store) -> Check {
    // Signed two hours ago, valid for one minute.
    let key = store.key("expired.txt");
    let outcome = store
        .url(Method::Get, &key, &[], 60, now().saturating_sub(7200))
        .and_then(|url| store.send("GET", &url, &[], b""));
    match outcome {
        Ok(a) if a.status == 403 => check(
            "expiry",
            Outcome::Ok,
            format!("a URL expired for 2 h refused ({})", a.describe()),
        ),
        Ok(a) => check(
            "expiry",
            Outcome::Fail,
            format!("a URL expired for 2 h answered {}", a.describe()),
        ),
        Err(e) => check("expiry", Outcome::Fail, e),
    }
}

/// A URL signed for `signed_type` and `signed_body`'s length, sent `sent_type` and `sent_body`.
fn mismatch_check(
    store: &mut Store,
    name: &'static str,
    signed_type: &str,
    signed_body: &[u8],
    sent_type: &str,
    sent_body: &[u8],
) -> Check {
    let key = store.key(&format!("{name}.txt"));
    let len = signed_body.len().to_string();
    let signed = [
        ("content-type", signed_type),
        ("content-length", len.as_str()),
    ];
    store.written.push(key.clone());
    let outcome = store
        .url(Method::Put, &key, &signed, 300, now())
        .and_then(|url| store.send("PUT", &url, &[("content-type", sent_type)], sent_body));
    let what = format!(
        "signed {signed_type}, {} bytes; sent {sent_type}, {} bytes",
        signed_body.len(),
        sent_body.len()
    );
    match outcome {
        Ok(a) if a.refused() => check(
            name,
            Outcome::Ok,
            format!("{what}: refused ({})", a.describe()),
        ),
        Ok(a) => check(
            name,
            Outcome::Fail,
            format!("{what}: accepted ({})", a.describe()),
        ),
        Err(e) => check(name, Outcome::Fail, e),
    }
}

fn copy_source_check(store: &mut Store) -> Check {
    const NAME: &str = "copy-source";
    let source = store.key("copy-source/secret.txt");
    let target = store.key("copy-source/mine.txt");
    let secret = b"only the worker's credentials may read this";
    match store.put(&source, "text/plain", secret, &[]) {
        Ok(a) if a.status == 200 => {}
        Ok(a) => {
            return check(
                NAME,
                Outcome::Skipped,
                format!("could not write the source ({})", a.describe()),
            )
        }
        Err(e) => return check(NAME, Outcome::Skipped, e),
    }
    let copy_from = format!("/{}/{source}", store.bucket.name());
    let sent = store.put(
        &target,
        "text/plain",
        b"",
        &[("x-amz-copy-source", &copy_from)],
    );
    let copied = store
        .get(&target)
        .map(|a| a.status == 200 && a.body == secret)
        .unwrap_or(false);
    match sent {
        _ if copied => check(
            NAME,
            Outcome::Fail,
            "the store executed an unsigned x-amz-copy-source (CopyObject with the worker's \
             credentials): a client can copy any object the worker can read into its own key; \
             give the worker write-only credentials for uploads",
        ),
        Ok(a) if a.refused() => check(
            NAME,
            Outcome::Ok,
            format!("unsigned x-amz-copy-source refused ({})", a.describe()),
        ),
        Ok(a) => check(
            NAME,
            Outcome::Ok,
            format!("the header was ignored ({}), nothing copied", a.describe()),
        ),
        Err(e) => check(NAME, Outcome::Fail, e),
    }
}

fn overwrite_check(store: &mut Store, probe: &str) -> Check {
    const NAME: &str = "overwrite";
    let signed = [
        ("content-type", "text/plain"),
        ("content-length", "5"),
        ("if-none-match", "*"),
    ];
    let outcome = store
        .url(Method::Put, probe, &signed, 300, now())
        .and_then(|url| {
            store.send(
                "PUT",
                &url,
                &[("content-type", "text/plain"), ("if-none-match", "*")],
                b"again",
            )
        });
    let kept = store
        .get(probe)
        .map(|a| a.body == b"hello")
        .unwrap_or(false);
    match outcome {
        Ok(a) if a.status == 412 && kept => check(
            NAME,
            Outcome::Ok,
            "If-None-Match: * onto an existing key refused (412), the object kept",
        ),
        Ok(a) => check(
            NAME,
            Outcome::Fail,
            format!(
                "If-None-Match: * onto an existing key answered {}{}: the store does not do \
                 conditional writes, a later grant can replace an object",
                a.describe(),
                if kept { "" } else { " and replaced it" }
            ),
        ),
        Err(e) => check(NAME, Outcome::Fail, e),
    }
}

fn cors_check(store: &Store, probe: &str, origins: &[String]) -> Check {
    const NAME: &str = "cors";
    if origins.is_empty() {
        return check(NAME, Outcome::Skipped, "CORS_ALLOWED_ORIGINS is not set");
    }
    let url = match store.url(Method::Get, probe, &[], 300, now()) {
        Ok(u) => u,
        Err(e) => return check(NAME, Outcome::Fail, e),
    };
    let mut problems = Vec::new();
    for origin in origins {
        let preflight = [
            ("origin", origin.as_str()),
            ("access-control-request-method", "PUT"),
            ("access-control-request-headers", "content-type"),
        ];
        match store.send("OPTIONS", &url, &preflight, b"") {
            Ok(a)
                if (200..300).contains(&a.status)
                    && a.header("access-control-allow-origin")
                        .is_some_and(|o| o == origin || o == "*") => {}
            Ok(a) => problems.push(format!("{origin}: preflight answered {}", a.describe())),
            Err(e) => problems.push(format!("{origin}: {e}")),
        }
        match store.send("GET", &url, &[("origin", origin.as_str())], b"") {
            Ok(a)
                if a.header("access-control-expose-headers").is_some_and(|h| {
                    h.split(',').any(|n| n.trim().eq_ignore_ascii_case("etag"))
                }) => {}
            Ok(_) => problems.push(format!("{origin}: ETag is not exposed")),
            Err(e) => problems.push(format!("{origin}: {e}")),
        }
    }
    if problems.is_empty() {
        check(
            NAME,
            Outcome::Ok,
            format!("preflight and ETag for {}", origins.join(", ")),
        )
    } else {
        check(NAME, Outcome::Fail, problems.join("; "))
    }
}

fn clock_check(answer: &Answer) -> Check {
    const NAME: &str = "clock";
    let Some(date) = answer.header("date") else {
        return check(NAME, Outcome::Skipped, "the store sent no Date header");
    };
    let Some(theirs) = parse_http_date(date) else {
        return check(
            NAME,
            Outcome::Skipped,
            format!("unreadable Date header {date:?}"),
        );
    };
    let skew = theirs as i64 - now() as i64;
    // SigV4 allows 15 minutes; more than a minute already shortens every URL's life.
    let outcome = if skew.abs() <= 60 {
        Outcome::Ok
    } else {
        Outcome::Fail
    };
    check(
        NAME,
        outcome,
        format!("the store's clock is {skew:+} s from this machine's"),
    )
}

/// Unix seconds of an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`, RFC 9110).
fn parse_http_date(s: &str) -> Option<u64> {
    let mut it = s.split_whitespace().skip(1);
    let day: u64 = it.next()?.parse().ok()?;
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let name = it.next()?;
    let month = MONTHS.iter().position(|m| *m == name)? + 1;
    let year: u32 = it.next()?.parse().ok()?;
    let time = it.next()?;
    let stamp = format!(
        "{year:04}{month:02}{day:02}T{}Z",
        time.split(':').collect::<String>()
    );
    presign_worker::sigv4::AmzDate::parse(&stamp).map(|d| d.unix())
}

/// `wrangler.toml`'s `[vars]` (or `[env.NAME.vars]`) as strings.
fn wrangler_vars(path: &Path, env: Option<&str>) -> Result<HashMap<String, String>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    // Where, not what: the parser's own message quotes the line, which may hold a secret.
    let doc: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        let at = e.span().map_or(0, |s| s.start).min(text.len());
        let line = text.as_bytes()[..at]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            + 1;
        format!("{}: not valid TOML (line {line})", path.display())
    })?;
    let vars = match env {
        None => doc.get("vars"),
        Some(name) => doc
            .get("env")
            .and_then(|e| e.get(name))
            .and_then(|e| e.get("vars")),
    };
    let mut out = HashMap::new();
    if let Some(toml::Value::Table(t)) = vars {
        for (name, value) in t {
            // The worker refuses to run on a value that is not text (wrangler binds it as
            // JSON): so does the doctor.
            let toml::Value::String(value) = value else {
                return Err(format!(
                    "{}: [vars] {name} is not text: write its value in quotes",
                    path.display()
                ));
            };
            let value = value.clone();
            out.insert(name.clone(), value);
        }
    }
    Ok(out)
}

/// `.dev.vars` (dotenv syntax), if the file exists.
fn dev_vars(path: &Path) -> Result<HashMap<String, String>, String> {
    if !path.exists() {
        return Ok(HashMap::new());
    }
    let problem = |e: dotenvy::Error| dotenv_problem(path, &e);
    let iter = dotenvy::from_path_iter(path).map_err(problem)?;
    iter.map(|item| item.map_err(problem)).collect()
}

/// What is wrong with the dotenv file `path`, without its contents: dotenvy's own messages
/// quote the line that does not parse (up to the end of the file after an unclosed quote), or
/// the value of an environment variable, and `.dev.vars` holds the secrets.
fn dotenv_problem(path: &Path, e: &dotenvy::Error) -> String {
    let file = path.display();
    match e {
        dotenvy::Error::LineParse(line, _) => {
            let name = line.split('=').next().unwrap_or_default().trim();
            let name = name.strip_prefix("export ").unwrap_or(name).trim();
            let is_name = !name.is_empty()
                && name.len() <= 64
                && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
            match is_name {
                true => format!(
                    "{file}: the line of {name} is not NAME=value (quote a value with spaces or backslashes)"
                ),
                false => format!("{file}: a line is not NAME=value"),
            }
        }
        dotenvy::Error::EnvVar(_) => {
            format!("{file}: a $NAME in it names an environment variable that is not text")
        }
        dotenvy::Error::Io(io) => format!("{file}: {io}"),
        _ => format!("{file}: cannot be read as NAME=value lines"),
    }
}

/// Runs `presign doctor` with the arguments after the verb; returns the exit code.
pub fn run(args: &[String]) -> i32 {
    if wants_help(args) {
        println!("{HELP}");
        return 0;
    }
    let usage = |e: &str| {
        eprintln!("error: {e}\n{HELP}");
        2
    };
    let opts = match Opts::parse(
        args,
        &["target", "config", "vars", "env"],
        &["from-environment", "json"],
    ) {
        Ok(o) => o,
        Err(e) => return usage(&e),
    };
    let vars = if opts.has("from-environment") {
        // `std::env::vars` panics on a variable that is not UTF-8, quoting it; such variables
        // are none of the worker's and are left out.
        std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect()
    } else {
        let config = Path::new(opts.last("config").unwrap_or("wrangler.toml"));
        let local = Path::new(opts.last("vars").unwrap_or(".dev.vars"));
        match (wrangler_vars(config, opts.last("env")), dev_vars(local)) {
            (Ok(mut v), Ok(local)) => {
                v.extend(local);
                v
            }
            (Err(e), _) | (_, Err(e)) => {
                eprintln!("error: {e}");
                return 2;
            }
        }
    };
    let config = match Config::from_lookup(&|name| vars.get(name).cloned()) {
        Ok(c) => c,
        Err(e) => {
            // Names the variable and the problem, never a secret's value.
            eprintln!("error: the configuration is invalid: {e}");
            return 2;
        }
    };
    let targets: Vec<&TargetConfig> = match opts.last("target") {
        None => config.targets.iter().collect(),
        Some(name) => match config.targets.iter().find(|t| t.name == name) {
            Some(t) => vec![t],
            None => return usage(&format!("no target named {name}")),
        },
    };
    let mut failed = false;
    let mut report = Vec::new();
    for target in targets {
        let mut store = match Store::new(target) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: target {}: {e}", target.name);
                return 2;
            }
        };
        let mut checks = run_checks(&mut store, &config.cors.allowed_origins);
        let left = store.clean_up();
        checks.push(if left.is_empty() {
            check(
                "cleanup",
                Outcome::Ok,
                format!("removed {} test objects", store.written.len()),
            )
        } else {
            check(
                "cleanup",
                Outcome::Fail,
                format!("could not delete {}", left.join(", ")),
            )
        });
        failed |= checks.iter().any(|c| c.outcome == Outcome::Fail);
        report.push((store.name.clone(), checks));
    }
    if opts.has("json") {
        let out: Vec<_> = report
            .iter()
            .map(|(target, checks)| {
                let rows: Vec<_> = checks
                    .iter()
                    .map(|c| json!({ "check": c.name, "result": c.outcome.as_str(), "detail": c.detail }))
                    .collect();
                json!({ "target": target, "checks": rows })
            })
            .collect();
        println!("{}", serde_json::Value::Array(out));
    } else {
        for (target, checks) in &report {
            println!("target {target}");
            println!("  {:<15} {:<8} detail", "check", "result");
            for c in checks {
                println!("  {:<15} {:<8} {}", c.name, c.outcome.as_str(), c.detail);
            }
        }
    }
    i32::from(failed)
}
