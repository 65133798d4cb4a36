//! The upload ledger's rules: per-subject budgets over rolling windows and single-use token ids,
//! as pure functions of a [`Book`] and the time passed in. The worker keeps one book per subject
//! (issuer + `sub`) in a Durable Object (`src/adapter.rs`), which runs one request at a time, so
//! [`Book::reserve`] is never interleaved with itself; natively the rules are tested against a
//! simple model (`tests/native/ledger.rs`).
//!
//! Windows are kept in one-minute buckets: a grant counts against the day's bytes for the 1440
//! buckets starting with its own (between 23 h 59 min and 24 h), and against the hour's grants
//! for 60. So a book holds at most 1440 buckets, plus the used `jti`s of unexpired tokens.

use std::collections::BTreeMap;

/// Seconds per bucket.
pub const BUCKET_SECS: u64 = 60;
/// Buckets of the bytes-per-day window.
pub const DAY_BUCKETS: u64 = 24 * 60;
/// Buckets of the grants-per-hour window.
pub const HOUR_BUCKETS: u64 = 60;

/// The budgets of one subject; `None` is unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Limits {
    /// Bytes granted per rolling day.
    pub bytes_per_day: Option<u64>,
    /// Grants per rolling hour.
    pub grants_per_hour: Option<u64>,
    /// Multipart uploads open at once.
    #[serde(default)]
    pub open_multipart: Option<u64>,
}

/// One reservation asked of the ledger.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Ask {
    /// Bytes to reserve against the day's budget.
    pub bytes: u64,
    /// Whether this counts as a grant against the hour's budget.
    pub grant: bool,
    /// A single-use token's id, with the time (Unix seconds) until which it must be remembered
    /// (its `exp` plus the leeway).
    pub jti: Option<(String, u64)>,
    /// A multipart upload to count as open (the store's upload id), with the time (Unix
    /// seconds) after which it can no longer be completed (its ticket's expiry).
    #[serde(default)]
    pub open: Option<(String, u64)>,
    /// A multipart upload (the store's upload id) to abort at the store once it is stale,
    /// unless it is closed before (`MULTIPART_CLEANUP_GRACE`).
    #[serde(default)]
    pub cleanup: Option<(String, Stale)>,
    /// The upload this grant is for, to remember until it is completed or cleaned up.
    #[serde(default)]
    pub upload: Option<Upload>,
    /// A multipart upload the store created for a remembered upload: the upload's id
    /// ([`Upload::id`]), the store's id, and until when the record must be kept (the upload's
    /// expiry plus the cleanup's grace).
    #[serde(default)]
    pub link: Option<(String, String, u64)>,
    /// The subject's budgets for this request.
    pub limits: Limits,
}

/// An upload granted to a subject: what was granted, what it cost, and what became of it. A
/// book remembers the last [`MAX_UPLOADS`] of them, each until [`until`](Self::until).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Upload {
    /// The target's name.
    pub target: String,
    /// The object key.
    pub key: String,
    /// The granted size in bytes: exactly this, or at most this when not `exact` (a POST
    /// policy without a declared size).
    pub size: u64,
    /// Whether the object must have exactly `size` bytes.
    pub exact: bool,
    /// The content type as signed.
    pub content_type: String,
    /// The signed checksum, as (algorithm, base64 value), when the grant has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<(String, String)>,
    /// Unix seconds of the grant.
    pub granted_at: u64,
    /// Unix seconds from which the object is deleted at the store unless completed
    /// (`DELETE_UNCOMPLETED_AFTER`); `None`: never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_at: Option<u64>,
    /// Unix seconds until which the record is kept (a pending deletion keeps it longer).
    pub until: u64,
    /// What the grant counted against the day's budget: (minute, bytes), returned when the
    /// upload is removed without completing. Set by the ledger.
    #[serde(default)]
    pub charged: (u64, u64),
    /// The store's id of its multipart upload, once the worker created it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multipart: Option<String>,
    /// The object's ETag once completed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed: Option<String>,
    /// Nothing had arrived when its deletion came due, so its bytes were given back: what
    /// comes under its key later (a PUT started before its URL expired may still be on its
    /// way) is not completed as this upload, and is deleted at a second look.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub given_back: bool,
}

