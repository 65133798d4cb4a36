//! Public keys of identity providers, from their JWK sets: which provider a token belongs to,
//! when its JWKS is (re)fetched, and what is kept when a fetch fails.
//!
//! Pure like the rest of the core: the time is an argument, and the network, the shared cache
//! and public-key signature checks are done by the caller's [`Remote`] (the Workers runtime in
//! the worker: `fetch`, the Cache API and WebCrypto).
//!
//! Rules, per issuer and per isolate:
//! - keys are fetched on first use; a good JWKS is fresh for its `Cache-Control` lifetime
//!   clamped to [`MIN_TTL`]..[`MAX_TTL`] ([`cache_ttl`]) and is also put in the shared cache,
//!   which a fresh isolate reads before the network. Other code may write to that cache (in
//!   Workers, every Worker of the zone): a copy is taken only with a valid HMAC-SHA256 tag made
//!   with a key derived from a secret of the configuration ([`CacheKey`]);
//! - a token whose `kid` is not in the keys, or keys past their freshness, trigger a network
//!   fetch, at most one per `JWKS_REFETCH_INTERVAL` (30 s by default): a flood of made-up `kid`s
//!   is answered from memory;
//! - a fetch that fails or returns no usable key keeps the last good keys (used even when
//!   stale) and is logged;
//! - a token whose `kid` is in the keys never waits for a fetch: stale keys serve it and are
//!   refreshed after the answer ([`Issuer::refresh`], run by the worker with `waitUntil`), so a
//!   slow or unreachable provider never holds up tokens signed by known keys;
//! - one fetch at a time: requests with an unknown `kid` arriving while it runs wait for it, at
//!   most until [`FETCH_DEADLINE`] seconds after its start. A fetch is known as running by its
//!   start time, not by the life of the request that started it: a request the runtime stops
//!   serving without dropping it (a client that went away) cannot hold up the others past that
//!   deadline; its fetch is then abandoned and does not count against the refetch interval.
//!   A waiting request looks again on its own timer ([`Remote::sleep`], [`WAIT_STEPS_MS`]),
//!   never woken by the fetching one: in Workers, a request must go on in its own context.

use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::config::{IssuerConfig, JwksSource};
use crate::jwt::ed25519::Ed25519PrivateKey;
use crate::jwt::{jwk, Algorithm, KeySet, PublicKey, Validation};

/// Shortest time a fetched JWKS is kept fresh, whatever its `Cache-Control` says (5 min).
pub const MIN_TTL: u64 = 300;
/// Longest time a fetched JWKS is kept fresh (24 h).
pub const MAX_TTL: u64 = 86_400;
/// Longest wait for the network's answer to one JWKS fetch, in milliseconds ([`Remote`] gives
/// up on it then).
pub const FETCH_TIMEOUT_MS: u64 = 5_000;
/// Seconds after its start at which a fetch counts as abandoned if it has not ended: the
/// network's timeout plus time for the shared cache's read and write, and the rounding of the
/// clock to seconds.
pub const FETCH_DEADLINE: u64 = FETCH_TIMEOUT_MS / 1000 + 3;
/// The pauses of a request waiting for another's fetch, in milliseconds, before it looks again
/// (the last one repeats): a quick fetch is seen at once, a slow one costs a few wake-ups.
pub const WAIT_STEPS_MS: [u64; 6] = [10, 20, 40, 80, 160, 250];

