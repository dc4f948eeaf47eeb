//! The one start path: whoever starts a run (a person through the API, the runbook, a
//! re-run), it takes the plan's and servers' locks, runs a published version (compiled
//! now, or the earlier run's for a re-run), records who started it and which plan
//! version, then starts the execution; a failure on the way gives everything back.

use crate::domain::locks::{self, Held};
use crate::error::ApiError;
use crate::machines::{Machines, Runs};
use crate::store::{LockHolder, RunStore, StartRecord};
use serde_json::Value;

/// What the run executes.
pub enum Version<'a> {
    /// Compiled at this start: published now (with its child machines, if any).
    Compiled(&'a aslgen::Compiled),
    /// Published before (a re-run runs its earlier run's version).
    Published { machine: &'a str, arn: &'a str },
}

pub struct Launch<'a> {
    pub plan_id: &'a str,
    pub plan_name: &'a str,
    pub plan_version: u64,
    /// DRILL or RECOVERY.
    pub mode: &'a str,
    /// What the pre-flight checked: the locks hold these and the machine launches them.
    pub servers: &'a [String],
    pub version: Version<'a>,
    /// The execution input (mode, pollSeconds, …).
    pub input: Value,
    pub poll_seconds: u32,
    /// Who: a user name, `runbook/<IAM principal>`, …
    pub started_by: &'a str,
    /// The earlier run a re-run continues.
    pub rerun_of: Option<&'a str>,
}

pub struct Started {
    pub id: String,
    pub execution_arn: String,
    pub version_arn: String,
}

pub async fn launch(
    records: &dyn RunStore,
    runs: &dyn Runs,
    machines: &dyn Machines,
    launch: Launch<'_>,
) -> Result<Started, ApiError> {
    let name = execution_name(launch.plan_id, launch.mode);
    let machine_arn = match &launch.version {
        Version::Compiled(compiled) => machines.arn(&compiled.name),
        Version::Published { machine, .. } => (*machine).to_owned(),
    };
    let execution_arn = format!(
        "{}:{name}",
        machine_arn.replace(":stateMachine:", ":execution:")
    );
    let keys: Vec<String> = std::iter::once(format!("PLAN#{}", launch.plan_id))
        .chain(launch.servers.iter().map(|s| format!("SERVER#{s}")))
        .collect();
    let me = LockHolder {
        execution: execution_arn.clone(),
        token: crate::app::unique_id(),
        taken_at: locks::now_epoch(),
    };
    match locks::take(records, runs, &keys, &me).await {
        Ok(()) => {}
        Err(Held::By { key, holder }) => {
            let what = match key.split_once('#') {
                Some(("PLAN", _)) => format!("plan `{}` is already running", launch.plan_id),
                Some((_, server)) => format!("server `{server}` is busy"),
                None => format!("`{key}` is busy"),
            };
            let run = holder.execution.rsplit(':').next().unwrap_or_default();
            return Err(ApiError::conflict(format!("{what} in execution `{run}`")));
        }
        Err(Held::Error(e)) => return Err(e),
    }
    let give_back = || async {
        let _ = records.unlock(&keys, &me.token).await;
    };
    let version_arn = match launch.version {
        Version::Compiled(compiled) => {
            match crate::machines::publish_plan(machines, compiled).await {
                Ok(arn) => arn,
                Err(e) => {
                    give_back().await;
                    return Err(e);
                }
            }
        }
        Version::Published { arn, .. } => arn.to_owned(),
    };
    let record = StartRecord {
        name: &name,
        plan_id: launch.plan_id,
        plan_name: launch.plan_name,
        plan_version: launch.plan_version,
        mode: launch.mode,
        state_machine_arn: &machine_arn,
        version_arn: &version_arn,
        servers: launch.servers,
        started_by: launch.started_by,
        lock_token: &me.token,
        poll_seconds: launch.poll_seconds,
        rerun_of: launch.rerun_of,
    };
    let started = match records.record_start(&record).await {
        Ok(()) => runs
            .start(&version_arn, &name, &launch.input.to_string())
            .await
            .map(|_| ()),
        Err(e) => Err(e.into()),
    };
    if let Err(e) = started {
        let _ = records.forget_start(&name).await;
        give_back().await;
        return Err(e);
    }
    tracing::info!(plan = %launch.plan_id, execution = %name, by = %launch.started_by, "execution started");
    Ok(Started {
        id: name,
        execution_arn,
        version_arn,
    })
}

/// `<plan>-<mode>-<UTC stamp>-<salt>`, at most 80 characters.
pub fn execution_name(plan: &str, mode: &str) -> String {
    let now = time::OffsetDateTime::now_utc();
    let stamp = format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    );
    let salt = now.nanosecond() % 10_000;
    let name = format!("{plan}-{}-{stamp}-{salt:04}", mode.to_lowercase());
    name.chars().take(80).collect()
}