impl Upload {
    /// Whether it counts as uncompleted ([`Usage::uploads_uncompleted`]): granted, not
    /// completed, and its bytes not [given back](Self::given_back).
    pub fn uncompleted(&self) -> bool {
        self.completed.is_none() && !self.given_back
    }

    /// When the book next has to act on it (Unix seconds): delete it, or forget it.
    pub fn next_event(&self) -> u64 {
        match (self.completed.is_none(), self.delete_at) {
            (true, Some(at)) => at,
            _ => self.until + 1,
        }
    }

    /// The book's name of the upload of `key` on `target`.
    pub fn id(target: &str, key: &str) -> String {
        format!("{target}\n{key}")
    }

    /// What an object of `size` bytes, `content_type` and stored `checksum` differs in from
    /// this grant: the names `size`, `content_type`, `checksum`, and `late` for an upload
    /// whose bytes were [given back](Self::given_back), with one sentence each. A
    /// checksum is compared only when both sides have one of the same algorithm; content types
    /// are compared without their case.
    pub fn differs(
        &self,
        size: u64,
        content_type: &str,
        checksum: Option<(&str, &str)>,
    ) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if (self.exact && size != self.size) || size > self.size {
            let how = if self.exact { "exactly" } else { "at most" };
            out.push((
                "size",
                format!(
                    "its size of {size} bytes is not the {how} {} granted",
                    self.size
                ),
            ));
        }
        if !content_type.eq_ignore_ascii_case(&self.content_type) {
            out.push((
                "content_type",
                format!(
                    "its content type {content_type:?} is not the {:?} granted",
                    self.content_type
                ),
            ));
        }
        if let (Some((alg, value)), Some((granted_alg, granted))) = (checksum, &self.checksum) {
            if alg == granted_alg && value != granted {
                out.push((
                    "checksum",
                    format!("its {alg} checksum is not the one granted"),
                ));
            }
        }
        if self.given_back {
            out.push((
                "late",
                "it came after its grant was given back: nothing was under its key when its \
                 deletion came due (DELETE_UNCOMPLETED_AFTER)"
                    .to_owned(),
            ));
        }
        out
    }
}

/// How long after a deletion found nothing under an upload's key it is looked at again
/// ([`Call::NothingUploaded`]): time for a PUT that started before its URL expired to arrive,
/// so that what arrives late is deleted, not left uncounted.
pub const LATE_ARRIVAL_SECS: u64 = 86_400;

/// Most uploads a book remembers; past it, the oldest records are forgotten (completed ones
/// first), and with them the deletion of an uncompleted one.
pub const MAX_UPLOADS: usize = 1000;

/// What a completed object is, as the worker read it from the store (`Call::Complete`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Completion {
    /// The target's name.
    pub target: String,
    /// The object key.
    pub key: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its content type as stored.
    pub content_type: String,
    /// Its stored checksum (algorithm, value).
    #[serde(default)]
    pub checksum: Option<(String, String)>,
    /// Its ETag.
    pub etag: String,
    /// The store's id of the multipart upload it completes, to close.
    #[serde(default)]
    pub multipart: Option<String>,
    /// The completion webhook to queue (message id, body), when webhooks are on.
    #[serde(default)]
    pub webhook: Option<(String, String)>,
}

/// The ledger's verdict on a [`Completion`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// It is what was granted (or no grant is remembered for the key: `granted` is `None`);
    /// it is recorded as completed and its webhook queued (once per ETag).
    Completed {
        /// The remembered grant, if any.
        granted: Option<Upload>,
    },
    /// It differs from the remembered grant: nothing was recorded.
    Differs {
        /// The grant.
        granted: Upload,
        /// What differs: field name and sentence.
        fields: Vec<(String, String)>,
    },
}

