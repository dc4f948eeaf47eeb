//! Pause and resume: a pause is asked on the run's record (one conditional write); the
//! machine reads it at its next wave boundary and waits there on a task token it stores
//! on the record; resume clears it (one conditional write, so of twenty resumes one
//! answers the token).

use crate::error::ApiError;
use crate::machines::{CallbackError, Runs};
use crate::store::{RunStore, text};

/// What a resume did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resumed {
    /// The run waited at a wave boundary and goes on.
    Released,
    /// The run had not reached a boundary yet; it will not stop there.
    Withdrawn,
}

pub async fn pause(records: &dyn RunStore, id: &str, user: &str) -> Result<(), ApiError> {
    if records.request_pause(id, user).await? {
        return Ok(());
    }
    let record = records
        .execution_record(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("execution `{id}` does not exist")))?;
    Err(match text(&record, "status").as_str() {
        "PAUSED" => ApiError::conflict(format!("execution `{id}` is already paused")),
        "RUNNING" => ApiError::conflict(format!(
            "execution `{id}` will already pause at its next wave boundary"
        )),
        other => ApiError::conflict(format!(
            "execution `{id}` is {other}; only a running execution can pause"
        )),
    })
}

pub async fn resume(
    records: &dyn RunStore,
    runs: &dyn Runs,
    id: &str,
    user: &str,
) -> Result<Resumed, ApiError> {
    // The machine may store its token between our read and our write: read again then.
    for _ in 0..3 {
        let record = records
            .execution_record(id)
            .await?
            .ok_or_else(|| ApiError::not_found(format!("execution `{id}` does not exist")))?;
        let token = text(&record, "pauseToken");
        if !token.is_empty() {
            // Clearing the token is the one conditional write that decides who resumes;
            // only the winner answers the task.
            if !records.end_pause(id, user, Some(&token)).await? {
                return Err(ApiError::conflict(format!(
                    "execution `{id}` was resumed by someone else"
                )));
            }
            return match runs.approve(&token, "{}").await {
                Ok(()) => Ok(Resumed::Released),
                Err(CallbackError::Gone(detail)) => Err(ApiError::conflict(format!(
                    "execution `{id}` no longer waits at a boundary ({detail})"
                ))),
                Err(CallbackError::Failed(e)) => {
                    // Step Functions did not take the answer: the run still waits, so its
                    // record says so again and a later resume can answer.
                    records.restore_pause(id, &token).await?;
                    Err(e)
                }
            };
        }
        if !record.contains_key("pauseRequested") {
            return Err(ApiError::conflict(format!(
                "execution `{id}` is not paused"
            )));
        }
        if records.end_pause(id, user, None).await? {
            return Ok(Resumed::Withdrawn);
        }
    }
    Err(ApiError::conflict(format!(
        "execution `{id}` changed while resuming; try again"
    )))
}