/// What public-key cryptography and key fetching need from the runtime: the JWKS of issuers
/// (verification), and the Ed25519 signatures of receipts.
///
/// The futures are not `Send`: the worker runs on one thread.
#[allow(async_fn_in_trait)]
pub trait Remote {
    /// The shared cache's copy of the JWKS at `url`: its body and the Unix time (seconds) until
    /// which it is fresh. `None` when absent or unreadable.
    async fn cached_jwks(&self, url: &str) -> Option<(String, u64)>;
    /// Fetches `url` over the network: the body of a `200` answer and its `Cache-Control`
    /// header, or why not (status, network error). The reason is logged, so it must not hold
    /// secrets.
    async fn fetch_jwks(&self, url: &str) -> Result<(String, Option<String>), String>;
    /// Puts a good JWKS in the shared cache, fresh until `fresh_until` (Unix seconds). `body`
    /// is what [`cached_jwks`](Self::cached_jwks) must give back.
    async fn store_jwks(&self, url: &str, body: &str, fresh_until: u64);
    /// Ready after `ms` milliseconds (a timer of the runtime): a pause of a request waiting
    /// for another's fetch.
    async fn sleep(&self, ms: u64);
    /// Whether `signature` is a valid `alg` signature of `input` under `key`. An error (a key
    /// the runtime cannot import, ...) counts as a bad signature.
    async fn verify(&self, alg: Algorithm, key: &PublicKey, input: &[u8], signature: &[u8])
        -> bool;
    /// The public key of the Ed25519 private key `key` (RFC 8032 §5.1.5), for the receipts'
    /// key set; or why not (logged, so without secrets).
    async fn ed25519_public(&self, key: &Ed25519PrivateKey) -> Result<[u8; 32], String>;
    /// The Ed25519 signature (RFC 8032 §5.1.6) of `input` under `key`: a receipt's. Or why not
    /// (logged, so without secrets).
    async fn sign_ed25519(&self, key: &Ed25519PrivateKey, input: &[u8])
        -> Result<[u8; 64], String>;
    /// Writes one structured (JSON) log line.
    fn log(&self, line: &str);
}

/// The freshness of a fetched JWKS in seconds: `s-maxage`, else `max-age`, of `cache_control`,
/// clamped to [`MIN_TTL`]..=[`MAX_TTL`]. `no-store`, `no-cache`, a missing header or a
/// malformed value give [`MIN_TTL`].
pub fn cache_ttl(cache_control: Option<&str>) -> u64 {
    let mut max_age = None;
    let mut s_maxage = None;
    for directive in cache_control.unwrap_or_default().split(',') {
        let directive = directive.trim();
        let (name, value) = match directive.split_once('=') {
            Some((n, v)) => (n.trim(), Some(v.trim().trim_matches('"'))),
            None => (directive, None),
        };
        let seconds = value.and_then(|v| v.parse::<u64>().ok());
        if name.eq_ignore_ascii_case("no-store") || name.eq_ignore_ascii_case("no-cache") {
            return MIN_TTL;
        } else if name.eq_ignore_ascii_case("max-age") {
            max_age = seconds;
        } else if name.eq_ignore_ascii_case("s-maxage") {
            s_maxage = seconds;
        }
    }
    s_maxage
        .or(max_age)
        .unwrap_or(MIN_TTL)
        .clamp(MIN_TTL, MAX_TTL)
}

/// The key of the tags that authenticate shared-cache copies: HMAC-SHA256 of a fixed label
/// under a secret of the configuration, so the secret itself never keys anything else.
#[derive(Clone)]
pub struct CacheKey([u8; 32]);

impl fmt::Debug for CacheKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CacheKey(<redacted>)")
    }
}

impl CacheKey {
    /// The key derived from `secret`.
    pub fn derive(secret: &[u8]) -> Self {
        let label: &[u8] = b"presign-worker jwks shared cache v1";
        Self(hmac_of(secret, &[label]).finalize().into_bytes().into())
    }

    /// The HMAC of the JWKS `body` of `url`, fresh until `fresh_until`, still to finalize.
    fn hmac(&self, url: &str, fresh_until: u64, body: &str) -> Hmac<Sha256> {
        hmac_of(
            &self.0,
            &[url.as_bytes(), &fresh_until.to_be_bytes(), body.as_bytes()],
        )
    }

    /// What goes in the shared cache: the tag in hex, a line feed, the JWKS.
    fn seal(&self, url: &str, fresh_until: u64, body: &str) -> String {
        let tag = self.hmac(url, fresh_until, body).finalize().into_bytes();
        let mut hex = [0u8; 64];
        // 32 bytes always fit 64 hex digits.
        let _ = hex::encode_to_slice(tag, &mut hex);
        let mut out = String::with_capacity(65 + body.len());
        out.push_str(core::str::from_utf8(&hex).unwrap_or_default());
        out.push('\n');
        out.push_str(body);
        out
    }