/// A multipart upload to abort at the store when it is stale: when, and where it is.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Stale {
    /// Unix seconds from which it is aborted (its ticket's expiry plus the grace period).
    pub at: u64,
    /// The target's name.
    pub target: String,
    /// The object key.
    pub key: String,
}

/// A completion webhook waiting in a book: the message and its attempts so far.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Delivery {
    /// The JSON body.
    pub body: String,
    /// Its `webhook-timestamp` (Unix seconds), the same at every attempt.
    pub timestamp: u64,
    /// Attempts made.
    pub attempts: u32,
    /// Unix seconds of the next attempt.
    pub next: u64,
}

/// Most given-up webhooks a book remembers.
const MAX_FAILED: usize = 20;

/// What a subject has used in the current windows, with its budgets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Usage {
    /// Bytes granted in the rolling day.
    pub bytes_day: u64,
    /// Grants in the rolling hour.
    pub grants_hour: u64,
    /// Multipart uploads open now.
    #[serde(default)]
    pub open_multipart: u64,
    /// Completion webhooks waiting to be delivered.
    #[serde(default)]
    pub webhooks_pending: u64,
    /// Completion webhooks given up after their last attempt (the last 20 are kept).
    #[serde(default)]
    pub webhooks_failed: u64,
    /// Granted uploads remembered and not (yet) completed.
    #[serde(default)]
    pub uploads_uncompleted: u64,
}

/// Which budget a refused reservation would break.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Budget {
    /// `QUOTA_BYTES_PER_DAY`.
    BytesPerDay,
    /// `QUOTA_GRANTS_PER_HOUR`.
    GrantsPerHour,
    /// `QUOTA_OPEN_MULTIPART`.
    OpenMultipart,
}

/// The ledger's answer to an [`Ask`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Reserved; `usage` includes this reservation.
    Granted {
        /// Usage after the reservation.
        usage: Usage,
    },
    /// Over a budget: nothing was reserved.
    Exceeded {
        /// The budget it would break.
        budget: Budget,
        /// Seconds until the same ask would fit (every budget it breaks), or `None` when it
        /// never can (it is larger than a whole budget).
        retry_after: Option<u64>,
        /// Usage now.
        usage: Usage,
    },
    /// The token's `jti` was already used: nothing was reserved.
    Replayed,
    /// The ask's `jti` is remembered until a time already past by the ledger's clock (the
    /// token or ticket ended between the worker's check and this call): nothing was reserved.
    Expired,
}

/// One bucket's totals.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct Bucket {
    bytes: u64,
    grants: u64,
}

/// A subject's ledger: usage per minute and the used `jti`s, pruned as time passes.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Book {
    /// Minute (Unix seconds / 60) → what was granted in it.
    buckets: BTreeMap<u64, Bucket>,
    /// Used token ids → until when (Unix seconds) they are remembered.
    jtis: BTreeMap<String, u64>,
    /// Open multipart uploads: the store's id → until when it may be completed.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    open: BTreeMap<String, u64>,
    /// Multipart uploads to abort once stale, by the store's id; kept until aborted or closed.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    cleanup: BTreeMap<String, Stale>,
    /// Completion webhooks to deliver, by message id.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    outbox: BTreeMap<String, Delivery>,
    /// Webhooks given up: message id → when (the last [`MAX_FAILED`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    failed: BTreeMap<String, u64>,
    /// Granted uploads by [`Upload::id`] (the last [`MAX_UPLOADS`]). A storage may keep them
    /// apart and load only those a call needs ([`Call::upload_id`], [`Book::load_uploads`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    uploads: BTreeMap<String, Upload>,
    /// Uncompleted uploads its storage keeps apart and did not load, for the usage.
    #[serde(skip)]
    stored_uncompleted: u64,
}

