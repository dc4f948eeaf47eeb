//! A run after its start: cancel, the drill clean-up, and what a re-run adopts. Each
//! function takes only the ports it needs; the handlers parse, call and shape.

use crate::drs::SourceServers;
use crate::error::ApiError;
use crate::machines::Runs;
use crate::store::{Item, RunStore, text};
use aslgen::records::{self, attr, cleanup, status};
use serde_json::{Value, json};

/// A run's record and its steps' records, as the machines and the start wrote them.
pub struct Run {
    pub id: String,
    pub record: Item,
    pub steps: Vec<Item>,
}

impl Run {
    pub async fn load(records: &dyn RunStore, id: &str) -> Result<Run, ApiError> {
        let mut items = records.execution(id).await?;
        let position = items
            .iter()
            .position(|i| text(i, "sk") == records::EXECUTION)
            .ok_or_else(|| ApiError::not_found(format!("execution `{id}` does not exist")))?;
        let record = items.remove(position);
        Ok(Run {
            id: id.to_owned(),
            record,
            steps: items,
        })
    }

    pub fn get(&self, attribute: &str) -> String {
        text(&self.record, attribute)
    }

    pub fn is_drill(&self) -> bool {
        self.get("mode") == "DRILL"
    }

    /// The Step Functions execution (of the plan's machine, whatever version it ran).
    pub fn execution_arn(&self) -> String {
        self.execution_arn_named(&self.id)
    }

    /// Another execution of the run's machine (its clean-up's), by name.
    fn execution_arn_named(&self, name: &str) -> String {
        format!(
            "{}:{name}",
            self.get("stateMachineArn")
                .replace(":stateMachine:", ":execution:")
        )
    }

    /// The DRS job IDs its progress records name.
    pub fn recorded_jobs(&self) -> Vec<String> {
        self.steps
            .iter()
            .filter_map(|s| s.get(attr::JOB_IDS).and_then(|v| v.as_ss().ok()))
            .flatten()
            .cloned()
            .collect()
    }

    fn poll_seconds(&self) -> u32 {
        u32::try_from(crate::store::number(&self.record, attr::POLL_SECONDS))
            .ok()
            .filter(|p| (1..=aslgen::model::ExecutionInput::MAX_POLL_SECONDS).contains(p))
            .unwrap_or(30)
    }
}

/// Starts the clean-up of a drill: the run's own published version, given `cleanupOf`
/// and the run's jobs (listed now, after its machine stopped: answered or not), waits for
/// those still in flight, terminates every instance they launched and records
/// `cleanup: CLEAN` only when DRS lists none of them. One clean-up at a time per run (a
/// conditional write); `None` when another is running.
pub async fn start_cleanup(
    records: &dyn RunStore,
    runs: &dyn Runs,
    drs: &dyn SourceServers,
    run: &Run,
) -> Result<Option<String>, ApiError> {
    let version = run.get(attr::STATE_MACHINE_VERSION_ARN);
    let name = format!("cleanup-{}", crate::app::unique_id());
    let previous = run.get(attr::CLEANUP_EXECUTION);
    let stale = if !previous.is_empty() && run.get(attr::CLEANUP) == cleanup::RUNNING {
        match runs
            .status(&run.execution_arn_named(&previous))
            .await?
            .as_deref()
        {
            Some("RUNNING") => return Ok(None),
            // Not in Step Functions yet: it may be starting right now (its starter wrote
            // the record first), so it is taken over only once it is older than a start.
            None if !older_than_a_start(&run.get("cleanupStartedAt")) => return Ok(None),
            _ => {}
        }
        Some(previous)
    } else {
        None
    };
    if !records
        .begin_cleanup(&run.id, &name, stale.as_deref())
        .await?
    {
        return Ok(None);
    }
    let jobs = drs
        .run_jobs(&run.id, &run.get("startedAt"), &run.recorded_jobs())
        .await?;
    let input = json!({"mode": "DRILL", "cleanupOf": run.id, "jobs": jobs, "pollSeconds": run.poll_seconds()});
    runs.start(&version, &name, &input.to_string()).await?;
    Ok(Some(name))
}

/// Whether an ISO 8601 time lies further back than a start takes (an unreadable one
/// counts as old: nothing waits on it).
fn older_than_a_start(at: &str) -> bool {
    use time::format_description::well_known::Rfc3339;
    time::OffsetDateTime::parse(at, &Rfc3339).map_or(true, |t| {
        time::OffsetDateTime::now_utc().unix_timestamp() - t.unix_timestamp()
            > super::locks::START_GRACE_SECONDS
    })
}