    /// The JWKS of a shared-cache copy whose tag is right (compared in constant time), else
    /// `None`.
    fn open<'a>(&self, url: &str, fresh_until: u64, sealed: &'a str) -> Option<&'a str> {
        let (tag, body) = sealed.split_once('\n')?;
        let mut given = [0u8; 32];
        hex::decode_to_slice(tag, &mut given).ok()?;
        let mac = self.hmac(url, fresh_until, body);
        mac.verify_slice(&given).ok().map(|()| body)
    }
}

/// HMAC-SHA256 under `key` of `parts`, each preceded by its length (so that no two lists of
/// parts give the same input).
fn hmac_of(key: &[u8], parts: &[&[u8]]) -> Hmac<Sha256> {
    let mut mac = crate::sigv4::hmac_with_key(key);
    for part in parts {
        mac.update(&(part.len() as u64).to_be_bytes());
        mac.update(part);
    }
    mac
}

/// Why an issuer's keys could not be had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unavailable;

/// One identity provider: its settings, the validation its tokens get, and its key cache.
#[derive(Debug)]
pub struct Issuer {
    /// Its settings.
    pub config: IssuerConfig,
    /// The claim checks of its tokens (its algorithms, `iss`, audiences).
    pub validation: Validation,
    refetch_secs: u64,
    /// Authenticates its copies in the shared cache.
    cache_key: CacheKey,
    state: RefCell<State>,
}

#[derive(Debug, Default)]
struct State {
    /// The last good keys.
    keys: Option<Rc<KeySet>>,
    /// Until when (Unix seconds) `keys` are fresh.
    fresh_until: u64,
    /// When the last network fetch started.
    last_fetch: Option<u64>,
    /// The fetch started and not ended, if any: other requests wait for it.
    running: Option<Running>,
    /// Fetches started so far (the number of the latest).
    started: u64,
    /// Stale keys served a known kid: refresh them after the answer.
    refresh_due: bool,
}

/// A fetch that started and has not ended.
#[derive(Debug, Clone, Copy)]
struct Running {
    /// Its number.
    id: u64,
    /// When it started (Unix seconds).
    since: u64,
    /// `last_fetch` before it, restored if it does not finish.
    previous: Option<u64>,
}

impl Running {
    /// When it counts as abandoned (Unix seconds).
    fn deadline(&self) -> u64 {
        self.since.saturating_add(FETCH_DEADLINE)
    }
}

impl State {
    /// The fetch running at `now`. One past its [deadline](Running::deadline) is abandoned
    /// here: it no longer runs for the others, nor counts against the refetch interval.
    fn running(&mut self, now: u64) -> Option<Running> {
        let r = self.running?;
        if now < r.deadline() {
            return Some(r);
        }
        self.running = None;
        self.last_fetch = r.previous;
        None
    }
}

/// What [`Issuer::keys`] should do next.
enum Step {
    Done(Result<Rc<KeySet>, Unavailable>),
    /// Another request's fetch runs: look again a moment later.
    Wait,
    Fetch {
        shared_cache: bool,
    },
}

impl Issuer {
    /// An issuer with an empty cache (or its inline keys). `leeway` is the clock skew allowed
    /// on its tokens; `refetch_secs` the least time between two network fetches; `cache_key`
    /// authenticates what it puts in and takes from the shared cache.
    ///
    /// Inline JWKS come parsed from the configuration, and are fresh for ever.
    pub fn new(config: IssuerConfig, leeway: u64, refetch_secs: u64, cache_key: CacheKey) -> Self {
        let validation = Validation {
            algorithms: config.algorithms.clone(),
            issuers: vec![config.iss.clone()],
            audiences: config.audiences.clone(),
            leeway,
            ..Validation::default()
        };
        let mut state = State::default();
        if let JwksSource::Inline(keys) = &config.jwks {
            state.keys = Some(Rc::clone(keys));
            state.fresh_until = u64::MAX;
        }
        Issuer {
            config,
            validation,
            // Never 0: an unknown kid would then refetch without end.
            refetch_secs: refetch_secs.max(1),
            cache_key,
            state: RefCell::new(state),
        }
    }