impl Book {
    /// Forgets buckets that no window at `now` covers and `jti`s remembered until before `now`.
    pub fn prune(&mut self, now: u64) {
        let first = (now / BUCKET_SECS).saturating_sub(DAY_BUCKETS - 1);
        self.buckets = self.buckets.split_off(&first);
        self.jtis.retain(|_, until| *until >= now);
        self.open.retain(|_, until| *until >= now);
        // An uncompleted upload waiting for its deletion stays until the deletion is done.
        self.uploads
            .retain(|_, u| u.until >= now || (u.completed.is_none() && u.delete_at.is_some()));
    }

    /// Remembers `upload`, granted at `now` with `bytes` counted against the day's budget,
    /// forgetting the oldest records past [`MAX_UPLOADS`] (completed ones first).
    fn remember(&mut self, mut upload: Upload, bytes: u64, now: u64) {
        upload.charged = (now / BUCKET_SECS, bytes);
        self.uploads
            .insert(Upload::id(&upload.target, &upload.key), upload);
        while self.uploads.len() > MAX_UPLOADS {
            let oldest = self
                .uploads
                .iter()
                .min_by_key(|(_, u)| (u.completed.is_none(), u.granted_at))
                .map(|(id, _)| id.clone());
            if let Some(id) = oldest {
                self.uploads.remove(&id);
            }
        }
    }

    /// Gives back what an upload that never completed counted against the day's budget, and
    /// forgets it. `multipart`: the store's id of the multipart upload that was removed, when
    /// one was; a record of another grant of the same key (a later PUT, another multipart
    /// upload) is left as it is. The bytes come off the minute they were charged to, and only
    /// while that minute is in the day's window: once it has left, they no longer count, and
    /// taking them off a later minute would free other grants' bytes.
    fn refund(&mut self, id: &str, multipart: Option<&str>) {
        let Some(upload) = self.uploads.get(id) else {
            return;
        };
        let other = multipart.is_some_and(|m| upload.multipart.as_deref() != Some(m));
        if upload.completed.is_some() || other {
            return;
        }
        self.give_back(id);
        if let Some(upload) = self.uploads.remove(id) {
            if let Some(store_id) = &upload.multipart {
                self.open.remove(store_id);
                self.cleanup.remove(store_id);
            }
        }
    }

    /// Gives back, once, what the remembered upload `id` counted against the day's budget
    /// (from its own minute, while that is in the window: see [`Self::refund`]), keeping its
    /// record.
    fn give_back(&mut self, id: &str) {
        let Some(upload) = self.uploads.get_mut(id) else {
            return;
        };
        let minute = upload.charged.0;
        let bytes = std::mem::take(&mut upload.charged.1);
        if let Some(b) = self.buckets.get_mut(&minute) {
            b.bytes = b.bytes.saturating_sub(bytes);
        }
    }

    /// Takes the upload records out, for a storage that keeps them apart from the rest of
    /// the book (the Durable Object: one SQLite row each, so that a call reads and writes only
    /// the one it needs, however many the subject has).
    pub fn take_uploads(&mut self) -> BTreeMap<String, Upload> {
        std::mem::take(&mut self.uploads)
    }

    /// Puts records that storage loaded into the book, with how many other uncompleted
    /// uploads it keeps (for [`Usage::uploads_uncompleted`]).
    pub fn load_uploads(&mut self, uploads: impl IntoIterator<Item = Upload>, others: u64) {
        for u in uploads {
            self.uploads.insert(Upload::id(&u.target, &u.key), u);
        }
        self.stored_uncompleted = others;
    }

    /// The remembered upload of `key` on `target`.
    pub fn upload(&self, target: &str, key: &str) -> Option<&Upload> {
        self.uploads.get(&Upload::id(target, key))
    }