/// Cleans up a drill run's instances: through its version's clean-up, or (a run from
/// before versions) by terminating what its jobs launched now. The answer's `cleanup`.
async fn clean(
    records: &dyn RunStore,
    runs: &dyn Runs,
    drs: &dyn SourceServers,
    run: &Run,
) -> Result<Value, ApiError> {
    if run.get(attr::STATE_MACHINE_VERSION_ARN).is_empty() {
        let instances = drs
            .run_drill_instances(&run.id, &run.get("startedAt"), &run.recorded_jobs())
            .await?;
        let jobs = drs.terminate(&instances).await?;
        return Ok(json!({"status": "TERMINATING", "instances": instances.len(), "jobs": jobs}));
    }
    match start_cleanup(records, runs, drs, run).await? {
        Some(execution) => Ok(json!({"status": cleanup::RUNNING, "execution": execution})),
        None => Err(ApiError::conflict(format!(
            "a clean-up of execution `{}` is already running",
            run.id
        ))),
    }
}

/// Cancel: stops the machine, releases the run's locks and voids its pending approvals.
/// A drill is then cleaned up (its clean-up waits for jobs the stop left in flight); a
/// recovery's instances are production and keep running.
pub async fn cancel(
    records: &dyn RunStore,
    runs: &dyn Runs,
    drs: &dyn SourceServers,
    run: &Run,
    servers: &[String],
    user: &str,
) -> Result<Value, ApiError> {
    let arn = run.execution_arn();
    if runs.status(&arn).await?.as_deref() != Some("RUNNING") {
        return Err(ApiError::conflict(format!(
            "execution `{}` is not running",
            run.id
        )));
    }
    runs.stop(&arn, &format!("cancelled by {user}")).await?;
    records
        .set_execution_status(&run.id, status::CANCELLED, user)
        .await?;
    let cleanup = if run.is_drill() {
        clean(records, runs, drs, run).await?
    } else {
        json!({"status": "NONE", "message": "a real recovery's launched instances are production and keep running"})
    };
    let keys: Vec<String> = std::iter::once(format!("PLAN#{}", run.get("planId")))
        .chain(servers.iter().map(|s| format!("SERVER#{s}")))
        .collect();
    records.unlock(&keys, &run.get("lockToken")).await?;
    let voided = super::approvals::void_all_of_run(
        records,
        &run.id,
        &format!("the run was cancelled by {user}"),
    )
    .await?;
    Ok(
        json!({"id": run.id, "status": status::CANCELLED, "cleanup": cleanup, "approvalsVoided": voided}),
    )
}

/// The clean-up of a drill that has ended (a kept drill, a failed clean-up).
pub async fn cleanup(
    records: &dyn RunStore,
    runs: &dyn Runs,
    drs: &dyn SourceServers,
    run: &Run,
) -> Result<Value, ApiError> {
    if !run.is_drill() {
        return Err(ApiError::conflict(format!(
            "execution `{}` was a real recovery; its instances are production and are not cleaned up",
            run.id
        )));
    }
    if runs.status(&run.execution_arn()).await?.as_deref() == Some("RUNNING") {
        return Err(ApiError::conflict(format!(
            "execution `{}` is still running; cancel it first",
            run.id
        )));
    }
    Ok(json!({"id": run.id, "cleanup": clean(records, runs, drs, run).await?}))
}

/// Statuses a run may be re-run from.
pub const RERUNNABLE: [&str; 4] = [
    status::FAILED,
    status::CANCELLED,
    status::CLEANUP_FAILED,
    status::TIMED_OUT,
];

/// Whether `run` may be re-run: it failed or was cancelled, has ended, and has a version.
pub async fn check_rerunnable(runs: &dyn Runs, run: &Run) -> Result<(), ApiError> {
    let current = run.get(attr::STATUS);
    if !RERUNNABLE.contains(&current.as_str())
        || runs.status(&run.execution_arn()).await?.as_deref() == Some("RUNNING")
    {
        return Err(ApiError::conflict(format!(
            "only a failed or cancelled run that has ended can be re-run; `{}` is {current}",
            run.id
        )));
    }
    if run.get(attr::STATE_MACHINE_VERSION_ARN).is_empty() {
        return Err(ApiError::conflict(format!(
            "`{}` ran before runs had versions of their own; start the plan again instead",
            run.id
        )));
    }
    Ok(())
}