    /// The keys to check a token with `kid` at time `now`, fetching the JWKS when the rules of
    /// the [module](self) docs allow it. [`Unavailable`] only when no good JWKS was ever had.
    /// The caller still selects the key (an unknown `kid` is its refusal).
    pub async fn keys<R: Remote>(
        &self,
        kid: Option<&str>,
        now: u64,
        remote: &R,
    ) -> Result<Rc<KeySet>, Unavailable> {
        let JwksSource::Url(url) = &self.config.jwks else {
            return self.state.borrow().keys.clone().ok_or(Unavailable);
        };
        // The time is the request's, plus the pauses it waited (at least that much passed).
        let (mut now, mut waited_ms, mut pauses) = (now, 0, 0);
        // A few rounds at most but for the pauses: wait for a running fetch, read the shared
        // cache, fetch.
        loop {
            match self.next_step(kid, now + waited_ms / 1000) {
                Step::Done(result) => return result,
                Step::Wait => {
                    let pause = WAIT_STEPS_MS[pauses.min(WAIT_STEPS_MS.len() - 1)];
                    remote.sleep(pause).await;
                    waited_ms += pause;
                    pauses += 1;
                }
                Step::Fetch { shared_cache } => {
                    now += waited_ms / 1000;
                    waited_ms %= 1000;
                    self.fetch_step(url, now, remote, shared_cache).await;
                }
            }
        }
    }

    /// Whether stale keys served a token and should be refreshed by [`refresh`](Self::refresh)
    /// (in the worker: after the answer, with `waitUntil`).
    pub fn refresh_due(&self) -> bool {
        self.state.borrow().refresh_due
    }

    /// Refreshes keys that [`keys`](Self::keys) served stale, unless a fetch is running or the
    /// refetch interval has not passed; does nothing otherwise.
    pub async fn refresh<R: Remote>(&self, now: u64, remote: &R) {
        let JwksSource::Url(url) = &self.config.jwks else {
            return;
        };
        {
            let mut st = self.state.borrow_mut();
            if !std::mem::take(&mut st.refresh_due)
                || st.running(now).is_some()
                || now < st.fresh_until
            {
                return;
            }
            if !self.may_fetch(&st, now) {
                return;
            }
        }
        self.fetch_step(url, now, remote, true).await;
    }

    /// One fetch: the shared cache first if `shared_cache`, else (or if it has nothing fresh,
    /// authentic and usable) the network.
    async fn fetch_step<R: Remote>(&self, url: &str, now: u64, remote: &R, shared_cache: bool) {
        let mut running = Fetching::start(self, now);
        if shared_cache {
            if let Some((sealed, fresh_until)) = remote.cached_jwks(url).await {
                if fresh_until > now {
                    match self.cache_key.open(url, fresh_until, &sealed) {
                        Some(body) if self.accept(body, fresh_until, remote) => {
                            running.finished = true;
                            return;
                        }
                        Some(_) => {}
                        None => self.log_failure(
                            remote,
                            "jwks_cache_rejected",
                            "the shared cache's copy is not authentic (not stored by this \
                             worker with its secret): ignored",
                        ),
                    }
                }
            }
        }
        // The network, counted from now.
        self.state.borrow_mut().last_fetch = Some(now);
        self.fetch(url, now, remote).await;
        running.finished = true;
    }

    fn may_fetch(&self, st: &State, now: u64) -> bool {
        st.last_fetch
            .is_none_or(|t| now >= t.saturating_add(self.refetch_secs))
    }