    /// Records `done` as completed if it is what its remembered grant allows (see
    /// [`Verdict`]); closes its multipart upload and queues its webhook at `now`.
    fn complete(&mut self, done: &Completion, now: u64) -> Verdict {
        let id = Upload::id(&done.target, &done.key);
        let granted = self.uploads.get(&id).cloned();
        if let Some(g) = &granted {
            let checksum = done
                .checksum
                .as_ref()
                .map(|(a, v)| (a.as_str(), v.as_str()));
            let mut fields = g.differs(done.size, &done.content_type, checksum);
            // Its deletion is due (the alarm may be deleting it right now): too late to be
            // completed, however it matches.
            if g.completed.is_none() && !g.given_back && g.delete_at.is_some_and(|at| at <= now) {
                fields.push((
                    "late",
                    "its deletion came due before it was completed (DELETE_UNCOMPLETED_AFTER)"
                        .to_owned(),
                ));
            }
            if g.completed.as_deref() != Some(done.etag.as_str()) && !fields.is_empty() {
                return Verdict::Differs {
                    granted: g.clone(),
                    fields: fields.into_iter().map(|(f, s)| (f.to_owned(), s)).collect(),
                };
            }
        }
        let again = granted
            .as_ref()
            .is_some_and(|g| g.completed.as_deref() == Some(done.etag.as_str()));
        if let Some(u) = self.uploads.get_mut(&id) {
            u.completed = Some(done.etag.clone());
            u.delete_at = None;
        }
        if let Some(store_id) = &done.multipart {
            self.open.remove(store_id);
            self.cleanup.remove(store_id);
        }
        if let (false, Some((msg, body))) = (again, &done.webhook) {
            self.outbox.entry(msg.clone()).or_insert_with(|| Delivery {
                body: body.clone(),
                timestamp: now,
                attempts: 0,
                next: now,
            });
        }
        Verdict::Completed {
            granted: self.uploads.get(&id).cloned().or(granted),
        }
    }

    /// Usage in the windows ending at `now`.
    pub fn usage(&self, now: u64) -> Usage {
        let minute = now / BUCKET_SECS;
        let day_first = minute.saturating_sub(DAY_BUCKETS - 1);
        let hour_first = minute.saturating_sub(HOUR_BUCKETS - 1);
        let mut usage = Usage::default();
        for (m, b) in self.buckets.range(day_first..) {
            usage.bytes_day = usage.bytes_day.saturating_add(b.bytes);
            if *m >= hour_first {
                usage.grants_hour = usage.grants_hour.saturating_add(b.grants);
            }
        }
        usage.open_multipart = self.open.values().filter(|u| **u >= now).count() as u64;
        usage.webhooks_pending = self.outbox.len() as u64;
        usage.webhooks_failed = self.failed.len() as u64;
        usage.uploads_uncompleted = self.uploads.values().filter(|u| u.uncompleted()).count()
            as u64
            + self.stored_uncompleted;
        usage
    }

    /// Seconds from `now` until `amount` more of a budget of `limit` over `window` buckets
    /// fits, given `used` in the window; `field` picks the bucket's counter.
    fn retry_after(
        &self,
        now: u64,
        window: u64,
        used: u64,
        amount: u64,
        limit: u64,
        field: fn(&Bucket) -> u64,
    ) -> Option<u64> {
        if amount > limit {
            return None;
        }
        let minute = now / BUCKET_SECS;
        let first = minute.saturating_sub(window - 1);
        let mut left = used;
        for (m, b) in self.buckets.range(first..) {
            left = left.saturating_sub(field(b));
            if left.saturating_add(amount) <= limit {
                // Bucket `m` leaves the window at the start of minute `m + window`.
                return Some(((m + window) * BUCKET_SECS).saturating_sub(now));
            }
        }
        // Unreachable when `used` is this window's sum; the whole window is the safe answer.
        Some(window * BUCKET_SECS)
    }