/// What a re-run adopts: every group the run brought to its final stage whose instances
/// DRS still lists (the machine's `adopt` input: field → the run's job IDs for it), and
/// those groups' keys.
pub async fn adoptable(
    drs: &dyn SourceServers,
    run: &Run,
) -> Result<(serde_json::Map<String, Value>, Vec<String>), ApiError> {
    let mut adopt = serde_json::Map::new();
    let mut adopted = Vec::new();
    for step in &run.steps {
        let jobs: Vec<String> = step
            .get(attr::JOB_IDS)
            .and_then(|v| v.as_ss().ok())
            .cloned()
            .unwrap_or_default();
        if text(step, attr::KIND) != records::KIND_UNIT
            || text(step, attr::STATUS) != status::SUCCEEDED
            || jobs.is_empty()
        {
            continue;
        }
        let (launched, alive) = drs.launched_alive(&jobs).await?;
        if launched > 0 && alive == launched {
            let key = records::step_of(&text(step, "sk")).to_owned();
            adopt.insert(aslgen::compile::adopt_field(&key), json!(jobs));
            adopted.push(key);
        }
    }
    Ok((adopt, adopted))
}

/// The re-run's execution input: the earlier run's mode and pace, and what it adopts.
pub fn rerun_input(run: &Run, adopt: serde_json::Map<String, Value>) -> (Value, u32) {
    let poll_seconds = run.poll_seconds();
    let started_at_epoch = time::OffsetDateTime::now_utc().unix_timestamp();
    (
        json!({"mode": run.get("mode"), "pollSeconds": poll_seconds, "startedAtEpoch": started_at_epoch, "adopt": adopt, "rerunOf": run.id}),
        poll_seconds,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::LockHolder;
    use crate::twins::{MemoryDrs, MemoryRuns, MemoryStore};
    use aws_sdk_dynamodb::types::AttributeValue;
    use std::collections::HashMap;
    use std::sync::Arc;

    const MACHINE: &str = "arn:aws:states:us-east-1:123456789012:stateMachine:drs-plan-p";

    fn record(store: &MemoryStore, mode: &str, fields: &[(&str, &str)]) {
        let mut item: Item = [
            (attr::STATUS, status::RUNNING),
            ("mode", mode),
            ("planId", "p"),
            ("stateMachineArn", MACHINE),
            (attr::STATE_MACHINE_VERSION_ARN, &format!("{MACHINE}:3")),
            ("lockToken", "lock-1"),
            ("startedAt", "2026-12-01T00:00:00.000Z"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), AttributeValue::S((*v).to_owned())))
        .collect();
        for (k, v) in fields {
            item.insert((*k).to_owned(), AttributeValue::S((*v).to_owned()));
        }
        store.put("EXEC#run", "EXECUTION", item);
    }

    fn step(store: &MemoryStore, key: &str, status: &str, jobs: &[&str]) {
        let mut item: Item = HashMap::from([
            (
                attr::KIND.to_owned(),
                AttributeValue::S(records::KIND_UNIT.into()),
            ),
            (attr::STATUS.to_owned(), AttributeValue::S(status.into())),
        ]);
        if !jobs.is_empty() {
            item.insert(
                attr::JOB_IDS.into(),
                AttributeValue::Ss(jobs.iter().map(|j| (*j).to_owned()).collect()),
            );
        }
        store.put("EXEC#run", &records::step_sk(key), item);
    }

    #[tokio::test]
    async fn cancelling_a_drill_starts_its_clean_up_with_every_job_and_frees_its_locks() {
        let store = MemoryStore::default();
        let runs = MemoryRuns::default();
        let drs = MemoryDrs {
            // A job whose StartRecovery answer the stopped machine never recorded.
            jobs: HashMap::from([("run".to_owned(), vec!["job-late".to_owned()])]),
            ..MemoryDrs::default()
        };
        record(&store, "DRILL", &[]);
        step(&store, "w1.db", status::RUNNING, &["job-1"]);
        let keys = vec!["PLAN#p".to_owned(), "SERVER#s-1".to_owned()];
        let holder = LockHolder {
            execution: format!("{MACHINE}:run"),
            token: "lock-1".into(),
            taken_at: 0,
        };
        store.lock(&keys, &holder).await.unwrap();
        let arn = format!("{}:run", MACHINE.replace(":stateMachine:", ":execution:"));
        runs.set(&arn, "RUNNING");
        let run = Run::load(&store, "run").await.unwrap();
        let answer = cancel(&store, &runs, &drs, &run, &["s-1".into()], "ops")
            .await
            .unwrap();
        assert_eq!(answer["cleanup"]["status"], cleanup::RUNNING, "{answer}");
        assert_eq!(runs.status(&arn).await.unwrap().as_deref(), Some("ABORTED"));
        let started = runs.started.lock().unwrap().clone();
        assert_eq!(started.len(), 1);
        let (version, _, input) = &started[0];
        assert_eq!(version, &format!("{MACHINE}:3"), "the run's own version");
        let input: Value = serde_json::from_str(input).unwrap();
        assert_eq!(input["cleanupOf"], "run");
        assert_eq!(input["jobs"], json!(["job-1", "job-late"]));
        let after = store.execution_record("run").await.unwrap().unwrap();
        assert_eq!(text(&after, attr::STATUS), status::CANCELLED);
        assert_eq!(text(&after, attr::CLEANUP), cleanup::RUNNING);
        // The locks are free again.
        store
            .lock(
                &keys,
                &LockHolder {
                    token: "next".into(),
                    ..holder
                },
            )
            .await
            .unwrap();
        // Not running any more: a second cancel is refused.
        let run = Run::load(&store, "run").await.unwrap();
        assert!(cancel(&store, &runs, &drs, &run, &[], "ops").await.is_err());
    }

    #[tokio::test]
    async fn cancelling_a_recovery_leaves_its_instances_running() {
        let store = MemoryStore::default();
        let runs = MemoryRuns::default();
        record(&store, "RECOVERY", &[]);
        runs.set(
            &format!("{}:run", MACHINE.replace(":stateMachine:", ":execution:")),
            "RUNNING",
        );
        let run = Run::load(&store, "run").await.unwrap();
        let answer = cancel(&store, &runs, &MemoryDrs::default(), &run, &[], "ops")
            .await
            .unwrap();
        assert_eq!(answer["cleanup"]["status"], "NONE");
        assert!(
            runs.started.lock().unwrap().is_empty(),
            "nothing cleaned up"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn of_twenty_clean_ups_of_one_run_one_starts() {
        let store = Arc::new(MemoryStore::default());
        let runs = Arc::new(MemoryRuns::default());
        let drs = Arc::new(MemoryDrs::default());
        record(&store, "DRILL", &[(attr::STATUS, status::SUCCEEDED)]);
        let tasks: Vec<_> = (0..20)
            .map(|_| {
                let (store, runs, drs) = (store.clone(), runs.clone(), drs.clone());
                tokio::spawn(async move {
                    let run = Run::load(&*store, "run").await?;
                    cleanup(&*store, &*runs, &*drs, &run).await
                })
            })
            .collect();
        let started = futures::future::join_all(tasks)
            .await
            .into_iter()
            .filter(|r| matches!(r, Ok(Ok(_))))
            .count();
        assert_eq!(started, 1);
        assert_eq!(runs.started.lock().unwrap().len(), 1);
        // Once that clean-up has ended without recording (its execution gone), the next
        // one may take over; not while it runs.
        let (_, name, _) = runs.started.lock().unwrap()[0].clone();
        let arn = format!(
            "{}:{name}",
            MACHINE.replace(":stateMachine:", ":execution:")
        );
        let run = Run::load(&*store, "run").await.unwrap();
        assert!(cleanup(&*store, &*runs, &*drs, &run).await.is_err());
        // Not in Step Functions yet (its starter is between the record and the start):
        // still not taken over.
        runs.statuses.lock().unwrap().remove(&arn);
        assert!(cleanup(&*store, &*runs, &*drs, &run).await.is_err());
        runs.set(&arn, "FAILED");
        assert!(cleanup(&*store, &*runs, &*drs, &run).await.is_ok());
    }

    #[tokio::test]
    async fn a_rerun_adopts_only_finished_groups_whose_instances_all_remain() {
        let store = MemoryStore::default();
        record(&store, "RECOVERY", &[(attr::STATUS, status::FAILED)]);
        step(&store, "w1.db", status::SUCCEEDED, &["job-db"]);
        step(&store, "w1.app", status::SUCCEEDED, &["job-app"]);
        step(&store, "w2.web", status::FAILED, &["job-web"]);
        step(&store, "w2.none", status::SUCCEEDED, &[]);
        let drs = MemoryDrs {
            instances: HashMap::from([
                ("job-db".to_owned(), (2, 2)),
                ("job-app".to_owned(), (2, 1)),
                ("job-web".to_owned(), (1, 1)),
            ]),
            ..MemoryDrs::default()
        };
        let run = Run::load(&store, "run").await.unwrap();
        let runs = MemoryRuns::default();
        check_rerunnable(&runs, &run).await.unwrap();
        let (adopt, adopted) = adoptable(&drs, &run).await.unwrap();
        assert_eq!(adopted, vec!["w1.db".to_owned()]);
        assert_eq!(
            adopt.get(&aslgen::compile::adopt_field("w1.db")),
            Some(&json!(["job-db"]))
        );
        // A run that succeeded is not re-run.
        record(&store, "RECOVERY", &[(attr::STATUS, status::SUCCEEDED)]);
        let run = Run::load(&store, "run").await.unwrap();
        assert!(check_rerunnable(&runs, &run).await.is_err());
    }
}
