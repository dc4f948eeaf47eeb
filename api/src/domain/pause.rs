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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::twins::{MemoryRuns, MemoryStore};
    use aslgen::records::{attr, status};
    use aws_sdk_dynamodb::types::AttributeValue;
    use std::collections::HashMap;
    use std::sync::Arc;

    fn running(store: &MemoryStore, extra: &[(&str, &str)]) {
        let mut item: crate::store::Item = HashMap::from([(
            attr::STATUS.to_owned(),
            AttributeValue::S(status::RUNNING.into()),
        )]);
        for (k, v) in extra {
            item.insert((*k).to_owned(), AttributeValue::S((*v).to_owned()));
        }
        store.put("EXEC#run", "EXECUTION", item);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn of_twenty_pauses_one_is_taken() {
        let store = Arc::new(MemoryStore::default());
        running(&store, &[]);
        let tasks: Vec<_> = (0..20)
            .map(|i| {
                let store = store.clone();
                tokio::spawn(async move { pause(&*store, "run", &format!("op{i}")).await })
            })
            .collect();
        let taken = futures::future::join_all(tasks)
            .await
            .into_iter()
            .filter(|r| matches!(r, Ok(Ok(()))))
            .count();
        assert_eq!(taken, 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn of_twenty_resumes_one_answers_the_token() {
        let store = Arc::new(MemoryStore::default());
        let runs = Arc::new(MemoryRuns::default());
        running(
            &store,
            &[
                (attr::STATUS, status::PAUSED),
                (attr::PAUSE_REQUESTED, "t"),
                (attr::PAUSE_TOKEN, "token-1"),
            ],
        );
        let tasks: Vec<_> = (0..20)
            .map(|i| {
                let (store, runs) = (store.clone(), runs.clone());
                tokio::spawn(async move { resume(&*store, &*runs, "run", &format!("op{i}")).await })
            })
            .collect();
        let released = futures::future::join_all(tasks)
            .await
            .into_iter()
            .filter(|r| matches!(r, Ok(Ok(Resumed::Released))))
            .count();
        assert_eq!(released, 1);
        assert_eq!(runs.answered.lock().unwrap().len(), 1);
        let record = store.execution_record("run").await.unwrap().unwrap();
        assert_eq!(text(&record, attr::STATUS), status::RUNNING);
        assert!(!record.contains_key(attr::PAUSE_TOKEN));
    }

    #[tokio::test]
    async fn a_pause_not_yet_reached_is_withdrawn() {
        let store = MemoryStore::default();
        let runs = MemoryRuns::default();
        running(&store, &[]);
        pause(&store, "run", "op").await.unwrap();
        assert!(pause(&store, "run", "op2").await.is_err(), "asked already");
        assert_eq!(
            resume(&store, &runs, "run", "op").await.unwrap(),
            Resumed::Withdrawn
        );
        assert!(runs.answered.lock().unwrap().is_empty());
        assert!(
            resume(&store, &runs, "run", "op").await.is_err(),
            "not paused"
        );
    }
}