    /// Reserves `ask` at `now` if it breaks no budget and its `jti` is unused; prunes first.
    pub fn reserve(&mut self, ask: &Ask, now: u64) -> Outcome {
        self.prune(now);
        if let Some((jti, until)) = &ask.jti {
            if self.jtis.contains_key(jti) {
                return Outcome::Replayed;
            }
            // Remembered only until `until`, it could be used again from then on: a token
            // checked by the worker just before its end and reaching the ledger after it.
            if *until < now {
                return Outcome::Expired;
            }
        }
        let usage = self.usage(now);
        let grants = u64::from(ask.grant);
        // Every budget the ask breaks, with its wait; the answer names the one that takes
        // longest, since the ask fits only once all of them do (`None`: never).
        let mut worst: Option<(Budget, Option<u64>)> = None;
        let checks = [
            (
                Budget::BytesPerDay,
                ask.limits.bytes_per_day,
                DAY_BUCKETS,
                usage.bytes_day,
                ask.bytes,
                (|b: &Bucket| b.bytes) as fn(&Bucket) -> u64,
            ),
            (
                Budget::GrantsPerHour,
                ask.limits.grants_per_hour,
                HOUR_BUCKETS,
                usage.grants_hour,
                grants,
                |b: &Bucket| b.grants,
            ),
        ];
        for (budget, limit, window, used, amount, field) in checks {
            let Some(limit) = limit else { continue };
            if used.saturating_add(amount) <= limit {
                continue;
            }
            let wait = self.retry_after(now, window, used, amount, limit, field);
            let longer = match worst {
                None => true,
                Some((_, None)) => false,
                Some((_, Some(w))) => wait.is_none_or(|x| x > w),
            };
            if longer {
                worst = Some((budget, wait));
            }
        }
        if let (Some(limit), Some((id, _))) = (ask.limits.open_multipart, &ask.open) {
            if !self.open.contains_key(id) && usage.open_multipart >= limit {
                // Fits once enough open uploads end (completed, aborted or expired): the
                // `used - limit + 1` that expire first, at the latest.
                let mut until: Vec<u64> =
                    self.open.values().copied().filter(|u| *u >= now).collect();
                until.sort_unstable();
                let must_end = usage.open_multipart - limit + 1;
                let wait = match limit {
                    0 => None,
                    _ => until
                        .get(usize::try_from(must_end).unwrap_or(usize::MAX) - 1)
                        .map(|u| u + 1 - now),
                };
                let longer = match worst {
                    None => true,
                    Some((_, None)) => false,
                    Some((_, Some(w))) => wait.is_none_or(|x| x > w),
                };
                if longer {
                    worst = Some((Budget::OpenMultipart, wait));
                }
            }
        }
        if let Some((budget, retry_after)) = worst {
            return Outcome::Exceeded {
                budget,
                retry_after,
                usage,
            };
        }
        if ask.bytes > 0 || ask.grant {
            let b = self.buckets.entry(now / BUCKET_SECS).or_default();
            b.bytes = b.bytes.saturating_add(ask.bytes);
            b.grants = b.grants.saturating_add(grants);
        }
        if let Some((jti, until)) = &ask.jti {
            self.jtis.insert(jti.clone(), *until);
        }
        if let Some((id, until)) = &ask.open {
            self.open.insert(id.clone(), *until);
        }
        if let Some((id, stale)) = &ask.cleanup {
            self.cleanup.insert(id.clone(), stale.clone());
        }
        if let Some(upload) = &ask.upload {
            self.remember(upload.clone(), ask.bytes, now);
        }
        if let Some((id, store_id, until)) = &ask.link {
            if let Some(u) = self.uploads.get_mut(id) {
                u.multipart = Some(store_id.clone());
                u.until = u.until.max(*until);
                u.delete_at = u.delete_at.map(|at| at.max(*until));
            }
        }
        Outcome::Granted {
            usage: self.usage(now),
        }
    }