    fn next_step(&self, kid: Option<&str>, now: u64) -> Step {
        let mut st = self.state.borrow_mut();
        let running = st.running(now);
        let fresh = now < st.fresh_until;
        let knows_kid = st.keys.as_ref().is_some_and(|k| k.select(kid).is_ok());
        let may_fetch = self.may_fetch(&st, now);
        // A known kid never waits for a fetch: its key serves, even stale, and stale keys are
        // refreshed after the answer (`refresh`), while a running fetch (another request's
        // unknown kid, or that refresh) goes on.
        if knows_kid {
            if !fresh && running.is_none() && may_fetch {
                st.refresh_due = true;
            }
            return Step::Done(Ok(st.keys.clone().unwrap_or_default()));
        }
        if running.is_some() {
            return Step::Wait;
        }
        if !may_fetch {
            return Step::Done(st.keys.clone().ok_or(Unavailable));
        }
        // The shared cache can help a cold or stale isolate, not one missing a new kid
        // (the shared copy is at best as new as the network's last answer).
        Step::Fetch {
            shared_cache: st.keys.is_none() || !fresh,
        }
    }

    async fn fetch<R: Remote>(&self, url: &str, now: u64, remote: &R) {
        match remote.fetch_jwks(url).await {
            Ok((body, cache_control)) => {
                let fresh_until = now.saturating_add(cache_ttl(cache_control.as_deref()));
                if self.accept(&body, fresh_until, remote) {
                    let sealed = self.cache_key.seal(url, fresh_until, &body);
                    remote.store_jwks(url, &sealed, fresh_until).await;
                }
            }
            Err(problem) => self.log_failure(remote, "jwks_fetch_failed", &problem),
        }
    }

    /// Takes `body` as the new keys if it is a JWKS with a usable key; logs otherwise.
    fn accept<R: Remote>(&self, body: &str, fresh_until: u64, remote: &R) -> bool {
        match jwk::parse_jwks(body) {
            Ok(jwks) => {
                let mut st = self.state.borrow_mut();
                st.keys = Some(Rc::new(jwks.keys));
                st.fresh_until = fresh_until;
                true
            }
            Err(e) => {
                let problem = format!("not a usable JWKS: {e}");
                self.log_failure(remote, "jwks_fetch_failed", &problem);
                false
            }
        }
    }

    fn log_failure<R: Remote>(&self, remote: &R, event: &str, problem: &str) {
        let st = self.state.borrow();
        let line = serde_json::json!({
            "level": "warn",
            "event": event,
            "issuer": self.config.name,
            "problem": problem,
            "kept_keys": st.keys.as_ref().map_or(0, |k| k.len()),
        });
        remote.log(&line.to_string());
    }
}

/// Marks a fetch as running for as long as it lives (or until its deadline passes). A fetch
/// that does not finish (the request was dropped) does not count against the refetch interval:
/// a waiting request may fetch at once.
struct Fetching<'a> {
    issuer: &'a Issuer,
    /// Its number in [`State::started`].
    id: u64,
    finished: bool,
}

impl<'a> Fetching<'a> {
    fn start(issuer: &'a Issuer, now: u64) -> Self {
        let mut st = issuer.state.borrow_mut();
        st.started += 1;
        let id = st.started;
        st.running = Some(Running {
            id,
            since: now,
            previous: st.last_fetch,
        });
        Fetching {
            issuer,
            id,
            finished: false,
        }
    }
}

impl Drop for Fetching<'_> {
    fn drop(&mut self) {
        let mut st = self.issuer.state.borrow_mut();
        // Unless it was abandoned at its deadline (and another fetch may run now).
        if let Some(r) = st.running.filter(|r| r.id == self.id) {
            st.running = None;
            if !self.finished {
                st.last_fetch = r.previous;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_ttl_reads_and_clamps() {
        assert_eq!(cache_ttl(None), MIN_TTL);
        assert_eq!(cache_ttl(Some("public, max-age=3600")), 3600);
        assert_eq!(cache_ttl(Some("max-age=10")), MIN_TTL);
        assert_eq!(cache_ttl(Some("max-age=999999")), MAX_TTL);
        assert_eq!(cache_ttl(Some("max-age=600, s-maxage=7200")), 7200);
        assert_eq!(cache_ttl(Some("MAX-AGE=\"900\"")), 900);
        assert_eq!(cache_ttl(Some("no-store, max-age=7200")), MIN_TTL);
        assert_eq!(cache_ttl(Some("max-age=abc")), MIN_TTL);
        assert_eq!(cache_ttl(Some("max-age=-5")), MIN_TTL);
    }
}
