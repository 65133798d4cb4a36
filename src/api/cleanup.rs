//! The ledger's cleanups at the store, run by its alarm (`src/durable.rs`): uncompleted
//! uploads deleted after `DELETE_UNCOMPLETED_AFTER`. (Stale multipart uploads are aborted by
//! [`Service::abort_stale`].)

use super::Service;
use crate::ledger::{Call, Upload, LATE_ARRIVAL_SECS};
use crate::store::{abort, delete, head, Answer, Transport};

/// What the deletion of an uncompleted upload found at the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deleted {
    /// Nothing was under the key (never uploaded): nothing to delete.
    Nothing,
    /// An object written after the grant was deleted.
    Object {
        /// Its size in bytes.
        size: u64,
    },
    /// The object under the key is older than the grant (it was not this upload's: a grant
    /// to overwrite that was never used): it is kept.
    KeptOlder,
}

impl Deleted {
    /// The ledger call that records this outcome of the deletion of `target`'s `key` at `now`:
    /// an object deleted, or one kept as older than the grant, ends the upload (its bytes go
    /// back); nothing under the key gives them back but has the key looked at again
    /// [`LATE_ARRIVAL_SECS`] later, since a PUT that started before its URL expired may still
    /// be on its way (S3 checks a URL's expiry when the request starts).
    pub fn ledger_call(self, target: String, key: String, now: u64) -> Call {
        match self {
            Self::Nothing => Call::NothingUploaded(target, key, now + LATE_ARRIVAL_SECS),
            Self::Object { .. } | Self::KeptOlder => Call::Removed(target, key, None),
        }
    }

    /// The log's name of the outcome.
    pub fn name(self) -> &'static str {
        match self {
            Self::Nothing => "nothing_uploaded",
            Self::Object { .. } => "deleted",
            Self::KeptOlder => "kept_older_object",
        }
    }
}

/// Seconds a store's `Last-Modified` (whole seconds) may lag the worker's clock at the grant.
const CLOCK_SKEW_SECS: u64 = 5;

impl Service {
    /// Deletes an upload that was granted but never completed (`DELETE_UNCOMPLETED_AFTER`):
    /// its multipart upload is aborted if the worker created one, then the object under its
    /// key is deleted, unless it is older than the grant. `Ok` says what was found; the error
    /// says why it could not be done, without a secret (the ledger tries again later).
    pub async fn delete_uncompleted<T: Transport>(
        &self,
        upload: &Upload,
        now: u64,
        store: &T,
    ) -> Result<Deleted, String> {
        let target = self
            .targets
            .iter()
            .find(|t| t.name == upload.target)
            .ok_or_else(|| format!("no target {} in the configuration", upload.target))?;
        let key = upload.key.as_str();
        let fail = |e: crate::store::StoreError| e.to_string();
        if let Some(store_id) = &upload.multipart {
            let request = abort::request(&target.write, &target.bucket, key, store_id, now)
                .map_err(|e| e.to_string())?;
            let (status, body) = store.send(&request, b"").await.map_err(fail)?;
            abort::parse(&Answer {
                status,
                body: &body,
            })
            .map_err(fail)?;
        }
        let request =
            head::request(&target.read, &target.bucket, key, now).map_err(|e| e.to_string())?;
        let Some(object) =
            head::parse(&store.exchange(&request, b"").await.map_err(fail)?).map_err(fail)?
        else {
            return Ok(Deleted::Nothing);
        };
        if object.last_modified.saturating_add(CLOCK_SKEW_SECS) < upload.granted_at {
            return Ok(Deleted::KeptOlder);
        }
        let request =
            delete::request(&target.write, &target.bucket, key, now).map_err(|e| e.to_string())?;
        let (status, body) = store.send(&request, b"").await.map_err(fail)?;
        delete::parse(&Answer {
            status,
            body: &body,
        })
        .map_err(fail)?;
        Ok(Deleted::Object { size: object.size })
    }
}