    /// When (Unix seconds) the book next has something to do: forget the earliest expired `jti`
    /// or open upload, let the oldest bucket leave the day's window, or abort a stale upload.
    /// `None` when it is empty.
    pub fn next_expiry(&self) -> Option<u64> {
        let jti = self
            .jtis
            .values()
            .chain(self.open.values())
            .min()
            .map(|u| u + 1);
        let stale = self
            .cleanup
            .values()
            .map(|s| s.at)
            .chain(self.outbox.values().map(|d| d.next))
            .chain(self.uploads.values().map(Upload::next_event))
            .min();
        let jti = match (jti, stale) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let bucket = self
            .buckets
            .keys()
            .next()
            .map(|m| (m + DAY_BUCKETS) * BUCKET_SECS);
        match (jti, bucket) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The webhooks to deliver at `now`, by message id.
    pub fn deliveries(&self, now: u64) -> Vec<(String, Delivery)> {
        self.outbox
            .iter()
            .filter(|(_, d)| d.next <= now)
            .map(|(id, d)| (id.clone(), d.clone()))
            .collect()
    }

    /// The stale uploads to abort at `now`, by the store's id.
    pub fn due(&self, now: u64) -> Vec<(String, Stale)> {
        self.cleanup
            .iter()
            .filter(|(_, s)| s.at <= now)
            .map(|(id, s)| (id.clone(), s.clone()))
            .collect()
    }

    /// The uncompleted uploads to delete at `now` (`DELETE_UNCOMPLETED_AFTER`).
    pub fn deletions(&self, now: u64) -> Vec<Upload> {
        self.uploads
            .values()
            .filter(|u| u.completed.is_none() && u.delete_at.is_some_and(|at| at <= now))
            .cloned()
            .collect()
    }

    /// Whether `jti` is remembered as used.
    pub fn has_jti(&self, jti: &str) -> bool {
        self.jtis.contains_key(jti)
    }

    /// Whether the book holds nothing.
    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
            && self.jtis.is_empty()
            && self.open.is_empty()
            && self.cleanup.is_empty()
            && self.outbox.is_empty()
            && self.failed.is_empty()
            && self.uploads.is_empty()
    }
}

/// A request to a subject's ledger, as the worker sends it to the Durable Object (JSON).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Call {
    /// Reserve a grant.
    Reserve(Box<Ask>),
    /// Read the usage.
    Usage,
    /// A multipart upload (the store's id) is no longer open: completed or aborted. Answered
    /// with the usage.
    Close(String),
    /// The abort of a stale upload failed: try again at the given time (Unix seconds).
    /// Answered with the usage.
    Postpone(String, u64),
    /// A completion webhook to deliver (message id, body, timestamp), due at once; an id
    /// already waiting is kept as it is. Answered with the usage.
    Enqueue(String, String, u64),
    /// Delivery `id` was made: forgotten. Answered with the usage.
    Delivered(String),
    /// Delivery `id` failed: try again at the time given, or give it up (`None`). Answered
    /// with the usage.
    Retry(String, Option<u64>),
    /// An object was read at the store after its upload: record it as completed if it is what
    /// was granted. Answered with a [`Reply::Completion`].
    Complete(Completion),
    /// The upload of (target, key) ended without completing (aborted, found stale, deleted
    /// as not what was granted or never completed): its bytes are given back to the day's
    /// budget and it is forgotten (a completed upload is kept), and its multipart upload (the
    /// store's id) is no longer open. Answered with the usage.
    Removed(String, String, Option<String>),
    /// The deletion of an uncompleted upload (target, key) failed: try again at the time given.
    /// Answered with the usage.
    PostponeDelete(String, String, u64),
    /// The deletion of an uncompleted upload (target, key) found nothing under its key. The
    /// first time, its bytes are given back and it is looked at again at the time given (a
    /// PUT may still be arriving: the store checks a URL's expiry when the request starts);
    /// the second time it is forgotten. Answered with the usage.
    NothingUploaded(String, String, u64),
}

