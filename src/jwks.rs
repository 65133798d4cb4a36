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
//!   which a fresh isolate reads before the network;
//! - a token whose `kid` is not in the keys, or keys past their freshness, trigger a network
//!   fetch, at most one per `JWKS_REFETCH_INTERVAL` (30 s by default): a flood of made-up `kid`s
//!   is answered from memory;
//! - a fetch that fails or returns no usable key keeps the last good keys (used even when
//!   stale) and is logged;
//! - a token whose `kid` is in the keys never waits for a fetch: stale keys serve it and are
//!   refreshed after the answer ([`Issuer::refresh`], run by the worker with `waitUntil`), so a
//!   slow or unreachable provider never holds up tokens signed by known keys;
//! - one fetch at a time: requests with an unknown `kid` arriving while it runs wait for it.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use crate::config::{IssuerConfig, JwksSource};
use crate::jwt::{jwk, Algorithm, KeySet, PublicKey, Validation};

/// Shortest time a fetched JWKS is kept fresh, whatever its `Cache-Control` says (5 min).
pub const MIN_TTL: u64 = 300;
/// Longest time a fetched JWKS is kept fresh (24 h).
pub const MAX_TTL: u64 = 86_400;

/// What key verification needs from the runtime.
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
    /// Puts a good JWKS in the shared cache, fresh until `fresh_until` (Unix seconds).
    async fn store_jwks(&self, url: &str, body: &str, fresh_until: u64);
    /// Whether `signature` is a valid `alg` signature of `input` under `key`. An error (a key
    /// the runtime cannot import, ...) counts as a bad signature.
    async fn verify(&self, alg: Algorithm, key: &PublicKey, input: &[u8], signature: &[u8])
        -> bool;
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
    /// Whether a fetch is running (other requests wait for it).
    fetching: bool,
    /// Requests waiting for that fetch.
    waiters: Vec<Waker>,
    /// Stale keys served a known kid: refresh them after the answer.
    refresh_due: bool,
}

/// What [`Issuer::keys`] should do next.
enum Step {
    Done(Result<Rc<KeySet>, Unavailable>),
    Wait,
    Fetch { shared_cache: bool },
}

impl Issuer {
    /// An issuer with an empty cache (or its inline keys). `leeway` is the clock skew allowed
    /// on its tokens; `refetch_secs` the least time between two network fetches.
    ///
    /// Inline JWKS come parsed from the configuration, and are fresh for ever.
    pub fn new(config: IssuerConfig, leeway: u64, refetch_secs: u64) -> Self {
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
        // A few rounds at most: wait for a running fetch, read the shared cache, fetch.
        loop {
            match self.next_step(kid, now) {
                Step::Done(result) => return result,
                Step::Wait => WaitFetch { issuer: self }.await,
                Step::Fetch { shared_cache } => {
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
            if !std::mem::take(&mut st.refresh_due) || st.fetching || now < st.fresh_until {
                return;
            }
            if !self.may_fetch(&st, now) {
                return;
            }
        }
        self.fetch_step(url, now, remote, true).await;
    }

    /// One fetch: the shared cache first if `shared_cache`, else (or if it has nothing fresh
    /// and usable) the network.
    async fn fetch_step<R: Remote>(&self, url: &str, now: u64, remote: &R, shared_cache: bool) {
        let mut running = Fetching::start(self);
        if shared_cache {
            if let Some((body, fresh_until)) = remote.cached_jwks(url).await {
                if fresh_until > now && self.accept(&body, fresh_until, remote) {
                    running.finished = true;
                    return;
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
        let fresh = now < st.fresh_until;
        let knows_kid = st.keys.as_ref().is_some_and(|k| k.select(kid).is_ok());
        let may_fetch = self.may_fetch(&st, now);
        // A known kid never waits for a fetch: its key serves, even stale, and stale keys are
        // refreshed after the answer (`refresh`), while a running fetch (another request's
        // unknown kid, or that refresh) goes on.
        if knows_kid {
            if !fresh && !st.fetching && may_fetch {
                st.refresh_due = true;
            }
            return Step::Done(Ok(st.keys.clone().unwrap_or_default()));
        }
        if st.fetching {
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
                    remote.store_jwks(url, &body, fresh_until).await;
                }
            }
            Err(problem) => self.log_failure(remote, &problem),
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
                self.log_failure(remote, &format!("not a usable JWKS: {e}"));
                false
            }
        }
    }

    fn log_failure<R: Remote>(&self, remote: &R, problem: &str) {
        let st = self.state.borrow();
        let line = serde_json::json!({
            "level": "warn",
            "event": "jwks_fetch_failed",
            "issuer": self.config.name,
            "problem": problem,
            "kept_keys": st.keys.as_ref().map_or(0, |k| k.len()),
        });
        remote.log(&line.to_string());
    }
}

/// Marks a fetch as running for as long as it lives; its end (or the request being dropped)
/// wakes the requests waiting for it. A fetch abandoned before its end (the client went away)
/// does not count against the refetch interval: a waiting request may fetch at once.
struct Fetching<'a> {
    issuer: &'a Issuer,
    /// `last_fetch` before this fetch, restored if it does not finish.
    previous: Option<u64>,
    finished: bool,
}

impl<'a> Fetching<'a> {
    fn start(issuer: &'a Issuer) -> Self {
        let mut st = issuer.state.borrow_mut();
        st.fetching = true;
        Fetching {
            issuer,
            previous: st.last_fetch,
            finished: false,
        }
    }
}

impl Drop for Fetching<'_> {
    fn drop(&mut self) {
        let waiters = {
            let mut st = self.issuer.state.borrow_mut();
            st.fetching = false;
            if !self.finished {
                st.last_fetch = self.previous;
            }
            std::mem::take(&mut st.waiters)
        };
        waiters.into_iter().for_each(Waker::wake);
    }
}

/// Ready once no fetch of the issuer is running.
struct WaitFetch<'a> {
    issuer: &'a Issuer,
}

impl Future for WaitFetch<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut st = self.issuer.state.borrow_mut();
        if st.fetching {
            st.waiters.push(cx.waker().clone());
            Poll::Pending
        } else {
            Poll::Ready(())
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
