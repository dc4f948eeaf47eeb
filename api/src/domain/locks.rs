//! One active run per plan and per server: lock items taken in transactions, each
//! written with the start's own token. A lock is broken only when its holder has ended
//! (Step Functions says so) or its start never got going within `START_GRACE`; the break
//! is conditional on the holder's token, so it can never remove a lock a newer start took.

use crate::error::ApiError;
use crate::machines::Runs;
use crate::store::{LockError, LockHolder, RunStore};

/// How long a start may hold its locks before its execution exists. A start writes its
/// record and calls StartExecution within seconds (API Gateway gives up after 29 s); a
/// holder older than this with no execution died on the way.
pub const START_GRACE_SECONDS: i64 = 120;

/// How many stale holders one start clears before giving up.
const MAX_BREAKS: usize = 3;

pub fn now_epoch() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Whether `holder` still holds: its execution runs, or its start is still under way.
pub async fn holds(runs: &dyn Runs, holder: &LockHolder) -> Result<bool, ApiError> {
    Ok(match runs.status(&holder.execution).await?.as_deref() {
        Some("RUNNING") => true,
        Some(_) => false,
        None => now_epoch() - holder.taken_at < START_GRACE_SECONDS,
    })
}

/// Takes every key for `me`, clearing holders that ended. On a live holder, returns the
/// key and holder for the caller to name.
pub async fn take(
    records: &dyn RunStore,
    runs: &dyn Runs,
    keys: &[String],
    me: &LockHolder,
) -> Result<(), Held> {
    let mut broken = 0;
    loop {
        match records.lock(keys, me).await {
            Ok(()) => return Ok(()),
            Err(LockError::Held { key, holder }) => {
                if holder.token.is_empty() && broken < MAX_BREAKS {
                    // Released between the refused take and the read: try again.
                    broken += 1;
                    continue;
                }
                if broken >= MAX_BREAKS || holds(runs, &holder).await.map_err(Held::Error)? {
                    return Err(Held::By { key, holder });
                }
                broken += 1;
                // Everything that holder took of ours, not only the first key found.
                records
                    .unlock(keys, &holder.token)
                    .await
                    .map_err(|e| Held::Error(e.into()))?;
            }
            Err(LockError::Store(e)) => return Err(Held::Error(e.into())),
        }
    }
}

#[derive(Debug)]
pub enum Held {
    By { key: String, holder: LockHolder },
    Error(ApiError),
}