impl Call {
    /// The upload record ([`Upload::id`]) this call reads or changes, if any: what a storage
    /// that keeps records apart from the book loads for it.
    pub fn upload_id(&self) -> Option<String> {
        match self {
            Self::Reserve(ask) => ask
                .upload
                .as_ref()
                .map(|u| Upload::id(&u.target, &u.key))
                .or_else(|| ask.link.as_ref().map(|l| l.0.clone())),
            Self::Complete(done) => Some(Upload::id(&done.target, &done.key)),
            Self::Removed(target, key, _)
            | Self::PostponeDelete(target, key, _)
            | Self::NothingUploaded(target, key, _) => Some(Upload::id(target, key)),
            _ => None,
        }
    }
}

/// The ledger's answer to a [`Call`] (JSON).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reply {
    /// The outcome of [`Call::Reserve`].
    Reserved(Outcome),
    /// The answer of [`Call::Usage`].
    Usage(Usage),
    /// The answer of [`Call::Complete`].
    Completion(Verdict),
}

impl Book {
    /// Answers `call` at `now` (a reservation changes the book).
    pub fn answer(&mut self, call: &Call, now: u64) -> Reply {
        match call {
            Call::Reserve(ask) => Reply::Reserved(self.reserve(ask, now)),
            Call::Usage => Reply::Usage(self.usage(now)),
            Call::Close(id) => {
                self.open.remove(id);
                self.cleanup.remove(id);
                Reply::Usage(self.usage(now))
            }
            Call::Postpone(id, at) => {
                if let Some(stale) = self.cleanup.get_mut(id) {
                    stale.at = *at;
                }
                Reply::Usage(self.usage(now))
            }
            Call::Enqueue(id, body, timestamp) => {
                self.outbox.entry(id.clone()).or_insert_with(|| Delivery {
                    body: body.clone(),
                    timestamp: *timestamp,
                    attempts: 0,
                    next: now,
                });
                Reply::Usage(self.usage(now))
            }
            Call::Delivered(id) => {
                self.outbox.remove(id);
                Reply::Usage(self.usage(now))
            }
            Call::Retry(id, next) => {
                match (self.outbox.get_mut(id), next) {
                    (Some(d), Some(at)) => {
                        d.attempts += 1;
                        d.next = *at;
                    }
                    (Some(_), None) => {
                        self.outbox.remove(id);
                        self.failed.insert(id.clone(), now);
                        while self.failed.len() > MAX_FAILED {
                            let oldest = self
                                .failed
                                .iter()
                                .min_by_key(|(_, at)| **at)
                                .map(|(k, _)| k.clone());
                            if let Some(k) = oldest {
                                self.failed.remove(&k);
                            }
                        }
                    }
                    (None, _) => {}
                }
                Reply::Usage(self.usage(now))
            }
            Call::Complete(done) => Reply::Completion(self.complete(done, now)),
            Call::Removed(target, key, store_id) => {
                self.refund(&Upload::id(target, key), store_id.as_deref());
                if let Some(id) = store_id {
                    self.open.remove(id);
                    self.cleanup.remove(id);
                }
                Reply::Usage(self.usage(now))
            }
            Call::NothingUploaded(target, key, again) => {
                let id = Upload::id(target, key);
                match self.uploads.get(&id) {
                    Some(u) if u.completed.is_none() && !u.given_back => {
                        self.give_back(&id);
                        if let Some(u) = self.uploads.get_mut(&id) {
                            u.given_back = true;
                            u.delete_at = Some(*again);
                            u.until = u.until.max(*again);
                        }
                    }
                    Some(u) if u.completed.is_none() => {
                        self.uploads.remove(&id);
                    }
                    _ => {}
                }
                Reply::Usage(self.usage(now))
            }
            Call::PostponeDelete(target, key, at) => {
                if let Some(u) = self.uploads.get_mut(&Upload::id(target, key)) {
                    if u.completed.is_none() && u.delete_at.is_some() {
                        u.delete_at = Some(*at);
                    }
                }
                Reply::Usage(self.usage(now))
            }
        }
    }
}
